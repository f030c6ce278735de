"""Loading RDF files and folders into a store, one named graph per file.

The graph name of a file is derived from its path relative to the folder it was found in:
``{base}graph/{relative path without extension}`` — ``data/entries/imagine.ttl`` loaded from
``data/`` goes to ``https://w3id.org/coprod/graph/entries/imagine``. Quads that a TriG or
N-Quads file puts in a named graph keep their graph.

Every file is parsed before anything is written, so a broken file loads nothing.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pyoxigraph import NamedNode, Quad, Triple
from tqdm import tqdm

from cokg import resources
from cokg.errors import CokgError, NotFound, UnsupportedFormat
from cokg.formats import RDF_FORMATS, Format
from cokg.namespaces import COP, COP_ONTOLOGY, DEFAULT_BASE_IRI
from cokg.store import OxigraphStore, WritableStore, parse_quads

ONTOLOGY_GRAPH_PREFIX = "graph/ontology/"


@dataclass(frozen=True)
class LoadedFile:
    """One file that was loaded: where from, into which graph(s), how many quads."""

    path: Path
    graph: str
    quads: int


@dataclass(frozen=True)
class LoadSummary:
    """What a load did."""

    files: tuple[LoadedFile, ...]

    @property
    def quads(self) -> int:
        """The number of quads loaded."""
        return sum(f.quads for f in self.files)


def graph_iri(relative: str | PurePosixPath, *, base_iri: str = DEFAULT_BASE_IRI) -> str:
    """Return the graph IRI for a file path relative to its folder.

    >>> graph_iri("entries/imagine.ttl")
    'https://w3id.org/coprod/graph/entries/imagine'
    >>> graph_iri("people.nt.gz", base_iri="http://localhost/kb/")
    'http://localhost/kb/graph/people'
    """
    path = PurePosixPath(relative)
    name = path.name
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    stem = name.split(".", 1)[0] if "." in name else name
    parts = [*path.parent.parts, stem] if str(path.parent) != "." else [stem]
    return base_iri + "graph/" + "/".join(parts)


def format_of(path: Path) -> Format:
    """Return the RDF format of ``path`` from its extension, looking through ``.gz``.

    Raises :class:`~cokg.errors.UnsupportedFormat` naming the file.

    >>> format_of(Path("people.nt.gz")).name
    'ntriples'
    """
    name = path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name
    try:
        return RDF_FORMATS.by_path(PurePosixPath(name))
    except UnsupportedFormat as e:
        raise UnsupportedFormat(f"{path}: {str(e).split(': ', 1)[-1]}") from None


def _read(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise NotFound(f"{path}: no such file") from e
    except OSError as e:
        raise CokgError(f"{path}: cannot read: {e}") from e
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(raw)
        except OSError as e:
            raise CokgError(f"{path}: not a valid gzip file: {e}") from e
    return raw


def rebase(quads: Iterable[Quad], base_iri: str) -> list[Quad]:
    """Move IRIs under the default base onto ``base_iri`` (ontology terms stay put).

    >>> q = Quad(NamedNode("https://w3id.org/coprod/id/person/x"), NamedNode("http://p"), NamedNode("https://w3id.org/coprod/ontology/stage"))
    >>> [str(x) for x in rebase([q], "http://localhost/")[0]][:3]
    ['<http://localhost/id/person/x>', '<http://p>', '<https://w3id.org/coprod/ontology/stage>']
    """
    if base_iri == DEFAULT_BASE_IRI:
        return list(quads)

    def move(term: object) -> object:
        if isinstance(term, NamedNode):
            value = term.value
            if (
                value.startswith(DEFAULT_BASE_IRI)
                and not value.startswith(COP)
                and value != COP_ONTOLOGY
            ):
                return NamedNode(base_iri + value[len(DEFAULT_BASE_IRI) :])
        if isinstance(term, Triple):
            return Triple(move(term.subject), move(term.predicate), move(term.object))  # type: ignore[arg-type]
        return term

    return [
        Quad(move(q.subject), move(q.predicate), move(q.object), move(q.graph_name))  # type: ignore[arg-type]
        for q in quads
    ]


def collect_files(paths: Sequence[str | Path]) -> list[tuple[Path, PurePosixPath]]:
    """Expand files and folders into ``(file, path relative to its root)`` pairs, sorted.

    A folder contributes every RDF file below it (hidden files skipped); a file given
    directly is relative to its own folder. Raises for a missing path or an unknown extension.
    """
    found: list[tuple[Path, PurePosixPath]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.parts):
                    try:
                        format_of(child)
                    except UnsupportedFormat:
                        continue
                    found.append((child, PurePosixPath(child.relative_to(path).as_posix())))
        elif path.is_file():
            format_of(path)
            found.append((path, PurePosixPath(path.name)))
        else:
            raise NotFound(f"{path}: no such file or folder")
    return found


def parse_files(
    files: Sequence[tuple[Path, PurePosixPath]],
    *,
    base_iri: str = DEFAULT_BASE_IRI,
    graph_prefix: str = "",
) -> list[tuple[LoadedFile, list[Quad]]]:
    """Parse every file into quads (nothing written). Raises :class:`~cokg.errors.ParseError`."""
    parsed = []
    for path, relative in files:
        fmt = format_of(path)
        graph = graph_iri(graph_prefix + relative.as_posix(), base_iri=base_iri)
        quads = parse_quads(_read(path), fmt, graph=graph, base_iri=base_iri, source=str(path))
        quads = rebase(quads, base_iri)
        parsed.append((LoadedFile(path, graph, len(quads)), quads))
    return parsed


def _write(store: WritableStore, graph: str, quads: list[Quad]) -> None:
    if isinstance(store, OxigraphStore):
        store.replace_graph_quads(graph, quads)
        return
    from cokg.formats import NQUADS

    lines = [f"{q.subject} {q.predicate} {q.object} {q.graph_name} .\n" for q in quads]
    store.replace_graph(graph, "".join(lines).encode(), NQUADS)


def load_files(
    store: WritableStore,
    paths: Sequence[str | Path],
    *,
    base_iri: str = DEFAULT_BASE_IRI,
    progress: bool = False,
) -> LoadSummary:
    """Load files and folders into ``store``, replacing each file's graph.

    Every file is parsed first: if any fails, nothing is written and the
    :class:`~cokg.errors.ParseError` names the file, line and column.
    """
    return _load(store, collect_files(paths), base_iri=base_iri, progress=progress)


def _load(
    store: WritableStore,
    files: Sequence[tuple[Path, PurePosixPath]],
    *,
    base_iri: str,
    progress: bool,
    graph_prefix: str = "",
) -> LoadSummary:
    parsed = parse_files(files, base_iri=base_iri, graph_prefix=graph_prefix)
    loaded = []
    for item, quads in tqdm(parsed, desc="loading", unit="file", disable=not progress):
        _write(store, item.graph, quads)
        loaded.append(item)
    return LoadSummary(tuple(loaded))


def knowledge_base_files() -> list[tuple[Path, PurePosixPath]]:
    """Return the shipped knowledge base as ``(file, graph-relative path)`` pairs.

    The ontology goes to ``graph/ontology/…``; data files to ``graph/{path under data/}``.
    """
    pairs = [
        (p, PurePosixPath("ontology") / p.name)
        for p in sorted(resources.ONTOLOGY_DIR.glob("*.ttl"))
    ]
    for path, relative in collect_files([resources.DATA_DIR]):
        pairs.append((path, relative))
    return pairs


def load_knowledge_base(
    store: WritableStore, *, base_iri: str = DEFAULT_BASE_IRI, progress: bool = False
) -> LoadSummary:
    """Load the shipped ontology, vocabularies and entries into ``store``."""
    return _load(store, knowledge_base_files(), base_iri=base_iri, progress=progress)


def knowledge_base_fingerprint(*, base_iri: str = DEFAULT_BASE_IRI) -> str:
    """Return a SHA-256 over the shipped files and the base IRI.

    A store loaded from the shipped data records it; when it differs, the data changed and
    the store is reloaded.
    """
    digest = hashlib.sha256(base_iri.encode())
    for path, relative in knowledge_base_files():
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def open_knowledge_base(*, base_iri: str = DEFAULT_BASE_IRI) -> OxigraphStore:
    """Return a new in-memory store holding the shipped knowledge base."""
    store = OxigraphStore()
    load_knowledge_base(store, base_iri=base_iri)
    return store
