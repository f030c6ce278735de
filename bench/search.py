"""Search at scale: the search index against a SPARQL ``CONTAINS`` scan, side by side in one run.

    python -m bench.search --store bench/data/synth-100000-seed1/run/stores/oxigraph \\
        --index bench/data/search/synth-100000-seed1/search.sqlite3

Opens an on-disk store read-only (the bench's loaded 100 000-entry store), builds the search
index into ``--index`` (timed: reading the store, writing the index; ``--reuse`` keeps an index
already built from the same store), then for each query text times the search with facets,
without facets, narrowed by a keyword and by a year range, and the same text as a SPARQL scan on
the same Oxigraph store (``CONTAINS`` on title and description over every entry, all matches,
as ranking and counting them needs: the search a user without an index would write). Then the
searches without text (every entry, one keyword, one year range). Prints Markdown tables of
median and p95 latencies and the ratios.

Facets are counted over the entry sets in memory (:mod:`cokg.search_sets`); the column
"facets by tantivy" times the same search counted with tantivy aggregations instead
(``match_sets`` off), and "same counts" checks that both give the same totals, facet counts
and years.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import nearest_p95 as p95
from cokg.search import SearchIndex, Selection, read_entries
from cokg.store import OxigraphStore, store_fingerprint

TEXTS = ["participatory budgeting", "citizens jury", "coproduction", "health", "community"]
YEARS = Selection(from_year=2014, to_year=2016)
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


def shown(samples: list[float]) -> str:
    """Median / p95 in ms."""
    return f"{statistics.median(samples):.1f} / {p95(samples):.1f}"


def size_of(index: Path) -> int:
    """Bytes on disk of the index: the SQLite file (and its WAL) and the tantivy folder."""
    files = [index, index.with_name(index.name + "-wal")]
    files += [f for f in index.with_suffix(".tantivy").rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files if f.exists())


def build(store: OxigraphStore, path: Path, reuse: bool) -> SearchIndex:
    """Open the index at ``path``, built from ``store`` (timed) unless reused."""
    fingerprint = store_fingerprint(store)
    if not reuse:  # a fresh file: its size is the index's, not that of an earlier build
        for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(path.with_suffix(".tantivy"), ignore_errors=True)
    index = SearchIndex(path)
    if reuse and index.fingerprint == fingerprint:
        print(f"index reused: {len(index)} entries, {size_of(path) / 2**20:.0f} MiB")
        return index
    began = time.perf_counter()
    entries = read_entries(store)
    reading = time.perf_counter() - began
    print(f"read {len(entries)} entries from the store in {reading:.1f} s (one query per property)")
    began = time.perf_counter()
    count = index.load(entries, fingerprint)
    writing = time.perf_counter() - began
    total = reading + writing
    print(
        f"index written in {writing:.1f} s ({count / writing:.0f} entries/s); "
        f"built in {total:.1f} s in all ({count / total:.0f} entries/s), "
        f"{size_of(path) / 2**20:.0f} MiB"
    )
    return index


def counted(index: SearchIndex, text: str, selection: Selection | None) -> object:
    """What a search counts: its total, facet counts and years."""
    result = index.search(text, selection)
    facets = {name: [(v.key, v.count) for v in values] for name, values in result.facets.items()}
    return result.total, facets, result.years


def tantivy_counts(
    index: SearchIndex, text: str, runs: int, selection: Selection | None = None
) -> tuple[list[float], bool]:
    """Time the search with facets counted by tantivy; tell whether the counts are the same."""
    with_sets = counted(index, text, selection)
    index.match_sets = False
    try:
        samples = timed(lambda: index.search(text, selection), runs)
        same = counted(index, text, selection) == with_sets
    finally:
        index.match_sets = True
    return samples, same


def main() -> None:
    """Build the index, run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--index", required=True, type=Path, help="the index file to build")
    parser.add_argument("--reuse", action="store_true", help="keep an index of the same store")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scan-runs", type=int, default=3)
    options = parser.parse_args()

    store = OxigraphStore(options.store, read_only=True)
    index = build(store, options.index, options.reuse)
    keyword = index.search("").facets["keyword"][0].key
    began = time.perf_counter()
    index.search(keyword)  # the first search that counts reads the entry sets into memory
    print(f"first search with facets (reads the entry sets): {time.perf_counter() - began:.1f} s")
    print(
        "\n| query | matches | with facets median / p95 ms | no facets median / p95 ms "
        f"| + keyword={keyword}, facets | + years 2014–2016, facets "
        "| SPARQL scan median / p95 ms | scan / search, no facets | scan / search, facets "
        "| facets by tantivy median / p95 ms | same counts |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    runs = options.runs
    for text in TEXTS:
        with_facets = timed(lambda t=text: index.search(t), runs)
        without = timed(lambda t=text: index.search(t, facets=False), runs)
        narrowed = timed(lambda t=text: index.search(t, Selection({"keyword": [keyword]})), runs)
        years = timed(lambda t=text: index.search(t, YEARS), runs)
        scan = timed(lambda t=text: list(store.query(scan_query(t))), options.scan_runs)  # type: ignore[arg-type]
        by_tantivy, same = tantivy_counts(index, text, runs)
        total = index.search(text, facets=False).total
        print(
            f"| {text} | {total} | {shown(with_facets)} | {shown(without)} | {shown(narrowed)} "
            f"| {shown(years)} | {statistics.median(scan):.0f} / {p95(scan):.0f} "
            f"| {statistics.median(scan) / statistics.median(without):.0f}× "
            f"| {statistics.median(scan) / statistics.median(with_facets):.0f}× "
            f"| {shown(by_tantivy)} | {'yes' if same else 'NO'} |",
            flush=True,
        )
    some = index.iris("", limit=5)
    updates = timed(lambda: index.update_entries(store, some[:1]), 5)
    print(
        f"\nupdating one entry (read again from the store, rewritten): "
        f"{statistics.median(updates):.1f} ms median, {max(updates):.1f} ms max of 5"
    )
    print(
        "\n| no text | matches | with facets median / p95 ms | no facets median / p95 ms "
        "| facets by tantivy median / p95 ms | same counts |"
    )
    print("|---|---|---|---|---|---|")
    for label, selection in (
        ("every entry (the landing page)", Selection()),
        (f"keyword={keyword}", Selection({"keyword": [keyword]})),
        ("years 2014–2016", YEARS),
    ):
        with_facets = timed(lambda s=selection: index.search("", s), runs)
        without = timed(lambda s=selection: index.search("", s, facets=False), runs)
        total = index.search("", selection, facets=False).total
        by_tantivy, same = tantivy_counts(index, "", runs, selection)
        print(
            f"| {label} | {total} | {shown(with_facets)} | {shown(without)} "
            f"| {shown(by_tantivy)} | {'yes' if same else 'NO'} |",
            flush=True,
        )
    index.close()
    # OxigraphStore.close() flushes, which a read-only store refuses: leave it open.


if __name__ == "__main__":
    sys.exit(main())
