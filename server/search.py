"""``/search`` and ``/search.json``: full-text search with facets over the app's store.

Both take the same parameters: ``q`` (the text: words, ``"phrases"``, ``prefix*``, ``-word``,
``OR``), one or more of ``keyword``, ``approach``, ``organisation``, ``person``, ``type`` (a
facet value's key, the last segment of its IRI, or the IRI itself), ``from`` and ``to`` (years;
an entry matches when its period overlaps them), ``page`` and ``size``. ``/search`` answers an
HTML page, or JSON when ``Accept`` prefers ``application/json``; ``/search.json`` always JSON,
and with ``format=sparql-values`` a SPARQL ``VALUES ?entry { … }`` block of every matching
entry, to paste into a query on any engine.

The index (:class:`cokg.search.SearchIndex`) lives in ``SEARCH_INDEX`` (a file; None: in
memory). It is built on the first search, updated in the same request as every write through
the app (the ``on_write`` hook of :class:`.state.CokgState`; a SPARQL Update by what it
names, see :mod:`cokg.search_update`), and rebuilt when the store's
fingerprint changed behind its back (checked at most every ``SEARCH_CHECK_SECONDS``).
"""

from __future__ import annotations

import functools
import html
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from flask import Blueprint, Response, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from markupsafe import Markup

from cokg.search import (
    FACETS,
    MAX_PAGE_SIZE,
    FacetValue,
    Hit,
    SearchError,
    SearchIndex,
    SearchResult,
    Selection,
    dumps,
    result_json,
    values_block,
)
from cokg.search_update import written_by
from cokg.store import store_fingerprint

from .negotiation import HTML, choose, not_acceptable
from .resources import newest_file, store_folder
from .state import WriteEvent, cokg_state

search = Blueprint("search", __name__)
log = logging.getLogger("cokg.search")

EXTENSION = "cokg.search"
JSON = "application/json"
_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)


class SearchService:
    """The app's search index and how it keeps in step with the app's store.

    The first search builds a new index; an index kept on disk from an earlier run answers at
    once and is checked in the background (a restart never waits for a rebuild). Checks that
    the store did not change behind the index's back run in a background thread, at most every
    ``SEARCH_CHECK_SECONDS``, so a search never waits for them; writes through the app update
    the index in their own request and leave only the new fingerprint to that thread.
    """

    def __init__(self, app: App) -> None:
        self.index = SearchIndex(app.config.get("SEARCH_INDEX") or None)
        # Searches take turns on the index's lock anyway; running them all on one thread keeps
        # their arrays in that thread's caches (waitress hands requests to its threads in turn).
        self.runner = ThreadPoolExecutor(1, thread_name_prefix="cokg-search-run")
        weakref.finalize(self, self.index.close)  # the app has no shutdown hook
        weakref.finalize(self, self.runner.shutdown, wait=False)
        self.check_every = float(app.config.get("SEARCH_CHECK_SECONDS", 60.0))
        self._state = app.extensions["cokg"]
        self._lock = threading.Lock()
        self._ready = False
        self._checked = 0.0
        self._checker: threading.Thread | None = None
        self._written = False  # writes went through the app since the last fingerprint
        self._verified = False  # the index was found in step with the store (or built from it)
        self._files = store_folder(app, self._state.store)
        self._seen: datetime | None = None  # the files' last change when found in step
        self._state.on_write.append(self.on_write)

    def current(self) -> SearchIndex:
        """Return the index: built first if need be; a due check starts in the background."""
        with self._lock:
            if not self._ready and self.index.fingerprint is None:
                seen = None if self._files is None else newest_file(self._files)
                self.index.build(self._state.store)  # a new index: the first search waits
                self._ready = self._verified = True
                self._seen = seen
                self._checked = time.monotonic()
            elif not self._ready or (
                time.monotonic() - self._checked >= self.check_every and not self._checking()
            ):
                # An index kept from an earlier run answers at once; it is checked meanwhile.
                self._ready = True
                self._checked = time.monotonic()
                self._checker = threading.Thread(
                    target=self._check, name="cokg-search-check", daemon=True
                )
                self._checker.start()
        return self.index

    def _checking(self) -> bool:
        return self._checker is not None and self._checker.is_alive()

    def _check(self, *, fresh: bool = False) -> None:
        """Rebuild if the store changed behind the index's back (or trust the app's writes).

        A timed check may use another cache's recent reading of the store's fingerprint; after
        a write through the app, or asked to (``fresh``), it reads the store itself.
        """
        try:
            fresh = fresh or self._written
            # The store's files: unchanged since the index was found in step, nothing to ask
            # the engine (a fingerprint counts every triple: seconds on a large store). Read
            # before the fingerprint, so a write in between is seen by the next check.
            changed = None if self._files is None else newest_file(self._files)
            if not fresh and self._verified and changed is not None and changed == self._seen:
                return
            fingerprint = store_fingerprint(
                self._state.store, max_age=0.0 if fresh else self.check_every
            )
            # Writes through the app were applied to an index known to be in step: only the
            # fingerprint is new. Otherwise (a kept index not checked yet) compare.
            trusted = self._written and self._verified
            self._written = False
            if trusted:
                self.index.record_fingerprint(fingerprint)
            elif fingerprint != self.index.fingerprint:
                log.info("the store changed behind the search index's back: rebuilding it")
                self.index.build(self._state.store)
                self.index.warm()
            self._verified = True
            self._seen = changed
        except Exception:
            log.exception("checking the search index against the store failed")

    def warm_up(self) -> threading.Thread:
        """Make an index kept from an earlier run ready in a background thread: checked
        against the store, its entry sets read into memory. ``cokg serve`` calls it at start,
        so that the first search does not wait for the sets (seconds at 100 000 entries).

        A new index is left to the first search, as before: building one takes minutes of a
        core on a large store, which a server that may never be searched should not spend.
        """

        def run() -> None:
            try:
                if self.index.fingerprint is not None:
                    self.current()
                    self.index.warm()
            except Exception:
                log.exception("making the search index ready failed")

        thread = threading.Thread(target=run, name="cokg-search-warm-up", daemon=True)
        thread.start()
        return thread

    def check_now(self) -> None:
        """Run the background check in this thread (tests, and after a bulk load)."""
        self._check(fresh=True)

    def on_write(self, event: WriteEvent) -> None:
        """Update the index after a write through the app (same request).

        A SPARQL Update is bounded by the graphs and subjects it writes
        (:func:`cokg.search_update.written_by`); one that cannot be rebuilds the index.
        """
        if not self._ready:
            return  # never built: the first search builds it from the store as it is then
        self._written = True
        graphs: tuple[str | None, ...] | None = event.graphs
        subjects: tuple[str, ...] = ()
        if graphs is None and event.update is not None:
            written = written_by(event.update)
            if written is not None:
                graphs, subjects = written.graphs, written.subjects
        self.index.apply_write(self._state.store, graphs, subjects=subjects, refingerprint=False)


@search.record_once
def _setup(setup: BlueprintSetupState) -> None:
    setup.app.extensions[EXTENSION] = SearchService(setup.app)


def warm_up(app: App) -> threading.Thread:
    """Make ``app``'s search index ready in the background (:meth:`SearchService.warm_up`)."""
    return _service_of(app).warm_up()


def search_service() -> SearchService:
    """Return the search service of the app handling the current request."""
    return _service_of(current_app)


def _service_of(app: App) -> SearchService:
    service = app.extensions[EXTENSION]
    if not isinstance(service, SearchService):
        raise TypeError(f"app.extensions[{EXTENSION!r}] is not a SearchService")
    return service


_WHOLE = re.compile(r"[+-]?[0-9]+")
"""A whole number as a URL writes it: ASCII digits, maybe a sign."""


def _int(name: str, default: int | None) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    try:
        if not _WHOLE.fullmatch(value):  # int() would also read "5_0", "٥" or "５"
            raise ValueError(value)
        return int(value)
    except ValueError:
        raise SearchError(f"{name} must be a whole number, not {value[:40]!r}") from None


def _selection() -> Selection:
    facets = {name: request.args.getlist(name) for name in FACETS if request.args.getlist(name)}
    return Selection(facets, from_year=_int("from", None), to_year=_int("to", None))


def _run() -> tuple[SearchResult, Selection]:
    selection = _selection()
    page = _int("page", None)
    size = _int("size", None)
    facets = request.args.get("facets", "1") not in ("0", "false", "no")
    text = request.args.get("q", "")
    service = search_service()
    index = service.current()
    result = service.runner.submit(
        index.search,
        text,
        selection,
        page=1 if page is None else page,
        size=10 if size is None else min(size, MAX_PAGE_SIZE),
        facets=facets,
    ).result()
    return result, selection


def page_url(path: str, changes: dict[str, Any], *, drop: tuple[str, ...] = ()) -> str:
    """Return ``path`` with the current parameters, ``changes`` applied and ``drop`` removed.

    A change to a list sets every value of that parameter; to None removes it.
    """
    pairs: list[tuple[str, str]] = []
    for name in request.args:
        if name in changes or name in drop:
            continue
        pairs += [(name, value) for value in request.args.getlist(name) if value != ""]
    for name, value in changes.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        pairs += [(name, str(v)) for v in values]
    return path + ("?" + urlencode(pairs) if pairs else "")


def page_links(path: str) -> Callable[[int], str]:
    """Return what gives the URL of page ``n`` of the current search: :func:`page_url` with
    ``{"page": n}``, the other parameters encoded once for every page linked to."""
    others = page_url(path, {}, drop=("page",))
    start = others + ("&page=" if "?" in others else "?page=")
    return lambda n: start + str(n)


_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")
"""What ``quote_plus`` writes as it is (a facet value's key mostly is)."""


@functools.lru_cache(maxsize=1 << 16)
def _quoted(key: str) -> str:
    """A facet value's key as ``quote_plus`` writes it (the same values come back on page
    after page: each is quoted once)."""
    return key if _UNQUOTED.fullmatch(key) else quote_plus(key)


_label_html = functools.lru_cache(maxsize=1 << 16)(html.escape)
"""A facet value's label escaped for HTML, each once (as :func:`_quoted`)."""


def facet_urls(
    path: str,
    name: str,
    chosen: Sequence[str],
    values: Sequence[FacetValue],
    *,
    escaped: bool = False,
) -> list[str]:
    """Return, for each of ``values`` of facet ``name``, the URL of the search with that value
    added to the selection (or taken out of it when selected), back on the first page;
    ``escaped``: as HTML writes it in an attribute.

    The same URLs as :func:`page_url` gives one by one, but the other parameters are encoded
    (and escaped) once for all of a facet's values (a page lists up to 250 values).
    """
    write = html.escape if escaped else str
    others = [
        (other, value)
        for other in request.args
        if other not in (name, "page")
        for value in request.args.getlist(other)
        if value != ""
    ]
    head = urlencode([*others, *((name, k) for k in chosen)])
    start = f"{path}?{head}&" if head else f"{path}?"
    start = write(start + quote_plus(name) + "=")  # as urlencode writes it
    urls = []
    for value in values:
        key = value.key
        if value.selected:
            kept = urlencode([*others, *((name, k) for k in chosen if k != key)])
            urls.append(write(f"{path}?{kept}" if kept else path))
        else:  # what quote_plus writes holds nothing HTML escapes
            urls.append(start + _quoted(key))
    return urls


def facet_items(values: Sequence[FacetValue], hrefs: Sequence[str]) -> Markup:
    """Return the ``<li>`` of each of a facet's ``values``, linked to ``hrefs`` (URLs escaped
    for HTML: :func:`facet_urls` with ``escaped``), as HTML.

    Written here rather than by a loop in the template: a page lists up to 300 values, and
    Jinja took about a millisecond for them (a tenth of a search).
    """
    parts = []
    for value, href in zip(values, hrefs, strict=True):
        if value.selected:
            parts.append(
                f'<li class="selected"><a href="{href}" aria-current="true" '
                'title="Remove this filter">'
            )
        else:
            parts.append(f'<li><a href="{href}">')
        parts.append(
            f'<span class="facet-label">{_label_html(value.label)}</span> '
            f'<span class="facet-count">{value.count}</span></a></li>\n'
        )
    return Markup("".join(parts))


def hit_items(hits: Sequence[Hit], base: str) -> Markup:
    """Return the ``<li>`` of each of ``hits``, its title linked to this server's page of the
    entry, as HTML (written here, as :func:`facet_items`: about 0.2 ms of Jinja for ten)."""
    parts = []
    for hit in hits:
        period = f'<p class="hit-period">{html.escape(hit.period)}</p>\n' if hit.period else ""
        parts.append(
            '<li class="hit">\n'
            f'<h2 class="hit-title"><a href="{html.escape(local_path(hit.iri, base))}">'
            f"{hit.title_html}</a></h2>\n{period}"
            f'<p class="hit-snippet">{hit.snippet_html}</p>\n</li>\n'
        )
    return Markup("".join(parts))


def _json(result: SearchResult) -> Response:
    path = request.script_root + "/search.json"
    document = result_json(result, link=page_links(path))
    base = cokg_state().base_iri
    for hit in document["hits"]:
        hit["href"] = local_path(hit["iri"], base)
    response = Response(dumps(document), mimetype=JSON)
    response.vary.add("Accept")
    return response


def local_path(iri: str, base: str) -> str:
    """Return this server's path for ``iri`` when it is under the base IRI, else ``iri``."""
    if iri.startswith(base):
        return request.script_root + "/" + iri[len(base) :]
    return iri


@search.route("/search.json")
def search_json() -> Response:
    """Answer a search as JSON (or, with ``format=sparql-values``, a SPARQL VALUES block)."""
    if request.args.get("format") == "sparql-values":
        iris = search_service().current().iris(request.args.get("q", ""), _selection())
        text = values_block(iris) + "\n"
        return Response(text, mimetype="text/plain")
    result, _ = _run()
    return _json(result)


@search.route("/search")
def search_page() -> Response:
    """Answer the search page (HTML), or JSON when the client asks for it."""
    wanted = request.args.get("format")
    chosen = JSON if wanted == "json" else choose([HTML, JSON, "application/xhtml+xml"])
    if chosen is None:
        raise not_acceptable([HTML, JSON])
    result, selection = _run()
    if chosen == JSON:
        return _json(result)
    path = request.script_root + "/search"
    base = cokg_state().base_iri
    facet_lists = {
        name: facet_items(
            values, facet_urls(path, name, selection.facets.get(name, []), values, escaped=True)
        )
        for name, values in result.facets.items()
    }
    chosen_filters = [
        (
            FACETS[name].label,
            _label_of(result, name, key),
            page_url(path, {name: [k for k in keys if k != key]}, drop=("page",)),
        )
        for name, keys in selection.facets.items()
        for key in keys
    ]
    years = selection.from_year is not None or selection.to_year is not None
    json_link = page_url(request.script_root + "/search.json", {})
    page = render_template(  # the links a page may not show are made only when it does
        "search.html",
        nav="search",
        result=result,
        selection=selection,
        facets=FACETS,
        facet_lists=facet_lists,
        chosen_filters=chosen_filters,
        hit_items=hit_items(result.hits, base),
        page_link=page_links(path),
        json_url=json_link,
        values_url=page_url(request.script_root + "/search.json", {"format": "sparql-values"}),
        clear_years_url=page_url(path, {}, drop=("from", "to", "page")) if years else None,
        suggestion_url=(
            page_url(path, {"q": result.suggestion}, drop=("page",)) if result.suggestion else None
        ),
        unfiltered_url=(
            page_url(path, {}, drop=(*FACETS, "from", "to", "page"))
            if selection.facets or years
            else None
        ),
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Link"] = f'<{json_link}>; rel="alternate"; type="application/json"'
    response.vary.add("Accept")
    return response


def _label_of(result: SearchResult, facet: str, key: str) -> str:
    for value in result.facets.get(facet, []):
        if value.key == key or value.iri == key:
            return value.label
    return key
