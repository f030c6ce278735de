"""The cokg web app (installed as ``cokg.server``): :func:`create_app` builds it.

One blueprint per concern (:mod:`.health`, :mod:`.sparql`); one error handler
(:mod:`.errors`); the store lives in ``app.extensions["cokg"]`` (:class:`.state.CokgState`).
:mod:`.run` is the ``cokg serve`` process around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from cokg.load import open_knowledge_base
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.store import ReadableStore, open_store

from .errors import register_error_handlers
from .health import health
from .sparql import sparql
from .state import CokgState, cokg_state

__all__ = ["CokgState", "cokg_state", "create_app"]

DEFAULTS: dict[str, Any] = {
    # The base IRI of the knowledge base's own resources.
    "BASE_IRI": DEFAULT_BASE_IRI,
    # A store folder or SPARQL endpoint URL; None serves the shipped knowledge base from memory.
    "STORE": None,
    # How the store is reached, for /healthz (default: the store's own description).
    "BACKEND": None,
    # Seconds a client is told to wait (Retry-After) when the store is unavailable.
    "RETRY_AFTER": 5,
    # Request bodies larger than this get 413.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
}


def create_app(
    config: Mapping[str, Any] | None = None, *, store: ReadableStore | None = None
) -> Flask:
    """Return the cokg Flask app.

    Settings come from :data:`DEFAULTS`, then ``COKG_*`` environment variables, then
    ``config``. ``store`` is the store to serve (tests inject one); without it the app opens
    ``STORE`` (:func:`cokg.store.open_store`), or the shipped knowledge base in memory.
    Raises :class:`~cokg.errors.NotFound` or :class:`~cokg.errors.StoreUnavailable` when
    ``STORE`` cannot be opened.
    """
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("COKG")
    if config is not None:
        app.config.update(config)

    base_iri = str(app.config["BASE_IRI"])
    if store is None:
        spec = app.config["STORE"]
        store = open_store(spec) if spec else open_knowledge_base(base_iri=base_iri)
    app.extensions["cokg"] = CokgState(
        store=store,
        base_iri=base_iri,
        backend=str(app.config["BACKEND"] or repr(store)),
        retry_after=int(app.config["RETRY_AFTER"]),
    )

    register_error_handlers(app)
    app.register_blueprint(health)
    app.register_blueprint(sparql)
    return app
