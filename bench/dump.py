"""Dump throughput and peak memory: cokg's dumps beside ``oxigraph dump`` on the same store.

Run from the repository root, holding the shared benchmark lock (the report it writes is what
``bench/RESULTS.md`` quotes)::

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.dump --output /tmp/dump.md

For each size (``--entries``, default 1 000 and 100 000) it opens the store the main benchmark
left in ``bench/data/final/synth-{N}-seed1/run/stores/cokg`` (or loads the synthetic knowledge
base into ``bench/data/dump/synth-{N}-seed1/store`` once, when there is none), then runs every
step in its own process, one after the other, on the same store:

- cokg: N-Quads and TriG from the store (:func:`cokg.dumps.write_nquads`,
  :func:`cokg.dumps.write_trig_from_store`), the sorted,
  deduplicated union in N-Triples (:func:`cokg.dumps.write_sorted_union`), Turtle and JSON-LD
  from the union, and the whole :func:`cokg.dumps.write_dumps` (every file plus gzip);
- Oxigraph: ``oxigraph dump --format nq`` and ``--format trig``; for the union of the graphs
  (N-Triples, Turtle, JSON-LD), which ``oxigraph dump`` cannot write, ``oxigraph query
  --union-default-graph`` with ``CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }`` (Oxigraph's
  JSON-LD is expanded, with no ``@context``).

Throughput is statements (quads, or triples of the union) per second of wall time; "from the
store" adds the steps a file depends on (Turtle needs N-Quads, then the union). Peak RSS is the
process's ``VmHWM``. Output files go to a scratch folder under ``bench/data/dump``
and are removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
BASE = "https://w3id.org/coprod/"
OXIGRAPH = Path(sys.executable).parent / "oxigraph"

UNION_CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
STEPS = ("nq", "trig", "nt", "ttl", "jsonld", "all")
DEPENDS = {"nq": (), "trig": (), "nt": ("nq",), "ttl": ("nq", "nt"), "jsonld": ("nq", "nt")}
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
        (out / "nq.json").write_text(json.dumps({"statements": done.statements}), encoding="utf-8")
    elif step == "trig":
        quads = json.loads((out / "nq.json").read_text(encoding="utf-8"))["statements"]
        done = dumps.write_trig_from_store(
            store, out / "cokg.trig", base_iri=BASE, statements=quads
        )
    elif step == "nt":
        done = dumps.write_sorted_union(out / "cokg.nq", out / "cokg.nt")
    elif step == "ttl":
        done = dumps.write_turtle(out / "cokg.nt", out / "cokg.ttl", base_iri=BASE)
    elif step == "jsonld":
        done = dumps.write_jsonld(out / "cokg.nt", out / "cokg.jsonld")
    elif step == "all":
        files = dumps.write_dumps(store, out / "all", base_iri=BASE)
        seconds = time.perf_counter() - began
        quads = next(f.statements for f in files if f.name == "cokg.nq")
        size = sum(f.byte_size for f in files)
        return {"seconds": seconds, "statements": quads, "bytes": size}
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "statements": done.statements, "bytes": done.byte_size}


def measure(command: list[str]) -> tuple[float, int, str]:
    """Run ``command``; return its wall time, peak RSS in bytes and its standard output.

    The peak is the child's ``VmHWM``, polled every 10 ms (it is reset by ``exec``, unlike
    ``ru_maxrss``, which would count the memory of the parent that forked it).
    """
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    peak = 0
    status = Path(f"/proc/{process.pid}/status")

    def poll() -> None:
        nonlocal peak
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - began
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
    return seconds, peak, output.decode()


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
    out.mkdir(parents=True)
    rows: list[dict[str, Any]] = []
    try:
        for step in STEPS if whole else STEPS[:-1]:
            command = [sys.executable, "-m", "bench.dump", "--worker", step]
            command += ["--store", str(store_dir), "--out", str(out)]
            wall, rss, output = measure(command)
            result = json.loads(output)
            rows.append({"entries": entries, "who": "cokg", "step": step, "rss": rss, **result})
            print(
                f"{entries} cokg {step}: {result['seconds']:.1f} s, {rss >> 20} MiB",
                file=sys.stderr,
            )
        union = next(r["statements"] for r in rows if r["step"] == "nt")
        quads = next(r["statements"] for r in rows if r["step"] == "nq")
        for step in ("nq", "trig", "nt", "ttl", "jsonld"):
            target = out / f"oxigraph.{step}"
            if step in ("nq", "trig"):
                command = [str(OXIGRAPH), "dump", "--location", str(store_dir)]
                command += ["--format", step, "--file", str(target)]
            else:  # Oxigraph's way to the union of the graphs: a CONSTRUCT over it
                command = [str(OXIGRAPH), "query", "--location", str(store_dir)]
                command += ["--union-default-graph", "--query", UNION_CONSTRUCT]
                command += ["--results-format", step, "--results-file", str(target)]
            wall, rss, _ = measure(command)
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


def report(rows: list[dict[str, Any]], command: str) -> str:
    """Return the Markdown tables of ``rows``."""
    lines = [
        "# Dumps: cokg beside `oxigraph dump`",
        "",
        f"Command: `{command}`",
        "",
        "Each step ran in its own process, one after the other, on the same on-disk store "
        "(read-only). Throughput: statements (quads for N-Quads/TriG, distinct triples of the "
        "union otherwise) per second of wall time. *From the store* adds the steps a file "
        "needs (Turtle and JSON-LD: N-Quads, then the sorted union). Peak RSS: `VmHWM` of "
        "the process. Oxigraph peers: `oxigraph dump` for N-Quads and TriG; for the union "
        "formats `oxigraph query --union-default-graph` with `CONSTRUCT { ?s ?p ?o } WHERE "
        "{ ?s ?p ?o }` (its JSON-LD is expanded, without a context). Oxigraph's times are "
        "wall times of the whole process (start and store opening included); cokg's are "
        "measured inside the worker (Python start-up and imports left out). The ratio is "
        "cokg's throughput from the store / Oxigraph's: above 1× cokg is faster.",
        "",
    ]
    for entries in sorted({r["entries"] for r in rows}):
        at = [r for r in rows if r["entries"] == entries]
        ours = {r["step"]: r for r in at if r["who"] == "cokg"}
        theirs = {r["step"]: r for r in at if r["who"] == "oxigraph"}
        lines += [
            f"## {entries:,} entries ({ours['nq']['statements']:,} quads)",
            "",
            "| dump | step s | from the store s | statements/s (from store) | size | peak RSS "
            "| oxigraph dump s | oxigraph statements/s | oxigraph RSS | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for step in STEPS:
            if step not in ours:
                continue
            row = ours[step]
            total = row["seconds"] + sum(ours[d]["seconds"] for d in DEPENDS.get(step, ()))
            rate = row["statements"] / total if total else 0.0
            peer = theirs.get(step)
            if peer:
                peer_rate = peer["statements"] / peer["seconds"]
                extra = (
                    f"{peer['seconds']:.1f} | {peer_rate:,.0f} | {peer['rss'] / 2**20:.0f} MiB "
                    f"| {rate / peer_rate:.2f}×"
                )
            else:
                extra = "— | — | — | —"
            lines.append(
                f"| {LABELS[step]} | {row['seconds']:.1f} | {total:.1f} | {rate:,.0f} "
                f"| {row['bytes'] / 1e6:,.1f} MB | {row['rss'] / 2**20:.0f} MiB | {extra} |"
            )
        lines.append("")
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
