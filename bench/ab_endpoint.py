"""Two versions of cokg's endpoint over one engine, at the same moments: an A/B of a change.

    python -m bench.ab_endpoint --before COMMIT [--query cq07-….rq] [--rounds 15]
                                [--store bench/data/final/synth-100000-seed1/run/stores/oxigraph]

Starts one bare ``oxigraph serve --union-default-graph`` on ``--store``, and ``cokg serve
--store <its query URL>`` twice: with the code of ``--before`` (exported with ``git archive``
into a temporary folder) and with the working tree's. Sends the same query (SPARQL JSON) to the
three in turn, the first one rotating, ``--rounds`` times after one unmeasured round, and
prints each one's median and p95 and the ratio to bare Oxigraph. Both versions talk to the same
engine, so what differs is only their own code; the interleaving gives all three the same
moments of a shared machine's load. Run it from the repository root, under the benchmark lock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.client import Client, Request
from bench.servers import Server, free_port, start_oxigraph, wait_until_ready
from bench.workloads import PROLOGUE, SPARQL_JSON
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


def main() -> None:
    """Run the A/B; print one line per side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--query", default="cq07-people-without-orcid.rq")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--store",
        type=Path,
        default=ROOT / "bench/data/final/synth-100000-seed1/run/stores/oxigraph",
    )
    args = parser.parse_args()
    query = PROLOGUE + (QUERIES_DIR / args.query).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="cokg-ab-") as temporary:
        folder = Path(temporary)
        logs = folder / "logs"
        logs.mkdir()
        before = export(args.before, folder / "before")
        servers: dict[str, Server] = {}
        try:
            bare = servers["bare Oxigraph"] = start_oxigraph(args.store, timeout=60, logs=logs)
            engine = bare.base_url + "/query"
            servers[f"cokg {args.before[:10]}"] = start_cokg(before, engine, logs, "before")
            servers["cokg working tree"] = start_cokg(ROOT, engine, logs, "after")
            clients = {name: Client(s.base_url, timeout=120) for name, s in servers.items()}
            requests = {
                name: Request(s.sparql_path_for(query), {"Accept": SPARQL_JSON})
                for name, s in servers.items()
            }
            times: dict[str, list[float]] = {name: [] for name in servers}
            names = list(servers)
            for round_ in range(args.rounds + 1):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    response = clients[name].send(requests[name])
                    if response.status != 200:
                        raise SystemExit(f"{name}: HTTP {response.status} {response.body[:200]!r}")
                    if round_:
                        times[name].append(response.seconds)
        finally:
            for server in servers.values():
                server.stop()
    bare_median = statistics.median(times["bare Oxigraph"])
    for name, samples in times.items():
        median = statistics.median(samples)
        p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
        print(
            f"{name:24} median {median * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  "
            f"{median / bare_median:.2f}× bare  ({args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
