"""The store: one interface over the embedded Oxigraph store and any SPARQL 1.1 engine.

Two protocols say what a store can do: :class:`ReadableStore` (query, list graphs, count,
dump) and :class:`WritableStore` (also replace, add to and delete named graphs, and run
updates). Every backend implements the protocols it really supports; callers never care which
backend they hold.

Each file, entry or shared resource lives in its own named graph. Queries see the union of
all graphs as their default graph. Replacing a graph is one transaction: a reader never sees
half of it.

>>> from cokg.formats import NTRIPLES
>>> store = OxigraphStore()
>>> data = b'<http://example.org/s> <http://example.org/p> "o" .'
>>> store.replace_graph("http://example.org/g", data, NTRIPLES)
>>> [row["o"].value for row in store.query("SELECT ?o WHERE { ?s ?p ?o }")]
['o']
>>> store.graphs()
['http://example.org/g']
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    Store,
    Triple,
    parse,
)

from cokg.errors import NotFound, ParseError, QueryError, StoreUnavailable, UnsupportedFormat
from cokg.formats import Format
from cokg.namespaces import PREFIXES
from cokg.sparql_text import has_dataset_clause

Term = NamedNode | BlankNode | Literal | Triple
QueryResult = QuerySolutions | QueryBoolean | Iterator[Triple]
"""SELECT gives :class:`pyoxigraph.QuerySolutions`, ASK a :class:`pyoxigraph.QueryBoolean`
(use ``bool()``), CONSTRUCT and DESCRIBE an iterator of :class:`pyoxigraph.Triple`."""

RdfInput = bytes | str | IO[bytes]


@runtime_checkable
class ReadableStore(Protocol):
    """A store that answers queries and hands out its graphs."""

    def query(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL 1.1 query over the union of the graphs (or the given dataset).

        Raises :class:`~cokg.errors.QueryError` for a malformed query and
        :class:`~cokg.errors.StoreUnavailable` when the backend cannot be reached.
        """
        ...

    def graphs(self) -> list[str]:
        """Return the IRIs of every named graph, sorted."""
        ...

    def count(self, graph: str | None = None) -> int:
        """Return the number of quads in ``graph``, or in the whole store."""
        ...

    def has_graph(self, graph: str) -> bool:
        """Tell whether the named graph ``graph`` exists (an empty one too, where the engine
        keeps empty graphs)."""
        ...

    def dump(self, output: IO[bytes], fmt: Format, *, graph: str | None = None) -> None:
        """Write the store (a dataset format) or one graph (any format) to ``output``.

        Raises :class:`~cokg.errors.NotFound` for an unknown graph.
        """
        ...

    def dump_default_graph(self, output: IO[bytes], fmt: Format) -> None:
        """Write the store's own default graph (not the union of the named graphs) to ``output``.

        It holds what a SPARQL Update writes outside any ``GRAPH``; the knowledge base keeps
        it empty.
        """
        ...

    def close(self) -> None:
        """Release the backend (files, connections)."""
        ...


@runtime_checkable
class WritableStore(ReadableStore, Protocol):
    """A store that can also be written, one whole named graph at a time."""

    def replace_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Replace the content of ``graph`` with ``data`` in one transaction.

        Raises :class:`~cokg.errors.ParseError` (and changes nothing) for malformed data.
        """
        ...

    def add_to_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Add ``data`` to ``graph`` in one transaction."""
        ...

    def delete_graph(self, graph: str) -> None:
        """Delete ``graph``; raises :class:`~cokg.errors.NotFound` when it does not exist."""
        ...

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update in one transaction."""
        ...

    def clear(self) -> None:
        """Delete every graph."""
        ...


_POSITION = re.compile(r"(?:line|at) (\d+)(?:[:, ]+(?:column )?(\d+))?")


def position_of(message: str) -> tuple[int | None, int | None]:
    """Return the (line, column) a parser error message points at, where it says.

    >>> position_of("error at 1:8: expected one of")
    (1, 8)
    """
    match = _POSITION.search(message)
    if not match:
        return None, None
    column = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), column


def parse_quads(
    data: RdfInput,
    fmt: Format,
    *,
    graph: str | None = None,
    base_iri: str | None = None,
    source: str | None = None,
) -> list[Quad]:
    """Parse ``data`` fully into quads, putting triples into ``graph``.

    Quads a dataset format puts into a named graph keep it; triples (and quads in the
    default graph) go to ``graph``. Parsing happens before anything is written, so a
    malformed file writes nothing.

    Raises :class:`~cokg.errors.ParseError` naming ``source``, line and column.

    >>> from cokg.formats import NTRIPLES
    >>> quads = parse_quads(b"<http://a> <http://b> <http://c> .", NTRIPLES, graph="http://g")
    >>> [str(q.graph_name) for q in quads]
    ['<http://g>']
    """
    target: NamedNode | DefaultGraph = NamedNode(graph) if graph else DefaultGraph()
    stream: IO[bytes] | bytes | str = data
    try:
        quads = []
        for quad in parse(stream, fmt.oxigraph, base_iri=base_iri):
            if isinstance(quad.graph_name, DefaultGraph):
                quad = Quad(quad.subject, quad.predicate, quad.object, target)
            quads.append(quad)
        return quads
    except SyntaxError as e:
        message = str(e)
        line, column = position_of(message)
        raise ParseError(message, source=source, line=line, column=column) from e
    except ValueError as e:  # e.g. invalid IRIs reported by the parser
        raise ParseError(str(e), source=source) from e


def _quads_as_insert_data(quads: Iterable[Quad]) -> str:
    lines = []
    for quad in quads:
        triple = f"{quad.subject} {quad.predicate} {quad.object} ."
        if isinstance(quad.graph_name, DefaultGraph):
            lines.append(triple)
        else:
            lines.append(f"GRAPH {quad.graph_name} {{ {triple} }}")
    return "INSERT DATA {\n" + "\n".join(lines) + "\n}"


class OxigraphStore:
    """The embedded store: pyoxigraph in memory, or on disk (RocksDB) at ``path``.

    Queries use the union of all graphs as the default graph, and the common prefixes
    (:data:`cokg.namespaces.PREFIXES`) are predeclared.
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        try:
            if self.path is None:
                self._store = Store()
            elif read_only:
                self._store = Store.read_only(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = Store(str(self.path))
        except OSError as e:
            raise StoreUnavailable(f"cannot open the store at {self.path}: {e}") from e

    @property
    def oxigraph(self) -> Store:
        """The underlying :class:`pyoxigraph.Store` (for bulk work in the library)."""
        return self._store

    def __repr__(self) -> str:
        return f"OxigraphStore({str(self.path) if self.path else 'in memory'})"

    def query(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL 1.1 query; see :meth:`ReadableStore.query`."""
        default: list[NamedNode | BlankNode | DefaultGraph] = [
            NamedNode(g) for g in default_graph_uris or ()
        ]
        named: list[NamedNode | BlankNode] = [NamedNode(g) for g in named_graph_uris or ()]
        # A dataset given by the protocol replaces the query's own; with none, the query's
        # FROM clauses count; with neither, the default graph is the union of the graphs.
        given = bool(default or named)
        try:
            result = self._store.query(
                sparql,
                prefixes=PREFIXES,
                use_default_graph_as_union=not given and not has_dataset_clause(sparql),
                default_graph=default if given else None,
                named_graphs=named if given else None,
            )
        except SyntaxError as e:
            line, column = position_of(str(e))
            raise QueryError(f"malformed query: {e}", line=line, column=column) from e
        except OSError as e:
            raise StoreUnavailable(f"the store failed to answer: {e}") from e
        except (ValueError, RuntimeError) as e:  # pyoxigraph's evaluation errors
            raise QueryError(str(e)) from e
        if isinstance(result, QueryTriples):
            triples: Iterator[Triple] = iter(result)
            return triples
        if isinstance(result, QuerySolutions):
            return result
        if isinstance(result, QueryBoolean):
            return result
        raise QueryError(f"unexpected query result {type(result).__name__}")

    def graphs(self) -> list[str]:
        """Return the IRIs of every named graph, sorted."""
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, NamedNode))

    def has_graph(self, graph: str) -> bool:
        """Tell whether the named graph ``graph`` exists (an empty one too)."""
        return bool(self._store.contains_named_graph(NamedNode(graph)))

    def count(self, graph: str | None = None) -> int:
        """Return the number of quads in ``graph``, or in the whole store."""
        if graph is None:
            return len(self._store)
        node = NamedNode(graph)
        return sum(1 for _ in self._store.quads_for_pattern(None, None, None, node))

    def dump(self, output: IO[bytes], fmt: Format, *, graph: str | None = None) -> None:
        """Write the store or one graph to ``output``; see :meth:`ReadableStore.dump`."""
        if graph is not None:
            if not self.has_graph(graph):
                raise NotFound(f"no graph {graph}")
            self._store.dump(output, fmt.oxigraph, from_graph=NamedNode(graph), prefixes=PREFIXES)
        elif fmt.dataset:
            self._store.dump(output, fmt.oxigraph, prefixes=PREFIXES)
        else:
            raise UnsupportedFormat(
                f"{fmt.label} holds one graph: name a graph or pick N-Quads or TriG for the store"
            )

    def dump_default_graph(self, output: IO[bytes], fmt: Format) -> None:
        """Write the store's own default graph to ``output``; see :class:`ReadableStore`."""
        self._store.dump(output, fmt.oxigraph, from_graph=DefaultGraph(), prefixes=PREFIXES)

    def replace_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Replace ``graph`` with ``data`` in one transaction."""
        quads = parse_quads(data, fmt, graph=graph, base_iri=base_iri)
        self.replace_graph_quads(graph, quads)

    def replace_graph_quads(self, graph: str, quads: Iterable[Quad]) -> None:
        """Replace ``graph`` with ``quads`` (all in ``graph``) in one transaction."""
        self.replace_graphs_quads([graph], quads)

    def replace_graphs_quads(self, graphs: Iterable[str], quads: Iterable[Quad]) -> None:
        """Replace every graph of ``graphs`` with ``quads`` in one transaction (a graph given
        no quads is kept, empty: a Graph Store ``PUT`` of an empty body creates it)."""
        drops = "".join(
            f"DROP SILENT GRAPH <{graph}> ;\nCREATE SILENT GRAPH <{graph}> ;\n" for graph in graphs
        )
        self._update(drops + _quads_as_insert_data(quads))

    def add_to_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Add ``data`` to ``graph`` in one transaction."""
        self.add_quads(parse_quads(data, fmt, graph=graph, base_iri=base_iri))

    def add_quads(self, quads: Iterable[Quad]) -> None:
        """Add ``quads`` in one transaction."""
        try:
            self._store.extend(quads)
        except OSError as e:
            raise StoreUnavailable(f"the store failed to write: {e}") from e

    def delete_graph(self, graph: str) -> None:
        """Delete ``graph``; raises :class:`~cokg.errors.NotFound` when it does not exist."""
        if not self.has_graph(graph):
            raise NotFound(f"no graph {graph}")
        self._update(f"DROP GRAPH <{graph}>")

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update in one transaction."""
        self._update(sparql, prefixes=True)

    def _update(self, sparql: str, *, prefixes: bool = False) -> None:
        try:
            self._store.update(sparql, prefixes=PREFIXES if prefixes else None)
        except SyntaxError as e:
            line, column = position_of(str(e))
            raise QueryError(f"malformed update: {e}", line=line, column=column) from e
        except OSError as e:
            raise StoreUnavailable(f"the store failed to write: {e}") from e
        except (ValueError, RuntimeError) as e:  # e.g. DROP GRAPH of a graph that is not there
            raise QueryError(str(e)) from e

    def clear(self) -> None:
        """Delete every graph."""
        self._store.clear()

    def flush(self) -> None:
        """Make sure every write has reached the disk (no-op in memory or read-only)."""
        if self.path is not None and not self.read_only:
            self._store.flush()

    def close(self) -> None:
        """Flush; pyoxigraph closes the files when the store is released."""
        self.flush()


_FINGERPRINTS: weakref.WeakKeyDictionary[ReadableStore, tuple[float, float, str]] = (
    weakref.WeakKeyDictionary()
)
"""Each store's last fingerprint reading: when it began, how long it took, the fingerprint."""
_FINGERPRINTS_LOCK = threading.Lock()
COST_SHARE = 50
"""A timed fingerprint reading is reused until this many times its own duration has passed:
the checks then take at most a fiftieth of the store's time. Reading a store of 100 000 entries
through ``oxigraph serve`` took 5 s of the engine (1.2 s to list 100 008 graphs, 4 s to count
6.6 M triples) and 0.5–0.7 s of cokg's CPU: once a minute, for an engine that cokg reaches by
URL only (for a store whose files it sees, the checks look at the files first), that was a
twelfth of a core, and more as the store grows."""


def store_fingerprint(store: ReadableStore, *, max_age: float = 0.0) -> str:
    """Return a fingerprint of ``store``: a digest of its graph list and its size.

    What the derived caches (search index, dumps, dataset figures, sitemap) compare to tell
    that the store changed behind their back. Taking one reads every graph name and counts
    the store (seconds at 100 000 entries), so with ``max_age`` a fingerprint taken of the
    same store at most that many seconds ago, by any of them, is returned instead: the caches
    that check on a timer share one reading; and a reading that took long is kept for
    :data:`COST_SHARE` times its duration if that is longer. ``max_age=0`` (after a write)
    always reads.

    >>> store = OxigraphStore()
    >>> first = store_fingerprint(store)
    >>> store.update('INSERT DATA { GRAPH <http://g> { <http://s> <http://p> "o" } }')
    >>> store_fingerprint(store, max_age=3600) == first  # the shared reading, not yet renewed
    True
    >>> store_fingerprint(store) == first
    False
    """
    if max_age > 0:
        with _FINGERPRINTS_LOCK:
            taken = _FINGERPRINTS.get(store)
        if taken is not None:
            began, took, kept_fingerprint = taken
            if time.monotonic() - began <= max(max_age, COST_SHARE * took):
                return kept_fingerprint
    started = time.monotonic()
    digest = hashlib.sha256()
    for graph in store.graphs():
        digest.update(graph.encode() + b"\n")
    digest.update(str(store.count()).encode())
    fingerprint = digest.hexdigest()
    took = time.monotonic() - started
    with contextlib.suppress(TypeError), _FINGERPRINTS_LOCK:  # TypeError: not weakly referable
        kept = _FINGERPRINTS.get(store)
        if kept is None or kept[0] <= started:  # never replace a reading begun later
            _FINGERPRINTS[store] = (started, took, fingerprint)
    return fingerprint


def dump_to_bytes(store: ReadableStore, fmt: Format, *, graph: str | None = None) -> bytes:
    """Return :meth:`ReadableStore.dump` output as bytes (for small graphs and tests)."""
    buffer = io.BytesIO()
    store.dump(buffer, fmt, graph=graph)
    return buffer.getvalue()


def is_url(spec: str) -> bool:
    """Tell whether a ``--store`` value names a remote SPARQL endpoint rather than a folder.

    >>> is_url("http://127.0.0.1:7878/query"), is_url("./kb")
    (True, False)
    """
    return spec.startswith(("http://", "https://"))


def open_store(spec: str | Path, *, create: bool = False) -> ReadableStore:
    """Open the store a user named: a SPARQL endpoint URL or an on-disk Oxigraph folder.

    A folder that does not exist is created when ``create`` is true; otherwise it raises
    :class:`~cokg.errors.NotFound`.
    """
    text = str(spec)
    if is_url(text):
        from cokg.sparql_store import SparqlStore  # only needed for remote engines

        remote: ReadableStore = SparqlStore.for_endpoint(text)
        return remote
    path = Path(text)
    if not create and not path.exists():
        raise NotFound(f"no store at {path} (create one with `cokg load --store {path}`)")
    return OxigraphStore(path)
