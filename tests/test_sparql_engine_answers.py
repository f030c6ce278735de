"""/sparql over a remote engine: answers pass through as the engine's TSV or N-Triples text.

Over a :class:`~cokg.sparql_store.SparqlStore`, the endpoint takes Oxigraph's TSV answer to a
SELECT (N-Triples answer to a CONSTRUCT or DESCRIBE) as text, cuts it at the row cap by
counting lines and parses it at most once, to write the format the client asked for. These tests run the same requests through the app over a real
``oxigraph serve`` and over the embedded store, and compare what a client gets: the same
bytes, the same announced cap, exactly the cap's rows in every format. An engine answer that
is cut short or malformed becomes a clear error, never a short 200. A scripted engine sends the
malformed answers Oxigraph itself never writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pyoxigraph import RdfFormat, Triple, parse

from cokg.errors import StoreUnavailable
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, TURTLE
from cokg.server import create_app
from cokg.server import results as results_module
from cokg.server import solutions as solutions_module
from cokg.sparql_store import SolutionsText, SparqlStore, TriplesText
from tests.servers import oxigraph_server
from tests.test_sparql_protocol import BASE, GRAPH, SELECT, TINY, TOKEN, rows, tiny_store

pytestmark = pytest.mark.slow

FORMATS = [f.name for f in RESULTS_FORMATS]
GRAPH_FORMATS = [f.name for f in RDF_FORMATS]
MANY = 400
"""Rows of the larger graph: big enough to be cut, small enough to be quick."""
MANY_GRAPH = "http://example.org/graph/many"
MANY_SELECT = "SELECT ?s ?n WHERE { ?s <http://example.org/n> ?n } ORDER BY ?n"
MANY_CONSTRUCT = "CONSTRUCT WHERE { ?s <http://example.org/label> ?l }"
ITEM_DESCRIBE = "DESCRIBE <http://example.org/item/7>"


def many_triples(count: int = MANY) -> bytes:
    """Turtle for ``count`` items, each with a number and a label that needs escaping."""
    return "".join(
        f"<http://example.org/item/{i}> <http://example.org/n> {i} ; "
        f'<http://example.org/label> "line\\none\\ttab \\"{i}\\" é"@fr .\n'
        for i in range(count)
    ).encode()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``oxigraph serve`` holding the tiny knowledge base and the larger graph."""
    with oxigraph_server(tmp_path_factory.mktemp("answers")) as base:
        store = SparqlStore.for_endpoint(base + "/query")
        store.replace_graph(GRAPH, TINY.encode(), TURTLE)
        store.replace_graph(MANY_GRAPH, many_triples(), TURTLE)
        store.close()
        yield base + "/query"


def clients(engine: str, **config: Any) -> tuple[FlaskClient, FlaskClient]:
    """Return test clients of the app over the engine and over the embedded store."""
    settings = {"TESTING": True, "BASE_IRI": BASE, "WRITE_TOKEN": TOKEN, **config}
    embedded = tiny_store()
    embedded.replace_graph(MANY_GRAPH, many_triples(), TURTLE)
    remote = create_app(settings, store=SparqlStore.for_endpoint(engine)).test_client()
    return remote, create_app(settings, store=embedded).test_client()


def ask(client: FlaskClient, query: str, fmt: str) -> Any:
    return client.get("/sparql", query_string={"query": query, "format": fmt})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("query", "cap"), [(SELECT, 2), (SELECT, 3), (MANY_SELECT, 150)])
def test_the_engine_path_answers_as_the_embedded_store(
    engine: str, query: str, cap: int, fmt: str
) -> None:
    remote, embedded = clients(engine, MAX_ROWS=cap)
    through, local = ask(remote, query, fmt), ask(embedded, query, fmt)
    assert through.status_code == local.status_code == 200
    assert through.data == local.data
    for header in ("Content-Type", "X-Cokg-Row-Limit", "X-Cokg-Result-Truncated", "Warning"):
        assert through.headers.get(header) == local.headers.get(header)


def announces_a_cap_of_150(response: Any) -> None:
    """The answer says it was cut at the row limit of 150, in its headers."""
    assert response.status_code == 200
    assert response.headers["X-Cokg-Row-Limit"] == "150"
    assert response.headers["X-Cokg-Result-Truncated"] == "true"
    assert "cut at 150 rows" in response.headers["Warning"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_capped_answer_announces_the_cap_and_has_exactly_cap_rows(engine: str, fmt: str) -> None:
    remote, _ = clients(engine, MAX_ROWS=150)
    response = ask(remote, MANY_SELECT, fmt)
    announces_a_cap_of_150(response)
    assert [int(r["n"]) for r in rows(response)] == list(range(150))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_answer_at_the_cap_is_whole_and_not_marked_cut(engine: str, fmt: str) -> None:
    remote, _ = clients(engine, MAX_ROWS=MANY)
    response = ask(remote, MANY_SELECT, fmt)
    assert response.headers["X-Cokg-Row-Limit"] == str(MANY)
    assert "X-Cokg-Result-Truncated" not in response.headers
    assert len(rows(response)) == MANY


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_streamed_answer_is_the_same_answer(
    engine: str, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, embedded = clients(engine, MAX_ROWS=150)
    whole = ask(remote, MANY_SELECT, fmt).data
    monkeypatch.setattr(results_module, "STREAM_ABOVE", 0)
    response = ask(remote, MANY_SELECT, fmt)
    assert response.is_streamed or fmt == "tsv"  # TSV passes through as it came
    assert response.data == whole == ask(embedded, MANY_SELECT, fmt).data


def triples(response: Any) -> set[Triple]:
    """The triples of a CONSTRUCT or DESCRIBE answer, in whichever RDF format it came."""
    fmt = RdfFormat.from_media_type(response.mimetype)
    assert fmt is not None, response.mimetype
    return {quad.triple for quad in parse(response.data, fmt)}


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
@pytest.mark.parametrize(
    "query",
    [MANY_CONSTRUCT, ITEM_DESCRIBE, "CONSTRUCT WHERE { ?s ?p <http://example.org/nothing> }"],
)
def test_graph_answers_through_the_engine_are_those_of_the_embedded_store(
    engine: str, query: str, fmt: str
) -> None:
    remote, embedded = clients(engine)
    through, local = ask(remote, query, fmt), ask(embedded, query, fmt)
    assert through.status_code == local.status_code == 200
    assert triples(through) == triples(local)
    assert len(triples(through)) == {MANY_CONSTRUCT: MANY, ITEM_DESCRIBE: 2}.get(query, 0)
    for header in ("Content-Type", "X-Cokg-Row-Limit", "X-Cokg-Result-Truncated"):
        assert through.headers.get(header) == local.headers.get(header)


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
def test_a_capped_graph_answer_announces_the_cap_and_has_exactly_cap_triples(
    engine: str, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, _ = clients(engine, MAX_ROWS=150)
    response = ask(remote, MANY_CONSTRUCT, fmt)
    announces_a_cap_of_150(response)
    assert len(triples(response)) == 150
    monkeypatch.setattr(results_module, "STREAM_ABOVE", 0)
    streamed = ask(remote, MANY_CONSTRUCT, fmt)
    assert streamed.is_streamed or fmt == "ntriples"  # N-Triples pass through as they came
    assert streamed.data == response.data


def test_n_triples_pass_through_as_the_engine_wrote_them(engine: str) -> None:
    store = SparqlStore.for_endpoint(engine)
    answer = store.query_text(MANY_CONSTRUCT)
    store.close()
    assert isinstance(answer, TriplesText)
    assert answer.triples == MANY
    for cap in (MANY, MANY - 1, 1):
        remote, _ = clients(engine, MAX_ROWS=cap)
        response = ask(remote, MANY_CONSTRUCT, "ntriples")
        assert response.data == answer.head(cap).text  # the engine's bytes, cut at the cap
        assert response.data.count(b"\n") == cap
        assert ("X-Cokg-Result-Truncated" in response.headers) == (cap < MANY)


@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
@pytest.mark.parametrize("cap", [150, MANY])
def test_rows_written_while_the_answer_arrives_give_the_same_answer(
    engine: str, fmt: str, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(solutions_module, "BATCH", 1000)  # written in pieces as it arrives
    remote, embedded = clients(engine, MAX_ROWS=cap)
    local = ask(embedded, MANY_SELECT, fmt)
    for stream_above in (0, 1 << 18):
        monkeypatch.setattr(results_module, "STREAM_ABOVE", stream_above)
        through = ask(remote, MANY_SELECT, fmt)
        assert through.status_code == 200
        assert through.data == local.data
        assert through.headers.get("X-Cokg-Result-Truncated") == local.headers.get(
            "X-Cokg-Result-Truncated"
        )


def test_an_empty_answer_and_one_without_variables(engine: str) -> None:
    remote, embedded = clients(engine)
    for query in ("SELECT ?s WHERE { ?s ?p <http://example.org/nothing> }", "SELECT * {}"):
        for fmt in FORMATS:
            through, local = ask(remote, query, fmt), ask(embedded, query, fmt)
            assert through.status_code == 200
            assert through.data == local.data


def test_the_engine_stopping_a_query_mid_answer_is_a_503(tmp_path: Path) -> None:
    with oxigraph_server(tmp_path, timeout_s=1) as base:
        store = SparqlStore.for_endpoint(base + "/query")
        store.replace_graph(MANY_GRAPH, many_triples(30), TURTLE)
        client = create_app({"TESTING": True, "BASE_IRI": BASE}, store=store).test_client()
        # rows stream out at once, until Oxigraph stops the query at its limit and ends
        # its 200 answer (after its "cancelled" message, or inside a row)
        query = "SELECT ?a ?b ?c ?d WHERE { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z . ?d ?t ?w }"
        for fmt in ("json", "tsv"):
            response = ask(client, query, fmt)
            assert response.status_code == 503
            text = response.get_data(as_text=True)
            assert "time limit" in text or "cut short" in text
        assert store.count(MANY_GRAPH) == 60  # and the engine keeps answering


# -- an engine that sends what Oxigraph does not --------------------------------------------


class ScriptedEngine:
    """An HTTP server on a free loopback port that answers every query with ``body`` as TSV."""

    def __init__(self) -> None:
        self.body = b""
        self.content_type = "text/tab-separated-values; charset=utf-8"
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", engine.content_type)
                self.send_header("Content-Length", str(len(engine.body)))
                self.end_headers()
                self.wfile.write(engine.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/query"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def streams_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results_module, "STREAM_ABOVE", 0)


@pytest.fixture
def scripted() -> Iterator[tuple[ScriptedEngine, FlaskClient]]:
    engine = ScriptedEngine()
    store = SparqlStore(engine.url, engine="oxigraph", retries=0)
    yield engine, create_app({"TESTING": True, "BASE_IRI": BASE}, store=store).test_client()
    store.close()
    engine.close()


ROWS = b"".join(b'<http://example.org/item/%d>\t"%d"\n' % (i, i) for i in range(50))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"?s\t?n\n" + ROWS[:-20], "cut short"),  # broken off inside a row
        (b"?s\t?n\n" + ROWS + b"The SPARQL operation has been cancelled", "time limit"),
        (b"?s\t?n\n" + ROWS + b"The SPARQL operation has been cancelled\n", "time limit"),
        (b"?s\t?n\n" + ROWS + b"<http://example.org/x>\n", "cut short"),  # one term short
        (b"?s\t?n", "cut short"),  # not even a whole header
    ],
    ids=["cut-in-a-row", "cancelled", "cancelled-with-newline", "short-row", "no-header"],
)
@pytest.mark.parametrize("fmt", ["tsv", "json"])
def test_an_answer_cut_short_is_a_503_in_every_format(
    scripted: tuple[ScriptedEngine, FlaskClient], body: bytes, message: str, fmt: str
) -> None:
    engine, client = scripted
    engine.body = body
    response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", fmt)
    assert response.status_code == 503
    assert message in response.get_data(as_text=True)


def test_a_malformed_row_inside_a_small_answer_is_a_503(
    scripted: tuple[ScriptedEngine, FlaskClient],
) -> None:
    engine, client = scripted
    engine.body = b"?s\t?n\n" + ROWS + b"not a term\t1\n" + ROWS
    response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", "json")
    assert response.status_code == 503
    assert "malformed" in response.get_data(as_text=True)


@pytest.mark.usefixtures("streams_everything")
def test_a_malformed_row_near_the_start_of_a_streamed_answer_is_a_503(
    scripted: tuple[ScriptedEngine, FlaskClient],
) -> None:
    engine, client = scripted
    engine.body = b"?s\t?n\n" + ROWS + b"not a term\t1\n" + ROWS
    response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", "json")
    assert response.status_code == 503  # met before the first chunk: before the status line
    assert "malformed" in response.get_data(as_text=True)


@pytest.mark.usefixtures("streams_everything")
def test_a_malformed_row_met_while_the_answer_arrives_is_a_503(
    scripted: tuple[ScriptedEngine, FlaskClient],
) -> None:
    engine, client = scripted
    engine.body = b"?s\t?n\n" + ROWS * 40 + b"not a term\t1\n" + ROWS
    response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", "json")
    assert response.status_code == 503  # written before the response began
    assert "malformed" in response.get_data(as_text=True)


@pytest.mark.usefixtures("streams_everything")
def test_a_malformed_row_deep_inside_a_streamed_answer_breaks_the_stream(
    scripted: tuple[ScriptedEngine, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, client = scripted
    monkeypatch.setattr(solutions_module, "EARLY_LIMIT", 0)  # one batch while it arrives
    engine.body = b"?s\t?n\n" + ROWS * 100 + b"not a term\t1\n" + ROWS
    response = client.get(
        "/sparql",
        query_string={"query": "SELECT ?s ?n WHERE { ?s ?p ?n }", "format": "json"},
        buffered=False,
    )
    assert response.status_code == 200  # sent before the bad row was met
    received: list[bytes] = []
    with pytest.raises(StoreUnavailable, match="malformed"):  # the server cuts the stream
        for chunk in response.response:
            assert isinstance(chunk, bytes)
            received.append(chunk)
    assert received  # what came before the bad row was sent, but the answer never ends
    with pytest.raises(ValueError):
        json.loads(b"".join(received))


def test_solutions_text_head_cuts_after_whole_rows() -> None:
    answer = SolutionsText(b"?s\t?n\n" + ROWS, 50)
    assert answer.head(50) is answer
    assert answer.head(0) == SolutionsText(b"?s\t?n\n", 0)
    assert answer.head(2).text == b"?s\t?n\n" + b"".join(ROWS.splitlines(keepends=True)[:2])
    with pytest.raises(ValueError, match="negative"):
        answer.head(-1)
    assert [row["n"].value for row in answer.head(3).solutions()] == ["0", "1", "2"]


def test_tsv_from_an_engine_not_asked_for_it_is_read_row_by_row() -> None:
    engine = ScriptedEngine()
    store = SparqlStore(engine.url, engine="generic", retries=0)
    client = create_app({"TESTING": True, "BASE_IRI": BASE}, store=store).test_client()
    try:
        engine.body = b"?s\t?n\n" + ROWS
        response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", "json")
        assert response.status_code == 200
        assert len(rows(response)) == 50
        engine.body = b"?s\t?n\n" + ROWS + b"not a term\t1\n" + ROWS
        response = ask(client, "SELECT ?s ?n WHERE { ?s ?p ?n }", "tsv")
        assert response.status_code == 503  # every row was read before the status line
    finally:
        store.close()
        engine.close()


TRIPLES = b"".join(
    b'<http://example.org/item/%d> <http://example.org/n> "%d" .\n' % (i, i) for i in range(50)
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (TRIPLES[:-20], "cut short"),  # broken off inside a triple
        (TRIPLES + b"The SPARQL operation has been cancelled", "time limit"),
        (TRIPLES + b"The SPARQL operation has been cancelled\n", "time limit"),
        (TRIPLES + b"<http://example.org/x> <http://example.org/n>\n", "cut short"),
    ],
    ids=["cut-in-a-triple", "cancelled", "cancelled-with-newline", "short-triple"],
)
@pytest.mark.parametrize("fmt", ["ntriples", "turtle"])
def test_a_graph_answer_cut_short_is_a_503_in_every_format(
    scripted: tuple[ScriptedEngine, FlaskClient], body: bytes, message: str, fmt: str
) -> None:
    engine, client = scripted
    engine.content_type = "application/n-triples"
    engine.body = body
    response = ask(client, "CONSTRUCT WHERE { ?s ?p ?o }", fmt)
    assert response.status_code == 503
    assert message in response.get_data(as_text=True)


def test_an_empty_graph_answer_is_whole(scripted: tuple[ScriptedEngine, FlaskClient]) -> None:
    engine, client = scripted
    engine.content_type = "application/n-triples"
    engine.body = b""
    response = ask(client, "CONSTRUCT WHERE { ?s ?p ?o }", "ntriples")
    assert response.status_code == 200
    assert response.data == b""
