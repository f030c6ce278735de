"""Search beside a resource page, both served by one ``cokg serve``, in one run.

Issue 7's goal is a search whose p95 is under the latency of one resource page. ``bench.search``
times the index in process; this times what a user gets, over HTTP, with the page it is
compared with, in the same run on the same server::

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.search_served \\
        --store bench/data/final/synth-100000-seed1/run/stores/oxigraph \\
        --index bench/data/search/synth-100000-seed1/search.sqlite3 --output /tmp/served.md

One ``oxigraph serve-read-only --union-default-graph`` on ``--store`` answers one ``cokg serve
--store http://…/query`` (the path any remote engine takes) with its page cache off
(``COKG_PAGE_CACHE_BYTES=0``, every page built from the engine: the cold page of
``bench.pages``) and the search index built by ``bench.search`` from the same store (copied into
the server's data folder, so the copy is what the server opens and checks against the store,
with the store's fingerprint as the server reads it recorded in it: see
:func:`served_fingerprint`). A run whose server rebuilt its index anyway (its log says so) is
refused: the rebuild's work would be measured with the searches.

Measured, one client on one keep-alive connection, latency to the last byte:

- **resource page**: the HTML entry page ``/page/project/…`` of ``--samples`` entries drawn
  with ``--seed``, a different entry each time;
- **search**: ``/search.json`` with facets (what the search page's results and facet lists need:
  hits, snippets, the total, five facet counts, the years) for each text of
  :data:`bench.search.TEXTS`, plain and narrowed by a keyword or by the years 2014–2016; and the
  search page itself, ``/search?q=…`` as HTML.

Every URL is requested once to warm up (answers checked: the page holds the entry's title, the
search's total is above zero and its facets are there). Once the server has been idle for a
second (its start-up check of the index against the store, in the background, is done),
``--rounds`` rounds send every search once, each followed by a page, the order shuffled in
every round; so pages and searches meet the same moments of the machine's load. Prints (and
with ``--output`` writes) a Markdown table of medians and p95s of every kind of search and of
the page, and each search's p95 over the page's p95 and median.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.client import Client, Request, Response
from bench.data import DATA_DIR
from bench.pages import BASE, HTML, html_check, start_cokg, start_oxigraph, titles
from bench.report import cpu_ticks, machine, nearest_p95, stolen
from bench.search import TEXTS
from bench.servers import cpu_seconds, stop_process
from cokg.search import SearchIndex
from cokg.store import open_store, store_fingerprint

STORE = DATA_DIR / "final" / "synth-100000-seed1" / "run" / "stores" / "oxigraph"
INDEX = DATA_DIR / "search" / "synth-100000-seed1" / "search.sqlite3"
PAGE = "resource page (HTML, cold)"


@dataclass
class Kind:
    """One kind of request measured: its samples (ms) and the problems met."""

    name: str
    samples: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.samples)

    def p95(self) -> float:
        return nearest_p95(self.samples)


@dataclass(frozen=True)
class Search:
    """One search request and the kind it is counted under."""

    kind: str
    request: Request


def searches(keyword: str) -> list[Search]:
    """Every search of a round: each text plain, narrowed, and as the HTML page."""
    json_accept = {"Accept": "application/json"}
    found: list[Search] = []
    for text in TEXTS:
        for label, extra in (
            ("", {}),
            (f" + keyword={keyword}", {"keyword": keyword}),
            (" + years 2014–2016", {"from": "2014", "to": "2016"}),
        ):
            query = urllib.parse.urlencode({"q": text, **extra})
            found.append(Search(f"{text}{label}", Request(f"/search.json?{query}", json_accept)))
        query = urllib.parse.urlencode({"q": text})
        found.append(Search(f"{text} (HTML page)", Request(f"/search?{query}", {"Accept": HTML})))
    return found


def search_check(response: Response) -> str | None:
    """A search answer: 200, and for JSON at least one hit and the five facet lists."""
    if response.status != 200:
        return f"HTTP {response.status}: {response.body[:200]!r}"
    if response.headers.get("content-type", "").startswith("application/json"):
        answer = json.loads(response.body)
        if answer.get("total", 0) <= 0 or len(answer.get("facets", {})) < 5:
            return f"no hits or facets: total {answer.get('total')}"
    return None


def copy_index(index: Path, folder: Path) -> None:
    """Copy the index (SQLite file and tantivy folder) into ``folder`` as the server's own."""
    folder.mkdir(parents=True)
    shutil.copy2(index, folder / "search.sqlite3")
    for suffix in ("-wal", "-shm"):
        extra = index.with_name(index.name + suffix)
        if extra.exists():
            shutil.copy2(extra, folder / f"search.sqlite3{suffix}")
    shutil.copytree(index.with_suffix(".tantivy"), folder / "search.tantivy")


def first_keyword(client: Client) -> str:
    """The commonest keyword of the whole knowledge base (as ``bench.search`` narrows by)."""
    answer = client.send(Request("/search.json?size=1", {"Accept": "application/json"}))
    if answer.status != 200:
        raise SystemExit(f"the server's search failed: HTTP {answer.status} {answer.body[:300]!r}")
    return str(json.loads(answer.body)["facets"]["keyword"][0]["key"])


def main(argv: list[str] | None = None) -> None:
    """Run the measurement; print the table (and write it with ``--output``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--index", type=Path, default=INDEX, help="built by bench.search")
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the store")
    parser.add_argument("--samples", type=int, default=100, help="entries drawn for pages")
    parser.add_argument("--rounds", type=int, default=20, help="times each search is sent")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path)
    options = parser.parse_args(argv)
    if not options.index.is_file():
        raise SystemExit(f"no index at {options.index}: build it with python -m bench.search")

    rng = random.Random(options.seed)
    numbers = rng.sample(range(1, options.entries + 1), options.samples)
    iris = [f"{BASE}id/project/synth-{n:06d}" for n in numbers]
    processes = []
    kinds: dict[str, Kind] = {}
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="search-served-", dir=DATA_DIR) as folder:
        logs = Path(folder)
        try:
            oxigraph, endpoint = start_oxigraph(options.store, logs)
            processes.append(oxigraph)
            expected = titles(endpoint, iris)
            copy_index(options.index, logs / "cokg-data")
            served_fingerprint(logs / "cokg-data", endpoint)
            settings = {
                "COKG_STORE_LOCATION": str(options.store.resolve()),
                "COKG_PAGE_CACHE_BYTES": "0",
            }
            cokg, base = start_cokg(endpoint, logs, "cokg", settings)
            processes.append(cokg)
            client = Client(base, timeout=300)
            print("first search (reads the entry sets)…", file=sys.stderr)
            keyword = first_keyword(client)
            page_check: Callable[[str, Response], str | None] = html_check(expected)

            def page(iri: str) -> Request:
                return Request("/page/" + iri[len(BASE) + 3 :], {"Accept": HTML})

            round_searches = searches(keyword)
            kinds[PAGE] = Kind(PAGE)
            for search in round_searches:
                kinds[search.kind] = Kind(search.kind)
            print(f"warming up: {len(iris)} pages, {len(round_searches)} searches", file=sys.stderr)
            for iri in iris:
                problem = page_check(iri, client.send(page(iri)))
                if problem:
                    raise SystemExit(f"page of {iri}: {problem}")
            for search in round_searches:
                problem = search_check(client.send(search.request))
                if problem:
                    raise SystemExit(f"{search.kind}: {problem}")
            settled = wait_until_idle(cokg.pid, oxigraph.pid)
            print(f"the server was idle after {settled:.1f} s", file=sys.stderr)
            print(f"measuring {options.rounds} rounds…", file=sys.stderr)
            ticks = cpu_ticks()
            pages = list(iris)
            turn = 0
            for round_number in range(options.rounds):
                order = list(round_searches)
                rng.shuffle(order)
                for search in order:
                    response = client.send(search.request)
                    record(kinds[search.kind], response, search_check(response))
                    iri = pages[turn % len(pages)]
                    turn += 1
                    response = client.send(page(iri))
                    record(kinds[PAGE], response, page_check(iri, response))
                print(f"  round {round_number + 1} done", file=sys.stderr)
            steal = stolen(ticks, cpu_ticks())
            client.close()
        finally:
            for process in reversed(processes):
                stop_process(process)
        rebuilt = "rebuilding it" in (logs / "cokg.log").read_text(errors="replace")
    if rebuilt:
        raise SystemExit("the server rebuilt its search index during the run: not a measurement")
    report = render(kinds, keyword, settled, options, argv, steal)
    print(report)
    if options.output:
        options.output.write_text(report, encoding="utf-8")


def served_fingerprint(folder: Path, endpoint: str) -> None:
    """Record in the index copied into ``folder`` the store's fingerprint as the server will
    read it through ``endpoint``.

    ``bench.search`` builds the index from the store folder; the engine here serves that folder
    with its union default graph. Until ``SparqlStore`` read ``sd:UnionDefaultGraph`` from the
    engine's service description it counted every quad twice through such an engine, so the
    server found the store "changed" and rebuilt its index in the background, during the
    measurement (every served-search run before 2026-11-26 17:30 UTC). The two fingerprints
    now agree; recording the served one keeps any other difference of view from doing that.
    """
    index = SearchIndex(folder / "search.sqlite3")
    try:
        index.record_fingerprint(store_fingerprint(open_store(endpoint)))
    finally:
        index.close()


def wait_until_idle(*pids: int, quiet: float = 1.0, timeout: float = 600.0) -> float:
    """Wait until the processes ``pids`` (the server, its engine) have each used under 5 % of
    a core for ``quiet`` seconds (their start-up work done: the background check of the index
    against the store, which asks the engine); return the seconds waited."""
    began = time.monotonic()
    used = [cpu_seconds(pid) for pid in pids]
    while time.monotonic() - began < timeout:
        time.sleep(quiet)
        now = [cpu_seconds(pid) for pid in pids]
        if all(after - before < 0.05 * quiet for before, after in zip(used, now, strict=True)):
            return time.monotonic() - began
        used = now
    raise SystemExit(f"the server was still busy after {timeout:.0f} s")


def record(kind: Kind, response: Response, problem: str | None) -> None:
    """Keep the latency of a good answer, the problem of a bad one."""
    if problem:
        kind.errors.append(problem)
    else:
        kind.samples.append(response.seconds * 1000)


def render(
    kinds: dict[str, Kind],
    keyword: str,
    settled: float,
    options: argparse.Namespace,
    argv: list[str] | None,
    steal: float | None = None,
) -> str:
    """Return the Markdown report of one run (``steal``: the share of the machine's CPU time
    the hypervisor gave to other machines during the rounds, :func:`bench.report.stolen`)."""
    page = kinds[PAGE]
    command = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "Search beside a resource page, served by one `cokg serve`, interleaved.",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Command: `flock /tmp/cokg-bench.lock .venv/bin/python -m bench.search_served {command}`",
        f"Store: `{options.store}` behind `oxigraph serve-read-only --union-default-graph`; "
        f"index: a copy of `{options.index}`; page cache off; measured once the server was "
        f"idle (after {settled:.1f} s); {options.rounds} rounds, one "
        "client, keep-alive, each search followed by a page of another entry.",
        "",
        "| request | samples | median ms | p95 ms | p95 / page p95 | p95 / page median | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in kinds.values():
        if not kind.samples:
            lines.append(f"| {kind.name} | 0 | – | – | – | – | {len(kind.errors)} |")
            continue
        lines.append(
            f"| {kind.name} | {len(kind.samples)} | {kind.median():.1f} | {kind.p95():.1f} | "
            f"{kind.p95() / page.p95():.2f}× | {kind.p95() / page.median():.2f}× | "
            f"{len(kind.errors)} |"
        )
    searched = [k for k in kinds.values() if k is not page and k.samples]
    worst = max(searched, key=Kind.p95)
    everything = [s for k in searched for s in k.samples]
    lines += [
        "",
        f"Narrowed by keyword: `{keyword}` (the commonest). Every search together: median "
        f"{statistics.median(everything):.1f} ms, p95 {nearest_p95(everything):.1f} ms; "
        f"the slowest search's p95: {worst.p95():.1f} ms ({worst.name}); the page: median "
        f"{page.median():.1f} ms, p95 {page.p95():.1f} ms (its p95 / median, the machine's "
        f"spread: {page.p95() / page.median():.2f})"
        + (
            ""
            if steal is None
            else f"; CPU time taken by the hypervisor (steal) during the rounds: {steal:.1%}"
        )
        + ".",
        "",
    ]
    over = [k for k in searched if k.p95() > page.median()]  # unrounded, unlike the table
    lines += [
        f"Issue 7's goal, a search's p95 at or below the page's median ({page.median():.2f} ms): "
        f"{len(searched) - len(over)} of {len(searched)} searches"
        + (
            "; over it: "
            + ", ".join(
                f"{k.name} ({k.p95():.2f} ms, {k.p95() / page.median():.3f}×)" for k in over
            )
            if over
            else ""
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
