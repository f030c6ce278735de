"""Every IRI of the knowledge base dereferences: ``/id/…`` answers 303, ``/data/…`` negotiates.

The URL space (DESIGN.md §3), for a resource path ``R`` such as ``person/oliver-escobar``,
``concept/keywords/resilience``, ``ontology``, ``ontology/Stage`` or ``dataset``:

- ``/id/R`` (and ``/ontology…``, ``/dataset``): **303 See Other** to ``/page/R`` for browsers,
  to ``/data/R.ttl`` (or the format asked for) for RDF clients; ``Vary: Accept``;
- ``/data/R``: the description in the negotiated format, with ``Content-Location`` naming the
  fixed file; ``/data/R.ttl|.jsonld|.rdf|.nt|.trig|.nq`` are fixed; ``?format=`` overrides;
- ``/page/R``: the HTML page (:mod:`.pages`).

The server maps its own paths onto the configured base IRI: local ``/id/person/x`` is
``{base}id/person/x``; the ontology's IRIs stay ``https://w3id.org/coprod/ontology…`` whatever
the base. IRIs with characters a URL must escape (``%23``, ``%3F``, spaces, non-ASCII) round-trip:
the path Flask decodes is escaped again where an IRI cannot hold the character.

Every answer carries typed ``Link: rel="alternate"`` headers, ``rel="license"`` and
``rel="describedby"``; data and pages a strong ``ETag`` and ``Last-Modified`` (the time of the
last write to the store) and 304 on a conditional request.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from pyoxigraph import NamedNode, Quad, Triple, serialize
from werkzeug.exceptions import NotAcceptable

from cokg.describe import (
    CONTEXT,
    LICENSE,
    describe,
    document_metadata,
    fingerprint,
    label_of,
    mentioned,
    prefixes_for,
    to_jsonld,
)
from cokg.errors import NotFound
from cokg.formats import JSONLD, RDF_FORMATS, TURTLE, Format
from cokg.namespaces import COP, COP_ONTOLOGY

from .negotiation import HTML, choose, format_parameter, not_acceptable, offers
from .state import WriteEvent, cokg_state

resources = Blueprint("resources", __name__)

XHTML = "application/xhtml+xml"
CACHE_CONTROL = "public, max-age=300"
_CHANGED = "cokg.resources.changed"
_STARTED = datetime.now(UTC).replace(microsecond=0)
# Characters an IRI cannot hold: Flask hands them over decoded, they are escaped again.
_NOT_IN_IRI = {c: f"%{ord(c):02X}" for c in '%#? "<>\\^`{|}\x7f'} | {
    chr(i): f"%{i:02X}" for i in range(0x20)
}


@resources.record_once
def _track_changes(setup: BlueprintSetupState) -> None:
    """Remember when the store last changed: that is every resource's ``Last-Modified``."""
    app = setup.app
    app.extensions[_CHANGED] = _now()

    def changed(_event: WriteEvent) -> None:
        app.extensions[_CHANGED] = _now()

    state = app.extensions.get("cokg")
    if state is not None:
        state.on_write.append(changed)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# -- the URL space ---------------------------------------------------------------------------


def resource_path(decoded: str) -> str:
    """Return the resource path of a decoded URL path, escaped again where an IRI must be.

    >>> resource_path("document/a#b c")
    'document/a%23b%20c'
    >>> resource_path("person/josé")
    'person/josé'
    """
    return "".join(_NOT_IN_IRI.get(c, c) for c in decoded)


def iri_of(path: str) -> str:
    """Return the IRI of the resource at resource path ``path`` (see the module docstring)."""
    if path == "ontology":
        return COP_ONTOLOGY
    if path.startswith("ontology/"):
        return COP + path[len("ontology/") :]
    if path == "dataset":
        return cokg_state().base_iri + "dataset"
    return cokg_state().base_iri + "id/" + path


def path_of(iri: str) -> str | None:
    """Return the resource path of ``iri``, or None when this server does not serve it."""
    base = cokg_state().base_iri
    if iri == COP_ONTOLOGY:
        return "ontology"
    if iri.startswith(COP) and iri != COP:
        return "ontology/" + iri[len(COP) :]
    if iri == base + "dataset":
        return "dataset"
    if iri.startswith(base + "id/") and len(iri) > len(base) + 3:
        return iri[len(base) + 3 :]
    return None


def page_url(path: str) -> str:
    """Return the local URL of the HTML page of resource path ``path`` (an IRI reference)."""
    return f"{request.script_root}/page/{path}"


def data_url(path: str, fmt: Format | None = None) -> str:
    """Return the local URL of the data about ``path`` (negotiated, or fixed to ``fmt``)."""
    return f"{request.script_root}/data/{path}" + (f".{fmt.extension}" if fmt else "")


def document_iri(path: str) -> str:
    """Return the IRI of the data document about ``path``, under the base IRI."""
    return cokg_state().base_iri + "data/" + path


def as_uri(reference: str) -> str:
    """Return an IRI reference as a URI for a header (non-ASCII percent-encoded as UTF-8).

    >>> as_uri("/page/person/josé")
    '/page/person/jos%C3%A9'
    """
    return quote(reference, safe="".join(chr(i) for i in range(0x21, 0x7F)))


def link_header(path: str) -> str:
    """Return the ``Link`` header of every answer about ``path``."""
    links = [
        f'<{as_uri(data_url(path, fmt))}>; rel="alternate"; type="{fmt.media_type}"'
        for fmt in RDF_FORMATS
    ]
    links.append(f'<{as_uri(page_url(path))}>; rel="alternate"; type="{HTML}"')
    links.append(f'<{LICENSE}>; rel="license"')
    links.append(f'<{as_uri(data_url(path))}>; rel="describedby"')
    return ", ".join(links)


# -- routes ----------------------------------------------------------------------------------


@resources.get("/id/<path:rest>")
def thing(rest: str) -> Response:
    """Answer 303 See Other to the page or the data about ``/id/rest``."""
    return see_other(resource_path(rest))


@resources.get("/ontology")
@resources.get("/ontology/<path:rest>")
def ontology(rest: str | None = None) -> Response:
    """The ontology and its terms dereference like everything else."""
    return see_other("ontology" if rest is None else "ontology/" + resource_path(rest))


@resources.get("/dataset")
def dataset() -> Response:
    """The knowledge base as a dataset dereferences too."""
    return see_other("dataset")


@resources.get("/context.jsonld")
def context() -> Response:
    """Serve the JSON-LD ``@context`` the data documents refer to."""
    body = json.dumps(CONTEXT, ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, 200, mimetype=JSONLD.media_type)
    response.set_etag(hashlib.sha256(body).hexdigest()[:40])
    response.last_modified = _STARTED
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.make_conditional(request)
    return response


def see_other(path: str) -> Response:
    """Return the 303 to the page (browsers) or data (RDF clients) about ``path``."""
    iri = iri_of(path)
    fmt = requested_format(allow_html=True)
    if fmt is None:
        offered = [*offers(RDF_FORMATS), HTML, XHTML]
        chosen = choose(offered)
        if chosen is None:
            raise not_acceptable(offered)
        fmt = "html" if chosen in (HTML, XHTML) else _format_of_media_type(chosen)
    if not (path == "dataset" or mentioned(cokg_state().store, iri)):
        raise NotFound(f"nothing is known about <{iri}>")
    target = data_url(path, fmt) if isinstance(fmt, Format) else page_url(path)
    response = Response(f"303 See Other: {as_uri(target)}\n", 303, mimetype="text/plain")
    response.headers["Location"] = as_uri(target)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = link_header(path)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@resources.get("/data/<path:rest>")
def data(rest: str) -> Response:
    """Answer with the description of a resource in the fixed or negotiated format."""
    path = resource_path(rest)
    fixed = _fixed_format(path)
    parameter = requested_format(allow_html=False)
    negotiated = False
    if fixed is not None:
        fmt, path = fixed
        if parameter is not None and parameter is not fmt:
            raise NotAcceptable(
                f"the URL fixes the format {fmt.label}; drop ?format= or the extension"
            )
    elif parameter is not None:
        fmt = parameter if isinstance(parameter, Format) else TURTLE
    else:
        offered = offers(RDF_FORMATS)
        chosen = choose(offered)
        if chosen is None:
            raise not_acceptable(offered)
        fmt = _format_of_media_type(chosen)
        negotiated = True
    iri = iri_of(path)
    triples = description(path, iri)
    if triples is None:
        last = path.rsplit("/", 1)[-1]
        if "." in last:
            return unknown_extension(last.rsplit(".", 1)[1])
        raise NotFound(f"nothing is known about <{iri}>")
    body = serialise(triples, fmt, document=document_iri(path), about=iri)
    response = Response(body, 200, mimetype=fmt.media_type)
    if fmt.media_type.startswith("text/") or fmt in (JSONLD,):
        response.mimetype_params["charset"] = "utf-8"
    response.headers["Content-Location"] = as_uri(data_url(path, fmt))
    if negotiated:
        response.headers["Vary"] = "Accept"
    response.headers["Link"] = link_header(path)
    tag = hashlib.sha256(f"{fingerprint(triples)} {fmt.name} {_context_url()}".encode()).hexdigest()
    return conditional(response, tag[:40])


def conditional(response: Response, tag: str) -> Response:
    """Add the strong ``ETag``, ``Last-Modified`` and caching headers; answer 304 when fresh."""
    response.set_etag(tag)
    response.last_modified = current_app.extensions.get(_CHANGED) or _now()
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.make_conditional(request)
    return response


def unknown_extension(extension: str) -> Response:
    """Return the 404 for an extension no format has: plain text, never an HTML page."""
    known = ", ".join("." + fmt.extension for fmt in RDF_FORMATS)
    response = Response(
        f"404 Not Found: unknown file extension .{extension}; this server offers {known}\n",
        404,
        mimetype="text/plain",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def requested_format(*, allow_html: bool) -> Format | str | None:
    """Return the format ``?format=`` asks for ("html" for the page), or None without one."""
    values = request.args.getlist("format")
    if allow_html and any(v.strip().lower() in ("html", HTML, XHTML) for v in values):
        return "html"
    return format_parameter(RDF_FORMATS.formats, values)


def description(path: str, iri: str) -> list[Triple] | None:
    """Return what the data document about ``path`` holds, or None for an unknown resource."""
    store = cokg_state().store
    if path == "dataset":
        from .dataset import dataset_triples  # it builds on this module's helpers

        return dataset_triples()
    triples = describe(store, iri)
    if not triples and not mentioned(store, iri):
        return None
    label = label_of(iri, triples)
    dataset_iri = cokg_state().base_iri + "dataset"
    return triples + document_metadata(
        iri, document=document_iri(path), dataset=dataset_iri, title=label
    )


def serialise(triples: list[Triple], fmt: Format, *, document: str, about: str) -> bytes:
    """Return ``triples`` in ``fmt``; dataset formats put them in the graph ``document``.

    JSON-LD lists the node ``about`` first.
    """
    if fmt is JSONLD:
        return to_jsonld(triples, context_url=_context_url(), first=about)
    if fmt.dataset:
        graph = NamedNode(document)
        quads = [Quad(t.subject, t.predicate, t.object, graph) for t in triples]
        return serialize(quads, format=fmt.oxigraph, prefixes=_prefixes(fmt, triples)) or b""
    return serialize(triples, format=fmt.oxigraph, prefixes=_prefixes(fmt, triples)) or b""


def _prefixes(fmt: Format, triples: list[Triple]) -> dict[str, str] | None:
    """Return the prefixes ``triples`` use (for the formats that abbreviate IRIs)."""
    if fmt.name not in ("turtle", "trig", "rdfxml"):
        return None
    iris = {
        term.value
        for t in triples
        for term in (t.subject, t.predicate, t.object)
        if isinstance(term, NamedNode)
    }
    known = prefixes_for(cokg_state().base_iri)
    known.pop("kb", None)
    return {
        name: namespace
        for name, namespace in known.items()
        if any(iri.startswith(namespace) for iri in iris)
    }


def _fixed_format(path: str) -> tuple[Format, str] | None:
    for fmt in RDF_FORMATS:
        for extension in fmt.extensions:  # .json and .owl too, though the links name .jsonld, .rdf
            suffix = "." + extension
            if path.endswith(suffix) and len(path) > len(suffix):
                return fmt, path[: -len(suffix)]
    return None


def _format_of_media_type(media_type: str) -> Format:
    return RDF_FORMATS.by_media_type(media_type)


def _context_url() -> str:
    return url_for("resources.context", _external=True)
