"""How crawlers find the pages: ``/sitemap.xml`` (sitemaps.org 0.9) and ``/robots.txt``.

The sitemap lists every HTML page a person reads: the home, search, query, dataset, dumps and
releases pages, and the page of every resource the knowledge base describes (every subject
under ``{base}id/``, the ontology and its terms; every one has a type, and reading the typed
subjects is far cheaper than scanning every triple). A sitemap file holds at most
:data:`URLS_PER_FILE` URLs (the protocol's limit is 50 000); past that, ``/sitemap.xml`` is a
sitemap index that points to ``/sitemap-1.xml``, ``/sitemap-2.xml``… Each file is written as
it is read from the store.

``robots.txt`` lets crawlers read the pages and names the sitemap, but keeps them away from
what costs the server a query per URL and never ends (``/sparql``, the query page and search
with parameters, the Graph Store) and from the dump files (a crawler does not need gigabytes;
the listings stay open).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request, stream_with_context, url_for

from cokg.describe import sparql_iri
from cokg.errors import NotFound
from cokg.namespaces import COP, COP_ONTOLOGY

from .dumps import EXTENSION, dump_service
from .resources import as_uri, data_url, page_url, path_of, resource_path
from .state import cokg_state

discovery = Blueprint("discovery", __name__)

URLS_PER_FILE = 50_000
"""URLs in one sitemap file (the sitemaps.org limit)."""

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML = "application/xml"
CACHE_CONTROL = "public, max-age=3600"


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
    space = cokg_state().base_iri + "id/"
    return (
        f'FILTER(isIRI(?s) && (STRSTARTS(STR(?s), "{_literal(space)}") '
        f'|| STRSTARTS(STR(?s), "{COP}") || ?s = {sparql_iri(COP_ONTOLOGY)}))'
    )


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def resource_count() -> int:
    """Return how many resources have a page of their own."""
    query = f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a ?type {_subjects_filter()} }}"
    rows = list(cokg_state().store.query(query))  # type: ignore[arg-type]
    return int(rows[0]["n"].value) if rows else 0


def resource_pages(offset: int, limit: int) -> Iterator[str]:
    """Yield the local page URLs of resources, in IRI order, from ``offset``."""
    if limit <= 0:
        return
    query = (
        f"SELECT DISTINCT ?s WHERE {{ ?s a ?type {_subjects_filter()} }} "
        f"ORDER BY ?s OFFSET {offset} LIMIT {limit}"
    )
    for row in cokg_state().store.query(query):  # type: ignore[union-attr]
        path = path_of(row["s"].value)
        if path is not None:
            yield page_url(path)


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
