"""The union of the graphs in N-Triples, Turtle and JSON-LD, in one pass over the store.

:func:`write_union` reads the store once, as N-Quads, and writes four files from that one read:
the N-Quads file itself and the union of the graphs (each triple once, lines sorted) in
N-Triples, Turtle and JSON-LD. The bytes are those of :func:`cokg.dumps.write_sorted_union`
followed by :func:`cokg.dumps.write_turtle` and :func:`cokg.dumps.write_jsonld` (tested); what
changes is where the work is done, so that it overlaps with the read of the store:

1. While the store is read into the N-Quads file, a second process, the *sorter*, follows
   that file as it grows (it never holds up the read). It cuts each line into its triple
   and, for each chunk of ``chunk_lines`` triples, sorts them, groups them by subject and
   writes each subject already formatted: its N-Triples lines, its Turtle block (Oxigraph's
   serialiser, a batch of whole subjects at a time) and its JSON-LD node object. Each chunk
   becomes one *run* file of such records, in subject order.
2. When the read ends, this process merges the runs by subject and appends each subject's
   three pieces to the three files. A subject found in more than one run (its triples are in
   several graphs, or a chunk ended in the middle of it) has its lines merged and formatted
   again, so the result does not depend on where the chunks were cut.

So the formatting, the costly part, runs on a second core while the first reads the store,
and what is left after the read is a merge of whole subjects. A union of up to
:data:`_IN_MEMORY` triples is sorted and written here, with no other process. Memory stays
bounded by a chunk in each process, whatever the size of the graph; disk needs about twice
the N-Triples file's size again while it runs.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import json
import logging
import operator
import os
import queue
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, cast

from pyoxigraph import NamedNode, Triple, parse, serialize

from cokg.describe import CONTEXT, IRI_TERMS, LITERAL_TERMS, compact_iri, prefixes_for
from cokg.dumps import Written, _node_object, _Sink, triple_lines
from cokg.errors import CokgError
from cokg.formats import NQUADS, NTRIPLES, TURTLE
from cokg.namespaces import RDF, XSD
from cokg.store import ReadableStore

log = logging.getLogger("cokg.dumps")

_BATCH_LINES = 4096
"""Triples formatted at a time (whole subjects: a batch ends where a subject does)."""

_BLOCK = 1 << 20

_MERGE_BLOCK = 1 << 23
"""Bytes of the three union files gathered before they are handed to their writers."""

_SYNC_BYTES = 1 << 27
"""A union file is flushed to disk each time this many more bytes are written to it."""

_IN_MEMORY = 50_000
"""Up to this many quads the union is sorted in memory here, with no sorter process."""

_EXTENSIONS = ("nt", "ttl", "jsonld")

UNION_FORMATS = frozenset(_EXTENSIONS)
"""The union formats, by extension: N-Triples, Turtle, JSON-LD."""

Record = tuple[bytes, bytes, bytes, bytes, int]
"""One subject: its key (the subject and a space), N-Triples, Turtle, JSON-LD, triple count."""


def write_union(
    store: ReadableStore,
    directory: Path,
    *,
    base_iri: str,
    chunk_lines: int,
    stem: str = "cokg",
    parallel: bool = True,
    formats: Iterable[str] = ("nq", *_EXTENSIONS),
) -> dict[str, Written]:
    """Write ``store`` as ``{stem}.nq`` and its union as ``.nt``, ``.ttl`` and ``.jsonld``.

    Returns what was written, keyed by extension (``nq``, ``nt``, ``ttl``, ``jsonld``).
    ``formats`` chooses which of these files to write (at least one union format; each file
    has the same bytes as when all are written, and the store is read into N-Quads anyway,
    in the scratch folder when ``nq`` is left out). ``parallel=False`` keeps all the work in
    this process (same bytes). Raises :class:`~cokg.errors.StoreUnavailable` when the store
    cannot be read and :class:`~cokg.errors.CokgError` when the sorter process fails; no
    file is left half-written. Raises ValueError for an unknown or missing format.
    """
    if chunk_lines < 1:
        raise ValueError("chunk_lines must be at least 1")
    wanted = frozenset(formats)
    union = wanted & UNION_FORMATS
    if not union or not wanted <= UNION_FORMATS | {"nq"}:
        raise ValueError(f"formats must name a union format of {sorted(UNION_FORMATS)}")
    with contextlib.ExitStack() as stack:
        scratch = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".union-", dir=directory))
        )
        kept = "nq" in wanted
        nquads = stack.enter_context(
            _Sink((directory if kept else scratch) / f"{stem}.nq", count_lines=True)
        )
        sinks = {
            ext: stack.enter_context(_Sink(directory / f"{stem}.{ext}"))
            for ext in _EXTENSIONS
            if ext in union
        }
        splitter = _Splitter(nquads, scratch, chunk_lines, base_iri, union, parallel=parallel)
        stack.callback(splitter.kill)
        # Each file is flushed to disk (fsync) before it is renamed into place: in threads,
        # while the rest goes on (fsync releases the GIL).
        syncing = stack.enter_context(ThreadPoolExecutor(3, thread_name_prefix="cokg-fsync"))
        began = time.perf_counter()
        store.dump(cast(IO[bytes], _Tee(nquads, splitter)), NQUADS)
        nquads.flush()
        log.debug("union: %s after %.2f s", "read", time.perf_counter() - began)
        placed = syncing.submit(nquads.place if kept else nquads.flush)
        records, sha256, quads = splitter.finish(nquads.size)
        log.debug("union: %s after %.2f s", "sorted", time.perf_counter() - began)
        header = _turtle_header(prefixes_for(base_iri))
        # Hashing and writing each file run in threads of their own (they release the GIL),
        # on the core the sorter has left, while this thread merges.
        behind = {ext: _Behind(sink) for ext, sink in sinks.items()}
        for each in behind.values():
            stack.callback(each.stop)
        count = _write_records(
            records, behind.get("nt"), behind.get("ttl"), behind.get("jsonld"), header
        )
        for each in behind.values():
            each.close()
        log.debug("union: %s after %.2f s", "merged", time.perf_counter() - began)
        committed = {ext: syncing.submit(sink.commit, count) for ext, sink in sinks.items()}
        placed.result()
        written = {"nq": Written(nquads.size, sha256, quads)} if kept else {}
        written |= {ext: future.result() for ext, future in committed.items()}
        log.debug("union: %s after %.2f s", "synced", time.perf_counter() - began)
    return written


class _Behind:
    """Writes to a sink from a thread of its own, so that the caller goes on meanwhile.

    The queue holds a few blocks at most (memory stays bounded); :meth:`close` waits for them.
    """

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cokg-union-write", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        """Queue ``data`` to be written; raise what writing an earlier block raised."""
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def _run(self) -> None:
        synced = 0
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.sink.write(data)
                    if self.sink.size - synced >= _SYNC_BYTES:  # the commit's fsync is then short
                        self.sink.sync()
                        synced = self.sink.size
                except BaseException as error:  # handed to the caller by write() and close()
                    self._error = error

    def stop(self) -> None:
        """End the thread once what is queued is written (or dropped after an error)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> None:
        """Wait for every block to be written; raise what writing one raised."""
        self.stop()
        if self._error is not None:
            raise self._error


class _Tee:
    """The N-Quads sink: each block goes to the file and to the splitter."""

    def __init__(self, sink: _Sink, splitter: _Splitter) -> None:
        self._sink, self._splitter = sink, splitter

    def write(self, data: bytes) -> int:
        data = data if isinstance(data, bytes) else bytes(data)
        self._sink.write(data)
        self._splitter.feed(data)
        return len(data)

    def flush(self) -> None:
        self._sink.flush()


class _Splitter:
    """Follows the N-Quads file as it is written; hands the sorting to a sorter when it is long.

    Up to :data:`_IN_MEMORY` lines (or one chunk, when that is less) the blocks are kept here
    and sorted in memory at the end. Past that, a sorter process (``parallel``) reads the file
    as it grows, never holding up the read of the store; without ``parallel`` a
    :class:`_Sorter` in this process takes the lines.
    """

    def __init__(
        self,
        nquads: _Sink,
        scratch: Path,
        chunk_lines: int,
        base_iri: str,
        formats: frozenset[str],
        *,
        parallel: bool,
    ) -> None:
        self.nquads = nquads
        self.scratch = scratch
        self.chunk_lines = chunk_lines
        self.base_iri = base_iri
        self.formats = formats
        self.parallel = parallel and bool(sys.executable)  # a Python to start the sorter with
        self._blocks: list[bytes] | None = []
        self._child: subprocess.Popen[bytes] | None = None
        self._sorter: _Sorter | None = None
        self._rest = b""

    def feed(self, data: bytes) -> None:
        """Take the next block of N-Quads (lines may be cut anywhere), already in the file."""
        if self._sorter is not None:
            self._sorter.add(self._split(data))
        elif self._blocks is not None:
            self._blocks.append(data)
            if self.nquads.newlines > min(self.chunk_lines, _IN_MEMORY):
                blocks, self._blocks = b"".join(self._blocks), None
                if self.parallel:
                    self._start_sorter()
                else:
                    self._sorter = _Sorter(
                        self.scratch, self.chunk_lines, self.base_iri, self.formats
                    )
                    self._sorter.add(self._split(blocks))

    def _split(self, data: bytes) -> list[bytes]:
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        return [line + b"\n" for line in lines]

    def _start_sorter(self) -> None:
        # The sorter gets the file open (it is renamed into place when it is complete).
        reader = os.open(self.nquads.partial, os.O_RDONLY)
        command = [sys.executable, "-m", "cokg.union", str(self.scratch), str(self.chunk_lines)]
        command += [self.base_iri, str(reader), str(os.getpid()), ",".join(sorted(self.formats))]
        try:
            with (self.scratch / "sort.err").open("wb") as errors:
                self._child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    pass_fds=(reader,),
                )
        finally:
            os.close(reader)
        self.nquads.hashing = False  # the sorter hashes the file and counts its lines

    def finish(self, size: int) -> tuple[Iterator[Record], str, int]:
        """Return every subject's record, in order, and the N-Quads file's SHA-256 and lines.

        Call it once the file is complete (``size`` bytes).
        """
        child = self._child
        if child is not None:
            done = self.scratch / "done"
            done.with_suffix(".part").write_text(str(size), encoding="ascii")
            done.with_suffix(".part").replace(done)  # the sorter reads to this size, then ends
            output, _ = child.communicate()
            reply = output.split()
            if child.returncode != 0 or len(reply) != 3:
                raise _failed(child, self.scratch / "sort.err", "sorting the union")
            runs, sha256, lines = int(reply[0]), reply[1].decode(), int(reply[2])
            log.debug("union: the sorter wrote %d runs", runs)
            return _merge_runs(self.scratch, runs, self.base_iri, self.formats), sha256, lines
        sha256, quads = self.nquads.digest.hexdigest(), self.nquads.newlines
        if self._sorter is not None:
            if self._rest:
                raise CokgError("the N-Quads dump does not end with a new line")
            runs = self._sorter.close()
            return _merge_runs(self.scratch, runs, self.base_iri, self.formats), sha256, quads
        data = b"".join(self._blocks or [])
        if data and not data.endswith(b"\n"):
            raise CokgError("the N-Quads dump does not end with a new line")
        triples = triple_lines(line + b"\n" for line in data.split(b"\n")[:-1])
        ordered = list(_unique(sorted(triples)))
        return _records(ordered, _Formatter(self.base_iri, self.formats)), sha256, quads

    def kill(self) -> None:
        """Stop the sorter process, if it still runs."""
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()
            _close(self._child)


class _Follower:
    """Reads an open file as it is written, until ``done`` says its size; hashes what it reads.

    ``done`` appears (holding the final size in bytes) once the writer has flushed it all.
    ``writer`` is the pid of the writing process, this one's parent: if it goes away without a
    word (killed), the follower stops with an error instead of waiting for the file for ever.
    """

    def __init__(self, descriptor: int, done: Path, writer: int) -> None:
        self.descriptor, self.done, self.writer = descriptor, done, writer
        self.digest = hashlib.sha256()
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        """Yield the file's whole lines."""
        size: int | None = None
        seen = 0
        rest = b""
        with open(self.descriptor, "rb", buffering=0) as handle:
            while size is None or seen < size:
                data = handle.read(_BLOCK)
                if not data:
                    if size is None and self.done.exists():
                        size = int(self.done.read_text(encoding="ascii"))
                    elif size is None:
                        if os.getppid() != self.writer:
                            raise CokgError("the process writing the N-Quads dump has gone")
                        time.sleep(0.02)  # the writer is reading the store: wait for more
                    continue
                seen += len(data)
                self.digest.update(data)
                self.lines += data.count(b"\n")
                data = rest + data
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                yield from data[:cut].splitlines(keepends=True)
        if rest:
            raise CokgError("the N-Quads dump does not end with a new line")


def _close(child: subprocess.Popen[bytes]) -> None:
    """Wait for ``child`` to end and close its pipes."""
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    child.wait()


def _failed(child: subprocess.Popen[bytes], log: Path, what: str) -> CokgError:
    """Stop ``child`` and return the error to raise, with the end of what it wrote to ``log``."""
    if child.poll() is None:
        child.kill()
    _close(child)
    try:
        said = log.read_text(encoding="utf-8", errors="replace").strip()[-2000:]
    except OSError:
        said = ""
    return CokgError(f"{what} failed (status {child.returncode}): {said}")


class _Sorter:
    """Sorts triples into run files of subject records, a chunk at a time."""

    def __init__(
        self, scratch: Path, chunk_lines: int, base_iri: str, formats: frozenset[str]
    ) -> None:
        self.scratch = scratch
        self.chunk_lines = chunk_lines
        self.formatter = _Formatter(base_iri, formats)
        self.runs = 0
        self._chunk: list[bytes] = []

    def add(self, lines: Iterable[bytes]) -> None:
        """Take N-Quads lines."""
        chunk, limit = self._chunk, self.chunk_lines
        append = chunk.append
        for triple in triple_lines(lines):
            append(triple)
            if len(chunk) >= limit:
                self._spill()

    def _spill(self) -> None:
        self._chunk.sort()
        path = self.scratch / f"run-{self.runs}"
        with path.open("wb", buffering=_BLOCK) as handle:
            _write_run(_records(list(_unique(self._chunk)), self.formatter), handle)
        self._chunk.clear()
        self.runs += 1

    def close(self) -> int:
        """Write what is left; return the number of runs."""
        if self._chunk:
            self._spill()
        return self.runs


def _unique(lines: Iterable[bytes]) -> Iterator[bytes]:
    previous = None
    for line in lines:
        if line != previous:
            previous = line
            yield line


def _turtle_header(prefixes: dict[str, str]) -> bytes:
    """Return the ``@prefix`` lines Oxigraph's Turtle serialiser starts a document with."""
    probe = NamedNode("urn:cokg:probe")
    text = serialize([Triple(probe, probe, probe)], None, TURTLE.oxigraph, prefixes=prefixes)
    if text is None:  # pragma: no cover - serialize returns the bytes when given no output
        raise CokgError("Oxigraph's serialiser returned nothing")
    return text[: text.index(b"<urn:cokg:probe>")]


class _Formatter:
    """Formats sorted, distinct triples into subject records."""

    def __init__(self, base_iri: str, formats: frozenset[str] = UNION_FORMATS) -> None:
        self.prefixes = prefixes_for(base_iri)
        self.header = _turtle_header(self.prefixes)
        self.encode = _compact_json()
        self.keys: dict[str, tuple[str, str, bool]] = {}
        self.turtle, self.jsonld = "ttl" in formats, "jsonld" in formats

    def batch(self, lines: list[bytes]) -> list[Record]:
        """Return the records of ``lines``, sorted, distinct, each subject whole.

        The N-Triples lines are always in a record (a subject found in several runs is
        formatted again from them); the Turtle and JSON-LD pieces are empty when not wanted.
        """
        data = b"".join(lines)
        if self.jsonld:
            nodes, sizes = _jsonld_nodes(data.decode("utf-8").split("\n")[:-1], self.keys)
            encode = self.encode
            nodes_json = [encode(node).encode("utf-8") for node in nodes]
        else:
            sizes = _subject_sizes(lines)
            nodes_json = [b""] * len(sizes)
        if self.turtle:
            # The lines are the store's own N-Triples: no need to check the IRIs again.
            triples = parse(data, NTRIPLES.oxigraph, lenient=True)
            text = serialize(triples, None, TURTLE.oxigraph, prefixes=self.prefixes) or b""
            if not text.startswith(self.header):  # pragma: no cover - a change in Oxigraph
                raise CokgError("Oxigraph's Turtle serialiser changed how it starts a document")
            blocks = _SUBJECT_START.split(text[len(self.header) :])
            if len(blocks) != len(sizes) + 1:
                raise CokgError("cannot cut the Turtle of a batch at its subjects")
            ttl = [block + b"\n" for block in blocks[:-1]]
        else:
            ttl = [b""] * len(sizes)
        records: list[Record] = []
        start = 0
        for size, block, node in zip(sizes, ttl, nodes_json, strict=True):
            first, end = lines[start], start + size
            key = first[: first.find(b" ") + 1]
            records.append((key, b"".join(lines[start:end]), block, node, size))
            start = end
        return records


def _subject_sizes(lines: list[bytes]) -> list[int]:
    """Return the number of lines of each subject of sorted N-Triples ``lines``, in order."""
    sizes: list[int] = []
    previous = b""
    count = 0
    for line in lines:
        key = line[: line.find(b" ") + 1]
        if key != previous:
            if count:
                sizes.append(count)
            previous, count = key, 0
        count += 1
    if count:
        sizes.append(count)
    return sizes


def _compact_json() -> Callable[[Any], str]:
    """Return a function that writes a value as compact JSON, non-ASCII characters kept.

    The text of ``json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode``, with
    the C encoder made once instead of at each call (that costs a third of the time of a node
    object).
    """
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - a Python without json's C accelerator
        return standard.encode
    encoder = make(
        None, standard.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return lambda value: "".join(encoder(value, 0))


_SUBJECT_START = re.compile(rb"\n(?!\t)")
"""Where a subject's block ends in Oxigraph's Turtle: a new line not followed by a tab."""


def _records(lines: list[bytes], formatter: _Formatter) -> Iterator[Record]:
    """Yield the records of the sorted, distinct ``lines``, a batch of whole subjects at a time."""
    start = 0
    while start < len(lines):
        end = min(start + _BATCH_LINES, len(lines))
        if end < len(lines):  # move the cut to the end of the subject
            last = lines[end - 1]
            key = last[: last.find(b" ") + 1]
            while end < len(lines) and lines[end].startswith(key):
                end += 1
        yield from formatter.batch(lines[start:end])
        start = end


_RUN_HEADER = struct.Struct("<5I")
"""A record's header in a run file: the lengths of its four pieces and its triple count."""


def _write_run(records: Iterable[Record], handle: IO[bytes]) -> None:
    """Write ``records`` to a run file: a binary header of lengths, then the bytes, for each."""
    pack = _RUN_HEADER.pack
    for key, nt, ttl, jsonld, count in records:
        header = pack(len(key), len(nt), len(ttl), len(jsonld), count)
        handle.write(header + key + nt + ttl + jsonld)


def _read_run(path: Path) -> Iterator[Record]:
    unpack, size = _RUN_HEADER.unpack, _RUN_HEADER.size
    with path.open("rb", buffering=1 << 16) as handle:
        read = handle.read
        while header := read(size):
            a, b, c, d, count = unpack(header)
            b += a
            c += b
            blob = read(c + d)
            yield blob[:a], blob[a:b], blob[b:c], blob[c:], count


def _merge_runs(
    scratch: Path, runs: int, base_iri: str, formats: frozenset[str] = UNION_FORMATS
) -> Iterator[Record]:
    """Yield the records of every run in subject order, merging a subject found in several."""
    formatter = _Formatter(base_iri, formats)
    paths = [scratch / f"run-{run}" for run in range(runs)]
    pending: list[Record] = []
    # Ordered by the key alone: records of one subject are joined whatever their order.
    for record in heapq.merge(*(_read_run(path) for path in paths), key=_subject):
        if pending and record[0] != pending[0][0]:
            yield _join(pending, formatter)
            pending = []
        pending.append(record)
    if pending:
        yield _join(pending, formatter)


_subject = operator.itemgetter(0)


def _join(records: list[Record], formatter: _Formatter) -> Record:
    if len(records) == 1:
        return records[0]
    lines = sorted({line for each in records for line in each[1].splitlines(keepends=True)})
    (joined,) = formatter.batch(lines)
    return joined


_Writable = _Sink | _Behind


def _write_records(
    records: Iterable[Record],
    nt: _Writable | None,
    ttl: _Writable | None,
    jsonld: _Writable | None,
    header: bytes,
) -> int:
    """Write the records' pieces to the three files, with their framing; return the triples.

    A file given as None is left out.

    Turtle starts with ``header``, its ``@prefix`` lines (none when the union is empty, as Oxigraph
    writes it), JSON-LD with the context; node objects are separated by ``,`` and a new line.
    The files are left open (the caller commits them).
    """
    context = json.dumps(CONTEXT["@context"], ensure_ascii=False, indent=2)
    if jsonld is not None:
        jsonld.write(b'{\n"@context": ' + context.encode("utf-8") + b',\n"@graph": [')
    count = 0
    pieces: tuple[list[bytes], ...] = ([], [], [])
    size = 0
    separator = b"\n"
    for _, nt_piece, ttl_piece, jsonld_piece, lines in records:
        if not count:
            pieces[1].append(header)
        count += lines
        pieces[0].append(nt_piece)
        pieces[1].append(ttl_piece)
        pieces[2].extend((separator, jsonld_piece))
        separator = b",\n"
        size += len(nt_piece) + len(ttl_piece) + len(jsonld_piece)
        if size >= _MERGE_BLOCK:
            for sink, piece in zip((nt, ttl, jsonld), pieces, strict=True):
                if sink is not None:
                    sink.write(b"".join(piece))
                piece.clear()
            size = 0
    for sink, piece in zip((nt, ttl, jsonld), pieces, strict=True):
        if sink is not None:
            sink.write(b"".join(piece))
    if jsonld is not None:
        jsonld.write(b"\n]\n}\n")
    return count


_ECHAR = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([tbnrf"\'\\]))')
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ECHARS[match.group(3)]


def _jsonld_nodes(
    lines: list[str], keys: dict[str, tuple[str, str, bool]]
) -> tuple[list[dict[str, Any]], list[int]]:
    """Return the node objects of N-Triples ``lines`` (no new line) and their sizes in lines.

    The same objects as :func:`cokg.dumps.jsonld_nodes`, read from the text of the lines
    instead of parsed terms (which costs more than the rest of the work): terms are cut at
    their spaces (a subject and a predicate have none), literals unescaped. ``keys`` caches
    each predicate's keys between calls.
    """
    nodes: list[dict[str, Any]] = []
    sizes: list[int] = []
    subject_text = ""
    subject = ""
    node: dict[str, list[Any]] = {}
    start = 0
    for index, line in enumerate(lines):
        subject_line, predicate, obj = line.split(" ", 2)
        if subject_line != subject_text:
            if node:
                nodes.append(_node_object(subject, node))
                sizes.append(index - start)
                start = index
            subject_text, node = subject_line, {}
            if subject_text[0] == "<" and subject_text[1] != "<":
                subject = subject_text[1:-1]
            elif subject_text[0] == "_":
                subject = subject_text
            else:  # an RDF 1.2 triple term: not in the knowledge base
                raise CokgError(f"cannot write {line} in JSON-LD 1.1")
        known = keys.get(predicate)
        if known is None:
            if predicate[0] != "<":
                raise CokgError(f"cannot write {line} in JSON-LD 1.1")
            prop = predicate[1:-1]
            known = keys[predicate] = (
                "type" if prop == _RDF_TYPE else IRI_TERMS.get(prop) or compact_iri(prop),
                LITERAL_TERMS.get(prop) or compact_iri(prop),
                prop in IRI_TERMS,
            )
        first = obj[0]
        if first == '"':
            close = obj.rfind('"')
            value = obj[1:close]
            if "\\" in value:
                value = _ECHAR.sub(_unescape, value)
            suffix = obj[close + 1 : -2]
            if not suffix or suffix == _XSD_STRING:
                literal: Any = value
            elif suffix[0] == "@":
                literal = {"@value": value, "@language": suffix[1:]}
            else:
                literal = {"@value": value, "@type": compact_iri(suffix[3:-1])}
            node.setdefault(known[1], []).append(literal)
        elif first == "<" and obj[1] != "<":
            if known[0] == "type":
                node.setdefault("type", []).append(compact_iri(obj[1:-3]))
            elif known[2]:
                node.setdefault(known[0], []).append(obj[1:-3])
            else:
                node.setdefault(known[0], []).append({"id": obj[1:-3]})
        elif first == "_":
            if known[2]:
                node.setdefault(known[0], []).append(obj[:-2])
            else:
                key = compact_iri(predicate[1:-1]) if known[0] == "type" else known[0]
                node.setdefault(key, []).append({"id": obj[:-2]})
        else:  # an RDF 1.2 triple term: not in the knowledge base
            raise CokgError(f"cannot write {line} in JSON-LD 1.1")
    if node:
        nodes.append(_node_object(subject, node))
        sizes.append(len(lines) - start)
    return nodes, sizes


_RDF_TYPE = RDF + "type"
_XSD_STRING = f"^^<{XSD}string>"


def _main(argv: list[str]) -> None:
    """The sorter: ``python -m cokg.union SCRATCH CHUNK_LINES BASE_IRI FD WRITER [FORMATS]``.

    FD is the N-Quads file, open; WRITER the pid of the process writing it; FORMATS the union
    formats wanted, separated by commas (default: ``jsonld,nt,ttl``).

    Follows the N-Quads file as it is written (until ``SCRATCH/done`` gives its size), writes
    the runs, and prints how many, the file's SHA-256 and its number of lines.
    """
    gc.disable()  # short-lived, and nothing here makes reference cycles
    if len(argv) not in (5, 6):
        raise SystemExit(
            "usage: python -m cokg.union SCRATCH CHUNK_LINES BASE_IRI FD WRITER [FORMATS]"
        )
    scratch = Path(argv[0])
    formats = frozenset(argv[5].split(",")) if len(argv) == 6 else UNION_FORMATS
    sorter = _Sorter(scratch, int(argv[1]), argv[2], formats)
    follower = _Follower(int(argv[3]), scratch / "done", int(argv[4]))
    sorter.add(follower)
    print(sorter.close(), follower.digest.hexdigest(), follower.lines)


if __name__ == "__main__":
    _main(sys.argv[1:])
