"""The benchmark harness still runs end to end (``--quick`` at a tiny size); no timings checked."""

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.client import Request, measure, measure_interleaved

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


@pytest.fixture
def tiny_server():
    """A real HTTP server on a free port that answers every GET with 200 and a short body."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_min_seconds_keeps_a_cheap_cell_sampling_past_its_runs(tiny_server):
    request = [Request("/")]
    sides = [(tiny_server, request), (tiny_server, request)]
    plain = measure_interleaved(sides, runs=2, seconds=30, timeout=5)
    assert [len(cell.latencies) for cell in plain] == [2, 2]
    longer = measure_interleaved(sides, runs=2, seconds=30, timeout=5, min_seconds=0.3)
    assert len(longer[0].latencies) > 2
    assert len(longer[0].latencies) == len(longer[1].latencies)  # still side by side
    alone = measure(tiny_server, request, runs=2, clients=1, seconds=30, timeout=5, min_seconds=0.3)
    assert len(alone.latencies) > 2
    cut = measure(tiny_server, request, runs=2, clients=1, seconds=0.05, timeout=5, min_seconds=5)
    assert cut.latencies and cut.wall < 5  # the deadline still stops it
