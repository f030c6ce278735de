"""Where the time of a cokg ``/sparql`` request goes: a cProfile of the app's request path.

    python bench/profile_sparql.py [--entries 1000] [--query describe|cq06-…rq] [--requests 300]
                                   [--callers FUNCTION] [--store DIR] [--stages]

Loads (or reuses) the bench's store of that size (or serves ``--store``, e.g. the 100 000-entry
run's ``stores/oxigraph``), starts bare ``oxigraph serve`` on it, and sends the same requests:
straight to Oxigraph, and through the cokg app in-process (Flask test client — no waitress —
over a ``SparqlStore`` to that Oxigraph), once timed and once profiled. Prints the medians and
the profile of the app's side (cumulative, then own time; with ``--callers``, who calls the
functions whose name matches). With ``--stages`` (a SELECT), it also times each step the
endpoint can take on the engine's TSV answer, alone, each variant on the same bytes.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import random
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path

from pyoxigraph import QuerySolutions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import DATA_DIR, dataset
from bench.servers import run_command, start_oxigraph
from bench.workloads import PROLOGUE, WORKLOADS, CommandWorkload, Context
from cokg.formats import RESULTS_FORMATS, SPARQL_JSON, SPARQL_TSV
from cokg.resources import QUERIES_DIR
from cokg.server import create_app
from cokg.server.results import Body, solutions_body, solutions_text_body
from cokg.sparql_store import (
    SolutionsText,
    SparqlStore,
    _read_result,
    _read_solutions_text,
    _Response,
)


def main() -> None:
    """Profile the requests; print the medians and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--query", default="describe", help="describe, or a file of queries/")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--callers", help="also print the callers of these functions (a regex)")
    parser.add_argument("--store", type=Path, help="serve this Oxigraph store (not loaded)")
    parser.add_argument("--stages", action="store_true", help="time the endpoint's steps alone")
    args = parser.parse_args()
    store = args.store or DATA_DIR / "profile" / f"oxigraph-{args.entries}"
    logs = DATA_DIR / "profile" / "logs"
    if args.store is None and not store.exists():
        data = dataset(args.entries, 1)
        load = WORKLOADS["load"]
        if not isinstance(load, CommandWorkload):
            raise TypeError("the load workload runs commands")
        for command in load.commands("oxigraph", store, Context(data, 1)):
            run_command(command, logs / "load.log", timeout=3600)
    if args.stages and args.query == "describe":
        parser.error("--stages times the steps of a SELECT answer: give --query")
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
        if args.stages:
            stages(server.base_url + "/query", queries[0], runs=max(5, args.requests))
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


def stages(query_url: str, query: str, *, runs: int) -> None:
    """Print the median time of each step the endpoint can take on the engine's answer."""
    store = SparqlStore.for_endpoint(query_url)
    answer = store.query_text(query)
    if not isinstance(answer, SolutionsText):
        raise SystemExit("--stages needs a SELECT the engine answers in TSV")
    headers = Message()
    headers["Content-Type"] = SPARQL_TSV.media_type
    response = _Response(200, headers, answer.text)
    cap = answer.rows  # not cut: the figures are those of a whole answer

    def drain(body: Body) -> None:
        if not isinstance(body.content, bytes):
            for _ in body.content:
                pass

    def before() -> None:  # what the endpoint did before SolutionsText
        solutions = _read_result(response, "SELECT", store.engine)
        assert isinstance(solutions, QuerySolutions)
        drain(solutions_body(solutions, SPARQL_JSON, max_rows=cap))

    steps: dict[str, Callable[[], object]] = {
        "engine round trip (SparqlStore.query_text)": lambda: store.query_text(query),
        "check whole: parse every row (SparqlStore.query)": lambda: _read_result(
            response, "SELECT", store.engine
        ),
        "check whole: line break and last row (query_text)": lambda: _read_solutions_text(
            response, store.engine
        ),
        "cut at rows/2 by counting lines": lambda: answer.head(answer.rows // 2),
        "JSON before: parse, TSV capped, parse, JSON": before,
        **{
            f"{fmt.name.upper()} now: parse once, write": functools.partial(
                lambda f: drain(solutions_text_body(answer, f, max_rows=cap)), fmt
            )
            for fmt in RESULTS_FORMATS
        },
    }
    print(f"{answer.rows} rows, {len(answer.text):,} bytes of TSV; median of {runs} runs:")
    for name, step in steps.items():
        timings = []
        for _ in range(runs):
            begin = time.perf_counter()
            step()
            timings.append(time.perf_counter() - begin)
        print(f"  {name:55} {statistics.median(timings) * 1000:8.2f} ms")
    store.close()


if __name__ == "__main__":
    main()
