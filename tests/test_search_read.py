"""cokg.search_read: the entries the search index reads from a store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cokg.load import open_knowledge_base
from cokg.search_read import Entry, read_entries
from cokg.store import OxigraphStore

KB = "https://w3id.org/coprod/"
WELSH = KB + "id/project/co-production-for-sustainability"


@pytest.fixture(scope="module")
def kb() -> Iterator[OxigraphStore]:
    store = open_knowledge_base()
    yield store
    store.close()


def by_iri(entries: list[Entry]) -> dict[str, Entry]:
    return {entry.iri: entry for entry in entries}


def test_every_entry_is_read_with_its_graph_period_and_facets(kb: OxigraphStore) -> None:
    entries = by_iri(read_entries(kb))
    assert len(entries) == 6
    welsh = entries[WELSH]
    assert welsh.graph == KB + "graph/entries/co-production-for-sustainability"
    assert (welsh.start_year, welsh.end_year) == (2012, 2032)
    assert welsh.title.startswith("Co-production")
    assert ("keyword", KB + "id/concept/keywords/co-production") in welsh.facets
    assert all(entry.text.get("topics") for entry in entries.values())


def test_reading_some_entries_reads_them_as_a_full_read_does(kb: OxigraphStore) -> None:
    everything = by_iri(read_entries(kb))
    some = sorted(everything)[:3]
    assert by_iri(read_entries(kb, some)) == {iri: everything[iri] for iri in some}
    assert read_entries(kb, [KB + "id/project/no-such-entry"]) == []
