# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := SERVICE_MODE=embedded $(BIN)/flask --app app

.PHONY: run test lint audit-deps test-sqlite test-postgresql install install-dev translations browser clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt constraints.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations -D "messages admin"

## run: the whole service on this machine (SQLite file in instance/, demo data, scheduler in process)
run: install translations
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) serve --host $(HOST) --port $(PORT)

## browser: Debian's chromium for the browser tests (installed when missing and we are root)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; fi

## lint: ruff (pyflakes, pycodestyle, import order, bugbear) on the whole project, and no import cycle between
## modules or between areas (.ci/import_cycles.py)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/python .ci/import_cycles.py

## audit-deps: pip-audit over the pinned set (constraints.txt); a known vulnerability fails, no access to the
## vulnerability data is said and does not fail (DEPS_AUDIT_REQUIRED=1 makes it fail too)
audit-deps: install-dev
	$(BIN)/python .ci/audit_deps.py --requirements constraints.txt --pip-audit $(BIN)/pip-audit

## test: lint, the dependency audit, then every test, on SQLite and on PostgreSQL (127.0.0.1:5432, database test)
test: install-dev translations browser lint audit-deps
	$(BIN)/pytest --db=sqlite
	$(BIN)/pytest --db=postgresql

test-sqlite: install-dev translations
	$(BIN)/pytest --db=sqlite

test-postgresql: install-dev translations
	$(BIN)/pytest --db=postgresql

## bench: the benchmarks on a small generated national data set (a few minutes). BENCH_SCALE (default 0.02) sizes
## the data set; BENCH_DATABASE_URL names an empty database to fill instead of a SQLite file in a temp dir (with a
## PostgreSQL URL, validate_national and aggregate_national make and drop their own database on that server).
## Every benchmark runs even when one misses a target; the exit status is then 1.
BENCH_SCALE ?= 0.02
bench: install translations
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	url="$${BENCH_DATABASE_URL:-sqlite:///$$tmp/bench.db}"; \
	case "$$url" in sqlite*) server=();; *) server=(--database-url "$$url");; esac; \
	$(BIN)/python -m bench.generate --database-url "$$url" --scale $(BENCH_SCALE) || exit 1; \
	status=0; \
	$(BIN)/python -m bench.validate_national "$${server[@]}" || status=1; \
	$(BIN)/python -m bench.aggregate_national "$${server[@]}" || status=1; \
	$(BIN)/python -m bench.attainment_national --database-url "$$url" || status=1; \
	$(BIN)/python -m bench.admin_pages --database-url "$$url" || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) instance .pytest_cache
