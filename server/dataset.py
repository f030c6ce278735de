"""The knowledge base as a dataset: ``/.well-known/void`` and the dataset page ``/page/dataset``.

``/.well-known/void`` (the VoID discovery location) answers the VoID + DCAT description of
``{base}dataset`` (:mod:`cokg.void`) in the negotiated RDF format (Turtle by default;
``?format=`` overrides) and **303** to the dataset page for browsers. ``/data/dataset…`` serves
the same description (:func:`dataset_triples`, called by :mod:`.resources`), with the same
``ETag``, ``Last-Modified`` and ``Link`` headers as every data document.

``/page/dataset`` is the page a person reads: the licence, the SPARQL endpoint, the dumps with
their sizes and SHA-256 checksums, the statistics as tables and small SVG charts (entries per
year, top keywords), releases to cite, and a schema.org ``Dataset`` in JSON-LD for dataset
search engines. The figures are counted once per store version (:class:`cokg.void.StatisticsCache`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from pyoxigraph import Literal, NamedNode, Triple

from cokg.describe import LICENSE, compact_iri
from cokg.formats import JSONLD, RDF_FORMATS, Format
from cokg.namespaces import DCTERMS, FOAF, RDF, VOID
from cokg.void import (
    DESCRIPTION,
    TITLE,
    DatasetStatistics,
    Distribution,
    StatisticsCache,
    dataset_description,
    dataset_iri,
)

from .dumps import EXTENSION, ReleaseLink, current_dumps, human_size
from .dumps import current_releases as dump_releases
from .negotiation import HTML, choose, not_acceptable, offers
from .resources import (
    XHTML,
    as_uri,
    conditional,
    data_url,
    document_iri,
    link_header,
    page_url,
    requested_format,
    serialise,
)
from .state import cokg_state

dataset = Blueprint("dataset", __name__)

_STATISTICS = "cokg.void.statistics"
_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
LICENSE_NAME = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
STATISTICS_WAIT = 10.0
"""Seconds a request waits for a recount of the figures before it gets the previous ones (or
a 503 before the first count ends): at 100 000 entries a count takes about 45 s."""


def statistics() -> DatasetStatistics:
    """Return the figures of the served store, counted once per store version.

    Raises :class:`~cokg.void.StatisticsNotReady` (503) while the first count runs.
    """
    cache = current_app.extensions.get(_STATISTICS)
    if not isinstance(cache, StatisticsCache):
        state = cokg_state()
        cache = StatisticsCache(state.store, base_iri=state.base_iri)
        state.on_write.append(cache.invalidate)
        current_app.extensions[_STATISTICS] = cache
    return cache.get(wait=STATISTICS_WAIT)


def current_distributions() -> Sequence[Distribution]:
    """Return the dump files the server offers (:mod:`.dumps`; built first if need be)."""
    return current_dumps() if EXTENSION in current_app.extensions else []


def current_releases() -> list[ReleaseLink]:
    """Return the releases the server offers, newest first."""
    return dump_releases() if EXTENSION in current_app.extensions else []


def _root() -> str:
    return request.host_url.rstrip("/") + request.script_root


def dataset_triples(dumps: Sequence[Distribution] | None = None) -> list[Triple]:
    """Return the data document about the dataset: its description and the document's own."""
    state = cokg_state()
    iri = dataset_iri(state.base_iri)
    triples = dataset_description(
        state.store,
        base_iri=state.base_iri,
        distributions=current_distributions() if dumps is None else dumps,
        statistics=statistics(),
        sparql_endpoint=_root() + "/sparql",
        download_base=_root() + "/dumps/",
    )
    return triples + description_metadata(iri, document=document_iri("dataset"))


def description_metadata(iri: str, *, document: str) -> list[Triple]:
    """Return what the description document says about itself: a ``void:DatasetDescription``.

    (Not a plain ``foaf:Document``: the knowledge base's shapes read those as related
    publications.)
    """
    doc = NamedNode(document)
    title = Literal(
        f"Description of {TITLE.lower().removeprefix('the ')} (VoID and DCAT)", language="en"
    )
    return [
        Triple(doc, NamedNode(RDF + "type"), NamedNode(VOID + "DatasetDescription")),
        Triple(doc, NamedNode(FOAF + "primaryTopic"), NamedNode(iri)),
        Triple(doc, NamedNode(VOID + "inDataset"), NamedNode(iri)),  # as every data document
        Triple(doc, NamedNode(DCTERMS + "title"), title),
        Triple(doc, NamedNode(DCTERMS + "license"), NamedNode(LICENSE)),
    ]


@dataset.get("/.well-known/void")
def well_known_void() -> Response:
    """Answer the dataset description (VoID + DCAT) in the negotiated format; HTML: 303."""
    fmt = requested_format(allow_html=True)
    negotiated = fmt is None
    if fmt is None:
        offered = [*offers(RDF_FORMATS), HTML, XHTML]
        chosen = choose(offered)
        if chosen is None:
            raise not_acceptable(offered)
        fmt = "html" if chosen in (HTML, XHTML) else RDF_FORMATS.by_media_type(chosen)
    if not isinstance(fmt, Format):
        target = as_uri(page_url("dataset"))
        response = Response(f"303 See Other: {target}\n", 303, mimetype="text/plain")
        response.headers["Location"] = target
        response.headers["Vary"] = "Accept"
        response.headers["Link"] = link_header("dataset")
        return response
    state = cokg_state()
    iri = dataset_iri(state.base_iri)
    dumps = current_distributions()
    triples = dataset_triples(dumps)
    body = serialise(triples, fmt, document=document_iri("dataset"), about=iri)
    response = Response(body, 200, mimetype=fmt.media_type)
    if fmt.media_type.startswith("text/") or fmt is JSONLD:
        response.mimetype_params["charset"] = "utf-8"
    response.headers["Content-Location"] = as_uri(data_url("dataset", fmt))
    if negotiated:
        response.headers["Vary"] = "Accept"
    response.headers["Link"] = link_header("dataset")
    return _fresh_unless_building(
        conditional(response, hashlib.sha256(body).hexdigest()[:40]), dumps
    )


@dataset.get("/page/dataset")
def dataset_page() -> Response:
    """The dataset page: licence, endpoint, dumps, statistics, charts, releases to cite."""
    state = cokg_state()
    stats = statistics()
    dumps = list(current_distributions())
    releases = current_releases()
    iri = dataset_iri(state.base_iri)
    root = _root()
    context: dict[str, Any] = {
        "iri": iri,
        "title": TITLE,
        "description": DESCRIPTION,
        "license": LICENSE,
        "license_name": LICENSE_NAME,
        "endpoint": root + "/sparql",
        "uri_space": state.base_iri + "id/",
        "void_url": url_for("dataset.well_known_void"),
        "stats": stats,
        "dumps": [_dump_row(d) for d in dumps],
        "dumps_building": dumps_building(dumps),
        "releases": releases,
        "formats": [(fmt.label, data_url("dataset", fmt), fmt.media_type) for fmt in RDF_FORMATS],
        "year_chart": bar_chart([(c.iri, c.count) for c in stats.entries_per_year]),
        "keyword_chart": bar_chart(
            [(c.label or c.iri.rsplit("/", 1)[-1], c.count) for c in stats.top_keywords]
        ),
        "keyword_links": {c.label or c.iri: _local_page(c.iri) for c in stats.top_keywords},
        "linkset_rows": [
            (ls.title, ls.target, compact_iri(ls.predicate), ls.predicate, ls.triples)
            for ls in stats.linksets
        ],
        "class_rows": [(compact_iri(c.iri), c.iri, c.count) for c in stats.classes],
        "property_rows": [(compact_iri(p.iri), p.iri, p.count) for p in stats.properties],
        "schema_jsonld": schema_dataset_jsonld(iri, dumps, root=root),
    }
    body = render_template("dataset.html", nav="dataset", **context)
    response = Response(body, 200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Link"] = link_header("dataset")
    response = conditional(response, hashlib.sha256(body.encode("utf-8")).hexdigest()[:40])
    return _fresh_unless_building(response, dumps)


def dumps_building(dumps: Sequence[Distribution]) -> bool:
    """Tell whether the server offers dumps but none is ready (the first build is running)."""
    return not dumps and EXTENSION in current_app.extensions


def _fresh_unless_building(response: Response, dumps: Sequence[Distribution]) -> Response:
    """Keep caches from holding on to a description whose dumps are still being built."""
    if dumps_building(dumps):
        response.headers["Cache-Control"] = "no-cache"
    return response


def _local_page(iri: str) -> str | None:
    base = cokg_state().base_iri + "id/"
    return page_url(iri[len(base) :]) if iri.startswith(base) else None


def _dump_row(dump: Distribution) -> dict[str, Any]:
    return {
        "name": dump.name,
        "title": dump.title,
        "href": f"{request.script_root}/dumps/{dump.name}",
        "size": human_size(dump.byte_size),
        "bytes": dump.byte_size,
        "sha256": dump.sha256,
        "statements": dump.statements,
        "media_type": dump.media_type,
        "compressed": dump.compressed,
    }


def bar_chart(bars: Sequence[tuple[str, int]], *, width: int = 320) -> dict[str, Any]:
    """Return the geometry of a horizontal bar chart (drawn as inline SVG by the template).

    >>> chart = bar_chart([("2018", 3), ("2019", 1)])
    >>> [(b["label"], b["width"]) for b in chart["bars"]], chart["height"]
    ([('2018', 320), ('2019', 107)], 48)
    """
    top = max((count for _, count in bars), default=0)
    rows = []
    for index, (label, count) in enumerate(bars):
        rows.append(
            {
                "label": label,
                "count": count,
                "y": index * 24,
                "width": round(width * count / top) if top else 0,
            }
        )
    return {"bars": rows, "height": len(rows) * 24, "width": width}


def schema_dataset_jsonld(iri: str, dumps: Sequence[Distribution], *, root: str) -> str:
    """Return the schema.org ``Dataset`` of the knowledge base, safe inside ``<script>``."""
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": iri,
        "name": TITLE,
        "description": DESCRIPTION,
        "license": LICENSE,
        "url": root + "/page/dataset",
        "isAccessibleForFree": True,
        "creator": {"@type": "Organization", "name": "cokg contributors"},
        "keywords": ["co-production", "public services", "citizen participation"],
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "cokg", "url": root + "/"},
        "distribution": [
            {
                "@type": "DataDownload",
                "name": dump.title,
                "contentUrl": f"{root}/dumps/{dump.name}",
                "encodingFormat": "application/gzip" if dump.compressed else dump.media_type,
                "contentSize": str(dump.byte_size),
                "sha256": dump.sha256,
            }
            for dump in dumps
        ],
    }
    text = json.dumps(node, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = [
    "bar_chart",
    "current_distributions",
    "dataset",
    "dataset_triples",
    "schema_dataset_jsonld",
    "statistics",
]
