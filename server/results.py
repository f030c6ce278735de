"""Query results as HTTP bodies: pyoxigraph's serialisers, a row cap, streaming.

The store has already checked that the answer is whole (:class:`~cokg.sparql_store.SparqlStore`
never hands out a result the engine cut short). Then:

1. the solutions (triples) are written as TSV (N-Triples), one row (triple) per line, up to
   the row cap. Counting lines finds the cap; going one line past it tells that the result
   was cut, before anything is sent, so the headers can say so. An answer that came from a
   remote engine as TSV or N-Triples (:class:`~cokg.sparql_store.SolutionsText`,
   :class:`~cokg.sparql_store.TriplesText`) already is that text: it is only cut;
2. that compact text is turned into the format the client asked for (TSV and N-Triples pass
   as they are). Small answers are serialised at once (with a ``Content-Length``); large ones
   are streamed as they are serialised, so the serialised answer is never built in memory
   whole: solutions a batch of rows at a time, in the thread that sends them
   (:mod:`.solutions`, which also writes some while a remote engine's answer is still
   arriving); triples by a worker thread into a bounded queue (pyoxigraph's result objects
   cannot cross threads; the worker parses its own from the bytes). A failure before the
   first chunk is raised before the response begins (a clear error status); one later cuts
   the stream, so the client never sees a complete-looking short answer.
"""

from __future__ import annotations

import contextlib
import io
import queue
import re
import threading
import xml.parsers.expat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from pyoxigraph import (
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    Triple,
    parse,
    serialize,
)
from werkzeug.exceptions import NotAcceptable

from cokg.errors import QueryError, StoreUnavailable
from cokg.formats import NTRIPLES, RDFXML, SPARQL_TSV, SPARQL_XML, Format, ResultsFormat
from cokg.sparql_store import SolutionsText, TriplesText

from .solutions import EarlyPieces, pieces_body

STREAM_ABOVE = 1 << 18
"""Answers whose intermediate text is larger than this (bytes) are streamed."""

_CHUNK = 1 << 16


@dataclass
class Body:
    """A response body: bytes, or chunks produced while they are sent; and whether it was cut."""

    content: bytes | Iterator[bytes]
    truncated: bool = False


class _Full(Exception):
    """Raised by :class:`_LineCapped` to stop a serialiser at the cap."""


class _LineCapped(io.RawIOBase):
    """A sink that keeps the first ``lines`` lines written to it and notes any more."""

    def __init__(self, lines: int) -> None:
        self.limit = lines
        self.seen = 0
        self.chunks: list[bytes] = []
        self.truncated = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        if not chunk:
            return 0
        if self.seen >= self.limit:
            self.truncated = True
            raise _Full
        newlines = chunk.count(b"\n")
        if self.seen + newlines < self.limit:
            self.seen += newlines
            self.chunks.append(chunk)
            return len(chunk)
        cut = -1
        for _ in range(self.limit - self.seen):
            cut = chunk.index(b"\n", cut + 1)
        self.chunks.append(chunk[: cut + 1])
        self.seen = self.limit
        if cut + 1 < len(chunk):
            self.truncated = True
            raise _Full
        return len(chunk)

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


def _capped(write: Callable[[IO[bytes]], object], lines: int) -> tuple[bytes, bool]:
    """Run ``write`` into a sink that keeps ``lines`` lines; return them and whether cut."""
    sink = _LineCapped(lines)
    try:
        write(sink)  # type: ignore[arg-type]
    except _Full:
        pass
    except OSError as e:  # the embedded store evaluates lazily, while the rows are written
        raise StoreUnavailable(f"the store failed while answering: {e}") from e
    except (ValueError, RuntimeError, SyntaxError) as e:
        raise QueryError(f"the query failed: {e}") from e
    return sink.getvalue(), sink.truncated


def solutions_body(solutions: QuerySolutions, fmt: ResultsFormat, *, max_rows: int) -> Body:
    """Serialise SELECT solutions in ``fmt``, cut after ``max_rows`` rows."""
    tsv, truncated = _capped(
        lambda sink: solutions.serialize(sink, QueryResultsFormat.TSV), max_rows + 1
    )
    return _tsv_body(tsv, fmt, truncated)


def solutions_text_body(
    answer: SolutionsText,
    fmt: ResultsFormat,
    *,
    max_rows: int,
    early: EarlyPieces | None = None,
) -> Body:
    """Serialise SELECT solutions the engine sent as TSV in ``fmt``, cut after ``max_rows``.

    The TSV is cut by counting lines and passed on as it is to a client that asked for
    TSV; for another format it is parsed once, while the answer is written. ``early`` holds
    what was written while the answer arrived (given to the store as its receiver); it is
    used when it saw this very answer.
    """
    truncated = answer.rows > max_rows
    if early is not None and early.received != len(answer.text):
        early = None  # it saw another answer (or none): write it all now
    return _tsv_body(answer.head(max_rows).text, fmt, truncated, early)


def _tsv_body(
    tsv: bytes, fmt: ResultsFormat, truncated: bool, early: EarlyPieces | None = None
) -> Body:
    """Return the body for solutions in ``tsv``, written in ``fmt`` (:mod:`.solutions`)."""
    if fmt is SPARQL_TSV:
        return Body(tsv, truncated)
    if fmt is SPARQL_XML and _NOT_IN_XML_BYTES.search(tsv):
        raise _not_in_xml("a literal with a control character")
    return Body(pieces_body(tsv, fmt, early=early, stream_above=STREAM_ABOVE), truncated)


def boolean_body(answer: QueryBoolean, fmt: ResultsFormat) -> Body:
    """Serialise an ASK answer in ``fmt``."""
    return Body(answer.serialize(format=fmt.oxigraph) or b"")


def triples_body(
    triples: Iterator[Triple], fmt: Format, *, max_rows: int, prefixes: dict[str, str]
) -> Body:
    """Serialise CONSTRUCT or DESCRIBE triples in ``fmt``, cut after ``max_rows`` triples."""
    ntriples, truncated = _capped(
        lambda sink: serialize(triples, sink, RdfFormat.N_TRIPLES), max_rows
    )
    return _ntriples_body(ntriples, fmt, truncated, prefixes)


def triples_text_body(
    answer: TriplesText, fmt: Format, *, max_rows: int, prefixes: dict[str, str]
) -> Body:
    """Serialise CONSTRUCT or DESCRIBE triples the engine sent as N-Triples in ``fmt``, cut
    after ``max_rows`` triples.

    The N-Triples are cut by counting lines and passed on as they are to a client that asked
    for N-Triples; for another format they are parsed once, while the answer is written.
    """
    truncated = answer.triples > max_rows
    return _ntriples_body(answer.head(max_rows).text, fmt, truncated, prefixes)


def _ntriples_body(ntriples: bytes, fmt: Format, truncated: bool, prefixes: dict[str, str]) -> Body:
    """Return the body for the triples in ``ntriples``, written in ``fmt``."""
    if fmt is NTRIPLES:
        return Body(ntriples, truncated)

    def write(out: IO[bytes] | None) -> bytes | None:
        try:
            parsed: Iterator[Triple] = (
                quad.triple for quad in parse(ntriples, RdfFormat.N_TRIPLES)
            )
            if fmt is RDFXML:
                parsed = _xml_writable(parsed)
            if fmt.dataset:
                quads = (Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in parsed)
                return serialize(quads, out, fmt.oxigraph, prefixes=prefixes)
            return serialize(parsed, out, fmt.oxigraph, prefixes=prefixes)
        except SyntaxError as e:
            raise StoreUnavailable(f"the engine's answer is malformed: {e}") from e
        except OSError as e:
            if "RDF 1.2" not in str(e):
                raise
            raise NotAcceptable(
                f"the answer holds RDF 1.2 triple terms, which {fmt.name} cannot carry ({e}); "
                "ask for Turtle, N-Triples, N-Quads or TriG"
            ) from e

    return Body(_render(write, len(ntriples)), truncated)


_NOT_IN_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_IN_XML_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")


def _not_in_xml(what: str) -> NotAcceptable:
    return NotAcceptable(
        f"the answer holds {what}, which XML cannot carry: ask for another format "
        "(JSON, CSV or TSV for solutions; Turtle, N-Triples or JSON-LD for triples)"
    )


def check_well_formed(chunks: Iterable[bytes], what: str) -> None:
    """Raise 406 when the RDF/XML ``chunks`` (an answer written from the store) are not
    well-formed, namespace-aware XML.

    pyoxigraph writes a literal with a character XML 1.0 forbids, or a predicate that does
    not end in an XML name, as XML no parser reads: data written before such writes were
    refused, or loaded from files, can hold them.
    """
    error = _xml_error(chunks)
    if error is not None:
        raise _not_in_xml(f"{what} that RDF/XML cannot write as well-formed XML ({error})")


def _xml_error(chunks: Iterable[bytes]) -> str | None:
    """Return why ``chunks`` are not well-formed, namespace-aware XML (None: they are)."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as error:
        return str(error)
    return None


def _xml_writable(triples: Iterator[Triple]) -> Iterator[Triple]:
    """Yield ``triples``; raise 406 at the first one RDF/XML cannot carry.

    pyoxigraph's RDF/XML writer would write it anyway, as XML that is not well-formed: a
    literal with a character XML 1.0 forbids (U+0001, U+0000…), or a predicate that does
    not end in an XML name (``http://example.org/1``, ``…/a#``), which RDF/XML cannot write.
    """
    predicates: dict[str, bool] = {}
    for triple in triples:
        predicate = triple.predicate.value
        if predicate not in predicates:
            predicates[predicate] = _writes_well_formed(triple.predicate)
        if not predicates[predicate]:
            raise _not_in_xml(f"the predicate <{predicate}>, which is no XML name at its end")
        value = triple.object
        if isinstance(value, Literal) and _NOT_IN_XML_TEXT.search(value.value):
            raise _not_in_xml("a literal with a control character")
        yield triple


def _writes_well_formed(predicate: NamedNode) -> bool:
    """Tell whether pyoxigraph writes ``predicate`` in RDF/XML as namespace-well-formed XML."""
    sample = Triple(NamedNode("http://example.org/s"), predicate, Literal("o"))
    return _xml_error([serialize([sample], format=RdfFormat.RDF_XML) or b""]) is None


def _render(
    write: Callable[[IO[bytes] | None], bytes | None], size: int
) -> bytes | Iterator[bytes]:
    """Run ``write`` now for a small answer; stream it from a worker for a large one.

    ``write(out)`` writes the answer to ``out``; ``write(None)`` returns it (pyoxigraph's
    serialisers then build the bytes themselves, which costs less than writing into a file).
    """
    if size <= STREAM_ABOVE:
        return write(None) or b""
    return stream(write)


class _Cancelled(Exception):
    """The client went away: the worker stops writing."""


class _QueueSink(io.RawIOBase):
    """Collects writes into chunks of about ``_CHUNK`` bytes on a bounded queue."""

    def __init__(self, chunks: queue.Queue[object], cancelled: threading.Event) -> None:
        self._chunks = chunks
        self._cancelled = cancelled
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        if len(self._buffer) >= _CHUNK:
            self.send()
        return len(data)

    def send(self) -> None:
        if self._buffer:
            self.put(bytes(self._buffer))
            self._buffer.clear()

    def put(self, item: object) -> None:
        while not self._cancelled.is_set():
            try:
                self._chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Cancelled


_END = object()


def stream(write: Callable[[IO[bytes]], object]) -> Iterator[bytes]:
    """Return the chunks ``write`` produces, written by a worker thread as they are read.

    The worker starts at once, and the first chunk is waited for here: a failure before it
    (an engine answer malformed near its start, say) is raised here, before the response
    has begun, and becomes a clear error status. A failure later is raised by the iterator
    where it happens, so the server ends the response without its last chunk and the client
    sees a broken answer, never a complete-looking short one. Closing the iterator (the
    client went away) stops the worker.
    """
    chunks: queue.Queue[object] = queue.Queue(maxsize=8)
    cancelled = threading.Event()
    sink = _QueueSink(chunks, cancelled)

    def work() -> None:
        try:
            write(sink)  # type: ignore[arg-type]
            sink.send()
            sink.put(_END)
        except _Cancelled:
            pass
        except BaseException as error:  # handed to the reader, which raises it
            with contextlib.suppress(_Cancelled):
                sink.put(error)

    threading.Thread(target=work, name="cokg-serialise", daemon=True).start()
    return _Chunks(chunks, cancelled)


class _Chunks(Iterator[bytes]):
    """The reading end of :func:`stream`: its first item is taken when it is made."""

    def __init__(self, chunks: queue.Queue[object], cancelled: threading.Event) -> None:
        self._chunks = chunks
        self._cancelled = cancelled
        self._next = chunks.get()
        if isinstance(self._next, BaseException):
            self.close()
            raise self._next

    def __next__(self) -> bytes:
        item = self._next
        if item is _END or self._cancelled.is_set():
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self._next = _END
            self.close()
            raise item
        if not isinstance(item, bytes):
            raise TypeError(f"not a chunk: {item!r}")
        self._next = self._chunks.get()
        return item

    def close(self) -> None:
        """Stop the worker (the server calls this when the response ends, or the client left)."""
        self._cancelled.set()
