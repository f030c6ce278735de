"""The SPARQL 1.1 Protocol at /sparql on an in-memory store: negotiation, formats, the row cap,
the service description, updates with the write token, CORS, and every bad request a client
can send (clear status and message, store unchanged, never a 500)."""

from __future__ import annotations

import csv
import doctest
import importlib
import io
import threading
import time
import warnings
from typing import Any

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyoxigraph import (
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    parse,
    parse_query_results,
)
from werkzeug.exceptions import NotAcceptable
from werkzeug.test import TestResponse

from cokg.formats import NQUADS, RESULTS_FORMATS, TURTLE
from cokg.server import WriteEvent, create_app
from cokg.server import results as results_module
from cokg.server.query_text import service_endpoints, tokens, with_base, with_using
from cokg.server.results import solutions_body, stream
from cokg.store import OxigraphStore, dump_to_bytes

EX = "http://example.org/"
BASE = "https://kb.example/"
GRAPH = f"{EX}graph/tiny"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TINY = f"""
@prefix ex: <{EX}> .
@prefix dcterms: <http://purl.org/dc/terms/> .
ex:p1 a ex:Project ; dcterms:title "Participatory budgeting"@en .
ex:p2 a ex:Project ; dcterms:title "Citizens' juries"@en .
ex:p3 a ex:Project ; dcterms:title "Co-production\twith\\n\\"quotes\\""@en .
"""
SELECT = "SELECT ?p ?t WHERE { ?p dcterms:title ?t } ORDER BY ?t"
ASK = f"ASK {{ <{EX}p1> ?p ?o }}"
CONSTRUCT = "CONSTRUCT WHERE { ?p dcterms:title ?t }"
DESCRIBE = f"DESCRIBE <{EX}p1>"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")


def tiny_store() -> OxigraphStore:
    store = OxigraphStore()
    store.replace_graph(GRAPH, TINY.encode(), TURTLE)
    return store


def make_app(**config: Any) -> Flask:
    settings = {"TESTING": True, "BASE_IRI": BASE, "WRITE_TOKEN": TOKEN, **config}
    app: Flask = create_app(settings, store=tiny_store())
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def store_of(app: Flask) -> OxigraphStore:
    store = app.extensions["cokg"].store
    assert isinstance(store, OxigraphStore)
    return store


def snapshot(app: Flask) -> tuple[int, bytes]:
    """What the store holds: its size and a canonical dump."""
    store = store_of(app)
    lines = sorted(dump_to_bytes(store, NQUADS).splitlines())
    return store.count(), b"\n".join(lines)


def parse_rdflib(data: bytes, fmt: str) -> rdflib.Graph:
    """Parse with rdflib (whose JSON-LD parser still warns about its own ConjunctiveGraph)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=data, format=fmt)


def rows(response: TestResponse) -> list[dict[str, str]]:
    if response.mimetype == "text/csv":
        table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
        return [{k: v for k, v in row.items() if v} for row in table]
    fmt = {
        "application/sparql-results+json": QueryResultsFormat.JSON,
        "application/json": QueryResultsFormat.JSON,
        "application/sparql-results+xml": QueryResultsFormat.XML,
        "application/xml": QueryResultsFormat.XML,
        "text/xml": QueryResultsFormat.XML,
        "text/csv": QueryResultsFormat.CSV,
        "text/tab-separated-values": QueryResultsFormat.TSV,
    }[response.mimetype]
    solutions = parse_query_results(response.data, fmt)
    assert isinstance(solutions, QuerySolutions)
    return [
        {v.value: row[v].value for v in solutions.variables if row[v] is not None}
        for row in solutions
    ]


# -- query: how the operation is sent ------------------------------------------------------


def test_get_form_post_and_direct_post_give_the_same_answer(client: FlaskClient) -> None:
    answers = [
        client.get("/sparql", query_string={"query": SELECT}),
        client.post("/sparql", data={"query": SELECT}),
        client.post("/sparql", data=SELECT, content_type="application/sparql-query"),
        client.post(
            "/sparql", data=SELECT.encode(), content_type="application/sparql-query; charset=utf-8"
        ),
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.data for a in answers}) == 1
    assert [r["t"] for r in rows(answers[0])][:2] == [
        "Citizens' juries",
        'Co-production\twith\n"quotes"',
    ]


def test_dataset_parameters_reach_the_store(client: FlaskClient) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    union = client.get("/sparql", query_string={"query": count})
    chosen = client.post(
        f"/sparql?default-graph-uri={GRAPH}", data=count, content_type="application/sparql-query"
    )
    empty = client.post("/sparql", data={"query": count, "default-graph-uri": f"{EX}none"})
    named = client.get(
        "/sparql",
        query_string={
            "query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
            "named-graph-uri": GRAPH,
        },
    )
    assert [rows(r)[0]["n"] for r in (union, chosen, empty, named)] == ["6", "6", "0", "6"]


def test_relative_iris_resolve_against_the_base_iri(client: FlaskClient) -> None:
    response = client.post(
        "/sparql", data="CONSTRUCT { <s> <p> 1 } WHERE {}", content_type="application/sparql-query"
    )
    assert response.status_code == 200
    triple = next(iter(parse(response.data, RdfFormat.TURTLE)))
    assert triple.subject == NamedNode(BASE + "s")


def test_an_added_base_line_does_not_shift_error_positions(client: FlaskClient) -> None:
    response = client.get(
        "/sparql",
        query_string={"query": "SELECT * WHERE {\n <x> ?p }"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["line"] == 2
    assert "2:" in body["error"]


# -- query: content negotiation ------------------------------------------------------------

RESULTS_TABLE = [
    # (query, Accept, status, media type)
    (SELECT, None, 200, "application/sparql-results+json"),
    (SELECT, "*/*", 200, "application/sparql-results+json"),
    (SELECT, "application/sparql-results+json", 200, "application/sparql-results+json"),
    (SELECT, "application/json", 200, "application/json"),
    (SELECT, "application/sparql-results+xml", 200, "application/sparql-results+xml"),
    (SELECT, "application/xml", 200, "application/xml"),
    (SELECT, "text/csv", 200, "text/csv"),
    (SELECT, "text/tab-separated-values", 200, "text/tab-separated-values"),
    (SELECT, "text/*", 200, "text/csv"),
    (SELECT, "text/csv; charset=utf-8", 200, "text/csv"),
    (SELECT, "text/turtle", 406, None),
    (SELECT, "image/png", 406, None),
    (ASK, None, 200, "application/sparql-results+json"),
    (ASK, "application/sparql-results+xml", 200, "application/sparql-results+xml"),
    (ASK, "text/csv", 200, "text/csv"),
    (ASK, "application/n-triples", 406, None),
    (CONSTRUCT, None, 200, "text/turtle"),
    (CONSTRUCT, "*/*", 200, "text/turtle"),
    (CONSTRUCT, "text/turtle", 200, "text/turtle"),
    (CONSTRUCT, "application/n-triples", 200, "application/n-triples"),
    (CONSTRUCT, "text/plain", 200, "text/plain"),
    (CONSTRUCT, "application/rdf+xml", 200, "application/rdf+xml"),
    (CONSTRUCT, "application/ld+json", 200, "application/ld+json"),
    (CONSTRUCT, "application/json", 200, "application/json"),
    (CONSTRUCT, "application/trig", 200, "application/trig"),
    (CONSTRUCT, "application/n-quads", 200, "application/n-quads"),
    (CONSTRUCT, "application/sparql-results+json", 406, None),
    (DESCRIBE, None, 200, "text/turtle"),
    (DESCRIBE, "application/rdf+xml", 200, "application/rdf+xml"),
    (DESCRIBE, "text/csv", 406, None),
    # a wildcard that matches text/html never brings the query page: an offer matches first
    (CONSTRUCT, "text/*", 200, "text/turtle"),
    (SELECT, "text/*;q=0.9, */*;q=0.1", 200, "text/csv"),
    (
        SELECT,
        "text/html;q=0.1, application/sparql-results+xml",
        200,
        "application/sparql-results+xml",
    ),
]


def test_the_same_accept_header_gets_the_same_answer_each_time(client: FlaskClient) -> None:
    for _ in range(2):  # the second time from the endpoint's memory of the header
        for query, media_type in ((SELECT, "text/csv"), (CONSTRUCT, "text/turtle")):
            response = client.get(
                "/sparql", query_string={"query": query}, headers={"Accept": "text/*"}
            )
            assert response.mimetype == media_type
        refused = client.get(
            "/sparql", query_string={"query": SELECT}, headers={"Accept": "image/png"}
        )
        assert refused.status_code == 406
        assert "offered: application/sparql-results+json" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("query", "accept", "status", "media_type"), RESULTS_TABLE)
def test_accept_chooses_the_format_of_each_query_form(
    client: FlaskClient, query: str, accept: str | None, status: int, media_type: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", query_string={"query": query}, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Vary"] == "Accept"
    if status == 406:
        text = response.get_data(as_text=True)
        offered = "text/turtle" if query in (CONSTRUCT, DESCRIBE) else "text/csv"
        assert "offered" in text and offered in text
        return
    assert response.mimetype == media_type
    if query == SELECT:
        assert len(rows(response)) == 3
    elif query == ASK:
        assert (
            response.get_data(as_text=True).strip().lower().endswith(("true", "true}", "</sparql>"))
        )
    else:
        fmt = _rdf_format(media_type or "")
        assert len(list(parse(response.data, fmt))) == (2 if query == DESCRIBE else 3)


def _rdf_format(media_type: str) -> RdfFormat:
    return {
        "text/turtle": RdfFormat.TURTLE,
        "application/n-triples": RdfFormat.N_TRIPLES,
        "text/plain": RdfFormat.N_TRIPLES,
        "application/rdf+xml": RdfFormat.RDF_XML,
        "application/ld+json": RdfFormat.JSON_LD,
        "application/json": RdfFormat.JSON_LD,
        "application/trig": RdfFormat.TRIG,
        "application/n-quads": RdfFormat.N_QUADS,
    }[media_type]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/sparql-results+xml;q=0.5, text/csv;q=0.9", "text/csv"),
        ("text/csv;q=0.1, application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv;q=0, */*;q=0.5", "application/sparql-results+json"),
        ("text/tab-separated-values;q=0.8, text/*;q=0.2", "text/tab-separated-values"),
        (
            "application/json;q=0.9, application/sparql-results+json",
            "application/sparql-results+json",
        ),
    ],
)
def test_q_values_rank_the_offers(client: FlaskClient, accept: str, media_type: str) -> None:
    response = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == media_type


@pytest.mark.parametrize(
    ("query", "values", "media_type"),
    [
        (SELECT, ["csv"], "text/csv"),
        (SELECT, ["tsv"], "text/tab-separated-values"),
        (SELECT, ["srx"], "application/sparql-results+xml"),
        (SELECT, ["json"], "application/sparql-results+json"),
        (SELECT, ["text/csv"], "text/csv"),
        (SELECT, ["tsv", "text/tab-separated-values"], "text/tab-separated-values"),
        (CONSTRUCT, ["ttl"], "text/turtle"),
        (CONSTRUCT, ["nt"], "application/n-triples"),
        (CONSTRUCT, ["jsonld"], "application/ld+json"),
        (CONSTRUCT, ["json-ld", "application/ld+json"], "application/ld+json"),
        (CONSTRUCT, ["rdf+xml", "application/rdf+xml"], "application/rdf+xml"),
        (CONSTRUCT, ["xml"], "application/rdf+xml"),
        (CONSTRUCT, ["trig"], "application/trig"),
    ],
)
def test_format_parameter_overrides_accept(
    client: FlaskClient, query: str, values: list[str], media_type: str
) -> None:
    params = [("query", query)] + [("format", v) for v in values]
    response = client.get("/sparql", query_string=params, headers={"Accept": BROWSER})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == media_type
    assert response.headers["Content-Disposition"].startswith('inline; filename="results.')


def test_format_parameter_in_a_form_post(client: FlaskClient) -> None:
    response = client.post("/sparql", data={"query": SELECT, "format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"


def test_a_browser_gets_the_query_page_and_a_format_gets_data(client: FlaskClient) -> None:
    page = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": BROWSER})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert page.headers["Vary"] == "Accept"
    data = client.get(
        "/sparql", query_string={"query": SELECT, "format": "json"}, headers={"Accept": BROWSER}
    )
    assert data.mimetype == "application/sparql-results+json"


# -- the row cap -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(RESULTS_FORMATS), ids=lambda f: f.name)
def test_a_capped_select_is_announced_and_cut_cleanly(fmt: Any) -> None:
    client = make_app(MAX_ROWS=2).test_client()
    response = client.get("/sparql", query_string={"query": SELECT, "format": fmt.name})
    assert response.status_code == 200
    assert response.headers["X-Cokg-Row-Limit"] == "2"
    assert response.headers["X-Cokg-Result-Truncated"] == "true"
    assert "cut at 2 rows" in response.headers["Warning"]
    assert [r["t"] for r in rows(response)] == ["Citizens' juries", 'Co-production\twith\n"quotes"']


def test_a_result_at_the_cap_is_not_truncated() -> None:
    client = make_app(MAX_ROWS=3).test_client()
    response = client.get("/sparql", query_string={"query": SELECT})
    assert response.headers["X-Cokg-Row-Limit"] == "3"
    assert "X-Cokg-Result-Truncated" not in response.headers
    assert "Warning" not in response.headers
    assert len(rows(response)) == 3


def test_a_capped_construct_is_announced_and_cut_cleanly() -> None:
    client = make_app(MAX_ROWS=2).test_client()
    response = client.get("/sparql", query_string={"query": CONSTRUCT})
    assert response.headers["X-Cokg-Result-Truncated"] == "true"
    assert len(list(parse(response.data, RdfFormat.TURTLE))) == 2


def test_the_row_limit_must_be_positive() -> None:
    with pytest.raises(Exception, match="MAX_ROWS"):
        make_app(MAX_ROWS=0)


# -- streaming -------------------------------------------------------------------------------


@pytest.fixture
def streams_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results_module, "STREAM_ABOVE", 0)


@pytest.mark.usefixtures("streams_everything")
@pytest.mark.parametrize(
    ("query", "accept"),
    [(SELECT, "application/sparql-results+xml"), (CONSTRUCT, "application/ld+json")],
)
def test_large_answers_are_streamed_whole(client: FlaskClient, query: str, accept: str) -> None:
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.is_streamed
    assert "Content-Length" not in response.headers
    if query == SELECT:
        assert len(rows(response)) == 3
    else:
        assert len(list(parse(response.data, RdfFormat.JSON_LD))) == 3


def test_a_stream_that_breaks_raises_instead_of_ending_quietly() -> None:
    def write(out: io.RawIOBase) -> None:
        out.write(b"x" * (1 << 17))
        raise OSError("disk gone")

    chunks = stream(write)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="disk gone"):
        for _ in chunks:
            pass


def test_a_stream_closed_early_stops_its_worker() -> None:
    written: list[int] = []

    def write(out: io.RawIOBase) -> None:
        for _ in range(10_000):
            out.write(b"y" * (1 << 16))
            written.append(1)

    chunks = stream(write)  # type: ignore[arg-type]
    next(chunks)
    chunks.close()  # type: ignore[attr-defined]  # what the server does when the client leaves
    deadline = time.monotonic() + 5
    while any(t.name == "cokg-serialise" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the serialising worker did not stop"
        time.sleep(0.05)
    assert len(written) < 100  # the bounded queue held it back: nothing was built in memory


NOT_IN_XML_1_0 = {chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)} | {"\ufffe", "\uffff"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    language=st.sampled_from([None, "en", "fr-BE"]),
)
def test_any_literal_survives_every_results_format(text: str, language: str | None) -> None:
    store = OxigraphStore()
    literal = Literal(text, language=language) if language else Literal(text)
    store.oxigraph.add(Quad(NamedNode(EX + "s"), NamedNode(EX + "p"), literal, NamedNode(GRAPH)))
    for fmt in RESULTS_FORMATS:
        if fmt.name == "csv":
            continue  # CSV keeps the text only, by design
        solutions = store.query("SELECT ?o WHERE { ?s ?p ?o }")
        assert isinstance(solutions, QuerySolutions)
        if fmt.name == "xml" and any(c in NOT_IN_XML_1_0 for c in text):
            with pytest.raises(NotAcceptable):  # XML 1.0 §2.2 has no way to write them
                solutions_body(solutions, fmt, max_rows=10)
            continue
        body = solutions_body(solutions, fmt, max_rows=10)
        content = body.content if isinstance(body.content, bytes) else b"".join(body.content)
        parsed = parse_query_results(content, fmt.oxigraph)
        assert isinstance(parsed, QuerySolutions)
        assert [row["o"] for row in parsed] == [literal], fmt.name


# -- service description ---------------------------------------------------------------------

SD_TABLE = [
    (None, "text/turtle", "turtle"),
    ("text/turtle", "text/turtle", "turtle"),
    ("application/rdf+xml", "application/rdf+xml", "xml"),
    ("application/ld+json", "application/ld+json", "json-ld"),
    ("application/n-triples", "application/n-triples", "nt"),
    ("*/*", "text/turtle", "turtle"),
]


@pytest.mark.parametrize(("accept", "media_type", "rdflib_format"), SD_TABLE)
def test_service_description_in_each_format(
    client: FlaskClient, accept: str | None, media_type: str, rdflib_format: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Vary"] == "Accept"
    graph = parse_rdflib(response.data, rdflib_format)
    service = graph.value(predicate=rdflib.RDF.type, object=SD.Service)
    assert service is not None
    assert graph.value(service, SD.endpoint) == rdflib.URIRef(BASE + "sparql")
    languages = set(graph.objects(service, SD.supportedLanguage))
    assert languages == {SD.SPARQL11Query, SD.SPARQL11Update}
    formats = {str(f) for f in graph.objects(service, SD.resultFormat)}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_JSON" in formats
    assert "http://www.w3.org/ns/formats/JSON-LD" in formats
    assert SD.UnionDefaultGraph in set(graph.objects(service, SD.feature))
    assert SD.BasicFederatedQuery not in set(graph.objects(service, SD.feature))
    dataset = graph.value(service, SD.defaultDataset)
    assert (dataset, rdflib.RDF.type, SD.Dataset) in graph
    assert graph.value(dataset, rdflib.RDFS.seeAlso) == rdflib.URIRef(BASE + ".well-known/void")
    row_limit = rdflib.URIRef("https://w3id.org/coprod/ns/service#resultRowLimit")
    assert graph.value(service, row_limit).toPython() == 100_000


def test_service_description_follows_the_configuration() -> None:
    app = make_app(WRITE_TOKEN=None, ALLOWED_SERVICES="http://a.example/sparql", QUERY_TIMEOUT=7.5)
    response = app.test_client().get("/sparql?format=nt")
    graph = rdflib.Graph().parse(data=response.data, format="nt")
    service = graph.value(predicate=rdflib.RDF.type, object=SD.Service)
    assert set(graph.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
    assert SD.BasicFederatedQuery in set(graph.objects(service, SD.feature))
    limit = rdflib.URIRef("https://w3id.org/coprod/ns/service#queryTimeLimit")
    assert float(graph.value(service, limit).toPython()) == 7.5
    assert "disabled" in str(graph.value(service, rdflib.RDFS.comment))


def test_service_description_is_built_once_per_app(app: Flask, client: FlaskClient) -> None:
    built = app.extensions["cokg.service_description"]
    first = client.get("/sparql").data
    assert client.get("/sparql").data == first
    assert app.extensions["cokg.service_description"] is built


def test_no_query_and_no_description_format_is_400_saying_so(client: FlaskClient) -> None:
    response = client.get("/sparql", headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 400
    assert "no query" in response.get_json()["error"]


# -- update ----------------------------------------------------------------------------------

INSERT = f'INSERT DATA {{ GRAPH <{EX}graph/new> {{ <{EX}p9> <{EX}says> "hello" }} }}'


@pytest.mark.parametrize("how", ["form", "direct"])
def test_an_update_with_the_token_is_applied_and_seen_by_later_reads(
    app: Flask, client: FlaskClient, how: str
) -> None:
    events: list[WriteEvent] = []
    app.extensions["cokg"].on_write.append(events.append)
    if how == "form":
        response = client.post("/sparql", data={"update": INSERT}, headers=AUTH)
    else:
        response = client.post(
            "/sparql", data=INSERT, content_type="application/sparql-update", headers=AUTH
        )
    assert response.status_code == 204
    assert "Content-Type" not in response.headers
    answer = client.get("/sparql", query_string={"query": f"ASK {{ <{EX}p9> ?p ?o }}"})
    assert answer.get_json()["boolean"] is True
    assert events == [WriteEvent("update", None)]


def test_update_dataset_parameters_become_using_clauses(client: FlaskClient) -> None:
    update = f"INSERT {{ GRAPH <{EX}graph/copy> {{ ?p a <{EX}Copied> }} }} WHERE {{ ?p a <{EX}Project> }}"
    plain = client.post("/sparql", data={"update": update}, headers=AUTH)
    assert plain.status_code == 204
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{EX}graph/copy> {{ ?s ?p ?o }} }}"
    assert rows(client.get("/sparql", query_string={"query": count}))[0]["n"] == "0"
    scoped = client.post(
        f"/sparql?using-graph-uri={GRAPH}",
        data=update,
        content_type="application/sparql-update",
        headers=AUTH,
    )
    assert scoped.status_code == 204
    assert rows(client.get("/sparql", query_string={"query": count}))[0]["n"] == "3"


def test_update_relative_iris_resolve_against_the_base_iri(client: FlaskClient) -> None:
    update = f"INSERT DATA {{ GRAPH <{EX}graph/rel> {{ <s> <p> <o> }} }}"
    assert client.post("/sparql", data={"update": update}, headers=AUTH).status_code == 204
    answer = client.get(
        "/sparql", query_string={"query": f"ASK {{ <{BASE}s> <{BASE}p> <{BASE}o> }}"}
    )
    assert answer.get_json()["boolean"] is True


def test_writes_are_refused_when_no_token_is_configured() -> None:
    app = make_app(WRITE_TOKEN=None)
    before = snapshot(app)
    response = app.test_client().post("/sparql", data={"update": INSERT}, headers=AUTH)
    assert response.status_code == 403
    assert "no write token" in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Authorization: Bearer"),
        ({"Authorization": "Bearer "}, 401, "Authorization: Bearer"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, 403, "not valid"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403, "not valid"),
    ],
)
def test_a_missing_or_wrong_token_changes_nothing(
    app: Flask, client: FlaskClient, headers: dict[str, str], status: int, message: str
) -> None:
    before = snapshot(app)
    response = client.post("/sparql", data={"update": INSERT}, headers=headers)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="cokg"'
    assert snapshot(app) == before


def test_a_failing_write_subscriber_is_logged_and_the_write_stands(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: WriteEvent) -> None:
        raise RuntimeError("index down")

    seen: list[WriteEvent] = []
    app.extensions["cokg"].on_write.extend([broken, seen.append])
    response = client.post("/sparql", data={"update": INSERT}, headers=AUTH)
    assert response.status_code == 204
    assert len(seen) == 1
    assert "index down" in caplog.text


# -- bad requests: clear status and message, store unchanged, never a 500 -------------------

FORM = "application/x-www-form-urlencoded"
Request = dict[str, Any]

BAD_REQUESTS: list[tuple[str, Request, int, str]] = [
    ("update by GET", {"query_string": {"update": "CLEAR ALL"}}, 405, "POST"),
    (
        "query and update",
        {"method": "POST", "data": {"query": "ASK {}", "update": "CLEAR ALL"}, "headers": AUTH},
        400,
        "both a query and an update",
    ),
    (
        "two queries",
        {"query_string": [("query", "ASK {}"), ("query", "SELECT * {}")]},
        400,
        "more than one query",
    ),
    (
        "two updates",
        {
            "method": "POST",
            "data": "update=CLEAR%20NAMED&update=CLEAR%20DEFAULT",
            "content_type": FORM,
            "headers": AUTH,
        },
        400,
        "more than one update",
    ),
    (
        "query in the URL and the body",
        {
            "method": "POST",
            "query_string": {"query": "ASK {}"},
            "data": "ASK {}",
            "content_type": "application/sparql-query",
        },
        400,
        "more than one query",
    ),
    (
        "POST text/plain",
        {"method": "POST", "data": "ASK {}", "content_type": "text/plain"},
        415,
        "application/sparql-query",
    ),
    (
        "POST without a media type",
        {"method": "POST", "data": b"query=ASK%20%7B%7D"},
        415,
        "without Content-Type",
    ),
    (
        "POST multipart",
        {"method": "POST", "data": {"query": (io.BytesIO(b"ASK {}"), "q.rq")}},
        415,
        "multipart/form-data",
    ),
    (
        "UTF-16 body",
        {
            "method": "POST",
            "data": "ASK {}".encode("utf-16"),
            "content_type": "application/sparql-query; charset=UTF-16",
        },
        400,
        "must be UTF-8",
    ),
    (
        "undeclared non-UTF-8 body",
        {
            "method": "POST",
            "data": b"ASK { ?s ?p \xff }",
            "content_type": "application/sparql-query",
        },
        400,
        "not UTF-8",
    ),
    (
        "non-UTF-8 update body",
        {
            "method": "POST",
            "data": b"CLEAR \xe9",
            "content_type": "application/sparql-update",
            "headers": AUTH,
        },
        400,
        "not UTF-8",
    ),
    ("non-UTF-8 query parameter", {"path": "/sparql?query=ASK%20%7B%FF%7D"}, 400, "not UTF-8"),
    (
        "non-UTF-8 form body",
        {"method": "POST", "data": b"query=%FF", "content_type": FORM},
        400,
        "not UTF-8",
    ),
    (
        "malformed query",
        {"query_string": {"query": "SELECT * WHERE { ?s ?p }"}},
        400,
        "malformed query",
    ),
    (
        "malformed update",
        {"method": "POST", "data": {"update": "CLEAR XYZ"}, "headers": AUTH},
        400,
        "malformed update",
    ),
    (
        "query sent as an update",
        {"method": "POST", "data": {"update": "SELECT * {}"}, "headers": AUTH},
        400,
        "malformed update",
    ),
    (
        "update sent as a query",
        {"query_string": {"query": "DROP ALL"}},
        400,
        "malformed query",
    ),
    (
        "SERVICE in a query",
        {"query_string": {"query": "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }"}},
        400,
        "SERVICE",
    ),
    (
        "SERVICE in an update",
        {
            "method": "POST",
            "data": {
                "update": "INSERT { ?s ?p ?o } WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }"
            },
            "headers": AUTH,
        },
        400,
        "SERVICE",
    ),
    (
        "LOAD",
        {"method": "POST", "data": {"update": "LOAD <http://127.0.0.1:1/x.ttl>"}, "headers": AUTH},
        400,
        "LOAD is disabled",
    ),
    (
        "USING clause and using-graph-uri",
        {
            "method": "POST",
            "path": "/sparql?using-named-graph-uri=http%3A%2F%2Fexample%2Fpeople",
            "data": "WITH <http://example/addresses> DELETE { ?p <http://x/n> 'Bill' } WHERE { ?p <http://x/n> 'Bill' }",
            "content_type": "application/sparql-update",
            "headers": AUTH,
        },
        400,
        "names its own dataset",
    ),
    (
        "using-graph-uri that is not an IRI",
        {
            "method": "POST",
            "path": "/sparql?using-graph-uri=not%20an%20iri",
            "data": "DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "content_type": "application/sparql-update",
            "headers": AUTH,
        },
        400,
        "not an absolute IRI",
    ),
    (
        "default-graph-uri that is not an IRI",
        {"query_string": {"query": "ASK {}", "default-graph-uri": "http://[bad"}},
        400,
        "must be an absolute IRI",
    ),
    (
        "named-graph-uri that is not an IRI",
        {"query_string": {"query": "ASK {}", "named-graph-uri": "graph"}},
        400,
        "must be an absolute IRI",
    ),
    (
        "query with using-graph-uri",
        {"query_string": {"query": "ASK {}", "using-graph-uri": GRAPH}},
        400,
        "belong to updates",
    ),
    (
        "update with default-graph-uri",
        {
            "method": "POST",
            "data": {"update": "CLEAR ALL", "default-graph-uri": GRAPH},
            "headers": AUTH,
        },
        400,
        "belong to queries",
    ),
    ("update without a token", {"method": "POST", "data": {"update": "CLEAR ALL"}}, 401, "Bearer"),
    (
        "update with a wrong token",
        {
            "method": "POST",
            "data": {"update": "CLEAR ALL"},
            "headers": {"Authorization": "Bearer no"},
        },
        403,
        "not valid",
    ),
    (
        "unknown format",
        {"query_string": {"query": "ASK {}", "format": "bogus"}},
        400,
        "unknown format",
    ),
    (
        "format of another form",
        {"query_string": {"query": CONSTRUCT, "format": "csv"}},
        406,
        "does not fit",
    ),
    (
        "nothing acceptable",
        {"query_string": {"query": SELECT}, "headers": {"Accept": "image/png"}},
        406,
        "offered",
    ),
    (
        "PUT",
        {"method": "PUT", "query_string": {"query": "ASK {}"}, "content_type": FORM},
        405,
        "Method Not Allowed",
    ),
    ("DELETE", {"method": "DELETE"}, 405, "Method Not Allowed"),
    (
        "empty POST form",
        {"method": "POST", "data": "", "content_type": FORM},
        400,
        "no query or update",
    ),
    (
        "oversize body",
        {"method": "POST", "data": {"query": "ASK {}" + " " * 3000}},
        413,
        "at most 2000 bytes",
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    request_kwargs: Request, status: int, message: str
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=2000)
    client = app.test_client()
    before = snapshot(app)
    kwargs = dict(request_kwargs)
    path = kwargs.pop("path", "/sparql")
    method = kwargs.pop("method", "GET")
    response = client.open(path, method=method, **kwargs)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert message in text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if status == 405:
        assert response.headers["Allow"]
    assert snapshot(app) == before


def test_the_405_for_an_update_by_get_allows_post(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"update": "CLEAR ALL"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_a_malformed_query_error_has_the_position_in_json(client: FlaskClient) -> None:
    response = client.get(
        "/sparql",
        query_string={"query": "SELECT * WHERE {\n  ?s ?p }"},
        headers={"Accept": "application/json"},
    )
    body = response.get_json()
    assert (body["status"], body["line"]) == (400, 2)
    assert body["column"] >= 1


# -- federated queries the operator allows --------------------------------------------------


class RecordingStore(OxigraphStore):
    """An in-memory store that records the queries it is asked instead of running SERVICE."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def query(self, sparql: str, **kwargs: Any) -> Any:
        self.asked.append(sparql)
        return super().query("ASK {}")


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("ASK { SERVICE <http://allowed.example/sparql> { ?s ?p ?o } }", 200, ""),
        ("ASK { SERVICE SILENT <http://allowed.example/sparql> {} }", 200, ""),
        ("ASK { SERVICE <http://other.example/sparql> {} }", 400, "is not allowed"),
        ("ASK { SERVICE ?endpoint {} }", 400, "full IRI"),
        ("ASK { SERVICE ex:endpoint {} }", 400, "full IRI"),
    ],
)
def test_service_is_allowed_only_to_the_endpoints_the_operator_lists(
    query: str, status: int, message: str
) -> None:
    store = RecordingStore()
    app = create_app(
        {"TESTING": True, "ALLOWED_SERVICES": "http://allowed.example/sparql, http://b.example/"},
        store=store,
    )
    response = app.test_client().get("/sparql", query_string={"query": query})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert store.asked == ([query] if status == 200 else [])


# -- CORS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sparql", "/rdf-graph-store", "/rdf-graph-store/x"])
def test_preflight_allows_methods_and_the_authorization_header(
    client: FlaskClient, path: str
) -> None:
    response = client.options(
        path,
        headers={
            "Origin": "https://yasgui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST"} <= methods
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "content-type", "accept"} <= allowed


@pytest.mark.parametrize(
    "path", ["/sparql?query=ASK%7B%7D", "/sparql", "/sparql?query=SELEC", "/nowhere", "/healthz"]
)
def test_every_answer_allows_any_origin_and_exposes_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Origin": "https://notebook.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = response.headers["Access-Control-Expose-Headers"]
    for name in (
        "Link",
        "Location",
        "X-Cokg-Row-Limit",
        "X-Cokg-Result-Truncated",
        "WWW-Authenticate",
    ):
        assert name in exposed


# -- the text of queries and updates ---------------------------------------------------------


def test_tokens_keep_braces_in_strings_iris_and_comments_out() -> None:
    found = [t.text for t in tokens('INSERT { <a> <b> "}{" } # }\n WHERE { ?s ?p ?o }')]
    assert found.count("{") == 2 and found.count("}") == 2


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (
            "INSERT { ?s a <http://x/C> } WHERE { ?s ?p ?o }",
            "INSERT { ?s a <http://x/C> } USING <http://g> USING NAMED <http://n> WHERE { ?s ?p ?o }",
        ),
        (
            "DELETE WHERE { ?s <http://x/p> ?o }",
            "DELETE { ?s <http://x/p> ?o } USING <http://g> USING NAMED <http://n> WHERE { ?s <http://x/p> ?o }",
        ),
        (
            "CLEAR ALL ; INSERT DATA { <http://a> <http://b> 'where' } ; DELETE { ?s ?p ?o } WHERE { { SELECT * WHERE { ?s ?p ?o } } }",
            "CLEAR ALL ; INSERT DATA { <http://a> <http://b> 'where' } ; DELETE { ?s ?p ?o } USING <http://g> USING NAMED <http://n> WHERE { { SELECT * WHERE { ?s ?p ?o } } }",
        ),
    ],
)
def test_protocol_dataset_becomes_using_clauses(update: str, expected: str) -> None:
    assert with_using(update, ["http://g"], ["http://n"]) == expected


def test_the_rewritten_updates_mean_what_the_protocol_says() -> None:
    store = OxigraphStore()
    store.update(
        "INSERT DATA { GRAPH <http://g1> { <http://a> a <http://C> } "
        "GRAPH <http://g2> { <http://b> a <http://C> } }"
    )
    store.update(
        with_using(
            "INSERT { GRAPH <http://out> { ?s a <http://D> } } WHERE { ?s a <http://C> }",
            ["http://g1"],
            [],
        )
    )
    found = store.query("SELECT ?s WHERE { GRAPH <http://out> { ?s ?p ?o } }")
    assert [row["s"].value for row in found] == ["http://a"]  # type: ignore[union-attr]


def test_service_endpoints_are_read_past_silent_and_comments() -> None:
    query = "SELECT * { SERVICE # c\n SILENT <http://a/> {} SERVICE <rel> {} }"
    assert service_endpoints(query) == ["http://a/", None]


def test_with_base_leaves_absolute_queries_alone() -> None:
    assert with_base("ASK { <http://a> ?p ?o }", BASE) == ("ASK { <http://a> ?p ?o }", 0)


def test_an_ask_answer_serialises_as_a_boolean(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": ASK, "format": "srx"})
    answer = parse_query_results(response.data, QueryResultsFormat.XML)
    assert isinstance(answer, QueryBoolean) and bool(answer)


@pytest.mark.parametrize(
    "module", ["query_text", "negotiation", "service_description", "results", "gsp", "auth", "cors"]
)
def test_doctests_of_the_endpoint_modules(module: str) -> None:
    # pytest collects doctests from cokg/ only; the server package lives in server/.
    result = doctest.testmod(importlib.import_module(f"cokg.server.{module}"))
    assert result.failed == 0
