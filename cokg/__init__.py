"""cokg — the co-production knowledge graph.

A library for publishing the co-production knowledge base as linked data: the store
(:mod:`cokg.store`), loading (:mod:`cokg.load`), validation (:mod:`cokg.validate`), export
(:mod:`cokg.export`), identifiers (:mod:`cokg.ids`) and the command line (:mod:`cokg.cli`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cokg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
