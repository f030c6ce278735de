"""Where the shipped ontology, shapes, knowledge base and queries live on disk.

They ship inside the package (``cokg.ontology``, ``cokg.shapes``, ``cokg.data``,
``cokg.queries``), so these paths work after a plain ``pip install`` from any directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_dir(name: str) -> Path:
    return Path(str(files(name)))


ONTOLOGY_DIR: Path = _package_dir("cokg.ontology")
SHAPES_DIR: Path = _package_dir("cokg.shapes")
DATA_DIR: Path = _package_dir("cokg.data")
QUERIES_DIR: Path = _package_dir("cokg.queries")


def knowledge_base_files() -> list[Path]:
    """Return every file of the shipped knowledge base: the ontology first, then the data.

    The order is stable (sorted by path) so loads and fingerprints are reproducible.
    """
    ontology = sorted(ONTOLOGY_DIR.glob("*.ttl"))
    data = sorted(p for p in DATA_DIR.rglob("*.ttl") if p.is_file())
    return ontology + data
