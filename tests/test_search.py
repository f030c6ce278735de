"""cokg.search: the full-text index over the shipped knowledge base, in memory."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyoxigraph import QuerySolutions

import cokg.search
from cokg.formats import TURTLE
from cokg.load import open_knowledge_base
from cokg.namespaces import PREFIXES
from cokg.search import (
    FACETS,
    SCORE_FUNCTION,
    SEARCH_FUNCTION,
    SearchError,
    SearchIndex,
    Selection,
    custom_functions,
    parse_query,
    values_block,
)
from cokg.search_text import analyzer
from cokg.store import OxigraphStore

KB = "https://w3id.org/coprod/"
PROJECT = KB + "id/project/"
PB = PROJECT + "mainstreaming-participatory-budgeting"
MINI_PUBLIC = PROJECT + "local-solutions-to-local-problems"
WELSH = PROJECT + "co-production-for-sustainability"
NEW = PROJECT + "search-test-entry"
NEW_GRAPH = KB + "graph/entries/search-test-entry"

BAD_INPUTS = [
    "",
    " ",
    "x" * 1000,
    "participatory " * 200,
    '"',
    '"citizens jury',
    "'",
    "*",
    "**",
    "co*",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "a AND OR b",
    "NEAR(citizens jury, 3)",
    "title:budget",
    "{title description}: x",
    "^budget",
    "budget +",
    "((participatory",
    "participatory))",
    "-",
    "-participatory",
    "\x00\x01\x1b[31m",
    "tab\tnew\nline",
    "<script>alert(1)</script>",
    "col:* OR *",
    "🙂",
    "__",
]


def entry_turtle(title: str, description: str = "A test entry.", years: str = "2018") -> bytes:
    return f"""
@prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{NEW}> a schema:ResearchProject ; dcterms:title "{title}"@en ;
  dcterms:description "{description}"@en ;
  dcterms:subject <{KB}id/concept/keywords/participatory-budgeting> ;
  dcterms:temporal <{KB}id/period/search-test-entry> .
<{KB}id/period/search-test-entry> dcat:startDate "{years}"^^xsd:gYear ;
  dcat:endDate "{years}"^^xsd:gYear .
""".encode()


@pytest.fixture(scope="module")
def kb() -> Iterator[OxigraphStore]:
    store = open_knowledge_base()
    yield store
    store.close()


@pytest.fixture(scope="module")
def index(kb: OxigraphStore) -> SearchIndex:
    built = SearchIndex()
    built.build(kb)
    return built


def iris(index: SearchIndex, text: str, **selection: object) -> list[str]:
    return [hit.iri for hit in index.search(text, Selection(**selection)).hits]  # type: ignore[arg-type]


# -- acceptance on the shipped knowledge base --------------------------------------------------


def test_participatory_budgeting_returns_the_briefing_first(index: SearchIndex) -> None:
    assert iris(index, "participatory budgeting")[0] == PB


@pytest.mark.parametrize(
    "text", ["citizens jury", "citizens' jury", "Citizens’ Juries", "citizen jury"]
)
def test_citizens_jury_finds_the_mini_public_entry(index: SearchIndex, text: str) -> None:
    assert MINI_PUBLIC in iris(index, text)


@pytest.mark.parametrize(
    "text", ["coproduction", "co-production", "co production", "Co-Production"]
)
def test_coproduction_finds_the_welsh_government_programme(index: SearchIndex, text: str) -> None:
    found = iris(index, text)
    assert found[0] == WELSH
    assert found == iris(index, "coproduction")


@pytest.mark.parametrize("facet", sorted(FACETS))
def test_facet_counts_equal_sparql_group_by(
    index: SearchIndex, kb: OxigraphStore, facet: str
) -> None:
    sparql = (
        "SELECT ?value (COUNT(DISTINCT ?entry) AS ?n) WHERE { ?entry a schema:ResearchProject . "
        f"{FACETS[facet].pattern} }} GROUP BY ?value"
    )
    result = kb.query(sparql)
    assert isinstance(result, QuerySolutions)
    expected = {row["value"].value: int(row["n"].value) for row in result}
    counted = {v.iri: v.count for v in index.search("").facets[facet]}
    assert counted == expected
    assert expected


@pytest.mark.parametrize("text", ["research", "public"])
def test_facet_counts_of_a_selection_equal_sparql_group_by(
    index: SearchIndex, kb: OxigraphStore, text: str
) -> None:
    # "research" matches five entries of six: its counts are every entry's less the rest's
    found = index.iris(text)
    assert found and len(found) < len(index)
    for facet in FACETS:
        sparql = (
            "SELECT ?value (COUNT(DISTINCT ?entry) AS ?n) WHERE { "
            + values_block(found)
            + f" ?entry a schema:ResearchProject . {FACETS[facet].pattern} }} GROUP BY ?value"
        )
        result = kb.query(sparql)
        assert isinstance(result, QuerySolutions)
        expected = {row["value"].value: int(row["n"].value) for row in result}
        assert {v.iri: v.count for v in index.search(text).facets[facet]} == expected


def test_keyword_count_equals_an_independent_sparql_count(
    index: SearchIndex, kb: OxigraphStore
) -> None:
    result = kb.query(
        "SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { ?e a schema:ResearchProject ; "
        "dcterms:subject <https://w3id.org/coprod/id/concept/keywords/co-production> }"
    )
    assert isinstance(result, QuerySolutions)
    (row,) = list(result)
    counts = {v.key: v.count for v in index.search("").facets["keyword"]}
    assert counts["co-production"] == int(row["n"].value)


def test_facet_counts_follow_the_selection(index: SearchIndex) -> None:
    narrowed = index.search("", Selection({"keyword": ["participatory-budgeting"]}))
    assert narrowed.total == 1 and narrowed.hits[0].iri == PB
    assert all(v.count == 1 for values in narrowed.facets.values() for v in values)
    chosen = [v for v in narrowed.facets["keyword"] if v.key == "participatory-budgeting"]
    assert chosen[0].selected


def test_a_year_range_respects_mixed_precision_periods(index: SearchIndex) -> None:
    found = index.search("", Selection(from_year=2014, to_year=2016))
    assert WELSH in [hit.iri for hit in found.hits]  # 2012 – 2032
    assert all(hit.start_year <= 2016 and hit.end_year >= 2014 for hit in found.hits)  # type: ignore[operator]
    assert not [hit for hit in found.hits if hit.start_year == 2018]
    assert WELSH in iris(index, "", from_year=2020, to_year=2020)


def test_a_title_match_outranks_a_description_match(index: SearchIndex) -> None:
    assert iris(index, "sustainability")[0] == WELSH


def test_phrases_and_prefixes(index: SearchIndex) -> None:
    assert iris(index, '"local problems"') == [MINI_PUBLIC]
    assert iris(index, '"problems local"') == []
    assert PB in iris(index, "budg*")
    assert iris(index, "budg") == []


def test_excluded_words_and_or(index: SearchIndex) -> None:
    assert PB not in iris(index, "co-production -budgeting")
    both = iris(index, "budgeting OR mindfulness")
    assert PB in both and WELSH in both


def test_snippets_are_highlighted_and_escaped(index: SearchIndex) -> None:
    hit = index.search("mindfulness").hits[0]
    assert "<mark>mindfulness</mark>" in hit.snippet_html
    assert "<mark>" not in hit.snippet and "\x02" not in hit.snippet


def test_paging(index: SearchIndex) -> None:
    everything = iris(index, "")
    pages = [index.search("", page=n, size=2) for n in (1, 2, 3)]
    assert [h.iri for p in pages for h in p.hits] == everything
    assert pages[0].pages == 3 and pages[0].total == len(everything)
    assert index.search("", page=99).hits == []
    with pytest.raises(SearchError):
        index.search("", page=0)
    with pytest.raises(SearchError):
        index.search("", size=1000)


def test_unknown_facets_and_backward_years_are_clear_errors(index: SearchIndex) -> None:
    with pytest.raises(SearchError, match="unknown facet"):
        index.search("", Selection({"colour": ["red"]}))
    with pytest.raises(SearchError, match="ends before"):
        index.search("", Selection(from_year=2020, to_year=2010))


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_never_raises(index: SearchIndex, text: str) -> None:
    result = index.search(text)
    assert result.total >= 0
    assert len(index.iris(text)) >= 0


def test_a_long_query_is_cut_with_a_notice(index: SearchIndex) -> None:
    assert index.search("participatory " * 200).notices


def test_no_results_offers_a_suggestion(index: SearchIndex) -> None:
    result = index.search("participatory zzzqqq")
    assert result.total == 0 and result.suggestion == "participatory"


def test_parse_query_never_passes_syntax_through() -> None:
    parsed = parse_query('NEAR(a b) "x OR y" title:z ^w')
    words = [w for group in parsed.groups for term in group for w in term.words]
    assert words == ["near", "a", "b", "x", "or", "y", "title", "z", "w"]


# -- in step with the store ------------------------------------------------------------------


@pytest.fixture
def writable() -> Iterator[tuple[OxigraphStore, SearchIndex]]:
    store = open_knowledge_base()
    index = SearchIndex()
    index.build(store)
    yield store, index
    store.close()


def test_a_written_entry_is_found_and_a_deleted_one_is_not(
    writable: tuple[OxigraphStore, SearchIndex],
) -> None:
    store, index = writable
    assert index.search("").total == 6  # cached for the landing page until the index changes
    store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly Deliberation <b>"), TURTLE)
    index.apply_write(store, [NEW_GRAPH])
    everything = index.search("")
    assert everything.total == 7 and NEW in [hit.iri for hit in everything.hits]
    counts = {v.key: v.count for v in everything.facets["keyword"]}
    assert counts["participatory-budgeting"] == 2
    hit = index.search("quarkly").hits[0]
    assert hit.iri == NEW and "&lt;b&gt;" in hit.title_html
    assert index.search("", Selection({"keyword": ["participatory-budgeting"]})).total == 2

    store.replace_graph(NEW_GRAPH, entry_turtle("Renamed Deliberation"), TURTLE)
    index.apply_write(store, [NEW_GRAPH])
    assert index.search("quarkly").total == 0 and iris(index, "renamed") == [NEW]

    store.delete_graph(NEW_GRAPH)
    index.apply_write(store, [NEW_GRAPH])
    assert index.search("renamed").total == 0 and index.search("").total == 6
    assert index.fingerprint is not None and not index.ensure_current(store)


def test_a_text_searched_before_a_write_finds_what_the_write_added(
    writable: tuple[OxigraphStore, SearchIndex],
) -> None:
    # a text's queries are kept between searches; the compounds it may stand for ("zigzag"
    # for "zig-zag") are the index's, and change with it
    store, index = writable
    assert index.search("zigzag").total == 0 and index.scores("zigzag") == {}
    store.replace_graph(NEW_GRAPH, entry_turtle("Zig-zag Deliberation"), TURTLE)
    index.apply_write(store, [NEW_GRAPH])
    assert iris(index, "zigzag") == [NEW] and list(index.scores("zigzag")) == [NEW]
    assert index.iris("zigzag") == [NEW]
    store.delete_graph(NEW_GRAPH)
    index.apply_write(store, [NEW_GRAPH])
    assert index.search("zigzag").total == 0 and index.iris("zigzag") == []


def test_the_texts_kept_are_few(index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cokg.search, "KEPT_TEXTS", 3)
    answers = {text: iris(index, text) for text in ("budgeting", "jury", "wales", "health")}
    assert len(index._texts) == 3
    assert {text: iris(index, text) for text in answers} == answers  # kept or made again


def test_a_change_to_a_shared_graph_updates_the_entries_that_link_to_it(
    writable: tuple[OxigraphStore, SearchIndex],
) -> None:
    store, index = writable
    people = KB + "graph/people"
    store.update(
        f'INSERT DATA {{ GRAPH <{people}> {{ <{KB}id/person/oliver-escobar> foaf:name "Zorblax" }} }}'
    )
    index.apply_write(store, [people])
    assert MINI_PUBLIC in iris(index, "zorblax")


def test_an_update_without_graphs_rebuilds(writable: tuple[OxigraphStore, SearchIndex]) -> None:
    store, index = writable
    store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)
    index.apply_write(store, None)
    assert iris(index, "quarkly") == [NEW]


def test_a_store_changed_behind_its_back_is_detected(
    writable: tuple[OxigraphStore, SearchIndex],
) -> None:
    store, index = writable
    assert not index.ensure_current(store)
    store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)
    assert not index.ensure_current(store, every=3600)  # checked a moment ago: not again yet
    assert index.ensure_current(store)
    assert iris(index, "quarkly") == [NEW]


def test_the_index_file_persists(kb: OxigraphStore, tmp_path: Path) -> None:
    path = tmp_path / "index" / "search.sqlite3"
    first = SearchIndex(path)
    first.build(kb)
    first.close()
    again = SearchIndex(path)
    assert len(again) == 6 and not again.ensure_current(kb)
    assert iris(again, "participatory budgeting")[0] == PB
    again.close()


def test_an_index_of_an_older_layout_is_replaced(kb: OxigraphStore, tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite3"
    old = sqlite3.connect(path)  # the FTS5 index of schema 2
    old.executescript(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT); "
        "INSERT INTO meta VALUES ('schema', '2'), ('fingerprint', 'x'); "
        "CREATE VIRTUAL TABLE text USING fts5(title);"
    )
    old.close()
    index = SearchIndex(path)
    assert index.fingerprint is None and len(index) == 0  # dropped: built on first use
    assert index.ensure_current(kb) and iris(index, "participatory budgeting")[0] == PB
    index.close()


def test_an_index_whose_halves_disagree_is_built_again(kb: OxigraphStore, tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite3"
    first = SearchIndex(path)
    first.build(kb)
    first.close()
    shutil.rmtree(tmp_path / "search.tantivy")  # the text half lost
    again = SearchIndex(path)
    assert again.fingerprint is None
    assert again.ensure_current(kb) and iris(again, "participatory budgeting")[0] == PB
    again.close()


# -- from SPARQL -----------------------------------------------------------------------------


def test_values_block_joins_a_search_into_any_query(index: SearchIndex, kb: OxigraphStore) -> None:
    block = values_block(index.iris("citizens jury"))
    result = kb.query(f"SELECT ?title WHERE {{ {block} ?entry dcterms:title ?title }}")
    assert isinstance(result, QuerySolutions)
    assert [row["title"].value for row in result] == [
        "Local solutions to local problems: innovation in public participation"
    ]
    with pytest.raises(SearchError):
        values_block([], variable="x }")


def test_custom_functions_on_the_embedded_store(index: SearchIndex, kb: OxigraphStore) -> None:
    sparql = f"""
    SELECT ?entry ?score WHERE {{
      ?entry a schema:ResearchProject .
      FILTER(<{SEARCH_FUNCTION}>(?entry, "participatory budgeting"))
      BIND(<{SCORE_FUNCTION}>(?entry, "participatory budgeting") AS ?score)
    }}"""
    rows = list(
        kb.oxigraph.query(
            sparql,
            prefixes=PREFIXES,
            use_default_graph_as_union=True,
            custom_functions=custom_functions(index),
        )
    )
    assert [row["entry"].value for row in rows] == [PB]
    assert float(rows[0]["score"].value) > 0


# -- the command line ------------------------------------------------------------------------


def test_cokg_search_prints_hits_json_and_values(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from cokg.cli import main

    runner = CliRunner()
    text = runner.invoke(main, ["search", "citizens jury"])
    assert text.exit_code == 0 and MINI_PUBLIC in text.output
    years = runner.invoke(
        main, ["search", "", "--from-year", "2014", "--to-year", "2016", "--format", "json"]
    )
    found = [hit["iri"] for hit in json.loads(years.output)["hits"]]
    assert WELSH in found and PB not in found
    keyword = runner.invoke(
        main, ["search", "--keyword", "participatory-budgeting", "--format", "json"]
    )
    assert [hit["iri"] for hit in json.loads(keyword.output)["hits"]] == [PB]
    values = runner.invoke(main, ["search", "coproduction", "--format", "sparql-values"])
    assert values.output.startswith("VALUES ?entry {") and WELSH in values.output
    bad = runner.invoke(main, ["search", "x", "--page", "0"])
    assert bad.exit_code == 2 and "page" in bad.output

    path = tmp_path / "search.sqlite3"
    built = runner.invoke(main, ["index", "--index", str(path)])
    assert built.exit_code == 0 and "indexed 6 entries" in built.output
    again = runner.invoke(main, ["search", "participatory budgeting", "--index", str(path)])
    assert again.exit_code == 0 and PB in again.output


# Words whose stems differ most from them: a stem without its last two letters must start the
# word, or a snippet could be skipped for a description that holds the word (cokg.search._probes)
HARD_WORDS = [
    *("dying", "lying", "tying", "vying", "skies", "skis", "idly", "gently", "early", "only"),
    *("possibility", "possibly", "hoping", "troubling", "conflating", "hopping", "happiness"),
    *("organization", "generalizations", "relational", "conditional", "fluency", "analogy"),
    *("agreedly", "news", "cried", "ties", "Citizens", "Juries", "co-production", "2020s"),
]
ENDINGS = [
    *"abcdefghijklmnopqrstuvwxyz",
    *("y", "ie", "ies", "ied", "ying", "ing", "ingly", "ed", "edly", "eed", "eedly", "ly"),
    *("bli", "biliti", "ogi", "ational", "tional", "enci", "anci", "abli", "entli", "izer"),
    *("ization", "ation", "ator", "alism", "aliti", "alli", "fulness", "ousli", "iveness"),
    *("iviti", "fulli", "lessli", "alize", "icate", "iciti", "ical", "ness", "ative", "ement"),
    *("sses", "ss", "us", "s", "at", "bl", "iz", "e", "ll"),
]


def assert_terms_start_their_words(text: str) -> None:
    words = re.findall(r"[a-z0-9]+", text.lower())
    terms = analyzer().analyze(text)
    assert len(words) == len(terms)
    for word, term in zip(words, terms, strict=True):
        assert word.startswith(term[:-2]), (word, term)


@pytest.mark.parametrize("word", HARD_WORDS)
def test_a_term_less_its_last_two_letters_starts_its_word(word: str) -> None:
    assert_terms_start_their_words(word)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(ENDINGS), min_size=1, max_size=6).map("".join))
def test_any_word_of_english_endings_starts_with_its_term_less_two_letters(word: str) -> None:
    assert_terms_start_their_words(word)
