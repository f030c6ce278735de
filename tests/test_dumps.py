"""cokg.dumps: every dump parses, holds the store's statements, and is the same bytes each time."""

from __future__ import annotations

import gzip
import hashlib
import json
import warnings
from pathlib import Path

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld
from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QuerySolutions,
    RdfFormat,
    parse,
    serialize,
)
from rdflib.compare import isomorphic

from cokg import dumps as dumps_module
from cokg.describe import CONTEXT
from cokg.dumps import (
    DumpCache,
    dump_names,
    read_manifest,
    split_quad,
    write_dumps,
    write_trig,
)
from cokg.errors import NotFound
from cokg.formats import NTRIPLES, TURTLE
from cokg.load import open_knowledge_base
from cokg.store import OxigraphStore

BASE = "https://w3id.org/coprod/"
RDFLIB_FORMATS = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}


def parse_rdflib(source: Path | bytes, fmt: str) -> rdflib.Graph:
    """Parse with rdflib (whose JSON-LD parser still warns about its own ConjunctiveGraph)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data = source if isinstance(source, bytes) else source.read_bytes()
        return rdflib.Graph().parse(data=data, format=fmt)


def parse_dataset(data: bytes, fmt: str) -> list[tuple[object, ...]]:
    """Return the quads rdflib reads from a dataset file (its Dataset warns about itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = rdflib.Dataset()
        dataset.parse(data=data, format=fmt)
        return list(dataset.quads((None, None, None, None)))


def union_size(store: OxigraphStore) -> int:
    result = store.query("SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")
    assert isinstance(result, QuerySolutions)
    return int(next(iter(result))[0].value)


@pytest.fixture(scope="module")
def store() -> OxigraphStore:
    return open_knowledge_base()


@pytest.fixture(scope="module")
def written(store: OxigraphStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dumps")
    write_dumps(store, folder, base_iri=BASE)
    return folder


def test_every_file_is_written_and_listed_in_the_manifest(written: Path) -> None:
    _, files = read_manifest(written)
    assert [f.name for f in files] == dump_names()
    for item in files:
        data = (written / item.name).read_bytes()
        assert len(data) == item.byte_size
        assert hashlib.sha256(data).hexdigest() == item.sha256
    assert not [p.name for p in written.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("extension", ["ttl", "nt", "jsonld"])
def test_union_dumps_hold_each_triple_of_the_store_once(
    store: OxigraphStore, written: Path, extension: str
) -> None:
    graph = parse_rdflib(written / f"cokg.{extension}", RDFLIB_FORMATS[extension])
    assert len(graph) == union_size(store) == 1333
    _, files = read_manifest(written)
    assert {f.name: f.statements for f in files}[f"cokg.{extension}"] == len(graph)


@pytest.mark.parametrize(("extension", "fmt"), [("nq", "nquads"), ("trig", "trig")])
def test_dataset_dumps_keep_every_quad(
    store: OxigraphStore, written: Path, extension: str, fmt: str
) -> None:
    quads = parse_dataset((written / f"cokg.{extension}").read_bytes(), fmt)
    assert len(quads) == store.count()
    assert {str(q[3]) for q in quads} == set(store.graphs())


def test_jsonld_uses_the_project_context_and_pyld_expands_it_to_the_same_triples(
    written: Path,
) -> None:
    document = json.loads((written / "cokg.jsonld").read_text(encoding="utf-8"))
    assert document["@context"] == CONTEXT["@context"]
    assert any(isinstance(node.get("title"), dict) for node in document["@graph"])
    nquads = jsonld.to_rdf(document, {"format": "application/n-quads"})
    from_pyld = parse_rdflib(nquads.encode(), "nt")
    from_nt = parse_rdflib(written / "cokg.nt", "nt")
    assert isomorphic(from_pyld, from_nt)


def test_gzip_files_decompress_to_the_plain_bytes(written: Path) -> None:
    for name in dump_names():
        if name.endswith(".gz"):
            packed = (written / name).read_bytes()
            assert packed[4:8] == b"\0\0\0\0"  # no time stamp
            assert not packed[3] & 0x08  # no file name
            assert gzip.decompress(packed) == (written / name[: -len(".gz")]).read_bytes()


def test_ontology_and_vocabularies_come_on_their_own(store: OxigraphStore, written: Path) -> None:
    ontology = parse_rdflib(written / "ontology.ttl", "turtle")
    assert len(ontology) == store.count(BASE + "graph/ontology/cop")
    vocabularies = parse_rdflib(written / "vocabularies.ttl", "turtle")
    expected = sum(store.count(g) for g in store.graphs() if "/graph/vocabularies/" in g)
    assert len(vocabularies) == expected


def test_the_same_store_gives_the_same_bytes(
    store: OxigraphStore, written: Path, tmp_path: Path
) -> None:
    write_dumps(store, tmp_path, base_iri=BASE)
    for name in dump_names():
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes(), name


def test_a_triple_in_two_graphs_is_written_once_and_sorting_in_chunks_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = OxigraphStore()
    lines = [f'<http://e.org/s{i % 7}> <http://e.org/p> "{i % 11}" .' for i in range(60)]
    store.replace_graph("http://e.org/g1", "\n".join(lines).encode(), NTRIPLES)
    store.replace_graph("http://e.org/g2", "\n".join(lines[::2]).encode(), NTRIPLES)
    in_memory = write_dumps(store, tmp_path / "memory", base_iri=BASE)
    monkeypatch.setattr(dumps_module, "SORT_CHUNK_LINES", 5)
    chunked = write_dumps(store, tmp_path / "chunked", base_iri=BASE)
    assert (tmp_path / "memory" / "cokg.nt").read_bytes() == (
        tmp_path / "chunked" / "cokg.nt"
    ).read_bytes()
    counts = {f.name: f.statements for f in chunked}
    assert counts["cokg.nt"] == len(set(lines)) == union_size(store)
    assert counts["cokg.nq"] == store.count() == len(set(lines)) + len(set(lines[::2]))
    assert [f.sha256 for f in in_memory] == [f.sha256 for f in chunked]


def test_an_empty_store_gives_empty_but_valid_dumps(tmp_path: Path) -> None:
    files = write_dumps(OxigraphStore(), tmp_path, base_iri=BASE)
    assert {f.statements for f in files} == {0}
    document = json.loads((tmp_path / "cokg.jsonld").read_text(encoding="utf-8"))
    assert document["@graph"] == []


def test_the_cache_builds_once_rebuilds_after_a_change_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    store = open_knowledge_base()
    cache = DumpCache(tmp_path, store, base_iri=BASE, check_every=0)
    first = cache.files()
    folder = cache.path("cokg.ttl").parent
    assert cache.files() == first and cache.path("cokg.ttl").parent == folder

    restarted = DumpCache(tmp_path, store, base_iri=BASE, check_every=0)
    assert restarted.files() == first
    assert restarted.path("cokg.ttl").parent == folder

    # a write of the same size is only seen through invalidate()
    store.replace_graph(BASE + "graph/extra", f'<{BASE}x> <{BASE}p> "new" .'.encode(), TURTLE)
    changed = restarted.files()
    assert {f.name: f.statements for f in changed}["cokg.nq"] == store.count()
    assert restarted.path("cokg.ttl").parent != folder
    assert folder.exists()  # kept for downloads that were just given its path

    store.replace_graph(BASE + "graph/extra", f'<{BASE}x> <{BASE}p> "old" .'.encode(), TURTLE)
    same_size = restarted.path("cokg.nt").parent
    restarted.invalidate()
    assert restarted.path("cokg.nt").parent != same_size
    assert b'"old"' in restarted.path("cokg.nt").read_bytes()
    assert not folder.exists()  # two versions back: removed
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("v-")]) == 2


def test_a_build_that_fails_is_reported_and_tried_again(tmp_path: Path) -> None:
    store = OxigraphStore()
    blocker = tmp_path / "dumps"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    cache = DumpCache(blocker, store, base_iri=BASE)
    with pytest.raises(OSError):
        cache.files()
    blocker.unlink()
    assert [f.name for f in cache.files()] == dump_names()


def test_the_cache_refuses_names_that_are_not_dumps(tmp_path: Path) -> None:
    cache = DumpCache(tmp_path, OxigraphStore(), base_iri=BASE)
    for name in ("../current.json", "manifest.json", "cokg.ttl/", "", "cokg.rdf", "a\0b"):
        with pytest.raises(NotFound):
            cache.path(name)


TRICKY = [
    '"a b" <http://e.org/x> .',
    '"with \\"quotes\\" and <angles> and _:b and ." <http://e.org/x> .',
    '"line\\nbreak\\\\" ',
    '"ünï cödé \u2028 end"@de-ch ',
    '"1"^^<http://www.w3.org/2001/XMLSchema#integer> ',
    "<http://e.org/o> ",
    "_:blank ",
    '"" ',
]


@pytest.mark.parametrize("graph", ["<http://e.org/g> ", "_:g ", ""])
@pytest.mark.parametrize("obj", TRICKY)
def test_split_quad_agrees_with_the_parser(graph: str, obj: str) -> None:
    obj = obj.split(" <http://e.org/x>")[0].rstrip() + " "
    line = f"<http://e.org/s> <http://e.org/p> {obj}{graph}.\n".encode()
    quad = next(iter(parse(line, RdfFormat.N_QUADS)))
    triple, found = split_quad(line)
    assert triple == f"{quad.triple} .\n".encode()
    assert found == graph.strip().encode()
    spaced = line.replace(b" .\n", b"  .\n")  # not as Oxigraph writes it: the parser decides
    assert split_quad(spaced)[0] == triple


def test_tricky_literals_survive_every_dump(tmp_path: Path) -> None:
    store = OxigraphStore()
    body = "\n".join(
        f"<http://e.org/s{i}> <http://e.org/p> {obj.split(' <http://e.org/x>')[0].strip()} ."
        for i, obj in enumerate(TRICKY)
    )
    store.replace_graph("http://e.org/g", body.encode(), NTRIPLES)
    # the same triples in a second graph (blank nodes are local to a file: left out)
    named_only = "\n".join(line for line in body.split("\n") if "_:blank" not in line)
    store.replace_graph("http://e.org/h", named_only.encode(), NTRIPLES)
    write_dumps(store, tmp_path, base_iri=BASE)
    expected = parse_rdflib(body.encode(), "nt")
    for name, fmt in (("cokg.nt", "nt"), ("cokg.ttl", "turtle"), ("cokg.jsonld", "json-ld")):
        assert isomorphic(parse_rdflib(tmp_path / name, fmt), expected), name


def test_split_quad_agrees_with_the_parser_on_the_whole_knowledge_base(
    written: Path,
) -> None:
    lines = (written / "cokg.nq").read_bytes().splitlines(keepends=True)
    quads = parse((written / "cokg.nq").read_bytes(), RdfFormat.N_QUADS)
    for line, quad in zip(lines, quads, strict=True):
        assert split_quad(line) == (f"{quad.triple} .\n".encode(), str(quad.graph_name).encode())


LITERAL_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30
)
GRAPHS = st.sampled_from([DefaultGraph(), NamedNode("http://e.org/g"), BlankNode("g1")])


@st.composite
def objects(draw: st.DrawFn) -> NamedNode | BlankNode | Literal:
    kind = draw(st.sampled_from(["iri", "blank", "plain", "lang", "typed"]))
    text = draw(LITERAL_TEXT)
    if kind == "iri":
        return NamedNode("http://e.org/" + "".join(c for c in text if c.isalnum()))
    if kind == "blank":
        return BlankNode("b" + "".join(c for c in text if c.isascii() and c.isalnum()))
    if kind == "lang":
        return Literal(text, language=draw(st.sampled_from(["en", "de-ch", "fr"])))
    if kind == "typed":
        return Literal(text, datatype=NamedNode("http://e.org/type"))
    return Literal(text)


@given(obj=objects(), graph=GRAPHS)
@settings(max_examples=300, deadline=None)
def test_split_quad_agrees_with_the_parser_on_any_term(
    obj: NamedNode | BlankNode | Literal, graph: DefaultGraph | NamedNode | BlankNode
) -> None:
    quad = Quad(NamedNode("http://e.org/s"), NamedNode("http://e.org/p"), obj, graph)
    line = serialize([quad], None, RdfFormat.N_QUADS)
    assert line is not None
    triple, found = split_quad(line)
    assert triple == serialize([quad.triple], None, RdfFormat.N_TRIPLES)
    assert found == (b"" if isinstance(graph, DefaultGraph) else str(graph).encode())


def test_trig_derived_from_the_nquads_file_equals_trig_from_the_store(
    store: OxigraphStore, written: Path, tmp_path: Path
) -> None:
    """Stores other than the embedded one get their TriG from the N-Quads file."""
    derived = write_trig(written / "cokg.nq", tmp_path / "cokg.trig", base_iri=BASE)
    assert derived.statements == store.count()
    ours = parse_dataset((tmp_path / "cokg.trig").read_bytes(), "trig")
    native = parse_dataset((written / "cokg.trig").read_bytes(), "trig")
    assert len(ours) == len(native) == store.count()
    assert {q[3] for q in ours} == {q[3] for q in native}
