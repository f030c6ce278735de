"""``/rdf-graph-store``: the SPARQL 1.1 Graph Store HTTP Protocol over the app's store.

A graph is named indirectly (``?graph=IRI``, or ``?default`` for the store's own default
graph) or directly: ``/rdf-graph-store/{path}`` is the graph ``{base}rdf-graph-store/{path}``
(the server's paths map onto the base IRI). ``GET``/``HEAD`` answer the graph in Turtle,
N-Triples, RDF/XML or JSON-LD by ``Accept`` (404 for a missing graph); ``PUT`` replaces it,
``POST`` adds to it (also ``multipart/form-data``, one graph per part) and ``DELETE`` drops
it; ``POST`` to ``/rdf-graph-store`` itself creates a new graph and answers 201 with its IRI
in ``Location``. Bodies may be in any RDF format of :mod:`cokg.formats` (by
``Content-Type``), but hold one graph. Each write is one transaction, needs the write token
(:mod:`.auth`) and answers 201 when it created the graph, 204 otherwise.
"""

from __future__ import annotations

import re
import tempfile
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Literal

from flask import Blueprint, Response, current_app, request
from pyoxigraph import DefaultGraph, NamedNode, RdfFormat, Triple, parse, serialize
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.wsgi import wrap_file

from cokg.errors import ParseError, UnsupportedFormat
from cokg.formats import NTRIPLES, Format
from cokg.store import WritableStore, position_of

from .auth import writable_store
from .negotiation import GRAPH_FORMATS, format_parameter, negotiate, rdf_format_of_body
from .query_text import is_absolute_iri
from .results import check_well_formed
from .sparql import decode_pairs, decode_text
from .state import WriteEvent, cokg_state

gsp = Blueprint("gsp", __name__)

PATH = "rdf-graph-store"
_MEMORY = 8 << 20
"""Graphs up to this size (bytes) are buffered in memory before they are sent, larger on disk."""
_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")
_METHODS = ["GET", "PUT", "POST", "DELETE"]


@dataclass(frozen=True)
class Target:
    """What a request addresses: a named graph, the default graph, or the graph store."""

    kind: Literal["graph", "default", "store"]
    graph: str = ""


@gsp.route(f"/{PATH}", methods=_METHODS)
@gsp.route(f"/{PATH}/<path:name>", methods=_METHODS)
def graph_store(name: str | None = None) -> Response:
    """Answer one Graph Store Protocol request (see the module documentation)."""
    target = _target(name)
    if request.method in ("GET", "HEAD"):
        response = _read(target)
        response.vary.add("Accept")
        return response
    store = writable_store()
    if request.method == "DELETE":
        return _delete(store, target)
    if target.kind == "store":
        if request.method != "POST":
            raise BadRequest(f"name the graph to {request.method}: ?graph=IRI or ?default")
        return _create(store)
    triples = _body_triples(target)
    if target.kind == "default":
        return _write_default(store, triples, replace=request.method == "PUT")
    existed = store.has_graph(target.graph)
    if request.method == "PUT":
        store.replace_graph(target.graph, triples, NTRIPLES)
        operation: Literal["replace", "add"] = "replace"
    elif triples:
        store.add_to_graph(target.graph, triples, NTRIPLES)
        operation = "add"
    elif not existed:  # an empty body makes an empty graph, as an empty PUT does
        store.replace_graph(target.graph, triples, NTRIPLES)
        operation = "add"
    else:
        return no_content()  # nothing added to a graph that exists
    cokg_state().notify_write(WriteEvent(operation, (target.graph,)))
    return no_content() if existed else _created(target.graph)


def _target(name: str | None) -> Target:
    """Return what the request URL names; 400 for a malformed or doubly named graph."""
    params = decode_pairs(request.query_string, "the query string of the URL")
    graphs = [value for key, value in params if key == "graph"]
    default = any(key == "default" for key, _ in params)
    if name is not None:
        if graphs or default:
            raise BadRequest("a graph is named by the URL path or by ?graph= / ?default, not both")
        _check_path_is_utf8()
        path = urllib.parse.quote(request.path.lstrip("/"), safe="/:@!$&'()*+,;=~-._")
        graph = cokg_state().base_iri + path
        if not is_absolute_iri(graph):
            raise BadRequest(f"the path names no valid graph IRI: {graph!r}")
        return Target("graph", graph)
    if graphs and default:
        raise BadRequest("?graph= and ?default name two graphs; name one")
    if len(graphs) > 1:
        raise BadRequest("more than one ?graph= parameter; name one graph")
    if default:
        return Target("default")
    if graphs:
        if not is_absolute_iri(graphs[0]):
            raise BadRequest(f"?graph= must be an absolute IRI, not {graphs[0]!r}")
        return Target("graph", graphs[0])
    return Target("store")


def _check_path_is_utf8() -> None:
    """Raise 400 when the request's URL path has percent-encoded bytes that are not UTF-8.

    Werkzeug decodes them as U+FFFD: the graph would be another one than the client named.
    The raw path is in ``REQUEST_URI`` (waitress, werkzeug) or ``RAW_URI`` (gunicorn), else
    in ``PATH_INFO`` as the WSGI server received it.
    """
    environ = request.environ
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        path = urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(raw).path)
    else:
        path = str(environ.get("PATH_INFO", "")).encode("latin-1", errors="replace")
    decode_text(path, "the URL path")


def _read(target: Target) -> Response:
    """Answer GET/HEAD: the graph in the negotiated format (404 when it does not exist)."""
    if target.kind == "store":
        raise BadRequest(
            "name the graph to read: ?graph=IRI or ?default (the dumps hold the whole dataset)"
        )
    chosen = format_parameter(GRAPH_FORMATS, request.args.getlist("format"))
    fmt, media_type = (chosen, chosen.media_type) if chosen else negotiate(GRAPH_FORMATS)
    store = cokg_state().store
    # The whole graph is written before the status line: a read that fails is an error
    # status, never a 200 with a short body.
    buffer = tempfile.SpooledTemporaryFile(max_size=_MEMORY)  # noqa: SIM115 (see wrap_file)
    try:
        if target.kind == "default":
            store.dump_default_graph(buffer, fmt)
        else:
            store.dump(buffer, fmt, graph=target.graph)
    except BaseException:
        buffer.close()
        raise
    size = buffer.tell()
    buffer.seek(0)
    if fmt.name == "rdfxml":
        try:
            check_well_formed(
                iter(lambda: buffer.read(1 << 20), b""), "the graph holds a literal or a predicate"
            )
        except BaseException:
            buffer.close()
            raise
        buffer.seek(0)
    if size <= _MEMORY:
        with buffer:
            return Response(buffer.read(), mimetype=media_type)
    body = wrap_file(request.environ, buffer)  # the server closes it when the answer is sent
    response = Response(body, mimetype=media_type, direct_passthrough=True)
    response.content_length = size
    return response


def _delete(store: WritableStore, target: Target) -> Response:
    if target.kind == "store":
        raise BadRequest("name the graph to DELETE: ?graph=IRI or ?default")
    if target.kind == "default":
        store.update("DROP SILENT DEFAULT")
        cokg_state().notify_write(WriteEvent("delete", (None,)))
    else:
        store.delete_graph(target.graph)  # NotFound: 404
        cokg_state().notify_write(WriteEvent("delete", (target.graph,)))
    return no_content()


def _create(store: WritableStore) -> Response:
    """POST to the graph store itself: a new graph with a fresh IRI (201, ``Location``)."""
    graph = f"{cokg_state().base_iri}{PATH}/{uuid.uuid4().hex}"
    triples = _body_triples(Target("graph", graph))
    store.replace_graph(graph, triples, NTRIPLES)
    cokg_state().notify_write(WriteEvent("replace", (graph,)))
    return _created(graph)


def no_content() -> Response:
    """Return an empty 204 answer (without the default HTML content type)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def _created(graph: str) -> Response:
    response = Response(f"created the graph <{graph}>\n", status=201, mimetype="text/plain")
    response.headers["Location"] = graph
    return response


def _write_default(store: WritableStore, triples: bytes, *, replace: bool) -> Response:
    """PUT or POST to the default graph, as one SPARQL Update (one transaction)."""
    operations = ["DROP SILENT DEFAULT"] if replace else []
    if triples:
        operations.append("INSERT DATA {\n" + triples.decode("utf-8") + "}")
    if operations:
        store.update(" ;\n".join(operations))
        cokg_state().notify_write(WriteEvent("replace" if replace else "add", (None,)))
    return no_content()


def _body_triples(target: Target) -> bytes:
    """Return the request body's graph as N-Triples (blank nodes renamed apart).

    Raises 415 for a missing or unknown media type, 400 for a body that is not UTF-8 text,
    does not parse, or names graphs of its own.
    """
    base_iri = target.graph or cokg_state().base_iri
    if request.mimetype == "multipart/form-data":
        if request.method != "POST":
            raise UnsupportedFormat("multipart/form-data bodies are for POST only")
        if request.form:
            raise UnsupportedFormat(
                "every part of a multipart body must be a file part with its own Content-Type"
            )
        parts = [
            (rdf_format_of_body(part.mimetype), part.read(), part.filename or key)
            for key, part in request.files.items(multi=True)
        ]
        for _, _, part_name in parts:
            if part_name is None:
                raise UnsupportedFormat("every part of a multipart body must be named")
    else:
        fmt = rdf_format_of_body(request.mimetype)
        _check_charset(request.mimetype_params.get("charset"))
        parts = [(fmt, request.get_data(), "the request body")]
    triples: list[Triple] = []
    for fmt, data, source in parts:
        triples.extend(_parse_graph(data, fmt, base_iri=base_iri, source=source or "a part"))
    return serialize(triples, format=RdfFormat.N_TRIPLES) or b""


class EntitiesTooLarge(HTTPException):
    """413: an RDF/XML body whose entities expand past the request size limit."""

    code = 413


_ENTITY = re.compile(rb'<!ENTITY\s+([^\s%"]+)\s+"([^"]*)"\s*>')
_REFERENCE = re.compile(rb"&([^\s&;#]+);")


def _check_entities(data: bytes, source: str) -> None:
    """Refuse RDF/XML whose entities would expand the body past the request size limit.

    The parser expands the entities of the document's DTD: ``<!ENTITY b "&a;&a;…">`` nine
    levels deep turns a 1 KB body into gigabytes ("billion laughs"), and a large entity
    referred to many times does as much. Entities whose values refer to other entities are
    refused (plain ones, such as ``<!ENTITY xsd "http://…#">``, are what tools write), and
    so is a body whose references would expand past ``MAX_CONTENT_LENGTH``. Raises 400, or
    413 :class:`EntitiesTooLarge`.
    """
    declared = {match.group(1): match.group(2) for match in _ENTITY.finditer(data)}
    if not declared:
        return
    for name, value in declared.items():
        if any(ref.group(1) in declared for ref in _REFERENCE.finditer(value)):
            raise BadRequest(
                f"{source} declares the entity {name.decode(errors='replace')!r} in terms of "
                "other entities; entities that refer to entities are not accepted (they can "
                "expand without bound)"
            )
    expanded = len(data) + sum(
        len(declared.get(ref.group(1), b"")) for ref in _REFERENCE.finditer(data)
    )
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
    if expanded > limit:
        raise EntitiesTooLarge(
            f"{source} expands its entities to {expanded} bytes; this server accepts at "
            f"most {limit}"
        )


def _check_charset(charset: str | None) -> None:
    if charset and charset.lower() not in _UTF8:
        raise BadRequest(f"the request body must be UTF-8, not {charset}")


def _parse_graph(data: bytes, fmt: Format, *, base_iri: str, source: str) -> list[Triple]:
    if fmt.name != "rdfxml":  # a text format (RDF/XML declares its own encoding)
        decode_text(data, source)
    else:
        _check_entities(data, source)
    triples = []
    try:
        for quad in parse(data, fmt.oxigraph, base_iri=base_iri, rename_blank_nodes=True):
            if not isinstance(quad.graph_name, DefaultGraph):
                name = (
                    quad.graph_name.value
                    if isinstance(quad.graph_name, NamedNode)
                    else str(quad.graph_name)
                )
                raise BadRequest(
                    f"{source} names a graph of its own ({name}); a Graph Store body is "
                    "one graph: send the triples only"
                )
            if isinstance(quad.object, Triple):
                raise BadRequest(
                    f"{source} holds RDF 1.2 triple terms or reifiers (<<( … )>>, << … >>, "
                    "{| … |}, ~): the knowledge graph's dumps and documents do not carry them"
                )
            triples.append(quad.triple)
    except SyntaxError as error:
        line, column = position_of(str(error))
        raise ParseError(str(error), source=source, line=line, column=column) from error
    except ValueError as error:
        raise ParseError(str(error), source=source) from error
    return triples
