"""The SPARQL 1.1 Graph Store HTTP Protocol at /rdf-graph-store on an in-memory store."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from pyoxigraph import BlankNode, DefaultGraph, Quad, RdfFormat, parse, serialize
from rdflib.compare import isomorphic

from cokg.formats import NQUADS, TURTLE
from cokg.server import WriteEvent, create_app
from cokg.store import OxigraphStore, dump_to_bytes

EX = "http://example.org/"
BASE = "https://kb.example/"
GRAPH = f"{EX}graph/people"
TOKEN = "gsp-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALICE = f"""
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<{EX}alice> a foaf:Person ; foaf:name "Alice" ; foaf:knows [ foaf:name "Bob" ] .
"""
CAROL = f'<{EX}carol> <http://xmlns.com/foaf/0.1/name> "Carol" .\n'


def make_app(**config: Any) -> Flask:
    store = OxigraphStore()
    store.replace_graph(GRAPH, ALICE.encode(), TURTLE)
    settings = {"TESTING": True, "BASE_IRI": BASE, "WRITE_TOKEN": TOKEN, **config}
    app: Flask = create_app(settings, store=store)
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def events(app: Flask) -> list[WriteEvent]:
    seen: list[WriteEvent] = []
    app.extensions["cokg"].on_write.append(seen.append)
    return seen


def store_of(app: Flask) -> OxigraphStore:
    store = app.extensions["cokg"].store
    assert isinstance(store, OxigraphStore)
    return store


def snapshot(app: Flask) -> bytes:
    return b"\n".join(sorted(dump_to_bytes(store_of(app), NQUADS).splitlines()))


def parse_rdflib(data: bytes, fmt: str) -> rdflib.Graph:
    """Parse with rdflib (whose JSON-LD parser still warns about its own ConjunctiveGraph)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=data, format=fmt)


def graph_of(response: Any) -> rdflib.Graph:
    fmt = {
        "text/turtle": "turtle",
        "application/n-triples": "nt",
        "application/rdf+xml": "xml",
        "application/ld+json": "json-ld",
    }[response.mimetype]
    return parse_rdflib(response.data, fmt)


def expected(turtle: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=turtle, format="turtle")


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "text/turtle"),
        ("text/turtle; charset=utf-8", "text/turtle"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml;q=0.5, application/n-triples", "application/n-triples"),
    ],
)
def test_get_answers_the_graph_in_the_negotiated_format(
    client: FlaskClient, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/rdf-graph-store", query_string={"graph": GRAPH}, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Vary"] == "Accept"
    assert isomorphic(graph_of(response), expected(ALICE))


def test_get_with_an_unacceptable_type_is_406(client: FlaskClient) -> None:
    response = client.get(
        "/rdf-graph-store", query_string={"graph": GRAPH}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 406
    assert "text/turtle" in response.get_data(as_text=True)


def test_format_parameter_chooses_the_format(client: FlaskClient) -> None:
    response = client.get("/rdf-graph-store", query_string={"graph": GRAPH, "format": "nt"})
    assert response.mimetype == "application/n-triples"


def test_head_answers_the_headers_only(client: FlaskClient) -> None:
    response = client.head("/rdf-graph-store", query_string={"graph": GRAPH})
    assert response.status_code == 200
    assert response.mimetype == "text/turtle"
    assert response.data == b""
    assert int(response.headers["Content-Length"]) > 0


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_missing_graph_is_404(client: FlaskClient, method: str) -> None:
    response = client.open(
        "/rdf-graph-store", method=method, query_string={"graph": f"{EX}graph/none"}
    )
    assert response.status_code == 404


# -- writing -----------------------------------------------------------------------------------


def test_put_creates_then_replaces(app: Flask, client: FlaskClient, events: list[Any]) -> None:
    target = f"{EX}graph/carol"
    created = client.put(
        "/rdf-graph-store",
        query_string={"graph": target},
        data=CAROL,
        content_type="application/n-triples",
        headers=AUTH,
    )
    assert created.status_code == 201
    assert created.headers["Location"] == target
    replaced = client.put(
        "/rdf-graph-store",
        query_string={"graph": target},
        data=f'<{EX}carol> <http://xmlns.com/foaf/0.1/name> "Caroline" .',
        content_type="text/turtle; charset=utf-8",
        headers=AUTH,
    )
    assert replaced.status_code == 204
    answer = client.get("/rdf-graph-store", query_string={"graph": target, "format": "nt"})
    assert answer.get_data(as_text=True).count("\n") == 1
    assert "Caroline" in answer.get_data(as_text=True)
    assert events == [WriteEvent("replace", (target,)), WriteEvent("replace", (target,))]
    # later reads through SPARQL see it
    ask = client.get("/sparql", query_string={"query": 'ASK { ?s ?p "Caroline" }'})
    assert ask.get_json()["boolean"] is True


def test_post_adds_and_keeps_blank_nodes_apart(client: FlaskClient) -> None:
    body = '_:x <http://xmlns.com/foaf/0.1/name> "Dan" .'
    for _ in range(2):
        response = client.post(
            "/rdf-graph-store",
            query_string={"graph": GRAPH},
            data=body,
            content_type="text/turtle",
            headers=AUTH,
        )
        assert response.status_code == 204
    answer = client.get("/rdf-graph-store", query_string={"graph": GRAPH, "format": "nt"})
    triples = list(parse(answer.data, RdfFormat.N_TRIPLES))
    dans = [t.subject for t in triples if t.object.value == "Dan"]
    assert len(dans) == 2 and len(set(dans)) == 2
    assert all(isinstance(d, BlankNode) for d in dans)
    assert len(triples) == 4 + 2


def test_post_to_a_new_graph_is_201(client: FlaskClient) -> None:
    response = client.post(
        "/rdf-graph-store",
        query_string={"graph": f"{EX}graph/fresh"},
        data=CAROL,
        content_type="application/n-triples",
        headers=AUTH,
    )
    assert response.status_code == 201


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_an_empty_body_makes_an_empty_graph(
    client: FlaskClient, events: list[Any], method: str
) -> None:
    """GSP §5.3/§5.5: the graph is created (201), then read as an empty graph (200, not
    404), answered 204 when sent again, and deleted like any other."""
    target = {"graph": f"{EX}graph/empty"}
    sent = {"data": b"", "content_type": "text/turtle", "headers": AUTH}
    created = client.open("/rdf-graph-store", method=method, query_string=target, **sent)
    assert created.status_code == 201
    assert created.headers["Location"] == target["graph"]
    read = client.get("/rdf-graph-store", query_string={**target, "format": "nt"})
    assert (read.status_code, read.data) == (200, b"")
    again = client.open("/rdf-graph-store", method=method, query_string=target, **sent)
    assert again.status_code == 204
    operation = "replace" if method == "PUT" else "add"
    assert events == [WriteEvent(operation, (target["graph"],))] * (2 if method == "PUT" else 1)
    assert client.delete("/rdf-graph-store", query_string=target, headers=AUTH).status_code == 204
    assert client.get("/rdf-graph-store", query_string=target).status_code == 404


def test_post_multipart_adds_every_part(client: FlaskClient) -> None:
    parts = {
        "first.ttl": (io.BytesIO(CAROL.encode()), "first.ttl", "text/turtle"),
        "second.nt": (
            io.BytesIO(f'<{EX}erin> <http://xmlns.com/foaf/0.1/name> "Erin" .'.encode()),
            "second.nt",
            "application/n-triples",
        ),
    }
    response = client.post(
        "/rdf-graph-store",
        query_string={"graph": GRAPH},
        data=parts,
        content_type="multipart/form-data",
        headers=AUTH,
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    text = client.get("/rdf-graph-store", query_string={"graph": GRAPH}).get_data(as_text=True)
    assert "Carol" in text and "Erin" in text and "Alice" in text


def test_post_to_the_store_creates_a_graph_with_a_new_iri(client: FlaskClient) -> None:
    response = client.post(
        "/rdf-graph-store", data=CAROL, content_type="application/n-triples", headers=AUTH
    )
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(BASE + "rdf-graph-store/")
    answer = client.get("/rdf-graph-store", query_string={"graph": location, "format": "nt"})
    assert answer.status_code == 200
    assert "Carol" in answer.get_data(as_text=True)


def test_delete_drops_the_graph(app: Flask, client: FlaskClient, events: list[Any]) -> None:
    response = client.delete("/rdf-graph-store", query_string={"graph": GRAPH}, headers=AUTH)
    assert response.status_code == 204
    assert client.get("/rdf-graph-store", query_string={"graph": GRAPH}).status_code == 404
    again = client.delete("/rdf-graph-store", query_string={"graph": GRAPH}, headers=AUTH)
    assert again.status_code == 404
    assert store_of(app).count() == 0
    assert events == [WriteEvent("delete", (GRAPH,))]


def test_the_default_graph_is_read_written_and_cleared(
    app: Flask, client: FlaskClient, events: list[Any]
) -> None:
    empty = client.get("/rdf-graph-store?default", headers={"Accept": "application/n-triples"})
    assert (empty.status_code, empty.data) == (200, b"")
    put = client.put(
        "/rdf-graph-store?default", data=CAROL, content_type="text/turtle", headers=AUTH
    )
    assert put.status_code == 204
    post = client.post(
        "/rdf-graph-store?default",
        data='_:b <http://xmlns.com/foaf/0.1/name> "Fay" .',
        content_type="text/turtle",
        headers=AUTH,
    )
    assert post.status_code == 204
    text = client.get("/rdf-graph-store?default&format=nt").get_data(as_text=True)
    assert "Carol" in text and "Fay" in text and "Alice" not in text
    # the union default graph of queries includes it
    ask = client.get("/sparql", query_string={"query": 'ASK { ?s ?p "Fay" }'})
    assert ask.get_json()["boolean"] is True
    assert client.delete("/rdf-graph-store?default", headers=AUTH).status_code == 204
    assert client.get("/rdf-graph-store?default&format=nt").data == b""
    assert store_of(app).count(GRAPH) == 4  # the named graph is untouched
    assert [e.graphs for e in events] == [(None,), (None,), (None,)]


def test_direct_identification_maps_the_path_onto_the_base_iri(client: FlaskClient) -> None:
    put = client.put(
        "/rdf-graph-store/people/carol.ttl", data=CAROL, content_type="text/turtle", headers=AUTH
    )
    assert put.status_code == 201
    assert put.headers["Location"] == BASE + "rdf-graph-store/people/carol.ttl"
    by_parameter = client.get(
        "/rdf-graph-store", query_string={"graph": BASE + "rdf-graph-store/people/carol.ttl"}
    )
    assert by_parameter.status_code == 200
    assert client.get("/rdf-graph-store/people/carol.ttl").data == by_parameter.data
    assert client.delete("/rdf-graph-store/people/carol.ttl", headers=AUTH).status_code == 204
    assert client.get("/rdf-graph-store/people/carol.ttl").status_code == 404


def test_percent_encoding_is_decoded_once(client: FlaskClient) -> None:
    for path, name in [("%31", "one"), ("%2531", "percent")]:
        response = client.put(
            f"/rdf-graph-store?graph=http://ex.example/{path}",
            data=f'<{EX}x> <{EX}name> "{name}" .',
            content_type="text/turtle",
            headers=AUTH,
        )
        assert response.status_code == 201
    one = client.get("/rdf-graph-store?graph=http://ex.example/1&format=nt")
    percent = client.get("/rdf-graph-store?graph=http%3A%2F%2Fex.example%2F%2531&format=nt")
    assert b'"one"' in one.data and b'"percent"' in percent.data


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("text/turtle", RdfFormat.TURTLE),
        ("application/n-triples", RdfFormat.N_TRIPLES),
        ("application/rdf+xml", RdfFormat.RDF_XML),
        ("application/ld+json", RdfFormat.JSON_LD),
        ("application/trig", RdfFormat.TRIG),
        ("application/n-quads", RdfFormat.N_QUADS),
    ],
)
def test_put_accepts_every_rdf_format(client: FlaskClient, content_type: str, fmt: Any) -> None:
    triples = [q.triple for q in parse(ALICE.encode(), RdfFormat.TURTLE)]
    if fmt.supports_datasets:
        body = serialize(
            [Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in triples], format=fmt
        )
    else:
        body = serialize(triples, format=fmt)
    target = f"{EX}graph/copy"
    response = client.put(
        "/rdf-graph-store",
        query_string={"graph": target},
        data=body,
        content_type=content_type,
        headers=AUTH,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = client.get("/rdf-graph-store", query_string={"graph": target})
    assert isomorphic(graph_of(answer), expected(ALICE))


def test_relative_iris_in_a_body_resolve_against_the_graph(client: FlaskClient) -> None:
    client.put(
        "/rdf-graph-store",
        query_string={"graph": f"{EX}docs/me"},
        data='<#me> <http://xmlns.com/foaf/0.1/name> "Me" .',
        content_type="text/turtle",
        headers=AUTH,
    )
    text = client.get("/rdf-graph-store", query_string={"graph": f"{EX}docs/me", "format": "nt"})
    assert f"<{EX}docs/me#me>".encode() in text.data


# -- bad requests: clear status and message, store unchanged ---------------------------------

Request = dict[str, Any]
GSP_BAD_REQUESTS: list[tuple[str, Request, int, str]] = [
    (
        "write without a token",
        {"method": "PUT", "data": CAROL, "content_type": "text/turtle", "headers": {}},
        401,
        "Bearer",
    ),
    (
        "write with a wrong token",
        {
            "method": "PUT",
            "data": CAROL,
            "content_type": "text/turtle",
            "headers": {"Authorization": "Bearer x"},
        },
        403,
        "not valid",
    ),
    ("delete without a token", {"method": "DELETE", "headers": {}}, 401, "Bearer"),
    (
        "malformed Turtle",
        {"method": "PUT", "data": "<a> <b> .", "content_type": "text/turtle"},
        400,
        "the request body:1:",
    ),
    (
        "malformed RDF/XML",
        {"method": "PUT", "data": "<rdf:RDF", "content_type": "application/rdf+xml"},
        400,
        "the request body",
    ),
    ("no media type", {"method": "PUT", "data": CAROL}, 415, "no Content-Type"),
    (
        "unknown media type",
        {"method": "PUT", "data": CAROL, "content_type": "text/csv"},
        415,
        "text/turtle",
    ),
    (
        "not UTF-8",
        {
            "method": "PUT",
            "data": '<http://a> <http://b> "\xe9" .'.encode("latin-1"),
            "content_type": "text/turtle",
        },
        400,
        "not UTF-8",
    ),
    (
        "declared charset",
        {"method": "PUT", "data": CAROL, "content_type": "text/turtle; charset=latin-1"},
        400,
        "must be UTF-8",
    ),
    (
        "TriG naming a graph",
        {"method": "PUT", "data": f"<{EX}g> {{ {CAROL} }}", "content_type": "application/trig"},
        400,
        "names a graph of its own",
    ),
    (
        "multipart PUT",
        {
            "method": "PUT",
            "data": {"a": (io.BytesIO(CAROL.encode()), "a.ttl", "text/turtle")},
            "content_type": "multipart/form-data",
        },
        415,
        "POST only",
    ),
    (
        "multipart text field",
        {"method": "POST", "data": {"a": CAROL}, "content_type": "multipart/form-data"},
        415,
        "file part",
    ),
    (
        "relative graph IRI",
        {"method": "GET", "query_string": {"graph": "people"}},
        400,
        "absolute IRI",
    ),
    (
        "graph IRI the store refuses",
        {"method": "GET", "query_string": {"graph": "http://[bad"}},
        400,
        "absolute IRI",
    ),
    (
        "graph and default",
        {"method": "GET", "path": "/rdf-graph-store?default&graph=http://a"},
        400,
        "name one",
    ),
    (
        "two graphs",
        {"method": "GET", "query_string": [("graph", "http://a"), ("graph", "http://b")]},
        400,
        "more than one",
    ),
    (
        "non-UTF-8 graph parameter",
        {"method": "GET", "path": "/rdf-graph-store?graph=http://a/%FF"},
        400,
        "not UTF-8",
    ),
    ("GET the store", {"method": "GET", "path": "/rdf-graph-store"}, 400, "name the graph"),
    (
        "PUT the store",
        {"method": "PUT", "path": "/rdf-graph-store", "data": CAROL, "content_type": "text/turtle"},
        400,
        "name the graph",
    ),
    ("DELETE the store", {"method": "DELETE", "path": "/rdf-graph-store"}, 400, "name the graph"),
    (
        "path and parameter",
        {"method": "GET", "path": "/rdf-graph-store/x?graph=http://a"},
        400,
        "not both",
    ),
    (
        "delete a missing graph",
        {"method": "DELETE", "query_string": {"graph": f"{EX}none"}},
        404,
        "no graph",
    ),
    (
        "oversize body",
        {"method": "PUT", "data": CAROL * 100, "content_type": "text/turtle"},
        413,
        "at most 2000 bytes",
    ),
    (
        "PATCH",
        {"method": "PATCH", "data": CAROL, "content_type": "text/turtle"},
        405,
        "Method Not Allowed",
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [case[1:] for case in GSP_BAD_REQUESTS],
    ids=[case[0] for case in GSP_BAD_REQUESTS],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    request_kwargs: Request, status: int, message: str
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=2000)
    before = snapshot(app)
    kwargs = dict(request_kwargs)
    method = kwargs.pop("method")
    if "path" not in kwargs and "query_string" not in kwargs:
        kwargs["query_string"] = {"graph": GRAPH}
    path = kwargs.pop("path", "/rdf-graph-store")
    headers = kwargs.pop("headers", AUTH)
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert message in text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="cokg"'
    assert snapshot(app) == before


def test_writes_are_refused_when_no_token_is_configured() -> None:
    app = make_app(WRITE_TOKEN="")
    before = snapshot(app)
    response = app.test_client().put(
        "/rdf-graph-store",
        query_string={"graph": GRAPH},
        data=CAROL,
        content_type="text/turtle",
        headers=AUTH,
    )
    assert response.status_code == 403
    assert "COKG_WRITE_TOKEN" in response.get_data(as_text=True)
    assert snapshot(app) == before
    # reading still works
    assert (
        app.test_client().get("/rdf-graph-store", query_string={"graph": GRAPH}).status_code == 200
    )


def test_a_malformed_put_leaves_the_old_graph_whole(app: Flask, client: FlaskClient) -> None:
    before = snapshot(app)
    response = client.put(
        "/rdf-graph-store",
        query_string={"graph": GRAPH},
        data=CAROL + "<broken",
        content_type="text/turtle",
        headers=AUTH,
    )
    assert response.status_code == 400
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("path", "graph"),
    [
        ("/rdf-graph-store/a%2531", "rdf-graph-store/a%2531"),
        ("/rdf-graph-store/two%20words", "rdf-graph-store/two%20words"),
        ("/rdf-graph-store/%C3%A9t%C3%A9", "rdf-graph-store/%C3%A9t%C3%A9"),
    ],
)
def test_a_direct_path_is_the_graph_iri_as_sent(client: FlaskClient, path: str, graph: str) -> None:
    response = client.put(path, data=CAROL, content_type="text/turtle", headers=AUTH)
    assert response.status_code == 201
    assert response.headers["Location"] == BASE + graph
    assert client.get("/rdf-graph-store", query_string={"graph": BASE + graph}).status_code == 200
