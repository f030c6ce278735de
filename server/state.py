"""The one object the web app keeps: the store and what the views need to know about it.

Views never build stores; they take the one the app holds (``app.extensions["cokg"]``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import current_app

from cokg.store import ReadableStore

log = logging.getLogger("cokg.server")


@dataclass(frozen=True)
class WriteEvent:
    """What a successful write changed, for the ``on_write`` subscribers.

    ``graphs`` names the graphs written (``None`` in it: the default graph); ``graphs`` is
    None when any graph may have changed (a SPARQL Update). ``update`` is the text of that
    update as it ran, for a subscriber that can tell what it wrote (not compared).
    """

    operation: Literal["update", "replace", "add", "delete"]
    graphs: tuple[str | None, ...] | None
    update: str | None = field(default=None, compare=False)


@dataclass
class CokgState:
    """What the app serves: the store, its base IRI, and how the store is reached.

    ``engine_status`` reports on a supervised engine process (pid, restarts) when
    ``cokg serve`` runs one; it is None otherwise. ``write_token`` is the bearer token that
    updates and Graph Store writes need (None: writes are off). ``on_write`` callbacks run
    after every successful write (search index, dump caches…).
    """

    store: ReadableStore
    base_iri: str
    backend: str
    retry_after: int
    engine_status: Callable[[], dict[str, Any]] | None = None
    write_token: str | None = field(default=None, repr=False)
    max_rows: int = 100_000
    query_timeout: float | None = None
    allowed_services: frozenset[str] = frozenset()
    on_write: list[Callable[[WriteEvent], None]] = field(default_factory=list)

    def notify_write(self, event: WriteEvent) -> None:
        """Call every ``on_write`` subscriber; a failing one is logged, the others still run."""
        for subscriber in list(self.on_write):
            try:
                subscriber(event)
            except Exception:
                log.exception("on_write subscriber %r failed for %r", subscriber, event)


def cokg_state() -> CokgState:
    """Return the state of the app handling the current request."""
    state = current_app.extensions["cokg"]
    if not isinstance(state, CokgState):
        raise TypeError("app.extensions['cokg'] is not a CokgState")
    return state
