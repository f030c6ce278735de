"""SELECT answers written in the client's format piece by piece, from SPARQL TSV.

pyoxigraph's results writers put each solution on its own: the JSON, XML or CSV of rows
``r1 … rn`` is a head (the variables), the rows one after the other (JSON puts a comma between
two), and a tail. So an answer can be written in pieces — a batch of TSV lines at a time — and
the pieces joined are, byte for byte, what one call on the whole answer writes
(:class:`Pieces`). The endpoint uses this twice:

- while a remote engine's TSV answer is still arriving, :class:`EarlyPieces` writes the rows
  that have come so far (on the other core, the engine is still writing the rest), so that
  little is left to write once the answer is complete and checked;
- while the response is sent, :func:`pieces_body` writes the rest a batch at a time, in the thread
  that sends it: a large answer is streamed, never held in memory in the client's format, and
  no second thread has to hand it over.

A malformed row met before the response begins is a 503 (:class:`~cokg.errors.StoreUnavailable`);
one met later cuts the stream, so the client never sees a complete-looking short answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from pyoxigraph import QueryResultsFormat, parse_query_results

from cokg.errors import StoreUnavailable
from cokg.formats import SPARQL_CSV, SPARQL_JSON, SPARQL_TSV, SPARQL_XML, ResultsFormat

BATCH = 1 << 16
"""Bytes of TSV written at a time (a batch ends at the end of a line)."""

EARLY_LIMIT = 1 << 23
"""Bytes of the client's format written from an answer that is still arriving, at most: the
rest is written while the response is sent, so a large answer is not held in memory twice."""

_TAILS = {SPARQL_JSON: b"]}}", SPARQL_XML: b"</results></sparql>", SPARQL_CSV: b""}
_SEPARATORS = {SPARQL_JSON: b","}


def _written(tsv: bytes, fmt: ResultsFormat) -> bytes:
    """Return the solutions in ``tsv`` (a header line, then rows) written in ``fmt``."""
    try:
        written = parse_query_results(tsv, QueryResultsFormat.TSV).serialize(format=fmt.oxigraph)
    except SyntaxError as e:
        raise StoreUnavailable(f"the engine's answer is malformed: {e}") from e
    return written or b""


class Pieces:
    """Writes the rows of one SELECT answer in ``fmt`` (not TSV), batch after batch.

    ``header`` is the answer's TSV header line, line break included. Join :attr:`head`, what
    :meth:`rows` returns for each batch in order, and :attr:`tail`.
    """

    def __init__(self, header: bytes, fmt: ResultsFormat) -> None:
        if fmt not in _TAILS:
            raise ValueError(f"{fmt.label} is not written in pieces")
        self.fmt = fmt
        self.tail = _TAILS[fmt]
        self._header = header
        self._separator = _SEPARATORS.get(fmt, b"")
        empty = _written(header, fmt)
        if not empty.endswith(self.tail):
            raise StoreUnavailable(f"unexpected {fmt.label} for no rows: {empty[-200:]!r}")
        self.head = empty[: len(empty) - len(self.tail)]
        self._first = True

    def rows(self, lines: bytes) -> bytes:
        """Return whole TSV ``lines`` (one row each) written in the format, as the next piece."""
        if not lines:
            return b""
        written = _written(self._header + lines, self.fmt)
        end = len(written) - len(self.tail)
        if not written.startswith(self.head) or written[end:] != self.tail:
            raise StoreUnavailable(f"unexpected {self.fmt.label} for rows: {written[:200]!r}")
        piece = written[len(self.head) : end]
        if self._first:
            self._first = False
            return piece
        return self._separator + piece


class EarlyPieces:
    """Writes the rows of a TSV answer in ``fmt`` while it arrives (see the module documentation).

    A :class:`~cokg.sparql_store.AnswerReceiver`: the store calls :meth:`begin` when an answer's
    body starts (again, when it asks a restarted engine) and :meth:`receive` with each part of it,
    before it has checked the answer whole. Rows past ``max_rows`` are not written; nor are any
    once :data:`EARLY_LIMIT` bytes are. It never raises: what goes wrong is kept, and raised by
    :func:`pieces_body` if the answer turns out to be whole.
    """

    def __init__(self, fmt: ResultsFormat, *, max_rows: int) -> None:
        self.fmt = fmt
        self.max_rows = max_rows
        self.begin("")

    def begin(self, media_type: str) -> None:
        """Start again, for an answer in ``media_type`` (other than TSV: nothing is written)."""
        self.received = 0
        self.header: bytes | None = None
        self.pieces: list[bytes] = []
        self.rows = 0
        """Rows written so far."""
        self.written_tsv = 0
        """Bytes of TSV (after the header) written so far."""
        self.error: StoreUnavailable | None = None
        self._writer: Pieces | None = None
        self._pending = b""
        self._size = 0
        self._on = media_type == SPARQL_TSV.media_type

    def receive(self, data: bytes) -> None:
        """Take the next part of the answer; write the whole lines of a large enough batch."""
        self.received += len(data)
        if not self._on:
            return
        self._pending += data
        if self.header is None:
            end = self._pending.find(b"\n")
            if end < 0:
                return
            self.header, self._pending = self._pending[: end + 1], self._pending[end + 1 :]
        if len(self._pending) < BATCH:
            return
        end = self._pending.rfind(b"\n") + 1
        lines = self._pending[:end]
        count = lines.count(b"\n")
        if self.rows + count > self.max_rows:  # the cap is inside: the rest is for pieces_body()
            self._on = False
            return
        try:
            if self._writer is None:
                self._writer = Pieces(self.header, self.fmt)
            piece = self._writer.rows(lines)
        except StoreUnavailable as error:  # a malformed row: a 503 if the answer is whole
            self.error, self._on = error, False
            return
        except Exception:  # anything else is left for pieces_body() to meet (and report)
            self._on = False
            return
        self.pieces.append(piece)
        self.rows += count
        self.written_tsv += end
        self._size += len(piece)
        self._pending = self._pending[end:]
        if self._size >= EARLY_LIMIT:
            self._on = False

    def writer_for(self, tsv: bytes) -> tuple[Pieces, list[bytes], int] | None:
        """Return the writer, the pieces and the TSV bytes they hold, when they are the start of
        ``tsv`` (the checked answer, cut at the cap); None otherwise."""
        if self._writer is None or self.header is None or not tsv.startswith(self.header):
            return None
        done = len(self.header) + self.written_tsv
        if done > len(tsv) or tsv[done - 1 : done] != b"\n":
            return None
        return self._writer, self.pieces, done


def pieces_body(
    tsv: bytes, fmt: ResultsFormat, *, early: EarlyPieces | None = None, stream_above: int
) -> bytes | Iterator[bytes]:
    """Return ``tsv`` (whole, checked, cut at the cap) written in ``fmt``: bytes, or chunks
    written as they are sent when ``tsv`` is larger than ``stream_above`` bytes.

    What ``early`` wrote while the answer arrived (from this very answer: the caller checks) is
    used as it is. Raises :class:`~cokg.errors.StoreUnavailable` for a
    malformed row met before the response begins; one met later is raised by the iterator.
    """
    start = tsv.find(b"\n") + 1
    if start == 0:
        raise StoreUnavailable("the engine's answer has no header line")
    writer: Pieces | None = None
    pieces: list[bytes] = []
    done = start
    if early is not None:
        if early.error is not None:
            raise early.error
        reuse = early.writer_for(tsv)
        if reuse is not None:
            writer, pieces, done = reuse
    if writer is None:
        if len(tsv) <= stream_above:
            return _written(tsv, fmt)  # in one call: the fewest steps
        writer = Pieces(tsv[:start], fmt)
    batches = _batches(tsv, done)
    if len(tsv) <= stream_above:
        rest = [writer.rows(lines) for lines in batches]
        return b"".join([writer.head, *pieces, *rest, writer.tail])
    first = b"".join([writer.head, *pieces])
    if not pieces:  # begin with a batch, so that a malformed start is a 503, not a cut stream
        first += writer.rows(next(batches, b""))
    later = (writer.rows(lines) for lines in batches)
    return itertools.chain([first], later, [writer.tail])


def _batches(tsv: bytes, start: int) -> Iterator[bytes]:
    """Yield the lines of ``tsv`` from offset ``start`` in batches of about :data:`BATCH` bytes."""
    while start < len(tsv):
        end = tsv.find(b"\n", start + BATCH - 1) + 1 or len(tsv)
        yield tsv[start:end]
        start = end
