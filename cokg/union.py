"""The union of the graphs in N-Triples, Turtle and JSON-LD, in one pass over the store.

:func:`write_union` reads the store once, as N-Quads, and writes four files from that one read:
the N-Quads file itself and the union of the graphs (each triple once, lines sorted) in
N-Triples, Turtle and JSON-LD. The bytes are those of :func:`cokg.dumps.write_sorted_union`
followed by :func:`cokg.dumps.write_turtle` and :func:`cokg.dumps.write_jsonld` (tested); what
changes is how the work is spread, on a machine with more than one core:

1. While the store is read, the N-Quads lines go through a pipe to a second process (the
   *sorter*), which cuts each into its triple, sorts the triples in chunks of ``chunk_lines``
   and writes each sorted chunk to disk in ``partitions`` slices. The slices are ranges of
   subjects chosen from the first chunk, so a subject's triples all fall in one slice and the
   slices, one after the other, are the whole sorted union.
2. When the read ends, ``workers`` processes merge the slices, each slice on its own: its
   N-Triples lines, its Turtle (Oxigraph's serialiser, a batch of whole subjects at a time) and
   its JSON-LD node objects go to three fragment files.
3. This process appends the fragments, in order, to the three files (hashing them as it goes),
   while the workers are still busy with later slices.

A union that fits in one chunk is sorted and written here, with no other process. Memory
stays bounded by a chunk in each process, whatever the size of the graph; disk needs about
as much room again as the N-Triples file while it runs.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from pyoxigraph import NamedNode, Triple, parse, serialize

from cokg.describe import CONTEXT, IRI_TERMS, LITERAL_TERMS, compact_iri, prefixes_for
from cokg.dumps import Written, _node_object, _Sink, split_quad
from cokg.errors import CokgError
from cokg.formats import NQUADS, NTRIPLES, TURTLE
from cokg.namespaces import RDF, XSD
from cokg.store import ReadableStore

log = logging.getLogger("cokg.dumps")

PARTITIONS = 8
"""Slices of the sorted union merged and written independently (a few per worker)."""

WORKERS = 2
"""Processes that write the slices once the store has been read."""

_BATCH_LINES = 4096
"""Triples parsed and written at a time (whole subjects: a batch ends where a subject does)."""

_BLOCK = 1 << 20

_EXTENSIONS = ("nt", "ttl", "jsonld")


def write_union(
    store: ReadableStore,
    directory: Path,
    *,
    base_iri: str,
    chunk_lines: int,
    stem: str = "cokg",
    partitions: int = PARTITIONS,
    workers: int = WORKERS,
) -> dict[str, Written]:
    """Write ``store`` as ``{stem}.nq`` and its union as ``.nt``, ``.ttl``, ``.jsonld``.

    Returns what was written, keyed by extension (``nq``, ``nt``, ``ttl``, ``jsonld``).
    ``workers=0`` keeps all the work in this process. Raises
    :class:`~cokg.errors.StoreUnavailable` when the store cannot be read and
    :class:`~cokg.errors.CokgError` when a helper process fails; no file is left half-written.
    """
    if chunk_lines < 1 or partitions < 1:
        raise ValueError("chunk_lines and partitions must be at least 1")
    prefixes = prefixes_for(base_iri)
    with contextlib.ExitStack() as stack:
        scratch = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".union-", dir=directory))
        )
        sinks = {
            ext: stack.enter_context(_Sink(directory / f"{stem}.{ext}", count_lines=ext == "nq"))
            for ext in ("nq", *_EXTENSIONS)
        }
        splitter = _Splitter(scratch, chunk_lines, partitions, parallel=workers > 0)
        stack.callback(splitter.kill)
        began = time.perf_counter()
        store.dump(cast(IO[bytes], _Tee(sinks["nq"], splitter)), NQUADS)
        nquads = sinks["nq"].commit(sinks["nq"].newlines)
        log.debug("union: store read in %.1f s", time.perf_counter() - began)
        body = _Bodies(sinks["nt"], sinks["ttl"], sinks["jsonld"], prefixes)
        runs = splitter.finish()
        log.debug("union: %d sorted runs after %.1f s", runs, time.perf_counter() - began)
        slices = len(splitter.bounds) + 1
        if not runs:  # one chunk: sorted here
            lines = _unique(sorted(splitter.chunk))
            count = _write_lines(lines, body.nt, body.ttl, body.jsonld, prefixes)
        elif workers > 0:
            count = _merge_slices(scratch, runs, slices, workers, base_iri, body)
        else:
            count = 0
            for part in range(slices):
                with _merged(scratch, runs, part) as lines:
                    count += _write_lines(lines, body.nt, body.ttl, body.jsonld, prefixes)
        written = body.close(count)
        log.debug("union: written after %.1f s", time.perf_counter() - began)
    return {"nq": nquads, **written}


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


def _triple_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
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


class _Splitter:
    """Sorts the triples of the N-Quads stream into runs on disk, each cut into slices.

    The first chunk is collected here. If the stream ends within it, nothing is written (the
    caller sorts :attr:`chunk`); otherwise the slices are chosen from it, and the rest of the
    stream goes to a sorter process (``parallel``) or is sorted here.
    """

    def __init__(self, scratch: Path, chunk_lines: int, partitions: int, *, parallel: bool) -> None:
        self.scratch = scratch
        self.chunk_lines = chunk_lines
        self.partitions = partitions
        self.parallel = parallel
        self.chunk: list[bytes] = []
        self.bounds: list[bytes] = []
        self.runs = 0
        self._rest = b""
        self._child: subprocess.Popen[bytes] | None = None

    def feed(self, data: bytes) -> None:
        """Take the next block of N-Quads (lines may be cut anywhere)."""
        if self._child is not None:
            self._send(data)
            return
        parts = (self._rest + data).split(b"\n")
        self._rest = parts.pop()
        chunk = self.chunk
        for index, triple in enumerate(_triple_lines(part + b"\n" for part in parts)):
            chunk.append(triple)
            if len(chunk) >= self.chunk_lines:
                self._spill()
                if self.parallel:
                    self._start_sorter()
                    rest = b"".join(part + b"\n" for part in parts[index + 1 :])
                    rest, self._rest = rest + self._rest, b""
                    self._send(rest)
                    return

    def _spill(self) -> None:
        self.chunk.sort()
        if not self.runs:
            self.bounds = _bounds(self.chunk, self.partitions)
        _spill(self.chunk, self.bounds, self.scratch, self.runs)
        self.chunk.clear()
        self.runs += 1

    def _start_sorter(self) -> None:
        (self.scratch / "bounds").write_bytes(b"".join(b + b"\n" for b in self.bounds))
        command = [sys.executable, "-m", "cokg.union", "sort", str(self.scratch)]
        command += [str(self.chunk_lines), str(self.runs)]
        with (self.scratch / "sort.err").open("wb") as errors:
            self._child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
            )

    def _send(self, data: bytes) -> None:
        child = self._child
        if child is None or child.stdin is None:  # pragma: no cover - only called with a child
            raise CokgError("no sorter process")
        try:
            child.stdin.write(data)
        except BrokenPipeError:
            raise _failed(child, self.scratch / "sort.err", "sorting the union") from None

    def finish(self) -> int:
        """Wait for the sorting to end; return how many runs are on disk (0: see chunk)."""
        if self._rest:
            raise CokgError("the N-Quads dump does not end with a new line")
        child = self._child
        if child is None:
            if self.runs and self.chunk:
                self._spill()
            return self.runs
        if child.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                child.stdin.close()
        output = child.stdout.read() if child.stdout is not None else b""
        if child.wait() != 0 or not output.strip().isdigit():
            raise _failed(child, self.scratch / "sort.err", "sorting the union")
        self.runs = int(output)
        return self.runs

    def kill(self) -> None:
        """Stop the sorter process, if it still runs."""
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()


def _failed(child: subprocess.Popen[bytes], log: Path, what: str) -> CokgError:
    """Stop ``child`` and return the error to raise, with the end of what it wrote to ``log``."""
    if child.poll() is None:
        child.kill()
    child.wait()
    try:
        said = log.read_text(encoding="utf-8", errors="replace").strip()[-2000:]
    except OSError:
        said = ""
    return CokgError(f"{what} failed (status {child.returncode}): {said}")


def _bounds(ordered: list[bytes], partitions: int) -> list[bytes]:
    """Return where slices 2… start: a subject and a space, at even steps of sorted ``ordered``.

    A subject has no space (IRIs and blank nodes), so all the lines of one subject fall on
    the same side of such a bound.
    """
    bounds: list[bytes] = []
    for k in range(1, partitions):
        line = ordered[k * len(ordered) // partitions]
        bound = line[: line.find(b" ") + 1]
        if bound and (not bounds or bound > bounds[-1]):
            bounds.append(bound)
    return bounds


def _spill(ordered: list[bytes], bounds: list[bytes], scratch: Path, run: int) -> None:
    """Write the sorted ``ordered`` to the files ``run-{run}-{slice}``, one per slice."""
    cuts = [0, *(bisect.bisect_left(ordered, bound) for bound in bounds), len(ordered)]
    for part in range(len(cuts) - 1):
        with (scratch / f"run-{run}-{part}").open("wb", buffering=_BLOCK) as handle:
            handle.writelines(ordered[cuts[part] : cuts[part + 1]])


def _sort_stream(source: IO[bytes], scratch: Path, chunk_lines: int, first_run: int) -> int:
    """Sort the triples of the N-Quads lines of ``source`` into runs; return the run count."""
    bounds = [bound for bound in (scratch / "bounds").read_bytes().split(b"\n") if bound]
    run = first_run
    chunk: list[bytes] = []
    append = chunk.append
    for triple in _triple_lines(source):
        append(triple)
        if len(chunk) >= chunk_lines:
            chunk.sort()
            _spill(chunk, bounds, scratch, run)
            chunk.clear()
            run += 1
    if chunk:
        chunk.sort()
        _spill(chunk, bounds, scratch, run)
        run += 1
    return run


def _unique(lines: Iterable[bytes]) -> Iterator[bytes]:
    previous = None
    for line in lines:
        if line != previous:
            previous = line
            yield line


@contextlib.contextmanager
def _merged(scratch: Path, runs: int, part: int) -> Iterator[Iterator[bytes]]:
    """Yield the distinct lines of slice ``part`` of every run, in order; then remove them."""
    paths = [scratch / f"run-{run}-{part}" for run in range(runs)]
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(path.open("rb", buffering=1 << 16)) for path in paths]
        yield _unique(heapq.merge(*files))
    for path in paths:
        path.unlink()


def _turtle_header(prefixes: dict[str, str]) -> bytes:
    """Return the ``@prefix`` lines Oxigraph's Turtle serialiser starts a document with."""
    probe = NamedNode("urn:cokg:probe")
    text = serialize([Triple(probe, probe, probe)], None, TURTLE.oxigraph, prefixes=prefixes)
    if text is None:  # pragma: no cover - serialize returns the bytes when given no output
        raise CokgError("Oxigraph's serialiser returned nothing")
    return text[: text.index(b"<urn:cokg:probe>")]


Write = Callable[[bytes], object]


def _write_lines(
    lines: Iterable[bytes], nt: Write, ttl: Write, jsonld: Write, prefixes: dict[str, str]
) -> int:
    """Write sorted, distinct N-Triples ``lines`` in the three formats; return how many.

    Turtle goes without its ``@prefix`` lines and each JSON-LD node object is written after
    ``,\n``: :class:`_Bodies` puts the pieces together. A batch of lines ends where a subject
    does, so that Turtle and JSON-LD group each subject's triples whole.
    """
    header = _turtle_header(prefixes)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    count = 0
    batch: list[bytes] = []
    keys: dict[str, tuple[str, str, bool]] = {}

    def flush() -> None:
        data = b"".join(batch)
        nt(data)
        # The lines are the store's own N-Triples: no need to check the IRIs again.
        triples = parse(data, NTRIPLES.oxigraph, lenient=True)
        text = serialize(triples, None, TURTLE.oxigraph, prefixes=prefixes) or b""
        if not text.startswith(header):  # pragma: no cover - a change in Oxigraph
            raise CokgError("Oxigraph's Turtle serialiser changed how it starts a document")
        ttl(text[len(header) :])
        nodes = _jsonld_nodes(data.decode("utf-8").split("\n")[:-1], keys)
        jsonld("".join([",\n" + encode(node) for node in nodes]).encode("utf-8"))
        batch.clear()

    tail = b""
    for line in lines:
        if len(batch) >= _BATCH_LINES:
            if not tail:
                last = batch[-1]
                tail = last[: last.find(b" ") + 1]
            if not line.startswith(tail):
                count += len(batch)
                flush()
                tail = b""
        batch.append(line)
    if batch:
        count += len(batch)
        flush()
    return count


_ECHAR = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([tbnrf"\'\\]))')
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ECHARS[match.group(3)]


def _jsonld_nodes(
    lines: Iterable[str], keys: dict[str, tuple[str, str, bool]]
) -> Iterator[dict[str, Any]]:
    """Yield the node objects of N-Triples ``lines`` (no new line), as :func:`jsonld_nodes`.

    The same objects, read from the text of the lines instead of parsed terms (which costs
    more than the rest of the work): terms are cut at their spaces (a subject and a predicate
    have none), literals unescaped. ``keys`` caches each predicate's keys between calls.
    """
    subject_text = ""
    subject = ""
    node: dict[str, list[Any]] = {}
    for line in lines:
        cut = line.find(" ")
        rest = line.find(" ", cut + 1)
        if line.startswith("<<") or line[cut + 1] != "<":  # a triple term, or not N-Triples
            raise CokgError(f"cannot write {line} in JSON-LD 1.1")
        if line[:cut] != subject_text:
            if node:
                yield _node_object(subject, node)
            subject_text, node = line[:cut], {}
            subject = subject_text[1:-1] if subject_text[0] == "<" else subject_text
        predicate = line[cut + 1 : rest]
        known = keys.get(predicate)
        if known is None:
            prop = predicate[1:-1]
            known = keys[predicate] = (
                "type" if prop == _RDF_TYPE else IRI_TERMS.get(prop) or compact_iri(prop),
                LITERAL_TERMS.get(prop) or compact_iri(prop),
                prop in IRI_TERMS,
            )
        obj = line[rest + 1 : -2]
        first = obj[:1]
        if first == '"':
            close = obj.rfind('"')
            value = obj[1:close]
            if "\\" in value:
                value = _ECHAR.sub(_unescape, value)
            suffix = obj[close + 1 :]
            if not suffix or suffix == _XSD_STRING:
                literal: Any = value
            elif suffix[0] == "@":
                literal = {"@value": value, "@language": suffix[1:]}
            else:
                literal = {"@value": value, "@type": compact_iri(suffix[3:-1])}
            node.setdefault(known[1], []).append(literal)
        elif first == "<" and obj[1:2] != "<":
            if known[0] == "type":
                node.setdefault("type", []).append(compact_iri(obj[1:-1]))
            elif known[2]:
                node.setdefault(known[0], []).append(obj[1:-1])
            else:
                node.setdefault(known[0], []).append({"id": obj[1:-1]})
        elif first == "_":
            if known[2]:
                node.setdefault(known[0], []).append(obj)
            else:
                key = compact_iri(predicate[1:-1]) if known[0] == "type" else known[0]
                node.setdefault(key, []).append({"id": obj})
        else:  # an RDF 1.2 triple term: not in the knowledge base
            raise CokgError(f"cannot write {line} in JSON-LD 1.1")
    if node:
        yield _node_object(subject, node)


_RDF_TYPE = RDF + "type"
_XSD_STRING = f"^^<{XSD}string>"


class _Bodies:
    """The three union files: pieces are appended in order, the framing written around them."""

    def __init__(self, nt: _Sink, ttl: _Sink, jsonld: _Sink, prefixes: dict[str, str]) -> None:
        self._sinks = nt, ttl, jsonld
        self._header = _turtle_header(prefixes)
        self._turtle_started = self._jsonld_started = False
        context = json.dumps(CONTEXT["@context"], ensure_ascii=False, indent=2)
        jsonld.write(b'{\n"@context": ' + context.encode("utf-8") + b',\n"@graph": [')

    def nt(self, data: bytes) -> None:
        self._sinks[0].write(data)

    def ttl(self, data: bytes) -> None:
        if data and not self._turtle_started:  # as Oxigraph: no prefixes in an empty file
            self._turtle_started = True
            self._sinks[1].write(self._header)
        self._sinks[1].write(data)

    def jsonld(self, data: bytes) -> None:
        if data and not self._jsonld_started:
            self._jsonld_started = True
            data = data[1:]  # the first node object: no comma before it
        self._sinks[2].write(data)

    def append(self, fragments: dict[str, Path]) -> None:
        """Append one slice's fragment files (and remove them)."""
        for ext, write in zip(_EXTENSIONS, (self.nt, self.ttl, self.jsonld), strict=True):
            with fragments[ext].open("rb") as handle:
                for block in iter(lambda: handle.read(_BLOCK), b""):
                    write(block)
            fragments[ext].unlink()

    def close(self, count: int) -> dict[str, Written]:
        """End the JSON-LD document and put the three files in place."""
        self._sinks[2].write(b"\n]\n}\n")
        return {ext: sink.commit(count) for ext, sink in zip(_EXTENSIONS, self._sinks, strict=True)}


def _fragments(scratch: Path, part: int) -> dict[str, Path]:
    return {ext: scratch / f"slice-{part}.{ext}" for ext in _EXTENSIONS}


def _merge_slices(
    scratch: Path, runs: int, slices: int, workers: int, base_iri: str, body: _Bodies
) -> int:
    """Have ``workers`` processes write the slices; append their fragments in order."""
    children: list[subprocess.Popen[bytes]] = []
    try:
        for first in range(min(workers, slices)):
            command = [sys.executable, "-m", "cokg.union", "write", str(scratch), str(runs)]
            command += [base_iri, *(str(p) for p in range(first, slices, workers))]
            with (scratch / f"write-{first}.err").open("wb") as errors:
                children.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors))
        count = 0
        for part in range(slices):
            index = part % len(children)
            child, log = children[index], scratch / f"write-{index}.err"
            reply = child.stdout.readline().split() if child.stdout is not None else []
            if len(reply) != 2 or reply[0] != str(part).encode():
                raise _failed(child, log, "writing the union")
            count += int(reply[1])
            body.append(_fragments(scratch, part))
        for index, child in enumerate(children):
            if child.wait() != 0:
                raise _failed(child, scratch / f"write-{index}.err", "writing the union")
        return count
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _write_slices(scratch: Path, runs: int, base_iri: str, parts: list[int]) -> None:
    """Merge and write each slice of ``parts`` to its fragments; print ``slice count`` after it."""
    prefixes = prefixes_for(base_iri)
    for part in parts:
        with contextlib.ExitStack() as stack:
            outputs = [
                stack.enter_context(path.open("wb", buffering=_BLOCK))
                for path in _fragments(scratch, part).values()
            ]
            lines = stack.enter_context(_merged(scratch, runs, part))
            nt, ttl, jsonld = (out.write for out in outputs)
            count = _write_lines(lines, nt, ttl, jsonld, prefixes)
        print(part, count, flush=True)


def _main(argv: list[str]) -> None:
    """The helper processes: ``sort SCRATCH CHUNK FIRST`` and ``write SCRATCH RUNS BASE P…``."""
    gc.disable()  # short-lived, and nothing here makes reference cycles
    if argv[:1] == ["sort"] and len(argv) == 4:
        print(_sort_stream(sys.stdin.buffer, Path(argv[1]), int(argv[2]), int(argv[3])))
    elif argv[:1] == ["write"] and len(argv) >= 4:
        _write_slices(Path(argv[1]), int(argv[2]), argv[3], [int(p) for p in argv[4:]])
    else:
        raise SystemExit("usage: python -m cokg.union sort|write …")


if __name__ == "__main__":
    _main(sys.argv[1:])
