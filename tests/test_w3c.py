"""The W3C SPARQL 1.1 test manifests — Protocol, Graph Store Protocol, Service Description —
run over real HTTP against a live `cokg serve` (embedded store, a write token configured).

The manifests (``tests/w3c``, copied unchanged with their licence) describe each test as HTTP
exchanges in the ``ht:`` vocabulary: method, path, headers, body, and what the response must
be (``mf:expectedStatus``, ``mf:expectedFormat``, ``mf:expectedBoolean``, response headers, an
RDF body to compare up to isomorphism, a ``Location`` to reuse). This runner reads them with
rdflib and checks each of those, plus what the tests' names ask for in prose: an error status
must be the protocol error (never the 401/403 of authorisation) and must leave the store as
it was. The service-description tests carry only their names; their checks are written here
from the SPARQL 1.1 Service Description recommendation.

Paths: ``/sparql/`` becomes ``/sparql`` and ``/gsp`` becomes ``/rdf-graph-store`` (the
manifests ask runners to map them onto the endpoints under test). The server's base IRI is its
own address, so the graph a direct request names is the request URL (GSP §4.1) and
``sd:endpoint`` is the URL the description was fetched from. Every request carries the write
token: the runner is the operator's client. Before each test the store is emptied
(``DROP ALL``) and the test's ``ut:graphData`` loaded.
"""

from __future__ import annotations

import http.client
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import pytest
import rdflib
from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, parse_query_results
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.term import Node

from tests.servers import cokg_server, free_port

pytestmark = pytest.mark.slow

W3C = Path(__file__).parent / "w3c"
SUITES = {
    "protocol": W3C / "protocol" / "manifest.ttl",
    "graph store protocol": W3C / "graph-store-protocol" / "manifest.ttl",
    "service description": W3C / "service-description" / "manifest.ttl",
}
TOKEN = "w3c-runner-token"
SPARQL_PATH = "/sparql"
GSP_PATH = "/rdf-graph-store"

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
HTS = rdflib.Namespace("http://www.w3.org/2011/http-statusCodes#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")

KNOWN_DIFFERENCES: dict[str, str] = {}
"""Tests cokg does not pass, each with the paragraph of the specification that allows it
(also listed in README.md, "W3C conformance"). Empty: every test passes."""

RESULTS_TYPES = {
    "application/sparql-results+xml": QueryResultsFormat.XML,
    "application/sparql-results+json": QueryResultsFormat.JSON,
    "text/csv": QueryResultsFormat.CSV,
    "text/tab-separated-values": QueryResultsFormat.TSV,
}
BOOLEAN_TYPES = ("application/sparql-results+xml", "application/sparql-results+json")
# mf:expectedFormat "RDF": "expect one of: RDF/XML, Turtle, N-Triples, RDFa"
RDF_TYPES = {"application/rdf+xml": "xml", "text/turtle": "turtle", "application/n-triples": "nt"}
RDFLIB_FORMATS = {**RDF_TYPES, "application/ld+json": "json-ld"}


# -- reading the manifests ---------------------------------------------------------------------


@dataclass
class Expected:
    """What one response must be."""

    statuses: list[Node]
    format: str | None = None
    boolean: bool | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    location: str | None = None


@dataclass
class Exchange:
    """One HTTP request of a test and the response it expects."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: str | None
    encoding: str
    expected: Expected


@dataclass
class W3CTest:
    """One test of a manifest."""

    suite: str
    name: str
    title: str
    kind: str
    exchanges: list[Exchange]
    graph_data: list[tuple[Path, str]]


def _items(graph: rdflib.Graph, head: Node | None) -> list[Node]:
    return list(Collection(graph, head)) if head is not None else []


def _headers(graph: rdflib.Graph, node: Node) -> list[tuple[str, str]]:
    return [
        (str(graph.value(h, HT.fieldName)).lower(), str(graph.value(h, HT.fieldValue)))
        for h in _items(graph, graph.value(node, HT.headers))
    ]


def _exchange(graph: rdflib.Graph, node: Node) -> Exchange:
    body_node = graph.value(node, HT.body)
    response = graph.value(node, HT.resp)
    assert response is not None
    response_body = graph.value(response, HT.body)
    boolean = graph.value(response, MF.expectedBoolean)
    fmt = graph.value(response, MF.expectedFormat)
    location = graph.value(response, MF.expectedLocation)
    return Exchange(
        method=str(graph.value(node, HT.methodName)),
        path=str(graph.value(node, HT.absolutePath)),
        headers=_headers(graph, node),
        body=str(graph.value(body_node, CNT.chars)) if body_node is not None else None,
        encoding=str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
        if body_node is not None
        else "UTF-8",
        expected=Expected(
            statuses=sorted(graph.objects(response, MF.expectedStatus)),
            format=str(fmt) if fmt is not None else None,
            boolean=bool(boolean.toPython()) if boolean is not None else None,  # type: ignore[union-attr]
            headers=_headers(graph, response),
            body=str(graph.value(response_body, CNT.chars)) if response_body is not None else None,
            location=str(location) if location is not None else None,
        ),
    )


def load_suite(suite: str, path: Path) -> list[W3CTest]:
    """Return the tests a manifest lists in ``mf:entries`` (following ``mf:include``)."""
    graph = rdflib.Graph().parse(path, format="turtle", publicID=path.as_uri())
    manifest = rdflib.URIRef(path.as_uri())
    tests: list[W3CTest] = []
    for included in _items(graph, graph.value(manifest, MF.include)):
        tests += load_suite(suite, Path(urllib.parse.urlparse(str(included)).path))
    for entry in _items(graph, graph.value(manifest, MF.entries)):
        action = graph.value(entry, MF.action)
        requests = _items(graph, graph.value(action, HT.requests)) if action is not None else []
        data = [
            (
                Path(urllib.parse.urlparse(str(graph.value(d, UT.graph))).path),
                str(graph.value(d, rdflib.RDFS.label)),
            )
            for d in graph.objects(entry, UT.graphData)
        ]
        tests.append(
            W3CTest(
                suite=suite,
                name=str(entry).rsplit("#", 1)[1],
                title=str(graph.value(entry, MF.name)),
                kind=str(graph.value(entry, rdflib.RDF.type)).rsplit("#", 1)[1],
                exchanges=[_exchange(graph, r) for r in requests],
                graph_data=sorted(data),
            )
        )
    return tests


ALL_TESTS = [test for suite, path in SUITES.items() for test in load_suite(suite, path)]


# -- the server and the results ------------------------------------------------------------------


@dataclass
class Server:
    """The `cokg serve` under test: its address and a way to talk HTTP to it."""

    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def send(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request exactly as given (no header added but Host and the token)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            names = {name.lower() for name, _ in headers}
            for name, value in headers:
                connection.putheader(name, value)
            if "authorization" not in names:
                connection.putheader("Authorization", f"Bearer {TOKEN}")
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def update(self, text: str) -> None:
        status, _, body = self.send(
            "POST", SPARQL_PATH, [("content-type", "application/sparql-update")], text.encode()
        )
        assert status == 204, body

    def snapshot(self) -> tuple[bytes, bytes]:
        """Everything the store holds: the named graphs' quads and the default graph."""
        query = urllib.parse.quote("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }")
        _, _, named = self.send(
            "GET", f"{SPARQL_PATH}?query={query}", [("accept", "text/tab-separated-values")], None
        )
        _, _, default = self.send(
            "GET", f"{GSP_PATH}?default", [("accept", "application/n-triples")], None
        )
        return b"\n".join(sorted(named.splitlines())), b"\n".join(sorted(default.splitlines()))


@dataclass
class Tally:
    passed: dict[str, int] = field(default_factory=dict)
    run: dict[str, int] = field(default_factory=dict)


TALLY = Tally()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `cokg serve` whose base IRI is its own address, with a write token."""
    folder = tmp_path_factory.mktemp("w3c")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    args = ("--base-iri", base, "--timeout", "20")
    with cokg_server(folder, *args, port=port, env={"COKG_WRITE_TOKEN": TOKEN}):
        yield Server("127.0.0.1", port)


@pytest.fixture(scope="module", autouse=True)
def print_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print ``W3C protocol: 34/34`` and the like once the module has run."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    lines = [
        f"W3C {suite}: {TALLY.passed.get(suite, 0)}/{count}"
        + (f" ({TALLY.run.get(suite, 0)} run)" if TALLY.run.get(suite, 0) != count else "")
        for suite, count in _counts().items()
    ]
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


def _counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for test in ALL_TESTS:
        counts[test.suite] = counts.get(test.suite, 0) + 1
    return counts


# -- running one test --------------------------------------------------------------------------


@pytest.mark.parametrize("test", ALL_TESTS, ids=[f"{t.suite}:{t.name}" for t in ALL_TESTS])
def test_w3c(server: Server, test: W3CTest) -> None:
    if test.name in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[test.name])
    TALLY.run[test.suite] = TALLY.run.get(test.suite, 0) + 1
    if test.kind == "ServiceDescriptionTest":
        SERVICE_DESCRIPTION_CHECKS[test.name](server)
    else:
        run_exchanges(server, test)
    TALLY.passed[test.suite] = TALLY.passed.get(test.suite, 0) + 1


def run_exchanges(server: Server, test: W3CTest) -> None:
    server.update("DROP ALL")
    for data, graph in test.graph_data:
        status, _, body = server.send(
            "PUT",
            f"{GSP_PATH}?graph={urllib.parse.quote(graph, safe='')}",
            [("content-type", "application/n-triples")],
            data.read_bytes(),
        )
        assert status in (201, 204), body
    templates: dict[str, str] = {}
    for number, exchange in enumerate(test.exchanges, start=1):
        where = f"{test.name}, request {number} ({exchange.method} {exchange.path[:60]})"
        path = _local_path(_fill(exchange.path, templates))
        body = _fill(exchange.body, templates) if exchange.body is not None else None
        payload = body.encode(exchange.encoding) if body is not None else None
        expects_error = all(_is_error(s) for s in exchange.expected.statuses)
        before = server.snapshot() if expects_error else None
        status, headers, content = server.send(exchange.method, path, exchange.headers, payload)
        shown = content[:300].decode("utf-8", "replace")
        assert any(_matches(status, s) for s in exchange.expected.statuses), (
            f"{where}: status {status}, expected {[_label(s) for s in exchange.expected.statuses]}: {shown}"
        )
        if expects_error:
            assert status not in (401, 403), f"{where}: refused by authorisation, not the protocol"
            assert server.snapshot() == before, f"{where}: a refused request changed the store"
        check_response(exchange.expected, status, headers, content, exchange.method, where)
        if exchange.expected.location is not None:
            location = headers.get("Location")
            assert location, f"{where}: no Location header"
            templates[exchange.expected.location] = location


def check_response(
    expected: Expected,
    status: int,
    headers: http.client.HTTPMessage,
    content: bytes,
    method: str,
    where: str,
) -> None:
    media_type = headers.get_content_type()
    if expected.format == "boolean":
        assert media_type in BOOLEAN_TYPES, f"{where}: {media_type} is not a boolean result"
        answer = parse_query_results(content, RESULTS_TYPES[media_type])
        assert isinstance(answer, QueryBoolean), f"{where}: not a boolean result"
        if expected.boolean is not None:
            assert bool(answer) is expected.boolean, f"{where}: answered {bool(answer)}"
    elif expected.format == "tabular":
        assert media_type in RESULTS_TYPES, f"{where}: {media_type} is not a results format"
        if media_type != "text/csv":  # CSV is lossy: pyoxigraph does not read it back
            solutions = parse_query_results(content, RESULTS_TYPES[media_type])
            assert isinstance(solutions, QuerySolutions), f"{where}: not a table"
            assert [v.value for v in solutions.variables] == ["value"]
            assert len(list(solutions)) == 1
    elif expected.format == "RDF":
        assert media_type in RDF_TYPES, f"{where}: {media_type} is not RDF/XML, Turtle, N-Triples"
        parse_rdf(content, RDF_TYPES[media_type])
    for name, value in expected.headers:
        actual = headers.get(name)
        assert actual is not None, f"{where}: no {name} header"
        if name == "content-type":
            assert _media(actual) == _media(value), (
                f"{where}: Content-Type {actual}, expected {value}"
            )
        else:
            assert actual == value, f"{where}: {name} {actual}, expected {value}"
    if expected.body is not None and method != "HEAD":
        wanted_type = dict(expected.headers).get("content-type", "text/turtle")
        wanted = parse_rdf(expected.body.encode(), RDFLIB_FORMATS[_media(wanted_type)[0]])
        got = parse_rdf(content, RDFLIB_FORMATS[media_type])
        assert isomorphic(got, wanted), (
            f"{where}: the graph differs from the expected one:\n{content.decode()}"
        )
    if method == "HEAD":
        assert content == b"", f"{where}: HEAD answered a body"


def parse_rdf(content: bytes, fmt: str) -> rdflib.Graph:
    with warnings.catch_warnings():  # rdflib's JSON-LD parser warns about its own classes
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=content, format=fmt)


def _local_path(path: str) -> str:
    if path.startswith("/sparql/"):
        return SPARQL_PATH + path[len("/sparql/") :]
    if path.startswith("/gsp"):
        return GSP_PATH + path[len("/gsp") :]
    raise AssertionError(f"a path outside /sparql/ and /gsp: {path}")


def _fill(text: str, templates: dict[str, str]) -> str:
    for variable, value in templates.items():
        text = text.replace(variable, value)
    return text


def _media(value: str) -> tuple[str, str | None]:
    message = http.client.HTTPMessage()
    message["Content-Type"] = value
    charset = message.get_param("charset")
    return message.get_content_type(), str(charset).lower() if charset else None


_CLASSES = {HTS.StatusCode2xx: 2, HTS.StatusCode3xx: 3, HTS.StatusCode4xx: 4, HTS.StatusCode5xx: 5}


def _code(status: Node) -> int:
    name = str(status).rsplit("#", 1)[1]
    for code in HTTPStatus:
        if code.phrase.replace(" ", "").replace("-", "") == name:
            return int(code)
    raise AssertionError(f"unknown status {status}")


def _matches(status: int, expected: Node) -> bool:
    if expected in _CLASSES:
        return status // 100 == _CLASSES[expected]
    return status == _code(expected)


def _is_error(expected: Node) -> bool:
    return _CLASSES.get(expected, 0) >= 4 or (expected not in _CLASSES and _code(expected) >= 400)


def _label(expected: Node) -> str:
    return str(expected).rsplit("#", 1)[1]


# -- service description -------------------------------------------------------------------------

RDF_CLIENT_ACCEPT = (
    "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8, application/n-triples;q=0.7"
)


def fetch_description(server: Server, accept: str = RDF_CLIENT_ACCEPT) -> rdflib.Graph:
    status, headers, content = server.send("GET", SPARQL_PATH, [("accept", accept)], None)
    assert status == 200, content
    media_type = headers.get_content_type()
    assert media_type in RDFLIB_FORMATS, f"{media_type} is not RDF"
    return parse_rdf(content, RDFLIB_FORMATS[media_type])


def returns_rdf(server: Server) -> None:
    """GET on the endpoint returns RDF (in each RDF format a client may ask for)."""
    for accept in (RDF_CLIENT_ACCEPT, *RDFLIB_FORMATS):
        graph = fetch_description(server, accept)
        assert len(graph) > 0, accept


def has_endpoint_triple(server: Server) -> None:
    """The description has an sd:endpoint triple naming the URL it was fetched from."""
    graph = fetch_description(server)
    endpoint = rdflib.URIRef(server.base + SPARQL_PATH.lstrip("/"))
    services = set(graph.subjects(SD.endpoint, endpoint))
    assert services, f"no sd:endpoint <{endpoint}>"
    assert all((s, rdflib.RDF.type, SD.Service) in graph for s in services)


# Domains and ranges of the SPARQL 1.1 Service Description vocabulary (§3.2, §3.4) for the
# terms the description may use; the closed lists are §3.3 (features) and §3.4 (languages).
SD_DOMAINS = {
    SD.endpoint: SD.Service,
    SD.feature: SD.Service,
    SD.defaultEntailmentRegime: SD.Service,
    SD.supportedLanguage: SD.Service,
    SD.resultFormat: SD.Service,
    SD.inputFormat: SD.Service,
    SD.defaultDataset: SD.Service,
    SD.defaultGraph: SD.Dataset,
}
SD_RANGES = {SD.defaultDataset: SD.Dataset, SD.defaultGraph: SD.Graph}
SD_LANGUAGES = {SD.SPARQL10Query, SD.SPARQL11Query, SD.SPARQL11Update}
SD_FEATURES = {
    SD.DereferencesURIs,
    SD.UnionDefaultGraph,
    SD.RequiresDataset,
    SD.EmptyGraphs,
    SD.BasicFederatedQuery,
}
W3C_FORMATS = "http://www.w3.org/ns/formats/"


def conforms_to_schema(server: Server) -> None:
    """Every SD term is used with its domain and range, from the closed lists where there are."""
    graph = fetch_description(server)
    for predicate, domain in SD_DOMAINS.items():
        for subject, obj in graph.subject_objects(predicate):
            assert (subject, rdflib.RDF.type, domain) in graph, (
                f"{subject} {predicate}: not a {domain}"
            )
            if predicate in SD_RANGES:
                assert (obj, rdflib.RDF.type, SD_RANGES[predicate]) in graph, (
                    f"{obj}: not a {SD_RANGES[predicate]}"
                )
            if predicate in (SD.endpoint, SD.defaultEntailmentRegime):
                assert isinstance(obj, rdflib.URIRef), f"{predicate}: {obj} is not an IRI"
    languages = set(graph.objects(None, SD.supportedLanguage))
    assert SD.SPARQL11Query in languages and languages <= SD_LANGUAGES, languages
    features = set(graph.objects(None, SD.feature))
    assert features <= SD_FEATURES, features - SD_FEATURES
    for predicate in (SD.resultFormat, SD.inputFormat):
        for obj in graph.objects(None, predicate):
            assert str(obj).startswith(W3C_FORMATS), f"{predicate}: {obj} is not a W3C format IRI"
    used = {p for p in graph.predicates() if str(p).startswith(str(SD))}
    assert used <= set(SD_DOMAINS), f"SD terms with no definition here: {used - set(SD_DOMAINS)}"
    assert (None, rdflib.RDF.type, SD.Service) in graph


SERVICE_DESCRIPTION_CHECKS = {
    "returns-rdf": returns_rdf,
    "has-endpoint-triple": has_endpoint_triple,
    "conforms-to-schema": conforms_to_schema,
}


def test_the_manifests_hold_what_the_readme_counts() -> None:
    assert _counts() == {"protocol": 34, "graph store protocol": 13, "service description": 3}
    assert set(SERVICE_DESCRIPTION_CHECKS) == {
        t.name for t in ALL_TESTS if t.kind == "ServiceDescriptionTest"
    }
