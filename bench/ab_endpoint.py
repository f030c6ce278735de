"""Two versions of cokg's endpoint over one engine, at the same moments: an A/B of a change.

    python -m bench.ab_endpoint --before COMMIT [--queries cq07,cq10,describe] [--rounds 15]
                                [--store bench/data/final/synth-100000-seed1/run/stores/oxigraph]
                                [--entries 100000]

Starts one bare ``oxigraph serve-read-only --union-default-graph`` on ``--store``, and ``cokg
serve --store <its query URL>`` twice: with the code of ``--before`` (exported with ``git
archive`` into a temporary folder) and with the working tree's. For each of ``--queries`` (a
competency question by its number, or ``describe``: a DESCRIBE of a random entry among
``--entries``, in N-Triples; the questions in SPARQL JSON) it sends the same request to the
three in turn, the first one rotating, ``--rounds`` times after one unmeasured round, and prints
each one's median and p95, the ratio to bare Oxigraph, and the CPU time each cokg process spent
per request (its own work, which other load changes less than latency). Both versions talk to
the same engine, so what differs is only their own code; the interleaving gives all three the
same moments of a shared machine's load. Run it from the repository root, under the benchmark
lock.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.client import Client, Request
from bench.report import nearest_p95
from bench.servers import (
    Server,
    cpu_seconds,
    free_port,
    start_oxigraph,
    wait_until_ready,
)
from bench.workloads import NTRIPLES, PROLOGUE, SPARQL_JSON
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.resources import QUERIES_DIR

ROOT = Path(__file__).resolve().parents[1]


def start_cokg(code: Path, engine: str, logs: Path, label: str) -> Server:
    """Start ``cokg serve`` from the source tree ``code`` over the SPARQL endpoint ``engine``."""
    port = free_port()
    log = logs / f"cokg-{label}.log"
    command = [sys.executable, "-m", "cokg", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--store", engine, "--data-dir", str(logs / f"{label}-data"), "--timeout", "60"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=code,
            env={**os.environ, "PYTHONPATH": str(code)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server("cokg", f"http://127.0.0.1:{port}", "/sparql", process, log)
    wait_until_ready(process, server.base_url + server.sparql_path_for("ASK {}"), log)
    return server


def export(commit: str, folder: Path) -> Path:
    """Write the tree of ``commit`` into ``folder``; return it (importable as ``cokg``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    # the wheel maps server/ to cokg.server; from a plain tree a link does the same
    (folder / "cokg" / "server").symlink_to(folder / "server")
    return folder


def requests_for(name: str, *, rounds: int, entries: int) -> tuple[list[str], str]:
    """Return the query of each round (one more for the warm-up) and the ``Accept`` to send."""
    if name == "describe":
        rng = random.Random(1)
        numbers = [rng.randint(1, entries) for _ in range(rounds + 1)]
        queries = [f"DESCRIBE <{DEFAULT_BASE_IRI}id/project/synth-{n:06d}>" for n in numbers]
        return queries, NTRIPLES
    matches = sorted(QUERIES_DIR.glob(f"{name}-*.rq")) or sorted(QUERIES_DIR.glob(name))
    if not matches:
        raise SystemExit(f"no competency question {name!r} in {QUERIES_DIR}")
    text = PROLOGUE + matches[0].read_text(encoding="utf-8")
    return [text] * (rounds + 1), SPARQL_JSON


def main() -> None:
    """Run the A/B; print one line per side and query."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--queries", default="cq07", help="e.g. cq07,cq10,describe")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--entries", type=int, default=100000, help="entries DESCRIBE picks from")
    parser.add_argument(
        "--store",
        type=Path,
        default=ROOT / "bench/data/final/synth-100000-seed1/run/stores/oxigraph",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cokg-ab-") as temporary:
        folder = Path(temporary)
        logs = folder / "logs"
        logs.mkdir()
        before = export(args.before, folder / "before")
        servers: dict[str, Server] = {}
        try:
            bare = start_oxigraph(args.store, timeout=60, logs=logs, read_only=True)
            servers["bare Oxigraph"] = bare
            engine = bare.base_url + "/query"
            servers[f"cokg {args.before[:10]}"] = start_cokg(before, engine, logs, "before")
            servers["cokg working tree"] = start_cokg(ROOT, engine, logs, "after")
            for name in args.queries.split(","):
                compare(servers, name, args.rounds, args.entries)
        finally:
            for server in servers.values():
                server.stop()


def compare(servers: dict[str, Server], query: str, rounds: int, entries: int) -> None:
    """Send one query's rounds to every server, interleaved; print what each one took."""
    queries, accept = requests_for(query, rounds=rounds, entries=entries)
    clients = {name: Client(s.base_url, timeout=120) for name, s in servers.items()}
    times: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, float] = dict.fromkeys(servers, 0.0)
    names = list(servers)
    for round_, text in enumerate(queries):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            request = Request(servers[name].sparql_path_for(text), {"Accept": accept})
            used = cpu_seconds(servers[name].process.pid, tree=True)
            response = clients[name].send(request)
            if response.status != 200:
                raise SystemExit(f"{name}: HTTP {response.status} {response.body[:200]!r}")
            if round_:
                times[name].append(response.seconds)
                cpu[name] += cpu_seconds(servers[name].process.pid, tree=True) - used
    for client in clients.values():
        client.close()
    bare_median = statistics.median(times["bare Oxigraph"])
    for name, samples in times.items():
        median = statistics.median(samples)
        own = "" if name == "bare Oxigraph" else f"  CPU {cpu[name] / rounds * 1000:6.2f} ms/req"
        print(
            f"{query:9} {name:20} median {median * 1000:8.2f} ms  p95 "
            f"{nearest_p95(samples) * 1000:8.2f} ms  {median / bare_median:.2f}× bare{own}  "
            f"({rounds} rounds)",
            flush=True,
        )


if __name__ == "__main__":
    main()
