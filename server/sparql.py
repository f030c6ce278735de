"""``GET/POST /sparql``: a minimal SPARQL 1.1 query endpoint over the app's store.

The query comes as the ``query`` parameter (URL or form) or as an ``application/sparql-query``
body. SELECT and ASK answer in SPARQL JSON (or XML, CSV, TSV by ``Accept``); CONSTRUCT and
DESCRIBE in Turtle (or N-Triples, RDF/XML, JSON-LD). The whole answer is built before the
status line is sent, so a query stopped by the time limit is a 503, never a 200 with a short
body. A malformed query is a 400 with the parser's message. ``SERVICE`` (federated query) is
refused: the engine would fetch any URL a client names.
"""

from __future__ import annotations

import re
from typing import TypeVar

from flask import Blueprint, Response, request
from pyoxigraph import QueryBoolean, QuerySolutions, serialize

from cokg.errors import QueryError, UnsupportedFormat
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, SPARQL_JSON, TURTLE, Format, ResultsFormat
from cokg.namespaces import PREFIXES

from .state import cokg_state

sparql = Blueprint("sparql", __name__)

_GRAPH_FORMATS = [fmt for fmt in RDF_FORMATS if not fmt.dataset]

# Tokens that may contain the letters S-E-R-V-I-C-E without being the keyword: strings,
# IRIs, comments, variables, prefixed names, blank nodes. Whatever else is a bare word.
_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|\#[^\n\r]*"
    r"|[?$]\w+"
    r"|_:[\w.-]*"
    r"|[\w.-]*:[\w.:%\\-]*"
    r"|(\w+)"
)

F = TypeVar("F", Format, ResultsFormat)


def uses_service(query: str) -> bool:
    """Tell whether ``query`` contains the ``SERVICE`` keyword (federated query).

    Errs on the safe side: text that only looks like the keyword to this scanner is refused
    too, but a real ``SERVICE`` is never missed.

    >>> uses_service("SELECT * WHERE { service <http://example.org/sparql> { ?s ?p ?o } }")
    True
    >>> uses_service('SELECT ?service WHERE { ?service ex:SERVICE "SERVICE" } # SERVICE')
    False
    """
    return any(
        (word := match.group(1)) is not None and word.lower() == "service"
        for match in _TOKEN.finditer(query)
    )


@sparql.route("/sparql", methods=["GET", "POST"])
def sparql_query() -> Response:
    """Answer a SPARQL query (SPARQL 1.1 Protocol, query operation)."""
    text = _query_text()
    if uses_service(text):
        raise QueryError("federated queries (SERVICE) are disabled on this endpoint")
    result = cokg_state().store.query(
        text,
        default_graph_uris=request.values.getlist("default-graph-uri") or None,
        named_graph_uris=request.values.getlist("named-graph-uri") or None,
    )
    if isinstance(result, QuerySolutions | QueryBoolean):
        results_format = _negotiate(list(RESULTS_FORMATS), SPARQL_JSON)
        body = result.serialize(format=results_format.oxigraph)
        media_type = results_format.media_type
    else:
        rdf_format = _negotiate(_GRAPH_FORMATS, TURTLE)
        body = serialize(result, format=rdf_format.oxigraph, prefixes=PREFIXES)
        media_type = rdf_format.media_type
    response = Response(body or b"", mimetype=media_type)
    response.headers["Vary"] = "Accept"
    return response


def _query_text() -> str:
    """Return the query a request carries, as the SPARQL 1.1 Protocol places it."""
    if request.method == "POST" and request.mimetype == "application/sparql-query":
        return request.get_data(as_text=True)
    if request.method == "POST" and request.mimetype not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        raise UnsupportedFormat(
            f"a query is POSTed as application/x-www-form-urlencoded or "
            f"application/sparql-query, not {request.mimetype or 'an untyped body'}"
        )
    values = request.values.getlist("query")
    if not values:
        raise QueryError("no query: send it as the `query` parameter")
    if len(values) > 1:
        raise QueryError("more than one `query` parameter")
    return values[0]


def _negotiate(formats: list[F], default: F) -> F:
    """Return the format of ``formats`` the client prefers, or ``default``."""
    offered = [media_type for fmt in formats for media_type in fmt.media_types]
    best = request.accept_mimetypes.best_match(offered)
    for fmt in formats:
        if best in fmt.media_types:
            return fmt
    return default
