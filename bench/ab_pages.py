"""Two versions of cokg's entry page over one engine, at the same moments: an A/B of a change.

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.ab_pages --before COMMIT \\
        [--samples 60] [--rounds 3] [--store bench/data/final/synth-100000-seed1/run/stores/cokg]

Starts one ``oxigraph serve-read-only --union-default-graph`` on ``--store`` (as
:mod:`bench.pages` does) and ``cokg serve --store <its query URL>`` twice, both with the page
cache off (``COKG_PAGE_CACHE_BYTES=0``: every page is built from the engine, the *cold* page)
and ``COKG_STORE_LOCATION`` naming the engine's folder: with the code of ``--before`` (exported
with ``git archive``) and with the working tree's. Asks the three for ``--samples`` entries
drawn with ``--seed`` (a bare ``DESCRIBE`` from the engine, the page from each cokg), the first
side rotating from one request to the next, ``--rounds`` times after one unmeasured round, and
prints each side's median and p95 and the ratio to the bare ``DESCRIBE``. Both versions talk to
the same engine, so what differs is only their own code; the interleaving gives all sides the
same moments of a shared machine's load. It also prints the CPU time each side costs per
request (from ``/proc``: its own process's, and the engine's read before and after each of its
requests), which the machine's other load changes far less than the latencies. Run it from the
repository root, under the lock.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from bench.ab_endpoint import export
from bench.client import Client, Request
from bench.pages import BASE, STORE, start_oxigraph
from bench.report import nearest_p95
from bench.servers import LOOPBACK, cpu_seconds, free_port, stop_process, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]


def start_cokg(
    code: Path,
    engine: str,
    store: Path,
    logs: Path,
    label: str,
    extra: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cokg serve`` from the tree ``code`` over ``engine``, its page cache off, with
    the ``extra`` environment variables (``COKG_*`` settings)."""
    port = free_port()
    log = logs / f"cokg-{label}.log"
    command = [sys.executable, "-m", "cokg", "serve", "--host", LOOPBACK, "--port", str(port)]
    command += ["--store", engine, "--data-dir", str(logs / f"{label}-data"), "--timeout", "60"]
    settings = {
        "PYTHONPATH": str(code),
        "COKG_PAGE_CACHE_BYTES": "0",
        "COKG_STORE_LOCATION": str(store.resolve()),
        **(extra or {}),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=code,
            env={**os.environ, **settings},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://{LOOPBACK}:{port}"
    wait_until_ready(process, base + "/sparql?query=ASK%7B%7D", log)
    return process, base


def main(argv: list[str] | None = None) -> None:
    """Run the A/B; print one line per side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    options = parser.parse_args(argv)
    rng = random.Random(options.seed)
    slugs = [f"synth-{n:06d}" for n in rng.sample(range(1, options.entries + 1), options.samples)]
    with tempfile.TemporaryDirectory(prefix="cokg-ab-pages-") as temporary:
        folder = Path(temporary)
        logs = folder / "logs"
        logs.mkdir()
        before = export(options.before, folder / "before")
        processes: list[subprocess.Popen[bytes]] = []
        try:
            engine_process, engine = start_oxigraph(options.store, logs)
            processes.append(engine_process)
            sides: dict[str, tuple[str, list[Request]]] = {}
            engine_root = engine.rsplit("/", 1)[0]
            sides["bare DESCRIBE"] = (
                engine_root,
                [
                    Request(
                        "/query?query=" + urllib.parse.quote(f"DESCRIBE <{BASE}id/project/{slug}>"),
                        {"Accept": "text/turtle"},
                    )
                    for slug in slugs
                ],
            )
            pids = {"bare DESCRIBE": None}
            for label, code in (
                (f"cokg {options.before[:10]}", before),
                ("cokg working tree", ROOT),
            ):
                process, base = start_cokg(code, engine, options.store, logs, label.split()[-1])
                processes.append(process)
                pids[label] = process.pid
                pages = [
                    Request(f"/page/project/{slug}", {"Accept": "text/html"}) for slug in slugs
                ]
                sides[label] = (base, pages)
            clients = {name: Client(base, timeout=120) for name, (base, _) in sides.items()}
            times: dict[str, list[float]] = {name: [] for name in sides}
            own_cpu = dict.fromkeys(sides, 0.0)
            engine_cpu = dict.fromkeys(sides, 0.0)
            names = list(sides)
            turn = 0
            for round_ in range(options.rounds + 1):
                for index in range(len(slugs)):
                    turn += 1
                    shift = turn % len(names)
                    for name in names[shift:] + names[:shift]:
                        pid = pids[name]
                        engine_before = cpu_seconds(engine_process.pid)
                        own_before = cpu_seconds(pid) if pid else 0.0
                        response = clients[name].send(sides[name][1][index])
                        if response.status != 200:
                            raise SystemExit(f"{name}: HTTP {response.status}")
                        if round_:
                            times[name].append(response.seconds)
                            engine_cpu[name] += cpu_seconds(engine_process.pid) - engine_before
                            own_cpu[name] += (cpu_seconds(pid) - own_before) if pid else 0.0
        finally:
            for process in reversed(processes):
                stop_process(process)
    bare = statistics.median(times["bare DESCRIBE"])
    for name, samples in times.items():
        median = statistics.median(samples)
        p95 = nearest_p95(samples)
        print(
            f"{name:24} median {median * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms  "
            f"{median / bare:5.2f}× bare DESCRIBE  ({len(samples)} requests)  CPU per request: "
            f"own {own_cpu[name] / len(samples) * 1000:5.2f} ms, "
            f"engine {engine_cpu[name] / len(samples) * 1000:5.2f} ms"
        )


if __name__ == "__main__":
    main()
