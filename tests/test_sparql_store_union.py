"""SparqlStore on an Oxigraph server whose default graph is the union of its named graphs
(``--union-default-graph``): every quad is counted once, so the store's fingerprint and the
dataset's ``void:triples`` are those of the same store opened as a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cokg.formats import TURTLE
from cokg.sparql_store import SparqlStore
from cokg.store import OxigraphStore, store_fingerprint
from tests.servers import oxigraph_server

pytestmark = pytest.mark.slow

GRAPHS = {
    "http://example.org/graph/a": b'<http://example.org/a> <http://example.org/p> "1", "2" .',
    "http://example.org/graph/b": b'<http://example.org/b> <http://example.org/p> "3" .',
}


def stored(folder: Path) -> str:
    """Fill an on-disk store in ``folder`` with :data:`GRAPHS`; return its fingerprint."""
    store = OxigraphStore(folder / "store")
    for graph, data in GRAPHS.items():
        store.replace_graph(graph, data, TURTLE)
    assert store.count() == 3
    fingerprint = store_fingerprint(store)
    store.close()
    return fingerprint


@pytest.mark.parametrize("union", [True, False])
def test_each_quad_is_counted_once(tmp_path: Path, union: bool) -> None:
    local = stored(tmp_path)
    with oxigraph_server(tmp_path, union_default_graph=union) as base:
        remote = SparqlStore.for_endpoint(base + "/query")
        assert remote.count() == 3
        assert remote.count("http://example.org/graph/a") == 2
        assert store_fingerprint(remote) == local
