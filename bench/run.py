"""``python -m bench``: cokg and its peers side by side, on the same data and the same requests.

For one size: generate (or reuse) the synthetic knowledge base; bulk-load it into cokg and
into bare Oxigraph, timed; start ``cokg serve`` and ``oxigraph serve --union-default-graph``
on free loopback ports; for every workload, warm up, then send a fixed number of requests
with 1 and with several clients (each cell bounded by a count and a deadline); then run the
competency questions in-process on rdflib and on cokg's embedded store at a small size.
Prints Markdown tables with both sides' figures and the ratios cokg/peer.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import python_peer
from bench.client import Cell, Client, Request, Response, measure_interleaved
from bench.client import measure as measure_http
from bench.data import DATA_DIR, Dataset, dataset
from bench.report import Row, SideResult, duration, machine, markdown_table, mib, ratio
from bench.servers import (
    SERVERS,
    Server,
    peak_rss,
    reset_peak,
    run_command,
    start_cokg,
    start_oxigraph,
)
from bench.workloads import WORKLOADS, CommandWorkload, Context, HttpWorkload

QUICK = {
    "entries": 1_000,
    "runs": 3,
    "clients": "1,2",
    "cell_seconds": 2.0,
    "timeout": 5.0,
    "python_entries": 100,
    "budget": 100.0,
}
GRACE = 5.0
"""Seconds a client waits past the query time limit before it gives up on an answer."""
FULL = {
    "entries": 100_000,
    "runs": 10,
    "clients": "1,4",
    "cell_seconds": 10.0,
    "timeout": 20.0,
    "python_entries": 1_000,
    "budget": 1_000.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; ``--quick`` changes the defaults, explicit options win."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and fast (< 2 minutes)")
    parser.add_argument("--entries", type=int, help="entries in the synthetic knowledge base")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, help="measured requests per client and cell")
    parser.add_argument("--clients", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--cell-seconds", type=float, help="deadline of one cell of runs")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=0.0,
        help="go on past --runs until a cell has lasted this long (more samples of cheap "
        "requests; --cell-seconds still stops it)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"cokg's query time limit (seconds); the client gives up {GRACE:g} s later",
    )
    parser.add_argument(
        "--python-entries", type=int, help="size for the in-process Python peer (0: skip)"
    )
    parser.add_argument(
        "--budget", type=float, help="seconds after which HTTP workloads are skipped"
    )
    parser.add_argument("--workloads", help="comma-separated workload names (default: all)")
    parser.add_argument(
        "--reuse-stores", action="store_true", help="keep loaded stores (skips the load)"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="one client: send each request to both sides in turn (same moments of load)",
    )
    parser.add_argument(
        "--front",
        action="store_true",
        help="cokg serve fronts the bare Oxigraph server itself (--store its URL): one engine",
    )
    parser.add_argument(
        "--same-store",
        action="store_true",
        help="bare Oxigraph serves cokg's store (read-only), not the one its own loader built",
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.clients = [int(c) for c in str(args.clients).split(",")]
    if min(args.clients) < 1 or args.runs < 1 or args.entries < 1:
        parser.error("--clients, --runs and --entries must be positive")
    return args


@dataclass
class Run:
    """The state of one benchmark run."""

    args: argparse.Namespace
    data: Dataset
    folder: Path
    started: float

    def log(self, message: str) -> None:
        """Print a progress line on standard error."""
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def over_budget(self) -> bool:
        """Tell whether the run's time budget is spent."""
        budget: float = self.args.budget
        return time.monotonic() - self.started > budget

    def store(self, side: str) -> Path:
        """The store folder of ``side``."""
        return self.folder / "stores" / side


def run_command_workload(run: Run, workload: CommandWorkload) -> Row:
    """Run each side's commands to their end (fresh stores), one after the other."""
    ctx = Context(run.data, run.args.seed)
    results = []
    for side in workload.sides:
        store = run.store(side)
        shutil.rmtree(store, ignore_errors=True)
        result = SideResult(side, unit="triples/s")
        seconds = 0.0
        for index, command in enumerate(workload.commands(side, store, ctx)):
            log = run.folder / "logs" / f"{workload.name}-{side}-{index}.log"
            done = run_command(command, log, timeout=run.args.budget)
            seconds += done.seconds
            result.peak_rss = max(result.peak_rss, done.peak_rss)
            if done.returncode != 0:
                result.errors += 1
                result.note = f"`{shlex.join(command[:3])}` failed, see {log}"
        result.samples = [seconds]
        result.throughput = run.data.triples / seconds if not result.errors else None
        run.log(f"{workload.name} {side}: {duration(seconds)}")
        results.append(result)
    return Row(workload.name, workload.title, None, results[0], results[1])


def warm_up(
    server: Server, request: Request, describe: Callable[[Response], str], *, timeout: float
) -> tuple[str, bool]:
    """Send ``request`` once, unmeasured; return (a note on the answer, whether it is usable).

    A warm-up that fails fast (connection refused, 502/503 within 2 s: a backend restarting
    after the previous workload's stopped query) is tried again, 3 attempts in all, 1 s apart;
    the note says so. A slow failure (the query ran past its time limit) is not retried.
    """
    failures: list[str] = []
    client = Client(server.base_url, timeout=timeout)
    try:
        for _ in range(3):
            begin = time.perf_counter()
            try:
                response = client.send(request)
            except OSError as e:
                failures.append(f"warm-up failed: {e}"[:160])
            else:
                if response.status == 200:
                    try:
                        found = describe(response)
                    except ValueError as e:
                        return f"warm-up {e}", False
                    retried = f" (warm-up retried after: {failures[0]})" if failures else ""
                    return found + retried, True
                failures.append(f"warm-up HTTP {response.status}: {response.body[:120]!r}")
            if time.perf_counter() - begin > 2:
                break
            time.sleep(1)
        return failures[-1], False
    finally:
        client.close()


def run_http_workload(
    run: Run, workload: HttpWorkload, servers: dict[str, Server], flip: bool
) -> list[Row]:
    """Warm up each side, then measure it with each number of clients.

    With ``--interleave``, the one-client cell sends each request to both sides in turn
    (:func:`bench.client.measure_interleaved`), after both warm-ups.
    """
    ctx = Context(run.data, run.args.seed)
    args = run.args
    sides = list(workload.sides)[::-1] if flip else list(workload.sides)
    by_clients: dict[int, dict[str, SideResult]] = {c: {} for c in args.clients}
    paired = [1] if args.interleave and 1 in args.clients else []
    ready: dict[str, list[Request]] = {}
    for side in sides:
        server = servers[side]
        requests = workload.requests(server, ctx)
        begin = time.perf_counter()
        note, usable = warm_up(server, requests[0], workload.size, timeout=args.timeout + GRACE)
        slow = time.perf_counter() - begin > args.cell_seconds
        timed_out = "timed out" in note
        for clients in args.clients:
            result = SideResult(side, note=note)
            by_clients[clients][side] = result
            if usable and clients in paired:
                ready[side] = requests
                continue  # measured below, side by side with the other side
            if usable and slow and clients > 1:
                # One request outlasts the whole cell: several at once would only multiply it.
                result.note += " (concurrent cell skipped: one request outlasts the cell)"
            elif usable:
                reset_peak(server.process.pid)
                cell = measure_http(
                    server.base_url,
                    requests,
                    runs=args.runs * clients,
                    clients=clients,
                    seconds=args.cell_seconds,
                    timeout=args.timeout + GRACE,
                    min_seconds=args.min_seconds,
                )
                timed_out = record(result, cell, server) or timed_out
            log_cell(run, workload, side, clients, result)
        if timed_out:  # a query still running there would slow down the next workload
            restart(run, servers, side)
    if ready:
        for side in ready:
            reset_peak(servers[side].process.pid)
        cells = measure_interleaved(
            [(servers[side].base_url, requests) for side, requests in ready.items()],
            runs=args.runs,
            seconds=args.cell_seconds * len(ready),
            timeout=args.timeout + GRACE,
            min_seconds=args.min_seconds * len(ready),
        )
        for (side, _), cell in zip(ready.items(), cells, strict=True):
            result = by_clients[1][side]
            if record(result, cell, servers[side]):
                restart(run, servers, side)
            log_cell(run, workload, side, 1, result)
    first, second = workload.sides
    return [
        Row(workload.name, workload.title, clients, found[first], found[second])
        for clients, found in by_clients.items()
    ]


def record(result: SideResult, cell: Cell, server: Server) -> bool:
    """Put ``cell``'s figures into ``result``; return whether a request timed out."""
    result.samples = cell.latencies
    result.throughput = cell.throughput if cell.latencies else None
    result.errors = len(cell.errors)
    result.peak_rss = peak_rss(server.process.pid)
    if cell.errors:
        result.note += f" (first error: {cell.errors[0][:120]})"
    return any("timed out" in e for e in cell.errors)


def log_cell(run: Run, workload: HttpWorkload, side: str, clients: int, result: SideResult) -> None:
    """Log one cell's median."""
    run.log(
        f"{workload.name} {side} ×{clients}: median {duration(result.median)}, "
        f"{len(result.samples)} runs, {result.errors} errors"
    )


def restart(run: Run, servers: dict[str, Server], side: str) -> None:
    """Restart ``side``: a request outlived the client's timeout, and may still be running."""
    run.log(f"restarting {side}: a request outlived the client's timeout")
    servers[side].stop()
    servers[side] = start_server(run, side)


def time_healthz(server: Server, *, timeout: float) -> str:
    """Time one ``GET /healthz`` (what monitors poll); return a short description."""
    client = Client(server.base_url, timeout=timeout)
    try:
        response = client.send(Request("/healthz"))
    except OSError as e:
        return f"failed: {e}"
    finally:
        client.close()
    return f"HTTP {response.status} in {duration(response.seconds)}"


def start_server(run: Run, side: str) -> Server:
    """Start the server of ``side`` on its store."""
    run.log(f"starting {side}")
    logs = run.folder / "logs"
    if side == "oxigraph" and run.args.same_store:  # cokg's files, cokg's engine beside it
        return start_oxigraph(
            run.store("cokg"), timeout=run.args.timeout, logs=logs, read_only=True
        )
    return SERVERS[side](run.store(side), timeout=run.args.timeout, logs=logs)


def wait_for_count(server: Server, *, timeout: float) -> str:
    """Wait until ``/healthz`` reports the triple count it started in the background.

    The count reads every triple (seconds at 100 000 entries): measured while it runs, the
    first cells would time the engine under that load, not the requests. Returns a note.
    """
    client = Client(server.base_url, timeout=timeout)
    begin = time.monotonic()
    try:
        while time.monotonic() - begin < timeout:
            response = client.send(Request("/healthz"))
            if response.status == 200 and json.loads(response.body).get("triples") is not None:
                return f"its count done after {time.monotonic() - begin:.1f} s more"
            time.sleep(0.5)
    except (OSError, ValueError) as e:
        return f"its count not awaited: {e}"
    finally:
        client.close()
    return f"its count still running after {timeout:.0f} s"


def python_peer_section(run: Run) -> str:
    """Run the competency questions in-process on cokg's store and on rdflib; return Markdown."""
    args = run.args
    data = dataset(args.python_entries, args.seed, root=args.data_dir)
    run.log(f"python peer: {data.entries} entries, {data.triples} triples")
    questions, results = python_peer.compare(
        data.kb, runs=args.runs, seconds=args.cell_seconds, timeout=args.timeout
    )
    cokg, rdflib = results["cokg"], results["rdflib"]
    lines = [
        f"In-process, {data.entries} entries ({data.triples:,} triples): cokg's embedded "
        "store (pyoxigraph) vs rdflib's in-memory engine, one client. "
        f"Peak RSS: cokg {mib(cokg.peak_rss)} MiB, rdflib {mib(rdflib.peak_rss)} MiB.",
        "",
        "| question | cokg median | rdflib median | cokg/rdflib | rows (cokg / rdflib) |",
        "|---|---|---|---|---|",
        f"| load | {duration(cokg.load_seconds)} | {duration(rdflib.load_seconds)} "
        f"| {ratio(cokg.load_seconds, rdflib.load_seconds)} | |",
    ]
    for name in questions:
        mine = python_peer.median_ms(cokg.latencies.get(name, []))
        theirs = python_peer.median_ms(rdflib.latencies.get(name, []))
        cells = []
        for engine, value in (("cokg", mine), ("rdflib", theirs)):
            timed_out = name in results[engine].timeouts
            cells.append(
                f"> {args.timeout:.0f} s (stopped)"
                if timed_out
                else duration(value / 1000 if value is not None else None)
            )
        rows = f"{cokg.rows.get(name, '–')} / {rdflib.rows.get(name, '–')}"
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {ratio(mine, theirs)} | {rows} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the report; return the exit status."""
    args = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C does: through the finally that stops the servers.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    started = time.monotonic()
    wanted = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    selected = [w for name, w in WORKLOADS.items() if name in wanted]
    data = dataset(args.entries, args.seed, root=args.data_dir, progress=sys.stderr.isatty())
    run = Run(args, data, data.folder / "run", started)
    run.log(
        f"data: {data.entries} entries, {data.triples:,} triples, {data.bytes / 2**20:.0f} MiB "
        f"({'reused' if data.reused else f'written in {data.synth_seconds:.1f} s'})"
    )
    rows: list[Row] = []
    servers: dict[str, Server] = {}
    health = "not measured"
    try:
        http = [w for w in selected if isinstance(w, HttpWorkload)]
        sides = sorted({side for w in http for side in w.sides})
        load = WORKLOADS["load"]
        if load not in selected and not all(run.store(side).exists() for side in sides):
            selected.insert(0, load)  # the servers need loaded stores
        for workload in selected:
            if isinstance(workload, CommandWorkload):
                if args.reuse_stores and all(run.store(s).exists() for s in workload.sides):
                    run.log(f"{workload.name}: stores reused, not measured")
                    continue
                rows.append(run_command_workload(run, workload))
        if args.front and sides == ["cokg", "oxigraph"]:  # one engine, cokg in front of it
            servers["oxigraph"] = start_server(run, "oxigraph")
            run.log("starting cokg in front of it")
            servers["cokg"] = start_cokg(
                servers["oxigraph"].base_url + "/query",
                timeout=args.timeout,
                logs=run.folder / "logs",
            )
        else:
            for side in sides:
                servers[side] = start_server(run, side)
        if "cokg" in servers:
            health = time_healthz(servers["cokg"], timeout=args.timeout + GRACE)
            run.log(f"cokg /healthz: {health}")
            run.log("cokg /healthz: " + wait_for_count(servers["cokg"], timeout=args.timeout))
        for index, workload in enumerate(http):
            if run.over_budget():
                run.log(f"{workload.name}: skipped, the budget of {args.budget:.0f} s is spent")
                continue
            rows += run_http_workload(run, workload, servers, flip=index % 2 == 1)
    finally:
        for server in servers.values():
            server.stop()
    peer_section = ""
    if args.python_entries > 0:
        peer_section = python_peer_section(run)
    report = "\n".join(
        [
            f"## {data.entries:,} entries ({data.triples:,} triples, seed {data.seed})",
            "",
            f"Machine: {machine()}.  ",
            f"Command: `{shlex.join(['python', '-m', 'bench', *(argv or sys.argv[1:])])}`.  ",
            f"Runs: warm-up 1, then {args.runs} requests per client"
            + (
                f" (more until the cell has lasted {args.min_seconds:g} s)"
                if args.min_seconds
                else ""
            )
            + f", clients {'/'.join(map(str, args.clients))}, each cell stopped after "
            f"{args.cell_seconds:g} s"
            f"{' (one client: sides interleaved request by request)' if args.interleave else ''}; "
            f"query time limit {args.timeout:g} s (cokg's; the client gives up on either side "
            f"{GRACE:g} s after it; bare Oxigraph runs without `--timeout-s`, as cokg's own "
            "engine does). "
            + (
                "Bare Oxigraph serves cokg's store (`oxigraph serve-read-only` on the folder "
                "cokg's own engine serves), so both sides read the same files. "
                if args.same_store
                else ""
            )
            + (
                "`cokg serve` fronts that bare Oxigraph server itself (`--store` its query URL): "
                "one engine, the same store, both sides' requests in turn; what differs is "
                "cokg's path in front of it. "
                if args.front
                else ""
            )
            + f"Total {time.monotonic() - started:.0f} s. "
            f"One `GET /healthz` on cokg: {health}.",
            "",
            markdown_table(rows),
            "",
            "### Python peer",
            "",
            peer_section or "(not run)",
            "",
        ]
    )
    print(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    return 0
