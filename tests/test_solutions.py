"""server/solutions.py: SELECT answers written piece by piece are the answers written whole.

Each test writes a TSV answer in JSON, XML and CSV the way the endpoint does — a batch of rows
at a time, some while the answer "arrives" in parts of every size, the rest while it is sent —
and compares the bytes with pyoxigraph writing the same rows in one call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyoxigraph import QueryResultsFormat, parse_query_results

from cokg.errors import StoreUnavailable
from cokg.formats import SPARQL_CSV, SPARQL_JSON, SPARQL_XML, ResultsFormat
from cokg.server import solutions
from cokg.server.solutions import EarlyPieces, Pieces, pieces_body

FORMATS = [SPARQL_JSON, SPARQL_XML, SPARQL_CSV]
HEADER = b"?s\t?label\t?n\n"


def answer(rows: int) -> bytes:
    """A TSV answer: IRIs, literals that need escaping in every format, unbound values."""
    lines = [
        b'<http://example.org/item/%d>\t"line\\none, \\"%d\\" <&>"@fr\t%s\n'
        % (i, i, b"" if i % 7 == 0 else b"%d" % i)
        for i in range(rows)
    ]
    return HEADER + b"".join(lines)


def whole(tsv: bytes, fmt: ResultsFormat) -> bytes:
    written = parse_query_results(tsv, QueryResultsFormat.TSV).serialize(format=fmt.oxigraph)
    assert written is not None
    return written


def head(tsv: bytes, rows: int) -> bytes:
    """The header and the first ``rows`` rows."""
    return b"".join(tsv.splitlines(keepends=True)[: rows + 1])


def joined(body: bytes | Iterator[bytes]) -> bytes:
    return body if isinstance(body, bytes) else b"".join(body)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solutions, "BATCH", 700)  # a few rows a batch: many pieces


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("rows", [0, 1, 2, 9, 120])
def test_pieces_joined_are_the_answer_written_whole(fmt: ResultsFormat, rows: int) -> None:
    tsv = answer(rows)
    for stream_above in (0, 1 << 20):
        assert joined(pieces_body(tsv, fmt, stream_above=stream_above)) == whole(tsv, fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_no_variables_and_empty_rows(fmt: ResultsFormat) -> None:
    for tsv in (b"\n", b"\n\n\n"):
        assert joined(pieces_body(tsv, fmt, stream_above=0)) == whole(tsv, fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("part", [1, 50, 999, 4096])
@pytest.mark.parametrize("cap", [0, 33, 119, 120, 500])
@pytest.mark.parametrize("limit", [0, 3000, 1 << 23])
def test_rows_written_while_the_answer_arrives_make_the_same_answer(
    fmt: ResultsFormat, part: int, cap: int, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(solutions, "EARLY_LIMIT", limit)
    tsv = answer(120)
    early = EarlyPieces(fmt, max_rows=cap)
    early.begin("text/tab-separated-values")
    for start in range(0, len(tsv), part):
        early.receive(tsv[start : start + part])
    assert early.received == len(tsv)
    assert early.rows <= cap
    if cap >= 120 and part < 3000 and limit:
        assert early.pieces  # some rows were written before the answer was complete
    capped = head(tsv, cap)
    for stream_above in (0, 1 << 20):
        body = pieces_body(capped, fmt, early=early, stream_above=stream_above)
        assert joined(body) == whole(capped, fmt)


def test_an_answer_in_another_format_is_left_alone() -> None:
    early = EarlyPieces(SPARQL_JSON, max_rows=100)
    early.begin("application/sparql-results+json")
    early.receive(b'{"head":{"vars":[]},"results":{"bindings":[]}}' * 100)
    assert early.pieces == [] and early.error is None


def test_starting_again_forgets_what_came_before() -> None:
    tsv = answer(60)
    early = EarlyPieces(SPARQL_JSON, max_rows=100)
    early.begin("text/tab-separated-values")
    early.receive(b"?other\n" + b"<http://example.org/x>\n" * 200)  # an engine that restarted
    early.begin("text/tab-separated-values")
    early.receive(tsv)
    assert early.received == len(tsv)
    assert joined(pieces_body(tsv, SPARQL_JSON, early=early, stream_above=0)) == whole(
        tsv, SPARQL_JSON
    )


def test_a_malformed_row_met_early_is_raised_before_the_response() -> None:
    tsv = answer(30) + b"not a term\t\t\n" + answer(30)[len(HEADER) :]
    early = EarlyPieces(SPARQL_JSON, max_rows=100)
    early.begin("text/tab-separated-values")
    early.receive(tsv)  # never raises itself
    assert early.error is not None
    with pytest.raises(StoreUnavailable, match="malformed"):
        pieces_body(tsv, SPARQL_JSON, early=early, stream_above=1 << 20)


def test_a_malformed_row_met_late_cuts_the_stream() -> None:
    tsv = answer(60) + b"not a term\t\t\n"
    chunks = pieces_body(tsv, SPARQL_JSON, stream_above=0)
    assert not isinstance(chunks, bytes)
    first = next(chunks)  # made before the response begins
    assert first.startswith(b'{"head"')
    with pytest.raises(StoreUnavailable, match="malformed"):
        for _ in chunks:
            pass


def test_tsv_is_not_written_in_pieces() -> None:
    with pytest.raises(ValueError, match="TSV"):
        Pieces(HEADER, solutions.SPARQL_TSV)
