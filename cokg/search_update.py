"""What a SPARQL Update wrote, so the search index reads again only what it touched.

:func:`written_by` parses an update (rdflib's SPARQL 1.1 Update parser) and returns

- the subjects it writes: those of ``INSERT DATA``/``DELETE DATA`` and of the
  ``INSERT``/``DELETE``/``DELETE WHERE`` templates' triples whose subject is an IRI, in any
  graph: the index reads again the entries that are or link to them;
- the named graphs it changes wholesale: ``CLEAR``/``DROP``/``CREATE GRAPH <g>``,
  ``ADD``/``MOVE``/``COPY <a> TO <b>``, and a template's ``GRAPH <g>`` (or ``WITH <g>``) whose
  subject is a variable or a blank node: the index looks at everything those graphs describe;

or None when the change cannot be bounded:

- a template triple in the default graph whose subject is a variable or a blank node;
- ``GRAPH ?g`` with a variable graph in a template;
- ``CLEAR``/``DROP`` ``DEFAULT``, ``NAMED`` or ``ALL``, or ``DEFAULT`` in ``ADD``/``MOVE``/``COPY``;
- ``LOAD``, an update longer than :data:`MAX_CHARS`, or one rdflib cannot parse.

>>> written_by('INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/s> '
...            '<http://example.org/p> "o" } }')
Written(graphs=(), subjects=('http://example.org/s',))
>>> written_by("DROP GRAPH <http://example.org/g>")
Written(graphs=('http://example.org/g',), subjects=())
>>> written_by("DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdflib import URIRef
from rdflib.plugins.sparql.algebra import translateUpdate
from rdflib.plugins.sparql.parser import parseUpdate

from cokg.namespaces import PREFIXES

MAX_CHARS = 1_000_000
"""Longer updates are not parsed (a bulk load): the index is rebuilt instead."""


@dataclass(frozen=True)
class Written:
    """The named graphs an update changes wholesale, and the subjects it writes."""

    graphs: tuple[str, ...]
    subjects: tuple[str, ...]


class _Unbounded(Exception):
    """The update's change cannot be bounded to graphs and subjects."""


def written_by(update: str, *, prefixes: Mapping[str, str] = PREFIXES) -> Written | None:
    """Return what ``update`` (as run, with the store's ``prefixes``) writes; None: anything."""
    if len(update) > MAX_CHARS:
        return None
    try:
        algebra = translateUpdate(parseUpdate(update), initNs=dict(prefixes))
    except Exception:  # rdflib raises what its parser meets; the store accepted the update
        return None
    graphs: set[str] = set()
    subjects: set[str] = set()
    try:
        for operation in algebra.algebra:
            _operation(operation, graphs, subjects)
    except _Unbounded:
        return None
    return Written(tuple(sorted(graphs)), tuple(sorted(subjects)))


def _operation(operation: Any, graphs: set[str], subjects: set[str]) -> None:
    name = operation.name
    if name in ("InsertData", "DeleteData", "DeleteWhere"):
        _template(operation, None, graphs, subjects)
    elif name == "Modify":
        target = operation.withClause
        for clause in (operation.delete, operation.insert):
            if clause is not None:
                _template(clause, _graph(target) if target is not None else None, graphs, subjects)
    elif name in ("Clear", "Drop", "Create"):
        graphs.add(_graph(operation.graphiri))
    elif name in ("Add", "Move", "Copy"):
        graphs.update(_graph(graph) for graph in operation.graph)
    else:  # Load, and anything a later rdflib adds
        raise _Unbounded(name)


def _graph(term: Any) -> str:
    if not isinstance(term, URIRef):
        raise _Unbounded(str(term))  # DEFAULT, NAMED, ALL, a variable
    return str(term)


def _template(clause: Any, target: str | None, graphs: set[str], subjects: set[str]) -> None:
    """Record what a template (or a data block) writes: its IRI subjects; the whole graph when
    a subject is a variable or a blank node (unbounded in the default graph)."""
    blocks: list[tuple[str | None, Any]] = [
        (_graph(graph), triples) for graph, triples in (clause.quads or {}).items()
    ]
    blocks.append((target, clause.triples or []))
    for graph, triples in blocks:
        for subject, _, _ in triples:
            if isinstance(subject, URIRef):
                subjects.add(str(subject))
            elif graph is None:  # the default graph names no graph to look at again
                raise _Unbounded(str(subject))
            else:
                graphs.add(graph)
