"""``bench.search_served`` still runs end to end on a tiny synthetic knowledge base."""

import subprocess
import sys
from pathlib import Path

import pytest

from cokg.search import SearchIndex
from cokg.store import OxigraphStore
from cokg.synth import write_synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_search_beside_pages_runs_end_to_end_and_reports_every_kind(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "kb", entries=40, seed=3)
    store_folder = tmp_path / "store"
    loaded = subprocess.run(
        [sys.executable, "-m", "cokg", "load", "--store", str(store_folder), str(tmp_path / "kb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    store = OxigraphStore(store_folder, read_only=True)
    index = SearchIndex(tmp_path / "search.sqlite3")
    assert index.build(store) == 40
    index.close()
    del store

    command = [sys.executable, "-m", "bench.search_served", "--store", str(store_folder)]
    command += ["--index", str(tmp_path / "search.sqlite3"), "--entries", "40"]
    command += ["--samples", "5", "--rounds", "1", "--output", str(tmp_path / "report.md")]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    names = [row.split(" | ")[0][2:] for row in rows]
    assert names[0] == "resource page (HTML, cold)"
    assert "participatory budgeting" in names and "community (HTML page)" in names
    assert len(names) == 21
    for row in rows:
        cells = row.strip("| ").split(" | ")
        assert int(cells[1]) > 0 and cells[-1] == "0", row  # samples, no errors
    assert (tmp_path / "report.md").read_text(encoding="utf-8") in done.stdout
    assert "the hypervisor (steal) during the rounds: " in done.stdout  # how noisy the run was
