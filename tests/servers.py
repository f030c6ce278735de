"""Real SPARQL engines for the tests: ``oxigraph serve``, a throwaway Virtuoso, ``cokg serve``.

Each starts on free loopback ports in its own temporary directory, is polled until it answers
(with a deadline; the pause between polls is a wait on the process, so a server that dies is
noticed at once) and is stopped at the end. Import the fixtures into a test module:

    from tests.servers import oxigraph_url, virtuoso_url  # noqa: F401 (pytest fixtures)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which(
    "oxigraph"
)
VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt")
VIRTUOSO_MISSING = (
    "virtuoso-t or isql-vt not found: `apt-get install -y --no-install-recommends "
    "virtuoso-opensource-7-bin` (Debian) runs the contract suite against Virtuoso too"
)

# A query that every SPARQL engine answers quickly once it is up.
_PROBE = "?query=ASK%20%7B%7D"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Return True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, deadline: float
) -> None:
    """Poll ``ready`` until it is true; fail when ``process`` exits or ``deadline`` s pass."""
    end = time.monotonic() + deadline
    while not ready():
        try:
            code = process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass
        else:
            raise RuntimeError(f"{process.args!r} exited with {code}:\n{_tail(log)}")
        if time.monotonic() > end:
            raise TimeoutError(f"{process.args!r} not ready after {deadline} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Ask ``process`` to stop (SIGTERM), kill it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


@contextmanager
def oxigraph_server(
    directory: Path, *, timeout_s: int | None = None, union_default_graph: bool = False
) -> Iterator[str]:
    """Run ``oxigraph serve`` on a store in ``directory`` (its default graph the union of the
    named graphs with ``union_default_graph``); yield its base URL."""
    if OXIGRAPH is None:
        raise RuntimeError("the oxigraph server binary is missing: pip install oxigraph")
    port = free_port()
    command = [OXIGRAPH, "serve", "--location", str(directory / "store")]
    command += ["--bind", f"127.0.0.1:{port}"]
    if timeout_s is not None:
        command += ["--timeout-s", str(timeout_s)]
    if union_default_graph:
        command.append("--union-default-graph")
    log = directory / "oxigraph.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: answers(base + "/query" + _PROBE), process, log, deadline=30)
        yield base
    finally:
        stop(process)


VIRTUOSO_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
CaseMode = 2
DirsAllowed = ., {dir}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
CheckpointInterval = 0

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerThreads = 10
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
"""

# Let the anonymous SPARQL user update (for /sparql and /sparql-graph-crud): fine for a
# throwaway loopback instance, never for a public one (docs/engines.md).
VIRTUOSO_SETUP = (
    "grant SPARQL_UPDATE to \"SPARQL\"; DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);"
)


@contextmanager
def virtuoso_server(directory: Path) -> Iterator[str]:
    """Run a fresh Virtuoso in ``directory`` with SPARQL Update on; yield its /sparql URL."""
    if VIRTUOSO is None or ISQL is None:
        raise RuntimeError(VIRTUOSO_MISSING)
    sql_port, http_port = free_port(), free_port()
    ini = directory / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(dir=directory, sql_port=sql_port, http_port=http_port))
    log = directory / "virtuoso.out"
    base = f"http://127.0.0.1:{http_port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [VIRTUOSO, "+foreground", "+configfile", str(ini)],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    isql = [ISQL, f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={VIRTUOSO_SETUP}"]

    def set_up() -> bool:
        done = subprocess.run(isql, capture_output=True, timeout=60)
        output = (done.stdout + done.stderr).decode(errors="replace")
        if "Connect failed" in output or "connection refused" in output.lower():
            return False  # the SQL listener comes up just after the HTTP one
        if done.returncode != 0 or "Error" in output:
            raise RuntimeError(f"setting up Virtuoso failed:\n{output}")
        return True

    try:
        wait_until(lambda: answers(base + "/sparql" + _PROBE), process, log, deadline=180)
        wait_until(set_up, process, log, deadline=60)
        yield base + "/sparql"
    finally:
        stop(process, grace=60)


@dataclass
class Recorded:
    """One request a :class:`ScriptedEngine` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedEngine:
    """A loopback HTTP server that answers with scripted (status, content type, body) replies.

    For what a real engine will not do on demand: answer 503, check a token, cut a result.
    Requests beyond the script get 500.
    """

    replies: list[tuple[int, str, bytes]]
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""


@contextmanager
def scripted_engine(*replies: tuple[int, str, bytes]) -> Iterator[ScriptedEngine]:
    """Serve ``replies`` in order on a free loopback port; yield the engine (``url`` set)."""
    engine = ScriptedEngine(list(replies))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                engine.requests.append(
                    Recorded(self.command, self.path, dict(self.headers.items()), body)
                )
                reply = engine.replies.pop(0) if engine.replies else (500, "text/plain", b"")
            status, content_type, payload = reply
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet."""

    for verb in ("GET", "POST", "PUT", "DELETE"):
        setattr(Handler, f"do_{verb}", Handler.answer)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    engine.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def oxigraph_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an ``oxigraph serve`` shared by the session."""
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph")) as base:
        yield base


@pytest.fixture(scope="session")
def virtuoso_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The /sparql URL of a throwaway Virtuoso shared by the session (skips without one)."""
    if VIRTUOSO is None or ISQL is None:
        pytest.skip(VIRTUOSO_MISSING)
    with virtuoso_server(tmp_path_factory.mktemp("virtuoso")) as url:
        yield url


@contextmanager
def cokg_server(
    directory: Path, *args: str, env: dict[str, str] | None = None, port: int = 0
) -> Iterator[str]:
    """Run ``cokg serve`` in ``directory`` (``args`` added, ``env`` on top of a clean
    environment); yield its base URL (``http://127.0.0.1:PORT``), stop it with SIGTERM.

    Without ``--data-dir`` in ``args`` the embedded store lives in ``directory/data``.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COKG_")}
    clean["XDG_DATA_HOME"] = str(directory / "xdg")  # never the real home
    clean["PYTHONUNBUFFERED"] = "1"
    clean.update(env or {})
    command = [sys.executable, "-m", "cokg", "serve", "--port", str(port), *args]
    if "--store" not in args and "--data-dir" not in args:
        command += ["--data-dir", str(directory / "data")]
    log = directory / "cokg-serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=directory, env=clean, stdout=out, stderr=subprocess.STDOUT
        )
    found: list[str] = []

    def started() -> bool:
        match = re.search(r"serving (http://127\.0\.0\.1:\d+)/", log.read_text(errors="replace"))
        if match:
            found.append(match.group(1))
        return bool(match)

    try:
        wait_until(started, process, log, deadline=120)
        yield found[0]
    finally:
        stop(process)
