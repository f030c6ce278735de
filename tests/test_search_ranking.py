"""cokg.search: a text is ranked by its words' union and kept within its selection; the pages,
their order and their scores are those tantivy gives the text's own query with the filters, on
a synthetic knowledge base large enough for tantivy to skip blocks of postings."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
import tantivy

import cokg.search
import cokg.search_sets
from cokg.load import load_files
from cokg.search import SearchIndex, Selection, parse_query
from cokg.search_text import combine
from cokg.store import OxigraphStore
from cokg.synth import write_synthetic

TEXTS = [
    "community",  # one word: its union is the text's query
    "participatory budgeting",
    "citizens jury",
    "local health services",
    "co production",  # a recorded compound: a phrase term
    "coproduction research",
    "health OR community",
    "community -health",
    "partic* budgeting",  # a prefix: a regex over the terms
    '"public services" health',  # a phrase whose entries are not recorded
    "budgeting budgeting",
]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    folder = tmp_path_factory.mktemp("synth")
    write_synthetic(folder, entries=1500, seed=2)
    store = OxigraphStore()
    load_files(store, [folder])
    index = SearchIndex()
    assert index.build(store) == 1500
    store.close()
    yield index
    index.close()


def selections(index: SearchIndex) -> list[Selection]:
    keywords = [value.key for value in index.search("").facets["keyword"]]
    return [
        Selection(),
        Selection({"keyword": [keywords[0]]}),  # the commonest: most of the text's matches
        Selection({"keyword": [keywords[-1]]}),  # a rare one: few, fetched again
        Selection(from_year=2014, to_year=2016),
        Selection({"keyword": [keywords[1]]}, from_year=2019),
    ]


def tantivys(index: SearchIndex, text: str, selection: Selection, page: int) -> list[object]:
    """The page as tantivy ranks the text's query with the filters: IRIs and scores."""
    searcher = index._text.searcher()
    groups = index._analysed(parse_query(text))
    assert groups is not None
    text_query = index._text.text_query(groups, index._recorded())  # made anew, not kept
    filters, _ = index._selection(selection)
    _, ranked = SearchIndex._ranked(searcher, combine(text_query, filters), page, 10)
    ids = [int(searcher.doc(address)["id"][0]) for _, address in ranked]
    iris = dict(index._db.execute("SELECT id, iri FROM entries"))
    return [(iris[entry], score) for entry, (score, _) in zip(ids, ranked, strict=True)]


@pytest.mark.parametrize("most_fetched", [cokg.search._MOST_FETCHED, 0])
def test_pages_are_tantivys_ranking_of_the_text_with_its_filters(
    synthetic: SearchIndex, most_fetched: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # most_fetched 0: past the matches fetched, the text is ranked with its filters
    monkeypatch.setattr(cokg.search, "_MOST_FETCHED", most_fetched)
    pages = 0
    for text in TEXTS:
        for selection in selections(synthetic):
            for page in (1, 2, 9):
                result = synthetic.search(text, selection, page=page, size=10)
                found = [(hit.iri, hit.score) for hit in result.hits]
                assert found == tantivys(synthetic, text, selection, page), (text, selection)
                pages += bool(found)
    assert pages > 100  # not a comparison of empty pages


def test_a_texts_query_scores_as_its_ranking_query(synthetic: SearchIndex) -> None:
    searcher = synthetic._text.searcher()
    for text in TEXTS:
        groups = synthetic._analysed(parse_query(text))
        assert groups is not None
        text_query, ranking = synthetic._text.queries(groups, synthetic._recorded())
        assert ranking is not None
        scored = {
            (address.segment_ord, address.doc): score
            for score, address in searcher.search(text_query, 2000).hits
        }
        ranked = {
            (address.segment_ord, address.doc): score
            for score, address in searcher.search(ranking, 2000).hits
        }
        assert scored, text
        # the same entries, or fewer (every group must match), with the same scores, bit
        # for bit (tantivy sums a union's scores in one order)
        assert {address: ranked[address] for address in scored} == scored, text


def test_a_page_past_the_selection_is_empty(synthetic: SearchIndex) -> None:
    result = synthetic.search("participatory budgeting", Selection(from_year=2019), page=500)
    assert result.total > 0 and result.hits == []


def test_facet_lists_skipping_rare_values_equal_lists_counting_all(
    synthetic: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lists(share: float) -> list[object]:
        monkeypatch.setattr(cokg.search_sets, "PRUNE_SHARE", share)
        synthetic._match_sets()._counter = None
        return [
            {name: [(v.key, v.count) for v in values] for name, values in result.facets.items()}
            for text in ["", *TEXTS]
            for selection in selections(synthetic)
            for result in [synthetic.search(text, selection)]
        ]

    assert lists(0.0) == lists(2.0)  # always skipping what cannot reach a list; never


def test_snippets_are_tantivys_where_descriptions_are_skipped_or_cut(
    synthetic: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a description that cannot hold a word of the text is not handed to tantivy's snippets,
    # and of the others only the fragments that may hold one (cokg.search._probes, _span):
    # every hit's snippet is still the one tantivy makes of the whole description
    # the openings of 40 entries: the words the synthetic descriptions are made of
    described = [hit.snippet_html for hit in synthetic.search("", size=40).hits]
    words = sorted({w.lower() for text in described for w in re.findall(r"[A-Za-z]{3,}", text)})
    texts = [*TEXTS, *words, *(f"{a} {b}" for a, b in zip(words, words[7:], strict=False))]
    skipped = cut = 0
    span = cokg.search._span

    def counted(
        text: str | None, probes: Sequence[str], starts: bytes | None
    ) -> tuple[int, int] | None:
        nonlocal skipped, cut
        found = span(text, probes, starts)
        skipped += found is None
        cut += found is not None and found != (0, len(text or ""))
        return found

    def snippets() -> dict[str, list[tuple[str, str]]]:
        synthetic._texts.clear()  # the texts' probes made again
        return {
            text: [(hit.iri, hit.marked_snippet) for hit in synthetic.search(text, size=30).hits]
            for text in texts
        }

    monkeypatch.setattr(cokg.search, "_span", counted)
    with_skips = snippets()
    assert skipped > 1000  # most hits of most words have none of them in their descriptions
    assert cut > 300  # and many of the others hold them in a part of their fragments
    monkeypatch.setattr(cokg.search, "_probes", lambda groups: None)
    assert snippets() == with_skips


def test_the_part_handed_to_tantivy_gives_the_snippet_of_the_whole_text(
    synthetic: SearchIndex,
) -> None:
    # fragment_starts finds the fragments tantivy makes of any ASCII text (words longer than a
    # fragment, a text starting between words, letters, digits and separators of any kind),
    # so the part _span hands to tantivy has the snippet of the whole text
    rng = random.Random(5)
    compiled = synthetic._compiled("community budgeting")
    assert compiled.words is not None and compiled.probes is not None
    searcher = synthetic._text.searcher()
    generator = tantivy.SnippetGenerator.create(
        searcher, compiled.words, synthetic._text.schema, "description"
    )
    generator.set_max_num_chars(cokg.search._SNIPPET_CHARS)
    words = ["community", "Communities", "budgeting", "BUDGET", "commune", "the", "a", "1999"]
    words += ["x" * 230, "budgeting" + "y" * 200, "co2", "z"]
    separators = [" ", " ", " ", ", ", "  ", "-", "_", "\n", "'", ". ", "(", ""]
    cut = 0
    for _ in range(1500):
        text = rng.choice(["", " ", "(", "-- "])
        for _ in range(rng.randint(1, 160)):
            text += rng.choice(words) + rng.choice(separators)
        document = tantivy.Document(description=[text])
        whole = cokg.search._highlighted(generator, document, "description", whole=False)
        span = cokg.search._span(text, compiled.probes, cokg.search.fragment_starts(text))
        if span is None:
            assert whole == cokg.search._opening(text)
            continue
        cut += span != (0, len(text))
        part = cokg.search._highlighted(generator, document, "description", whole=False, span=span)
        assert part == whole, text
    assert cut > 500


def test_fragment_starts_are_where_tantivy_starts_its_fragments(synthetic: SearchIndex) -> None:
    # one word of the query in a text of other words: tantivy's snippet is the fragment that
    # holds it, which must start where fragment_starts says one starts, and end before the next
    rng = random.Random(9)
    compiled = synthetic._compiled("community")
    assert compiled.words is not None
    generator = tantivy.SnippetGenerator.create(
        synthetic._text.searcher(), compiled.words, synthetic._text.schema, "description"
    )
    generator.set_max_num_chars(cokg.search._SNIPPET_CHARS)
    fillers = ["the", "a", "of", "budget", "x" * 230, "1999", "co2", "z", "Budgeting" * 3]
    separators = [" ", " ", ", ", "  ", "-", "_", "\n", ". ", "(", ""]
    for _ in range(1500):
        words = [rng.choice(fillers) for _ in range(rng.randint(1, 120))]
        words.insert(rng.randint(0, len(words)), "community")
        text = rng.choice(["", " ", "-- "])
        for word, after in itertools.pairwise([*words, ""]):
            alone = "community" in (word, after)  # not run into a word beside it
            text += word + rng.choice(separators[:-1] if alone else separators)
        starts = cokg.search.fragment_starts(text)
        assert starts is not None
        places = np.frombuffer(starts, dtype="<u4").tolist()
        where = generator.snippet_from_doc(tantivy.Document(description=[text])).fragment_range()
        assert where.end > where.start
        assert where.start in places, text
        following = [place for place in places if place > where.start]
        assert not following or following[0] >= where.end
