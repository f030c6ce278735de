"""Reading the search index's entries from a store: one plain query per property, joined here.

:func:`read_entries` asks the store for the pairs (subject, object) of each property the index
uses (``dcterms:title``, ``dcterms:subject``, ``foaf:name``…), one triple pattern per query,
and joins them in Python. A triple pattern is the one query every engine answers as fast as it
can stream (Oxigraph reads it from one index, in order); the joins, OPTIONALs and property-path
alternatives the index needs are what engines plan badly (a ``UNION`` of them took minutes at
1 000 entries, ten joined queries five minutes at 100 000).

A full build reads each property whole and keeps the rows whose subject it needs; an update
(``iris`` given) binds the subjects with ``VALUES``, in chunks, so it reads only what those
entries reach.

>>> from cokg.load import open_knowledge_base
>>> entries = read_entries(open_knowledge_base())
>>> len(entries), sorted(entries[0].text)
(6, ['documents', 'organisations', 'people', 'topics'])
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyoxigraph import Literal, NamedNode, QuerySolutions

from cokg.errors import CokgError
from cokg.namespaces import COP, DCAT, DCTERMS, FOAF, ORG, RDFS, SCHEMA, SKOS
from cokg.store import ReadableStore

_CHUNK = 1000
"""Subjects per ``VALUES`` block when reading some entries again."""

DOCUMENT_TYPES = {
    SCHEMA + "ScholarlyArticle": "Scholarly article",
    SCHEMA + "Report": "Report",
    SCHEMA + "Book": "Book",
    SCHEMA + "VideoObject": "Video",
    SCHEMA + "DigitalDocument": "Digital document",
}
"""The document types the ``type`` facet counts, with their labels."""

_UNSAFE_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def safe_iri(iri: str) -> bool:
    """Tell whether ``iri`` can be written as ``<iri>`` in SPARQL as it is."""
    return bool(iri) and not _UNSAFE_IRI.search(iri)


@dataclass
class Entry:
    """An entry as the index reads it from the store (:func:`read_entries`)."""

    iri: str
    graph: str = ""
    title: str = ""
    description: str = ""
    period: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    text: dict[str, list[str]] = field(default_factory=dict)
    facets: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_text(self, column: str, value: str) -> None:
        """Add ``value`` to the text of ``column`` (once)."""
        values = self.text.setdefault(column, [])
        if value and value not in values:
            values.append(value)


def _rows(store: ReadableStore, sparql: str) -> QuerySolutions:
    result = store.query(sparql)
    if not isinstance(result, QuerySolutions):
        raise CokgError("the search index's query did not answer rows")
    return result


def _pairs(
    store: ReadableStore, predicate: str, subjects: Collection[str], *, bound: bool
) -> Iterator[tuple[str, Any]]:
    """Yield (subject, object) of ``predicate`` for the ``subjects`` (IRIs) that have it.

    ``bound``: bind the subjects with VALUES (few of them); else read the property whole and
    keep the rows of ``subjects`` (a full build needs most of them).
    """
    if not subjects:
        return
    if not bound:
        for row in _rows(store, f"SELECT ?s ?o WHERE {{ ?s <{predicate}> ?o }}"):
            subject = row[0]
            if isinstance(subject, NamedNode) and subject.value in subjects:
                yield subject.value, row[1]
        return
    listed = sorted(iri for iri in subjects if safe_iri(iri))
    for start in range(0, len(listed), _CHUNK):
        values = " ".join(f"<{iri}>" for iri in listed[start : start + _CHUNK])
        sparql = f"SELECT ?s ?o WHERE {{ VALUES ?s {{ {values} }} ?s <{predicate}> ?o }}"
        for row in _rows(store, sparql):
            yield row[0].value, row[1]


def _links(
    store: ReadableStore, predicate: str, subjects: Collection[str], *, bound: bool
) -> dict[str, list[str]]:
    """Map each of ``subjects`` to the IRIs ``predicate`` links it to."""
    links: dict[str, list[str]] = {}
    for subject, value in _pairs(store, predicate, subjects, bound=bound):
        if isinstance(value, NamedNode):
            targets = links.setdefault(subject, [])
            if value.value not in targets:
                targets.append(sys.intern(value.value))
    return links


def _labels(
    store: ReadableStore, predicates: Iterable[str], subjects: Collection[str], *, bound: bool
) -> dict[str, list[Any]]:
    """Map each of ``subjects`` to its values of ``predicates`` (literals, in order read)."""
    labels: dict[str, list[Any]] = {}
    for predicate in predicates:
        for subject, value in _pairs(store, predicate, subjects, bound=bound):
            labels.setdefault(subject, []).append(value)
    return labels


def _text(term: Any) -> str:
    return term.value if isinstance(term, Literal | NamedNode) else ""


def _english(term: Any) -> bool:
    return isinstance(term, Literal) and term.language in (None, "en")


def _first_english(terms: Iterable[Any]) -> str:
    """The first English (or untagged) literal, else ""."""
    return next((term.value for term in terms if _english(term)), "")


def _label(terms: list[Any], iri: str) -> str:
    """A facet value's label: an English (or untagged) one, else any, else its IRI's end."""
    return _first_english(terms) or next(
        (text for text in map(_text, terms) if text), local_label(iri)
    )


def _year(term: Any) -> int | None:
    if not isinstance(term, Literal):
        return None
    match = re.match(r"-?\d{4}", term.value)
    return int(match.group(0)) if match else None


def key_of(iri: str) -> str:
    """Return the short key of a facet value: the last segment of its IRI.

    >>> key_of("https://w3id.org/coprod/id/concept/keywords/participatory-budgeting")
    'participatory-budgeting'
    """
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


def local_label(iri: str) -> str:
    """A label for a value that has none: its type's name, or its key with spaces."""
    if iri in DOCUMENT_TYPES:
        return DOCUMENT_TYPES[iri]
    return key_of(iri).replace("-", " ")


def _entry_graphs(store: ReadableStore, iris: Collection[str] | None) -> dict[str, str]:
    """Map each entry (``schema:ResearchProject``; those of ``iris`` only) to its graph."""
    values = ""
    if iris is not None:
        values = "VALUES ?entry { " + " ".join(f"<{i}>" for i in sorted(iris) if safe_iri(i))
        values += " }"
    sparql = (
        f"SELECT ?entry ?graph WHERE {{ {values} "
        f"GRAPH ?graph {{ ?entry a <{SCHEMA}ResearchProject> }} }}"
    )
    graphs: dict[str, str] = {}
    for row in _rows(store, sparql):
        entry, graph = row[0], row[1]
        if isinstance(entry, NamedNode) and entry.value not in graphs:
            graphs[sys.intern(entry.value)] = _text(graph)
    return graphs


def read_entries(store: ReadableStore, iris: Iterable[str] | None = None) -> list[Entry]:
    """Read every entry (or those of ``iris``) from ``store``; see the module's docstring.

    The entries are the ``schema:ResearchProject`` of the named graphs, in no set order.
    """
    wanted = None if iris is None else set(iris)
    graphs = _entry_graphs(store, wanted)
    if not graphs:
        return []
    bound = wanted is not None
    entries = {iri: Entry(iri, graph=graph) for iri, graph in graphs.items()}
    titles = _labels(store, (DCTERMS + "title",), entries, bound=bound)
    descriptions = _labels(store, (DCTERMS + "description",), entries, bound=bound)
    temporal = _links(store, DCTERMS + "temporal", entries, bound=bound)
    subject = _links(store, DCTERMS + "subject", entries, bound=bound)
    approach = _links(store, COP + "approach", entries, bound=bound)
    contributor = _links(store, DCTERMS + "contributor", entries, bound=bound)
    funder = _links(store, SCHEMA + "funder", entries, bound=bound)
    relation = _links(store, DCTERMS + "relation", entries, bound=bound)

    def reached(links: dict[str, list[str]]) -> set[str]:
        return {target for targets in links.values() for target in targets}

    people = reached(contributor)
    member_of = _links(store, ORG + "memberOf", people, bound=bound)
    periods, concepts = reached(temporal), reached(subject) | reached(approach)
    documents = reached(relation)
    organisations = reached(member_of) | reached(funder)
    period_label = _labels(store, (RDFS + "label",), periods, bound=bound)
    starts = _labels(store, (DCAT + "startDate",), periods, bound=bound)
    ends = _labels(store, (DCAT + "endDate",), periods, bound=bound)
    pref = _labels(store, (SKOS + "prefLabel",), concepts, bound=bound)
    alt = _labels(store, (SKOS + "altLabel",), concepts | organisations, bound=bound)
    name = _labels(store, (FOAF + "name",), people | organisations, bound=bound)
    document_title = _labels(store, (DCTERMS + "title",), documents, bound=bound)
    types = _document_types(store, documents, bound=bound)

    for iri, entry in entries.items():
        entry.title = _first_english(titles.get(iri, ()))
        entry.description = _first_english(descriptions.get(iri, ()))
        for period in temporal.get(iri, ()):
            if entry.period is None and period_label.get(period):
                entry.period = _text(period_label[period][0])
            for year in map(_year, starts.get(period, ())):
                if year is not None and (entry.start_year is None or year < entry.start_year):
                    entry.start_year = year
            for year in map(_year, ends.get(period, ())):
                if year is not None and (entry.end_year is None or year > entry.end_year):
                    entry.end_year = year
        for facet, links in (("keyword", subject), ("approach", approach)):
            for concept in links.get(iri, ()):
                entry.facets[(facet, concept)] = _label(pref.get(concept, []), concept)
                for label in (*pref.get(concept, ()), *alt.get(concept, ())):
                    entry.add_text("topics", _text(label))
        for person in contributor.get(iri, ()):
            entry.facets[("person", person)] = _label(name.get(person, []), person)
            for label in name.get(person, ()):
                entry.add_text("people", _text(label))
        linked = [o for p in contributor.get(iri, ()) for o in member_of.get(p, ())]
        for organisation in (*linked, *funder.get(iri, ())):
            entry.facets[("organisation", organisation)] = _label(
                name.get(organisation, []), organisation
            )
            for label in (*name.get(organisation, ()), *alt.get(organisation, ())):
                entry.add_text("organisations", _text(label))
        for document in relation.get(iri, ()):
            for label in document_title.get(document, ()):
                entry.add_text("documents", _text(label))
            for kind in types.get(document, ()):
                entry.facets[("type", kind)] = DOCUMENT_TYPES[kind]
    return list(entries.values())


def _document_types(
    store: ReadableStore, documents: Collection[str], *, bound: bool
) -> dict[str, list[str]]:
    """Map each of ``documents`` to its types among :data:`DOCUMENT_TYPES`."""
    types: dict[str, list[str]] = {}
    if not documents:
        return types
    kinds = " ".join(f"<{kind}>" for kind in DOCUMENT_TYPES)
    listed = sorted(d for d in documents if safe_iri(d)) if bound else [None]
    step = _CHUNK if bound else 1
    for start in range(0, len(listed), step):
        values = ""
        if bound:
            values = "VALUES ?s { " + " ".join(f"<{d}>" for d in listed[start : start + step])
            values += " }"
        sparql = f"SELECT ?s ?o WHERE {{ {values} VALUES ?o {{ {kinds} }} ?s a ?o }}"
        for row in _rows(store, sparql):
            document, kind = _text(row[0]), _text(row[1])
            if document in documents and kind not in types.setdefault(document, []):
                types[document].append(kind)
    return types
