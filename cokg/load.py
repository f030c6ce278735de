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
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pyoxigraph import DefaultGraph, NamedNode, Quad, Triple, parse
from tqdm import tqdm

from cokg import ids, resources
from cokg.errors import CokgError, IdentifierError, NotFound, ParseError, UnsupportedFormat
from cokg.formats import NTRIPLES, RDF_FORMATS, Format
from cokg.namespaces import COP, COP_ONTOLOGY, DEFAULT_BASE_IRI
from cokg.store import OxigraphStore, WritableStore, parse_quads, position_of

BULK_THRESHOLD = 64 * 1024 * 1024
"""Files larger than this (bytes) go through the streaming bulk loader."""


@dataclass(frozen=True)
class LoadedFile:
    """One file that was loaded: where from, its own graph, how many quads, every graph it fills."""

    path: Path
    graph: str
    quads: int
    graphs: tuple[str, ...] = ()


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


def rebase_iri(value: str, base_iri: str) -> str:
    """Move an IRI under the default base onto ``base_iri``; ontology terms stay put.

    >>> rebase_iri("https://w3id.org/coprod/id/person/x", "http://localhost/")
    'http://localhost/id/person/x'
    >>> rebase_iri("https://w3id.org/coprod/ontology/stage", "http://localhost/")
    'https://w3id.org/coprod/ontology/stage'
    """
    if (
        base_iri == DEFAULT_BASE_IRI
        or not value.startswith(DEFAULT_BASE_IRI)
        or value.startswith(COP)
        or value == COP_ONTOLOGY
    ):
        return value
    return base_iri + value[len(DEFAULT_BASE_IRI) :]


def _rebase_term(term: Any, base_iri: str) -> Any:
    if isinstance(term, NamedNode):
        moved = rebase_iri(term.value, base_iri)
        return term if moved == term.value else NamedNode(moved)
    if isinstance(term, Triple):
        return Triple(
            _rebase_term(term.subject, base_iri),
            _rebase_term(term.predicate, base_iri),
            _rebase_term(term.object, base_iri),
        )
    return term


def rebase_stream(quads: Iterable[Quad], base_iri: str) -> Iterator[Quad]:
    """Yield ``quads`` with their IRIs moved by :func:`rebase_iri` (streaming)."""
    if base_iri == DEFAULT_BASE_IRI:
        yield from quads
        return
    for q in quads:
        yield Quad(
            _rebase_term(q.subject, base_iri),
            _rebase_term(q.predicate, base_iri),
            _rebase_term(q.object, base_iri),
            _rebase_term(q.graph_name, base_iri),
        )


def rebase(quads: Iterable[Quad], base_iri: str) -> list[Quad]:
    """Return ``quads`` with their IRIs moved by :func:`rebase_iri`."""
    return list(rebase_stream(quads, base_iri))


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


IDENTIFIER_CHECKS: tuple[tuple[str, tuple[str, ...], Callable[[str], str]], ...] = (
    ("ORCID", ("https://orcid.org/", "http://orcid.org/"), ids.orcid),
    ("ROR", ("https://ror.org/", "http://ror.org/"), ids.ror),
    (
        "DOI",
        ("https://doi.org/", "http://doi.org/", "http://dx.doi.org/", "https://dx.doi.org/"),
        ids.doi,
    ),
    (
        "Wikidata",
        ("http://www.wikidata.org/entity/", "https://www.wikidata.org/entity/"),
        ids.wikidata,
    ),
)


_IDENTIFIER_PREFIXES = tuple(prefix for _, prefixes, _ in IDENTIFIER_CHECKS for prefix in prefixes)


def check_identifiers(quads: Iterable[Quad], *, source: str, text: bytes | None = None) -> None:
    """Raise :class:`~cokg.errors.IdentifierError` for an ORCID, ROR, DOI or Wikidata IRI
    that is malformed, fails its checksum or is not in its canonical form.

    The message names ``source`` and, when ``text`` (the file's bytes) is given, the line
    and column where the IRI first appears.
    """
    for quad in quads:
        for term in (quad.subject, quad.object):
            if not isinstance(term, NamedNode):
                continue
            value = term.value
            if not value.startswith(_IDENTIFIER_PREFIXES):  # the common case, checked once
                continue
            for kind, prefixes, canonical in IDENTIFIER_CHECKS:
                if not value.startswith(prefixes):
                    continue
                try:
                    expected = canonical(term.value)
                except IdentifierError as e:
                    raise IdentifierError(
                        e.kind, e.value, _where(source, text, e.value) + e.reason
                    ) from e
                if expected != term.value:
                    reason = f"not in canonical form; write <{expected}>"
                    raise IdentifierError(
                        kind, term.value, _where(source, text, term.value) + reason
                    )


def _where(source: str, text: bytes | None, value: str) -> str:
    if text is not None:
        for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
            column = line.find(value)
            if column >= 0:
                return f"{source}:{number}:{column + 1}: "
    return f"{source}: "


def parse_files(
    files: Sequence[tuple[Path, PurePosixPath]],
    *,
    base_iri: str = DEFAULT_BASE_IRI,
    check_ids: bool = True,
) -> list[tuple[LoadedFile, list[Quad]]]:
    """Parse every file into quads (nothing written).

    Raises :class:`~cokg.errors.ParseError`, and :class:`~cokg.errors.IdentifierError` for
    a bad ORCID / ROR / DOI / Wikidata IRI unless ``check_ids`` is false.
    """
    parsed = []
    for path, relative in files:
        fmt = format_of(path)
        graph = graph_iri(relative.as_posix(), base_iri=base_iri)
        raw = _read(path)
        quads = parse_quads(raw, fmt, graph=graph, base_iri=base_iri, source=str(path))
        if check_ids:
            check_identifiers(quads, source=str(path), text=raw)
        quads = rebase(quads, base_iri)
        graphs = tuple(
            sorted({q.graph_name.value for q in quads if isinstance(q.graph_name, NamedNode)})
        )
        parsed.append((LoadedFile(path, graph, len(quads), graphs), quads))
    return parsed


def _write(store: WritableStore, graphs: Sequence[str], quads: list[Quad]) -> None:
    if isinstance(store, OxigraphStore):
        store.replace_graphs_quads(graphs, quads)
        return
    lines: dict[str, list[str]] = {graph: [] for graph in graphs}
    for q in quads:  # one pass, whatever the number of graphs
        if isinstance(q.graph_name, NamedNode) and q.graph_name.value in lines:
            lines[q.graph_name.value].append(f"{q.subject} {q.predicate} {q.object} .\n")
    for graph, triples in lines.items():
        store.replace_graph(graph, "".join(triples).encode(), NTRIPLES)


def load_files(
    store: WritableStore,
    paths: Sequence[str | Path],
    *,
    base_iri: str = DEFAULT_BASE_IRI,
    progress: bool = False,
    bulk_threshold: int = BULK_THRESHOLD,
    check_ids: bool = True,
) -> LoadSummary:
    """Load files and folders into ``store``, replacing each graph a file holds.

    Every file is parsed first: if any fails, nothing is written and the
    :class:`~cokg.errors.ParseError` names the file, line and column. Files larger than
    ``bulk_threshold`` bytes are checked and then loaded streaming (memory does not grow
    with the file), through Oxigraph's bulk loader when the store is an Oxigraph store.
    """
    prepared = prepare_load(
        paths,
        base_iri=base_iri,
        progress=progress,
        bulk_threshold=bulk_threshold,
        check_ids=check_ids,
    )
    return prepared.write(store)


@dataclass(frozen=True)
class PreparedLoad:
    """Files parsed and checked, ready to be written: nothing has touched a store yet."""

    parsed: tuple[tuple[LoadedFile, list[Quad]], ...]
    large: tuple[LoadedFile, ...]
    base_iri: str
    progress: bool

    def write(self, store: WritableStore) -> LoadSummary:
        """Write every file into ``store``, each file's graphs replaced in one transaction."""
        loaded = []
        for item, quads in tqdm(
            self.parsed, desc="loading", unit="file", disable=not self.progress
        ):
            _write(store, item.graphs, quads)
            loaded.append(item)
        for item in self.large:
            if isinstance(store, OxigraphStore):
                _bulk_write(store, item, base_iri=self.base_iri)
            else:
                with tqdm(disable=True) as bar:
                    stream = _stream_quads(item.path, item.graph, base_iri=self.base_iri, bar=bar)
                    _write(store, item.graphs, list(rebase_stream(stream, self.base_iri)))
            loaded.append(item)
        return LoadSummary(tuple(loaded))


def prepare_load(
    paths: Sequence[str | Path] | None = None,
    *,
    files: Sequence[tuple[Path, PurePosixPath]] | None = None,
    base_iri: str = DEFAULT_BASE_IRI,
    progress: bool = False,
    bulk_threshold: int = BULK_THRESHOLD,
    check_ids: bool = True,
) -> PreparedLoad:
    """Parse (small files) or check by streaming (large files) everything to load.

    Give ``paths`` (files and folders) or ``files`` (from :func:`collect_files` or
    :func:`knowledge_base_files`). Raises :class:`~cokg.errors.ParseError` and friends;
    nothing is written.
    """
    chosen = list(files) if files is not None else collect_files(paths or [])
    small = [f for f in chosen if f[0].stat().st_size <= bulk_threshold]
    large = [f for f in chosen if f[0].stat().st_size > bulk_threshold]
    return PreparedLoad(
        parsed=tuple(parse_files(small, base_iri=base_iri, check_ids=check_ids)),
        large=tuple(
            _check_large(path, rel, base_iri=base_iri, progress=progress, check_ids=check_ids)
            for path, rel in large
        ),
        base_iri=base_iri,
        progress=progress,
    )


class _Progress(io.RawIOBase):
    """A binary reader that advances a progress bar as bytes are read."""

    def __init__(self, raw: IO[bytes], bar: Any) -> None:
        self._raw = raw
        self._bar = bar

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._bar.update(len(data))
        return len(data)


def _open_stream(path: Path, bar: Any) -> IO[bytes]:
    # The reader returned owns the file and closes it.
    raw: Any = gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")  # noqa: SIM115
    return io.BufferedReader(_Progress(raw, bar), buffer_size=1 << 20)


def _stream_quads(path: Path, graph: str, *, base_iri: str, bar: Any) -> Iterator[Quad]:
    fmt = format_of(path)
    target = NamedNode(graph)
    with _open_stream(path, bar) as stream:
        try:
            for quad in parse(stream, fmt.oxigraph, base_iri=base_iri):
                if isinstance(quad.graph_name, DefaultGraph):
                    quad = Quad(quad.subject, quad.predicate, quad.object, target)
                yield quad
        except SyntaxError as e:
            line, column = position_of(str(e))
            raise ParseError(str(e), source=str(path), line=line, column=column) from e


def _check_large(
    path: Path, relative: PurePosixPath, *, base_iri: str, progress: bool, check_ids: bool
) -> LoadedFile:
    graph = graph_iri(relative.as_posix(), base_iri=base_iri)
    graphs: set[str] = set()
    count = 0
    with tqdm(
        total=path.stat().st_size,
        desc=f"checking {path.name}",
        unit="B",
        unit_scale=True,
        disable=not progress,
    ) as bar:
        for quad in _stream_quads(path, graph, base_iri=base_iri, bar=bar):
            count += 1
            if check_ids:
                check_identifiers((quad,), source=str(path))
            if isinstance(quad.graph_name, NamedNode):
                graphs.add(quad.graph_name.value)
    moved = {rebase_iri(g, base_iri) for g in graphs}
    return LoadedFile(path, graph, count, tuple(sorted(moved)))


def _bulk_write(store: OxigraphStore, item: LoadedFile, *, base_iri: str) -> None:
    for graph in item.graphs:
        if store.oxigraph.contains_named_graph(NamedNode(graph)):
            store.oxigraph.remove_graph(NamedNode(graph))
    fmt = format_of(item.path)
    try:
        if base_iri == DEFAULT_BASE_IRI and not item.path.name.endswith(".gz"):
            store.oxigraph.bulk_load(
                path=str(item.path),
                format=fmt.oxigraph,
                base_iri=base_iri,
                to_graph=NamedNode(item.graph),
            )
        else:
            with tqdm(disable=True) as bar:
                quads = _stream_quads(item.path, item.graph, base_iri=base_iri, bar=bar)
                store.oxigraph.bulk_extend(rebase_stream(quads, base_iri))
    except OSError as e:
        raise CokgError(f"{item.path}: the store failed to write: {e}") from e
    store.flush()


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
    prepared = prepare_load(files=knowledge_base_files(), base_iri=base_iri, progress=progress)
    return prepared.write(store)


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
