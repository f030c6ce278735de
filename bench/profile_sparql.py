"""Where the time of a cokg ``/sparql`` request goes: a cProfile of the app's request path.

    python bench/profile_sparql.py [--entries 1000] [--query describe|cq06-…rq] [--requests 300]
                                   [--callers FUNCTION]

Loads (or reuses) the bench's store of that size, starts bare ``oxigraph serve`` on it, and
sends the same requests: straight to Oxigraph, and through the cokg app in-process (Flask test
client — no waitress — over a ``SparqlStore`` to that Oxigraph), once timed and once profiled.
Prints the medians and the profile of the app's side (cumulative, then own time; with
``--callers``, who calls the functions whose name matches).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import DATA_DIR, dataset
from bench.servers import run_command, start_oxigraph
from bench.workloads import PROLOGUE, WORKLOADS, CommandWorkload, Context
from cokg.resources import QUERIES_DIR
from cokg.server import create_app
from cokg.sparql_store import SparqlStore


def main() -> None:
    """Profile the requests; print the medians and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--query", default="describe", help="describe, or a file of queries/")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--callers", help="also print the callers of these functions (a regex)")
    args = parser.parse_args()
    data = dataset(args.entries, 1)
    store = DATA_DIR / "profile" / f"oxigraph-{args.entries}"
    logs = DATA_DIR / "profile" / "logs"
    if not store.exists():
        load = WORKLOADS["load"]
        if not isinstance(load, CommandWorkload):
            raise TypeError("the load workload runs commands")
        for command in load.commands("oxigraph", store, Context(data, 1)):
            run_command(command, logs / "load.log", timeout=3600)
    rng = random.Random(1)
    if args.query == "describe":
        entries = [rng.randint(1, args.entries) for _ in range(args.requests)]
        queries = [f"DESCRIBE <https://w3id.org/coprod/id/project/synth-{n:06d}>" for n in entries]
        accept = "application/n-triples"
    else:
        text = (QUERIES_DIR / args.query).read_text(encoding="utf-8")
        queries, accept = [text] * args.requests, "application/sparql-results+json"
    queries = [PROLOGUE + q for q in queries]
    server = start_oxigraph(store, timeout=60, logs=logs)
    try:
        direct = []
        for query in queries:
            begin = time.perf_counter()
            url = server.base_url + server.sparql_path_for(query)
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept})):
                pass
            direct.append(time.perf_counter() - begin)
        client = create_app(
            store=SparqlStore.for_endpoint(server.base_url + "/query")
        ).test_client()
        for query in queries[:5]:  # warm up
            client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
        through: list[float] = []
        profiled: list[float] = []
        profile = cProfile.Profile()
        for timings, profiler in ((through, None), (profiled, profile)):
            if profiler is not None:
                profiler.enable()
            for query in queries:
                begin = time.perf_counter()
                answer = client.get(
                    "/sparql", query_string={"query": query}, headers={"Accept": accept}
                )
                timings.append(time.perf_counter() - begin)
                if answer.status_code != 200:
                    raise SystemExit(f"cokg answered {answer.status_code}: {answer.data[:300]!r}")
            if profiler is not None:
                profiler.disable()
    finally:
        server.stop()
    print(
        f"{args.query}: median {statistics.median(direct) * 1000:.2f} ms straight to Oxigraph, "
        f"{statistics.median(through) * 1000:.2f} ms through the cokg app "
        f"({statistics.median(profiled) * 1000:.2f} ms profiled)"
    )
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    if args.callers:
        stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
