"""The cokg web app (installed as ``cokg.server``): :func:`create_app` builds it.

One blueprint per concern (:mod:`.health`, :mod:`.sparql`, :mod:`.gsp`, :mod:`.query_page`);
one error handler (:mod:`.errors`); CORS on every response (:mod:`.cors`); the store lives in
``app.extensions["cokg"]`` (:class:`.state.CokgState`). :mod:`.run` is the ``cokg serve``
process around it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from cokg.errors import CokgError
from cokg.load import open_knowledge_base
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.store import ReadableStore, WritableStore, open_store

from .cors import init_cors
from .dataset import dataset
from .discovery import discovery
from .dumps import dumps
from .errors import register_error_handlers
from .gsp import gsp
from .health import health
from .negotiation import refuse_long_accept
from .pages import pages
from .query_page import query_page
from .resources import resources
from .search import search
from .service_description import describe_service
from .sparql import SERVICE_DESCRIPTION, sparql
from .state import CokgState, WriteEvent, cokg_state

__all__ = ["CokgState", "WriteEvent", "cokg_state", "create_app"]

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
    # The bearer token that SPARQL Update and Graph Store writes need; None: writes are off.
    "WRITE_TOKEN": None,
    # Query answers are cut after this many rows (announced in X-Cokg-Row-Limit).
    "MAX_ROWS": 100_000,
    # Comma-separated SPARQL endpoints that SERVICE may call; empty: SERVICE is refused.
    "ALLOWED_SERVICES": "",
    # The query time limit in seconds, for the service description (cokg serve sets it).
    "QUERY_TIMEOUT": None,
    # The search index file (cokg serve: DATA_DIR/search.sqlite3); None keeps it in memory.
    "SEARCH_INDEX": None,
    # Seconds between checks that the store did not change behind the search index's back.
    "SEARCH_CHECK_SECONDS": 60,
    # The folder of the dumps at /dumps/ (cokg serve: DATA_DIR/dumps); None: a temporary one.
    "DUMPS_DIR": None,
    # Seconds between checks that the store did not change behind the dumps' back.
    "DUMPS_CHECK_SECONDS": 60,
    # Seconds a request waits for the dumps being built before it gets the previous version.
    "DUMPS_WAIT_SECONDS": 10,
    # The folder of the releases at /releases/ (cokg serve: DATA_DIR/releases); None: none.
    "RELEASES_DIR": None,
    # The on-disk folder of the store behind a SPARQL URL (cokg serve: its engine's folder);
    # its files' modification times give Last-Modified. None: from the store itself, if any.
    "STORE_LOCATION": None,
    # Bytes of rendered resource pages kept in memory (emptied by every write); 0: no cache.
    "PAGE_CACHE_BYTES": 32 * 1024 * 1024,
    # Seconds between checks that the store did not change behind the page cache's back.
    "PAGE_CACHE_CHECK_SECONDS": 60,
}

# Settings read as the raw text of their COKG_* variable (from_prefixed_env would turn a
# token such as "1234" or "true" into a number or a boolean).
_TEXT_SETTINGS = ("WRITE_TOKEN", "ALLOWED_SERVICES")


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
    for name in _TEXT_SETTINGS:
        if f"COKG_{name}" in os.environ:
            app.config[name] = os.environ[f"COKG_{name}"]
    if config is not None:
        app.config.update(config)

    base_iri = str(app.config["BASE_IRI"])
    if store is None:
        spec = app.config["STORE"]
        store = open_store(spec) if spec else open_knowledge_base(base_iri=base_iri)
    state = CokgState(
        store=store,
        base_iri=base_iri,
        backend=str(app.config["BACKEND"] or repr(store)),
        retry_after=int(app.config["RETRY_AFTER"]),
        write_token=str(app.config["WRITE_TOKEN"] or "") or None,
        max_rows=_positive_int(app.config["MAX_ROWS"], "MAX_ROWS"),
        query_timeout=_seconds(app.config["QUERY_TIMEOUT"]),
        allowed_services=_endpoints(app.config["ALLOWED_SERVICES"]),
    )
    app.extensions["cokg"] = state
    app.extensions[SERVICE_DESCRIPTION] = describe_service(
        base_iri=base_iri,
        writable=state.write_token is not None and isinstance(store, WritableStore),
        federated=bool(state.allowed_services),
        max_rows=state.max_rows,
        timeout=state.query_timeout,
    )

    register_error_handlers(app)
    app.before_request(refuse_long_accept)
    init_cors(app)
    app.register_blueprint(health)
    app.register_blueprint(sparql)
    app.register_blueprint(gsp)
    app.register_blueprint(query_page)
    app.register_blueprint(search)
    app.register_blueprint(resources)
    app.register_blueprint(pages)
    app.register_blueprint(dumps)
    app.register_blueprint(dataset)
    app.register_blueprint(discovery)
    return app


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise CokgError(f"{name} must be a positive whole number, not {value!r}")
    return number


def _seconds(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds <= 0:
        raise CokgError(f"QUERY_TIMEOUT must be a positive number of seconds, not {value!r}")
    return seconds


def _endpoints(value: Any) -> frozenset[str]:
    """Return the endpoints of a comma-separated text (or a list) as a set."""
    if isinstance(value, list | tuple | set | frozenset):
        items = [str(v) for v in value]
    else:
        items = str(value or "").split(",")
    return frozenset(item.strip() for item in items if item.strip())
