"""The dataset description (cokg.void): figures counted right, VoID + DCAT that the shapes accept."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, XSD

from cokg.dumps import DumpFile, write_dumps
from cokg.errors import StoreUnavailable
from cokg.formats import TURTLE
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.sparql_store import SparqlStore
from cokg.store import OxigraphStore
from cokg.validate import validate
from cokg.void import (
    LINK_TARGETS,
    SPDX,
    StatisticsCache,
    dataset_description,
    dataset_statistics,
    dataset_turtle,
    namespace_of,
)

BASE = DEFAULT_BASE_IRI
DATASET = URIRef(BASE + "dataset")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 (rdflib ships DCAT 2)
SPDX_NS = rdflib.Namespace(SPDX)


@pytest.fixture(scope="module")
def dump_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dumps")


@pytest.fixture(scope="module")
def dumps(store: OxigraphStore, dump_folder: Path) -> list[DumpFile]:
    return write_dumps(store, dump_folder, base_iri=BASE)


def one(store: OxigraphStore, query: str) -> int:
    rows = list(store.query(query))  # type: ignore[arg-type]
    return int(rows[0]["n"].value)


def graph_of(turtle: bytes) -> rdflib.Graph:
    return rdflib.Graph().parse(data=turtle, format="turtle")


def integer(graph: rdflib.Graph, subject: Any, predicate: URIRef) -> int:
    values = list(graph.objects(subject, predicate))
    assert len(values) == 1, (subject, predicate, values)
    assert isinstance(values[0], Literal) and values[0].datatype == XSD.integer
    return int(values[0])


# -- the figures --------------------------------------------------------------------------------


def test_triples_are_the_store_count_and_the_distinct_triples(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    distinct = one(store, "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")
    assert stats.triples == store.count() == distinct == 1333


def test_partitions_add_up_and_match_sparql_counts(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    assert sum(p.count for p in stats.properties) == stats.triples
    assert len({p.iri for p in stats.properties}) == len(stats.properties)
    for cls in stats.classes:
        assert cls.count == one(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ ?s a <{cls.iri}> }}")
    assert stats.entries == 6
    assert stats.people == one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s a foaf:Person }")
    assert stats.organisations == one(
        store, "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s a foaf:Organization }"
    )
    assert stats.concepts == one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s a skos:Concept }")


def test_entities_are_the_subjects_in_the_uri_space(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    subjects = {
        row["s"].value
        for row in store.query("SELECT DISTINCT ?s { ?s ?p ?o FILTER(isIRI(?s)) }")  # type: ignore[union-attr]
    }
    assert stats.entities == len({s for s in subjects if s.startswith(BASE + "id/")}) > 0
    assert stats.distinct_subjects >= stats.entities


def test_linkset_counts_equal_sparql_counts(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    for key, space, _ in LINK_TARGETS:
        expected = one(
            store,
            f'SELECT (COUNT(*) AS ?n) {{ ?s ?p ?o FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{space}")) }}',
        )
        assert sum(ls.triples for ls in stats.linksets if ls.key == key) == expected, key
    # The shipped knowledge base links four organisations to ROR, nothing else yet.
    assert [(ls.key, ls.predicate, ls.triples) for ls in stats.linksets] == [
        ("ror", str(OWL.sameAs), 4)
    ]


def test_entries_per_year_and_top_keywords(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    assert sum(c.count for c in stats.entries_per_year) == stats.entries
    assert [c.iri for c in stats.entries_per_year] == sorted(c.iri for c in stats.entries_per_year)
    assert all(len(c.iri) == 4 and c.iri.isdigit() for c in stats.entries_per_year)
    counts = [c.count for c in stats.top_keywords]
    assert counts == sorted(counts, reverse=True) and 0 < len(counts) <= 10
    assert all(c.label for c in stats.top_keywords)


def test_vocabularies_are_the_namespaces_of_classes_and_properties(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    for namespace in ("http://xmlns.com/foaf/0.1/", "https://schema.org/", str(DCTERMS)):
        assert namespace in stats.vocabularies
    assert "https://w3id.org/coprod/ontology/" in stats.vocabularies
    assert namespace_of("http://example.org") is None


# -- the description ----------------------------------------------------------------------------


def test_live_description_conforms_to_the_shapes(
    store: OxigraphStore, dumps: list[DumpFile]
) -> None:
    graph = graph_of(dataset_turtle(store, base_iri=BASE, distributions=dumps))
    report = validate(graph)
    assert report.conforms, report.to_text()
    assert (DATASET, RDF.type, VOID.Dataset) in graph
    assert (DATASET, RDF.type, DCAT.Dataset) in graph
    assert (DATASET, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in (
        graph
    )
    assert (DATASET, VOID.sparqlEndpoint, URIRef(BASE + "sparql")) in graph
    assert (DATASET, VOID.uriSpace, Literal(BASE + "id/")) in graph
    assert integer(graph, DATASET, VOID.triples) == store.count()
    service = graph.value(predicate=DCAT.servesDataset, object=DATASET)  # DCAT 3: no link back
    assert (service, DCAT.endpointURL, URIRef(BASE + "sparql")) in graph
    assert (service, DCAT.servesDataset, DATASET) in graph


def test_partitions_and_linksets_in_the_description(store: OxigraphStore) -> None:
    stats = dataset_statistics(store, base_iri=BASE)
    graph = graph_of(dataset_turtle(store, base_iri=BASE, statistics=stats))
    partitions = {
        graph.value(part, VOID.property): integer(graph, part, VOID.triples)
        for part in graph.objects(DATASET, VOID.propertyPartition)
    }
    assert partitions == {URIRef(p.iri): p.count for p in stats.properties}
    assert integer(graph, DATASET, VOID.properties) == len(partitions)
    classes = {
        graph.value(part, VOID["class"]): integer(graph, part, VOID.entities)
        for part in graph.objects(DATASET, VOID.classPartition)
    }
    assert classes[URIRef("https://schema.org/ResearchProject")] == 6
    linksets = list(graph.subjects(RDF.type, VOID.Linkset))
    assert len(linksets) == 1
    (linkset,) = linksets
    assert (linkset, VOID.subjectsTarget, DATASET) in graph
    assert (linkset, VOID.objectsTarget, URIRef("https://ror.org/")) in graph
    assert (linkset, VOID.linkPredicate, OWL.sameAs) in graph
    assert integer(graph, linkset, VOID.triples) == 4


def test_every_dump_is_a_distribution_with_its_real_size_and_checksum(
    store: OxigraphStore, dumps: list[DumpFile], dump_folder: Path
) -> None:
    graph = graph_of(dataset_turtle(store, base_iri=BASE, distributions=dumps))
    listed = {}
    for distribution in graph.objects(DATASET, DCAT.distribution):
        url = graph.value(distribution, DCAT.downloadURL)
        assert (DATASET, VOID.dataDump, url) in graph
        checksum = graph.value(distribution, SPDX_NS.checksum)
        assert (checksum, SPDX_NS.algorithm, SPDX_NS.checksumAlgorithm_sha256) in graph
        value = graph.value(checksum, SPDX_NS.checksumValue)
        size = graph.value(distribution, DCAT.byteSize)
        assert isinstance(size, Literal) and size.datatype == XSD.nonNegativeInteger
        assert isinstance(value, Literal) and value.datatype == XSD.hexBinary
        listed[str(url).removeprefix(BASE + "dumps/")] = (int(size), str(value).lower())
    assert set(listed) == {d.name for d in dumps} and len(listed) >= 10
    for name, (byte_size, sha256) in listed.items():
        data = (dump_folder / name).read_bytes()  # the bytes the server sends
        assert (byte_size, sha256) == (len(data), hashlib.sha256(data).hexdigest()), name


def test_gzip_distributions_name_their_compression(
    store: OxigraphStore, dumps: list[DumpFile]
) -> None:
    graph = graph_of(dataset_turtle(store, base_iri=BASE, distributions=dumps))
    gzip = URIRef("https://www.iana.org/assignments/media-types/application/gzip")
    for dump in dumps:
        node = graph.value(predicate=DCAT.downloadURL, object=URIRef(BASE + "dumps/" + dump.name))
        media = graph.value(node, DCAT.mediaType)
        assert media == URIRef("https://www.iana.org/assignments/media-types/" + dump.media_type)
        assert ((node, DCAT.compressFormat, gzip) in graph) is dump.compressed


def test_release_description(store: OxigraphStore) -> None:
    dump = DumpFile(
        name="cokg.ttl",
        title="Whole knowledge graph, Turtle",
        media_type="text/turtle",
        compressed=False,
        byte_size=10,
        sha256=hashlib.sha256(b"0123456789").hexdigest(),
        statements=1,
        modified=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )
    previous = BASE + "releases/1.0.0/"
    graph = graph_of(
        dataset_turtle(
            store,
            base_iri=BASE,
            distributions=[dump],
            version="1.1.0",
            issued=date(2026, 11, 26),
            previous=previous,
        )
    )
    release = URIRef(BASE + "releases/1.1.0/")
    report = validate(graph)
    assert report.conforms, report.to_text()
    assert (release, OWL.versionInfo, Literal("1.1.0")) in graph
    assert (release, DCTERMS.issued, Literal("2026-11-26", datatype=XSD.date)) in graph
    assert (release, PROV.wasDerivedFrom, URIRef(previous)) in graph
    assert (release, DCTERMS.isVersionOf, DATASET) in graph
    assert (DATASET, DCAT.hasVersion, release) in graph
    assert (release, DCAT.downloadURL, None) not in graph
    assert graph.value(release, VOID.dataDump) == URIRef(BASE + "releases/1.1.0/cokg.ttl")
    # The endpoint serves the live graph, not the release.
    assert (release, VOID.sparqlEndpoint, None) not in graph
    assert (None, RDF.type, DCAT.DataService) not in graph


def test_the_description_without_dumps_still_conforms(store: OxigraphStore) -> None:
    triples = dataset_description(store, base_iri="http://example.org/kb/")
    graph = graph_of(
        b"".join(f"{t} .\n".encode() for t in triples)  # N-Triples is Turtle
    )
    assert validate(graph).conforms
    assert (URIRef("http://example.org/kb/dataset"), VOID.dataDump, None) not in graph


# -- the cache ----------------------------------------------------------------------------------


def test_statistics_are_counted_again_when_the_store_changes() -> None:
    store = OxigraphStore()
    graph = "https://w3id.org/coprod/id/graph/a"
    store.replace_graph(graph, b"<https://w3id.org/coprod/id/a> a <http://e.org/C> .", TURTLE)
    cache = StatisticsCache(store, base_iri=BASE, check_every=0)
    first = cache.get()
    assert first.triples == 1 and cache.get() is first  # same version: not counted again
    store.replace_graph(
        graph,
        b"<https://w3id.org/coprod/id/a> a <http://e.org/C> . "
        b"<https://w3id.org/coprod/id/b> a <http://e.org/C> .",
        TURTLE,
    )
    second = cache.get()
    assert second.triples == 2 and second.entities == 2


def test_invalidate_forces_a_recount_within_the_check_interval() -> None:
    store = OxigraphStore()
    cache = StatisticsCache(store, base_iri=BASE, check_every=3600)
    assert cache.get().triples == 0
    store.replace_graph("http://e.org/g", b"<http://e.org/a> <http://e.org/p> 1 .", TURTLE)
    assert cache.get().triples == 0  # within the interval, no write event: the cached figure
    cache.invalidate()
    assert cache.get().triples == 1


def test_an_unreachable_store_is_reported_to_the_caller() -> None:
    store = SparqlStore.for_endpoint("http://127.0.0.1:9/sparql", engine="oxigraph")
    cache = StatisticsCache(store, base_iri=BASE)
    with pytest.raises(StoreUnavailable):
        cache.get()
    with pytest.raises(StoreUnavailable):  # and again: nothing stale is made up
        cache.get(wait=0)


def test_partition_and_linkset_nodes_keep_their_iris_across_versions(
    store: OxigraphStore,
) -> None:
    graph = graph_of(dataset_turtle(store, base_iri=BASE))
    person = URIRef(BASE + "dataset#class-foaf-Person")
    assert (DATASET, VOID.classPartition, person) in graph
    assert (person, VOID["class"], URIRef("http://xmlns.com/foaf/0.1/Person")) in graph
    name = URIRef(BASE + "dataset#property-foaf-name")
    assert (name, VOID.property, URIRef("http://xmlns.com/foaf/0.1/name")) in graph
    # owl:sameAs and schema:sameAs to the same target are two linksets, never one node.
    assert (URIRef(BASE + "dataset#links-ror-owl-sameAs"), RDF.type, VOID.Linkset) in graph
    parts = list(graph.objects(DATASET, VOID.propertyPartition))
    assert len(parts) == len(set(parts)) == integer(graph, DATASET, VOID.properties)
