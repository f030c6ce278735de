"""Search at scale: the FTS5 index against a SPARQL ``CONTAINS`` scan, side by side in one run.

    python -m bench.search --store bench/data/synth-100000-seed1/run/stores/oxigraph

Opens an on-disk store read-only (the bench's loaded 100 000-entry store), reads its entries
with the index's SPARQL queries (timed), writes them into the FTS5 index in a temporary file
(timed: the build rate) and, when the ``tantivy`` package can be imported, into a tantivy index
with the same fields and boosts (not a dependency of cokg: install it beside the bench to
compare). Then for each query text: the FTS5 search with facets, without facets, narrowed by a
keyword, tantivy's top 10 (no facets, no snippets), and the same text as a SPARQL scan on the
same Oxigraph store (``CONTAINS`` on title and description over every entry, all matches, as
ranking and counting them needs: the search a user without an index would write). Prints
Markdown tables of median and p95 latencies and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cokg.search import Entry, SearchIndex, Selection, read_entries
from cokg.search_text import BOOSTS, COLUMNS
from cokg.store import OxigraphStore

TEXTS = ["participatory budgeting", "citizens jury", "coproduction", "health", "community"]
SCAN = """
SELECT ?entry WHERE {{
  ?entry a schema:ResearchProject ; dcterms:title ?title ; dcterms:description ?d .
  FILTER({condition})
}}
"""


def scan_query(text: str) -> str:
    """The SPARQL scan for ``text``: every word in the title or the description."""
    words = [w.lower().replace('"', "") for w in text.split()]
    condition = " && ".join(
        f'(CONTAINS(LCASE(STR(?title)), "{w}") || CONTAINS(LCASE(STR(?d)), "{w}"))' for w in words
    )
    return SCAN.format(condition=condition)


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Run ``action`` ``runs`` times after one warm-up; return the latencies in ms."""
    action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    """The 95th percentile (the slowest sample below 20 samples)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def tantivy_index(entries: list[Entry]) -> tuple[Any, float] | None:
    """Write ``entries`` into an in-memory tantivy index; None when tantivy is missing."""
    try:
        import tantivy
    except ImportError:
        return None
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("iri", stored=True, tokenizer_name="raw")
    for column in COLUMNS:
        builder.add_text_field(column, stored=column == "title", tokenizer_name="en_stem")
    index = tantivy.Index(builder.build())
    began = time.perf_counter()
    writer = index.writer()
    for entry in entries:
        fields = {c: " · ".join(v) for c, v in entry.text.items()}
        fields |= {"title": entry.title, "description": entry.description, "iri": entry.iri}
        writer.add_document(tantivy.Document(**fields))
    writer.commit()
    index.reload()
    return index, time.perf_counter() - began


def tantivy_search(index: Any, text: str) -> list[str]:
    """Top 10 of ``text`` (all words, same boosts as FTS5), as IRIs."""
    words = " ".join(f'"{w}"' for w in text.split())
    query = index.parse_query(
        words,
        list(COLUMNS),
        field_boosts=dict(zip(COLUMNS, BOOSTS, strict=True)),
        conjunction_by_default=True,
    )
    searcher = index.searcher()
    return [searcher.doc(address)["iri"][0] for _, address in searcher.search(query, 10).hits]


def main() -> None:
    """Run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scan-runs", type=int, default=3)
    options = parser.parse_args()

    store = OxigraphStore(options.store, read_only=True)
    began = time.perf_counter()
    entries = read_entries(store)
    reading = time.perf_counter() - began
    print(f"read {len(entries)} entries from the store in {reading:.1f} s (SPARQL, 10 queries)")
    with tempfile.TemporaryDirectory() as folder:
        index = SearchIndex(Path(folder) / "search.sqlite3")
        began = time.perf_counter()
        count = index.load(entries, "bench")
        seconds = time.perf_counter() - began
        size = (Path(folder) / "search.sqlite3").stat().st_size
        print(
            f"FTS5 index: {count} entries written in {seconds:.1f} s "
            f"({count / seconds:.0f} entries/s; with the reading {count / (seconds + reading):.0f}"
            f" entries/s), {size / 2**20:.0f} MiB"
        )
        tantivy = tantivy_index(entries)
        if tantivy is not None:
            print(
                f"tantivy index: written in {tantivy[1]:.1f} s ({count / tantivy[1]:.0f} entries/s)"
            )
        del entries
        keyword = index.search("", facets=True).facets["keyword"][0].key
        print(
            "\n| query | FTS5 + facets median / p95 ms | FTS5, no facets median / p95 ms "
            f"| FTS5 + keyword={keyword} median / p95 ms | tantivy top 10 median / p95 ms "
            "| SPARQL scan median / p95 ms | scan / FTS5 (median, no facets) |"
        )
        print("|---|---|---|---|---|---|---|")
        for text in TEXTS:
            with_facets = timed(lambda t=text: index.search(t), options.runs)
            without = timed(lambda t=text: index.search(t, facets=False), options.runs)
            narrowed = timed(
                lambda t=text: index.search(t, Selection({"keyword": [keyword]})), options.runs
            )
            other = (
                timed(lambda t=text, e=tantivy[0]: tantivy_search(e, t), options.runs)
                if tantivy
                else []
            )
            scan = timed(lambda t=text: list(store.query(scan_query(t))), options.scan_runs)  # type: ignore[arg-type]
            ratio = statistics.median(scan) / statistics.median(without)
            shown = f"{statistics.median(other):.2f} / {p95(other):.2f}" if other else "–"
            print(
                f"| {text} | {statistics.median(with_facets):.1f} / {p95(with_facets):.1f} "
                f"| {statistics.median(without):.2f} / {p95(without):.2f} "
                f"| {statistics.median(narrowed):.1f} / {p95(narrowed):.1f} | {shown} "
                f"| {statistics.median(scan):.0f} / {p95(scan):.0f} | {ratio:.0f}× |",
                flush=True,
            )
        index.close()
    # OxigraphStore.close() flushes, which a read-only store refuses: leave it open.


if __name__ == "__main__":
    sys.exit(main())
