"""The synthetic knowledge base: deterministic, streaming, valid, and shaped like the real one."""

import statistics
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyoxigraph import Literal, NamedNode, RdfFormat, parse

from cokg.cli import main
from cokg.errors import CokgError
from cokg.load import load_files
from cokg.store import OxigraphStore
from cokg.synth import keyword_labels, shipped_keywords, slugify, write_synthetic

BASE = "https://w3id.org/coprod/"
DCT = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
COP = "https://w3id.org/coprod/ontology/"
FOAF_DOCUMENT = NamedNode("http://xmlns.com/foaf/0.1/Document")


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    summary = write_synthetic(folder, entries=300, seed=5)
    return folder, summary


@pytest.fixture(scope="module")
def quads(kb):
    folder, _ = kb
    found = []
    for path in sorted(folder.rglob("*.*")):
        fmt = RdfFormat.TRIG if path.suffix == ".trig" else RdfFormat.TURTLE
        with path.open("rb") as handle:
            found += list(parse(handle, fmt))
    return found


def objects(quads, subject_prefix: str, predicate: str) -> dict[str, list]:
    """Map each subject starting with ``subject_prefix`` to its objects of ``predicate``."""
    found: dict[str, list] = {}
    for q in quads:
        if q.subject.value.startswith(subject_prefix) and q.predicate.value == predicate:
            found.setdefault(q.subject.value, []).append(q.object)
    return found


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    write_synthetic(tmp_path / "a", entries=40, seed=3)
    write_synthetic(tmp_path / "b", entries=40, seed=3)
    write_synthetic(tmp_path / "c", entries=40, seed=4)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert files_of(tmp_path / "a")["entries.trig"] != files_of(tmp_path / "c")["entries.trig"]


def test_memory_does_not_grow_with_the_number_of_entries(tmp_path):
    peaks = {}
    for entries in (2_000, 20_000):
        tracemalloc.start()
        try:
            # Fixed pools, so that only the number of entries changes between the two runs.
            write_synthetic(
                tmp_path / str(entries), entries=entries, seed=1, people=600, organisations=60
            )
            peaks[entries] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # Ten times the entries: proportional growth would be 10×; streaming stays flat.
    assert peaks[20_000] < 2 * peaks[2_000], peaks


def test_summary_counts_what_was_written(kb, quads):
    folder, summary = kb
    assert summary.entries == 300
    assert summary.triples == len(quads)
    assert summary.bytes == sum(len(b) for b in files_of(folder).values())
    assert set(summary.files) == set(files_of(folder))
    documents = {q.subject for q in quads if q.predicate == RDF_TYPE and q.object == FOAF_DOCUMENT}
    assert summary.documents == len(documents) > 0
    text = str(summary)
    assert "300 entries" in text and f"{summary.triples} triples" in text and "bytes" in text


def test_loads_as_a_knowledge_base_with_one_graph_per_entry(kb):
    folder, summary = kb
    store = OxigraphStore()
    load_files(store, [folder])
    assert store.count() == summary.triples  # no triple written twice
    graphs = store.graphs()
    assert f"{BASE}graph/entries/synth-000001" in graphs
    assert f"{BASE}graph/entries/synth-000300" in graphs
    for name in (
        "people",
        "organisations",
        "vocabularies/keywords",
        "vocabularies/approaches",
        "ontology/cop",
    ):
        assert f"{BASE}graph/{name}" in graphs
    (row,) = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?e a schema:ResearchProject }")
    assert int(row[0].value) == 300
    entry, period = f"<{BASE}id/project/synth-000042>", f"<{BASE}id/period/synth-000042>"
    assert bool(store.query(f"ASK {{ {entry} dcterms:temporal {period} }}"))


def test_validates_with_zero_violations(tmp_path):
    write_synthetic(tmp_path, entries=25, seed=2)
    result = CliRunner().invoke(main, ["validate", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout[-3000:]
    assert " 0 violations" in result.stdout


def test_entries_have_the_real_shapes_and_ranges(quads):
    entry = f"{BASE}id/project/synth-"
    subjects = objects(quads, entry, DCT + "subject")
    contributors = objects(quads, entry, DCT + "contributor")
    relations = objects(quads, entry, DCT + "relation")
    descriptions = objects(quads, entry, DCT + "description")
    titles = objects(quads, entry, DCT + "title")
    assert len(titles) == 300 and len(subjects) == 300 and len(contributors) == 300
    assert all(3 <= len(v) <= 8 for v in subjects.values())
    assert all(1 <= len(v) <= 4 for v in contributors.values())
    assert all(len(v) <= 4 for v in relations.values())
    assert 0 < sum(len(v) for v in relations.values()) < 4 * 300
    # Paragraphs are separated by a blank line; a bullet list ("• …" lines) follows its intro.
    paragraphs = Counter(
        sum(1 for block in d[0].value.split("\n\n") if not block.startswith("• "))
        for d in descriptions.values()
    )
    assert set(paragraphs) == {1, 2, 3, 4}
    assert any("\n• " in d[0].value for d in descriptions.values())
    assert all(isinstance(t[0], Literal) and t[0].language == "en" for t in titles.values())
    assert len({t[0].value for t in titles.values()}) > 250  # titles vary


def test_keywords_are_few_hundred_and_zipf_like(quads):
    labels = keyword_labels()
    assert 200 <= len(labels) <= 600
    assert labels[: len(shipped_keywords())] == shipped_keywords()  # shipped IRIs reused
    assert len({slugify(label) for label in labels}) == len(labels)
    uses = Counter(q.object.value for q in quads if q.predicate.value == DCT + "subject")
    counts = sorted(uses.values(), reverse=True)
    assert counts[0] > 10 * statistics.median(counts)  # a few keywords are very popular


def test_periods_mix_precisions_and_some_end_in_the_future(quads):
    ends = [q.object for q in quads if q.predicate.value == "http://www.w3.org/ns/dcat#endDate"]
    datatypes = Counter(e.datatype.value.rsplit("#", 1)[1] for e in ends)
    assert set(datatypes) == {"gYear", "gYearMonth", "date"}
    assert any(int(e.value[:4]) > 2026 for e in ends)


def test_facets_and_documents_use_the_shipped_vocabularies_and_kinds(quads):
    facets = {
        q.object.value
        for q in quads
        if q.predicate.value
        in (COP + "approach", COP + "stage", COP + "participationLevel", COP + "participantGroup")
    }
    shipped = {
        q.subject.value
        for path in (Path(__file__).parents[1] / "data" / "vocabularies").glob("*.ttl")
        for q in parse(path.read_bytes(), RdfFormat.TURTLE)
    }
    assert facets and facets <= shipped
    kinds = Counter(
        q.object.value.removeprefix(SCHEMA)
        for q in quads
        if q.predicate == RDF_TYPE
        and q.subject.value.startswith(f"{BASE}id/document/")
        and q.object.value.startswith(SCHEMA)
    )
    assert set(kinds) == {"ScholarlyArticle", "Report", "Book", "VideoObject", "DigitalDocument"}


def test_people_have_one_or_two_organisations_from_a_smaller_pool(quads):
    memberships = objects(quads, f"{BASE}id/person/", "http://www.w3.org/ns/org#memberOf")
    people = {
        q.subject
        for q in quads
        if q.predicate == RDF_TYPE and q.object.value == "http://xmlns.com/foaf/0.1/Person"
    }
    organisations = {
        q.subject
        for q in quads
        if q.predicate == RDF_TYPE and q.object.value == "http://xmlns.com/foaf/0.1/Organization"
    }
    assert len(memberships) == len(people) and len(organisations) < len(people)
    assert all(1 <= len(v) <= 2 for v in memberships.values())


def test_another_base_iri_moves_every_instance_iri(tmp_path):
    base = "http://example.org/kb/"
    write_synthetic(tmp_path, entries=3, seed=1, base_iri=base)
    text = "".join(
        p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.*") if p.suffix != ".md"
    )
    assert f"<{base}id/project/>" in text and "<https://w3id.org/coprod/id/" not in text
    assert "<https://w3id.org/coprod/ontology/>" in text  # ontology terms stay put


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(CokgError):
        write_synthetic(tmp_path, entries=0, seed=1)
    with pytest.raises(CokgError):
        write_synthetic(tmp_path, entries=1, seed=1, base_iri="http://example.org/kb")


def test_cli_prints_the_summary(tmp_path):
    result = CliRunner().invoke(
        main, ["synth", "--entries", "4", "--seed", "2", "-o", str(tmp_path / "kb")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote 4 entries")
    assert (tmp_path / "kb" / "entries.trig").is_file()


def test_pools_give_distinct_iris_at_scale():
    from cokg.synth import _organisation, _person

    assert len({_person(i).slug for i in range(60_000)}) == 60_000
    assert len({_organisation(i).slug for i in range(20_000)}) == 20_000
    units = [_organisation(i) for i in range(200) if _organisation(i).kind == "unit"]
    assert units and all(_organisation(u.parent).kind == "university" for u in units)
