"""gunicorn settings for the production web processes (docs/deployment.md).

    cd /srv/drug-rehab && .venv/bin/gunicorn -c deploy/gunicorn.conf.py

Everything that differs between machines comes from the environment:

| variable | default | meaning |
| --- | --- | --- |
| `GUNICORN_BIND` | `127.0.0.1:8000` | where nginx reaches gunicorn (or `unix:/run/drug-rehab/web.sock`) |
| `WEB_CONCURRENCY` | 2 × cores | worker processes |
| `GUNICORN_THREADS` | 4 | threads per worker (gthread); 1 gives classic sync workers |
| `GUNICORN_TIMEOUT` | 60 | seconds a request may take before its worker is restarted (a 20 MB upload fits) |
| `GUNICORN_MAX_REQUESTS` | 2000 | a worker is replaced after this many requests (0: never) … |
| `GUNICORN_MAX_REQUESTS_JITTER` | 200 | … plus a random 0–this, so the workers are not all replaced at once |
| `GUNICORN_ACCESS_LOG` | `-` (stdout, i.e. the journal) | access log file; empty to turn it off |
| `GUNICORN_ERROR_LOG` | `-` (stderr) | error log file |
| `GUNICORN_LOG_LEVEL` | `info` | |
| `GUNICORN_CONTROL_SOCKET` | none | path of gunicorn's control socket (`gunicornc`); unset: no control socket |
| `FORWARDED_ALLOW_IPS` | `127.0.0.1,::1` | proxies whose `X-Forwarded-Proto` gunicorn trusts (its own variable) |

The application is `deploy/wsgi.py` (create_app; `PROXY_FIX_HOPS` in the environment for the proxy in front).

The application is **not** preloaded: each worker imports and builds the app itself, so each has its own
SQLAlchemy engine and connection pool (no database socket opened in the master and shared across a fork).
The scheduler is never started here: it runs as its own process (`flask --app app scheduler run`, see
deploy/drug-rehab-scheduler.service); `SCHEDULER_IN_PROCESS` only concerns `flask serve` (the embedded mode).
"""
import multiprocessing
import os


def _int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "deploy.wsgi:application"
chdir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the project, so that `app` is importable

bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if address.strip()]
workers = _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count())
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
preload_app = False
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5  # behind nginx, whose upstream keepalive reuses the connections
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # heartbeat files off the disk

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# client (the proxy's X-Forwarded-For), peer, time, request, status, bytes, duration in µs, worker pid, user agent
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s pid=%(p)s "%(a)s"'
proc_name = "drug-rehab-web"
# gunicorn ≥ 25 opens a control socket (~/.gunicorn/gunicorn.ctl) unless told otherwise; give it a path per service
# (GUNICORN_CONTROL_SOCKET, e.g. /run/drug-rehab/gunicorn.ctl) or go without, so two instances never share one.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
