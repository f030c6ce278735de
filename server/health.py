"""``GET /healthz``: is the store reachable, how many triples it holds, which version runs.

Always JSON (it is for load balancers and monitors). 200 when the store answers; 503 with
``Retry-After`` when it does not. Reachability is a cheap ``ASK``; counting every triple takes
seconds on a large store, so the count is refreshed in the background and reported with the
time it was taken: after a write through the app; for a store whose files cokg sees (the
embedded store, a store folder), when those files changed; for a SPARQL endpoint, when older
than :data:`COUNT_MAX_AGE`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from cokg import __version__
from cokg.errors import CokgError
from cokg.store import ReadableStore

from .resources import newest_file, store_folder
from .state import WriteEvent, cokg_state

health = Blueprint("health", __name__)

COUNT_MAX_AGE = 60.0
"""Seconds after which the reported triple count of a store whose files cokg does not see (a
SPARQL endpoint) is refreshed."""

FIRST_COUNT_WAIT = 2.0
"""Seconds the first request waits for a count (a small store answers well within it)."""


class TripleCount:
    """The store's triple count, refreshed by one background thread at a time."""

    def __init__(self, store: ReadableStore, folder: Path | None = None) -> None:
        self._store = store
        self._folder = folder
        self._counted_change: datetime | None = None  # the files' last change when counted
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = False
        self.value: int | None = None
        self.taken_at: float | None = None
        self.stale = True

    def invalidate(self, _event: WriteEvent | None = None) -> None:
        """Mark the count out of date (called after every write)."""
        self.stale = True

    def current(self) -> tuple[int | None, float | None]:
        """Return the last count and when it was taken, starting a refresh if it is out of
        date: after a write through the app; for a store whose files it sees (``folder``),
        when they changed since the count; otherwise when older than :data:`COUNT_MAX_AGE`.
        """
        age = time.monotonic() - self.taken_at if self.taken_at is not None else None
        changed = None if self._folder is None else newest_file(self._folder)
        if changed is None:
            old = age is None or age > COUNT_MAX_AGE
        else:  # read before counting: a write in between makes the next request count again
            old = age is None or changed != self._counted_change
        if self.stale or old:
            self._refresh(changed)
            if self.value is None:
                self._done.wait(FIRST_COUNT_WAIT)
        return self.value, self.taken_at

    def _refresh(self, changed: datetime | None) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self.stale = False
        threading.Thread(
            target=self._count, args=(changed,), name="cokg-healthz-count", daemon=True
        ).start()

    def _count(self, changed: datetime | None) -> None:
        try:
            self.value = self._store.count()
            self.taken_at = time.monotonic()
            self._counted_change = changed
        except CokgError:
            self.stale = True  # try again on the next request
        finally:
            with self._lock:
                self._running = False
            self._done.set()


def _counter() -> TripleCount:
    counter = current_app.extensions.get("cokg.triple_count")
    if not isinstance(counter, TripleCount):
        state = cokg_state()
        counter = TripleCount(state.store, store_folder(current_app, state.store))
        state.on_write.append(counter.invalidate)
        current_app.extensions["cokg.triple_count"] = counter
    return counter


@health.get("/healthz")
def healthz() -> Response:
    """Report on the store: ``{status, store, triples, triples_counted_at, version, backend}``."""
    state = cokg_state()
    report: dict[str, Any] = {
        "status": "ok",
        "store": "reachable",
        "triples": None,
        "version": __version__,
        "backend": state.backend,
    }
    try:
        state.store.query("ASK {}")
    except CokgError as error:
        report.update(status="unavailable", store="unreachable", error=str(error))
    else:
        triples, taken_at = _counter().current()
        report["triples"] = triples
        if taken_at is not None:
            counted = time.time() - (time.monotonic() - taken_at)
            report["triples_counted_at"] = datetime.fromtimestamp(counted, UTC).isoformat()
    if state.engine_status is not None:
        report["engine"] = state.engine_status()
    response = jsonify(report)
    if report["status"] != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = str(state.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
