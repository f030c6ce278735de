"""Results of a run, and the Markdown tables they print as."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path


def nearest_p95(samples: list[float]) -> float:
    """The 95th percentile by nearest rank: the sample at place ``int(n × 0.95)`` in order (the
    slowest below 20 samples). What the side benchmarks (pages, search) report.

    >>> nearest_p95([float(n) for n in range(1, 41)])
    39.0
    """
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


@dataclass
class SideResult:
    """One side's figures for one row (times in seconds, memory in bytes)."""

    side: str
    samples: list[float] = field(default_factory=list)
    throughput: float | None = None
    unit: str = "req/s"
    peak_rss: int = 0
    errors: int = 0
    note: str = ""

    @property
    def median(self) -> float | None:
        """The median latency (or duration), in seconds."""
        return statistics.median(self.samples) if self.samples else None

    @property
    def p95(self) -> float | None:
        """The 95th percentile latency, in seconds (the largest sample below 20 samples)."""
        if len(self.samples) < 20:
            return max(self.samples) if self.samples else None
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


@dataclass
class Row:
    """One workload with a given number of clients, on both sides."""

    workload: str
    title: str
    clients: int | None
    cokg: SideResult
    peer: SideResult


def duration(seconds: float | None) -> str:
    """Format a duration: milliseconds below 10 s, else seconds.

    >>> duration(0.01234), duration(12.5), duration(None)
    ('12.3 ms', '12.5 s', '–')
    """
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def rate(value: float | None, unit: str) -> str:
    """Format a throughput with its unit.

    >>> rate(1234567.0, "triples/s"), rate(3.25, "req/s")
    ('1,234,567 triples/s', '3.2 req/s')
    """
    if value is None:
        return "–"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def mib(size: int) -> str:
    """Format a byte count in MiB (``–`` for unknown)."""
    return f"{size / 2**20:,.0f}" if size else "–"


def ratio(mine: float | None, theirs: float | None) -> str:
    """Format ``mine / theirs`` (``–`` when either is missing).

    >>> ratio(3.0, 2.0), ratio(None, 1.0)
    ('1.50×', '–')
    """
    if not mine or not theirs:
        return "–"
    return f"{mine / theirs:.2f}×"


def markdown_table(rows: list[Row]) -> str:
    """Return the side-by-side table: per row both sides' figures and the ratios cokg/peer."""
    header = (
        "| workload | clients | cokg median | cokg p95 | cokg throughput | cokg peak RSS MiB "
        "| peer | peer median | peer p95 | peer throughput | peer peak RSS MiB "
        "| median cokg/peer | throughput cokg/peer | notes |"
    )
    lines = [header, "|" + "---|" * 14]
    for row in rows:
        c, p = row.cokg, row.peer
        if c.note == p.note:
            notes = c.note
        else:
            notes = "; ".join(f"{side.side}: {side.note}" for side in (c, p) if side.note)
        errors = [f"{side.side}: {side.errors} errors" for side in (c, p) if side.errors]
        lines.append(
            f"| {row.workload} {row.title} | {row.clients or '–'} "
            f"| {duration(c.median)} | {duration(c.p95)} | {rate(c.throughput, c.unit)} "
            f"| {mib(c.peak_rss)} | {p.side} | {duration(p.median)} | {duration(p.p95)} "
            f"| {rate(p.throughput, p.unit)} | {mib(p.peak_rss)} "
            f"| {ratio(c.median, p.median)} | {ratio(c.throughput, p.throughput)} "
            f"| {'; '.join(x for x in (notes, *errors) if x)} |"
        )
    return "\n".join(lines)


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far, in ticks, as ``/proc/stat``'s ``cpu`` line counts it
    (user, nice, system, idle, iowait, irq, softirq, steal, …); empty where there is none."""
    try:
        line = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return []
    return [int(n) for n in line.split()[1:]] if line.startswith("cpu ") else []


def stolen(before: list[int], after: list[int]) -> float | None:
    """The share of the CPU time between two :func:`cpu_ticks` readings that the hypervisor
    gave to other machines (``steal``): what makes a virtual machine's timings noisy.

    >>> stolen([0] * 8, [10, 0, 10, 70, 0, 0, 0, 10])
    0.1
    """
    if len(before) < 8 or len(after) < 8:
        return None
    spent = [a - b for a, b in zip(after[:8], before[:8], strict=True)]
    return spent[7] / sum(spent) if sum(spent) else None


def machine() -> str:
    """Describe this machine: CPU model, cores, memory, OS, Python."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    return (
        f"{model}, {os.cpu_count()} cores (nproc), {memory / 2**30:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
