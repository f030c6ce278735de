"""Dump throughput and peak memory: cokg's dumps beside ``oxigraph dump`` on the same store.

Run from the repository root, holding the shared benchmark lock (the report it writes is what
``bench/RESULTS.md`` quotes)::

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.dump --output /tmp/dump.md

For each size (``--entries``, default 1 000 and 100 000) it opens the store the main benchmark
left in ``bench/data/final/synth-{N}-seed1/run/stores/cokg`` (or loads the synthetic knowledge
base into ``bench/data/dump/synth-{N}-seed1/store`` once, when there is none), then runs every
step in its own process, one after the other, on the same store:

- cokg: ``nq``, the store read alone into N-Quads (:func:`cokg.dumps.write_nquads`); ``trig``
  (:func:`cokg.dumps.write_trig_from_store`); ``union``, the one pass that
  :func:`cokg.dumps.write_dumps` makes for N-Quads, N-Triples, Turtle and JSON-LD
  (:func:`cokg.union.write_union`: the store read once, the union of the graphs sorted and
  formatted in a second process meanwhile); ``union-nt``, ``union-ttl``, ``union-jsonld``,
  the same pass asked for that one union file (``write_union(formats=[ext])``: the N-Quads
  go to a scratch file, only that format is made), the like-for-like peer of Oxigraph's
  one-file run; ``all``, the whole :func:`cokg.dumps.write_dumps` (every file plus gzip);
- Oxigraph: ``oxigraph dump --format nq`` and ``--format trig``; for the union of the graphs
  (N-Triples, Turtle, JSON-LD), which ``oxigraph dump`` cannot write, ``oxigraph query
  --union-default-graph`` with ``CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }`` (Oxigraph's
  JSON-LD is expanded, with no ``@context``).

Throughput is statements (quads, or triples of the union) per second of wall time. The union
pass writes four files at once, and each is complete only when the pass ends: each of those
files is counted with the whole pass's time, against Oxigraph's run for that one file; the
pass as a whole is also set against the sum of Oxigraph's four runs; the one-file passes
are set against Oxigraph's run for the same file. Peak RSS is ``VmHWM``,
summed over the worker and its child processes (each process's own peak: an upper bound of
what they held at once). Output files go to a scratch folder under ``bench/data/dump`` and are
removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
BASE = "https://w3id.org/coprod/"
OXIGRAPH = Path(sys.executable).parent / "oxigraph"

UNION_CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
STEPS = ("nq", "trig", "union", "union-nt", "union-ttl", "union-jsonld", "all")
UNION = ("nq", "nt", "ttl", "jsonld")
LABELS = {
    "nq": "N-Quads",
    "trig": "TriG",
    "nt": "N-Triples (sorted union)",
    "ttl": "Turtle (union)",
    "jsonld": "JSON-LD (union)",
    "all": "every dump + gzip (write_dumps)",
}


def store_for(entries: int, seed: int) -> Path:
    """Return an on-disk store of the synthetic knowledge base, loading it once if need be."""
    kept = DATA / "final" / f"synth-{entries}-seed{seed}" / "run" / "stores" / "cokg"
    if kept.is_dir():
        return kept
    folder = DATA / "dump" / f"synth-{entries}-seed{seed}"
    store_dir = folder / "store"
    if (folder / "loaded").is_file():
        return store_dir
    from bench.data import dataset

    kb = dataset(entries, seed, progress=True).kb
    shutil.rmtree(store_dir, ignore_errors=True)
    cokg = Path(sys.executable).parent / "cokg"
    subprocess.run([str(cokg), "load", "--store", str(store_dir), str(kb)], check=True)
    (folder / "loaded").write_text("yes\n", encoding="utf-8")
    return store_dir


def worker(step: str, store_dir: Path, out: Path) -> dict[str, Any]:
    """Run one step in this process; return its time and statement count."""
    from cokg import dumps
    from cokg.store import OxigraphStore

    store = OxigraphStore(store_dir, read_only=True)
    began = time.perf_counter()
    if step == "nq":
        done = dumps.write_nquads(store, out / "cokg.nq")
    elif step == "trig":
        done = dumps.write_trig_from_store(store, out / "cokg.trig", base_iri=BASE, statements=0)
    elif step == "union":
        from cokg.union import write_union

        stages = _Stages()
        logging.getLogger("cokg.dumps").addHandler(stages)
        logging.getLogger("cokg.dumps").setLevel(logging.DEBUG)
        files = write_union(store, out / "union", base_iri=BASE, chunk_lines=dumps.SORT_CHUNK_LINES)
        seconds = time.perf_counter() - began
        return {
            "seconds": seconds,
            "files": {ext: [w.statements, w.byte_size] for ext, w in files.items()},
            "stages": stages.seconds,
        }
    elif step.startswith("union-"):
        from cokg.union import write_union

        ext = step.removeprefix("union-")
        folder = out / step
        folder.mkdir(exist_ok=True)
        files = write_union(
            store, folder, base_iri=BASE, chunk_lines=dumps.SORT_CHUNK_LINES, formats=[ext]
        )
        seconds = time.perf_counter() - began
        done = files[ext]
        return {"seconds": seconds, "statements": done.statements, "bytes": done.byte_size}
    elif step == "all":
        all_files = dumps.write_dumps(store, out / "all", base_iri=BASE)
        seconds = time.perf_counter() - began
        quads = next(f.statements for f in all_files if f.name == "cokg.nq")
        size = sum(f.byte_size for f in all_files)
        return {"seconds": seconds, "statements": quads, "bytes": size}
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "statements": done.statements, "bytes": done.byte_size}


class _Stages(logging.Handler):
    """Collects the times ``write_union`` logs at the end of each stage of the pass."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("union: ") and len(record.args or ()) == 2:
            stage, seconds = cast(tuple[str, float], record.args)
            self.seconds[stage] = seconds


def measure(command: list[str]) -> tuple[float, int, str, float]:
    """Run ``command``; return its wall time, peak RSS in bytes, standard output and CPU time.

    The peak is ``VmHWM`` (reset by ``exec``, unlike ``ru_maxrss``, which would count the
    memory of the parent that forked it), polled every 10 ms for the process and each of
    its descendants, and summed over them: each process's own peak, an upper bound of what
    the tree held at once. The CPU time (user and system) is that of the process and of the
    descendants it waited for.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    peaks: dict[int, int] = {}

    def tree(pid: int) -> list[int]:
        found = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                children = task.read_text().split()
            except OSError:
                continue
            for child in children:
                found += tree(int(child))
        return found

    def poll() -> None:
        while process.poll() is None:
            for pid in tree(process.pid):
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak = int(line.split()[1]) * 1024
                            peaks[pid] = max(peaks.get(pid, 0), peak)
                except (FileNotFoundError, ProcessLookupError, ValueError):
                    continue
            time.sleep(0.01)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - began
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, sum(peaks.values()), output.decode(), cpu


def warm(store_dir: Path) -> None:
    """Read the store's files once, so that no side pays for a cold page cache."""
    for path in store_dir.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def run_size(entries: int, seed: int, keep: bool, *, whole: bool) -> list[dict[str, Any]]:
    """Measure every step and both Oxigraph dumps at one size."""
    store_dir = store_for(entries, seed)
    warm(store_dir)
    out = DATA / "dump" / f"out-{entries}"
    shutil.rmtree(out, ignore_errors=True)
    (out / "union").mkdir(parents=True)
    rows: list[dict[str, Any]] = []
    try:
        for step in STEPS if whole else STEPS[:-1]:
            command = [sys.executable, "-m", "bench.dump", "--worker", step]
            command += ["--store", str(store_dir), "--out", str(out)]
            wall, rss, output, cpu = measure(command)
            result = json.loads(output)
            rows.append(
                {"entries": entries, "who": "cokg", "step": step, "rss": rss, "cpu": cpu, **result}
            )
            print(
                f"{entries} cokg {step}: {result['seconds']:.1f} s, {rss >> 20} MiB",
                file=sys.stderr,
            )
        files = next(r["files"] for r in rows if r["step"] == "union")
        union, quads = files["nt"][0], files["nq"][0]
        for step in ("nq", "trig", "nt", "ttl", "jsonld"):
            target = out / f"oxigraph.{step}"
            if step in ("nq", "trig"):
                command = [str(OXIGRAPH), "dump", "--location", str(store_dir)]
                command += ["--format", step, "--file", str(target)]
            else:  # Oxigraph's way to the union of the graphs: a CONSTRUCT over it
                command = [str(OXIGRAPH), "query", "--location", str(store_dir)]
                command += ["--union-default-graph", "--query", UNION_CONSTRUCT]
                command += ["--results-format", step, "--results-file", str(target)]
            wall, rss, _, cpu = measure(command)
            count = quads if step in ("nq", "trig") else union
            if step in ("nq", "nt"):
                with target.open("rb") as handle:
                    lines = sum(
                        block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")
                    )
                if lines != count:
                    print(
                        f"warning: oxigraph wrote {lines} {step} lines, cokg {count}",
                        file=sys.stderr,
                    )
            rows.append(
                {
                    "entries": entries,
                    "who": "oxigraph",
                    "step": step,
                    "rss": rss,
                    "cpu": cpu,
                    "seconds": wall,
                    "statements": count,
                    "bytes": target.stat().st_size,
                }
            )
            target.unlink()
            print(f"{entries} oxigraph {step}: {wall:.1f} s, {rss >> 20} MiB", file=sys.stderr)
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    return rows


def _row(
    label: str, seconds: float, statements: int, size: int, rss: int, peer: dict[str, Any] | None
) -> str:
    """Return one table row: cokg's figures, then ``peer``'s (Oxigraph's run) and the ratio."""
    rate = statements / seconds if seconds else 0.0
    if peer:
        peer_rate = peer["statements"] / peer["seconds"]
        extra = (
            f"{peer['seconds']:.1f} | {peer_rate:,.0f} | {peer['rss'] / 2**20:.0f} MiB "
            f"| {rate / peer_rate:.2f}×"
        )
    else:
        extra = "— | — | — | —"
    return (
        f"| {label} | {seconds:.1f} | {rate:,.0f} | {size / 1e6:,.1f} MB "
        f"| {rss / 2**20:.0f} MiB | {extra} |"
    )


def report(rows: list[dict[str, Any]], command: str) -> str:
    """Return the Markdown tables of ``rows``."""
    lines = [
        "# Dumps: cokg beside `oxigraph dump`",
        "",
        f"Command: `{command}`",
        "",
        "Each step ran in its own process, one after the other, on the same on-disk store "
        "(read-only). Throughput: statements (quads for N-Quads/TriG, distinct triples of the "
        "union otherwise) per second of wall time. cokg writes N-Quads, N-Triples, Turtle and "
        "JSON-LD in **one pass** (`cokg.union.write_union`, what `write_dumps` runs): the store "
        "is read once, and the union is sorted and formatted in a second process meanwhile. "
        "Each of those four files is complete only when the pass ends, so each is counted "
        "with the whole pass's time (*from the store*), against Oxigraph's run for that file "
        "alone. The rows *alone* are the same pass asked for one union file only "
        "(`write_union(formats=[ext])`: the store still read into N-Quads, in a scratch file, "
        "and only that format made), the like-for-like figure beside Oxigraph's one-file run. "
        "The last row of a table sets the whole pass against the sum of Oxigraph's four runs. "
        "*N-Quads alone* is the store read with nothing else (`write_nquads`). Peak RSS: "
        "`VmHWM`, summed over the process and its children (cokg's pass has two). Oxigraph "
        "peers: `oxigraph dump` for N-Quads and TriG; for the union formats `oxigraph query "
        "--union-default-graph` with `CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }` (its JSON-LD "
        "is expanded, without a context). Oxigraph's times are wall times of the whole process "
        "(start and store opening included); cokg's are measured inside the worker (Python "
        "start-up and imports left out). The ratio is cokg's throughput / Oxigraph's: above "
        "1× cokg is faster.",
        "",
    ]
    for entries in sorted({r["entries"] for r in rows}):
        at = [r for r in rows if r["entries"] == entries]
        ours = {r["step"]: r for r in at if r["who"] == "cokg"}
        theirs = {r["step"]: r for r in at if r["who"] == "oxigraph"}
        passed = ours["union"]
        files = passed["files"]
        lines += [
            f"## {entries:,} entries ({files['nq'][0]:,} quads, {files['nt'][0]:,} triples "
            "in the union)",
            "",
            "| dump | cokg s (from the store) | statements/s | size | peak RSS "
            "| oxigraph s | oxigraph statements/s | oxigraph RSS | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        alone = ours["nq"]
        lines.append(
            _row(
                "N-Quads alone",
                alone["seconds"],
                alone["statements"],
                alone["bytes"],
                alone["rss"],
                theirs.get("nq"),
            )
        )
        trig = ours["trig"]
        quads = files["nq"][0]
        lines.append(
            _row("TriG", trig["seconds"], quads, trig["bytes"], trig["rss"], theirs.get("trig"))
        )
        for ext in UNION:
            label = f"{LABELS[ext]}, in the pass"
            statements, size = files[ext]
            lines.append(
                _row(label, passed["seconds"], statements, size, passed["rss"], theirs.get(ext))
            )
        for ext in UNION[1:]:
            alone_step = ours.get(f"union-{ext}")
            if alone_step:
                lines.append(
                    _row(
                        f"{LABELS[ext]}, alone (a pass for this file only)",
                        alone_step["seconds"],
                        alone_step["statements"],
                        alone_step["bytes"],
                        alone_step["rss"],
                        theirs.get(ext),
                    )
                )
        peers = [theirs[ext] for ext in UNION if ext in theirs]
        total = sum(peer["seconds"] for peer in peers)
        slowest = max((peer["seconds"] for peer in peers), default=0.0)
        size = sum(size for _, size in files.values())
        lines.append(
            f"| the pass: all four files | {passed['seconds']:.1f} | — | {size / 1e6:,.1f} MB "
            f"| {passed['rss'] / 2**20:.0f} MiB | {total:.1f} (sum of the four runs) | — | — "
            f"| {total / passed['seconds']:.2f}× |"
        )
        if "all" in ours:
            whole = ours["all"]
            lines.append(
                _row(
                    LABELS["all"],
                    whole["seconds"],
                    whole["statements"],
                    whole["bytes"],
                    whole["rss"],
                    None,
                )
            )
        lines += [
            "",
            f"The pass took {passed['seconds']:.1f} s; Oxigraph's slowest single run of the "
            f"four took {slowest:.1f} s, their sum {total:.1f} s.",
            "",
        ]
        stages = passed.get("stages", {})
        if {"read", "sorted", "merged", "synced"} <= stages.keys():
            read, done = stages["read"], stages["sorted"]
            merged, synced = stages["merged"], stages["synced"]
            lines += [
                f"Where the pass's time went: reading the store into N-Quads {read:.1f} s "
                f"(the sorter following the file meanwhile); the sorter's last run "
                f"{done - read:.1f} s more; the merge writing the three union files "
                f"{merged - done:.1f} s; flushing them to disk {synced - merged:.1f} s.",
                "",
            ]
        if "cpu" in passed:
            theirs_cpu = ", ".join(
                f"{LABELS[ext].split(' (')[0]} {theirs[ext]['cpu']:.1f} s"
                for ext in UNION
                if "cpu" in theirs.get(ext, {})
            )
            lines += [
                f"CPU time (user + system, whole processes with their start-up): the pass "
                f"{passed['cpu']:.1f} s (the reading "
                f"process and the sorter together), the store read alone "
                f"{alone.get('cpu', 0.0):.1f} s; Oxigraph's runs: {theirs_cpu}. On two shared "
                "cores the pass needs more CPU than any one of Oxigraph's runs, so it loses "
                "more than they do when other work takes a core.",
                "",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", default="1000,100000", help="comma-separated sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the dump files")
    parser.add_argument(
        "--whole-up-to",
        type=int,
        default=10**9,
        help="run the whole write_dumps (every file and gzip) only up to this many entries",
    )
    parser.add_argument("--worker", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.store, args.out)))
        return
    rows: list[dict[str, Any]] = []
    for entries in (int(e) for e in args.entries.split(",")):
        rows += run_size(entries, args.seed, args.keep, whole=entries <= args.whole_up_to)
    command = "flock /tmp/cokg-bench.lock .venv/bin/python -m bench.dump " + " ".join(sys.argv[1:])
    text = report(rows, command.strip())
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
