"""cokg.search_update: what a SPARQL Update writes, or None when it cannot be bounded."""

from __future__ import annotations

import pytest

from cokg.search_update import MAX_CHARS, Written, written_by

G, H, S, T = (
    "http://example.org/g",
    "http://example.org/h",
    "http://example.org/s",
    "http://example.org/t",
)

BOUNDED = [
    (f"INSERT DATA {{ <{S}> <{T}> 1 }}", Written((), (S,))),
    (f"DELETE DATA {{ GRAPH <{G}> {{ <{S}> <{T}> 1 }} }}", Written((), (S,))),
    (
        f'INSERT DATA {{ <{S}> foaf:name "x" . GRAPH <{G}> {{ <{T}> a schema:Person }} }}',
        Written((), (S, T)),
    ),
    (f"DELETE WHERE {{ GRAPH <{G}> {{ <{S}> ?p ?o }} }}", Written((), (S,))),
    (
        f"WITH <{G}> DELETE {{ ?s ?p ?o }} INSERT {{ <{S}> ?p ?o }} WHERE {{ ?s ?p ?o }}",
        Written((G,), (S,)),
    ),
    (f"INSERT {{ GRAPH <{G}> {{ ?s <{T}> 1 }} }} WHERE {{ ?s ?p ?o }}", Written((G,), ())),
    (f"INSERT DATA {{ GRAPH <{G}> {{ _:b <{T}> 1 }} }}", Written((G,), ())),
    (f"DROP GRAPH <{G}> ; CLEAR SILENT GRAPH <{H}>", Written((G, H), ())),
    (f"CREATE GRAPH <{G}>", Written((G,), ())),
    (f"MOVE <{G}> TO <{H}>", Written((G, H), ())),
    (f"COPY <{G}> TO <{H}> ; ADD <{H}> TO <{G}>", Written((G, H), ())),
    (f"BASE <{G}/> INSERT DATA {{ <s> <p> 1 }}", Written((), (G + "/s",))),
]

UNBOUNDED = [
    f"DELETE {{ ?s <{T}> ?o }} WHERE {{ ?s <{T}> ?o }}",
    f"INSERT DATA {{ _:b <{T}> 1 }}",
    f"INSERT {{ GRAPH ?g {{ <{S}> <{T}> 1 }} }} WHERE {{ GRAPH ?g {{ }} }}",
    "CLEAR ALL",
    "DROP NAMED",
    "CLEAR DEFAULT",
    f"MOVE <{G}> TO DEFAULT",
    f"LOAD <{G}>",
    "not an update",
    f"INSERT DATA {{ <{S}> <{T}> 1 }} ; DELETE WHERE {{ ?s ?p ?o }}",
    f'INSERT DATA {{ <{S}> <{T}> "{"x" * MAX_CHARS}" }}',
]


@pytest.mark.parametrize(("update", "expected"), BOUNDED, ids=range(len(BOUNDED)))
def test_an_update_is_bounded_by_its_graphs_and_subjects(update: str, expected: Written) -> None:
    assert written_by(update) == expected


@pytest.mark.parametrize("update", UNBOUNDED, ids=range(len(UNBOUNDED)))
def test_an_update_that_cannot_be_bounded_gives_none(update: str) -> None:
    assert written_by(update) is None
