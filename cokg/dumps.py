"""Dumps: the whole knowledge graph as downloadable files, built in constant memory.

:func:`write_dumps` writes the knowledge graph in N-Quads and TriG (the named graphs kept),
N-Triples, Turtle and JSON-LD (the union of the graphs, each triple once), the ontology and the
vocabularies on their own in Turtle, and a gzip copy of each file. Every file is streamed: one
read of the store writes N-Quads, N-Triples, Turtle and JSON-LD (:func:`cokg.union.write_union`:
the union is sorted and formatted in a second process while the store is read, in chunks of
bounded size, so memory does not grow with the size of the graph); the embedded store writes
TriG itself (the ontology and the vocabularies are read graph by graph). The functions that
derive one file from another on disk (:func:`write_sorted_union`, :func:`write_turtle`,
:func:`write_jsonld`, :func:`write_trig`) give the same bytes. The SHA-256 and the size of
every file are computed while it is written; each file is written under a temporary name and
then renamed.

The bytes depend only on the store's content: the union formats are sorted, and gzip writes no
time stamp and no file name. The JSON-LD dump is compacted with the project's ``@context``
(:data:`cokg.describe.CONTEXT`, also served at ``/context.jsonld``), written inline so that the
file can be read offline.

:class:`DumpCache` keeps one set of dumps in a folder for the web app: built (in the
background) when first asked for, rebuilt when the store changed, and kept across restarts.

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
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    Triple,
    parse,
    serialize,
)

from cokg import __version__
from cokg.describe import (
    CONTEXT,
    IRI_TERMS,
    LITERAL_TERMS,
    compact_iri,
    jsonld_literal,
    prefixes_for,
)
from cokg.errors import CokgError, NotFound, StoreUnavailable
from cokg.formats import JSONLD, NQUADS, NTRIPLES, TRIG, TURTLE, Format
from cokg.namespaces import RDF
from cokg.store import OxigraphStore, ReadableStore, store_fingerprint

log = logging.getLogger("cokg.dumps")

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

    :meth:`commit` renames it into place and returns what was written; leaving the ``with``
    block without a commit removes it.
    """

    def __init__(self, path: Path, *, count_lines: bool = False) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.part-{os.getpid()}-{threading.get_ident()}")
        self.digest = hashlib.sha256()
        self.size = 0
        self.newlines = 0
        self._count_lines = count_lines
        self.hashing = True
        """False when another reader of the file hashes it (and counts its lines) instead."""
        self._file: IO[bytes] = self.partial.open("wb", buffering=_BUFFER)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._file.write(chunk)
        self.size += len(chunk)
        if self.hashing:
            self.digest.update(chunk)
            if self._count_lines:
                self.newlines += chunk.count(b"\n")
        return len(chunk)

    def flush(self) -> None:
        self._file.flush()

    @property
    def stream(self) -> IO[bytes]:
        """This sink, typed as the binary stream the serialisers take."""
        return cast(IO[bytes], self)

    def commit(self, statements: int) -> Written:
        """Flush to disk, rename the file into place (atomically) and say what it holds."""
        self.place()
        return Written(self.size, self.digest.hexdigest(), statements)

    def sync(self) -> None:
        """Flush what is written so far to disk (so that the final flush has less to do)."""
        self._file.flush()
        os.fdatasync(self._file.fileno())

    def place(self) -> None:
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
class Written:
    """What one writer wrote: the file's size, its SHA-256 and the statements in it."""

    byte_size: int
    sha256: str
    statements: int


def write_nquads(store: ReadableStore, path: Path) -> Written:
    """Write every quad of ``store`` to ``path`` in N-Quads (one quad a line).

    Streams from the store (:meth:`~cokg.store.ReadableStore.dump`).
    """
    with _Sink(path, count_lines=True) as sink:
        store.dump(sink.stream, NQUADS)
        return sink.commit(sink.newlines)


class _Counter:
    """Pass items through, counting them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.count += 1
            yield item


def _read_quads(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        yield from parse(handle, NQUADS.oxigraph)


def _read_triples(path: Path) -> Iterator[Any]:
    """Yield the statements of an N-Triples file (as quads in the default graph)."""
    with path.open("rb", buffering=_BUFFER) as handle:
        yield from parse(handle, NTRIPLES.oxigraph)


def _fast_triple(line: bytes) -> bytes | None:
    """Return the triple of an N-Quads line whose graph is an IRI, or None to look closer.

    The last term before `` .`` is taken as the graph when it looks like an IRI (``<`` … ``>``
    without a quote: no literal ends that way) and what comes before it still holds three
    terms (two spaces at least: a default-graph triple ``s p <o>`` keeps one).
    """
    if not line.endswith(b" .\n"):
        return None
    cut = line.rfind(b" ", 0, len(line) - 3)
    if (
        cut > 0
        and line[cut + 1 : cut + 2] == b"<"
        and line[-4:-3] == b">"
        and line.find(b'"', cut) == -1
        and line.count(b" ", 0, cut) >= 2
    ):
        return line[:cut] + b" .\n"
    return None


def split_quad(line: bytes) -> tuple[bytes, bytes]:
    """Split an N-Quads line into its triple (an N-Triples line) and its graph term.

    The graph term is ``b""`` for the default graph. Lines are read as Oxigraph writes them
    (terms separated by one space); anything else goes through the N-Quads parser.
    :func:`_fast_triple` handles the common case (a graph IRI) on its own.

    >>> split_quad(b'<http://s> <http://p> "a b"@en <http://g> .\\n')
    (b'<http://s> <http://p> "a b"@en .\\n', b'<http://g>')
    >>> split_quad(b'_:b <http://p> <http://o> .\\n')
    (b'_:b <http://p> <http://o> .\\n', b'')
    """
    triple = _fast_triple(line)
    if triple is not None:
        return triple, line[len(triple) - 2 : -3]
    if line.endswith(b" .\n") and not line.startswith(b"<<"):
        body = line[:-3]
        predicate = body.find(b" ") + 1
        rest = body.find(b" ", predicate) + 1
        if predicate and rest:
            first = body[rest : rest + 1]
            if first == b'"':  # the literal ends at the last quote: nothing after it has one
                space = body.find(b" ", body.rfind(b'"'))
            elif first in (b"<", b"_") and not body.startswith(b"<<", rest):
                space = body.find(b" ", rest)
            else:
                space = -2
            if space == -1:
                return line, b""
            if space > 0:
                return body[:space] + b" .\n", body[space + 1 :]
    quad = next(iter(parse(line, NQUADS.oxigraph)))
    graph = b"" if isinstance(quad.graph_name, DefaultGraph) else str(quad.graph_name).encode()
    return f"{quad.triple} .\n".encode(), graph


def triple_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the N-Triples line of each N-Quads line (the graph cut off)."""
    for line in lines:
        # split_quad's common case inlined (a graph IRI): this loop runs once per quad
        cut = line.rfind(b" ", 0, len(line) - 3)
        if (
            cut > 0
            and line[-4:] == b"> .\n"
            and line[cut + 1 : cut + 2] == b"<"
            and line.find(b'"', cut) == -1
            and line.count(b" ", 0, cut) >= 2
        ):
            yield line[:cut] + b" .\n"
        else:
            yield split_quad(line)[0]


def write_sorted_union(nquads: Path, path: Path) -> Written:
    """Write the union of the graphs of the N-Quads file ``nquads`` to ``path`` in N-Triples.

    Each triple once, lines sorted (so a subject's triples are together). Memory stays
    bounded: chunks of :data:`SORT_CHUNK_LINES` lines are sorted and merged from temporary
    files. An N-Triples file is read as N-Quads in the default graph.
    """
    with tempfile.TemporaryDirectory(prefix=".sort-", dir=path.parent) as scratch:
        runs: list[Path] = []
        chunk: set[bytes] = set()

        def spill() -> None:
            run = Path(scratch) / f"run-{len(runs)}"
            with run.open("wb", buffering=_BUFFER) as handle:
                handle.writelines(sorted(chunk))
            runs.append(run)
            chunk.clear()

        limit, add = SORT_CHUNK_LINES, chunk.add
        with nquads.open("rb", buffering=_BUFFER) as lines:
            for triple in triple_lines(lines):
                add(triple)
                if len(chunk) >= limit:
                    spill()
        with _Sink(path) as sink:
            if not runs:  # one chunk: a set, sorted, has no duplicates
                ordered = sorted(chunk)
                for start in range(0, len(ordered), 8192):
                    sink.write(b"".join(ordered[start : start + 8192]))
                count = len(ordered)
            else:
                if chunk:
                    spill()
                with contextlib.ExitStack() as stack:
                    files = [stack.enter_context(run.open("rb", buffering=1 << 16)) for run in runs]
                    count = _write_unique(heapq.merge(*files), sink)
            return sink.commit(count)


def _write_unique(lines: Iterable[bytes], sink: _Sink) -> int:
    """Write sorted ``lines`` to ``sink``, each distinct line once; return how many."""
    count = 0
    previous = None
    batch: list[bytes] = []
    for line in lines:
        if line != previous:
            previous = line
            batch.append(line)
            if len(batch) >= 8192:
                sink.write(b"".join(batch))
                count += len(batch)
                batch.clear()
    sink.write(b"".join(batch))
    return count + len(batch)


def write_turtle(ntriples: Path, path: Path, *, base_iri: str) -> Written:
    """Write the N-Triples file ``ntriples`` to ``path`` in Turtle, with the common prefixes."""
    counter = _Counter()
    with _Sink(path) as sink:
        triples = counter(_read_triples(ntriples))
        serialize(triples, sink.stream, TURTLE.oxigraph, prefixes=prefixes_for(base_iri))
        return sink.commit(counter.count)


def write_trig(nquads: Path, path: Path, *, base_iri: str) -> Written:
    """Write the N-Quads file ``nquads`` to ``path`` in TriG, with the common prefixes."""
    counter = _Counter()
    with _Sink(path) as sink:
        quads = counter(_read_quads(nquads))
        serialize(quads, sink.stream, TRIG.oxigraph, prefixes=prefixes_for(base_iri))
        return sink.commit(counter.count)


def write_trig_from_store(
    store: OxigraphStore, path: Path, *, base_iri: str, statements: int
) -> Written:
    """Write every quad of the embedded ``store`` to ``path`` in TriG, in Oxigraph itself.

    As fast as ``oxigraph dump``; ``statements`` is the quad count the caller read (from the
    N-Quads dump of the same store).
    """
    with _Sink(path) as sink:
        store.oxigraph.dump(sink.stream, TRIG.oxigraph, prefixes=prefixes_for(base_iri))
        return sink.commit(statements)


def write_jsonld(ntriples: Path, path: Path) -> Written:
    """Write the sorted N-Triples file ``ntriples`` to ``path`` as compacted JSON-LD.

    The document is ``{"@context": …, "@graph": [node, …]}`` with the project's context
    inline; node objects are written one subject at a time (the input is sorted, so a
    subject's triples come together), so memory holds one node at a time.
    """
    counter = _Counter()
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with _Sink(path) as sink:
        context = json.dumps(CONTEXT["@context"], ensure_ascii=False, indent=2)
        sink.write(b'{\n"@context": ' + context.encode("utf-8") + b',\n"@graph": [')
        separator = "\n"
        batch: list[str] = []
        for node in jsonld_nodes(counter(_read_triples(ntriples))):
            batch.append(separator + encode(node))
            separator = ",\n"
            if len(batch) >= 1024:
                sink.write("".join(batch).encode("utf-8"))
                batch.clear()
        sink.write("".join(batch).encode("utf-8") + b"\n]\n}\n")
        return sink.commit(counter.count)


def jsonld_nodes(triples: Iterable[Triple | Quad]) -> Iterator[dict[str, Any]]:
    """Yield one compacted JSON-LD node object per run of triples with the same subject.

    Terms and prefixes are those of :data:`cokg.describe.CONTEXT`.

    >>> from cokg.namespaces import DCTERMS
    >>> a = NamedNode("http://e.org/a")
    >>> list(jsonld_nodes([Triple(a, NamedNode(DCTERMS + "title"), Literal("A", language="en")),
    ...                    Triple(a, NamedNode(RDF + "type"), NamedNode(DCTERMS + "Agent"))]))
    [{'id': 'http://e.org/a', 'title': {'@value': 'A', '@language': 'en'}, 'type': 'dcterms:Agent'}]
    """
    current: object = None
    subject = ""
    node: dict[str, list[Any]] = {}
    keys: dict[object, tuple[str, str]] = {}  # predicate → (key for nodes, key for literals)
    for triple in triples:
        if triple.subject != current:
            if current is not None:
                yield _node_object(subject, node)
            current, subject, node = triple.subject, _node_id(triple.subject), {}
        predicate, obj = triple.predicate, triple.object
        known = keys.get(predicate)
        if known is None:
            prop = predicate.value
            known = keys[predicate] = (
                "type" if prop == _RDF_TYPE else IRI_TERMS.get(prop) or compact_iri(prop),
                LITERAL_TERMS.get(prop) or compact_iri(prop),
            )
        if isinstance(obj, NamedNode):
            if known[0] == "type":
                node.setdefault("type", []).append(compact_iri(obj.value))
            elif predicate.value in IRI_TERMS:
                node.setdefault(known[0], []).append(obj.value)
            else:
                node.setdefault(known[0], []).append({"id": obj.value})
        elif isinstance(obj, Literal):
            node.setdefault(known[1], []).append(jsonld_literal(obj))
        elif isinstance(obj, BlankNode):
            reference = f"_:{obj.value}"
            if predicate.value in IRI_TERMS:
                node.setdefault(known[0], []).append(reference)
            else:
                key = compact_iri(predicate.value) if known[0] == "type" else known[0]
                node.setdefault(key, []).append({"id": reference})
        else:  # an RDF 1.2 triple term: not in the knowledge base
            raise CokgError(f"cannot write {triple} in JSON-LD 1.1")
    if current is not None:
        yield _node_object(subject, node)


def _node_object(subject: str, node: dict[str, list[Any]]) -> dict[str, Any]:
    compacted: dict[str, Any] = {"id": subject}
    for key, values in node.items():
        compacted[key] = values[0] if len(values) == 1 else values
    return compacted


_RDF_TYPE = RDF + "type"


def _node_id(term: object) -> str:
    if isinstance(term, NamedNode):
        return term.value
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    raise CokgError(f"cannot write {term} as a JSON-LD node")


def gzip_file(source: Path, path: Path, *, statements: int = 0) -> Written:
    """Write ``source`` gzip-compressed to ``path``.

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
        return sink.commit(statements)


@dataclass(frozen=True)
class _Step:
    name: str
    title: str
    fmt: Format
    write: Callable[[], Written]


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
    recorded for every file. ``progress`` shows a tqdm bar (for a terminal). The gzip copies
    are compressed in a second thread while the next file is written (zlib works outside the
    GIL). Raises :class:`~cokg.errors.StoreUnavailable` when the store cannot be read (files
    already written stay; none is left half-written).
    """
    directory.mkdir(parents=True, exist_ok=True)
    when = (modified or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    files: dict[str, DumpFile] = {}
    bar = _bar(len(_PARTS) + len(_WHOLE_FORMATS), progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cokg-gzip") as packer:
        packing: list[tuple[_Step, Future[Written]]] = []
        try:
            for step in _steps(store, directory, base_iri=base_iri):
                bar.set_description(step.fmt.label if step.name.startswith(WHOLE) else step.name)
                done = step.write()
                files[step.name] = _file(step, step.name, done, when, compressed=False)
                plain, packed = directory / step.name, directory / f"{step.name}.gz"
                future = packer.submit(gzip_file, plain, packed, statements=done.statements)
                packing.append((step, future))
                bar.update(1)
            for step, future in packing:
                name = f"{step.name}.gz"
                files[name] = _file(step, name, future.result(), when, compressed=True)
        finally:
            bar.close()
            for _, future in packing:
                future.cancel()
    ordered = [files[name] for name in dump_names()]
    write_manifest(directory, ordered)
    return ordered


def _file(step: _Step, name: str, done: Written, when: datetime, *, compressed: bool) -> DumpFile:
    title = f"{step.title}, {step.fmt.label}" + (", gzip" if compressed else "")
    return DumpFile(
        name,
        title,
        step.fmt.media_type,
        compressed,
        done.byte_size,
        done.sha256,
        done.statements,
        when,
    )


def _steps(store: ReadableStore, directory: Path, *, base_iri: str) -> list[_Step]:
    """Return the writers in the order they must run (later ones read earlier files)."""
    graphs, union = "Whole knowledge graph (named graphs kept)", "Whole knowledge graph"
    union += " (union of the graphs)"
    nq = directory / f"{WHOLE}.nq"

    def part(name: str) -> Callable[[], Written]:
        def write() -> Written:
            prefix = base_iri + _PARTS[name][1]
            wanted = [g for g in store.graphs() if g.startswith(prefix)]
            with tempfile.TemporaryDirectory(prefix=".part-", dir=directory) as scratch:
                read, merged = Path(scratch) / "graphs.nt", Path(scratch) / "union.nt"
                with read.open("wb") as handle:
                    for graph in wanted:
                        store.dump(handle, NTRIPLES, graph=graph)
                write_sorted_union(read, merged)
                return write_turtle(merged, directory / f"{name}.ttl", base_iri=base_iri)

        return write

    def whole(fmt: Format) -> str:
        return f"{WHOLE}.{fmt.extension}"

    union_files: dict[str, Written] = {}

    def nquads() -> Written:
        # One read of the store writes N-Quads and the three union formats (cokg.union).
        from cokg.union import write_union

        union_files.update(
            write_union(store, directory, base_iri=base_iri, chunk_lines=SORT_CHUNK_LINES)
        )
        return union_files["nq"]

    def trig() -> Written:
        if isinstance(store, OxigraphStore):  # Oxigraph serialises its own store faster
            return write_trig_from_store(
                store,
                directory / whole(TRIG),
                base_iri=base_iri,
                statements=union_files["nq"].statements,
            )
        return write_trig(nq, directory / whole(TRIG), base_iri=base_iri)

    def written(extension: str) -> Callable[[], Written]:
        return lambda: union_files[extension]

    return [
        _Step(whole(NQUADS), graphs, NQUADS, nquads),
        _Step(whole(TRIG), graphs, TRIG, trig),
        _Step(whole(NTRIPLES), union, NTRIPLES, written("nt")),
        _Step(whole(TURTLE), union, TURTLE, written("ttl")),
        _Step(whole(JSONLD), union, JSONLD, written("jsonld")),
        *(_Step(f"{n}.ttl", _PARTS[n][0], TURTLE, part(n)) for n in _PARTS),
    ]


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
        sink.commit(0)


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


class DumpsNotReady(StoreUnavailable):
    """The dumps are being built and none is ready yet (503, try again shortly)."""


class DumpCache:
    """One set of dumps of ``store`` kept in ``directory``, rebuilt when the store changes.

    Each build goes to its own folder (``directory/v-…``); ``directory/current.json`` names
    the current one and the store version it came from, so a restart reuses it. The store's
    version is :func:`cokg.store.store_fingerprint` (its graphs and size), checked at most
    every ``check_every`` seconds, plus :meth:`invalidate` after each write through the app
    (which catches a write that keeps the size).

    Builds run in a background thread, one at a time. A caller waits for a build it started
    or found running (up to ``wait`` seconds, or until it ends): when the build ends in time
    it gets the new files, otherwise the previous version (every file of one version is
    consistent with its own listing), or :class:`DumpsNotReady` when there is none yet.
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
        self._builder: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._load_current()

    def _load_current(self) -> None:
        if self.directory.is_dir():
            for child in self.directory.iterdir():  # left by a process stopped mid-build
                if child.is_dir() and child.name.startswith(".building-"):
                    shutil.rmtree(child, ignore_errors=True)
        try:
            current = json.loads((self.directory / _CURRENT).read_text(encoding="utf-8"))
            folder = self.directory / str(current["folder"])
            _, files = read_manifest(folder)
            if all((folder / f.name).stat().st_size == f.byte_size for f in files):
                self._version, self._folder, self._files = str(current["version"]), folder, files
                self._built_generation = self._generation
        except (OSError, ValueError, KeyError, TypeError, CokgError):
            return  # nothing usable: the first call builds

    def files(self, *, wait: float | None = None) -> list[DumpFile]:
        """Return the dumps of the store's current version, building them first if need be.

        ``wait`` bounds the seconds spent waiting for a build (None: until it ends). Raises
        :class:`DumpsNotReady` when no version is ready in time, and
        :class:`~cokg.errors.StoreUnavailable` when the store cannot be read.
        """
        return list(self._current(wait)[0])

    def path(self, name: str) -> Path:
        """Return the file called ``name`` of the current dumps.

        Raises :class:`~cokg.errors.NotFound` for a name that is not a dump.
        """
        return self.file(name)[1]

    def file(self, name: str, *, wait: float | None = None) -> tuple[DumpFile, Path]:
        """Return the description and the path of the dump ``name``, of one version.

        Raises :class:`~cokg.errors.NotFound` for a name that is not a dump, and what
        :meth:`files` raises.
        """
        if name not in _NAMES:
            raise NotFound(f"no dump called {name[:80]!r}")
        files, folder = self._current(wait)
        for found in files:
            if found.name == name:
                return found, folder / name
        raise NotFound(f"no dump called {name!r}")  # pragma: no cover - every name is built

    def invalidate(self) -> None:
        """Mark the dumps stale (after a write): the next :meth:`files` rebuilds them."""
        with self._lock:
            self._generation += 1

    def _current(self, wait: float | None) -> tuple[list[DumpFile], Path]:
        with self._lock:
            self._refresh()
            builder = self._builder
        if builder is not None:
            builder.join(wait)
        with self._lock:
            if self._folder is None:
                failure, self._failure = self._failure, None
                if failure is not None:
                    raise failure
                raise DumpsNotReady("the dumps are being built; try again in a minute")
            return self._files, self._folder

    def _refresh(self) -> None:
        """Start a build when the store changed (the lock is held)."""
        if self._builder is not None and self._builder.is_alive():
            return
        generation = self._generation
        due = time.monotonic() - self._checked >= self.check_every
        if self._folder is not None and not due and generation == self._built_generation:
            return
        fresh = self._folder is None or generation != self._built_generation  # after a write
        version = store_fingerprint(self.store, max_age=0.0 if fresh else self.check_every)
        self._checked = time.monotonic()
        unchanged = self._folder is not None and version == self._version
        if unchanged and generation == self._built_generation:
            return
        self._builder = threading.Thread(
            target=self._build, args=(version, generation), name="cokg-dumps", daemon=True
        )
        self._builder.start()

    def _build(self, version: str, generation: int) -> None:
        stamp = datetime.now(UTC)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            building = Path(tempfile.mkdtemp(prefix=".building-", dir=self.directory))
            try:
                files = write_dumps(self.store, building, base_iri=self.base_iri, modified=stamp)
                write_manifest(building, files, storeVersion=version)
                folder = self.directory / f"v-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
                os.replace(building, folder)
            finally:
                shutil.rmtree(building, ignore_errors=True)
            with _Sink(self.directory / _CURRENT) as sink:
                record = {"version": version, "folder": folder.name}
                sink.write(json.dumps(record).encode("utf-8") + b"\n")
                sink.commit(0)
        except BaseException as error:
            log.exception("building the dumps failed")
            with self._lock:
                self._failure = error
            return
        with self._lock:
            previous = self._folder
            self._version, self._folder, self._files = version, folder, files
            self._built_generation = generation
            self._failure = None
        # The previous version stays until the next build: a download that has just been
        # given its path can still open it.
        for child in self.directory.iterdir():
            if child.is_dir() and child.name.startswith("v-") and child not in (folder, previous):
                shutil.rmtree(child, ignore_errors=True)


_NAMES = frozenset(dump_names())


__all__ = [
    "MANIFEST",
    "DumpCache",
    "DumpFile",
    "DumpsNotReady",
    "Written",
    "dump_names",
    "gzip_file",
    "jsonld_nodes",
    "read_manifest",
    "triple_lines",
    "write_dumps",
    "write_jsonld",
    "write_manifest",
    "write_nquads",
    "write_sorted_union",
    "write_trig",
    "write_trig_from_store",
    "write_turtle",
]
