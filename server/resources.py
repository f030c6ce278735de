"""Every IRI of the knowledge base dereferences: ``/id/…`` answers 303, ``/data/…`` negotiates.

The URL space (DESIGN.md §3), for a resource path ``R`` such as ``person/oliver-escobar``,
``concept/keywords/resilience``, ``ontology``, ``ontology/Stage`` or ``dataset``:

- ``/id/R`` (and ``/ontology…``, ``/dataset``): **303 See Other** to ``/page/R`` for browsers,
  to ``/data/R.ttl`` (or the format asked for) for RDF clients; ``Vary: Accept``;
- ``/data/R``: the description in the negotiated format, with ``Content-Location`` naming the
  fixed file; ``/data/R.ttl|.jsonld|.rdf|.nt|.trig|.nq`` are fixed; ``?format=`` overrides;
- ``/page/R``: the HTML page (:mod:`.pages`);
- any other IRI the store describes (a document whose IRI is its DOI): ``/describe?uri=IRI``
  (303 like ``/id/R``), ``/data?uri=IRI`` (negotiated), ``/data.ttl?uri=IRI`` (fixed) and
  ``/page?uri=IRI``; 404 unless the store has a triple about it, 400 for no IRI. The IRI is
  never fetched and never redirected to: every ``Location`` is a URL of this server.

The server maps its own paths onto the configured base IRI: local ``/id/person/x`` is
``{base}id/person/x``; the ontology's IRIs stay ``https://w3id.org/coprod/ontology…`` whatever
the base. IRIs with characters a URL must escape (``%23``, ``%3F``, spaces, non-ASCII) round-trip:
the path Flask decodes is escaped again where an IRI cannot hold the character.

Every answer carries typed ``Link: rel="alternate"`` headers, ``rel="license"`` and
``rel="describedby"``; data and pages a strong ``ETag`` and ``Last-Modified`` (when the store
was last written, as every process serving it sees it: :func:`last_change`) and 304 on a
conditional request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from pyoxigraph import NamedNode, Quad, Triple, serialize
from werkzeug.exceptions import BadRequest, NotAcceptable, PreconditionFailed
from werkzeug.http import http_date, parse_date, parse_etags

from cokg.describe import (
    CONTEXT,
    LICENSE,
    describe,
    document_metadata,
    fingerprint,
    label_of,
    mentioned,
    prefixes_for,
    sparql_iri,
    to_jsonld,
)
from cokg.errors import NotFound
from cokg.formats import JSONLD, RDF_FORMATS, RDFXML, TURTLE, Format
from cokg.namespaces import COP, COP_ONTOLOGY
from cokg.store import OxigraphStore, ReadableStore

from .negotiation import HTML, choose, format_parameter, not_acceptable, offers
from .results import check_well_formed
from .state import WriteEvent, cokg_state

resources = Blueprint("resources", __name__)

XHTML = "application/xhtml+xml"
CACHE_CONTROL = "public, max-age=300"
SETTLE = 1.0
"""Seconds the store must have been still before a page or data carries ``Last-Modified``."""
_MEMORY_WRITES: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()


class _Unset:
    pass


_UNSET = _Unset()
_STARTED = datetime.now(UTC).replace(microsecond=0)
# Characters an IRI cannot hold: Flask hands them over decoded, they are escaped again.
_NOT_IN_IRI = {c: f"%{ord(c):02X}" for c in '%#? "<>\\^`{|}\x7f'} | {
    chr(i): f"%{i:02X}" for i in range(0x20)
}


@resources.record_once
def _track_changes(setup: BlueprintSetupState) -> None:
    """Keep the write time of an in-memory store, which every app holding it reads.

    An on-disk store needs nothing: its files say when it was written (:func:`last_change`).
    """
    state = setup.app.extensions.get("cokg")
    if state is None:
        return
    store = state.store
    try:
        # The store was filled before any app held it, and no client saw it before that.
        _MEMORY_WRITES.setdefault(store, time.time() - SETTLE)
    except TypeError:  # a store that cannot be weakly referenced: no Last-Modified
        return

    def changed(_event: WriteEvent) -> None:
        _MEMORY_WRITES[store] = time.time()

    state.on_write.insert(0, changed)  # first: before slower subscribers (the search index)


def last_change() -> datetime | None:
    """Return when the store was last written, as every process serving it sees it, or None.

    - an on-disk store (the embedded :class:`~cokg.store.OxigraphStore` at a path, or the
      folder of the ``oxigraph serve`` child that ``cokg serve`` supervises, the app setting
      ``STORE_LOCATION``): the newest modification time of its files. RocksDB appends every
      committed write to its log file (and a bulk load adds table files) before the write is
      visible, so this covers every writer — this server, other processes, ``cokg load``
      before a restart — with no bookkeeping in the knowledge base;
    - an in-memory store: the last write through any app that holds it (one process only);
    - a SPARQL endpoint that other processes may write: None — nothing every process sees
      tells when it changed, so data and pages carry no ``Last-Modified`` and a conditional
      request is answered by ``ETag`` alone.

    Read it *before* reading the data: a write that lands in between then makes the date
    older than the data, never newer.
    """
    store = cokg_state().store
    folder = store_folder(current_app, store)
    if folder is None:
        if isinstance(store, OxigraphStore) and store.path is None:
            written = _MEMORY_WRITES.get(store)
            return None if written is None else datetime.fromtimestamp(written, UTC)
        return None
    return newest_file(folder)


def store_folder(app: App, store: ReadableStore) -> Path | None:
    """Return the folder holding the store's files, which every process writing it changes
    (the app's ``STORE_LOCATION``: the folder of the ``oxigraph serve`` child; or an on-disk
    :class:`~cokg.store.OxigraphStore`'s path), or None (in memory, a SPARQL endpoint)."""
    location = app.config.get("STORE_LOCATION")
    if location is None and isinstance(store, OxigraphStore):
        location = store.path
    return None if location is None else Path(location)


def newest_file(folder: Path) -> datetime | None:
    """Return the newest modification time of ``folder`` and its files (RocksDB's info log
    ``LOG*``, rewritten without any write, does not count).

    RocksDB's table files (``*.sst``, most of a large store's files) are not read: one is never
    changed once written, and becomes part of the store only when the ``MANIFEST`` (a file read
    here) records it, after it was written; a new one, or one linked in by a bulk load, changes
    the folder's time too.
    """
    try:
        newest = folder.stat().st_mtime
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(("LOG", "LOCK")) or name.endswith(".sst"):
                    continue
                if not entry.is_file():
                    continue
                newest = max(newest, entry.stat().st_mtime)
    except OSError:
        return None
    return datetime.fromtimestamp(newest, UTC)


# -- the URL space ---------------------------------------------------------------------------


def resource_path(decoded: str) -> str:
    """Return the resource path of a decoded URL path, escaped again where an IRI must be.

    Characters no IRI path holds (RFC 3987 ``ucschar`` leaves out private-use characters,
    non-characters and U+FFFD, which stands for bytes of a URL that were not UTF-8) are
    percent-encoded as UTF-8, as RFC 3987 §3.1 maps them to a URI.

    >>> resource_path("document/a#b c")
    'document/a%23b%20c'
    >>> resource_path("person/josé")
    'person/josé'
    >>> resource_path("person/\ufffd")
    'person/%EF%BF%BD'
    """
    return "".join(_NOT_IN_IRI.get(c, c) if _in_ucschar(c) else quote(c) for c in decoded)


def _in_ucschar(character: str) -> bool:
    """Tell whether ``character`` is ASCII or an RFC 3987 ``ucschar`` (allowed in IRI paths)."""
    code = ord(character)
    if code < 0x80:
        return True
    if code < 0xA0 or 0xD800 <= code <= 0xF8FF or 0xFDD0 <= code <= 0xFDEF:
        return False
    if code >= 0xE0000:
        return 0xE1000 <= code <= 0xEFFFD
    return (code & 0xFFFF) < 0xFFFE and not 0xFFF0 <= code <= 0xFFFF


def requested_path(rest: str, prefix: str, suffix: str = "") -> str:
    """Return the resource path a request for ``{prefix}{rest}{suffix}`` names (``rest``
    decoded; ``suffix`` a file extension of ``/data/``).

    Usually :func:`resource_path` of ``rest``. But an IRI written by a client may hold
    percent-encoded octets itself (``…/id/person/caf%C3%A9``, ``…/x%2Fy``): its link, the
    IRI's path as it is, reaches the server decoded (``café``, ``x/y``), the path of another
    IRI. When that other IRI is unknown to the store and the URL as sent (``REQUEST_URI``)
    spells the path otherwise, the IRI of the path as sent is taken if the store knows it.
    """
    path = resource_path(rest)
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if not raw:
        return path
    sent = urlsplit(raw).path
    start = request.script_root + prefix
    if not sent.startswith(start):
        return path
    if not sent.endswith(suffix):
        return path
    sent = sent[len(start) : len(sent) - len(suffix)]
    if sent == path or not _IRI_PATH.fullmatch(sent):
        return path
    store = cokg_state().store
    if mentioned(store, iri_of(path)) or not mentioned(store, iri_of(sent)):
        return path
    return sent


_IRI_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]+")
"""What an IRI's path may hold in ASCII (RFC 3987), ``%`` escapes included."""


def iri_of(path: str) -> str:
    """Return the IRI of the resource at resource path ``path`` (see the module docstring)."""
    if path == "ontology":
        return COP_ONTOLOGY
    if path.startswith("ontology/"):
        return COP + path[len("ontology/") :]
    if path == "dataset":
        return cokg_state().base_iri + "dataset"
    return cokg_state().base_iri + "id/" + path


def path_of(iri: str, base_iri: str | None = None) -> str | None:
    """Return the resource path of ``iri``, or None when this server does not serve it.

    ``base_iri`` is the app's base IRI, read from the app when not given.
    """
    base = cokg_state().base_iri if base_iri is None else base_iri
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
    return quote(reference, safe=_PRINTABLE_ASCII)


_PRINTABLE_ASCII = "".join(chr(i) for i in range(0x21, 0x7F))


def link_header(path: str) -> str:
    """Return the ``Link`` header of every answer about ``path``."""
    return Resource.local(path).link_header()


def uri_query(iri: str) -> str:
    """Return the query string that names ``iri`` to this server: ``uri=…``, escaped.

    ``:`` and ``/`` stay readable; everything a query string cannot hold as data (``&``,
    ``+``, ``#``, ``%``, ``=``, spaces…) is percent-encoded, non-ASCII as UTF-8, so the IRI
    comes back exactly.

    >>> uri_query("https://doi.org/10.1000/a&b+c#d%3C")
    'uri=https://doi.org/10.1000/a%26b%2Bc%23d%253C'
    """
    return "uri=" + quote(iri, safe=":/")


@dataclass(frozen=True)
class Resource:
    """A resource this server has a page and data for, and the URLs they live at.

    The server's own IRIs have a resource ``path`` (``/page/{path}``, ``/data/{path}.ttl``);
    any other IRI the store describes (a document whose IRI is its DOI, say) is named by a
    query string instead (``/page?uri=…``, ``/data.ttl?uri=…``), the way LodView and Skosmos
    show the external IRIs they hold.
    """

    iri: str
    path: str | None = None

    @classmethod
    def local(cls, path: str) -> Resource:
        """Return the resource at the server's resource path ``path``."""
        return cls(iri_of(path), path)

    @classmethod
    def of(cls, iri: str) -> Resource:
        """Return the resource ``iri``, with its path when the server mints it."""
        return cls(iri, path_of(iri))

    def page_url(self) -> str:
        """Return the local URL of the HTML page (an IRI reference)."""
        if self.path is not None:
            return page_url(self.path)
        return f"{request.script_root}/page?{uri_query(self.iri)}"

    def data_url(self, fmt: Format | None = None) -> str:
        """Return the local URL of the data (negotiated, or fixed to ``fmt``)."""
        if self.path is not None:
            return data_url(self.path, fmt)
        extension = f".{fmt.extension}" if fmt else ""
        return f"{request.script_root}/data{extension}?{uri_query(self.iri)}"

    def document_iri(self) -> str:
        """Return the IRI of the data document about the resource, under the base IRI."""
        if self.path is not None:
            return document_iri(self.path)
        return cokg_state().base_iri + "data?" + uri_query(self.iri)

    def link_header(self) -> str:
        """Return the ``Link`` header of every answer about the resource."""
        links = [
            f'<{as_uri(self.data_url(fmt))}>; rel="alternate"; type="{fmt.media_type}"'
            for fmt in RDF_FORMATS
        ]
        links.append(f'<{as_uri(self.page_url())}>; rel="alternate"; type="{HTML}"')
        links.append(f'<{LICENSE}>; rel="license"')
        links.append(f'<{as_uri(self.data_url())}>; rel="describedby"')
        return ", ".join(links)


def uri_parameter() -> str:
    """Return the IRI the request names with ``?uri=``; 400 when it is missing or no IRI."""
    values = request.args.getlist("uri")
    if len(values) != 1 or not values[0]:
        raise BadRequest(
            "name the resource with one ?uri= parameter, e.g. ?uri=https://doi.org/10.…"
        )
    iri = values[0]
    try:
        NamedNode(iri)
    except ValueError as error:
        raise BadRequest(f"?uri= is not an absolute IRI: {error}") from None
    return iri


# -- routes ----------------------------------------------------------------------------------


@resources.get("/id/<path:rest>")
def thing(rest: str) -> Response:
    """Answer 303 See Other to the page or the data about ``/id/rest``."""
    return see_other(requested_path(rest, "/id/"))


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
    tag = hashlib.sha256(body).hexdigest()[:40]
    response.set_etag(tag)
    response.last_modified = _STARTED
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.make_conditional(conditional_environ(tag, _STARTED))
    return response


def see_other(path: str) -> Response:
    """Return the 303 to the page (browsers) or data (RDF clients) about ``path``."""
    return _see_other(Resource.local(path))


@resources.get("/describe")
def describe_iri() -> Response:
    """Answer 303 See Other to the page or the data about any IRI the store describes.

    ``/describe?uri=https://doi.org/10.…`` leads to ``/page?uri=…`` or ``/data.ttl?uri=…``;
    an IRI this server mints leads to its own ``/page/…`` or ``/data/….ttl``. The answer is
    always a local URL: the IRI is never fetched, nor redirected to.
    """
    return _see_other(Resource.of(uri_parameter()))


def _see_other(resource: Resource) -> Response:
    fmt = requested_format(allow_html=True)
    if fmt is None:
        offered = [*offers(RDF_FORMATS), HTML, XHTML]
        chosen = choose(offered)
        if chosen is None:
            raise not_acceptable(offered)
        fmt = "html" if chosen in (HTML, XHTML) else _format_of_media_type(chosen)
    if not known(resource):
        raise NotFound(f"nothing is known about <{resource.iri}>")
    target = resource.data_url(fmt) if isinstance(fmt, Format) else resource.page_url()
    response = Response(f"303 See Other: {as_uri(target)}\n", 303, mimetype="text/plain")
    response.headers["Location"] = as_uri(target)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = resource.link_header()
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def known(resource: Resource) -> bool:
    """Tell whether the server has a page about ``resource``.

    An IRI the server mints has one when the store mentions it (a resource only linked to
    still has its backlinks); any other IRI only when the store describes it (it is the
    subject of a triple): an ORCID or ROR IRI that is only the object of ``owl:sameAs`` has
    no page here, its link leads out.
    """
    store = cokg_state().store
    if resource.path is not None:
        return resource.path == "dataset" or mentioned(store, resource.iri)
    return described(store, resource.iri)


def described(store: ReadableStore, iri: str) -> bool:
    """Tell whether the store has a triple with ``iri`` as its subject."""
    return bool(store.query(f"ASK {{ {sparql_iri(iri)} ?p ?o }}"))


@resources.get("/data/<path:rest>")
def data(rest: str) -> Response:
    """Answer with the description of a resource in the fixed or negotiated format."""
    decoded = resource_path(rest)
    fixed = _fixed_format(decoded)
    if fixed is not None:
        fmt, path = fixed
        extension = decoded[len(path) :]  # ASCII: rest ends with it too
        path = requested_path(rest[: -len(extension)], "/data/", extension)
        return _data(Resource.local(path), _format_for(fmt), None)
    return _data(Resource.local(requested_path(rest, "/data/")), _format_for(None), rest)


@resources.get("/data")
@resources.get("/data.<extension>")
def data_about_iri(extension: str | None = None) -> Response:
    """Answer with the description of any IRI the store describes, named by ``?uri=``.

    ``/data?uri=…`` negotiates; ``/data.ttl?uri=…`` (and the other extensions) is fixed. An
    IRI this server mints answers 303 to its own ``/data/…`` URL.
    """
    fixed = None
    if extension is not None:
        fixed = _format_of_extension(extension)
        if fixed is None:
            return unknown_extension(extension)
    resource = Resource.of(uri_parameter())
    chosen = _format_for(fixed)
    if resource.path is not None:
        target = as_uri(resource.data_url(fixed))
        response = Response(f"303 See Other: {target}\n", 303, mimetype="text/plain")
        response.headers["Location"] = target
        return response
    return _data(resource, chosen, None)


def _format_for(fixed: Format | None) -> tuple[Format, bool]:
    """Return the format of the answer and whether it was negotiated (``Vary: Accept``)."""
    parameter = requested_format(allow_html=False)
    if fixed is not None:
        if parameter is not None and parameter is not fixed:
            raise NotAcceptable(
                f"the URL fixes the format {fixed.label}; drop ?format= or the extension"
            )
        return fixed, False
    if parameter is not None:
        return (parameter if isinstance(parameter, Format) else TURTLE), False
    offered = offers(RDF_FORMATS)
    chosen = choose(offered)
    if chosen is None:
        raise not_acceptable(offered)
    return _format_of_media_type(chosen), True


def _data(resource: Resource, chosen: tuple[Format, bool], rest: str | None) -> Response:
    fmt, negotiated = chosen
    changed = last_change()
    triples = description(resource)
    if triples is None:
        last = (rest or "").rsplit("/", 1)[-1]
        if rest is not None and "." in last:
            return unknown_extension(last.rsplit(".", 1)[1])
        raise NotFound(f"nothing is known about <{resource.iri}>")
    body = serialise(triples, fmt, document=resource.document_iri(), about=resource.iri)
    response = Response(body, 200, mimetype=fmt.media_type)
    if fmt.media_type.startswith("text/") or fmt in (JSONLD,):
        response.mimetype_params["charset"] = "utf-8"
    response.headers["Content-Location"] = as_uri(resource.data_url(fmt))
    if negotiated:
        response.headers["Vary"] = "Accept"
    response.headers["Link"] = resource.link_header()
    tag = hashlib.sha256(f"{fingerprint(triples)} {fmt.name} {_context_url()}".encode()).hexdigest()
    return conditional(response, tag[:40], changed=changed)


def conditional(
    response: Response, tag: str, *, changed: datetime | _Unset | None = _UNSET
) -> Response:
    """Add the strong ``ETag``, ``Last-Modified`` and caching headers; answer 304 when fresh.

    ``changed`` is :func:`last_change` as read before the data (read now when not given).
    ``Last-Modified`` is sent only once the store has been still for :data:`SETTLE`: a client
    holding a date then saw every write up to it, and any later write has a later second, so
    ``If-Modified-Since`` never answers 304 for a description that changed since — from any
    process. ``If-None-Match``, when sent, decides alone (RFC 9110 §13.1.3).
    """
    if isinstance(changed, _Unset):
        changed = last_change()
    response.set_etag(tag)
    if changed is not None and datetime.now(UTC) - changed >= timedelta(seconds=SETTLE):
        response.last_modified = changed.replace(microsecond=0)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.make_conditional(conditional_environ(tag, response.last_modified))
    return response


def conditional_environ(tag: str, modified: datetime | None = None) -> dict[str, Any]:
    """Return the request's WSGI environment for werkzeug's conditional answer, with
    ``If-Match`` and ``If-Unmodified-Since`` done (werkzeug gets neither).

    RFC 9110 §13.1.1: ``If-Match: *`` holds for any current representation and a list holds
    when one of its entity tags strongly matches ``tag`` (werkzeug answers 412 to ``*`` and
    sends the representation as the body of its 412). §13.1.4: without ``If-Match``, a valid
    ``If-Unmodified-Since`` date earlier than ``modified`` fails (werkzeug ignores it). A
    failed precondition is a 412 error: raises
    :class:`~werkzeug.exceptions.PreconditionFailed`.
    """
    environ = dict(request.environ)
    if_match = environ.pop("HTTP_IF_MATCH", None)
    if_unmodified_since = environ.pop("HTTP_IF_UNMODIFIED_SINCE", None)
    if if_match is not None:
        tags = parse_etags(if_match)
        if not (tags.star_tag or tags.is_strong(tag)):
            raise PreconditionFailed(
                f'If-Match names no current version of this resource (its ETag is "{tag}")'
            )
    elif modified is not None:
        since = parse_date(if_unmodified_since)
        if since is not None and modified.replace(microsecond=0) > since:
            raise PreconditionFailed(
                "the resource changed after the If-Unmodified-Since date (Last-Modified: "
                f"{http_date(modified)})"
            )
    return environ


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


def description(resource: Resource) -> list[Triple] | None:
    """Return what the data document about ``resource`` holds, or None when it has none."""
    if resource.path == "dataset":
        from .dataset import dataset_triples  # it builds on this module's helpers

        return dataset_triples()
    store = cokg_state().store
    iri = resource.iri
    triples = describe(store, iri)
    if not triples and (resource.path is None or not mentioned(store, iri)):
        return None
    label = label_of(iri, triples)
    dataset_iri = cokg_state().base_iri + "dataset"
    return triples + document_metadata(
        iri, document=resource.document_iri(), dataset=dataset_iri, title=label
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
    body = serialize(triples, format=fmt.oxigraph, prefixes=_prefixes(fmt, triples)) or b""
    if fmt is RDFXML:
        check_well_formed([body], "the description holds a literal or a predicate")
    return body


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


def _format_of_extension(extension: str) -> Format | None:
    for fmt in RDF_FORMATS:
        if extension in fmt.extensions:
            return fmt
    return None


def _format_of_media_type(media_type: str) -> Format:
    return RDF_FORMATS.by_media_type(media_type)


def _context_url() -> str:
    return url_for("resources.context", _external=True)
