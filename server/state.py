"""The one object the web app keeps: the store and what the views need to know about it.

Views never build stores; they take the one the app holds (``app.extensions["cokg"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from cokg.store import ReadableStore


@dataclass
class CokgState:
    """What the app serves: the store, its base IRI, and how the store is reached.

    ``engine_status`` reports on a supervised engine process (pid, restarts) when
    ``cokg serve`` runs one; it is None otherwise.
    """

    store: ReadableStore
    base_iri: str
    backend: str
    retry_after: int
    engine_status: Callable[[], dict[str, Any]] | None = None


def cokg_state() -> CokgState:
    """Return the state of the app handling the current request."""
    state = current_app.extensions["cokg"]
    if not isinstance(state, CokgState):
        raise TypeError("app.extensions['cokg'] is not a CokgState")
    return state
