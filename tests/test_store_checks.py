"""The background checks of a store whose files cokg sees (on disk, or the folder of the
engine it supervises) ask the engine only when those files changed: the search index's check
against the store, and the triple count of /healthz. Each counts every triple of the store
(seconds at 100 000 entries), so a check every minute kept a core of the engine busy."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import cokg.store
from cokg.formats import TURTLE
from cokg.load import load_knowledge_base
from cokg.server import create_app
from cokg.store import OxigraphStore, store_fingerprint
from tests.test_search import NEW, NEW_GRAPH, entry_turtle
from tests.test_search_server import hits

# the modules (their packages' attributes of the same names are the blueprints)
health = importlib.import_module("cokg.server.health")
served_search = importlib.import_module("cokg.server.search")


def knowledge_base_on_disk(folder: Path) -> OxigraphStore:
    store = OxigraphStore(folder / "store")
    load_knowledge_base(store)
    return store


def test_the_search_check_asks_the_store_only_when_its_files_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = knowledge_base_on_disk(tmp_path)
    app = create_app({"TESTING": True, "SEARCH_CHECK_SECONDS": 0.0}, store=store)
    client = app.test_client()
    service = app.extensions[served_search.EXTENSION]
    assert hits(client, "q=quarkly") == []  # builds the index
    fingerprints: list[str] = []
    real = served_search.store_fingerprint

    def counted(*args: object, **kwargs: object) -> str:
        fingerprints.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return fingerprints[-1]

    monkeypatch.setattr(served_search, "store_fingerprint", counted)
    for _ in range(3):  # each search starts a check (due at once); the files did not change
        hits(client, "q=coproduction")
        service._checker.join(timeout=30)
    assert fingerprints == []

    store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)  # behind the app's back
    hits(client, "q=quarkly")  # starts the check, which finds the files changed
    service._checker.join(timeout=60)
    assert len(fingerprints) == 1
    assert hits(client, "q=quarkly") == [NEW]


def test_healthz_counts_again_only_when_the_store_files_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "COUNT_MAX_AGE", 0.0)  # a time limit alone would count each time
    store = knowledge_base_on_disk(tmp_path)
    counts: list[int] = []
    real = store.count

    def count(graph: str | None = None) -> int:
        counts.append(real(graph))
        return counts[-1]

    monkeypatch.setattr(store, "count", count)
    app = create_app({"TESTING": True}, store=store)
    client = app.test_client()

    def healthz() -> int:
        answer = client.get("/healthz").json
        assert answer is not None and answer["status"] == "ok"
        counter = app.extensions["cokg.triple_count"]
        deadline = time.monotonic() + 30
        while counter._running:  # a count started by this request: let it end
            assert time.monotonic() < deadline, "the count did not end"
            time.sleep(0.01)
        return int(answer["triples"])

    assert healthz() == real() and len(counts) == 1
    healthz()
    healthz()
    assert len(counts) == 1  # the files did not change: no count

    store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)  # behind the app's back
    healthz()  # sees the files changed: counts again in the background
    assert len(counts) == 2
    assert healthz() == counts[-1] == real() > counts[0]


class SlowStore(OxigraphStore):
    """A store whose count takes a twentieth of a second of ``clock``, as a large one takes
    seconds."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock

    def count(self, graph: str | None = None) -> int:
        self.clock[0] += 0.05
        return super().count(graph)


def test_a_slow_fingerprint_reading_is_kept_for_fifty_times_its_duration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the timed checks of a store that takes seconds to read take at most a fiftieth of its
    # time; a check after a write (max_age 0) still reads it
    clock = [1000.0]
    monkeypatch.setattr(cokg.store, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    store = SlowStore(clock)
    first = store_fingerprint(store, max_age=0.001)
    store.update('INSERT DATA { GRAPH <http://g> { <http://s> <http://p> "o" } }')
    assert store_fingerprint(store, max_age=0.001) == first  # kept: 50 × 0.05 s
    monkeypatch.setattr(cokg.store, "COST_SHARE", 0)
    assert store_fingerprint(store, max_age=0.001) != first  # past max_age alone
    monkeypatch.undo()
    assert store_fingerprint(store) != first
