"""Real SPARQL clients against a real `cokg serve`: SPARQLWrapper (JSON, XML, CSV, TSV,
CONSTRUCT into rdflib graphs, updates) and rdflib's SPARQLStore / SPARQLUpdateStore.

Each test runs twice: on the embedded store (cokg's own supervised `oxigraph serve` child) and
with `cokg serve --store http://…/query` over a separately started `oxigraph serve`.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any
from xml.dom.minidom import Document

import pytest
import rdflib
from pyoxigraph import QuerySolutions
from rdflib.plugins.stores.sparqlstore import SPARQLStore, SPARQLUpdateStore
from SPARQLWrapper import CSV, JSON, JSONLD, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import Unauthorized

from cokg.load import load_knowledge_base, open_knowledge_base
from cokg.store import OxigraphStore
from tests.servers import cokg_server, oxigraph_server

pytestmark = pytest.mark.slow

TOKEN = "client-test-token"
PROJECTS = """
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?project ?title WHERE { ?project a schema:ResearchProject ; dcterms:title ?title }
ORDER BY ?title
"""
CONSTRUCT_PROJECTS = """
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
CONSTRUCT { ?project dcterms:title ?title } WHERE { ?project a schema:ResearchProject ; dcterms:title ?title }
"""
CLIENT_GRAPH = "http://example.org/graph/written-by-a-client"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# SPARQLWrapper and rdflib's JSON-LD parser build rdflib ConjunctiveGraphs, which rdflib 7
# deprecates: their warning, not ours.
CLIENT_DEPRECATIONS = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)


@pytest.fixture(scope="module")
def expected_titles() -> list[tuple[str, str]]:
    """The projects and titles, from the knowledge base loaded in this process."""
    solutions = open_knowledge_base().query(PROJECTS)
    assert isinstance(solutions, QuerySolutions)
    return [(row["project"].value, row["title"].value) for row in solutions]


@pytest.fixture(scope="module", params=["embedded", "remote-oxigraph"])
def endpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The /sparql URL of a `cokg serve` with a write token, on each kind of store."""
    folder = tmp_path_factory.mktemp(request.param)
    env = {"COKG_WRITE_TOKEN": TOKEN}
    if request.param == "embedded":
        with cokg_server(folder, "--timeout", "20", env=env) as url:
            yield url + "/sparql"
        return
    store = OxigraphStore(folder / "store")
    load_knowledge_base(store)
    store.close()
    del store  # releases the folder for the engine
    with (
        oxigraph_server(folder) as engine,
        cokg_server(folder, "--store", engine + "/query", "--timeout", "20", env=env) as url,
    ):
        yield url + "/sparql"


def wrapper(endpoint: str, query: str, fmt: str) -> SPARQLWrapper:
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    return client


# -- SPARQLWrapper -----------------------------------------------------------------------------


def test_sparqlwrapper_json(endpoint: str, expected_titles: list[tuple[str, str]]) -> None:
    results: Any = wrapper(endpoint, PROJECTS, JSON).query().convert()
    found = [(b["project"]["value"], b["title"]["value"]) for b in results["results"]["bindings"]]
    assert found == expected_titles
    assert results["head"]["vars"] == ["project", "title"]


def test_sparqlwrapper_xml(endpoint: str, expected_titles: list[tuple[str, str]]) -> None:
    document = wrapper(endpoint, PROJECTS, XML).query().convert()
    assert isinstance(document, Document)
    titles = [
        binding.getElementsByTagName("literal")[0].firstChild.data  # type: ignore[union-attr]
        for binding in document.getElementsByTagName("binding")
        if binding.getAttribute("name") == "title"
    ]
    assert titles == [title for _, title in expected_titles]


@pytest.mark.parametrize(("fmt", "delimiter"), [(CSV, ","), (TSV, "\t")])
def test_sparqlwrapper_csv_and_tsv(
    endpoint: str, expected_titles: list[tuple[str, str]], fmt: str, delimiter: str
) -> None:
    raw = wrapper(endpoint, PROJECTS, fmt).query().convert()
    assert isinstance(raw, bytes)
    table = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter=delimiter))
    if fmt == CSV:
        assert table[0] == ["project", "title"]
        assert [tuple(row) for row in table[1:]] == expected_titles
    else:
        assert table[0] == ["?project", "?title"]
        assert [row[0] for row in table[1:]] == [f"<{p}>" for p, _ in expected_titles]


def test_sparqlwrapper_ask(endpoint: str) -> None:
    answer: Any = wrapper(endpoint, "ASK { ?s a schema:ResearchProject }", JSON).query().convert()
    assert answer["boolean"] is True


@CLIENT_DEPRECATIONS
@pytest.mark.parametrize("fmt", [RDFXML, XML, JSONLD, TURTLE])
def test_sparqlwrapper_construct_into_an_rdflib_graph(
    endpoint: str, expected_titles: list[tuple[str, str]], fmt: str
) -> None:
    converted = wrapper(endpoint, CONSTRUCT_PROJECTS, fmt).query().convert()
    if isinstance(converted, bytes):  # SPARQLWrapper hands Turtle over as text
        graph = rdflib.Graph().parse(data=converted, format="turtle")
    else:
        assert isinstance(converted, rdflib.Graph)
        graph = converted
    found = sorted((str(s), str(o)) for s, _, o in graph)
    assert found == sorted(expected_titles)


def test_sparqlwrapper_update_needs_the_token(endpoint: str) -> None:
    update = f'INSERT DATA {{ GRAPH <{CLIENT_GRAPH}> {{ <http://example.org/s> <http://example.org/p> "by SPARQLWrapper" }} }}'
    refused = SPARQLWrapper(endpoint)
    refused.setMethod(POST)
    refused.setQuery(update)
    with pytest.raises(Unauthorized, match="Authorization: Bearer"):
        refused.query()

    client = SPARQLWrapper(endpoint)
    client.setMethod(POST)
    client.addCustomHttpHeader("Authorization", f"Bearer {TOKEN}")
    client.setQuery(update)
    client.query().response.close()
    try:
        check = wrapper(
            endpoint, f'ASK {{ GRAPH <{CLIENT_GRAPH}> {{ ?s ?p "by SPARQLWrapper" }} }}', JSON
        )
        answer: Any = check.query().convert()
        assert answer["boolean"] is True
    finally:
        delete_graph(endpoint, CLIENT_GRAPH)


# -- rdflib ------------------------------------------------------------------------------------


def test_rdflib_sparqlstore_reads(endpoint: str, expected_titles: list[tuple[str, str]]) -> None:
    graph = rdflib.Graph(store=SPARQLStore(endpoint))
    rows = list(graph.query(PROJECTS))
    assert [(str(r[0]), str(r[1])) for r in rows] == expected_titles  # type: ignore[index]
    schema = rdflib.Namespace("https://schema.org/")
    projects = set(graph.subjects(rdflib.RDF.type, schema.ResearchProject))
    assert {str(p) for p in projects} == {p for p, _ in expected_titles}
    assert len(graph) > len(expected_titles)


def test_rdflib_sparqlupdatestore_writes_a_graph_and_reads_it_back(endpoint: str) -> None:
    store = SPARQLUpdateStore(
        query_endpoint=endpoint,
        update_endpoint=endpoint,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    graph = rdflib.Graph(store=store, identifier=rdflib.URIRef(CLIENT_GRAPH))
    subject = rdflib.URIRef("http://example.org/written")
    try:
        graph.add((subject, rdflib.RDFS.label, rdflib.Literal("écrit par rdflib", lang="fr")))
        graph.add((subject, rdflib.RDFS.comment, rdflib.Literal("two")))
        assert len(graph) == 2  # default-graph-uri: only this graph
        assert graph.value(subject, rdflib.RDFS.label) == rdflib.Literal(
            "écrit par rdflib", lang="fr"
        )
        graph.remove((subject, rdflib.RDFS.comment, None))
        assert len(graph) == 1
        union = rdflib.Graph(store=SPARQLStore(endpoint))
        assert (subject, rdflib.RDFS.label, None) in union
    finally:
        delete_graph(endpoint, CLIENT_GRAPH)


def test_rdflib_sparqlupdatestore_without_the_token_is_refused(endpoint: str) -> None:
    store = SPARQLUpdateStore(query_endpoint=endpoint, update_endpoint=endpoint)
    graph = rdflib.Graph(store=store, identifier=rdflib.URIRef(CLIENT_GRAPH))
    with pytest.raises(urllib.error.HTTPError) as error:
        graph.add((rdflib.URIRef("http://example.org/x"), rdflib.RDFS.label, rdflib.Literal("x")))
    assert error.value.code == 401
    error.value.close()


# -- helpers -----------------------------------------------------------------------------------


def delete_graph(endpoint: str, graph: str) -> None:
    """Drop ``graph`` through the Graph Store Protocol (404 is fine: already gone)."""
    base = endpoint.rsplit("/", 1)[0]
    url = f"{base}/rdf-graph-store?graph={urllib.parse.quote(graph, safe='')}"
    request = urllib.request.Request(
        url, method="DELETE", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        _DIRECT.open(request, timeout=30).close()
    except urllib.error.HTTPError as error:
        error.close()
        if error.code != 404:
            raise
