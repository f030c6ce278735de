"""Streaming export of the store, or of one graph, in every RDF format.

Dataset formats (N-Quads, TriG) keep the named graphs; graph formats (Turtle, N-Triples,
RDF/XML, JSON-LD) get either one named graph or the union of all graphs. Output is written
as it is produced: memory does not grow with the size of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from pyoxigraph import QuerySolutions, Triple, serialize

from cokg.errors import CokgError
from cokg.formats import Format
from cokg.namespaces import PREFIXES
from cokg.store import ReadableStore

UNION_QUERY = "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o }"


def union_triples(store: ReadableStore) -> Iterator[Triple]:
    """Yield every distinct triple of the union of the graphs."""
    result = store.query(UNION_QUERY)
    if not isinstance(result, QuerySolutions):  # pragma: no cover - a store contract breach
        raise CokgError("the store answered a SELECT with something else")
    for row in result:
        yield Triple(row[0], row[1], row[2])


def export(
    store: ReadableStore, output: IO[bytes], fmt: Format, *, graph: str | None = None
) -> None:
    """Write the store to ``output`` in ``fmt``.

    With ``graph``, only that graph (any format); without it, the whole dataset for N-Quads
    and TriG, or the union of the graphs for the other formats.
    Raises :class:`~cokg.errors.NotFound` for an unknown graph.

    >>> import io
    >>> from cokg.store import OxigraphStore
    >>> from cokg.formats import NTRIPLES
    >>> store = OxigraphStore()
    >>> store.update('INSERT DATA { GRAPH <http://g> { <http://s> <http://p> "o" } }')
    >>> out = io.BytesIO(); export(store, out, NTRIPLES); out.getvalue()
    b'<http://s> <http://p> "o" .\\n'
    """
    if graph is not None or fmt.dataset:
        store.dump(output, fmt, graph=graph)
        return
    serialize(union_triples(store), output, fmt.oxigraph, prefixes=PREFIXES)
