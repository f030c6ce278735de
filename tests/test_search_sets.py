"""cokg.search_sets: the selections, facet counts and years counted over the entry sets in
memory equal those tantivy counts, for every kind of query, before and after writes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import cokg.search
import cokg.search_sets
from cokg.formats import TURTLE
from cokg.load import open_knowledge_base
from cokg.search import SearchIndex, Selection
from cokg.search_sets import MatchSets, Value
from cokg.search_text import Alternative, Group
from cokg.store import OxigraphStore

KB = "https://w3id.org/coprod/"
NEW = KB + "id/project/search-sets-entry"
NEW_GRAPH = KB + "graph/entries/search-sets-entry"

SELECTIONS = [
    Selection(),
    Selection({"keyword": ["co-production"]}),
    Selection({"keyword": ["co-production", "participatory-budgeting"]}),
    Selection({"keyword": ["no-such-keyword"]}),
    Selection(from_year=2014, to_year=2016),
    Selection(from_year=2020),
    Selection(to_year=2015),
    Selection({"type": ["Report"]}, from_year=2010),
]
TEXTS = [
    "",
    "participatory budgeting",
    "citizens jury",
    "Citizens’ Juries",
    "coproduction",
    "co-production",
    "co production",
    "Co-Production OR budgeting",
    "public -research",
    "partic*",
    "co*",
    "research",
    '"public services"',  # a phrase whose entries are not recorded: tantivy counts
    '"co production" wales',
    "co-prod*",
    "zzzz",
    "_",
]


def counted(index: SearchIndex, text: str, selection: Selection, *, hits: bool = True) -> object:
    result = index.search(text, selection)
    facets = {
        name: sorted((v.key, v.count, v.selected) for v in values)
        for name, values in result.facets.items()
    }
    bare = index.search(text, selection, facets=False)
    # hits as a set: ties in score may come in either order from two separate indexes
    found = sorted(hit.iri for hit in result.hits) if hits else []
    return result.total, found, facets, result.years, bare.total, bare.years


@pytest.fixture
def pair() -> Iterator[tuple[OxigraphStore, SearchIndex, SearchIndex]]:
    store = open_knowledge_base()
    with_sets, without = SearchIndex(), SearchIndex(match_sets=False)
    with_sets.build(store)
    without.build(store)
    yield store, with_sets, without
    store.close()


def assert_same(with_sets: SearchIndex, without: SearchIndex) -> None:
    for text in TEXTS:
        for selection in SELECTIONS:
            if not text and selection == Selection():
                continue  # the landing page: every entry's counts, not a selection
            assert counted(with_sets, text, selection) == counted(without, text, selection), (
                text,
                selection,
            )


def test_the_sets_count_what_tantivy_counts(
    pair: tuple[OxigraphStore, SearchIndex, SearchIndex],
) -> None:
    _, with_sets, without = pair
    assert with_sets.search("research").total == 5  # not empty selections only
    assert_same(with_sets, without)


def entry(title: str, keyword: str) -> bytes:
    return f"""
@prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{NEW}> a schema:ResearchProject ; dcterms:title "{title}"@en ;
  dcterms:description "Co production of public services, co-design of research."@en ;
  dcterms:subject <{KB}id/concept/keywords/{keyword}> , <{KB}id/concept/keywords/sets-only> ;
  dcterms:temporal <{KB}id/period/search-sets-entry> .
<{KB}id/period/search-sets-entry> dcat:startDate "2015-03"^^xsd:gYearMonth .
""".encode()


def test_the_sets_follow_writes(pair: tuple[OxigraphStore, SearchIndex, SearchIndex]) -> None:
    store, with_sets, without = pair
    for title, keyword in [
        ("Quarkly co-production", "participatory-budgeting"),
        ("Renamed citizens jury", "co-production"),
    ]:
        store.replace_graph(NEW_GRAPH, entry(title, keyword), TURTLE)
        for index in (with_sets, without):
            index.apply_write(store, [NEW_GRAPH])
        assert_same(with_sets, without)
    assert NEW in [hit.iri for hit in with_sets.search("renamed").hits]
    only = with_sets.search("", Selection({"keyword": ["sets-only"]}))
    assert only.total == 1 and only.hits[0].iri == NEW
    store.delete_graph(NEW_GRAPH)
    for index in (with_sets, without):
        index.apply_write(store, [NEW_GRAPH])
    assert with_sets.search("renamed", Selection(from_year=2000)).total == 0
    assert_same(with_sets, without)


def test_the_sets_are_read_again_from_a_reopened_file(tmp_path: Path) -> None:
    store = open_knowledge_base()
    try:
        built = SearchIndex(tmp_path / "search.sqlite3")
        built.build(store)
        store.replace_graph(NEW_GRAPH, entry("Quarkly co-production", "co-production"), TURTLE)
        built.apply_write(store, [NEW_GRAPH])
        expected = counted(built, "co production", Selection(to_year=2016))
        built.close()
        reopened = SearchIndex(tmp_path / "search.sqlite3")
        assert counted(reopened, "co production", Selection(to_year=2016)) == expected
        without = SearchIndex(tmp_path / "search.sqlite3", match_sets=False)
        assert counted(without, "co production", Selection(to_year=2016)) == expected
        assert NEW in expected[1]  # type: ignore[index]
    finally:
        store.close()


def test_a_recorded_compound_is_still_highlighted_in_every_spelling(
    pair: tuple[OxigraphStore, SearchIndex, SearchIndex],
) -> None:
    # the phrase "co production" is looked up as one term of the phrase fields; the snippets
    # still mark the words of the text
    _, with_sets, _ = pair
    for text in ("coproduction", "co production", "co-production"):
        hit = with_sets.search(text).hits[0]
        assert hit.title_html.startswith("<mark>Co</mark>-<mark>production</mark>"), text
        assert "<mark>co</mark>-<mark>production</mark>" in hit.snippet_html, text


def many_entries(count: int) -> bytes:
    """``count`` entries: every one has keyword "all", every other one "half" (values common
    enough to be counted as rows of bits), and one of fifty rare keywords."""
    lines = [
        "@prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .",
        "@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
    ]
    for n in range(count):
        keywords = ["all", f"rare-{n % 50}"] + (["half"] if n % 2 else [])
        subjects = " , ".join(f"<{KB}id/concept/keywords/{k}>" for k in keywords)
        lines.append(
            f'<{KB}id/project/many-{n}> a schema:ResearchProject ; dcterms:title "Entry {n}"@en ; '
            f'dcterms:description "{"co-production" if n % 3 else "co production"} '
            f'{"budgeting" if n % 5 else "health"}"@en ; dcterms:subject {subjects} ; '
            f"dcterms:temporal <{KB}id/period/many-{n}> ."
        )
        lines.append(
            f'<{KB}id/period/many-{n}> dcat:startDate "{2000 + n % 20}"^^xsd:gYear ; '
            f'dcat:endDate "{2001 + n % 25}"^^xsd:gYear .'
        )
    return "\n".join(lines).encode()


def test_common_values_counted_as_bits_equal_tantivy_counts() -> None:
    store = OxigraphStore()
    graph = KB + "graph/entries/many"
    store.replace_graph(graph, many_entries(400), TURTLE)
    with_sets, without = SearchIndex(), SearchIndex(match_sets=False)
    for index in (with_sets, without):
        index.build(store)
    for text in ("", "budgeting", "health", "coproduction", "co production", "entry -health"):
        for selection in (
            Selection({"keyword": ["half"]}),
            Selection({"keyword": ["rare-7"]}),
            Selection(from_year=2010, to_year=2012),
        ):
            # hits left out: many entries score the same, and a page holds some of them
            assert counted(with_sets, text, selection, hits=False) == counted(
                without, text, selection, hits=False
            )
    counts = {v.key: v.count for v in with_sets.search("budgeting").facets["keyword"]}
    assert counts["all"] == 320 and counts["half"] == 160
    store.replace_graph(graph, many_entries(300), TURTLE)  # 100 entries fewer
    for index in (with_sets, without):
        index.apply_write(store, [graph])
    assert counted(with_sets, "health", Selection(), hits=False) == counted(
        without, "health", Selection(), hits=False
    )
    assert {v.key: v.count for v in with_sets.search("health").facets["keyword"]}["all"] == 60


def scored_entries(count: int) -> bytes:
    """Entries whose descriptions say "health" 1 to 9 times: distinct scores. Keywords:
    ``half`` (every other entry), ``rare`` (one in fifty), ``low`` (the entries that say it
    once: the lowest scores, one in nine)."""
    lines = [
        "@prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .",
        "@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
    ]
    for n in range(count):
        keywords = (["half"] * (n % 2) + ["rare"] * (n % 50 == 0) + ["low"] * (n % 9 == 0)) or [
            "none"
        ]
        subjects = " , ".join(f"<{KB}id/concept/keywords/{k}>" for k in keywords)
        text = " ".join(["health"] * (1 + n % 9) + ["filler"] * (n % 13))
        lines.append(
            f'<{KB}id/project/scored-{n}> a schema:ResearchProject ; dcterms:title "Entry {n}"@en ; '
            f'dcterms:description "{text}"@en ; dcterms:subject {subjects} ; '
            f"dcterms:temporal <{KB}id/period/scored-{n}> ."
        )
        lines.append(f'<{KB}id/period/scored-{n}> dcat:startDate "{2000 + n % 20}"^^xsd:gYear .')
    return "\n".join(lines).encode()


def test_a_narrowed_text_is_ranked_as_with_its_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text narrowed by facets or years is ranked by the text alone among its best matches
    (quicker): the same pages, in the same order, as tantivy ranking the text with the
    filters, whether the first fetch holds enough selected entries or not."""
    store = OxigraphStore()
    store.replace_graph(KB + "graph/entries/scored", scored_entries(450), TURTLE)
    index = SearchIndex()
    index.build(store)
    # the entries of "low" are at the bottom: the first fetch (10 / 11 % × 1.5 + 16 = 152
    # matches) holds none of them, so a second, larger one is needed
    first = (
        index.search("health", size=100, page=1).hits
        + index.search("health", size=100, page=2).hits
    )
    low = {f"{KB}id/project/scored-{n}" for n in range(0, 450, 9)}
    assert not low & {hit.iri for hit in first[:152]}
    cases = [
        ("health", Selection({"keyword": ["half"]})),
        ("health", Selection({"keyword": ["rare"]})),
        ("health", Selection({"keyword": ["low"]})),
        ("health filler", Selection(from_year=2010, to_year=2012)),
        ("health -filler", Selection({"keyword": ["half"]}, from_year=2005)),
    ]

    def pages() -> list[tuple[int, list[tuple[str, float | None]]]]:
        found = []
        for text, selection in cases:
            for page in (1, 2, 3):
                result = index.search(text, selection, page=page, size=10)
                found.append((result.total, [(hit.iri, hit.score) for hit in result.hits]))
        return found

    within = pages()
    assert [len(hits) for _, hits in within[:3]] == [10, 10, 10]
    assert len(within[3][1]) == 9 and within[4][1] == []  # "rare": 9 entries, one page
    # the scores are the text's, whatever narrows it
    alone = {hit.iri: hit.score for hit in index.search("health", size=100).hits}
    assert all(alone[iri] == score for iri, score in within[0][1])
    monkeypatch.setattr(cokg.search, "_MOST_FETCHED", 0)  # every one ranked with its filters
    assert pages() == within


def test_ties_at_the_last_shown_place_are_broken_by_label() -> None:
    # 300 people with one entry each: the facet shows the first 50 by label, as SPARQL's
    # ORDER BY DESC(?count) ?label would, not 50 of the tied ones in whatever order
    sets = MatchSets.empty(["person"])
    people = {
        i: Value(0, f"p{i}", f"http://example.org/p{i}", f"Person {299 - i:03d}")
        for i in range(300)
    }
    sets.add(1, {}, [], list(people), people, (2000, 2001))
    everyone = sets.select([], [], None, None)
    assert everyone is not None
    shown = [people[value_id].label for _, value_id, _ in sets.counts(everyone, 200, shown=50)]
    assert shown == [f"Person {n:03d}" for n in range(50)]


def test_ties_follow_a_renamed_or_added_value() -> None:
    # the order of labels is made again when a write renames a value or brings a new one
    sets = MatchSets.empty(["person"])
    people = {i: Value(0, f"p{i}", f"http://example.org/p{i}", f"Person {i}") for i in range(3)}
    sets.add(1, {}, [], list(people), people, (2000, 2001))

    def shown() -> list[str]:
        everyone = sets.select([], [], None, None)
        assert everyone is not None
        return [sets.values[v].label for _, v, _ in sets.counts(everyone, 10, shown=2)]

    assert shown() == ["Person 0", "Person 1"]
    renamed = {
        0: people[0]._replace(label="Zed"),
        3: Value(0, "p3", "http://example.org/p3", "Abe"),
    }
    sets.add(2, {}, [], [], renamed, (2000, 2001))
    sets.add(3, {}, [], [3], {}, (2000, 2001))
    assert shown() == ["Abe", "Person 1"]


def test_a_hit_found_by_its_title_alone_shows_the_opening_of_its_description() -> None:
    store = OxigraphStore()
    long = "Services shaped with the people who use them. " * 40  # 1 880 characters
    store.replace_graph(
        NEW_GRAPH,
        f"""
@prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .
<{NEW}> a schema:ResearchProject ; dcterms:title "Quarkly"@en ; dcterms:description "{long}"@en .
""".encode(),
        TURTLE,
    )
    index = SearchIndex()
    index.build(store)
    (hit,) = index.search("quarkly").hits
    assert hit.snippet_html.startswith("Services shaped with the people")
    assert hit.snippet_html.endswith(" …") and len(hit.snippet_html) <= 242


def test_years_of_a_selection_far_down_the_year_order() -> None:
    # 6 000 entries: the selected ones start late and end early, so that they come after
    # thousands of others in both year orders; entries without years are never the bounds
    sets = MatchSets.empty(["keyword"])
    for entry in range(6000):
        years = (None, None) if entry % 7 == 0 else (1000 + entry, 9000 - entry)
        sets.add(entry, {}, [], [], {}, years)
    everyone = sets.select([], [], None, None)
    assert everyone is not None
    for chosen in ([5999, 5998, 4000], [5001], [1], [0, 7, 14], []):
        mask = everyone & False
        mask[chosen] = True
        with_years = [e for e in chosen if e % 7]
        expected = (
            (min(1000 + e for e in with_years), max(9000 - e for e in with_years))
            if with_years
            else None
        )
        assert sets.years(mask) == expected, chosen


def reference_selection(
    recorded: dict[int, tuple[set[str], set[int], tuple[int | None, int | None]]],
    groups: list[Group],
    chosen: list[tuple[str, list[int]]],
    years: tuple[int | None, int | None],
) -> tuple[set[int], int]:
    """The entries a selection holds, and how many hold any word of its groups not excluded
    (what the ranking query matches), worked out from the recorded entries one by one."""

    def matches(terms: set[str], alternative: Alternative) -> bool:
        (token,) = alternative.tokens
        if alternative.prefix:
            return any(term.startswith(token) for term in terms)
        return token in terms

    text = {
        entry
        for entry, (terms, _, _) in recorded.items()
        if all(
            any(matches(terms, a) for a in group.alternatives) != group.excluded for group in groups
        )
    }
    start, end = years
    selected = {
        entry
        for entry in text
        if all(values & set(ids) for _, ids in chosen for values in [recorded[entry][1]])
        and (start is None or (recorded[entry][2][1] or -10_000) >= start)
        and (end is None or (recorded[entry][2][0] or 10_000) <= end)
    }
    anywhere = {
        entry
        for entry, (terms, _, _) in recorded.items()
        if any(
            matches(terms, a) for group in groups if not group.excluded for a in group.alternatives
        )
    }
    return selected, len(anywhere)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("year_rows", [True, False])
def test_selections_made_of_bit_rows_equal_the_entries_one_by_one(
    seed: int, year_rows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # words and keywords held by most entries are selected as rows of bits, rare ones from
    # their entries, the years as rows of bits too (or entry by entry past too many distinct
    # years); the rows follow additions, removals and the entries outgrowing them
    if not year_rows:
        monkeypatch.setattr(cokg.search_sets, "MOST_YEAR_ROWS", 0)
    rng = random.Random(seed)
    words = ["common", "half", "coal", "coat", "cow", *(f"rare{n}" for n in range(20))]
    term_ids = {word: n for n, word in enumerate(words)}
    values = {n: Value(0, f"k{n}", f"http://example.org/k{n}", f"K{n}") for n in range(12)}
    sets = MatchSets.empty(["keyword"])
    recorded: dict[int, tuple[set[str], set[int], tuple[int | None, int | None]]] = {}

    def add(entry: int) -> None:
        terms = {w for w, share in (("common", 0.9), ("half", 0.5)) if rng.random() < share}
        terms |= {w for w in ("coal", "coat", "cow") if rng.random() < 0.3}
        terms.add(f"rare{rng.randrange(20)}")
        keys = {0} if rng.random() < 0.8 else set()
        keys |= {rng.randrange(1, 12)} | ({1} if rng.random() < 0.4 else set())
        start = None if rng.random() < 0.1 else rng.randrange(2000, 2020)
        years = (start, None if start is None else start + rng.randrange(0, 10))
        sets.add(entry, term_ids, [term_ids[t] for t in terms], sorted(keys), values, years)
        recorded[entry] = (terms, keys, years)

    def check() -> None:
        for _ in range(40):
            groups = [
                Group(
                    rng.random() < 0.2,
                    tuple(
                        Alternative((w,), prefix=w == "co")
                        for w in rng.sample(
                            ["common", "half", "co", "rare3", "cow"], rng.randint(1, 2)
                        )
                    ),
                )
                for _ in range(rng.randint(0, 2))
            ]
            chosen = (
                [("keyword", rng.sample(range(12), rng.randint(1, 2)))]
                if rng.random() < 0.5
                else []
            )
            start, end = (  # past the first and last years too
                None if rng.random() < 0.4 else rng.randrange(1995, 2035) for _ in range(2)
            )
            years = (start, end)
            found = sets.selection(groups, chosen, *years)
            assert found is not None
            expected, anywhere = reference_selection(recorded, groups, chosen, years)
            assert set(np.flatnonzero(found.mask).tolist()) == expected
            assert (found.size, found.ranked_matches) == (len(expected), anywhere)
            if found.bits is not None:
                assert sets.counts(found.mask, 20, bits=found.bits) == sets.counts(found.mask, 20)

    for entry in range(0, 600, 2):  # ids with gaps
        add(entry)
    check()
    for entry in rng.sample(sorted(recorded), 60):
        sets.remove(entry)
        del recorded[entry]
    check()
    for entry in range(601, 700, 2):  # within the rows made for the first entries
        add(entry)
    check()
    for entry in range(1200, 1500):  # past them: the arrays and the rows grow
        add(entry)
    check()


@pytest.mark.parametrize("seed", range(3))
def test_lists_skipping_values_that_cannot_reach_them_equal_lists_counting_all(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a broad selection's counts skip the tiers of values with too few entries to reach a
    # facet's list; the lists (values, counts, order) are those of counting every value
    rng = random.Random(seed)
    values = {n: Value(n % 2, f"k{n}", f"http://example.org/k{n}", f"K{n % 7}") for n in range(400)}
    sets = MatchSets.empty(["keyword", "person"])
    weights = [rng.paretovariate(1.2) for _ in values]
    for entry in range(3000):
        keys = set(rng.choices(range(400), weights=weights, k=rng.randint(1, 6)))
        sets.add(entry, {}, [], sorted(keys), values, (2000, 2001))
    sets = MatchSets(  # the pairs merged, as read from the file (nothing added since)
        ["keyword", "person"],
        {},
        (),
        sets._term_pairs.merged(),
        sets._value_pairs.merged(),
        values,
        {entry: (2000, 2001) for entry in range(3000)},
    )

    def lists(mask: np.ndarray, share: float, shown: int) -> list[tuple[str, int, int]]:
        monkeypatch.setattr(cokg.search_sets, "PRUNE_SHARE", share)
        sets._counter = None
        return sets.counts(mask, 4 * shown, shown=shown)

    skipped = 0
    for _ in range(30):
        mask = np.array([rng.random() < rng.choice([0.3, 0.6, 0.95]) for _ in range(3000)])
        shown = rng.choice([1, 3, 10, 50])
        everything = lists(mask, 2.0, shown)  # a share no selection reaches: all counted
        assert lists(mask, 0.0, shown) == everything
        counter = sets._counter
        assert counter is not None
        every, some = np.zeros(400, dtype=np.int32), np.zeros(400, dtype=np.int32)
        counter.count(mask, every)
        counter.count(mask, some, shown=shown)
        skipped += int(np.count_nonzero(some != every))
    assert skipped  # some values were left uncounted


def test_one_product_and_the_tiers_count_each_pair_once_from_the_same_arrays() -> None:
    # a narrow selection is counted by one product over every rare value, a broad one tier by
    # tier; both give each value its number of selected entries, and the tiers are ranges of
    # the one matrix, not copies of it
    rng = random.Random(7)
    values = {n: Value(n % 2, f"k{n}", f"http://example.org/k{n}", f"K{n}") for n in range(300)}
    sets = MatchSets.empty(["keyword", "person"])
    weights = [rng.paretovariate(1.2) for _ in values]
    pairs: list[tuple[int, int]] = []
    for entry in range(4000):
        keys = sorted(set(rng.choices(range(300), weights=weights, k=rng.randint(1, 5))))
        sets.add(entry, {}, [], keys, values, (2000, 2001))
        pairs += [(key, entry) for key in keys]
    sets = MatchSets(
        ["keyword", "person"],
        {},
        (),
        sets._term_pairs.merged(),
        sets._value_pairs.merged(),
        values,
        {entry: (2000, 2001) for entry in range(4000)},
    )
    sets.counts(np.ones(4000, dtype=np.bool_), 10)
    counter = sets._counter
    assert counter is not None and counter.tiers
    for share in (0.01, 0.1, 0.5, 1.0):
        mask = np.array([rng.random() < share for _ in range(4000)])
        expected = np.zeros(300, dtype=np.int32)
        for key, entry in pairs:
            expected[key] += mask[entry]
        at_once = np.zeros(300, dtype=np.int32)
        counter.count(mask, at_once)
        assert at_once.tolist() == expected.tolist()
        tier_by_tier = np.zeros(300, dtype=np.int32)
        counter.count(mask, tier_by_tier, shown=300)  # nothing can be skipped
        assert tier_by_tier.tolist() == expected.tolist()
    for tiers in counter.tiers.values():
        for tier in tiers:
            assert np.shares_memory(tier.matrix.data, counter.matrix.data)
            assert np.shares_memory(tier.matrix.indices, counter.matrix.indices)


def test_a_value_that_ties_at_a_lists_last_place_is_counted_not_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # six rare values of 40, 30 and 4 × 20 entries, in tiers [40] [30, 20] [20, 20] [20]: the
    # third place is a tie at 20, which the label decides ("A" first): the tier holding "A"
    # may hold as many entries as the third place and must be counted
    monkeypatch.setattr(cokg.search_sets, "PRUNE_SHARE", 0.0)
    sizes, labels = [40, 30, 20, 20, 20, 20], ["E", "D", "C", "A", "B", "F"]
    values = {n: Value(0, f"k{n}", f"http://example.org/k{n}", labels[n]) for n in range(6)}
    keys, entries = [], []
    for value, size in enumerate(sizes):
        keys += [value] * size
        entries += range(size)
    pairs = cokg.search_sets._Pairs(np.array(keys, np.int32), np.array(entries, np.int32))
    nothing = cokg.search_sets._Pairs(np.empty(0, np.int32), np.empty(0, np.int32))
    years = {entry: (2000, 2001) for entry in range(3000)}  # 3 000 entries: 20 is rare
    sets = MatchSets(["keyword"], {}, (), nothing, pairs, values, years)
    everyone = np.ones(3000, dtype=np.bool_)
    assert sets.counts(everyone, 12, shown=3) == [
        ("keyword", 0, 40),
        ("keyword", 1, 30),
        ("keyword", 3, 20),
    ]
    counter = sets._counter
    assert counter is not None and [len(t.ids) for t in counter.tiers[0]] == [1, 2, 2, 1]


def test_values_with_pairs_added_since_the_tiers_were_made_are_never_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # tiers [40] [30] [20] [10]: with one value shown, the tiers after the first are skipped;
    # 35 entries added since with the last value make it the first, and must be seen
    monkeypatch.setattr(cokg.search_sets, "PRUNE_SHARE", 0.0)
    values = {n: Value(0, f"k{n}", f"http://example.org/k{n}", f"K{n}") for n in range(4)}
    keys, entries = [], []
    for value, size in enumerate([40, 30, 20, 10]):
        keys += [value] * size
        entries += range(size)
    pairs = cokg.search_sets._Pairs(np.array(keys, np.int32), np.array(entries, np.int32))
    nothing = cokg.search_sets._Pairs(np.empty(0, np.int32), np.empty(0, np.int32))
    years = {entry: (2000, 2001) for entry in range(3000)}
    sets = MatchSets(["keyword"], {}, (), nothing, pairs, values, years)
    assert sets.counts(np.ones(3000, dtype=np.bool_), 4, shown=1) == [("keyword", 0, 40)]
    counter = sets._counter
    assert counter is not None and [len(t.ids) for t in counter.tiers[0]] == [1, 1, 1, 1]
    for entry in range(3000, 3035):
        sets.add(entry, {}, [], [3], values, (2000, 2001))
    everyone = np.ones(len(sets._alive), dtype=np.bool_)
    assert sets.counts(everyone, 4, shown=1) == [("keyword", 3, 45)]
