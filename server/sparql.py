"""``/sparql``: the SPARQL 1.1 Protocol over the app's store — query, update, description.

- **Query**: ``GET ?query=``, ``POST`` form (``application/x-www-form-urlencoded``) or
  ``POST`` ``application/sparql-query``; ``default-graph-uri`` / ``named-graph-uri`` give the
  dataset. SELECT and ASK answer in SPARQL JSON, XML, CSV or TSV, CONSTRUCT and DESCRIBE in
  Turtle, N-Triples, RDF/XML, JSON-LD, TriG or N-Quads, by ``Accept`` (q-values) or by the
  ``format`` parameter (a name, extension or media type of :mod:`cokg.formats`); nothing
  acceptable is a 406 listing the offers. Answers are cut at ``MAX_ROWS`` rows, which every
  answer announces (``X-Cokg-Row-Limit``; a cut one also says ``X-Cokg-Result-Truncated``).
- **Update**: ``POST`` form ``update=`` or ``application/sparql-update``, with
  ``using-graph-uri`` / ``using-named-graph-uri``; it needs the write token (:mod:`.auth`).
- **Service description**: ``GET`` without a query (:mod:`.service_description`).
- Browsers (``Accept`` preferring HTML, no ``format``) get the query page, once
  ``cokg.server.query_page`` exists.

Relative IRIs resolve against the base IRI. ``SERVICE`` is refused unless the operator
allows the endpoint (``ALLOWED_SERVICES``); ``LOAD`` always (it would fetch any URL). Bad
requests get 400/405/406/415 with a clear message; the store is untouched.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Blueprint, Response, current_app, make_response, request
from pyoxigraph import QueryBoolean, QuerySolutions
from werkzeug.exceptions import BadRequest, MethodNotAllowed, NotAcceptable

from cokg.errors import QueryError, UnsupportedFormat
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, SPARQL_TSV, Format, ResultsFormat
from cokg.namespaces import PREFIXES, instance_prefixes
from cokg.sparql_store import SolutionsText, SparqlStore, TriplesText, query_form
from cokg.store import QueryResult

from .auth import writable_store
from .negotiation import (
    GRAPH_FORMATS,
    format_parameter,
    negotiate,
    offers,
    prefers_html,
)
from .query_text import (
    check_nesting,
    is_absolute_iri,
    service_endpoints,
    shift_back,
    uses_load,
    uses_service,
    uses_triple_terms,
    with_base,
    with_using,
)
from .results import (
    Body,
    boolean_body,
    solutions_body,
    solutions_text_body,
    triples_body,
    triples_text_body,
)
from .service_description import ServiceDescription
from .solutions import EarlyPieces
from .state import WriteEvent, cokg_state

__all__ = ["decode_pairs", "decode_text", "read_operation", "sparql", "uses_service"]

sparql = Blueprint("sparql", __name__)

SERVICE_DESCRIPTION = "cokg.service_description"
"""Key of the app's :class:`~.service_description.ServiceDescription` in ``app.extensions``."""

_FORM = "application/x-www-form-urlencoded"
_DIRECT = {"application/sparql-query": "query", "application/sparql-update": "update"}
_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")
_RESULT_FORMATS: tuple[ResultsFormat, ...] = tuple(RESULTS_FORMATS)
_RDF_FORMATS: tuple[Format, ...] = tuple(RDF_FORMATS)


@dataclass(frozen=True)
class Operation:
    """One protocol request: a query, an update, or neither (describe the service)."""

    kind: Literal["query", "update", "none"]
    text: str
    params: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        """Return every value of parameter ``name`` (URL and form), in order."""
        return [value for key, value in self.params if key == name]


@sparql.route("/sparql", methods=["GET", "POST"])
def sparql_endpoint() -> Response:
    """Answer one SPARQL 1.1 Protocol request (see the module documentation)."""
    operation = read_operation()
    if operation.kind == "update":
        response = run_update(operation)
    elif operation.kind == "query":
        response = run_query(operation)
    else:
        response = describe_service(operation)
    response.vary.add("Accept")
    return response


def read_operation() -> Operation:
    """Read the operation a request carries, where the SPARQL 1.1 Protocol places it.

    Raises 400 for several operations, undecodable text or text nested too deep
    (:func:`.query_text.check_nesting`), 405 for an update by GET and 415 for a body of
    another media type.
    """
    params = decode_pairs(request.query_string, "the query string of the URL")
    if request.method == "POST":
        charset = request.mimetype_params.get("charset")
        if charset and charset.lower() not in _UTF8:
            raise BadRequest(f"the request body must be UTF-8, not {charset}")
        if request.mimetype == _FORM:
            params += decode_pairs(request.get_data(), "the form in the request body")
        elif request.mimetype in _DIRECT:
            params.append((_DIRECT[request.mimetype], decode_text(request.get_data(), "the body")))
        else:
            given = request.mimetype or "a body without Content-Type"
            raise UnsupportedFormat(
                f"a query is POSTed as {_FORM} or application/sparql-query, an update as "
                f"{_FORM} or application/sparql-update, not {given}"
            )
    queries = [value for key, value in params if key == "query"]
    updates = [value for key, value in params if key == "update"]
    if queries and updates:
        raise BadRequest("the request holds both a query and an update; send one per request")
    if len(queries) > 1 or len(updates) > 1:
        which = "query" if len(queries) > 1 else "update"
        raise BadRequest(f"the request holds more than one {which}; send one per request")
    if updates and request.method != "POST":
        raise MethodNotAllowed(
            valid_methods=["POST"],
            description="an update is sent with POST (the `update` form parameter or an "
            "application/sparql-update body), never with GET",
        )
    for text in queries + updates:  # before the engine sees it: too deep a text crashes it
        check_nesting(text)
    if queries:
        return Operation("query", queries[0], tuple(params))
    if updates:
        return Operation("update", updates[0], tuple(params))
    if request.method == "POST":
        raise BadRequest("no query or update: send it as the `query` or `update` parameter")
    return Operation("none", "", tuple(params))


def run_query(operation: Operation) -> Response:
    """Run a query and answer with its results in the negotiated format."""
    state = cokg_state()
    if operation.values("using-graph-uri") or operation.values("using-named-graph-uri"):
        raise BadRequest(
            "using-graph-uri and using-named-graph-uri belong to updates; "
            "a query takes default-graph-uri and named-graph-uri"
        )
    for name in ("default-graph-uri", "named-graph-uri"):
        for value in operation.values(name):
            if not is_absolute_iri(value):
                raise BadRequest(f"{name} must be an absolute IRI, not {value!r}")
    _check_services(operation.text, state.allowed_services)
    requested = operation.values("format")
    form = query_form(operation.text)
    results = form in ("SELECT", "ASK")
    if (
        form is not None
        and not requested
        and _wants_html(_RESULT_FORMATS if results else _RDF_FORMATS)
    ):
        page = _query_page()
        if page is not None:
            return make_response(page(operation.text))
    if form is not None:  # refuse what cannot be served before running the query
        _pick(_RESULT_FORMATS if results else _RDF_FORMATS, requested)

    text, added = with_base(operation.text, state.base_iri)
    default_graphs = operation.values("default-graph-uri") or None
    named_graphs = operation.values("named-graph-uri") or None
    early = None
    try:
        if isinstance(state.store, SparqlStore):
            # Over a remote engine, a SELECT (CONSTRUCT, DESCRIBE) answer comes as the
            # engine's TSV (N-Triples) text: cut by counting lines, passed on as it is to a
            # client that asked for that format, else parsed once while it is written out
            # (results.solutions_text_body), rows of it while it arrives (solutions.EarlyPieces).
            if form == "SELECT":
                results_format = _pick(_RESULT_FORMATS, requested)[0]
                if results_format is not SPARQL_TSV:
                    early = EarlyPieces(results_format, max_rows=state.max_rows)
            result: QueryResult | SolutionsText | TriplesText = state.store.query_text(
                text,
                default_graph_uris=default_graphs,
                named_graph_uris=named_graphs,
                receiver=early,
            )
        else:
            result = state.store.query(
                text, default_graph_uris=default_graphs, named_graph_uris=named_graphs
            )
    except QueryError as error:
        raise shift_back(error, added) from error

    return _answer(result, requested, early)


def _answer(
    result: QueryResult | SolutionsText | TriplesText,
    requested: list[str],
    early: EarlyPieces | None = None,
) -> Response:
    """Return the response that carries ``result`` in the format the client asked for."""
    state = cokg_state()
    body: Body
    if isinstance(result, QuerySolutions | QueryBoolean | SolutionsText):
        results_format, media_type = _pick(_RESULT_FORMATS, requested)
        if isinstance(result, SolutionsText):
            body = solutions_text_body(result, results_format, max_rows=state.max_rows, early=early)
        elif isinstance(result, QuerySolutions):
            body = solutions_body(result, results_format, max_rows=state.max_rows)
        else:
            body = boolean_body(result, results_format)
        extension = results_format.extension
    else:
        rdf_format, media_type = _pick(_RDF_FORMATS, requested)
        prefixes = {**PREFIXES, **instance_prefixes(state.base_iri)}
        if isinstance(result, TriplesText):
            body = triples_text_body(result, rdf_format, max_rows=state.max_rows, prefixes=prefixes)
        else:
            body = triples_body(result, rdf_format, max_rows=state.max_rows, prefixes=prefixes)
        extension = rdf_format.extension
    response = Response(body.content, mimetype=media_type)
    response.headers["X-Cokg-Row-Limit"] = str(state.max_rows)
    if body.truncated:
        response.headers["X-Cokg-Result-Truncated"] = "true"
        response.headers["Warning"] = (
            f'199 cokg "the answer was cut at {state.max_rows} rows, the row limit of this '
            'endpoint; page through it with ORDER BY, LIMIT and OFFSET"'
        )
    if requested:
        response.headers["Content-Disposition"] = f'inline; filename="results.{extension}"'
    return response


def run_update(operation: Operation) -> Response:
    """Run an update for a client that shows the write token; answer 204."""
    store = writable_store()
    state = cokg_state()
    if operation.values("default-graph-uri") or operation.values("named-graph-uri"):
        raise BadRequest(
            "default-graph-uri and named-graph-uri belong to queries; "
            "an update takes using-graph-uri and using-named-graph-uri"
        )
    _check_services(operation.text, state.allowed_services)
    if uses_triple_terms(operation.text):
        raise QueryError(
            "RDF 1.2 triple terms and reifiers (<<( … )>>, << … >>, {| … |}, ~, TRIPLE()) "
            "cannot be written here: the knowledge graph's dumps and documents do not carry them"
        )
    if uses_load(operation.text):
        raise QueryError(
            "LOAD is disabled on this endpoint (it would fetch any URL the client names); "
            "send the data to the Graph Store instead: PUT /rdf-graph-store?graph=IRI"
        )
    text = with_using(
        operation.text,
        operation.values("using-graph-uri"),
        operation.values("using-named-graph-uri"),
    )
    text, added = with_base(text, state.base_iri)
    try:
        store.update(text)
    except QueryError as error:
        raise shift_back(error, added) from error
    state.notify_write(WriteEvent("update", None, update=text))
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def describe_service(operation: Operation) -> Response:
    """Answer a request without a query: the service description (or the query page)."""
    requested = operation.values("format")
    if not requested and _wants_html(GRAPH_FORMATS):
        page = _query_page()
        if page is not None:
            return make_response(page(None))
    try:
        fmt, media_type = _pick(GRAPH_FORMATS, requested)
    except NotAcceptable as error:
        if requested:
            raise
        raise BadRequest(
            "no query: send it as the `query` parameter. Without one, GET /sparql describes "
            f"the service in {', '.join(offers(GRAPH_FORMATS))}"
        ) from error
    description = current_app.extensions[SERVICE_DESCRIPTION]
    if not isinstance(description, ServiceDescription):
        raise TypeError(f"app.extensions[{SERVICE_DESCRIPTION!r}] is not a ServiceDescription")
    return Response(description.body(fmt), mimetype=media_type)


def _pick(formats: tuple[Any, ...], requested: list[str]) -> tuple[Any, str]:
    """Return the format (and media type) of ``formats`` that ``format`` or ``Accept`` asks."""
    chosen = format_parameter(formats, requested)
    if chosen is not None:
        return chosen, chosen.media_type
    return negotiate(formats)


def _wants_html(formats: tuple[Any, ...]) -> bool:
    """Tell whether a browser asks for the query page rather than an answer in ``formats``.

    Only an ``Accept`` header that names an HTML type can prefer it: every list of formats
    offers a ``text/`` type (CSV, Turtle) before HTML, so a wildcard that matches
    ``text/html`` (``*/*``, ``text/*``) matches an offer first.
    """
    if request.method not in ("GET", "HEAD"):
        return False
    if "html" not in request.headers.get("Accept", "").lower():
        return False
    return prefers_html(offers(formats))


def _query_page() -> Callable[[str | None], Any] | None:
    """Return ``render_query_page`` of the query page module, or None while there is none."""
    try:
        from cokg.server.query_page import render_query_page
    except ModuleNotFoundError as error:
        if error.name == "cokg.server.query_page":
            return None
        raise
    page: Callable[[str | None], Any] = render_query_page
    return page


def _check_services(text: str, allowed: frozenset[str]) -> None:
    """Refuse ``SERVICE`` clauses, except to the endpoints the operator allows."""
    endpoints = service_endpoints(text)
    if not endpoints:
        return
    if not allowed:
        raise QueryError(
            "federated queries (SERVICE) are disabled on this endpoint: the engine would "
            "fetch any URL a client names (the operator can allow endpoints with "
            "COKG_ALLOWED_SERVICES)"
        )
    for endpoint in endpoints:
        if endpoint is None:
            raise QueryError(
                "SERVICE needs an endpoint written as a full IRI (<https://…>) here: a "
                "variable or prefixed name cannot be checked against the allowed endpoints"
            )
        if endpoint not in allowed:
            raise QueryError(
                f"SERVICE <{endpoint}> is not allowed on this endpoint; allowed: "
                + ", ".join(f"<{e}>" for e in sorted(allowed))
            )


def decode_text(raw: bytes, where: str) -> str:
    """Return ``raw`` decoded as UTF-8; raises 400 naming ``where`` when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"{where} is not UTF-8 (byte {error.start}); SPARQL requests are UTF-8"
        ) from None


def decode_pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Parse ``application/x-www-form-urlencoded`` text (a body or a query string) as UTF-8.

    Raises 400 naming ``where`` when the text or a percent-encoded value is not UTF-8.
    """
    text = decode_text(raw, where)
    try:
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise BadRequest(
            f"{where} has percent-encoded bytes that are not UTF-8; SPARQL requests are UTF-8"
        ) from None
