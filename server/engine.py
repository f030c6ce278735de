"""A supervised ``oxigraph serve`` child: the engine that makes user queries stoppable.

pyoxigraph cannot cancel a query that runs in the web process, so ``cokg serve`` runs the
store in an ``oxigraph serve`` child bound to loopback and talks to it through
:class:`cokg.sparql_store.SparqlStore`, as it would to a remote engine. A supervisor thread
restarts the child (with backoff) when it dies; it keeps its port, so the app's store keeps
working once the child is back.

A query that outlives the limit gets the child killed and restarted at once
(:meth:`OxigraphEngine.recycle`, driven by :mod:`.bounded`): the only way to stop the work.
The child is not given Oxigraph's own ``--timeout-s``: that limit is checked only now and then
(a cross-product ``COUNT`` ran for ten minutes past a 2 s limit) and never once results
stream, and in Oxigraph 0.5.13 it keeps one sleeping thread per request for the whole limit
(1 000 DESCRIBEs left 1 000 threads; at a few hundred requests a second the engine ran out of
threads, failed requests with "Resource temporarily unavailable", then died).
"""

from __future__ import annotations

import collections
import ctypes
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cokg.errors import StoreUnavailable

log = logging.getLogger("cokg.engine")

_PR_SET_PDEATHSIG = 1
# Loaded here, not in the forked child: loading a library there could deadlock.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
# Loopback needs no proxy, whatever http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_oxigraph() -> str:
    """Return the path of the ``oxigraph`` server binary.

    The one installed beside this Python (the ``oxigraph`` package, pinned to the same
    version as pyoxigraph, so both read the store folder) comes first, then ``PATH``.
    Raises :class:`~cokg.errors.StoreUnavailable` when there is none.
    """
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("oxigraph")
    if found is None:
        raise StoreUnavailable(
            "the `oxigraph` server binary is missing; install it with `pip install oxigraph`"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child when cokg dies, even by ``kill -9``."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class OxigraphEngine:
    """``oxigraph serve`` over the store folder ``location``, on a loopback port, supervised.

    ``timeout`` is the query time limit in seconds, rounded up to whole seconds (what
    ``/healthz`` reports; :mod:`.bounded` enforces it). :meth:`start` returns once the engine
    answers; :meth:`stop` ends it and its supervisor. The port stays the same across restarts.
    """

    def __init__(
        self,
        location: Path,
        *,
        timeout: float,
        binary: str | None = None,
        startup_timeout: float = 60.0,
        grace: float = 5.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.location = Path(location)
        self.timeout_s = max(1, math.ceil(timeout))
        self.binary = binary or find_oxigraph()
        self.startup_timeout = startup_timeout
        self.grace = grace
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.port = 0
        self.restarts = 0
        self.recycles = 0
        """How many times a query past the limit got the child killed (see :meth:`recycle`)."""
        self._recycling = False
        self._ready = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._output: collections.deque[str] = collections.deque(maxlen=20)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The engine's root URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def query_url(self) -> str:
        """The SPARQL query endpoint."""
        return self.url + "/query"

    @property
    def update_url(self) -> str:
        """The SPARQL update endpoint."""
        return self.url + "/update"

    @property
    def gsp_url(self) -> str:
        """The Graph Store Protocol endpoint."""
        return self.url + "/store"

    @property
    def pid(self) -> int | None:
        """The process id of the running child, or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def status(self) -> dict[str, Any]:
        """Return ``{pid, restarts, stopped_queries, timeout_s}`` for ``/healthz``."""
        return {
            "pid": self.pid,
            "restarts": self.restarts,
            "stopped_queries": self.recycles,
            "timeout_s": self.timeout_s,
        }

    def __repr__(self) -> str:
        return f"OxigraphEngine({str(self.location)!r}, port={self.port})"

    def start(self) -> None:
        """Start the child, wait until it answers, then start supervising it.

        Raises :class:`~cokg.errors.StoreUnavailable` (with the child's own message) when it
        cannot start, e.g. because another process holds the store folder.
        """
        if not self.location.is_dir():
            raise StoreUnavailable(f"no store folder at {self.location}")
        for attempt in range(3):
            self.port = free_port()
            try:
                self._launch()
                break
            except StoreUnavailable:
                # Another program may have taken the port between the probe and the bind.
                if attempt == 2 or "in use" not in "\n".join(self._output):
                    raise
        self._supervisor = threading.Thread(
            target=self._supervise, name="cokg-engine-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop(self) -> None:
        """Stop supervising, terminate the child (kill it after ``grace`` seconds), wait."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _terminate(process, self.grace)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=self.grace + 1)

    def _launch(self) -> None:
        """Start one child and wait until it answers a query."""
        command = [
            self.binary,
            "serve",
            "--location",
            str(self.location),
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        with self._lock:
            if self._stopping.is_set():
                raise StoreUnavailable("the engine is shutting down")
            self._output.clear()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if _LIBC is not None else None,
            )
            self._process = process
            self._started_at = time.monotonic()
        relay = threading.Thread(
            target=self._relay_output, args=(process,), name="cokg-engine-output", daemon=True
        )
        relay.start()
        self._wait_until_ready(process, relay)
        with self._lock:
            self._recycling = False
            self._ready.set()
        log.info("oxigraph (pid %d) answers at %s", process.pid, self.query_url)

    def recycle(self, since: int, reason: str) -> None:
        """Kill the child and restart it at once, unless it was recycled after ``since``.

        ``since`` is the value :attr:`recycles` had when a query was sent: if the child was
        recycled since, the query's work already died with it. Killing the process is the
        only way to stop a query past the time limit.
        """
        with self._lock:
            process = self._process
            if self._stopping.is_set() or self._recycling or process is None:
                return
            if since != self.recycles or process.poll() is not None:
                return
            self.recycles += 1
            self._recycling = True
            self._ready.clear()
        log.warning("killing oxigraph (pid %d): %s", process.pid, reason)
        process.kill()

    @property
    def recycling(self) -> bool:
        """True from :meth:`recycle` until the new child answers."""
        return self._recycling

    def wait_until_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a running child; return whether there is one."""
        return self._ready.wait(timeout)

    def _wait_until_ready(self, process: subprocess.Popen[bytes], relay: threading.Thread) -> None:
        deadline = time.monotonic() + self.startup_timeout
        probe = self.query_url + "?query=" + quote("ASK {}")
        while True:
            if process.poll() is not None:
                relay.join(timeout=1.0)  # its last words are the useful part of the error
                output = "\n".join(self._output).split("Stack backtrace:")[0].strip()
                raise StoreUnavailable(
                    f"oxigraph serve on {self.location} exited with code {process.returncode}: "
                    f"{output[-1000:] or '(no output)'}"
                )
            try:
                with _DIRECT.open(probe, timeout=1.0) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                _terminate(process, self.grace)
                raise StoreUnavailable(
                    f"oxigraph serve on {self.location} did not answer within "
                    f"{self.startup_timeout:.0f} s"
                )
            if self._stopping.wait(0.05):
                _terminate(process, self.grace)
                raise StoreUnavailable("the engine is shutting down")

    def _relay_output(self, process: subprocess.Popen[bytes]) -> None:
        """Log the child's output, keeping the last lines for error messages."""
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self._output.append(line)
                log.info("oxigraph: %s", line)
        process.stdout.close()

    def _supervise(self) -> None:
        """Restart the child whenever it exits, backing off while it keeps failing."""
        backoff = self.min_backoff
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            self._ready.clear()
            with self._lock:
                planned = self._recycling
            if time.monotonic() - self._started_at > 30:
                backoff = self.min_backoff  # it ran a while: a fresh failure, not a crash loop
            if not planned:
                log.warning(
                    "oxigraph (pid %d) exited with code %s; restarting in %.1f s",
                    process.pid,
                    code,
                    backoff,
                )
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
            try:
                self._launch()
                self.restarts += 1
            except StoreUnavailable as error:
                if self._stopping.is_set():
                    return
                with self._lock:
                    self._recycling = False  # failed: back off before the next try
                log.error("could not restart oxigraph: %s", error)


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM ``process``; SIGKILL it if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log.warning("oxigraph (pid %d) ignored SIGTERM for %.0f s; killing it", process.pid, grace)
        process.kill()
        process.wait()
