"""The store ``cokg serve`` uses over its own engine: every query and write is bounded in time.

:class:`BoundedSparqlStore` is a :class:`~cokg.sparql_store.SparqlStore` over a supervised
:class:`~.engine.OxigraphEngine` with a watchdog on each query and each write. A request still
running ``limit`` seconds (plus a little) after it was sent gets the engine killed and
restarted: the work stops, and the caller gets :class:`~cokg.errors.QueryTimeout` at once.
Queries that were running on the same engine at that moment are sent again to the new one,
within what is left of their own time limit, so other clients only see a short delay. Writes
are never sent again: each is one transaction, which the kill either let commit whole or
dropped whole, and a write cut by another request's restart is reported, not repeated.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeVar

from pyoxigraph import Quad

from cokg.errors import QueryTimeout, StoreUnavailable
from cokg.sparql_store import AnswerReceiver, SolutionsText, SparqlStore, TriplesText
from cokg.store import QueryResult

from .engine import OxigraphEngine

T = TypeVar("T")

log = logging.getLogger("cokg.engine")

_GRACE = 0.25
"""Seconds past the limit before the watchdog kills: the engine's own "cancelled" answer, when
it manages one, comes first and needs no restart."""

_SLACK = 0.5
"""Seconds the HTTP client waits past the engine's limit (after the watchdog, as a backstop)."""


class _Watchdogs:
    """One thread that runs each armed action at its deadline, unless it was disarmed first.

    A thread per query (``threading.Timer``) costs a thread start, and the wait for it to
    start, on every request; one long-lived thread and a heap of deadlines cost neither. The
    thread is only woken when a new deadline comes before all the others.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._condition = threading.Condition()
        self._serial = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, watchdog: _Watchdog, seconds: float) -> None:
        """Run ``watchdog``'s action ``seconds`` from now, unless it is disarmed first."""
        deadline = time.monotonic() + seconds
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cokg-query-watchdog", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._heap, (deadline, next(self._serial), watchdog))
            if self._heap[0][2] is watchdog:
                self._condition.notify()

    def disarm(self, watchdog: _Watchdog) -> None:
        """Keep ``watchdog``'s action from running (it leaves the heap at its time, or when
        the heap is swept)."""
        with self._condition:
            watchdog.armed = False
            if len(self._heap) > 1024:
                self._heap = [item for item in self._heap if item[2].armed]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(timeout)
                _, _, due = heapq.heappop(self._heap)
                if not due.armed:
                    continue
                due.armed = False
                due.fired = True
            try:
                due.action()  # outside the lock: it kills a process
            except Exception:  # keep watching the other queries
                log.exception("the watchdog of a query failed")


_WATCHDOGS = _Watchdogs()


class _Watchdog:
    """Call ``action`` after ``seconds`` unless the ``with`` block ends first (inf: never)."""

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self.fired = False
        self.armed = False
        self.action = action
        self._seconds = seconds

    def __enter__(self) -> _Watchdog:
        if math.isfinite(self._seconds):
            self.armed = True
            _WATCHDOGS.arm(self, self._seconds)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.armed:
            _WATCHDOGS.disarm(self)


class BoundedSparqlStore(SparqlStore):
    """A SparqlStore over ``engine`` whose queries stop after ``limit`` seconds.

    Raises :class:`~cokg.errors.QueryTimeout` for a query past the limit and
    :class:`~cokg.errors.StoreUnavailable` while the engine is down.
    """

    def __init__(self, engine: OxigraphEngine, *, limit: float) -> None:
        super().__init__(
            engine.query_url,
            update_url=engine.update_url,
            gsp_url=engine.gsp_url,
            timeout=engine.timeout_s + _SLACK,
            # No blind retries: one would send a query the watchdog just stopped to the new
            # engine. Queries cut short by a restart are sent again below, on purpose.
            retries=0,
            engine="oxigraph",
        )
        self.limit = limit
        self._engine = engine

    def __repr__(self) -> str:
        return f"BoundedSparqlStore({self.query_url!r}, limit={self.limit:g} s)"

    def query(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
    ) -> QueryResult:
        """Run a query as :meth:`SparqlStore.query` does, stopping it at the time limit."""
        return self._bounded(
            lambda: SparqlStore.query(
                self,
                sparql,
                default_graph_uris=default_graph_uris,
                named_graph_uris=named_graph_uris,
            ),
            watch=True,
        )

    def query_text(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
        receiver: AnswerReceiver | None = None,
    ) -> QueryResult | SolutionsText | TriplesText:
        """Run a query as :meth:`SparqlStore.query_text` does, stopping it at the time limit."""
        return self._bounded(
            lambda: SparqlStore.query_text(
                self,
                sparql,
                default_graph_uris=default_graph_uris,
                named_graph_uris=named_graph_uris,
                receiver=receiver,
            ),
            watch=True,
        )

    def update(self, sparql: str) -> None:
        """Run a SPARQL Update as :meth:`SparqlStore.update` does, stopped at the time limit."""
        self._bounded(lambda: SparqlStore.update(self, sparql), watch=True, write=True)

    def replace_graph_quads(self, graph: str, quads: Iterable[Quad]) -> None:
        """Replace ``graph`` with ``quads`` in one transaction, stopped at the time limit."""
        self._bounded(
            lambda: SparqlStore.replace_graph_quads(self, graph, quads), watch=True, write=True
        )

    def add_quads(self, quads: Iterable[Quad]) -> None:
        """Add ``quads`` in one transaction, stopped at the time limit."""
        self._bounded(lambda: SparqlStore.add_quads(self, quads), watch=True, write=True)

    def delete_graph(self, graph: str) -> None:
        """Delete ``graph`` (:class:`~cokg.errors.NotFound` when there is none), stopped at
        the time limit."""
        self._bounded(lambda: SparqlStore.delete_graph(self, graph), watch=True, write=True)

    def clear(self) -> None:
        """Delete every graph, stopped at the time limit."""
        self._bounded(lambda: SparqlStore.clear(self), watch=True, write=True)

    def graphs(self) -> list[str]:
        """Return the IRIs of every named graph, sorted."""
        return self._bounded(super().graphs, watch=False)

    def count(self, graph: str | None = None) -> int:
        """Return the number of quads in ``graph``, or in the whole store."""
        return self._bounded(lambda: SparqlStore.count(self, graph), watch=False)

    def has_graph(self, graph: str) -> bool:
        """Tell whether the named graph ``graph`` exists."""
        return self._bounded(lambda: SparqlStore.has_graph(self, graph), watch=False)

    def _bounded(self, action: Callable[[], T], *, watch: bool, write: bool = False) -> T:
        """Run ``action`` within the time limit, with a watchdog on the engine if ``watch``.

        When another query's watchdog restarts the engine under ``action``, ``action`` runs
        again on the new engine, within what is left of the same time limit; unless it is a
        ``write``, which is never sent again: past the limit the engine is killed, which drops
        the write's transaction unless it had committed, and whether it happened is for a read
        to tell (it happened whole or not at all).
        """
        what = "write" if write else "query"
        deadline = time.monotonic() + self.limit
        while True:
            since = self._engine.recycles
            left = deadline - time.monotonic()
            if left <= 0:
                raise QueryTimeout(self._stopped)
            watchdog = _Watchdog(
                left + _GRACE if watch else math.inf,
                functools.partial(
                    self._engine.recycle,
                    since,
                    f"a {what} ran past the {self.limit:g} s time limit",
                ),
            )
            with watchdog:
                try:
                    return action()
                except (StoreUnavailable, QueryTimeout) as error:
                    if watchdog.fired:
                        raise QueryTimeout(
                            self._write_stopped if write else self._stopped
                        ) from error
                    recycled = self._engine.recycles != since or self._engine.recycling
                    if write or isinstance(error, QueryTimeout) or not recycled:
                        raise  # the engine's own answer, or down for another reason: say so
            if not self._engine.wait_until_ready(max(0.0, deadline - time.monotonic())):
                raise StoreUnavailable("the query engine is restarting; try again shortly")

    @property
    def _write_stopped(self) -> str:
        return (
            f"the write ran past the {self.limit:g} s time limit and was stopped; "
            "it was one transaction, so it either happened whole or not at all"
        )

    @property
    def _stopped(self) -> str:
        return (
            f"the query ran past the {self.limit:g} s time limit and was stopped; "
            "narrow it down (LIMIT, more specific patterns) and try again"
        )
