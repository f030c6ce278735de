"""Loading files and folders: graph names, formats, atomicity, clear errors."""

import gzip
from pathlib import Path

import pytest

from cokg.errors import NotFound, ParseError, UnsupportedFormat
from cokg.load import graph_iri, knowledge_base_files, load_files, load_knowledge_base
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.store import OxigraphStore

TRIPLE = '<http://example.org/s> <http://example.org/p> "{}" .\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_each_file_goes_to_its_own_graph(tmp_path):
    write(tmp_path / "kb" / "people.ttl", TRIPLE.format("a"))
    write(tmp_path / "kb" / "entries" / "one.nt", TRIPLE.format("b"))
    store = OxigraphStore()
    summary = load_files(store, [tmp_path / "kb"])
    assert store.graphs() == [
        DEFAULT_BASE_IRI + "graph/entries/one",
        DEFAULT_BASE_IRI + "graph/people",
    ]
    assert summary.quads == 2


def test_reloading_a_file_replaces_its_graph(tmp_path):
    path = write(tmp_path / "one.ttl", TRIPLE.format("old"))
    store = OxigraphStore()
    load_files(store, [path])
    write(path, TRIPLE.format("new"))
    load_files(store, [path])
    values = [row["o"].value for row in store.query("SELECT ?o WHERE { ?s ?p ?o }")]
    assert values == ["new"]


def test_trig_keeps_its_graphs_and_gzip_is_read(tmp_path):
    trig = '<http://example.org/g> { <http://example.org/s> <http://example.org/p> "x" . }\n'
    (tmp_path / "d.trig.gz").write_bytes(gzip.compress(trig.encode()))
    store = OxigraphStore()
    load_files(store, [tmp_path / "d.trig.gz"])
    assert store.graphs() == ["http://example.org/g"]


def test_a_broken_file_loads_nothing_and_names_file_line_and_column(tmp_path):
    good = write(tmp_path / "a.ttl", TRIPLE.format("fine"))
    bad = write(tmp_path / "b.ttl", TRIPLE.format("fine") + "<http://x> <http://y> .\n")
    store = OxigraphStore()
    with pytest.raises(ParseError) as caught:
        load_files(store, [good, bad])
    assert caught.value.source == str(bad)
    assert caught.value.line == 2
    assert str(bad) in str(caught.value)
    assert store.count() == 0


def test_unknown_extension_and_missing_file(tmp_path):
    odd = write(tmp_path / "notes.docx", "hello")
    with pytest.raises(UnsupportedFormat, match=r"notes\.docx"):
        load_files(OxigraphStore(), [odd])
    with pytest.raises(NotFound):
        load_files(OxigraphStore(), [tmp_path / "missing.ttl"])


def test_graph_iri_under_another_base():
    assert graph_iri("entries/x.ttl", base_iri="http://localhost:8080/") == (
        "http://localhost:8080/graph/entries/x"
    )


def test_knowledge_base_loads_under_another_base_without_moving_the_ontology():
    store = OxigraphStore()
    load_knowledge_base(store, base_iri="http://localhost:8080/")
    assert all(g.startswith("http://localhost:8080/graph/") for g in store.graphs())
    ask = "ASK { ?s ?p ?o FILTER(STRSTARTS(STR(?s), 'https://w3id.org/coprod/id/')) }"
    assert not bool(store.query(ask))
    assert bool(store.query("ASK { cop:approach ?p ?o }"))


def test_shipped_files_have_distinct_graphs():
    files = knowledge_base_files()
    names = [graph_iri(rel.as_posix()) for _, rel in files]
    assert len(names) == len(set(names))
    assert DEFAULT_BASE_IRI + "graph/ontology/cop" in names


def test_a_trig_file_replaces_every_graph_it_holds(tmp_path):
    path = tmp_path / "two.trig"
    path.write_text(
        '<http://example.org/g1> { <http://example.org/s> <http://example.org/p> "one" . }\n'
        '<http://example.org/g2> { <http://example.org/s> <http://example.org/p> "two" . }\n',
        encoding="utf-8",
    )
    store = OxigraphStore()
    load_files(store, [path])
    path.write_text(
        '<http://example.org/g1> { <http://example.org/s> <http://example.org/p> "uno" . }\n'
        '<http://example.org/g2> { <http://example.org/s> <http://example.org/p> "dos" . }\n',
        encoding="utf-8",
    )
    load_files(store, [path])
    values = sorted(row["o"].value for row in store.query("SELECT ?o WHERE { ?s ?p ?o }"))
    assert values == ["dos", "uno"]


@pytest.mark.parametrize("suffix", ["ttl", "trig", "nt.gz"])
def test_large_files_take_the_bulk_path_with_the_same_result(tmp_path, suffix):
    lines = "".join(TRIPLE.format(i).replace("/s>", f"/s{i}>") for i in range(2000))
    if suffix == "trig":
        lines = "<http://example.org/g> {\n" + lines + "}\n"
    path = tmp_path / f"big.{suffix}"
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path.write_text(lines, encoding="utf-8")
    bulk, small = OxigraphStore(tmp_path / "bulk"), OxigraphStore()
    load_files(bulk, [path], bulk_threshold=100)
    load_files(bulk, [path], bulk_threshold=100)  # a second load replaces, never doubles
    load_files(small, [path])
    assert bulk.count() == small.count() == 2000
    assert bulk.graphs() == small.graphs()


def test_a_broken_large_file_loads_nothing(tmp_path):
    path = tmp_path / "big.nt"
    path.write_text(TRIPLE.format("a") * 50 + "<http://broken> .\n", encoding="utf-8")
    store = OxigraphStore()
    with pytest.raises(ParseError) as caught:
        load_files(store, [path], bulk_threshold=10)
    assert caught.value.line == 51
    assert store.count() == 0


def test_a_read_only_store_opens_answers_and_closes(tmp_path):
    writable = OxigraphStore(tmp_path / "kb")
    load_knowledge_base(writable)
    writable.close()
    del writable
    reader = OxigraphStore(tmp_path / "kb", read_only=True)
    assert bool(reader.query("ASK { ?p a schema:ResearchProject }"))
    reader.close()
