"""``cokg serve``: the web app in a production WSGI server (waitress), over a bounded store.

With no store given it serves the shipped knowledge base from the embedded on-disk store
(:mod:`.embedded`); with a folder it serves that; either way through a supervised
``oxigraph serve`` child (:mod:`.engine`) so that a query can be stopped at the time limit.
With a URL it serves whatever SPARQL 1.1 engine answers there. SIGTERM or SIGINT stops the
server, then the child, and the process exits with status 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import waitress

from cokg import __version__
from cokg.errors import CokgError, NotFound
from cokg.sparql_store import SparqlStore
from cokg.store import ReadableStore, is_url

from . import create_app
from .bounded import BoundedSparqlStore
from .embedded import default_data_dir, lock_data_dir, prepare_embedded_store
from .engine import OxigraphEngine
from .search import warm_up as warm_up_search

log = logging.getLogger("cokg.serve")

_SLACK = 0.5
"""Seconds the web app waits past a remote engine's time limit, so that the engine's own,
clearer "stopped at the time limit" answer arrives first."""


def serve(
    *,
    host: str,
    port: int,
    store: str | None,
    base_iri: str,
    data_dir: Path | None,
    timeout: float,
    threads: int,
    update_url: str | None,
    gsp_url: str | None,
) -> None:
    """Serve cokg over HTTP until SIGTERM or SIGINT, then stop cleanly and return.

    ``store`` is a SPARQL endpoint URL, an on-disk store folder, or None for the embedded
    store under ``data_dir`` (default :func:`.embedded.default_data_dir`). ``timeout`` bounds
    every query, in seconds. Raises :class:`~cokg.errors.CokgError` when the store cannot be
    opened or the engine cannot start.
    """
    if timeout <= 0:
        raise CokgError("--timeout must be a positive number of seconds")
    if threads < 1:
        raise CokgError("--threads must be at least 1")
    _configure_logging()
    previous = _stop_on_signals()
    try:
        with contextlib.ExitStack() as cleanup:
            backend, description, engine = _open_backend(
                cleanup, store, base_iri, data_dir, timeout, update_url, gsp_url
            )
            settings = {"BASE_IRI": base_iri, "BACKEND": description, "QUERY_TIMEOUT": timeout}
            settings["SEARCH_INDEX"] = str((data_dir or default_data_dir()) / "search.sqlite3")
            for name, folder in (("DUMPS_DIR", "dumps"), ("RELEASES_DIR", "releases")):
                # COKG_DUMPS_DIR / COKG_RELEASES_DIR win; otherwise a folder of the data dir
                chosen = os.environ.get(f"COKG_{name}") or (data_dir or default_data_dir()) / folder
                settings[name] = str(chosen)
            if engine is not None:  # its files tell when the store last changed (Last-Modified)
                settings["STORE_LOCATION"] = str(engine.location)
            app = create_app(settings, store=backend)
            warm_up_search(app)  # the first search need not wait for the index
            if engine is not None:
                app.extensions["cokg"].engine_status = engine.status
            try:
                server = waitress.create_server(
                    app,
                    host=host,
                    port=port,
                    threads=threads,
                    ident="cokg",
                    asyncore_use_poll=True,
                    # waitress reads a whole body (to disk past 512 KB) before the app sees
                    # it: refuse one larger than the app takes as soon as its length is known
                    max_request_body_size=int(app.config["MAX_CONTENT_LENGTH"]),
                )
            except OSError as error:
                raise CokgError(f"cannot listen on {host}:{port}: {error.strerror}") from error
            log.info(
                "cokg %s serving %s — store: %s, backend: %s",
                __version__,
                " ".join(_urls(server)),
                store or (engine.location if engine else "?"),
                description,
            )
            server.run()  # returns once a signal raised SystemExit in it
            log.info("stopping")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("stopped")


def _open_backend(
    cleanup: contextlib.ExitStack,
    store: str | None,
    base_iri: str,
    data_dir: Path | None,
    timeout: float,
    update_url: str | None,
    gsp_url: str | None,
) -> tuple[ReadableStore, str, OxigraphEngine | None]:
    """Open the store to serve; ``cleanup`` gets what must be stopped at the end."""
    if store is not None and is_url(store):
        remote = SparqlStore.for_endpoint(
            store,
            update_url=update_url,
            gsp_url=gsp_url,
            timeout=timeout + _SLACK,
            query_timeout=timeout,
        )
        cleanup.callback(remote.close)
        _check_reachable(remote)
        return remote, f"SPARQL endpoint {store} ({remote.engine.name})", None

    if store is not None:
        location = Path(store)
        if not location.is_dir():
            raise NotFound(f"no store at {location} (create one with `cokg load --store {store}`)")
    else:
        folder = data_dir or default_data_dir()
        cleanup.enter_context(lock_data_dir(folder))
        location = prepare_embedded_store(folder, base_iri=base_iri)

    engine = OxigraphEngine(location, timeout=timeout)
    cleanup.callback(engine.stop)
    engine.start()
    local = BoundedSparqlStore(engine, limit=timeout)
    cleanup.callback(local.close)
    description = (
        f"oxigraph serve at {engine.query_url} (supervised child, query time limit {timeout:g} s)"
    )
    return local, description, engine


def _check_reachable(store: ReadableStore) -> None:
    """Warn (and keep going: it may come up later) when the store does not answer yet."""
    try:
        store.query("ASK {}")
    except CokgError as error:
        log.warning("the store does not answer yet (requests get 503 until it does): %s", error)


def _urls(server: Any) -> list[str]:
    listening = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    urls = []
    for host, port in listening:
        shown = f"[{host}]" if ":" in str(host) else host
        urls.append(f"http://{shown}:{port}/")
    return urls


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )


def _stop_on_signals() -> dict[int, Any]:
    """Make SIGTERM and SIGINT stop the server; return the handlers they replace.

    waitress stops its loop (and its worker threads) on SystemExit. Later signals are ignored
    so that they cannot cut the clean-up short.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        log.info("received %s", signal.Signals(signum).name)
        raise SystemExit(0)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, stop)
    return previous
