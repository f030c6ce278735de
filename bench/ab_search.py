"""Two versions of cokg's search over one engine and one index, at the same moments: an A/B.

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.ab_search --before COMMIT \\
        [--rounds 10] [--index bench/data/search/synth-100000-seed1/search.sqlite3] \\
        [--setting before:COKG_THREADS=1 …]

Starts one ``oxigraph serve-read-only --union-default-graph`` on ``--store`` and ``cokg serve
--store <its query URL>`` twice, with the code of ``--before`` (exported with ``git archive``) and
with the working tree's, each with its own copy of the search index built by :mod:`bench.search`
(the schema of both versions must be the index's). Sends every search of
:func:`bench.search_served.searches` (each text plain, narrowed by the commonest keyword and by the
years 2014–2016, and the HTML search page) to both servers, the first side rotating from one
request to the next and from one round to the next, ``--rounds`` times after one unmeasured round,
and prints each side's median and p95 per kind of search and over all, and the CPU time each
server's process used per search (from ``/proc``), which the machine's other load changes far less
than the latencies. Both versions answer the same requests at the same moments, so what differs is
only their code (and the ``--setting``s given to one side: ``--before WORKTREE`` runs the working
tree on both sides, to compare settings alone). Run it from the repository root, under the lock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.ab_endpoint import export
from bench.ab_pages import start_cokg
from bench.client import Client
from bench.data import DATA_DIR
from bench.pages import start_oxigraph
from bench.report import nearest_p95
from bench.search_served import (
    INDEX,
    STORE,
    copy_index,
    first_keyword,
    search_check,
    searches,
    served_fingerprint,
    wait_until_idle,
)
from bench.servers import cpu_seconds, stop_process

ROOT = Path(__file__).resolve().parents[1]
WORKTREE = "WORKTREE"
"""``--before WORKTREE``: both sides run the working tree (to compare ``--setting``s)."""


def side_settings(given: list[str]) -> dict[str, dict[str, str]]:
    """Parse ``--setting SIDE:NAME=VALUE`` options into each side's environment variables.

    >>> side_settings(["before:COKG_THREADS=1"])
    {'before': {'COKG_THREADS': '1'}, 'after': {}}
    """
    settings: dict[str, dict[str, str]] = {"before": {}, "after": {}}
    for setting in given:
        side, _, assignment = setting.partition(":")
        name, equals, value = assignment.partition("=")
        if side not in settings or not name or not equals:
            raise SystemExit(f"--setting {setting!r}: expected SIDE:NAME=VALUE, SIDE before/after")
        settings[side][name] = value
    return settings


def main(argv: list[str] | None = None) -> None:
    """Run the A/B; print a table of both sides."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--index", type=Path, default=INDEX, help="built by bench.search")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="SIDE:NAME=VALUE",
        help="an environment variable for one side's server (before or after); repeatable",
    )
    options = parser.parse_args(argv)
    settings = side_settings(options.setting)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    sides = ("before", "after")
    with tempfile.TemporaryDirectory(prefix="ab-search-", dir=DATA_DIR) as folder:
        logs = Path(folder)
        processes = []
        try:
            before = (
                ROOT if options.before == WORKTREE else export(options.before, logs / "before-code")
            )
            code = {"before": before, "after": ROOT}
            oxigraph, engine = start_oxigraph(options.store, logs)
            processes.append(oxigraph)
            clients = {}
            pids = {}
            for side in sides:
                copy_index(options.index, logs / f"{side}-data")
                served_fingerprint(logs / f"{side}-data", engine)
                process, base = start_cokg(
                    code[side], engine, options.store, logs, side, settings[side]
                )
                processes.append(process)
                clients[side] = Client(base, timeout=300)
                pids[side] = process.pid
            keyword = first_keyword(clients["after"])
            first_keyword(clients["before"])
            kinds = searches(keyword)
            for side in sides:  # one unmeasured round, then wait for the start-up checks
                for search in kinds:
                    problem = search_check(clients[side].send(search.request))
                    if problem:
                        raise SystemExit(f"{side} {search.kind}: {problem}")
                wait_until_idle(pids[side], oxigraph.pid)
            samples: dict[str, dict[str, list[float]]] = {s: {} for s in sides}
            cpu = dict.fromkeys(sides, 0.0)
            for round_number in range(options.rounds):
                for index, search in enumerate(kinds):
                    # each search goes first to each side in every other round (with the
                    # first side rotating by request only, an even number of searches sent
                    # each search to the same side first every round: going second measured
                    # about 5 % slower)
                    first = (index + round_number) % 2 == 0
                    order = sides if first else sides[::-1]
                    for side in order:
                        used = cpu_seconds(pids[side])
                        response = clients[side].send(search.request)
                        cpu[side] += cpu_seconds(pids[side]) - used
                        problem = search_check(response)
                        if problem:
                            raise SystemExit(f"{side} {search.kind}: {problem}")
                        samples[side].setdefault(search.kind, []).append(response.seconds * 1000)
            for client in clients.values():
                client.close()
        except OSError as e:  # a server went away: say what its log says
            tails = {
                side: (logs / f"cokg-{side}.log").read_text(errors="replace")[-1500:]
                for side in sides
            }
            message = "\n".join(f"--- {s}:\n{t}" for s, t in tails.items())
            raise SystemExit(f"{e}\n{message}") from e
        finally:
            for process in reversed(processes):
                stop_process(process)
            rebuilt = [
                side
                for side in sides
                if "rebuilding it" in (logs / f"cokg-{side}.log").read_text(errors="replace")
            ]
    if rebuilt:
        raise SystemExit(f"{', '.join(rebuilt)}: the server rebuilt its index; not a measurement")
    print(f"A/B of the search, {options.rounds} rounds: before = {options.before}, after = tree")
    for side in sides:
        if settings[side]:
            print(f"{side}'s settings: {' '.join(f'{k}={v}' for k, v in settings[side].items())}")
    print("| search | before median | before p95 | after median | after p95 | after/before |")
    print("|---|---|---|---|---|---|")
    for search in kinds:
        b, a = samples["before"][search.kind], samples["after"][search.kind]
        print(
            f"| {search.kind} | {statistics.median(b):.1f} | {nearest_p95(b):.1f} "
            f"| {statistics.median(a):.1f} | {nearest_p95(a):.1f} "
            f"| {statistics.median(a) / statistics.median(b):.2f}× |"
        )
    every = {side: [x for values in samples[side].values() for x in values] for side in sides}
    count = len(every["after"])
    for side in sides:
        print(
            f"{side}: every search median {statistics.median(every[side]):.2f} ms, "
            f"p95 {nearest_p95(every[side]):.2f} ms, "
            f"CPU {cpu[side] / count * 1000:.2f} ms per search (the server's process)",
            file=sys.stdout,
        )


if __name__ == "__main__":
    main()
