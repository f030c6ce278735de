"""SparqlStore keeps its connections to the engine open between requests, and stays correct.

The connections are observed from outside: a small TCP relay between the store and a real
``oxigraph serve`` counts the connections it accepts, and can cut them all the way an engine
restart does. A scripted engine that drops a kept-alive connection when the next request
arrives (without a word, as an engine closing idle connections does) shows which requests are
sent again and which are not.
"""

from __future__ import annotations

import contextlib
import gc
import io
import socket
import threading
import weakref
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pyoxigraph import QuerySolutions

from cokg.errors import QueryTimeout, StoreUnavailable
from cokg.formats import NQUADS, NTRIPLES
from cokg.sparql_store import SparqlStore
from tests.servers import oxigraph_server

pytestmark = pytest.mark.slow

G1 = "https://w3id.org/coprod/graph/entry/one"
G2 = "https://w3id.org/coprod/graph/entry/two"
X = "http://example.org/x"


def version(marker: str, size: int) -> bytes:
    """N-Triples for one graph: ``size`` triples all marked ``marker``."""
    return "".join(
        f'<http://example.org/item/{i}> <http://example.org/version> "{marker}" .\n'
        for i in range(size)
    ).encode()


class Relay:
    """A TCP relay on a free loopback port to ``upstream`` that counts accepted connections."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            with self._lock:
                self.accepted += 1
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Close every relayed connection, both sides (what an engine restart does)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()


@contextlib.contextmanager
def relayed(base: str) -> Iterator[Relay]:
    host, port = base.removeprefix("http://").split(":")
    relay = Relay((host, int(port)))
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture(autouse=True)
def collect_on_this_thread() -> Iterator[None]:
    """Collect a test's cyclic garbage on the test's own thread when it ends.

    pyoxigraph's query solutions may only be dropped by the thread that made them. A frame
    kept in a cycle (an exception's traceback) is otherwise collected whenever the collector
    next runs — in these tests, often in a relay thread of the next test, which pyo3 reports
    as an error and leaks the object.
    """
    yield
    gc.collect()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ``oxigraph serve --timeout-s 1`` holding two graphs (60 and 3 triples)."""
    with oxigraph_server(tmp_path_factory.mktemp("pooled"), timeout_s=1) as base:
        store = SparqlStore.for_endpoint(base + "/query")
        store.replace_graph(G1, version("a", 60), NTRIPLES)
        store.replace_graph(G2, version("b", 3), NTRIPLES)
        store.close()
        yield base


def test_many_requests_share_one_connection(engine: str) -> None:
    with relayed(engine) as relay:
        store = SparqlStore.for_endpoint(relay.url + "/query", retries=0)
        for _ in range(20):
            assert store.count(G1) == 60
            assert bool(store.query(f"ASK {{ GRAPH <{G2}> {{ ?s ?p ?o }} }}"))
        store.update(f"INSERT DATA {{ GRAPH <{G2}> {{ <{X}> <{X}> 'z' }} }}")
        assert store.count(G2) == 4
        store.update(f"DELETE WHERE {{ GRAPH <{G2}> {{ <{X}> ?p ?o }} }}")
        out = io.BytesIO()
        store.dump(out, NTRIPLES, graph=G2)  # a Graph Store GET, streamed
        assert len(out.getvalue().splitlines()) == 3
        store.close()
    assert relay.accepted == 1


def test_an_engine_restart_between_queries_is_survived(tmp_path: Path) -> None:
    with oxigraph_server(tmp_path) as first, relayed(first) as relay:
        store = SparqlStore.for_endpoint(relay.url + "/query", retries=0)
        store.replace_graph(G1, version("a", 5), NTRIPLES)
        assert store.count(G1) == 5
        relay.cut()  # the engine goes away under the kept-alive connection
        assert store.count(G1) == 5  # a new connection, without an error
        store.update(f"DROP GRAPH <{G1}>")  # and writes go through as well
        assert store.graphs() == []
        store.close()
    assert relay.accepted == 2


def test_a_query_past_the_deadline_does_not_poison_the_pool(engine: str) -> None:
    with relayed(engine) as relay:
        store = SparqlStore.for_endpoint(relay.url + "/query", timeout=1.0, retries=0)
        assert store.count(G1) == 60
        with pytest.raises(QueryTimeout):  # Oxigraph streams this past its limit; cut here
            store.query("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
        # the connection that was mid-answer was closed, not reused: the next answers are right
        assert store.count(G2) == 3
        solutions = store.query(f"SELECT ?o WHERE {{ GRAPH <{G2}> {{ ?s ?p ?o }} }}")
        assert isinstance(solutions, QuerySolutions)
        assert {row["o"].value for row in solutions} == {"b"}
        del solutions  # this frame may outlive the test in a cycle (collect_on_this_thread)
        store.close()
    assert relay.accepted == 2


class _Broken(Exception):
    pass


class _BrokenOutput:
    """A dump target that fails after the first write: the dump stops mid-answer."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > 1:
            raise _Broken
        return len(data)


def test_a_read_abandoned_halfway_does_not_poison_the_pool(engine: str) -> None:
    with relayed(engine) as relay:
        store = SparqlStore.for_endpoint(relay.url + "/query", retries=0)
        big = version("c", 20000)
        store.replace_graph(G2 + "/big", big, NTRIPLES)
        with pytest.raises(_Broken):
            store.dump(_BrokenOutput(), NQUADS)  # type: ignore[arg-type]
        assert store.count(G2) == 3
        assert store.count(G2 + "/big") == 20000
        store.delete_graph(G2 + "/big")
        store.close()
    assert relay.accepted == 2


def test_concurrent_threads_each_get_their_own_answers(engine: str) -> None:
    with relayed(engine) as relay:
        store = SparqlStore.for_endpoint(relay.url + "/query", retries=0)
        errors: list[BaseException] = []

        def work(graph: str, expected: int) -> None:
            try:
                for _ in range(15):
                    assert store.count(graph) == expected
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [
            threading.Thread(target=work, args=((G1, 60) if i % 2 else (G2, 3))) for i in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.close()
    assert errors == []
    assert 1 <= relay.accepted <= 6  # reused across requests, at most one per thread


# -- a kept-alive connection the engine dropped without a word -------------------------------

_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
    b'Content-Length: 27\r\n\r\n{"head":{},"boolean":true}\n'
)


class DroppingEngine:
    """Answers the first request of each connection (keep-alive), then drops the connection
    when the next request arrives on it, answering nothing. Records each request's first line.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, client.makefile("rb") as reader:
            for answered in (True, False):
                line = reader.readline().decode().strip()
                if not line:
                    return
                length = 0
                while header := reader.readline().strip():
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.requests.append(line)
                if answered:
                    client.sendall(_OK)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def dropping() -> Iterator[DroppingEngine]:
    engine = DroppingEngine()
    yield engine
    engine.close()


def test_a_read_on_a_silently_dropped_connection_is_sent_again(dropping: DroppingEngine) -> None:
    store = SparqlStore(dropping.url + "/sparql", retries=2)
    assert bool(store.query("ASK {}")) is True
    assert bool(store.query("ASK {}")) is True  # dropped on the kept connection: sent again
    assert dropping.requests == ["POST /sparql HTTP/1.1"] * 3
    store.close()


def test_an_update_on_a_silently_dropped_connection_is_not_sent_again(
    dropping: DroppingEngine,
) -> None:
    store = SparqlStore(dropping.url + "/sparql", retries=2)
    assert bool(store.query("ASK {}")) is True
    with pytest.raises(StoreUnavailable):  # the engine may have run it: never sent twice
        store.update(f"DROP SILENT GRAPH <{G1}>")
    assert len(dropping.requests) == 2
    store.close()


def test_the_proxy_from_the_environment_is_used(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with relayed(engine) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "")
        store = SparqlStore.for_endpoint(engine + "/query", retries=0)
        assert store.count(G2) == 3
        assert store.count(G1) == 60
        store.close()
    assert proxy.accepted == 1  # both requests went through the proxy, on one connection


@contextlib.contextmanager
def moved(target: str) -> Iterator[str]:
    """A server that answers every request with ``301 Location: target``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(301)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet."""

    Handler.do_GET = Handler.answer  # type: ignore[attr-defined]
    Handler.do_POST = Handler.answer  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_graph_reads_follow_a_redirect_and_queries_say_where_to(engine: str) -> None:
    with moved(engine) as old:
        store = SparqlStore(old + "/query", gsp_url=old + "/store", engine="oxigraph")
        out = io.BytesIO()
        store.dump(out, NTRIPLES, graph=G2)  # a Graph Store GET: redirected, like a browser
        assert len(out.getvalue().splitlines()) == 3
        with pytest.raises(StoreUnavailable) as caught:  # a POSTed query cannot follow
            store.query("ASK {}")
        assert f"{engine}/query" in str(caught.value)
        store.close()


# -- what a failed request leaves behind ------------------------------------------------------


def test_a_failed_request_leaves_no_reference_cycle() -> None:
    """The frames of a failed request are freed at once, not when the collector next runs.

    Otherwise what they hold (pyoxigraph's query solutions, which only their own thread may
    drop) is collected on whichever thread the collector runs in.
    """

    class Marker:
        pass

    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    store = SparqlStore.for_endpoint(f"http://127.0.0.1:{port}/query", retries=0)

    def ask(marker: Marker) -> None:  # a caller's frame the error passes through
        store.query("ASK {}")

    marker = Marker()
    alive = weakref.ref(marker)
    gc.disable()
    try:
        try:
            ask(marker)
        except StoreUnavailable:
            pass
        else:
            raise AssertionError("a closed port answered")
        del marker
        assert alive() is None
    finally:
        gc.enable()
        store.close()
