"""Locust scenarios of the load test (bench/load/README.md). Started by bench/load/run_load.py:

    locust -f bench/load/locustfile.py --headless -u 251 -r 50 -t 180s --host http://127.0.0.1:PORT

with `LOAD_DATA` naming the JSON file run_load.py wrote (users, tokens, the period, the spreadsheet) and
`LOAD_RESULTS` the JSON-lines file this writes: one line per request (scenario, name, start, milliseconds,
status, ok) and one per accepted submission (id, version, commune, Idempotency-Key), from which run_load.py
computes the percentiles and checks in the database that nothing was lost or stored twice.

Unless the data says `burst`, each user starts at a random moment within its first think time (the communes of a
deadline hour do not press "send" in the same second); with `burst` every reporter submits at once at the start.

- `ReporterUser` (one per commune reporter): submits the commune's report of the period by API, each time
  with a new Idempotency-Key (a corrected report is a new version); sometimes sends the same request again
  with the same key, one after the other (a client that lost the response) or two at once (a client that
  timed out while the first was still being processed): both must get the first version back, never a
  second one; and reads its submissions and flags.
- `StewardUser` (one per data steward): logs in through the admin form (CSRF token from the form), then
  browses the flag list, the dashboard and the capacity report of its province.
- `UploaderUser` (one): a province steward uploads the XLSX of every commune of a province once, then sends
  it again with the same Idempotency-Key (must be a replay, not a second set of versions), then stops.
"""
import itertools
import json
import os
import random
import re
import threading
import time

import gevent
from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

DATA = json.loads(open(os.environ["LOAD_DATA"], encoding="utf-8").read()) if os.environ.get("LOAD_DATA") else {
    "reporters": [], "stewards": [], "uploader": None, "period": "2026Q3", "form": "commune_rehab", "run": "x",
    "reporter_wait": [2, 8], "steward_wait": [3, 10], "upload_delay_s": 30}
RESULTS_PATH = os.environ.get("LOAD_RESULTS", "load_results.jsonl")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

_lines = []
_lock = threading.Lock()
_reporters = iter(DATA["reporters"])
_stewards = itertools.cycle(DATA["stewards"] or [None])


def _log(record):
    with _lock:
        _lines.append(json.dumps(record, ensure_ascii=False))


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, response=None, context=None, exception=None,
                start_time=None, **_kwargs):
    status = getattr(response, "status_code", None) if response is not None else None
    _log({"r": (context or {}).get("scenario", "other"), "n": name, "t": start_time, "ms": round(response_time, 2),
          "s": status, "ok": exception is None, "e": str(exception)[:200] if exception else None})


@events.test_stop.add_listener
def _on_stop(**_kwargs):
    with _lock:
        lines, _lines[:] = list(_lines), []
    with open(RESULTS_PATH, "a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def report_values(rng, step):
    """A believable commune report that passes the consistency rules (the validation's job is tested elsewhere)."""
    addicts = rng.randint(3, 90)
    treated = int(addicts * rng.uniform(0.4, 0.85))
    compulsory = int(treated * rng.uniform(0.35, 0.55))
    voluntary = int(treated * rng.uniform(0.05, 0.2))
    substitution = int(treated * rng.uniform(0.05, 0.15))
    community = max(0, treated - compulsory - voluntary - substitution)
    completed = int(treated * rng.uniform(0.2, 0.4))
    managed = int(completed * rng.uniform(0.85, 1.0))
    vocational = int(managed * rng.uniform(0.3, 0.6))
    return {
        "addicts_with_record": addicts, "users_with_record": int(addicts * rng.uniform(1.2, 1.8)),
        "treated_total": treated, "treated_compulsory": compulsory, "treated_voluntary_facility": voluntary,
        "treated_community": community, "treated_substitution": substitution,
        "counselled_screened": int(addicts * rng.uniform(0.6, 0.95)), "completed": completed,
        "post_rehab_managed": managed, "vocational_supported": vocational,
        "employed_after_rehab": int(vocational * rng.uniform(0.4, 0.8)),
        "relapsed": int(completed * rng.uniform(0.05, 0.25)),
        "prevention_reached": int(addicts * rng.uniform(0.9, 1.6)),
        "key_commune_class": rng.choice(["none", "none", "none", "III", "II", "I"]), "drug_free": False,
        "community_model": rng.random() < 0.4 + 0.01 * step,
    }


class ReporterUser(FastHttpUser):
    """A commune reporter in the deadline hour: submit, sometimes retry with the same key, read back."""

    fixed_count = len(DATA["reporters"])
    wait_time = between(*DATA["reporter_wait"])

    def on_start(self):
        me = next(_reporters, None)
        if me is None:
            raise StopUser()
        self.me = me
        self.rng = random.Random(f"{DATA['run']}:{me['commune']}")
        self.sent = 0
        self.last = None
        self.headers = {"Authorization": f"Bearer {me['token']}", "Content-Type": "application/json"}
        if not DATA.get("burst"):
            # the communes do not all press "send" in the same second: first reports spread over one think time
            gevent.sleep(self.rng.uniform(0, DATA["reporter_wait"][1]))
        self.submit()  # the first thing a reporter does in the deadline hour

    def _post(self, body, key, name, retry):
        headers = dict(self.headers, **{"Idempotency-Key": key})
        with self.client.post("/api/v1/submissions", data=body, headers=headers, name=name, catch_response=True,
                              context={"scenario": "submit"}) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return None
            created = response.json()
            _log({"accepted": True, "commune": self.me["commune"], "user": self.me["username"], "key": key,
                  "id": created["id"], "version": created["version"], "retry": retry, "t": time.time()})
            return created

    def submit(self):
        self.sent += 1
        key = f"{DATA['run']}-{self.me['commune']}-{self.sent}"
        body = json.dumps({"form": DATA["form"], "period": DATA["period"], "org_unit": self.me["commune"],
                           "values": report_values(self.rng, self.sent)})
        created = self._post(body, key, "POST /api/v1/submissions", "first")
        if created is not None:
            self.last = (key, body, created["id"])

    @task(10)
    def send_report(self):
        self.submit()

    @task(2)
    def retry_same_key(self):
        """The response was lost: the same request again, same key. Must return the version stored first."""
        if self.last is None:
            return self.submit()
        key, body, first_id = self.last
        created = self._post(body, key, "POST /api/v1/submissions (retry, same key)", "sequential")
        if created is not None and created["id"] != first_id:
            _log({"duplicate": True, "key": key, "first": first_id, "again": created["id"]})

    @task(1)
    def racing_retry(self):
        """A client that timed out and retried while its first request was still running: two at once."""
        self.sent += 1
        key = f"{DATA['run']}-{self.me['commune']}-{self.sent}"
        body = json.dumps({"form": DATA["form"], "period": DATA["period"], "org_unit": self.me["commune"],
                           "values": report_values(self.rng, self.sent)})
        jobs = [gevent.spawn(self._post, body, key, "POST /api/v1/submissions (two at once, same key)", "parallel")
                for _ in range(2)]
        gevent.joinall(jobs)
        ids = {job.value["id"] for job in jobs if job.value}
        if len(ids) > 1:
            _log({"duplicate": True, "key": key, "ids": sorted(ids)})
        if ids:
            self.last = (key, body, min(ids))

    @task(3)
    def read_back(self):
        query = f"?form={DATA['form']}&period={DATA['period']}&org_unit={self.me['commune']}"
        if self.rng.random() < 0.5:
            self.client.get("/api/v1/submissions" + query, headers=self.headers, name="GET /api/v1/submissions",
                            context={"scenario": "reporter_read"})
        else:
            self.client.get(f"/api/v1/flags?period={DATA['period']}&org_unit={self.me['commune']}",
                            headers=self.headers, name="GET /api/v1/flags", context={"scenario": "reporter_read"})


class StewardUser(FastHttpUser):
    """A data steward: log in through the admin form, then flags, dashboard and capacity of the province."""

    fixed_count = len(DATA["stewards"])
    wait_time = between(*DATA["steward_wait"])

    def on_start(self):
        me = next(_stewards)
        if me is None:
            raise StopUser()
        if not DATA.get("burst"):
            gevent.sleep(random.uniform(0, DATA["steward_wait"][1]))  # the stewards arrive over a think time
        page = self.client.get("/admin/login/", name="GET /admin/login/", context={"scenario": "login"})
        match = CSRF.search(page.text or "")
        if match is None:
            raise StopUser()
        token = match.group(1) or match.group(2)
        with self.client.post("/admin/login/", data={"csrf_token": token, "username": me["username"],
                                                     "password": me["password"]},
                              name="POST /admin/login/", catch_response=True,
                              context={"scenario": "login"}) as response:
            # a good login redirects to /admin/ (followed); a refused one shows the form again
            if response.status_code != 200 or 'id="login-form"' in (response.text or ""):
                response.failure(f"login refused for {me['username']} (HTTP {response.status_code})")
                raise StopUser()

    def _page(self, path, scenario):
        with self.client.get(path, name=f"GET {path}", catch_response=True,
                             context={"scenario": scenario}) as response:
            if response.status_code != 200 or 'id="login-form"' in (response.text or ""):
                response.failure(f"HTTP {response.status_code} on {path}")

    @task(3)
    def flags(self):
        self._page("/admin/flags/", "flags")

    @task(2)
    def dashboard(self):
        self._page("/admin/dashboard/", "dashboard")

    @task(1)
    def capacity(self):
        self._page("/admin/capacity/", "capacity")


class UploaderUser(FastHttpUser):
    """A province steward uploads the spreadsheet of the whole province once (and once more, same key)."""

    fixed_count = 1 if DATA.get("uploader") else 0
    wait_time = between(1, 2)
    network_timeout = 300.0
    connection_timeout = 60.0

    @task
    def upload(self):
        spec = DATA["uploader"]
        gevent.sleep(DATA.get("upload_delay_s", 30))  # in the thick of the reporters
        data = open(spec["file"], "rb").read()
        key = f"{DATA['run']}-upload-{spec['province']}"
        for attempt, name in enumerate(("POST /api/v1/submissions/upload",
                                        "POST /api/v1/submissions/upload (again, same key)")):
            body, content_type = _multipart({"form": DATA["form"], "period": DATA["period"]},
                                            ("file", spec["filename"], data))
            with self.client.post("/api/v1/submissions/upload", data=body, name=name, catch_response=True,
                                  headers={"Authorization": f"Bearer {spec['token']}", "Content-Type": content_type,
                                           "Idempotency-Key": key},
                                  context={"scenario": "upload"}) as response:
                if response.status_code != 201:
                    response.failure(f"HTTP {response.status_code}: {response.text[:300]}")
                    continue
                created = response.json()
                _log({"upload": True, "attempt": attempt, "id": created["id"], "status": created["status"],
                      "rows": created["rows"], "submissions": created["submissions"], "key": key})
        raise StopUser()


def _multipart(fields, file):
    boundary = f"----load{random.getrandbits(64):016x}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    name, filename, content = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n".encode())
    parts.append(content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
