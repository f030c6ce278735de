"""The query page: a SPARQL editor for browsers, answered on the server.

``GET /query`` (and ``/sparql`` when a browser asks for HTML: the endpoint calls
:func:`render_query_page`) shows an editor with the competency questions as examples. With
``?query=`` it runs the query on the app's store and renders the answer in the page: SELECT as
a table, ASK as true or false, CONSTRUCT and DESCRIBE as a table of triples and as Turtle. IRIs
are abbreviated with the known prefixes and linked: the knowledge base's own to their pages on
this server, others out. Errors show in the page with the status they carry (400 for a
malformed query, 503 for a query stopped at the time limit). Everything works without
JavaScript; ``static/query.js`` adds editor keys and runs queries without a reload.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from flask import Blueprint, Response, current_app, render_template, request
from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    RdfFormat,
    Triple,
    serialize,
)

from cokg.errors import CokgError, QueryError, QueryTimeout, StoreUnavailable
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS
from cokg.namespaces import PREFIXES, XSD, instance_prefixes
from cokg.resources import QUERIES_DIR

from .query_text import (
    check_nesting,
    is_absolute_iri,
    service_endpoints,
    shift_back,
    with_base,
)
from .state import cokg_state

query_page = Blueprint("query_page", __name__)

MAX_SHOWN = 1000
"""Rows (or triples) the page shows; past that it says how many there are, and that the
downloads have them all (up to the endpoint's row limit)."""

DEFAULT_QUERY = """\
SELECT ?entry ?title WHERE {
  ?entry a schema:ResearchProject ;
         dcterms:title ?title .
}
ORDER BY ?title
"""

# Scripts and styles come from this server only: a literal can never become code.
_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)

# A prefixed name's local part, as SPARQL and Turtle accept it unescaped.
_LOCAL_NAME = re.compile(r"(?:[A-Za-z0-9_](?:[\w.-]*[\w-])?)?", re.ASCII)

_LINKED_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Example:
    """A competency question: its file name, the question it answers, and the query."""

    name: str
    question: str
    text: str


@dataclass(frozen=True)
class Cell:
    """One RDF term as the page shows it.

    ``kind`` is ``iri``, ``bnode``, ``literal``, ``triple`` or ``unbound``; ``href`` is where
    an IRI links (None: not linked); ``annotation`` is a literal's ``@lang`` or ``^^datatype``.
    """

    kind: str
    text: str
    href: str | None = None
    iri: str | None = None
    annotation: str | None = None


@dataclass
class Answer:
    """The rendered result of a query: ``form`` is ``select``, ``ask`` or ``graph``."""

    form: str
    seconds: float
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    total: int = 0
    boolean: bool | None = None
    turtle: str | None = None

    @property
    def unit(self) -> str:
        """What :attr:`total` counts: rows or triples, singular or plural."""
        noun = "row" if self.form == "select" else "triple"
        return noun if self.total == 1 else noun + "s"

    @property
    def elapsed(self) -> str:
        """How long the query took, for people: ``12 ms`` or ``1.53 s``."""
        if self.seconds < 1:
            return f"{self.seconds * 1000:.0f} ms"
        return f"{self.seconds:.2f} s"


@dataclass(frozen=True)
class Failure:
    """A query that got no answer: what to tell the user, and the HTTP status."""

    title: str
    message: str
    status: int
    line: int | None = None
    column: int | None = None
    source_line: str | None = None
    pointer: str | None = None


@dataclass(frozen=True)
class Download:
    """A link to the same query's results in one format, from the SPARQL endpoint."""

    label: str
    href: str
    filename: str
    media_type: str


@query_page.route("/query")
def query_editor() -> Response:
    """The query page at its stable address (``?query=`` runs a query)."""
    queries = request.args.getlist("query")
    if len(queries) > 1:
        return render_query_page(
            queries[0], failure=Failure("More than one query", "send one `query` parameter", 400)
        )
    return render_query_page(queries[0] if queries else None)


def render_query_page(query: str | None, *, failure: Failure | None = None) -> Response:
    """Return the query page for ``query``: its answer, or an error, rendered as HTML.

    A blank or missing ``query`` shows the editor alone (status 200). Otherwise the query runs
    on the app's store with the request's ``default-graph-uri`` / ``named-graph-uri``; the
    status is 200, or that of the error it raised (400 malformed, 503 timed out or store
    unavailable). ``failure`` shows that error instead of running the query.
    """
    state = cokg_state()
    default_graphs = request.args.getlist("default-graph-uri")
    named_graphs = request.args.getlist("named-graph-uri")
    dataset = [("default-graph-uri", g) for g in default_graphs]
    dataset += [("named-graph-uri", g) for g in named_graphs]
    terms = TermRenderer(state.base_iri, request.script_root)
    text = query if query and query.strip() else None

    answer: Answer | None = None
    headers = {"Vary": "Accept", "Content-Security-Policy": _CSP}
    if text is not None and failure is None:
        try:
            answer = run_query(text, default_graphs, named_graphs, terms)
        except CokgError as error:
            failure = describe_failure(error, text)
            if isinstance(error, StoreUnavailable):
                current_app.logger.warning("query page: %s", error)
                headers["Retry-After"] = str(state.retry_after)

    page_path = request.script_root + request.path
    sparql_url = f"{request.script_root}/sparql"
    examples = competency_questions()
    page = render_template(
        "query.html",
        query_text=query if query is not None else DEFAULT_QUERY,
        ran=text is not None,
        answer=answer,
        failure=failure,
        examples=[(ex, _form_url(page_path, [("query", ex.text)])) for ex in examples],
        prefixes=PREFIXES,
        display_prefixes=terms.display_prefixes,
        dataset=dataset,
        action=page_path,
        endpoint=request.host_url.rstrip("/") + sparql_url,
        share_url=_form_url(request.base_url, [("query", text), *dataset]) if text else None,
        downloads=downloads(sparql_url, text, dataset, answer) if text and answer else [],
        max_shown=MAX_SHOWN,
        max_rows=state.max_rows,
    )
    status = failure.status if failure is not None else 200
    return Response(page, status, headers=headers, mimetype="text/html")


@functools.cache
def competency_questions() -> tuple[Example, ...]:
    """Return the shipped example queries: the competency questions (``queries/cq*.rq``) in
    file order, then how to use a search from SPARQL (``queries/search-values.rq``).

    Each file's first line is a ``# question`` comment; it labels the example.
    """
    found = []
    for path in [*sorted(QUERIES_DIR.glob("cq*.rq")), QUERIES_DIR / "search-values.rq"]:
        text = path.read_text(encoding="utf-8")
        first = text.split("\n", 1)[0]
        question = first.lstrip("#").strip() if first.startswith("#") else path.stem
        found.append(Example(path.stem, question, text))
    return tuple(found)


def run_query(
    text: str, default_graphs: list[str], named_graphs: list[str], terms: TermRenderer
) -> Answer:
    """Run ``text`` on the app's store as the endpoint would, and return its answer.

    Relative IRIs resolve against the base IRI; ``SERVICE`` is refused unless the operator
    allows its endpoint; text nested too deep for the engine and graphs that are not
    absolute IRIs are refused. Raises
    :class:`~cokg.errors.QueryError` (with the line and column of the user's text),
    :class:`~cokg.errors.QueryTimeout` and :class:`~cokg.errors.StoreUnavailable`.
    """
    state = cokg_state()
    for name, graphs in (("default-graph-uri", default_graphs), ("named-graph-uri", named_graphs)):
        for graph in graphs:
            if not is_absolute_iri(graph):
                raise QueryError(f"{name} must be an absolute IRI, not {graph!r}")
    check_nesting(text)
    refuse_services(text, state.allowed_services)
    full_text, added = with_base(text, state.base_iri)
    began = time.perf_counter()
    try:
        result = state.store.query(
            full_text,
            default_graph_uris=default_graphs or None,
            named_graph_uris=named_graphs or None,
        )
    except QueryError as error:
        raise shift_back(error, added) from error
    if isinstance(result, QueryBoolean):
        return Answer("ask", time.perf_counter() - began, boolean=bool(result), total=1)
    if isinstance(result, QuerySolutions):
        columns = [variable.value for variable in result.variables]
        rows: list[list[Cell]] = []
        total = 0
        for solution in result:
            total += 1
            if total <= MAX_SHOWN:
                rows.append([terms.cell(solution[i]) for i in range(len(columns))])
        return Answer("select", time.perf_counter() - began, columns, rows, total)
    triples = sorted(result, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    seconds = time.perf_counter() - began
    shown = triples[:MAX_SHOWN]
    return Answer(
        "graph",
        seconds,
        ["subject", "predicate", "object"],
        [[terms.cell(t.subject), terms.cell(t.predicate), terms.cell(t.object)] for t in shown],
        len(triples),
        turtle=terms.turtle(shown),
    )


def refuse_services(text: str, allowed: frozenset[str]) -> None:
    """Raise :class:`~cokg.errors.QueryError` unless every ``SERVICE`` of ``text`` is allowed.

    The endpoint's rule (``ALLOWED_SERVICES``): the engine would fetch any URL a query names.
    """
    for endpoint in service_endpoints(text):
        if endpoint is None or endpoint not in allowed:
            named = f"SERVICE <{endpoint}>" if endpoint else "SERVICE without a full IRI"
            raise QueryError(
                f"{named} is refused: federated queries reach only the endpoints the "
                "operator allows (COKG_ALLOWED_SERVICES)"
            )


def describe_failure(error: CokgError, text: str) -> Failure:
    """Return what the page says about ``error``, raised by running ``text``."""
    if isinstance(error, QueryError):
        line, column = error.line, error.column
        source_line = pointer = None
        lines = text.splitlines()
        if line is not None and 1 <= line <= len(lines):
            source_line = lines[line - 1]
            if column is not None and column >= 1:
                # Tabs stay tabs so that the caret lines up under the character.
                before = source_line[: column - 1]
                pointer = "".join("\t" if c == "\t" else " " for c in before) + "^"
        return Failure(
            "The query could not be run",
            str(error),
            error.status,
            line,
            column,
            source_line,
            pointer,
        )
    if isinstance(error, QueryTimeout):
        return Failure("The query took too long and was stopped", str(error), error.status)
    if isinstance(error, StoreUnavailable):
        return Failure("The store is unavailable; try again shortly", str(error), error.status)
    return Failure("The query failed", str(error), error.status)


def downloads(
    sparql_url: str, text: str, dataset: list[tuple[str, str]], answer: Answer
) -> list[Download]:
    """Return links to ``text``'s results in every format that fits its kind of answer."""
    found = []
    if answer.form in ("select", "ask"):
        for results_format in RESULTS_FORMATS:
            name = results_format.name
            found.append(
                Download(
                    results_format.label,
                    _form_url(sparql_url, [("query", text), *dataset, ("format", name)]),
                    f"results.{results_format.extension}",
                    results_format.media_type,
                )
            )
    else:
        for rdf_format in RDF_FORMATS:
            if rdf_format.dataset:
                continue  # CONSTRUCT and DESCRIBE make one graph
            extension = rdf_format.extension
            found.append(
                Download(
                    rdf_format.label,
                    _form_url(sparql_url, [("query", text), *dataset, ("format", extension)]),
                    f"results.{extension}",
                    rdf_format.media_type,
                )
            )
    return found


class TermRenderer:
    """Turns RDF terms into :class:`Cell` s: abbreviated, and linked where that is safe.

    An IRI under ``base_iri`` links to its path on this server (below ``script_root``);
    other http(s) IRIs link out; any other scheme (``javascript:`` …) is not linked.
    """

    def __init__(self, base_iri: str, script_root: str) -> None:
        self.base_iri = base_iri
        self.script_root = script_root
        self.display_prefixes = instance_prefixes(base_iri)
        # Longest namespace first, so an IRI gets the most specific prefix.
        self._prefixes = sorted(
            {**PREFIXES, **self.display_prefixes}.items(), key=lambda item: -len(item[1])
        )

    def compact(self, iri: str) -> str:
        """Return ``iri`` as a prefixed name where one is valid, else as ``<iri>``."""
        found = self._prefix_of(iri)
        return f"{found[0]}:{iri[len(found[1]) :]}" if found else f"<{iri}>"

    def _prefix_of(self, iri: str) -> tuple[str, str] | None:
        for name, namespace in self._prefixes:
            if iri.startswith(namespace) and _LOCAL_NAME.fullmatch(iri[len(namespace) :]):
                return name, namespace
        return None

    def link(self, iri: str) -> str | None:
        """Return where ``iri`` links from the page, or None when it is not linked."""
        if iri.startswith(self.base_iri):
            return f"{self.script_root}/{iri[len(self.base_iri) :]}"
        if iri.lower().startswith(_LINKED_SCHEMES):
            return iri
        return None

    def cell(self, term: object) -> Cell:
        """Return how ``term`` (a term of a query answer, or None if unbound) is shown."""
        if term is None:
            return Cell("unbound", "")
        if isinstance(term, NamedNode):
            return Cell("iri", self.compact(term.value), self.link(term.value), term.value)
        if isinstance(term, BlankNode):
            return Cell("bnode", f"_:{term.value}")
        if isinstance(term, Literal):
            if term.language:
                return Cell("literal", term.value, annotation=f"@{term.language}")
            datatype = term.datatype.value
            annotation = None if datatype == XSD + "string" else "^^" + self.compact(datatype)
            return Cell("literal", term.value, annotation=annotation)
        if isinstance(term, Triple):
            parts = (self.cell(term.subject), self.cell(term.predicate), self.cell(term.object))
            return Cell("triple", "<< " + " ".join(_plain(p) for p in parts) + " >>")
        return Cell("literal", str(term))

    def turtle(self, triples: Sequence[Triple]) -> str:
        """Return ``triples`` as Turtle, declaring only the prefixes it uses."""
        used = (self._prefix_of(iri) for iri in _iris(triples))
        prefixes = dict(found for found in used if found is not None)
        data = serialize(triples, format=RdfFormat.TURTLE, prefixes=prefixes)
        return data.decode("utf-8") if data else ""


def _plain(cell: Cell) -> str:
    if cell.kind == "literal":
        return (
            '"'
            + cell.text.replace("\\", "\\\\").replace('"', '\\"')
            + '"'
            + (cell.annotation or "")
        )
    return cell.text


def _iris(triples: Iterable[Triple]) -> Iterator[str]:
    for triple in triples:
        for term in (triple.subject, triple.predicate, triple.object):
            if isinstance(term, NamedNode):
                yield term.value
            elif isinstance(term, Literal) and not term.language:
                if term.datatype.value != XSD + "string":  # Turtle leaves that one implicit
                    yield term.datatype.value
            elif isinstance(term, Triple):
                yield from _iris([term])


def _form_url(base: str, pairs: Iterable[tuple[str, str]]) -> str:
    """Return ``base`` with ``pairs`` as its query, encoded exactly as a browser's form does.

    Byte for byte the URL a browser shows after submitting the same form, so that a share
    link equals the page's address: ``*`` stays, ``~`` is escaped, spaces become ``+``.

    >>> _form_url("/query", [("query", "SELECT * {} # ~")])
    '/query?query=SELECT+*+%7B%7D+%23+%7E'
    """
    encoded = "&".join(
        f"{quote_plus(name, safe='*')}={quote_plus(value, safe='*')}" for name, value in pairs
    )
    return f"{base}?{encoded.replace('~', '%7E')}"
