"""The store ``cokg serve`` uses over its own engine: every query is bounded in time.

:class:`BoundedSparqlStore` is a :class:`~cokg.sparql_store.SparqlStore` over a supervised
:class:`~.engine.OxigraphEngine` with a watchdog on each query. A query still running
``limit`` seconds (plus a little) after it was sent gets the engine killed and restarted:
the work stops, and the caller gets :class:`~cokg.errors.QueryTimeout` at once. Queries that
were running on the same engine at that moment are sent again to the new one, within what is
left of their own time limit, so other clients only see a short delay.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeVar

from cokg.errors import QueryTimeout, StoreUnavailable
from cokg.sparql_store import SparqlStore
from cokg.store import QueryResult

from .engine import OxigraphEngine

T = TypeVar("T")

_GRACE = 0.25
"""Seconds past the limit before the watchdog kills: the engine's own "cancelled" answer, when
it manages one, comes first and needs no restart."""

_SLACK = 0.5
"""Seconds the HTTP client waits past the engine's limit (after the watchdog, as a backstop)."""


class _Watchdog:
    """Call ``action`` after ``seconds`` unless the ``with`` block ends first (inf: never)."""

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self.fired = False
        self._action = action
        self._timer: threading.Timer | None = None
        if math.isfinite(seconds):
            self._timer = threading.Timer(seconds, self._fire)
            self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._action()

    def __enter__(self) -> _Watchdog:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()


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

    def graphs(self) -> list[str]:
        """Return the IRIs of every named graph, sorted."""
        return self._bounded(super().graphs, watch=False)

    def count(self, graph: str | None = None) -> int:
        """Return the number of quads in ``graph``, or in the whole store."""
        return self._bounded(lambda: SparqlStore.count(self, graph), watch=False)

    def _bounded(self, action: Callable[[], T], *, watch: bool) -> T:
        """Run ``action`` within the time limit, with a watchdog on the engine if ``watch``.

        When another query's watchdog restarts the engine under ``action``, ``action`` runs
        again on the new engine, within what is left of the same time limit.
        """
        deadline = time.monotonic() + self.limit
        while True:
            since = self._engine.recycles
            left = deadline - time.monotonic()
            if left <= 0:
                raise QueryTimeout(self._stopped)
            watchdog = _Watchdog(
                left + _GRACE if watch else math.inf,
                functools.partial(self._engine.recycle, since, self._past_limit),
            )
            with watchdog:
                try:
                    return action()
                except (StoreUnavailable, QueryTimeout) as error:
                    if watchdog.fired:
                        raise QueryTimeout(self._stopped) from error
                    recycled = self._engine.recycles != since or self._engine.recycling
                    if isinstance(error, QueryTimeout) or not recycled:
                        raise  # the engine's own answer, or down for another reason: say so
            if not self._engine.wait_until_ready(max(0.0, deadline - time.monotonic())):
                raise StoreUnavailable("the query engine is restarting; try again shortly")

    @property
    def _past_limit(self) -> str:
        return f"a query ran past the {self.limit:g} s time limit"

    @property
    def _stopped(self) -> str:
        return (
            f"the query ran past the {self.limit:g} s time limit and was stopped; "
            "narrow it down (LIMIT, more specific patterns) and try again"
        )
