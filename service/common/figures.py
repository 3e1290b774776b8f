"""Figures derived from many rows (aggregates, training attainment, occupancy), kept a short time per process.

DHIS2 serves its dashboards from analytics tables refreshed on a schedule rather than from the raw data on every
view; this service keeps each figure it computes for a page for `FIGURES_CACHE_SECONDS` (default 60) in the
worker process that computed it, keyed by what it was computed from (a name, the caller's scope, the arguments,
the day) and by the data's version: the newest audit row's id, which every change of the data moves (every
write is audited in its own transaction, service.audit). A change anywhere is therefore seen at the next view;
between changes the figures of a national dashboard are computed once per worker, however many people open it.
The age limit bounds the one case the version misses, a transaction that commits after a later one: its change
shows within FIGURES_CACHE_SECONDS. `?fresh=1` computes a page's figures again at once. Lists and flags stay
live (they read the rows themselves). 0 turns the cache off (the tests, except those of the cache).

Values are kept as computed (ORM rows among them, detached once their request ends: only attributes already
loaded may be read from a cached value, which the callers' templates do).
"""
import threading
import time

from cachetools import TTLCache
from flask import current_app, g, has_request_context, request
from sqlalchemy import func, select

from service.common.time import utcnow
from service.extensions import db

MAX_ENTRIES = 256

_lock = threading.Lock()
_caches = {}


def _cache(seconds):
    with _lock:
        cache = _caches.get(seconds)
        if cache is None:
            cache = _caches[seconds] = TTLCache(maxsize=MAX_ENTRIES, ttl=seconds, timer=time.monotonic)
        return cache


def scope_key(scope):
    """What a Scope restricts to: national, a unit (its id), or a facility manager's facility (or none)."""
    if scope.national:
        return ("national",)
    manager = scope.user is not None and scope.user.role == "facility_manager"
    return ("unit", scope.unit.id if scope.unit is not None else None, manager, scope.facility_id)


def fresh_requested():
    return has_request_context() and request.args.get("fresh") == "1"


def data_version():
    """The id of the newest audit row (once per request): it moves with every committed change of the data.
    The table is looked up in the metadata so that `common` does not import the audit area, which builds on it."""
    if has_request_context() and "data_version" in g:
        return g.data_version
    audit_log = db.metadata.tables["audit_log"]
    version = db.session.scalar(select(func.max(audit_log.c.id))) or 0
    if has_request_context():
        g.data_version = version
    return version


def cached(name, key, compute):
    """`compute()`, or the value it returned for the same (name, key) less than FIGURES_CACHE_SECONDS ago in this
    process. The oldest computation time this request took from the cache is kept in `g.figures_at` (`computed_at`)."""
    seconds = current_app.config.get("FIGURES_CACHE_SECONDS", 0)
    if seconds <= 0:
        return compute()
    cache = _cache(seconds)
    full_key = (name, key, data_version())
    with _lock:
        entry = None if fresh_requested() else cache.get(full_key)
    if entry is None:
        # computed outside the lock: two threads may compute the same figure once each, never wait on each other
        entry = (compute(), utcnow())
        with _lock:
            cache[full_key] = entry
    elif has_request_context():
        g.figures_at = min(g.get("figures_at") or entry[1], entry[1])
    return entry[0]


def computed_at():
    """When the oldest figure this request took from the cache was computed (None when it computed them all)."""
    return g.get("figures_at") if has_request_context() else None


def clear():
    with _lock:
        for cache in _caches.values():
            cache.clear()
