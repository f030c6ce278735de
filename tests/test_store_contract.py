"""The store contract: one set of tests that every backend passes.

Backends: OxigraphStore in memory and on disk, and SparqlStore against a real ``oxigraph
serve`` and a real Virtuoso that the session starts on loopback ports (``tests/servers.py``;
the Virtuoso ones skip, saying why, when ``virtuoso-t`` is not installed). A few tests at the
end cover what only a remote engine can do: stop a query at its time limit, be unreachable.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator

import pytest
from pyoxigraph import (
    CanonicalizationAlgorithm,
    Dataset,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QuerySolutions,
    Triple,
    parse,
)

from cokg.errors import (
    NotFound,
    ParseError,
    QueryError,
    QueryTimeout,
    StoreUnavailable,
    UnsupportedFormat,
)
from cokg.formats import NQUADS, NTRIPLES, RDF_FORMATS, TURTLE, Format
from cokg.sparql_store import BasicAuth, BearerAuth, DigestAuth, SparqlStore
from cokg.store import (
    OxigraphStore,
    QueryResult,
    ReadableStore,
    WritableStore,
    dump_to_bytes,
    parse_quads,
)
from tests.servers import (  # noqa: F401 (session fixtures used through getfixturevalue)
    free_port,
    oxigraph_server,
    oxigraph_url,
    scripted_engine,
    virtuoso_url,
)

KB = "https://w3id.org/coprod/"
G1 = KB + "graph/entry/participatory-budgeting"
G2 = KB + "graph/entry/citizens-jury"
G_ODD = KB + "graph/entry/caf\u00e9-d\u00e9j\u00e0%23vu"
P1 = KB + "id/project/participatory-budgeting"
P2 = KB + "id/project/citizens-jury"
ODD = KB + "id/concept/caf\u00e9%23cr\u00e8me-br\u00fbl\u00e9e"
ODD_TEXT = 'Zo\u00eb \u00c5ngstr\u00f6m \u4e2d\u6751 \U0001f389 "quoted"\nsecond line \\ tab\t'

PREAMBLE = """\
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix schema: <https://schema.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

ENTRY_ONE = (
    PREAMBLE
    + f"""
<{P1}> a schema:ResearchProject ;
    dcterms:title "Participatory budgeting in Porto Alegre"@en ;
    schema:name "Participatory budgeting in Porto Alegre" ;
    dcterms:description \"\"\"Citizens decide on a share of the budget.
A <script>alert(1)</script> stays text.\"\"\"@en ;
    schema:startDate "2018"^^xsd:gYear ;
    dcterms:contributor [ a schema:Person ; schema:name "Ada Lovelace" ] ;
    dcterms:subject <{ODD}> .
"""
).encode()

ENTRY_TWO = (
    PREAMBLE
    + f"""
<{P2}> a schema:ResearchProject ;
    dcterms:title "Citizens' juries"@en ;
    schema:startDate "2019-04"^^xsd:gYearMonth .
"""
).encode()

ENTRY_ODD = (
    PREAMBLE
    + f"""
<{ODD}> schema:name {Literal(ODD_TEXT, language="fr")} ;
    schema:url <http://example.org/\u00fcber/%23anchor> .
"""
).encode()

MALFORMED_QUERY = "SELECT ?s WHERE {\n  ?s ?p \n"
MALFORMED_UPDATE = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/s> } }"

BACKENDS = [
    pytest.param("oxigraph-memory", id="oxigraph-memory"),
    pytest.param("oxigraph-disk", id="oxigraph-disk"),
    pytest.param("oxigraph-server", id="oxigraph-server", marks=pytest.mark.slow),
    pytest.param("virtuoso", id="virtuoso", marks=pytest.mark.slow),
]


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WritableStore]:
    """An empty store of each backend."""
    kind = request.param
    chosen: OxigraphStore | SparqlStore
    if kind == "oxigraph-memory":
        chosen = OxigraphStore()
    elif kind == "oxigraph-disk":
        chosen = OxigraphStore(tmp_path_factory.mktemp("store") / "kb")
    elif kind == "oxigraph-server":
        chosen = SparqlStore.for_endpoint(request.getfixturevalue("oxigraph_url") + "/query")
        chosen.clear()
    else:
        chosen = SparqlStore.for_endpoint(request.getfixturevalue("virtuoso_url"))
        chosen.clear()
    yield chosen
    chosen.close()


@pytest.fixture
def loaded(store: WritableStore) -> WritableStore:
    """A store holding the three test graphs."""
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    store.replace_graph(G2, ENTRY_TWO, TURTLE)
    store.replace_graph(G_ODD, ENTRY_ODD, TURTLE)
    return store


def canonical(quads: Iterable[Quad]) -> set[str]:
    """Return the quads with canonical blank nodes, for isomorphism checks."""
    dataset = Dataset(quads)
    dataset.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
    return {str(q) for q in dataset}


def as_default_graph(data: bytes) -> set[str]:
    return canonical(parse_quads(data, TURTLE))


def in_graph(data: bytes, graph: str) -> list[Quad]:
    return parse_quads(data, TURTLE, graph=graph)


def values(result: object, variable: str) -> list[str]:
    assert isinstance(result, QuerySolutions)
    return sorted(row[variable].value for row in result)


def triples(result: QueryResult) -> list[Triple]:
    assert not isinstance(result, (QuerySolutions, QueryBoolean))
    found = list(result)
    assert all(isinstance(t, Triple) for t in found)
    return found


def version(marker: str, size: int) -> bytes:
    """N-Triples for one graph version: ``size`` triples all marked ``marker``."""
    return "".join(
        f'<http://example.org/item/{i}> <http://example.org/version> "{marker}" .\n'
        for i in range(size)
    ).encode()


# -- loading, replacing, deleting ----------------------------------------------------------


def test_every_backend_implements_both_protocols(store: WritableStore) -> None:
    assert isinstance(store, ReadableStore)
    assert isinstance(store, WritableStore)


def test_replace_graph_puts_the_data_in_the_graph(store: WritableStore) -> None:
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    assert store.graphs() == [G1]
    assert store.count(G1) == len(in_graph(ENTRY_ONE, G1))


def test_replace_graph_drops_the_old_content(store: WritableStore) -> None:
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    store.replace_graph(G1, ENTRY_TWO, TURTLE)
    assert store.count(G1) == len(in_graph(ENTRY_TWO, G1))
    assert values(store.query("SELECT ?s WHERE { ?s dcterms:title ?t }"), "s") == [P2]


def test_replace_graph_leaves_other_graphs_alone(store: WritableStore) -> None:
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    store.replace_graph(G2, ENTRY_TWO, TURTLE)
    store.replace_graph(G1, version("a", 3), NTRIPLES)
    assert store.count(G2) == len(in_graph(ENTRY_TWO, G2))


def test_replace_is_atomic_for_readers(store: WritableStore) -> None:
    versions = [version("a", 60), version("b", 90)]
    store.replace_graph(G1, versions[0], NTRIPLES)
    done = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(1, 25):
                store.replace_graph(G1, versions[i % 2], NTRIPLES)
        except BaseException as e:  # reported by the main thread
            failures.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    reads = 0
    try:
        while not done.is_set() or reads < 3:
            result = store.query(
                f"SELECT ?v (COUNT(*) AS ?n) WHERE {{ GRAPH <{G1}> {{ ?s ?p ?v }} }} GROUP BY ?v"
            )
            assert isinstance(result, QuerySolutions)
            seen.add(
                frozenset(
                    (None if row["v"] is None else row["v"].value, int(row["n"].value))
                    for row in result
                )
            )
            reads += 1
    finally:
        thread.join()  # never leave the writer running into the next test
    assert not failures
    assert seen <= {frozenset({("a", 60)}), frozenset({("b", 90)})}, f"a reader saw {seen}"


def test_replace_with_malformed_data_raises_and_changes_nothing(store: WritableStore) -> None:
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    before = dump_to_bytes(store, NQUADS)
    with pytest.raises(ParseError) as caught:
        store.replace_graph(G1, b"<http://example.org/s> <http://example.org/p> .\n", NTRIPLES)
    assert caught.value.line == 1
    assert canonical(parse(dump_to_bytes(store, NQUADS), NQUADS.oxigraph)) == canonical(
        parse(before, NQUADS.oxigraph)
    )


def test_add_to_graph_keeps_what_was_there(store: WritableStore) -> None:
    store.replace_graph(G1, ENTRY_ONE, TURTLE)
    store.add_to_graph(G1, version("a", 2), NTRIPLES)
    assert store.count(G1) == len(in_graph(ENTRY_ONE, G1)) + 2


def test_delete_graph_removes_it(loaded: WritableStore) -> None:
    loaded.delete_graph(G1)
    assert G1 not in loaded.graphs()
    assert loaded.count(G1) == 0
    assert values(loaded.query("SELECT ?s WHERE { ?s dcterms:title ?t }"), "s") == [P2]


def test_has_graph_tells_which_graphs_exist(loaded: WritableStore) -> None:
    assert loaded.has_graph(G1) and loaded.has_graph(G_ODD)
    loaded.delete_graph(G1)
    assert not loaded.has_graph(G1)
    assert not loaded.has_graph(KB + "graph/entry/never-loaded")


def test_replace_with_nothing_keeps_an_empty_graph(loaded: WritableStore) -> None:
    """A Graph Store PUT of an empty body: the graph is emptied, and exists where the engine
    keeps empty graphs (Oxigraph does; Virtuoso drops a graph with its last triple)."""
    keeps = not isinstance(loaded, SparqlStore) or loaded.engine.keeps_empty_graphs
    loaded.replace_graph(G1, b"", NTRIPLES)
    assert loaded.count(G1) == 0
    assert loaded.has_graph(G1) is keeps
    assert (G1 in loaded.graphs()) is keeps
    if keeps:  # read as an empty graph, and deleted like any other
        assert dump_to_bytes(loaded, NTRIPLES, graph=G1) == b""
        loaded.delete_graph(G1)
        assert not loaded.has_graph(G1)


def test_delete_unknown_graph_raises_not_found(loaded: WritableStore) -> None:
    with pytest.raises(NotFound):
        loaded.delete_graph(KB + "graph/entry/never-loaded")
    assert len(loaded.graphs()) == 3


def test_clear_removes_every_graph(loaded: WritableStore) -> None:
    loaded.clear()
    assert loaded.graphs() == []
    assert loaded.count() == 0


# -- queries -------------------------------------------------------------------------------


def test_select_returns_solutions(loaded: WritableStore) -> None:
    result = loaded.query(
        "SELECT ?s ?title WHERE { ?s a schema:ResearchProject ; dcterms:title ?title }"
    )
    assert isinstance(result, QuerySolutions)
    assert [v.value for v in result.variables] == ["s", "title"]
    rows = sorted((row["s"].value, row["title"].value, row["title"].language) for row in result)
    assert rows == [
        (P2, "Citizens' juries", "en"),
        (P1, "Participatory budgeting in Porto Alegre", "en"),
    ]


def test_select_keeps_datatypes_and_unbound_variables(loaded: WritableStore) -> None:
    result = loaded.query(
        f"SELECT ?date ?missing WHERE {{ <{P2}> schema:startDate ?date "
        "OPTIONAL { ?date schema:nothing ?missing } }"
    )
    assert isinstance(result, QuerySolutions)
    [row] = list(result)
    assert row["date"].value == "2019-04"
    assert row["date"].datatype == NamedNode("http://www.w3.org/2001/XMLSchema#gYearMonth")
    assert row["missing"] is None


def test_ask_returns_a_boolean(loaded: WritableStore) -> None:
    yes = loaded.query(f"ASK {{ <{P1}> dcterms:title ?t }}")
    no = loaded.query("ASK { ?s dcterms:title 'nothing like this' }")
    assert isinstance(yes, QueryBoolean)
    assert isinstance(no, QueryBoolean)
    assert bool(yes) is True
    assert bool(no) is False


def test_construct_returns_triples(loaded: WritableStore) -> None:
    result = loaded.query(
        "CONSTRUCT { ?s schema:name ?t } WHERE { ?s dcterms:title ?t FILTER(lang(?t) = 'en') }"
    )
    assert sorted((t.subject.value, t.object.value) for t in triples(result)) == [
        (P2, "Citizens' juries"),
        (P1, "Participatory budgeting in Porto Alegre"),
    ]


def test_describe_returns_the_resource_triples(loaded: WritableStore) -> None:
    described = triples(loaded.query(f"DESCRIBE <{P2}>"))
    assert set(described) == {q.triple for q in parse_quads(ENTRY_TWO, TURTLE)}


def test_describe_follows_blank_nodes(loaded: WritableStore) -> None:
    described = triples(loaded.query(f"DESCRIBE <{P1}>"))
    assert canonical(Quad(t.subject, t.predicate, t.object) for t in described) == (
        as_default_graph(ENTRY_ONE)
    )


def test_default_graph_is_the_union_of_the_named_graphs(loaded: WritableStore) -> None:
    result = loaded.query("SELECT ?s WHERE { ?s a schema:ResearchProject }")
    assert values(result, "s") == [P2, P1]


def test_graph_queries_see_each_named_graph(loaded: WritableStore) -> None:
    result = loaded.query("SELECT ?g ?s WHERE { GRAPH ?g { ?s a schema:ResearchProject } }")
    assert isinstance(result, QuerySolutions)
    assert sorted((row["g"].value, row["s"].value) for row in result) == [(G2, P2), (G1, P1)]


def test_graphs_lists_every_named_graph_sorted(loaded: WritableStore) -> None:
    assert loaded.graphs() == sorted([G1, G2, G_ODD])


def test_default_graph_uris_choose_the_default_graph(loaded: WritableStore) -> None:
    result = loaded.query(
        "SELECT ?s WHERE { ?s a schema:ResearchProject }", default_graph_uris=[G2]
    )
    assert values(result, "s") == [P2]


def test_named_graph_uris_choose_the_named_graphs(loaded: WritableStore) -> None:
    result = loaded.query(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graph_uris=[G1]
    )
    assert values(result, "g") == [G1]


def test_default_and_named_graph_uris_together(loaded: WritableStore) -> None:
    result = loaded.query(
        "SELECT ?d ?n WHERE { { ?d a schema:ResearchProject } UNION "
        "{ GRAPH ?g { ?n a schema:ResearchProject } } }",
        default_graph_uris=[G2],
        named_graph_uris=[G1],
    )
    assert isinstance(result, QuerySolutions)
    rows = sorted((str(row["d"]), str(row["n"])) for row in result)
    assert rows == sorted([(f"<{P2}>", "None"), ("None", f"<{P1}>")])


def test_named_graph_uris_alone_leave_the_default_graph_empty(loaded: WritableStore) -> None:
    result = loaded.query("SELECT ?s WHERE { ?s ?p ?o }", named_graph_uris=[G1])
    assert values(result, "s") == []


def test_default_graph_uris_alone_leave_no_named_graphs(loaded: WritableStore) -> None:
    result = loaded.query("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", default_graph_uris=[G1])
    assert values(result, "g") == []


def test_from_clauses_choose_the_dataset(loaded: WritableStore) -> None:
    result = loaded.query(f"SELECT ?s FROM <{G2}> WHERE {{ ?s a schema:ResearchProject }}")
    assert values(result, "s") == [P2]


def test_from_in_a_comment_or_a_string_leaves_the_union_default_graph(
    loaded: WritableStore,
) -> None:
    query = (
        "# Search from SPARQL: an example\n"
        f'SELECT ?s WHERE {{ ?s a schema:ResearchProject FILTER(?s != "FROM <{G2}>") }}'
    )
    assert sorted(values(loaded.query(query), "s")) == sorted([P1, P2])


def test_from_named_clauses_choose_the_named_graphs(loaded: WritableStore) -> None:
    result = loaded.query(
        f"SELECT DISTINCT ?g FROM NAMED <{G2}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    )
    assert values(result, "g") == [G2]


def test_common_prefixes_are_predeclared_and_can_be_redeclared(loaded: WritableStore) -> None:
    result = loaded.query(
        "PREFIX schema: <http://schema.org/> SELECT ?s WHERE { ?s a schema:ResearchProject }"
    )
    assert values(result, "s") == []


def test_update_changes_the_store(loaded: WritableStore) -> None:
    loaded.update(f'INSERT DATA {{ GRAPH <{G2}> {{ <{P2}> schema:keywords "deliberation" }} }}')
    loaded.update(f"DELETE WHERE {{ GRAPH <{G1}> {{ <{P1}> dcterms:title ?t }} }}")
    assert values(loaded.query("SELECT ?k WHERE { ?s schema:keywords ?k }"), "k") == [
        "deliberation"
    ]
    assert values(loaded.query("SELECT ?s WHERE { ?s dcterms:title ?t }"), "s") == [P2]


def test_count_counts_quads(loaded: WritableStore) -> None:
    sizes = [len(in_graph(data, g)) for data, g in ((ENTRY_ONE, G1), (ENTRY_TWO, G2))]
    sizes.append(len(in_graph(ENTRY_ODD, G_ODD)))
    assert loaded.count(G1) == sizes[0]
    assert loaded.count(G2) == sizes[1]
    assert loaded.count() == sum(sizes)
    assert loaded.count(KB + "graph/entry/never-loaded") == 0


# -- errors --------------------------------------------------------------------------------


def test_malformed_query_raises_query_error(loaded: WritableStore) -> None:
    with pytest.raises(QueryError) as caught:
        loaded.query(MALFORMED_QUERY)
    assert caught.value.status == 400
    assert len(str(caught.value)) > len("malformed query: ")


def test_error_position_is_the_users_despite_predeclared_prefixes(
    loaded: WritableStore,
) -> None:
    # The query uses a predeclared prefix (skos:), so a remote store adds a PREFIX line.
    with pytest.raises(QueryError) as caught:
        loaded.query("SELECT * WHERE { ?s a skos:Concept ; ?p }")
    if caught.value.line is not None:  # Oxigraph reports a position; some engines do not
        assert caught.value.line == 1
    if caught.value.column is not None:  # Virtuoso gives the line only
        assert caught.value.column < 45


def test_query_refuses_an_update(loaded: WritableStore) -> None:
    before = loaded.count()
    with pytest.raises(QueryError):
        loaded.query(f"DROP GRAPH <{G1}>")
    with pytest.raises(QueryError):
        loaded.query("PREFIX ex: <http://example.org/> INSERT DATA { ex:s ex:p ex:o }")
    assert loaded.count() == before


def test_malformed_update_raises_query_error_and_changes_nothing(loaded: WritableStore) -> None:
    before = loaded.count()
    with pytest.raises(QueryError) as caught:
        loaded.update(MALFORMED_UPDATE)
    assert caught.value.status == 400
    assert loaded.count() == before


# -- dumps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(RDF_FORMATS), ids=lambda f: f.name)
def test_dump_of_a_graph_round_trips(loaded: WritableStore, fmt: Format) -> None:
    dumped = dump_to_bytes(loaded, fmt, graph=G1)
    assert canonical(parse(dumped, fmt.oxigraph)) == as_default_graph(ENTRY_ONE)


@pytest.mark.parametrize("fmt", [f for f in RDF_FORMATS if f.dataset], ids=lambda f: f.name)
def test_dump_of_the_store_round_trips(loaded: WritableStore, fmt: Format) -> None:
    output = io.BytesIO()
    loaded.dump(output, fmt)
    expected = in_graph(ENTRY_ONE, G1) + in_graph(ENTRY_TWO, G2) + in_graph(ENTRY_ODD, G_ODD)
    assert canonical(parse(output.getvalue(), fmt.oxigraph)) == canonical(expected)


def test_dump_of_the_store_needs_a_dataset_format(loaded: WritableStore) -> None:
    with pytest.raises(UnsupportedFormat):
        loaded.dump(io.BytesIO(), TURTLE)


def test_dump_of_an_unknown_graph_raises_not_found(loaded: WritableStore) -> None:
    with pytest.raises(NotFound):
        loaded.dump(io.BytesIO(), TURTLE, graph=KB + "graph/entry/never-loaded")


# -- unicode and escaped IRIs --------------------------------------------------------------


def test_unicode_literals_and_escaped_iris_round_trip(loaded: WritableStore) -> None:
    assert G_ODD in loaded.graphs()
    result = loaded.query("SELECT ?s ?name ?url WHERE { ?s schema:name ?name ; schema:url ?url }")
    assert isinstance(result, QuerySolutions)
    [row] = list(result)
    assert row["s"].value == ODD
    assert row["name"].value == ODD_TEXT
    assert row["name"].language == "fr"
    assert row["url"].value == "http://example.org/\u00fcber/%23anchor"
    subjects = loaded.query(f"SELECT ?s WHERE {{ GRAPH <{G_ODD}> {{ ?s ?p ?o }} }}")
    assert values(subjects, "s") == [ODD, ODD]
    dumped = dump_to_bytes(loaded, NTRIPLES, graph=G_ODD)
    assert canonical(parse(dumped, NTRIPLES.oxigraph)) == as_default_graph(ENTRY_ODD)
    loaded.delete_graph(G_ODD)
    assert G_ODD not in loaded.graphs()


# -- what only a remote engine does --------------------------------------------------------

CROSS_PRODUCT = (
    "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(5)) + " }"
)


@pytest.fixture(scope="module")
def oxigraph_with_time_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ``oxigraph serve --timeout-s 1`` holding a graph big enough to cross with itself."""
    with oxigraph_server(tmp_path_factory.mktemp("limited"), timeout_s=1) as base:
        SparqlStore.for_endpoint(base + "/query").replace_graph(G1, version("a", 60), NTRIPLES)
        yield base


@pytest.mark.slow
def test_oxigraph_server_time_limit_raises_query_timeout(oxigraph_with_time_limit: str) -> None:
    store = SparqlStore.for_endpoint(oxigraph_with_time_limit + "/query")
    with pytest.raises(QueryTimeout) as caught:  # Oxigraph answers 200, then "cancelled"
        store.query(CROSS_PRODUCT)
    assert "time limit" in str(caught.value)
    assert store.count(G1) == 60  # and the engine keeps answering


@pytest.mark.slow
def test_virtuoso_partial_result_at_its_time_limit_raises_query_timeout(
    virtuoso_url: str,  # noqa: F811 (the fixture)
) -> None:
    store = SparqlStore.for_endpoint(virtuoso_url, query_timeout=0.5)
    store.replace_graph(G1, version("a", 60), NTRIPLES)
    with pytest.raises(QueryTimeout) as caught:  # Virtuoso answers 200 with what it has
        store.query(CROSS_PRODUCT)
    assert "partial result" in str(caught.value)
    assert store.count(G1) == 60


@pytest.mark.slow
def test_an_answer_still_streaming_at_the_time_limit_raises_query_timeout(
    oxigraph_with_time_limit: str,
) -> None:
    # Oxigraph keeps streaming a SELECT * past its --timeout-s: cokg's own deadline stops it.
    store = SparqlStore.for_endpoint(oxigraph_with_time_limit + "/query", timeout=1.0)
    with pytest.raises(QueryTimeout) as caught:
        store.query("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
    assert "still sending" in str(caught.value)
    assert store.count(G1) == 60


@pytest.mark.slow
def test_virtuoso_authenticated_endpoints_take_digest_credentials(
    virtuoso_url: str,  # noqa: F811 (the fixture)
) -> None:
    store = SparqlStore.for_endpoint(virtuoso_url, auth=DigestAuth("dba", "dba"))
    assert store.update_url == virtuoso_url + "-auth"
    store.replace_graph(G2, ENTRY_TWO, TURTLE)
    store.add_to_graph(G2, ENTRY_ONE, TURTLE)  # blank nodes: Virtuoso's INSERT template
    assert store.count(G2) == len(in_graph(ENTRY_TWO, G2)) + len(in_graph(ENTRY_ONE, G2))
    store.delete_graph(G2)  # Graph Store DELETE on /sparql-graph-crud-auth
    assert G2 not in store.graphs()
    wrong = SparqlStore.for_endpoint(virtuoso_url, auth=DigestAuth("dba", "wrong"))
    with pytest.raises(StoreUnavailable):
        wrong.update(f"DROP SILENT GRAPH <{G1}>")


@pytest.mark.slow
def test_a_client_timeout_raises_query_timeout(oxigraph_with_time_limit: str) -> None:
    store = SparqlStore.for_endpoint(oxigraph_with_time_limit + "/query", timeout=0.2)
    with pytest.raises(QueryTimeout) as caught:
        store.query(CROSS_PRODUCT)
    assert "in time" in str(caught.value)


def test_an_unreachable_engine_raises_store_unavailable() -> None:
    store = SparqlStore.for_endpoint(f"http://127.0.0.1:{free_port()}/query", retries=1)
    with pytest.raises(StoreUnavailable):
        store.query("ASK {}")
    with pytest.raises(StoreUnavailable):
        store.update(MALFORMED_UPDATE)
    with pytest.raises(StoreUnavailable):
        store.graphs()


ASK_TRUE = (200, "application/sparql-results+json", b'{"head":{},"boolean":true}')
UNAVAILABLE = (503, "text/plain", b"restarting")
NO_CONTENT = (204, "text/plain", b"")


def test_queries_are_retried_after_a_503() -> None:
    with scripted_engine(UNAVAILABLE, UNAVAILABLE, ASK_TRUE) as engine:
        store = SparqlStore(engine.url + "/sparql", retries=2)
        assert bool(store.query("ASK {}")) is True
    assert len(engine.requests) == 3


def test_updates_and_graph_writes_are_never_retried() -> None:
    with scripted_engine(UNAVAILABLE, UNAVAILABLE) as engine:
        store = SparqlStore(
            engine.url + "/sparql", gsp_url=engine.url + "/data", engine="fuseki", retries=2
        )
        with pytest.raises(StoreUnavailable):
            store.update(MALFORMED_UPDATE)
        with pytest.raises(StoreUnavailable):
            store.replace_graph(G1, ENTRY_TWO, TURTLE)
    assert [r.method for r in engine.requests] == ["POST", "PUT"]


@pytest.mark.parametrize(
    ("auth", "header"),
    [(BearerAuth("s3cret"), "Bearer s3cret"), (BasicAuth("kb", "pw"), "Basic a2I6cHc=")],
)
def test_credentials_go_with_every_request(auth: BearerAuth | BasicAuth, header: str) -> None:
    with scripted_engine(ASK_TRUE, NO_CONTENT, NO_CONTENT) as engine:
        store = SparqlStore(
            engine.url + "/sparql", gsp_url=engine.url + "/data", engine="fuseki", auth=auth
        )
        store.query("ASK {}")
        store.update(f"DROP SILENT GRAPH <{G1}>")
        store.delete_graph(G1)
    assert [r.headers.get("Authorization") for r in engine.requests] == [header] * 3
    assert "s3cret" not in repr(auth) and "pw" not in repr(auth)


def test_a_result_cut_short_is_never_returned() -> None:
    cut = (200, "application/sparql-results+json", b'{"head":{"vars":["s"]},"results":{"bi')
    with scripted_engine(cut) as engine, pytest.raises(StoreUnavailable):
        SparqlStore(engine.url + "/sparql").query("SELECT ?s WHERE { ?s ?p ?o }")
