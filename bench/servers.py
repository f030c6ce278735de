"""Processes the benchmark starts: servers on free loopback ports, and timed commands.

Every process is started in its own session, so stopping it stops its children (``cokg serve``
supervises an ``oxigraph serve`` child) and nothing else. Peak memory is read from ``/proc``
(``VmHWM``, summed over the process tree, reset between measurements through ``clear_refs``)
(sampled every 50 ms while a command runs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

OXIGRAPH = str(Path(sys.executable).with_name("oxigraph"))
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants (from ``/proc/*/task/*/children``)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int, *, tree: bool = False) -> float:
    """Return the user and system CPU time ``pid`` has used so far (with ``tree``, summed over
    it and its descendants: a server and its engine), from Linux ``/proc``."""
    total = 0
    for member in process_tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if member == pid:
                raise
            continue  # a child that ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _status(pid: int, field: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    """Reset the peak resident size of ``pid``'s process tree (Linux ``clear_refs``)."""
    for member in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/clear_refs", "w") as handle:
            handle.write("5")


def peak_rss(pid: int) -> int:
    """Return the peak resident bytes of ``pid``'s process tree since the last reset (summed)."""
    return sum(_status(member, "VmHWM") for member in process_tree(pid))


@dataclass
class Server:
    """A running HTTP server under test: its name, base URL and process."""

    name: str
    base_url: str
    sparql_path: str
    process: subprocess.Popen[bytes]
    log: Path

    def sparql_path_for(self, query: str) -> str:
        """Return the path and query string of a SPARQL GET request."""
        return f"{self.sparql_path}?{urllib.parse.urlencode({'query': query})}"

    def stop(self) -> None:
        """Stop the server and its children (SIGTERM, then SIGKILL after 10 s)."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started by :func:`start` together with its session."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start(command: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session, its output going to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, log: Path, *, timeout: float = 180
) -> None:
    """Poll ``url`` until it answers 200; raise if the process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {process.returncode}; log {log}:\n{tail}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"server at {url} not ready after {timeout:.0f} s; log {log}")


def start_oxigraph(store: Path, *, timeout: float, logs: Path, read_only: bool = False) -> Server:
    """Start bare ``oxigraph serve`` on ``store`` (union default graph); with ``read_only``,
    ``oxigraph serve-read-only``, which may open a store another process serves.

    Without ``--timeout-s``, as cokg runs its own child: in Oxigraph 0.5.13 that limit keeps a
    thread per request asleep for the whole limit, and a cheap workload sampled for a minute
    ran the engine out of threads. The client's timeout, and a restart after it, bound a
    runaway query instead (``timeout`` is kept for the callers' symmetry).
    """
    port = free_port()
    command = [
        OXIGRAPH,
        "serve-read-only" if read_only else "serve",
        "--location",
        str(store),
        "--bind",
        f"{LOOPBACK}:{port}",
        "--union-default-graph",
    ]
    log = logs / "oxigraph-serve.log"
    process = start(command, log)
    base = f"http://{LOOPBACK}:{port}"
    server = Server("oxigraph", base, "/query", process, log)
    wait_until_ready(process, base + server.sparql_path_for("ASK {}"), log)
    return server


def start_cokg(store: Path | str, *, timeout: float, logs: Path) -> Server:
    """Start ``cokg serve`` on ``store``: a folder (it supervises its own ``oxigraph serve``
    child on it) or the query URL of a SPARQL endpoint it then fronts."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "cokg",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--store",
        str(store),
        "--data-dir",
        str(logs / "cokg-data"),
        "--timeout",
        str(timeout),
    ]
    log = logs / "cokg-serve.log"
    process = start(command, log)
    base = f"http://{LOOPBACK}:{port}"
    server = Server("cokg", base, "/sparql", process, log)
    # Not /healthz: it counts every triple, which takes seconds on a large store.
    wait_until_ready(process, base + server.sparql_path_for("ASK {}"), log)
    return server


SERVERS: dict[str, Callable[..., Server]] = {"cokg": start_cokg, "oxigraph": start_oxigraph}
"""How to start each side a workload may name; a new peer (e.g. Trifid) is one more entry."""


@dataclass(frozen=True)
class CommandRun:
    """A command that ran to its end: wall time, peak memory, exit status."""

    seconds: float
    peak_rss: int
    returncode: int


def run_command(command: Sequence[str], log: Path, *, timeout: float) -> CommandRun:
    """Run ``command`` to its end (killed after ``timeout`` seconds); time it and its memory."""
    begin = time.perf_counter()
    process = start(command, log)
    deadline = begin + timeout
    peak = 0
    while True:
        # Sampled from /proc, not wait4's ru_maxrss: after fork + exec that keeps the
        # parent's peak (this harness's), not the command's own.
        peak = max(peak, peak_rss(process.pid))
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            stop_process(process)
            return CommandRun(time.perf_counter() - begin, peak, -9)
        time.sleep(0.05)
    seconds = time.perf_counter() - begin
    process.returncode = os.waitstatus_to_exitcode(status)
    return CommandRun(seconds, peak, process.returncode)
