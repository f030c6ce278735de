"""The benchmark's data: a synthetic knowledge base per (size, seed), generated once and cached.

A cached folder is reused only when its manifest says it was written by the same generator
(a hash of ``cokg/synth.py`` and the shipped files it copies) for the same size and seed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cokg import resources, synth

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Dataset:
    """A synthetic knowledge base on disk: ``kb`` is the folder to load."""

    folder: Path
    entries: int
    seed: int
    triples: int
    bytes: int
    synth_seconds: float
    reused: bool

    @property
    def kb(self) -> Path:
        """The knowledge-base folder (what ``cokg load`` and ``cokg validate`` are given)."""
        return self.folder / "kb"


def _fingerprint() -> str:
    digest = hashlib.sha256(Path(synth.__file__).read_bytes())
    for path in sorted(resources.DATA_DIR.glob("vocabularies/*.ttl")):
        digest.update(path.read_bytes())
    digest.update((resources.ONTOLOGY_DIR / "cop.ttl").read_bytes())
    return digest.hexdigest()[:16]


def dataset(entries: int, seed: int, *, root: Path = DATA_DIR, progress: bool = False) -> Dataset:
    """Return the cached synthetic knowledge base of ``entries`` entries, writing it if needed."""
    folder = root / f"synth-{entries}-seed{seed}"
    manifest = folder / "synth.json"
    fingerprint = _fingerprint()
    if manifest.is_file():
        saved = json.loads(manifest.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint:
            return Dataset(
                folder=folder,
                entries=entries,
                seed=seed,
                triples=saved["triples"],
                bytes=saved["bytes"],
                synth_seconds=saved["synth_seconds"],
                reused=True,
            )
    shutil.rmtree(folder / "kb", ignore_errors=True)
    manifest.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = synth.write_synthetic(folder / "kb", entries=entries, seed=seed, progress=progress)
    found = Dataset(
        folder=folder,
        entries=entries,
        seed=seed,
        triples=summary.triples,
        bytes=summary.bytes,
        synth_seconds=time.perf_counter() - start,
        reused=False,
    )
    record = {k: v for k, v in asdict(found).items() if k not in ("folder", "reused")}
    manifest.write_text(
        json.dumps({**record, "fingerprint": fingerprint, "summary": str(summary)}, indent=2),
        encoding="utf-8",
    )
    return found
