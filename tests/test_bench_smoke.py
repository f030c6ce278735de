"""The benchmark harness still runs end to end (``--quick`` at a tiny size); no timings checked."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_bench_runs_end_to_end_and_prints_the_ratio_table(tmp_path):
    command = [sys.executable, "-m", "bench", "--quick", "--entries", "60", "--seed", "3"]
    command += ["--python-entries", "20", "--runs", "1", "--clients", "1,2"]
    command += ["--cell-seconds", "0.5", "--data-dir", str(tmp_path)]
    command += ["--output", str(tmp_path / "report.md")]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table, _, peer = done.stdout.partition("### Python peer")
    assert "| workload | clients | cokg median |" in table and "| median cokg/peer |" in table
    for workload in ("load bulk load", "cq01 ", "cq15 ", "describe "):
        rows = [line for line in table.splitlines() if line.startswith(f"| {workload}")]
        assert rows, f"no row for {workload}"
        assert all(line.count("×") >= 2 for line in rows), rows  # both sides measured: ratios
    assert "| cq01 |" in peer and "| load |" in peer
    assert (tmp_path / "report.md").read_text(encoding="utf-8") in done.stdout  # --output
    assert (tmp_path / "synth-60-seed3" / "kb" / "entries.trig").is_file()
