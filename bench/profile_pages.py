"""Where the time of a cokg entry page goes: each query of the page, and a cProfile of the app.

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.profile_pages \\
        [--store bench/data/final/synth-100000-seed1/run/stores/cokg] [--samples 60]

Starts ``oxigraph serve-read-only --union-default-graph`` on the store (as :mod:`bench.pages`
does), then, for ``--samples`` entries drawn with ``--seed``: times each query the page sends,
alone, through a :class:`~cokg.sparql_store.SparqlStore`; times the page through the cokg app
in-process (Flask test client, no waitress; the page cache off, ``STORE_LOCATION`` naming the
store's folder, as :mod:`bench.pages`' cold side), each entry once and again; and profiles a
third set of entries' pages. Prints the medians and the profile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.data import DATA_DIR
from bench.pages import BASE, STORE, start_oxigraph
from bench.servers import stop_process
from cokg.server import create_app
from cokg.server.pages import PAGE_QUERIES
from cokg.sparql_store import SparqlStore


def main(argv: list[str] | None = None) -> None:
    """Time the page's queries and the page; print the medians and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=30)
    options = parser.parse_args(argv)

    rng = random.Random(options.seed)
    numbers = rng.sample(range(1, options.entries + 1), options.samples * 2)
    iris = [f"{BASE}id/project/synth-{n:06d}" for n in numbers]
    with tempfile.TemporaryDirectory(prefix="profile-pages-", dir=DATA_DIR) as folder:
        process, endpoint = start_oxigraph(options.store, Path(folder))
        try:
            store = SparqlStore.for_endpoint(endpoint)
            for iri in iris:  # the engine's caches warm, as in bench.pages' measured rounds
                for build in PAGE_QUERIES.values():
                    list(store.query(build(iri)))  # type: ignore[arg-type]
            for name, build in PAGE_QUERIES.items():
                times = []
                for iri in iris[: options.samples]:
                    begin = time.perf_counter()
                    list(store.query(build(iri)))  # type: ignore[arg-type]
                    times.append(time.perf_counter() - begin)
                print(f"query {name:<18} median {statistics.median(times) * 1000:6.2f} ms")
            # as bench.pages' cold side: no page cache, the engine's folder known (so the
            # store's last write time, and what the app keeps per version of the store)
            settings = {"PAGE_CACHE_BYTES": 0, "STORE_LOCATION": str(options.store.resolve())}
            app = create_app(settings, store=store)
            client = app.test_client()
            timings: dict[str, list[float]] = {"cold": [], "again": [], "profiled": []}
            profile = cProfile.Profile()
            first, second = iris[: options.samples], iris[options.samples :]
            for label, group in (("cold", first), ("again", first), ("profiled", second)):
                for iri in group:
                    if label == "profiled":
                        profile.enable()
                    begin = time.perf_counter()
                    answer = client.get("/page/" + iri[len(BASE) + 3 :])
                    timings[label].append(time.perf_counter() - begin)
                    if label == "profiled":
                        profile.disable()
                    if answer.status_code != 200:
                        raise SystemExit(f"{iri}: HTTP {answer.status_code}")
            for label, times in timings.items():
                print(f"page {label:<8} median {statistics.median(times) * 1000:6.2f} ms")
        finally:
            stop_process(process)
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(options.top)
    stats.sort_stats("tottime").print_stats(options.top)


if __name__ == "__main__":
    main()
