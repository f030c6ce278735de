"""The web app on an in-memory store: /healthz, the minimal /sparql route, error rendering."""

from __future__ import annotations

import doctest
import importlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyoxigraph import QueryResultsFormat, RdfFormat, parse, parse_query_results

from cokg.errors import StoreUnavailable
from cokg.formats import TURTLE
from cokg.server import create_app
from cokg.server.errors import error_response
from cokg.server.sparql import uses_service
from cokg.sparql_store import SparqlStore
from cokg.store import OxigraphStore
from tests.servers import free_port

EX = "http://example.org/"
GRAPH = f"{EX}graph/tiny"
TINY = f"""
@prefix ex: <{EX}> .
@prefix dcterms: <http://purl.org/dc/terms/> .
ex:p1 a ex:Project ; dcterms:title "Participatory budgeting"@en .
ex:p2 a ex:Project ; dcterms:title "A <script>alert('x')</script> title"@en .
ex:p3 a ex:Project ; dcterms:title "Citizens' juries"@en .
"""
TINY_TRIPLES = 6

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def tiny_store() -> OxigraphStore:
    store = OxigraphStore()
    store.replace_graph(GRAPH, TINY.encode(), TURTLE)
    return store


@pytest.fixture
def app() -> Flask:
    app: Flask = create_app({"TESTING": True}, store=tiny_store())
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def down_client() -> Iterator[FlaskClient]:
    """A client of an app whose store is an engine that does not run (nothing on the port)."""
    store = SparqlStore(f"http://127.0.0.1:{free_port()}/query", timeout=2, retries=0)
    app = create_app({"TESTING": True, "RETRY_AFTER": 7}, store=store)
    yield app.test_client()


def select(client: FlaskClient, query: str, **parameters: str) -> list[dict[str, str]]:
    response = client.get("/sparql", query_string={"query": query, **parameters})
    assert response.status_code == 200, response.get_data(as_text=True)
    results = parse_query_results(response.data, QueryResultsFormat.JSON)
    return [{v.value: row[v].value for v in results.variables} for row in results]  # type: ignore[union-attr]


# -- /healthz -------------------------------------------------------------------------------


def test_healthz_reports_store_triples_version_backend(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    report = response.get_json()
    assert report["status"] == "ok"
    assert report["store"] == "reachable"
    assert report["triples"] == TINY_TRIPLES
    assert report["version"]
    assert report["backend"] == "OxigraphStore(in memory)"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_with_retry_after_when_the_store_is_down(down_client: FlaskClient) -> None:
    response = down_client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    report = response.get_json()
    assert report["status"] == "unavailable"
    assert report["store"] == "unreachable"
    assert report["triples"] is None
    assert "cannot reach" in report["error"]


# -- /sparql --------------------------------------------------------------------------------


def test_select_by_get_answers_sparql_json(client: FlaskClient) -> None:
    rows = select(client, "SELECT ?t WHERE { ?p dcterms:title ?t } ORDER BY ?t")
    assert [row["t"] for row in rows] == [
        "A <script>alert('x')</script> title",
        "Citizens' juries",
        "Participatory budgeting",
    ]


def test_select_by_form_post_and_by_sparql_query_body(client: FlaskClient) -> None:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?p a <{EX}Project> }}"
    for response in (
        client.post("/sparql", data={"query": query}),
        client.post("/sparql", data=query, content_type="application/sparql-query"),
    ):
        assert response.status_code == 200
        assert response.mimetype == "application/sparql-results+json"
        assert response.get_json()["results"]["bindings"][0]["n"]["value"] == "3"


def test_select_dataset_parameters_are_passed_on(client: FlaskClient) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert select(client, query)[0]["n"] == str(TINY_TRIPLES)
    only_tiny = select(client, query, **{"default-graph-uri": GRAPH})
    assert only_tiny[0]["n"] == str(TINY_TRIPLES)
    nothing = select(client, query, **{"default-graph-uri": f"{EX}graph/none"})
    assert nothing[0]["n"] == "0"


def test_ask_answers_a_boolean(client: FlaskClient) -> None:
    yes = client.get("/sparql", query_string={"query": f"ASK {{ <{EX}p1> ?p ?o }}"})
    no = client.get("/sparql", query_string={"query": f"ASK {{ <{EX}p9> ?p ?o }}"})
    assert yes.status_code == no.status_code == 200
    assert yes.get_json() == {"head": {}, "boolean": True}
    assert no.get_json()["boolean"] is False


@pytest.mark.parametrize(
    ("accept", "media_type", "first_line"),
    [
        ("application/sparql-results+json", "application/sparql-results+json", "{"),
        ("application/sparql-results+xml", "application/sparql-results+xml", "<?xml"),
        ("text/csv", "text/csv", "t"),
        ("text/tab-separated-values", "text/tab-separated-values", "?t"),
        ("*/*", "application/sparql-results+json", "{"),
    ],
)
def test_select_results_format_follows_accept(
    client: FlaskClient, accept: str, media_type: str, first_line: str
) -> None:
    response = client.get(
        "/sparql",
        query_string={"query": "SELECT ?t WHERE { ?p dcterms:title ?t }"},
        headers={"Accept": accept},
    )
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.get_data(as_text=True).startswith(first_line)
    assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize(
    ("accept", "media_type", "rdf_format"),
    [
        (None, "text/turtle", RdfFormat.TURTLE),
        ("text/turtle", "text/turtle", RdfFormat.TURTLE),
        ("application/n-triples", "application/n-triples", RdfFormat.N_TRIPLES),
        ("application/rdf+xml", "application/rdf+xml", RdfFormat.RDF_XML),
        ("application/ld+json", "application/ld+json", RdfFormat.JSON_LD),
    ],
)
def test_construct_answers_rdf_by_accept(
    client: FlaskClient, accept: str | None, media_type: str, rdf_format: RdfFormat
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(
        "/sparql",
        query_string={"query": "CONSTRUCT WHERE { ?p dcterms:title ?t }"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.mimetype == media_type
    triples = list(parse(response.data, rdf_format))
    assert len(triples) == 3
    assert any("<script>" in t.object.value for t in triples)


def test_describe_answers_turtle(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": f"DESCRIBE <{EX}p1>"})
    assert response.status_code == 200
    assert response.mimetype == "text/turtle"
    assert len(list(parse(response.data, RdfFormat.TURTLE))) == 2


def test_malformed_query_is_400_with_the_parsers_message_and_position(
    client: FlaskClient,
) -> None:
    response = client.get(
        "/sparql",
        query_string={"query": "SELECT ?s WHERE { ?s ?p }"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400
    assert body["error"].startswith("malformed query:")
    assert body["line"] == 1
    assert body["column"] > len("SELECT ?s WHERE {")


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        (
            {"method": "POST", "data": "", "content_type": "application/x-www-form-urlencoded"},
            "no query",
        ),
        ({"query_string": [("query", "ASK {}"), ("query", "ASK {}")]}, "more than one"),
    ],
)
def test_missing_or_repeated_query_is_400(
    client: FlaskClient, request_kwargs: dict[str, object], message: str
) -> None:
    response = client.open("/sparql", **request_kwargs)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_post_with_another_media_type_is_415(client: FlaskClient) -> None:
    response = client.post("/sparql", data="ASK {}", content_type="text/turtle")
    assert response.status_code == 415
    assert "application/sparql-query" in response.get_data(as_text=True)


def test_service_is_refused_before_it_reaches_the_store(client: FlaskClient) -> None:
    query = "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"
    response = client.get("/sparql", query_string={"query": query})
    assert response.status_code == 400
    assert "SERVICE" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("SELECT * { SERVICE <http://x/> { ?s ?p ?o } }", True),
        ("SELECT * { service ?endpoint { ?s ?p ?o } }", True),
        ("SELECT * { ?s ?p ?o .SERVICE SILENT <http://x/> {} }", True),
        ("SELECT * { ?s ?p ?o } #\nSERVICE <http://x/> {}", True),
        ('SELECT * { ?s ?p "a\\"" . SERVICE <http://x/> {} }', True),
        ('SELECT * { ?s ?p """a""" . SERVICE <http://x/> {} }', True),
        ("SELECT ?service { ?service ?p $SERVICE }", False),
        ("SELECT * { ?s <http://x/SERVICE> ex:SERVICE }", False),
        ('SELECT * { ?s ?p "SERVICE", """SERVICE""", \'SERVICE\' }', False),
        ("SELECT * { ?s ?p ?o } # SERVICE <http://x/>", False),
        ("SELECT * { _:SERVICE ?p ?o }", False),
    ],
)
def test_uses_service_finds_the_keyword_only(query: str, refused: bool) -> None:
    assert uses_service(query) is refused


def test_store_down_is_503_with_retry_after_and_a_clear_message(
    down_client: FlaskClient,
) -> None:
    response = down_client.get(
        "/sparql", query_string={"query": "ASK {}"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert "cannot reach" in response.get_json()["error"]


# -- error rendering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/json", "application/json"),
        ("application/sparql-results+json", "application/json"),
        ("application/ld+json;q=0.9, text/plain;q=0.1", "application/json"),
        (BROWSER, "text/html"),
        ("text/plain", "text/plain"),
        ("*/*", "text/plain"),
        (None, "text/plain"),
        ("text/turtle", "text/plain"),
    ],
)
def test_errors_render_in_the_negotiated_format(
    client: FlaskClient, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", query_string={"query": "SELEC"}, headers=headers)
    assert response.status_code == 400
    assert response.mimetype == media_type
    assert response.headers["Vary"] == "Accept"
    text = response.get_data(as_text=True)
    assert "malformed query" in text
    if media_type == "application/json":
        assert json.loads(text)["status"] == 400
    elif media_type == "text/html":
        assert "<h1>400 Bad Request</h1>" in text
    else:
        assert text.startswith("400 Bad Request: malformed query")


def test_html_error_pages_escape_the_message(app: Flask) -> None:
    with app.test_request_context(headers={"Accept": BROWSER}):
        response = error_response(400, "bad <script>alert('x')</script> & more")
    page = response.get_data(as_text=True)
    assert "<script>" not in page
    assert "bad &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page


def test_client_text_in_an_error_is_escaped_on_the_page(client: FlaskClient) -> None:
    response = client.post(
        "/sparql",
        data="ASK {}",
        headers={"Content-Type": "text/x<script>alert(1)</script>", "Accept": BROWSER},
    )
    assert response.status_code == 415
    page = response.get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_unknown_route_is_404_in_the_negotiated_format(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_wrong_method_is_405_and_keeps_allow(client: FlaskClient) -> None:
    response = client.delete("/sparql")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_oversize_body_is_413() -> None:
    app = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 100}, store=tiny_store())
    response = app.test_client().post("/sparql", data={"query": "ASK {}" + " " * 200})
    assert response.status_code == 413


def test_unexpected_errors_are_a_logged_500_that_gives_nothing_away(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/broken", view_func=broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/broken", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert response.get_json()["error"].startswith("internal server error")
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_store_unavailable_raised_by_a_view_gets_retry_after(app: Flask) -> None:
    def unavailable() -> str:
        raise StoreUnavailable("the engine is restarting")

    app.add_url_rule("/unavailable", view_func=unavailable)
    response = app.test_client().get("/unavailable")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_data(as_text=True) == (
        "503 Service Unavailable: the engine is restarting\n"
    )


# -- create_app -----------------------------------------------------------------------------


def test_config_order_is_defaults_then_environment_then_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert create_app(store=tiny_store()).config["RETRY_AFTER"] == 5
    monkeypatch.setenv("COKG_RETRY_AFTER", "11")
    monkeypatch.setenv("COKG_BASE_IRI", "http://localhost:8080/")
    from_env = create_app(store=tiny_store())
    assert from_env.config["RETRY_AFTER"] == 11
    assert from_env.extensions["cokg"].base_iri == "http://localhost:8080/"
    assert create_app({"RETRY_AFTER": 2}, store=tiny_store()).config["RETRY_AFTER"] == 2


def test_the_app_opens_the_configured_store_folder(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    store = OxigraphStore(folder)
    store.replace_graph(GRAPH, TINY.encode(), TURTLE)
    store.close()
    del store  # releases the folder
    app = create_app({"STORE": str(folder)})
    report = app.test_client().get("/healthz").get_json()
    assert report["triples"] == TINY_TRIPLES
    assert str(folder) in report["backend"]


def test_without_a_store_the_app_serves_the_shipped_knowledge_base() -> None:
    client = create_app().test_client()
    rows = select(client, "SELECT (COUNT(*) AS ?n) WHERE { ?c a skos:ConceptScheme }")
    assert int(rows[0]["n"]) > 0


@pytest.mark.parametrize("module", ["sparql", "errors", "health", "engine", "embedded", "run"])
def test_doctests_of_the_server_modules(module: str) -> None:
    # pytest collects doctests from cokg/ only; the server package lives in server/.
    result = doctest.testmod(importlib.import_module(f"cokg.server.{module}"))
    assert result.failed == 0


def test_healthz_count_follows_a_write_through_the_app() -> None:
    store = OxigraphStore()
    app = create_app({"TESTING": True, "WRITE_TOKEN": "t0ken"}, store=store)
    client = app.test_client()
    assert client.get("/healthz").get_json()["triples"] == 0
    written = client.post(
        "/sparql",
        data={"update": "INSERT DATA { <http://example.org/s> <http://example.org/p> 1 }"},
        headers={"Authorization": "Bearer t0ken"},
    )
    assert written.status_code in (200, 204)
    deadline = time.monotonic() + 5
    while client.get("/healthz").get_json()["triples"] != 1:
        assert time.monotonic() < deadline, "the count never caught up with the write"
        threading.Event().wait(0.05)  # let the background count run
