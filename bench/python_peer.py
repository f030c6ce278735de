"""The Python peer: the competency questions on rdflib's in-memory engine vs cokg's embedded store.

Both run in-process, each in a worker process of its own so that a query that runs too long
can be stopped (neither engine can cancel a query from Python): the parent waits for each
measurement with a deadline and, past it, kills the worker, records a timeout and starts a new
worker for the questions left.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.workloads import PROLOGUE
from cokg.resources import QUERIES_DIR

ENGINES = ("cokg", "rdflib")


@dataclass
class EngineResult:
    """One engine's measurements: load time, per-question latencies, rows, peak memory."""

    load_seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    timeouts: set[str] = field(default_factory=set)
    peak_rss: int = 0


def _load(engine: str, kb: Path) -> Any:
    if engine == "cokg":
        from cokg.load import load_files
        from cokg.store import OxigraphStore

        store = OxigraphStore()
        load_files(store, [kb])
        return store
    import rdflib

    from cokg.load import collect_files, graph_iri

    dataset = rdflib.Dataset(default_union=True)
    for path, relative in collect_files([kb]):
        if path.suffix == ".trig":
            dataset.parse(path, format="trig")
        else:
            dataset.graph(rdflib.URIRef(graph_iri(relative))).parse(path, format="turtle")
    return dataset


def _worker(
    engine: str, kb: str, questions: list[str], runs: int, seconds: float, conn: Connection
) -> None:
    begin = time.perf_counter()
    engine_store = _load(engine, Path(kb))
    conn.send(("loaded", time.perf_counter() - begin, _peak()))
    for name in questions:
        sparql = PROLOGUE + next(QUERIES_DIR.glob(f"{name}-*.rq")).read_text(encoding="utf-8")
        latencies: list[float] = []
        rows = 0
        deadline = time.perf_counter() + seconds
        for index in range(runs + 1):  # the first run warms up
            start = time.perf_counter()
            rows = len(list(engine_store.query(sparql)))
            took = time.perf_counter() - start
            conn.send(("ran", name))  # a heartbeat: the parent's deadline is per run
            if index > 0 or time.perf_counter() > deadline:
                # A warm-up that alone outlasts the deadline is the one (cold) sample.
                latencies.append(took)
            if time.perf_counter() > deadline:
                break
        conn.send(("done", name, latencies, rows, _peak()))
    conn.send(("finished",))


def _peak() -> int:
    # Not ru_maxrss: after fork + exec it keeps the parent's peak, not this process's own.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_engine(
    engine: str,
    kb: Path,
    questions: list[str],
    *,
    runs: int,
    seconds: float,
    timeout: float,
    load_timeout: float,
) -> EngineResult:
    """Run ``questions`` on ``engine`` over the knowledge base folder ``kb``.

    Waits at most ``load_timeout`` for the load and ``timeout`` for each run of a question;
    a question past its deadline is recorded in :attr:`EngineResult.timeouts`.
    """
    result = EngineResult()
    context = multiprocessing.get_context("spawn")
    left = list(questions)
    while left:
        parent, child = context.Pipe()
        worker = context.Process(
            target=_worker, args=(engine, str(kb), left, runs, seconds, child), daemon=True
        )
        worker.start()
        child.close()  # the worker holds its end; EOF here then means the worker is gone
        loaded = False
        try:
            while left:
                if not parent.poll(timeout if loaded else load_timeout):
                    if not loaded:  # the load itself did not finish: nothing can run
                        result.timeouts.update(left)
                        left.clear()
                    else:
                        result.timeouts.add(left.pop(0))
                    break
                try:
                    message = parent.recv()
                except EOFError:  # the worker died (e.g. out of memory) during left[0]
                    result.timeouts.add(left.pop(0))
                    break
                if message[0] == "loaded":
                    loaded = True
                    result.load_seconds = result.load_seconds or message[1]
                    result.peak_rss = max(result.peak_rss, message[2])
                elif message[0] == "done":
                    _, name, latencies, rows, peak = message
                    result.latencies[name], result.rows[name] = latencies, rows
                    result.peak_rss = max(result.peak_rss, peak)
                    left.remove(name)
        finally:
            if not left:  # all answered: let the worker exit by itself
                worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
            worker.join(timeout=10)
            parent.close()
    return result


def compare(
    kb: Path, *, runs: int, seconds: float, timeout: float, load_timeout: float = 600
) -> tuple[list[str], dict[str, EngineResult]]:
    """Run every competency question on both engines; return the questions and the results."""
    questions = sorted(p.stem.split("-", 1)[0] for p in QUERIES_DIR.glob("cq*.rq"))
    results = {
        engine: run_engine(
            engine,
            kb,
            questions,
            runs=runs,
            seconds=seconds,
            timeout=timeout,
            load_timeout=load_timeout,
        )
        for engine in ENGINES
    }
    return questions, results


def median_ms(values: list[float]) -> float | None:
    """Return the median of ``values`` in milliseconds (``None`` when empty)."""
    return statistics.median(values) * 1000 if values else None
