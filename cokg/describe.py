"""What the knowledge base says about one resource: its description, as the pages serve it.

A description is the resource's own triples (with the blank nodes they lead to, such as the
``rdf:List`` of authors), plus the types and labels of every resource it points to, so a client
can show it without another request. :func:`document_metadata` adds what the data document says
about itself (licence, ``foaf:primaryTopic``, ``void:inDataset``). Everything comes from the
store in one query (:func:`describe_query`).

>>> from cokg.store import OxigraphStore
>>> from cokg.formats import TURTLE
>>> store = OxigraphStore()
>>> store.replace_graph("http://example.org/g", b'''
...     <http://example.org/a> <http://example.org/knows> <http://example.org/b> .
...     <http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "B" .
...     <http://example.org/b> <http://example.org/age> 7 .''', TURTLE)
>>> for triple in describe(store, "http://example.org/a"): print(triple)
<http://example.org/a> <http://example.org/knows> <http://example.org/b>
<http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "B"
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from cokg.errors import StoreUnavailable
from cokg.namespaces import (
    DCAT,
    DCTERMS,
    FOAF,
    PREFIXES,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    VOID,
    XSD,
    instance_prefixes,
)
from cokg.store import ReadableStore

LICENSE = "https://creativecommons.org/licenses/by/4.0/"
"""The licence of the knowledge base's data (CC BY 4.0)."""

LABEL_PROPERTIES = (
    SKOS + "prefLabel",
    DCTERMS + "title",
    FOAF + "name",
    RDFS + "label",
    SCHEMA + "name",
)
"""Properties that name a resource, best first."""

_IDS = {"@type": "@id"}
_TERMS: dict[str, Any] = {
    "type": "@type",
    "id": "@id",
    "title": {"@id": "dcterms:title"},
    "description": {"@id": "dcterms:description"},
    "name": {"@id": "schema:name"},
    "foafName": {"@id": "foaf:name"},
    "label": {"@id": "rdfs:label"},
    "prefLabel": {"@id": "skos:prefLabel"},
    "altLabel": {"@id": "skos:altLabel"},
    "definition": {"@id": "skos:definition"},
    "editorialNote": {"@id": "skos:editorialNote"},
    "temporal": {"@id": "dcterms:temporal", **_IDS},
    "subject": {"@id": "dcterms:subject", **_IDS},
    "keywords": {"@id": "schema:keywords", **_IDS},
    "contributor": {"@id": "dcterms:contributor", **_IDS},
    "relation": {"@id": "dcterms:relation", **_IDS},
    "creator": {"@id": "dcterms:creator", **_IDS},
    "license": {"@id": "dcterms:license", **_IDS},
    "memberOf": {"@id": "org:memberOf", **_IDS},
    "affiliation": {"@id": "schema:affiliation", **_IDS},
    "sameAs": {"@id": "owl:sameAs", **_IDS},
    "inScheme": {"@id": "skos:inScheme", **_IDS},
    "broader": {"@id": "skos:broader", **_IDS},
    "hasTopConcept": {"@id": "skos:hasTopConcept", **_IDS},
    "primaryTopic": {"@id": "foaf:primaryTopic", **_IDS},
    "inDataset": {"@id": "void:inDataset", **_IDS},
    "startDate": {"@id": "dcat:startDate"},
    "endDate": {"@id": "dcat:endDate"},
    "issued": {"@id": "dcterms:issued"},
    "modified": {"@id": "dcterms:modified"},
}
CONTEXT: dict[str, Any] = {"@context": {**PREFIXES, **_TERMS}}
"""The knowledge base's JSON-LD context: the prefixes and short names for the common terms."""


def sparql_iri(iri: str) -> str:
    """Return ``iri`` written as a SPARQL IRI reference (characters SPARQL forbids escaped).

    >>> sparql_iri('http://example.org/a b')
    '<http://example.org/a%20b>'
    """
    return "<" + iri.translate(_NOT_IN_SPARQL_IRI) + ">"


_NOT_IN_SPARQL_IRI = str.maketrans({c: f"%{ord(c):02X}" for c in ' <>"{}|^`\\'})


def describe_query(iri: str) -> str:
    """Return the SPARQL CONSTRUCT query that builds the description of ``iri``."""
    return f"""PREFIX rdf: <{RDF}>
CONSTRUCT {{ ?s ?p ?o }}
WHERE {{
{describe_patterns(iri)}
}}"""


def describe_patterns(iri: str) -> str:
    """Return the graph pattern that binds ``?s ?p ?o`` to each triple of the description.

    It is the ``WHERE`` clause of :func:`describe_query` (it needs the ``rdf:`` prefix), for
    queries that fetch the description along with other things in one round trip.
    """
    # FILTER(?p IN …), not VALUES ?p: Oxigraph joins a VALUES block first, scanning every
    # rdf:type and label triple of the store (seconds at 100 000 entries) before ``?s``; and
    # each linked resource once (an entry names its keywords and contributors twice).
    labels = ", ".join(f"<{p}>" for p in (RDF + "type", *LABEL_PROPERTIES))
    return f"""  {{ BIND({sparql_iri(iri)} AS ?s) ?s ?p ?o }}
  UNION
  {{ # blank nodes the resource leads to (lists of authors, identifiers)
    {sparql_iri(iri)} ?via ?node . FILTER(isBlank(?node))
    ?node rdf:rest* ?s . ?s ?p ?o }}
  UNION
  {{ # the types and labels of every resource it points to
    {{ SELECT DISTINCT ?s WHERE {{ {sparql_iri(iri)} ?via ?s . FILTER(isIRI(?s)) }} }}
    ?s ?p ?o . FILTER(?p IN ({labels})) }}"""


def describe(store: ReadableStore, iri: str) -> list[Triple]:
    """Return the description of ``iri``: its triples, and types and labels of what it points to.

    The list is empty when the store says nothing about ``iri``. Raises
    :class:`~cokg.errors.StoreUnavailable` when the store cannot be reached.
    """
    result = store.query(describe_query(iri))
    if isinstance(result, bool) or not hasattr(result, "__iter__"):
        raise StoreUnavailable("the store did not answer a CONSTRUCT with triples")
    seen: dict[Triple, None] = {}
    for triple in result:
        if isinstance(triple, Triple):
            seen.setdefault(triple, None)
    return list(seen)


def mentioned(store: ReadableStore, iri: str) -> bool:
    """Tell whether the store has any triple with ``iri`` as its subject or object."""
    query = f"ASK {{ {{ {sparql_iri(iri)} ?p ?o }} UNION {{ ?s ?p {sparql_iri(iri)} }} }}"
    return bool(store.query(query))


def document_metadata(
    iri: str, *, document: str, dataset: str, title: str | None = None
) -> list[Triple]:
    """Return what the data document ``document`` about ``iri`` says about itself.

    >>> [t.predicate.value.rsplit("/", 1)[-1] for t in document_metadata(
    ...     "http://e.org/a", document="http://e.org/data/a", dataset="http://e.org/dataset")]
    ['22-rdf-syntax-ns#type', 'primaryTopic', 'license', 'void#inDataset', 'title']
    """
    doc = NamedNode(document)
    named = title or iri
    return [
        Triple(doc, NamedNode(RDF + "type"), NamedNode(FOAF + "Document")),
        Triple(doc, NamedNode(FOAF + "primaryTopic"), NamedNode(iri)),
        Triple(doc, NamedNode(DCTERMS + "license"), NamedNode(LICENSE)),
        Triple(doc, NamedNode(VOID + "inDataset"), NamedNode(dataset)),
        Triple(
            doc, NamedNode(DCTERMS + "title"), Literal(f"Linked data about {named}", language="en")
        ),
    ]


def dataset_description(dataset: str, *, sparql_endpoint: str) -> list[Triple]:
    """Return a minimal description of the knowledge base as a dataset (VoID and DCAT)."""
    node = NamedNode(dataset)
    return [
        Triple(node, NamedNode(RDF + "type"), NamedNode(VOID + "Dataset")),
        Triple(node, NamedNode(RDF + "type"), NamedNode(DCAT + "Dataset")),
        Triple(
            node,
            NamedNode(DCTERMS + "title"),
            Literal("The co-production knowledge base", language="en"),
        ),
        Triple(node, NamedNode(DCTERMS + "license"), NamedNode(LICENSE)),
        Triple(node, NamedNode(VOID + "sparqlEndpoint"), NamedNode(sparql_endpoint)),
    ]


def label_of(iri: str, triples: Iterable[Triple]) -> str | None:
    """Return the best label ``triples`` give ``iri`` (English first), or None."""
    return labels_of(triples).get(iri)


def labels_of(triples: Iterable[Triple]) -> dict[str, str]:
    """Return the best label of every subject ``triples`` name (English first).

    Blank nodes are keyed ``_:id``.

    >>> from pyoxigraph import NamedNode, Literal
    >>> a = NamedNode("http://e.org/a")
    >>> labels_of([Triple(a, NamedNode(FOAF + "name"), Literal("A")),
    ...            Triple(a, NamedNode(SKOS + "prefLabel"), Literal("Ä", language="de"))])
    {'http://e.org/a': 'Ä'}
    """
    rank = {prop: index for index, prop in enumerate(LABEL_PROPERTIES)}
    best: dict[str, tuple[tuple[int, bool, str], str]] = {}
    for t in triples:
        place = rank.get(t.predicate.value)
        if place is None or not isinstance(t.object, Literal):
            continue
        if isinstance(t.subject, NamedNode):
            key = t.subject.value
        elif isinstance(t.subject, BlankNode):
            key = f"_:{t.subject.value}"
        else:
            continue
        order = (place, t.object.language not in (None, "en"), t.object.value)
        if key not in best or order < best[key][0]:
            best[key] = (order, t.object.value)
    return {key: value for key, (_, value) in best.items()}


def fingerprint(triples: Sequence[Triple]) -> str:
    """Return a hash of ``triples`` that does not depend on their order (blank node labels count).

    >>> fingerprint([]) == fingerprint([])
    True
    """
    lines = sorted(str(t) for t in triples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def prefixes_for(base_iri: str) -> dict[str, str]:
    """Return the prefixes a description is written with: the vocabularies and the instances."""
    return {**PREFIXES, **instance_prefixes(base_iri)}


def to_jsonld(triples: Sequence[Triple], *, context_url: str, first: str | None = None) -> bytes:
    """Return ``triples`` as compacted JSON-LD that refers to the context at ``context_url``.

    Properties become the short terms of :data:`CONTEXT` (``title``, ``contributor``…) or
    prefixed names, classes and datatypes prefixed names; the node ``first`` comes first. The
    compaction is done here, in one pass, because a general JSON-LD processor is slow on
    resources with thousands of values.

    >>> from pyoxigraph import NamedNode, Literal
    >>> a = NamedNode("http://e.org/a")
    >>> print(to_jsonld([Triple(a, NamedNode(DCTERMS + "title"), Literal("A", language="en"))],
    ...       context_url="http://e.org/context.jsonld").decode())
    {
      "@context": "http://e.org/context.jsonld",
      "@graph": [
        {
          "id": "http://e.org/a",
          "title": {
            "@value": "A",
            "@language": "en"
          }
        }
      ]
    }
    """
    nodes: dict[str, dict[str, list[Any]]] = {}
    for t in triples:
        subject = _node_id(t.subject)
        if subject is None:
            continue
        node = nodes.setdefault(subject, {})
        prop, obj = t.predicate.value, t.object
        if prop == RDF + "type" and isinstance(obj, NamedNode):
            node.setdefault("type", []).append(compact_iri(obj.value))
        elif isinstance(obj, NamedNode | BlankNode):
            reference = _node_id(obj)
            if prop in IRI_TERMS:
                node.setdefault(IRI_TERMS[prop], []).append(reference)
            else:
                node.setdefault(compact_iri(prop), []).append({"id": reference})
        elif isinstance(obj, Literal):
            key = LITERAL_TERMS.get(prop) or compact_iri(prop)
            node.setdefault(key, []).append(jsonld_literal(obj))
    graph = []
    order = sorted(nodes, key=lambda n: (n != first, n.startswith("_:"), n))
    for subject in order:
        node_object: dict[str, Any] = {"id": subject}
        for key in sorted(nodes[subject], key=lambda k: (k != "type", k)):
            values = sorted(nodes[subject][key], key=lambda v: json.dumps(v, sort_keys=True))
            node_object[key] = values[0] if len(values) == 1 else values
        graph.append(node_object)
    document = {"@context": context_url, "@graph": graph}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _expand(compact: str) -> str:
    prefix, local = compact.split(":", 1)
    return PREFIXES[prefix] + local


IRI_TERMS = {
    _expand(d["@id"]): term
    for term, d in _TERMS.items()
    if isinstance(d, dict) and d.get("@type") == "@id"
}
LITERAL_TERMS = {
    _expand(d["@id"]): term
    for term, d in _TERMS.items()
    if isinstance(d, dict) and "@type" not in d
}
_BY_LENGTH = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


@functools.lru_cache(maxsize=4096)
def compact_iri(iri: str) -> str:
    """Return ``iri`` as a prefixed name of the context where it is one, else the IRI."""
    for name, namespace in _BY_LENGTH:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            local = iri[len(namespace) :]
            if not local.startswith("//"):
                return f"{name}:{local}"
    return iri


def _node_id(term: object) -> str | None:
    if isinstance(term, NamedNode):
        return term.value
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    return None


def jsonld_literal(literal: Literal) -> Any:
    """Return ``literal`` as a JSON-LD value under :data:`CONTEXT` (a plain string when it can)."""
    if literal.language:
        return {"@value": literal.value, "@language": literal.language}
    if literal.datatype.value == XSD + "string":
        return literal.value
    return {"@value": literal.value, "@type": compact_iri(literal.datatype.value)}


__all__ = [
    "CONTEXT",
    "LABEL_PROPERTIES",
    "LICENSE",
    "dataset_description",
    "describe",
    "describe_patterns",
    "describe_query",
    "document_metadata",
    "fingerprint",
    "label_of",
    "labels_of",
    "mentioned",
    "prefixes_for",
    "sparql_iri",
    "to_jsonld",
]
