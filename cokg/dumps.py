"""Dumps: the whole knowledge graph as downloadable files, built in constant memory.

:func:`write_dumps` writes the knowledge graph in N-Quads and TriG (the named graphs kept),
N-Triples, Turtle and JSON-LD (the union of the graphs, each triple once), the ontology and the
vocabularies on their own in Turtle, and a gzip copy of each file. Every file is streamed: the
N-Quads dump is read from the store once, and the other files are derived from it on disk; the
union is sorted and deduplicated with an external merge sort in chunks of bounded size, so
memory does not grow with the size of the graph. The SHA-256 and the size of every file are
computed while it is written; each file is written under a temporary name and then renamed.

The bytes depend only on the store's content: the union formats are sorted, and gzip writes no
time stamp and no file name. The JSON-LD dump is compacted with the project's ``@context``
(:data:`cokg.describe.CONTEXT`, also served at ``/context.jsonld``), written inline so that the
file can be read offline.

:class:`DumpCache` keeps one set of dumps in a folder for the web app: built when first asked
for, rebuilt when the store changed, and kept across restarts by a manifest.

>>> import tempfile
>>> from cokg.store import OxigraphStore
>>> store = OxigraphStore()
>>> store.update('INSERT DATA { GRAPH <http://e.org/g> { <http://e.org/s> <http://e.org/p> "o" } }')
>>> with tempfile.TemporaryDirectory() as folder:
...     files = write_dumps(store, Path(folder), base_iri="http://e.org/")
...     [(f.name, f.statements) for f in files if f.name.startswith("cokg.n")]
[('cokg.nt', 1), ('cokg.nt.gz', 1), ('cokg.nq', 1), ('cokg.nq.gz', 1)]
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import heapq
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from pyoxigraph import BlankNode, Literal, NamedNode, Triple, parse, serialize

from cokg import __version__
from cokg.describe import CONTEXT, prefixes_for
from cokg.errors import CokgError, NotFound
from cokg.formats import JSONLD, NQUADS, NTRIPLES, TRIG, TURTLE, Format
from cokg.namespaces import PREFIXES, RDF, XSD
from cokg.search import store_fingerprint
from cokg.store import ReadableStore

MANIFEST = "manifest.json"
"""The file beside the dumps that lists them (name, size, SHA-256, statements)."""

GZIP_LEVEL = 6
"""zlib's default level: a good balance of size and time for multi-gigabyte dumps."""

SORT_CHUNK_LINES = 200_000
"""Lines sorted in memory at a time when the union is built (an upper bound on memory)."""

_BUFFER = 1 << 20


@dataclass(frozen=True)
class DumpFile:
    """One downloadable file: what it holds, its exact size and SHA-256."""

    name: str
    """The file name under ``/dumps/``, e.g. ``cokg.ttl``, ``cokg.ttl.gz``, ``ontology.ttl``."""
    title: str
    """A human title, e.g. "Whole knowledge graph, Turtle, gzip"."""
    media_type: str
    """The media type of the decoded content, e.g. ``text/turtle``."""
    compressed: bool
    """True for ``.gz`` files (served as ``application/gzip``)."""
    byte_size: int
    """The exact number of bytes served."""
    sha256: str
    """The hex SHA-256 of the exact bytes served."""
    statements: int
    """Triples in it (quads for N-Quads and TriG)."""
    modified: datetime
    """When (UTC) the store version it came from was seen, i.e. when the dump was built."""

    @property
    def format_label(self) -> str:
        """The RDF format's name, with ", gzip" for compressed files (for listings)."""
        label = _LABELS.get(self.media_type, self.media_type)
        return f"{label}, gzip" if self.compressed else label

    def to_json(self) -> dict[str, Any]:
        """Return the file as a JSON object (the manifest's and the listing's entries)."""
        return {
            "name": self.name,
            "title": self.title,
            "mediaType": self.media_type,
            "compressed": self.compressed,
            "byteSize": self.byte_size,
            "sha256": self.sha256,
            "statements": self.statements,
            "modified": self.modified.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DumpFile:
        """Return the file a :meth:`to_json` object describes (raises KeyError, ValueError)."""
        return cls(
            name=str(data["name"]),
            title=str(data["title"]),
            media_type=str(data["mediaType"]),
            compressed=bool(data["compressed"]),
            byte_size=int(data["byteSize"]),
            sha256=str(data["sha256"]),
            statements=int(data["statements"]),
            modified=datetime.fromisoformat(str(data["modified"])),
        )


_LABELS = {fmt.media_type: fmt.label for fmt in (TURTLE, NTRIPLES, NQUADS, TRIG, JSONLD)}

WHOLE = "cokg"
"""The stem of the whole-graph dumps (``cokg.ttl``, ``cokg.nq``…)."""

_WHOLE_FORMATS = (TURTLE, NTRIPLES, NQUADS, TRIG, JSONLD)
_PARTS = {
    "ontology": ("The ontology", "graph/ontology/"),
    "vocabularies": ("The vocabularies (SKOS concept schemes)", "graph/vocabularies/"),
}


def dump_names() -> list[str]:
    """Return the names of every file :func:`write_dumps` writes, in listing order.

    >>> dump_names()[:3]
    ['cokg.ttl', 'cokg.ttl.gz', 'cokg.nt']
    """
    plain = [f"{WHOLE}.{fmt.extension}" for fmt in _WHOLE_FORMATS]
    plain += [f"{part}.{TURTLE.extension}" for part in _PARTS]
    return [name for stem in plain for name in (stem, stem + ".gz")]


class _Sink:
    """A binary file written under a temporary name, hashed and measured as it is written.

    :meth:`commit` renames it into place; leaving the ``with`` block without a commit
    removes it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.part-{os.getpid()}")
        self.digest = hashlib.sha256()
        self.size = 0
        self.newlines = 0
        self._file: IO[bytes] = self.partial.open("wb")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self._file.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        return len(chunk)

    def flush(self) -> None:
        self._file.flush()

    @property
    def stream(self) -> IO[bytes]:
        """This sink, typed as the binary stream the serialisers take."""
        return cast(IO[bytes], self)

    def commit(self) -> None:
        """Flush to disk and rename the file into place (atomically)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                self.partial.unlink()


@dataclass(frozen=True)
class _Written:
    name: str
    title: str
    fmt: Format
    size: int
    sha256: str
    statements: int


def _finish(sink: _Sink, name: str, title: str, fmt: Format, statements: int) -> _Written:
    sink.commit()
    return _Written(name, title, fmt, sink.size, sink.digest.hexdigest(), statements)


def write_nquads(store: ReadableStore, path: Path) -> int:
    """Write every quad of ``store`` to ``path`` in N-Quads; return the number of quads.

    Streams from the store (:meth:`~cokg.store.ReadableStore.dump`).
    """
    with _Sink(path) as sink:
        store.dump(sink.stream, NQUADS)
        count = sink.newlines
        sink.commit()
    return count


def _read_quads(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        yield from parse(handle, NQUADS.oxigraph)


def write_sorted_union(nquads: Path, path: Path, *, graph_prefix: str | None = None) -> int:
    """Write the union of the graphs of the N-Quads file ``nquads`` to ``path`` in N-Triples.

    Each triple once, lines sorted (so a subject's triples are together); only the graphs
    whose IRI starts with ``graph_prefix`` when it is given. Memory stays bounded: chunks of
    :data:`SORT_CHUNK_LINES` lines are sorted and merged from temporary files. Returns the
    number of triples.
    """
    with tempfile.TemporaryDirectory(prefix=".sort-", dir=path.parent) as scratch:
        runs: list[Path] = []
        chunk: list[str] = []

        def spill() -> None:
            run = Path(scratch) / f"run-{len(runs)}"
            with run.open("w", encoding="utf-8", newline="\n") as handle:
                handle.writelines(sorted(set(chunk)))
            runs.append(run)
            chunk.clear()

        for quad in _read_quads(nquads):
            if graph_prefix is not None:
                graph = quad.graph_name
                if not (isinstance(graph, NamedNode) and graph.value.startswith(graph_prefix)):
                    continue
            chunk.append(f"{quad.triple} .\n")
            if len(chunk) >= SORT_CHUNK_LINES:
                spill()
        with _Sink(path) as sink:
            if not runs:
                count = _write_unique(sorted(set(chunk)), sink)
            else:
                if chunk:
                    spill()
                with contextlib.ExitStack() as stack:
                    files = [
                        stack.enter_context(run.open(encoding="utf-8", newline="\n"))
                        for run in runs
                    ]
                    count = _write_unique(heapq.merge(*files), sink)
            sink.commit()
    return count


def _write_unique(lines: Iterable[str], sink: _Sink) -> int:
    """Write sorted ``lines`` to ``sink``, each distinct line once; return how many."""
    count = 0
    previous = None
    batch: list[str] = []
    for line in lines:
        if line == previous:
            continue
        previous = line
        batch.append(line)
        if len(batch) >= 8192:
            sink.write("".join(batch).encode("utf-8"))
            count += len(batch)
            batch.clear()
    sink.write("".join(batch).encode("utf-8"))
    return count + len(batch)


def _read_triples(path: Path) -> Iterator[Triple]:
    with path.open("rb") as handle:
        for quad in parse(handle, NTRIPLES.oxigraph):
            yield quad.triple


def write_turtle(ntriples: Path, path: Path, *, base_iri: str) -> None:
    """Write the N-Triples file ``ntriples`` to ``path`` in Turtle, with the common prefixes."""
    with _Sink(path) as sink:
        serialize(
            _read_triples(ntriples), sink.stream, TURTLE.oxigraph, prefixes=prefixes_for(base_iri)
        )
        sink.commit()


def write_trig(nquads: Path, path: Path, *, base_iri: str) -> None:
    """Write the N-Quads file ``nquads`` to ``path`` in TriG, with the common prefixes."""
    with _Sink(path) as sink:
        serialize(_read_quads(nquads), sink.stream, TRIG.oxigraph, prefixes=prefixes_for(base_iri))
        sink.commit()


def write_jsonld(ntriples: Path, path: Path) -> None:
    """Write the sorted N-Triples file ``ntriples`` to ``path`` as compacted JSON-LD.

    The document is ``{"@context": …, "@graph": [node, …]}`` with the project's context
    inline; node objects are written one subject at a time (the input is sorted, so a
    subject's triples come together), so memory holds one node at a time.
    """
    with _Sink(path) as sink:
        context = json.dumps(CONTEXT["@context"], ensure_ascii=False, indent=2)
        sink.write(b'{\n"@context": ' + context.encode("utf-8") + b',\n"@graph": [')
        first = True
        for node in jsonld_nodes(_read_triples(ntriples)):
            text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
            sink.write((("\n" if first else ",\n") + text).encode("utf-8"))
            first = False
        sink.write(b"\n]\n}\n")
        sink.commit()


def jsonld_nodes(triples: Iterable[Triple]) -> Iterator[dict[str, Any]]:
    """Yield one compacted JSON-LD node object per run of triples with the same subject.

    Terms and prefixes are those of :data:`cokg.describe.CONTEXT`.

    >>> from cokg.namespaces import DCTERMS
    >>> a = NamedNode("http://e.org/a")
    >>> list(jsonld_nodes([Triple(a, NamedNode(DCTERMS + "title"), Literal("A", language="en")),
    ...                    Triple(a, NamedNode(RDF + "type"), NamedNode(DCTERMS + "Agent"))]))
    [{'id': 'http://e.org/a', 'title': {'@value': 'A', '@language': 'en'}, 'type': 'dcterms:Agent'}]
    """
    subject: str | None = None
    node: dict[str, list[Any]] = {}
    for triple in triples:
        key = _node_id(triple.subject)
        if key != subject:
            if subject is not None:
                yield _node_object(subject, node)
            subject, node = key, {}
        prop, obj = triple.predicate.value, triple.object
        if prop == _RDF_TYPE and isinstance(obj, NamedNode):
            node.setdefault("type", []).append(_compact(obj.value))
        elif isinstance(obj, NamedNode | BlankNode):
            if prop in _IRI_TERMS:
                node.setdefault(_IRI_TERMS[prop], []).append(_node_id(obj))
            else:
                node.setdefault(_compact(prop), []).append({"id": _node_id(obj)})
        elif isinstance(obj, Literal):
            node.setdefault(_LITERAL_TERMS.get(prop) or _compact(prop), []).append(_literal(obj))
        else:  # an RDF-star quoted triple: not in the knowledge base
            raise CokgError(f"cannot write {triple} in JSON-LD 1.1")
    if subject is not None:
        yield _node_object(subject, node)


def _node_object(subject: str, node: dict[str, list[Any]]) -> dict[str, Any]:
    compacted: dict[str, Any] = {"id": subject}
    for key, values in node.items():
        compacted[key] = values[0] if len(values) == 1 else values
    return compacted


_RDF_TYPE = RDF + "type"
_TERMS: dict[str, Any] = CONTEXT["@context"]


def _expand(compact: str) -> str:
    prefix, local = compact.split(":", 1)
    return PREFIXES[prefix] + local


_IRI_TERMS = {
    _expand(d["@id"]): term
    for term, d in _TERMS.items()
    if isinstance(d, dict) and d.get("@type") == "@id"
}
_LITERAL_TERMS = {
    _expand(d["@id"]): term
    for term, d in _TERMS.items()
    if isinstance(d, dict) and "@type" not in d
}
_BY_LENGTH = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def _compact(iri: str) -> str:
    """Return ``iri`` as a prefixed name of the context where it is one, else the IRI."""
    for name, namespace in _BY_LENGTH:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            local = iri[len(namespace) :]
            if not local.startswith("//"):
                return f"{name}:{local}"
    return iri


def _node_id(term: object) -> str:
    if isinstance(term, NamedNode):
        return term.value
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    raise CokgError(f"cannot write {term} as a JSON-LD node")


def _literal(literal: Literal) -> Any:
    if literal.language:
        return {"@value": literal.value, "@language": literal.language}
    if literal.datatype.value == XSD + "string":
        return literal.value
    return {"@value": literal.value, "@type": _compact(literal.datatype.value)}


def gzip_file(source: Path, path: Path) -> tuple[int, str]:
    """Write ``source`` gzip-compressed to ``path``; return its size and SHA-256.

    No time stamp and no file name go into the header, so the bytes depend only on the
    content.
    """
    with _Sink(path) as sink:
        with (
            source.open("rb") as plain,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=GZIP_LEVEL
            ) as packed,
        ):
            shutil.copyfileobj(plain, packed, _BUFFER)
        sink.commit()
    return sink.size, sink.digest.hexdigest()


def write_dumps(
    store: ReadableStore,
    directory: Path,
    *,
    base_iri: str,
    progress: bool = False,
    modified: datetime | None = None,
) -> list[DumpFile]:
    """Write every dump of ``store`` into ``directory`` and a manifest beside them.

    Returns the files in listing order (:func:`dump_names`). ``modified`` (default: now) is
    recorded for every file. ``progress`` shows a tqdm bar (for a terminal). Raises
    :class:`~cokg.errors.StoreUnavailable` when the store cannot be read (files already
    written stay; none is left half-written).
    """
    directory.mkdir(parents=True, exist_ok=True)
    when = (modified or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    steps = _steps(store, directory, base_iri=base_iri)
    written: list[_Written] = []
    bar = _bar(len(steps), progress)
    try:
        for label, step in steps:
            bar.set_description(label)
            written.append(step())
            bar.update(1)
    finally:
        bar.close()
    files: dict[str, DumpFile] = {}
    for item in written:
        for name, compressed in ((item.name, False), (item.name + ".gz", True)):
            if compressed:
                size, digest = gzip_file(directory / item.name, directory / name)
            else:
                size, digest = item.size, item.sha256
            title = f"{item.title}, {item.fmt.label}" + (", gzip" if compressed else "")
            files[name] = DumpFile(
                name, title, item.fmt.media_type, compressed, size, digest, item.statements, when
            )
    ordered = [files[name] for name in dump_names()]
    write_manifest(directory, ordered)
    return ordered


def _steps(
    store: ReadableStore, directory: Path, *, base_iri: str
) -> list[tuple[str, Callable[[], _Written]]]:
    whole = "Whole knowledge graph"
    nq, nt = directory / f"{WHOLE}.nq", directory / f"{WHOLE}.nt"
    counts: dict[str, int] = {}

    def nquads() -> _Written:
        counts["quads"] = write_nquads(store, nq)
        return _described(nq, f"{whole} (named graphs kept)", NQUADS, counts["quads"])

    def trig() -> _Written:
        write_trig(nq, directory / f"{WHOLE}.trig", base_iri=base_iri)
        title = f"{whole} (named graphs kept)"
        return _described(directory / f"{WHOLE}.trig", title, TRIG, counts["quads"])

    def ntriples() -> _Written:
        counts["triples"] = write_sorted_union(nq, nt)
        return _described(nt, f"{whole} (union of the graphs)", NTRIPLES, counts["triples"])

    def turtle() -> _Written:
        write_turtle(nt, directory / f"{WHOLE}.ttl", base_iri=base_iri)
        title = f"{whole} (union of the graphs)"
        return _described(directory / f"{WHOLE}.ttl", title, TURTLE, counts["triples"])

    def jsonld() -> _Written:
        write_jsonld(nt, directory / f"{WHOLE}.jsonld")
        title = f"{whole} (union of the graphs)"
        return _described(directory / f"{WHOLE}.jsonld", title, JSONLD, counts["triples"])

    def part(name: str) -> Callable[[], _Written]:
        title, graphs = _PARTS[name]

        def step() -> _Written:
            with tempfile.TemporaryDirectory(prefix=".part-", dir=directory) as scratch:
                sorted_nt = Path(scratch) / f"{name}.nt"
                count = write_sorted_union(nq, sorted_nt, graph_prefix=base_iri + graphs)
                write_turtle(sorted_nt, directory / f"{name}.ttl", base_iri=base_iri)
            return _described(directory / f"{name}.ttl", title, TURTLE, count)

        return step

    return [
        ("N-Quads", nquads),
        ("TriG", trig),
        ("N-Triples", ntriples),
        ("Turtle", turtle),
        ("JSON-LD", jsonld),
        *((name, part(name)) for name in _PARTS),
    ]


def _described(path: Path, title: str, fmt: Format, statements: int) -> _Written:
    """Return what was written to ``path`` (size and SHA-256 read back from the disk)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BUFFER), b""):
            digest.update(block)
    return _Written(path.name, title, fmt, path.stat().st_size, digest.hexdigest(), statements)


class _NoBar:
    def set_description(self, text: str) -> None: ...
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="dumps")


def write_manifest(directory: Path, files: list[DumpFile], **extra: Any) -> None:
    """Write ``directory/manifest.json`` listing ``files`` (atomically)."""
    document = {"generator": f"cokg {__version__}", **extra, "files": [f.to_json() for f in files]}
    with _Sink(directory / MANIFEST) as sink:
        sink.write(json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        sink.commit()


def read_manifest(directory: Path) -> tuple[dict[str, Any], list[DumpFile]]:
    """Return the manifest's other fields and its files; raises NotFound when it is missing.

    Raises :class:`~cokg.errors.CokgError` for a manifest that cannot be read.
    """
    try:
        document = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = [DumpFile.from_json(item) for item in document.pop("files")]
    except FileNotFoundError:
        raise NotFound(f"no {MANIFEST} in {directory}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CokgError(f"{directory / MANIFEST} cannot be read: {e}") from e
    return document, files


_CURRENT = "current.json"


class DumpCache:
    """One set of dumps of ``store`` kept in ``directory``, rebuilt when the store changes.

    Each build goes to its own folder (``directory/v-…``); ``directory/current.json`` names
    the current one and the store version it came from, so a restart reuses it. The store's
    version is :func:`cokg.search.store_fingerprint` (its graphs and size), checked at most
    every ``check_every`` seconds, plus :meth:`invalidate` after each write through the app
    (which catches a write that keeps the size). Builds run one at a time; a caller that
    needs the files waits for a build in progress.
    """

    def __init__(
        self, directory: Path, store: ReadableStore, *, base_iri: str, check_every: float = 60.0
    ) -> None:
        self.directory = Path(directory)
        self.store = store
        self.base_iri = base_iri
        self.check_every = check_every
        self._lock = threading.Lock()
        self._generation = 0  # bumped by invalidate()
        self._built_generation = -1
        self._checked = -float("inf")
        self._version: str | None = None
        self._folder: Path | None = None
        self._files: list[DumpFile] = []
        self._load_current()

    def _load_current(self) -> None:
        try:
            current = json.loads((self.directory / _CURRENT).read_text(encoding="utf-8"))
            folder = self.directory / str(current["folder"])
            _, files = read_manifest(folder)
            if all((folder / f.name).stat().st_size == f.byte_size for f in files):
                self._version, self._folder, self._files = str(current["version"]), folder, files
                self._built_generation = self._generation
        except (OSError, ValueError, KeyError, TypeError, CokgError):
            return  # nothing usable: the first call builds

    def files(self) -> list[DumpFile]:
        """Return the dumps of the store's current version, building them first if need be.

        Raises :class:`~cokg.errors.StoreUnavailable` when the store cannot be read.
        """
        return list(self._current()[0])

    def path(self, name: str) -> Path:
        """Return the file called ``name`` of the current dumps.

        Raises :class:`~cokg.errors.NotFound` for a name that is not a dump.
        """
        return self.file(name)[1]

    def file(self, name: str) -> tuple[DumpFile, Path]:
        """Return the description and the path of the dump ``name``, of one version.

        Raises :class:`~cokg.errors.NotFound` for a name that is not a dump.
        """
        if name not in _NAMES:
            raise NotFound(f"no dump called {name!r}")
        files, folder = self._current()
        for found in files:
            if found.name == name:
                return found, folder / name
        raise NotFound(f"no dump called {name!r}")  # pragma: no cover - every name is built

    def _current(self) -> tuple[list[DumpFile], Path]:
        with self._lock:
            generation = self._generation
            due = time.monotonic() - self._checked >= self.check_every
            if self._folder is None or due or generation != self._built_generation:
                version = store_fingerprint(self.store)
                if (
                    self._folder is None
                    or version != self._version
                    or generation != self._built_generation
                ):
                    self._build(version)
                self._built_generation = generation
                self._checked = time.monotonic()
            if self._folder is None:  # pragma: no cover - a build sets it or raises
                raise CokgError("the dumps were not built")
            return self._files, self._folder

    def invalidate(self) -> None:
        """Mark the dumps stale (after a write): the next :meth:`files` rebuilds them."""
        self._generation += 1

    def _build(self, version: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=self.directory))
        try:
            files = write_dumps(self.store, building, base_iri=self.base_iri, modified=stamp)
            folder = self.directory / f"v-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
            os.replace(building, folder)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        with _Sink(self.directory / _CURRENT) as sink:
            record = {"version": version, "folder": folder.name}
            sink.write(json.dumps(record).encode("utf-8") + b"\n")
            sink.commit()
        self._version, self._folder, self._files = version, folder, files
        for child in self.directory.iterdir():
            if child.is_dir() and child != folder and child.name.startswith("v-"):
                shutil.rmtree(child, ignore_errors=True)  # readers keep their open files


_NAMES = frozenset(dump_names())


__all__ = [
    "MANIFEST",
    "DumpCache",
    "DumpFile",
    "dump_names",
    "gzip_file",
    "jsonld_nodes",
    "read_manifest",
    "write_dumps",
    "write_jsonld",
    "write_manifest",
    "write_nquads",
    "write_sorted_union",
    "write_trig",
    "write_turtle",
]
