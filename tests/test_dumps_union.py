"""cokg.union: the one-pass union dumps are the bytes of the chained writers, however made."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse, serialize

from cokg.describe import IRI_TERMS
from cokg.dumps import (
    jsonld_nodes,
    write_jsonld,
    write_nquads,
    write_sorted_union,
    write_turtle,
)
from cokg.errors import CokgError, StoreUnavailable
from cokg.formats import NQUADS
from cokg.namespaces import RDF, XSD
from cokg.store import OxigraphStore, ReadableStore
from cokg.union import (
    _Behind,
    _compact_json,
    _jsonld_nodes,
    write_union,
)

BASE = "https://w3id.org/coprod/"
UNION = ("nt", "ttl", "jsonld")


def chained(store: OxigraphStore, folder: Path) -> dict[str, bytes]:
    """Return the four files as the chained writers make them (N-Quads, then each from it)."""
    folder.mkdir()
    write_nquads(store, folder / "cokg.nq")
    write_sorted_union(folder / "cokg.nq", folder / "cokg.nt")
    write_turtle(folder / "cokg.nt", folder / "cokg.ttl", base_iri=BASE)
    write_jsonld(folder / "cokg.nt", folder / "cokg.jsonld")
    return {ext: (folder / f"cokg.{ext}").read_bytes() for ext in ("nq", *UNION)}


def one_pass(
    store: ReadableStore, folder: Path, *, chunk_lines: int, parallel: bool
) -> dict[str, Any]:
    """Return the files :func:`write_union` writes (and, under "", what it returned)."""
    folder.mkdir()
    written = write_union(store, folder, base_iri=BASE, chunk_lines=chunk_lines, parallel=parallel)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"cokg.{e}" for e in written)
    for ext, done in written.items():  # what the manifest will say is what is on disk
        data = (folder / f"cokg.{ext}").read_bytes()
        assert (done.byte_size, done.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    return {ext: (folder / f"cokg.{ext}").read_bytes() for ext in written} | {"": written}


@pytest.mark.parametrize(
    ("chunk_lines", "parallel"),
    [(10**6, True), (40, True), (40, False)],
    ids=["in memory", "sorter process, small chunks", "in this process, small chunks"],
)
def test_one_pass_writes_the_bytes_of_the_chained_writers(
    store: OxigraphStore, tmp_path: Path, chunk_lines: int, parallel: bool
) -> None:
    expected = chained(store, tmp_path / "chained")
    got = one_pass(store, tmp_path / "pass", chunk_lines=chunk_lines, parallel=parallel)
    for ext in ("nq", *UNION):
        assert got[ext] == expected[ext], ext
    triples = expected["nt"].count(b"\n")
    assert {ext: w.statements for ext, w in got[""].items()} == {
        "nq": store.count(),
        **dict.fromkeys(UNION, triples),
    }


def test_the_union_files_do_not_depend_on_the_order_the_store_was_filled(
    store: OxigraphStore, tmp_path: Path
) -> None:
    quads = list(store.oxigraph)
    forward, backward = OxigraphStore(), OxigraphStore()
    forward.oxigraph.extend(quads)  # extend keeps blank node labels, unlike a load
    backward.oxigraph.extend(reversed(quads))
    first = one_pass(forward, tmp_path / "forward", chunk_lines=50, parallel=True)
    second = one_pass(backward, tmp_path / "backward", chunk_lines=50, parallel=True)
    for ext in UNION:
        assert first[ext] == second[ext], ext
    # N-Quads follow the store's own order: the same lines, not always in the same order.
    assert sorted(first["nq"].splitlines()) == sorted(second["nq"].splitlines())


class _Failing:
    """A store whose dump writes ``lines`` N-Quads lines, then fails (or ends)."""

    def __init__(self, lines: list[bytes], error: Exception | None) -> None:
        self.lines, self.error = lines, error

    def dump(self, output: IO[bytes], fmt: object, **_: object) -> None:
        assert fmt is NQUADS
        for line in self.lines:
            output.write(line)
        if self.error is not None:
            raise self.error


def test_a_sorter_that_fails_is_a_clear_error_and_leaves_no_file(tmp_path: Path) -> None:
    store = cast(ReadableStore, _Failing([b"this is not N-Quads\n"] * 100, None))
    with pytest.raises(CokgError, match="sorting the union failed"):
        write_union(store, tmp_path, base_iri=BASE, chunk_lines=10)
    # The N-Quads file was complete before the sorter failed; nothing else, nothing partial.
    assert [p.name for p in tmp_path.iterdir()] == ["cokg.nq"]
    assert (tmp_path / "cokg.nq").read_bytes() == b"this is not N-Quads\n" * 100


def test_a_store_that_fails_mid_read_leaves_no_file(tmp_path: Path) -> None:
    lines = [
        f"<http://e.org/s{i}> <http://e.org/p> <http://e.org/o> <http://e.org/g> .\n"
        for i in range(100)
    ]
    store = cast(
        ReadableStore, _Failing([line.encode() for line in lines], StoreUnavailable("gone"))
    )
    with pytest.raises(StoreUnavailable):
        write_union(store, tmp_path, base_iri=BASE, chunk_lines=10)
    assert list(tmp_path.iterdir()) == []


_IRI_TERM = next(iter(IRI_TERMS))
_PREDICATES = [RDF + "type", _IRI_TERM, "http://purl.org/dc/terms/title", "http://e.org/p"]
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_objects = st.one_of(
    _text.map(Literal),
    st.tuples(_text, st.sampled_from(["en", "fr-be", "de-ch-1901"])).map(
        lambda t: Literal(t[0], language=t[1])
    ),
    st.tuples(_text, st.sampled_from(["gYear", "integer", "string", "date"])).map(
        lambda t: Literal(t[0], datatype=NamedNode(XSD + t[1]))
    ),
    st.sampled_from(["a", "b/c", "é"]).map(lambda s: NamedNode(f"http://e.org/{s}")),
    st.sampled_from(["b1", "x"]).map(BlankNode),
)
_subjects = st.one_of(
    st.sampled_from(["s", "t"]).map(lambda s: NamedNode(f"http://e.org/{s}")),
    st.just(BlankNode("b1")),
)
_triples = st.lists(
    st.builds(Triple, _subjects, st.sampled_from(_PREDICATES).map(NamedNode), _objects),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(_triples)
def test_json_ld_read_from_the_line_text_is_the_json_ld_of_the_parsed_terms(
    triples: list[Triple],
) -> None:
    text = serialize(triples, None, RdfFormat.N_TRIPLES) or b""
    lines = sorted(set(text.splitlines(keepends=True)))
    data = b"".join(lines)
    expected = list(jsonld_nodes(parse(data, RdfFormat.N_TRIPLES)))
    nodes, sizes = _jsonld_nodes(data.decode("utf-8").split("\n")[:-1], {})
    assert json.dumps(nodes, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    assert sum(sizes) == len(lines)


def test_a_triple_term_cannot_be_written_in_json_ld() -> None:
    line = "<< <http://e.org/a> <http://e.org/b> <http://e.org/c> >> <http://e.org/p> <http://e.org/o> ."
    with pytest.raises(CokgError, match=r"JSON-LD 1\.1"):
        _jsonld_nodes([line], {})


LAUNCHER = """
import os, subprocess, sys
scratch, nquads = sys.argv[1], sys.argv[2]
fd = os.open(nquads, os.O_RDONLY)
with open(os.path.join(scratch, "sort.err"), "wb") as errors:
    child = subprocess.Popen(
        [sys.executable, "-m", "cokg.union", scratch, "40", "https://kb.example/", str(fd),
         str(os.getpid())],
        pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
    )
print(child.pid)
"""


def test_a_sorter_whose_writer_died_stops(tmp_path: Path) -> None:
    """A sorter left behind by a killed dump (no ``done`` will come) ends, with a reason."""
    nquads = tmp_path / "cokg.nq.partial"
    nquads.write_bytes(b"<https://kb.example/a> <https://kb.example/b> <https://kb.example/c> .\n")
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(tmp_path), str(nquads)],
        capture_output=True,
        check=True,
        text=True,
    )
    pid = int(launched.stdout)  # the launcher, its writer, has exited by now
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the sorter still waits for a writer that is gone"
        time.sleep(0.05)
    assert "the process writing the N-Quads dump has gone" in (tmp_path / "sort.err").read_text()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "Z"


class _Broken:
    """A sink whose disk is full."""

    size = 0

    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")


def test_a_file_written_behind_reports_its_error_to_the_writer() -> None:
    behind = _Behind(cast(Any, _Broken()))
    behind.write(b"first")
    with pytest.raises(OSError, match="No space left"):
        behind.close()
    with pytest.raises(OSError, match="No space left"):
        behind.write(b"more")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_compact_json_is_the_standard_encoders_text(value: Any) -> None:
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    assert _compact_json()(value) == standard(value)


@pytest.mark.parametrize("chunk_lines", [10**6, 40], ids=["in memory", "sorter process"])
@pytest.mark.parametrize("ext", UNION)
def test_one_union_format_alone_has_the_bytes_of_the_whole_pass(
    store: OxigraphStore, tmp_path: Path, ext: str, chunk_lines: int
) -> None:
    expected = chained(store, tmp_path / "chained")
    folder = tmp_path / "alone"
    folder.mkdir()
    written = write_union(store, folder, base_iri=BASE, chunk_lines=chunk_lines, formats=[ext])
    assert [p.name for p in folder.iterdir()] == [f"cokg.{ext}"]  # no N-Quads, no scratch
    data = (folder / f"cokg.{ext}").read_bytes()
    assert data == expected[ext]
    assert list(written) == [ext]
    assert written[ext].sha256 == hashlib.sha256(data).hexdigest()
    assert written[ext].statements == expected["nt"].count(b"\n")


@pytest.mark.parametrize("formats", [[], ["nq"], ["ttl", "rdf"]])
def test_write_union_needs_known_formats_with_a_union_one(
    store: OxigraphStore, tmp_path: Path, formats: list[str]
) -> None:
    with pytest.raises(ValueError, match="union format"):
        write_union(store, tmp_path, base_iri=BASE, chunk_lines=40, formats=formats)
    assert list(tmp_path.iterdir()) == []
