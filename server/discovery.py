"""How crawlers find the pages: ``/sitemap.xml`` (sitemaps.org 0.9) and ``/robots.txt``.

The sitemap lists every HTML page a person reads: the home, search, query, dataset, dumps and
releases pages, and the page of every resource the knowledge base describes (every subject
under ``{base}id/``, the ontology and its terms, and any other IRI the store describes, such as a
document whose IRI is its DOI, at ``/page?uri=…``; every one has a type, and reading the typed
subjects is far cheaper than scanning every triple). A sitemap file holds at most
:data:`URLS_PER_FILE` URLs (the protocol's limit is 50 000); past that, ``/sitemap.xml`` is a
sitemap index that points to ``/sitemap-1.xml``, ``/sitemap-2.xml``… The list of pages is
read from the store once per store version (:class:`PageList`) and each file streamed from it.

``robots.txt`` lets crawlers read the pages and names the sitemap, but keeps them away from
what costs the server a query per URL and never ends (``/sparql``, the query page and search
with parameters, the Graph Store) and from the dump files (a crawler does not need gigabytes;
the listings stay open).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request, stream_with_context, url_for

from cokg.errors import NotFound
from cokg.store import ReadableStore, store_fingerprint

from .dumps import EXTENSION, dump_service
from .resources import Resource, as_uri, data_url, page_url, resource_path
from .state import cokg_state

discovery = Blueprint("discovery", __name__)

URLS_PER_FILE = 50_000
"""URLs in one sitemap file (the sitemaps.org limit)."""

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML = "application/xml"
CACHE_CONTROL = "public, max-age=3600"
STRIDE = 1000
"""Lines of the page list between two marks (a sitemap file seeks to one and skips the rest)."""
_PAGES = "cokg.discovery.pages"


@discovery.app_context_processor
def _describedby() -> dict[str, str | None]:
    """Give every resource page's ``<head>`` the URL of its data (``rel="describedby"``)."""
    href = None
    if request.endpoint == "pages.resource_page" and request.view_args:
        href = data_url(resource_path(str(request.view_args.get("rest", ""))))
    elif request.endpoint == "dataset.dataset_page":
        href = data_url("dataset")
    return {"describedby_href": href}


def _root() -> str:
    return request.host_url.rstrip("/") + request.script_root


def fixed_pages() -> list[str]:
    """Return the local URLs of the pages that are not about one resource."""
    urls = [
        url_for("pages.home"),
        url_for("search.search_page"),
        url_for("query_page.query_editor"),
        page_url("dataset"),
    ]
    if EXTENSION in current_app.extensions:
        urls += [url_for("dumps.dump_listing"), url_for("dumps.release_listing")]
        urls += [
            url_for("dumps.release_page", version=r.version) for r in dump_service().releases()
        ]
    return urls


def _subjects_filter() -> str:
    # Every IRI the store gives a type has a page: the server's own under /page/…, any
    # other (a document whose IRI is its DOI) at /page?uri=….
    return "FILTER(isIRI(?s))"


class PageList:
    """The local URLs of the resource pages, written once per store version to a file.

    The store is read once (no ``ORDER BY``: sorting half a million IRIs takes the engine a
    minute and a half at 100 000 entries), one URL per line, in the order the engine returns
    them; every sitemap file is then a slice of that file, read from a mark kept every
    :data:`STRIDE` lines. Memory does not grow with the number of pages. The version is
    :func:`cokg.store.store_fingerprint`, checked at most once per ``check_every`` seconds;
    :meth:`invalidate` (called after every write through the app) forces a new list.
    """

    def __init__(self, store: ReadableStore, *, check_every: float = 60.0) -> None:
        self._store = store
        self._check_every = check_every
        self._lock = threading.Lock()
        self._built: tuple[Path, int, list[int]] | None = None
        self._fingerprint: str | None = None
        self._checked = 0.0
        self._files: list[Path] = []  # the current file, for the finaliser to remove
        weakref.finalize(self, _remove_files, self._files)

    def invalidate(self, _event: object = None) -> None:
        """Forget the list: the next request reads the store again."""
        with self._lock:
            self._fingerprint = None

    def current(self) -> tuple[Path, int, list[int]]:
        """Return the list's file, its number of lines and its marks, rebuilt if stale."""
        with self._lock:
            now = time.monotonic()
            built = self._built
            if (
                built is None
                or self._fingerprint is None
                or now - self._checked >= self._check_every
            ):
                # a timed check may share another cache's recent reading; after a write (or at
                # first) the store is read afresh
                fresh = built is None or self._fingerprint is None
                version = store_fingerprint(
                    self._store, max_age=0.0 if fresh else self._check_every
                )
                self._checked = now
                if built is None or version != self._fingerprint:
                    built = self._build()
                    self._fingerprint = version
            return built

    def _build(self) -> tuple[Path, int, list[int]]:
        query = f"SELECT DISTINCT ?s WHERE {{ ?s a ?type {_subjects_filter()} }}"
        handle, name = tempfile.mkstemp(prefix="cokg-sitemap-", suffix=".txt")
        count, position, marks = 0, 0, []
        with os.fdopen(handle, "wb") as out:
            for row in self._store.query(query):  # type: ignore[union-attr]
                url = Resource.of(row["s"].value).page_url()
                if "\n" in url:
                    continue
                if count % STRIDE == 0:
                    marks.append(position)
                line = url.encode("utf-8") + b"\n"
                out.write(line)
                position += len(line)
                count += 1
        _remove_files(self._files)  # a reader still holding the old file open reads on
        self._files.append(Path(name))
        self._built = (Path(name), count, marks)
        return self._built

    def urls(self, start: int, stop: int) -> Iterator[str]:
        """Yield the local page URLs from line ``start`` up to (not including) ``stop``."""
        file, count, marks = self.current()
        stop = min(stop, count)
        if start >= stop:
            return
        with file.open("rb") as lines:
            lines.seek(marks[start // STRIDE])
            for _ in range(start % STRIDE):
                lines.readline()
            for _ in range(stop - start):
                yield lines.readline().rstrip(b"\n").decode("utf-8")


def _remove_files(files: list[Path]) -> None:
    while files:
        files.pop().unlink(missing_ok=True)


def page_list() -> PageList:
    """Return the app's :class:`PageList`, made on first use."""
    pages = current_app.extensions.get(_PAGES)
    if not isinstance(pages, PageList):
        state = cokg_state()
        pages = PageList(state.store)
        state.on_write.append(pages.invalidate)
        current_app.extensions[_PAGES] = pages
    return pages


def resource_count() -> int:
    """Return how many resources have a page of their own."""
    return page_list().current()[1]


def resource_pages(offset: int, limit: int) -> Iterator[str]:
    """Yield the local page URLs of resources from ``offset`` (in the list's order)."""
    yield from page_list().urls(offset, offset + limit)


def _urlset(urls: Iterator[str]) -> Iterator[str]:
    root = _root()
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">\n'
    for url in urls:
        yield f"<url><loc>{escape(root + as_uri(url))}</loc></url>\n"
    yield "</urlset>\n"


def _xml(body: Iterator[str]) -> Response:
    response = Response(stream_with_context(body), 200, mimetype=XML)
    response.mimetype_params["charset"] = "utf-8"
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def _file_urls(number: int, fixed: list[str]) -> Iterator[str]:
    """Yield the URLs of sitemap file ``number`` (1-based): the fixed pages come first."""
    start = (number - 1) * URLS_PER_FILE
    end = start + URLS_PER_FILE
    yield from fixed[start:end]
    offset = max(0, start - len(fixed))
    yield from resource_pages(offset, end - max(start, len(fixed)))


@discovery.get("/sitemap.xml")
def sitemap() -> Response:
    """The sitemap: every page, or an index of sitemap files when there are too many."""
    fixed = fixed_pages()
    total = len(fixed) + resource_count()
    if total <= URLS_PER_FILE:
        return _xml(_urlset(_file_urls(1, fixed)))
    files = math.ceil(total / URLS_PER_FILE)
    root = _root()

    def index() -> Iterator[str]:
        yield f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n'
        for number in range(1, files + 1):
            loc = root + url_for("discovery.sitemap_file", number=number)
            yield f"<sitemap><loc>{escape(loc)}</loc></sitemap>\n"
        yield "</sitemapindex>\n"

    return _xml(index())


@discovery.get("/sitemap-<int:number>.xml")
def sitemap_file(number: int) -> Response:
    """One file of a large sitemap (``/sitemap.xml`` lists them)."""
    fixed = fixed_pages()
    total = len(fixed) + resource_count()
    if number < 1 or number > max(1, math.ceil(total / URLS_PER_FILE)):
        raise NotFound(f"no sitemap file {number}; /sitemap.xml lists them")
    return _xml(_urlset(_file_urls(number, fixed)))


@discovery.get("/robots.txt")
def robots() -> Response:
    """Tell crawlers what to read, what to leave alone, and where the sitemap is."""
    prefix = request.script_root
    lines = [
        "# cokg: the co-production knowledge graph. Pages are open to crawlers; queries,",
        "# searches with parameters and the dump files cost the server and are left out.",
        "User-agent: *",
        f"Allow: {prefix}/",
        f"Disallow: {prefix}/sparql",
        f"Disallow: {prefix}/query?",
        f"Disallow: {prefix}/search?",
        f"Disallow: {prefix}/search.json",
        f"Disallow: {prefix}/rdf-graph-store",
        f"Allow: {prefix}/dumps/$",
        f"Disallow: {prefix}/dumps/",
        f"Disallow: {prefix}/releases/*/*.",
        "",
        f"Sitemap: {_root()}{url_for('discovery.sitemap')}",
        "",
    ]
    response = Response("\n".join(lines), 200, mimetype="text/plain")
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


__all__ = ["URLS_PER_FILE", "discovery", "fixed_pages", "resource_count", "resource_pages"]
