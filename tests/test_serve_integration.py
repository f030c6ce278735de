"""`cokg serve` for real: the embedded store, bounded queries, engine faults, remote engines.

Each test starts `python -m cokg serve` as a subprocess on a free port (``--port 0``; the port
is read from its start-up line) and talks HTTP to it. Waits are polls with deadlines.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from cokg.load import knowledge_base_fingerprint, load_knowledge_base
from cokg.resources import QUERIES_DIR
from cokg.store import OxigraphStore
from tests.servers import OXIGRAPH, answers, free_port, wait_until

pytestmark = pytest.mark.slow

TIMEOUT = 2  # --timeout of the servers started here, in seconds
CROSS_PRODUCT_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
CROSS_PRODUCT_ROWS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
SIMPLE = "SELECT (COUNT(*) AS ?n) WHERE { ?c a skos:ConceptScheme }"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- helpers --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(url: str, *, accept: str | None = None, timeout: float = 30) -> Answer:
    """GET ``url``; any status is an answer (never an exception)."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


def poll(check: Callable[[], bool], *, deadline: float, what: str) -> None:
    """Call ``check`` every 50 ms until it is true; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # reaped between the open and the read
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class Cokg:
    """One `python -m cokg serve` process; its output is collected line by line."""

    def __init__(self, *args: str, cwd: Path, settings: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COKG_")}
        env.update(settings or {})
        env["XDG_DATA_HOME"] = str(cwd / "xdg")  # never the real home, whatever the flags
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cokg",
                "serve",
                "--port",
                "0",
                "--timeout",
                str(TIMEOUT),
                *args,
            ],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._collect, daemon=True).start()
        started = self.wait_for(r"serving (http://127\.0\.0\.1:\d+)/", deadline=60)
        self.url = started.group(1)

    def _collect(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for raw in self.process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip()
                self.lines.append(line)
                self._new.put(line)
        self._new.put(None)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, *, deadline: float) -> re.Match[str]:
        """Wait for an output line matching ``pattern``; fail if the process ends first."""
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        end = time.monotonic() + deadline
        while (left := end - time.monotonic()) > 0:
            try:
                item = self._new.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                raise AssertionError(f"cokg serve exited ({self.process.wait()}):\n{self.log}")
            if found := re.search(pattern, item):
                return found
        raise AssertionError(f"no line matching {pattern!r} within {deadline} s:\n{self.log}")

    def get(self, path: str, *, accept: str | None = None, timeout: float = 30) -> Answer:
        return fetch(self.url + path, accept=accept, timeout=timeout)

    def sparql(
        self, query: str, *, accept: str | None = "application/sparql-results+json"
    ) -> Answer:
        return self.get("/sparql?" + urllib.parse.urlencode({"query": query}), accept=accept)

    def engine_pid(self) -> int:
        health = self.get("/healthz").json()
        pid = health["engine"]["pid"]
        assert isinstance(pid, int), health
        return pid

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum``; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"cokg serve ignored signal {signum}:\n{self.log}") from None
        self.wait_for("stopped$", deadline=5)  # the output is read to its end
        return code


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Cokg]]:
    """Start `cokg serve` with extra arguments; every process is stopped at the end."""
    started: list[Cokg] = []

    def run(*args: str, settings: dict[str, str] | None = None) -> Cokg:
        server = Cokg(*args, cwd=tmp_path, settings=settings)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cokg]:
    """One `cokg serve` on the embedded store, shared by the tests that only query it."""
    folder = tmp_path_factory.mktemp("served")
    server = Cokg("--data-dir", str(folder / "data"), cwd=folder)
    yield server
    assert server.stop() == 0


def bindings(answer: Answer) -> list[dict[str, Any]]:
    """The solutions of a SPARQL JSON answer, in a stable order."""
    assert answer.status == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["results"]["bindings"]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def competency_queries() -> list[Path]:
    return sorted(QUERIES_DIR.glob("cq*.rq"))


# -- the embedded store ---------------------------------------------------------------------


def test_embedded_store_is_created_then_reused_then_reloaded_when_the_data_changed(
    start: Callable[..., Cokg], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store = data / "store"
    fingerprint = data / "store.fingerprint"

    first = start("--data-dir", str(data))
    assert "first run" in first.log
    assert fingerprint.read_text().strip() == knowledge_base_fingerprint()
    health = first.get("/healthz")
    assert health.status == 200, health.text
    triples = health.json()["triples"]
    assert isinstance(triples, int) and triples > 0
    assert first.stop() == 0
    created = store.stat().st_ino

    second = start("--data-dir", str(data))
    assert "reusing the embedded store" in second.log
    assert "loading the shipped knowledge base" not in second.log
    assert store.stat().st_ino == created
    assert second.get("/healthz").json()["triples"] == triples
    assert second.stop() == 0

    fingerprint.write_text("data of an older release\n")
    (data / "store.loading-crashed").mkdir()  # what a load killed half-way leaves behind
    third = start("--data-dir", str(data))
    assert "the shipped data changed" in third.log
    assert fingerprint.read_text().strip() == knowledge_base_fingerprint()
    assert store.stat().st_ino != created
    assert not (data / "store.loading-crashed").exists()
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("store")) == [
        "store",
        "store.fingerprint",
    ]
    assert third.get("/healthz").json()["triples"] == triples


def test_a_second_server_on_the_same_data_dir_is_refused(
    served: Cokg, start: Callable[..., Cokg], tmp_path: Path
) -> None:
    data = Path(served.wait_for(r"store: (\S+)/store,", deadline=1).group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COKG_")}
    other = subprocess.run(
        [sys.executable, "-m", "cokg", "serve", "--port", "0", "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 2
    assert "another cokg serve is using" in other.stderr
    assert served.get("/healthz").status == 200


def test_healthz_reports_the_store_and_the_engine(served: Cokg) -> None:
    answer = served.get("/healthz")
    assert answer.status == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["store"] == "reachable"
    assert isinstance(health["triples"], int) and health["triples"] > 0
    assert health["version"]
    assert "oxigraph serve" in str(health["backend"])
    assert health["engine"]["timeout_s"] == TIMEOUT


# -- bounded queries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", [CROSS_PRODUCT_COUNT, CROSS_PRODUCT_ROWS], ids=["count", "streamed-rows"]
)
def test_a_runaway_query_is_stopped_while_other_clients_are_answered(
    served: Cokg, query: str
) -> None:
    """The long query gets a 503 within timeout + 1 s; simple queries keep getting 200."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def runaway() -> None:
        began = time.monotonic()
        outcome["answer"] = served.sparql(query)
        outcome["seconds"] = time.monotonic() - began
        done.set()

    thread = threading.Thread(target=runaway)
    thread.start()
    answered_meanwhile = 0
    statuses = []
    while not done.is_set():
        answer = served.sparql(SIMPLE)
        statuses.append(answer.status)
        if not done.is_set():
            answered_meanwhile += answer.status == 200
    thread.join()

    long_answer = outcome["answer"]
    assert isinstance(long_answer, Answer)
    assert long_answer.status == 503, long_answer.text[:500]
    assert long_answer.headers.get_content_type() == "application/json"
    assert f"ran past the {TIMEOUT} s time limit" in long_answer.json()["error"]
    assert outcome["seconds"] <= TIMEOUT + 1
    assert answered_meanwhile > 0
    assert set(statuses) == {200}, statuses
    # the engine was restarted to stop the work, and answers at once
    assert bindings(served.sparql(SIMPLE))


def test_several_runaway_queries_at_once_are_each_stopped_in_time(served: Cokg) -> None:
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def runaway() -> None:
        began = time.monotonic()
        answer = served.sparql(CROSS_PRODUCT_COUNT)
        with lock:
            results.append((answer.status, time.monotonic() - began))

    threads = [threading.Thread(target=runaway) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [503] * 4
    assert max(seconds for _, seconds in results) <= TIMEOUT + 1
    assert bindings(served.sparql(SIMPLE))


def test_the_engine_keeps_no_thread_per_query(served: Cokg) -> None:
    """Oxigraph's own --timeout-s keeps a sleeping thread per request for the whole limit:
    under steady traffic the engine ran out of threads, failed requests, then died."""
    pid = served.engine_pid()
    for _ in range(300):
        assert served.sparql(SIMPLE).status == 200
    threads = len(os.listdir(f"/proc/{pid}/task"))
    assert threads < 100, f"the engine holds {threads} threads after 300 queries"


def test_a_runaway_update_is_stopped_and_changes_nothing(
    start: Callable[..., Cokg], tmp_path: Path
) -> None:
    server = start("--data-dir", str(tmp_path / "data"), settings={"COKG_WRITE_TOKEN": "t0k"})
    marker = "ASK { GRAPH ?g { <urn:cokg:test:runaway> ?p ?o } }"
    runaway = (
        "INSERT { GRAPH <urn:cokg:test:g> { <urn:cokg:test:runaway> <urn:cokg:test:n> ?n } } "
        "WHERE { { SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?w { ?a ?b ?c } GRAPH ?x { ?d ?e ?f } "
        "GRAPH ?y { ?g ?h ?i } GRAPH ?z { ?j ?k ?l } } } }"
    )

    def send(update: str) -> tuple[Answer, float]:
        request = urllib.request.Request(
            server.url + "/sparql",
            data=update.encode(),
            headers={"Content-Type": "application/sparql-update", "Authorization": "Bearer t0k"},
        )
        began = time.monotonic()
        try:
            with _DIRECT.open(request, timeout=30) as response:
                answer = Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                answer = Answer(error.code, error.headers, error.read())
        return answer, time.monotonic() - began

    answer, seconds = send(runaway)
    assert answer.status == 503, answer.text[:500]
    assert f"ran past the {TIMEOUT} s time limit" in answer.text, answer.text[:500]
    assert seconds <= TIMEOUT + 1
    assert server.sparql(marker).json()["boolean"] is False  # nothing was written
    assert server.get("/healthz").json()["engine"]["stopped_queries"] >= 1
    done, _ = send("INSERT DATA { GRAPH <urn:cokg:test:g> { <urn:cokg:test:runaway> a <urn:x> } }")
    assert done.status in (200, 204), done.text[:500]  # the restarted engine takes writes
    assert server.sparql(marker).json()["boolean"] is True


def test_a_killed_engine_gives_503_then_answers_again_without_a_restart(served: Cokg) -> None:
    pid = served.engine_pid()
    os.kill(pid, signal.SIGKILL)
    poll(lambda: process_gone(pid), deadline=5, what=f"oxigraph {pid} exits")

    down: list[Answer] = []

    def sees_503() -> bool:
        answer = served.sparql(SIMPLE, accept="application/json")
        if answer.status == 503:
            down.append(answer)
        return bool(down)

    poll(sees_503, deadline=5, what="a 503 while the engine is down")
    assert down[0].headers["Retry-After"] == "5"
    assert "cannot reach" in down[0].json()["error"]

    poll(lambda: served.sparql(SIMPLE).status == 200, deadline=30, what="answers again")
    health = served.get("/healthz").json()
    assert health["engine"]["pid"] != pid
    assert health["engine"]["restarts"] >= 1
    assert "exited with code -9; restarting" in served.log


# -- other stores ---------------------------------------------------------------------------


def test_a_store_folder_and_a_remote_oxigraph_answer_like_the_embedded_store(
    served: Cokg, start: Callable[..., Cokg], tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    store = OxigraphStore(folder)
    load_knowledge_base(store)
    store.close()
    del store  # releases the folder for the servers below

    queries = [SIMPLE] + [path.read_text(encoding="utf-8") for path in competency_queries()]
    expected = [bindings(served.sparql(query)) for query in queries]

    over_folder = start("--store", str(folder))
    assert [bindings(over_folder.sparql(query)) for query in queries] == expected
    assert over_folder.stop() == 0

    assert OXIGRAPH is not None
    port = free_port()
    command = [OXIGRAPH, "serve", "--location", str(folder), "--bind", f"127.0.0.1:{port}"]
    log = tmp_path / "oxigraph.log"
    engine_url = f"http://127.0.0.1:{port}/query"

    def start_engine() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            engine = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: answers(engine_url + "?query=ASK%7B%7D"), engine, log, deadline=30)
        return engine

    engine = start_engine()
    try:
        remote = start("--store", engine_url)
        health = remote.get("/healthz").json()
        assert health["backend"] == f"SPARQL endpoint {engine_url} (oxigraph)"
        assert health["triples"] == served.get("/healthz").json()["triples"]
        assert [bindings(remote.sparql(query)) for query in queries] == expected

        # the engine goes away: 503 with Retry-After; it comes back: answers, same cokg
        engine.terminate()
        engine.wait(timeout=30)
        down = remote.sparql(SIMPLE, accept="application/json")
        assert down.status == 503
        assert down.headers["Retry-After"] == "5"
        assert remote.get("/healthz").status == 503
        engine = start_engine()
        assert bindings(remote.sparql(SIMPLE)) == expected[0]
        assert remote.process.poll() is None
    finally:
        engine.terminate()
        engine.wait(timeout=30)


def test_a_port_in_use_is_a_clear_error(served: Cokg, tmp_path: Path) -> None:
    taken = served.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "cokg", "serve", "--port", taken, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{taken}" in result.stderr


def test_a_missing_store_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "cokg", "serve", "--port", "0", "--store", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"no store at {missing}" in result.stderr


# -- shutting down --------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_cokg_and_its_engine(
    start: Callable[..., Cokg], tmp_path: Path, signum: int
) -> None:
    server = start("--data-dir", str(tmp_path / "data"))
    pid = server.engine_pid()
    assert server.stop(signum) == 0
    assert process_gone(pid)
    assert "stopped" in server.lines[-1]
