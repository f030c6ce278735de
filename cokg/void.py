"""The knowledge base described as a dataset, in VoID and DCAT 3.

:func:`dataset_statistics` counts what the store holds (triples, entities, class and property
partitions, links to ORCID / ROR / Wikidata / DOI, entries per year, top keywords) with a few
SPARQL aggregate queries; :func:`dataset_description` turns those figures, the dump files and
the SPARQL endpoint into triples about ``{base}dataset``: a ``void:Dataset`` and
``dcat:Dataset`` with a ``dcat:Distribution`` per dump (``dcat:byteSize``, ``spdx:checksum``),
a ``dcat:DataService`` for the endpoint and ``void:Linkset`` nodes for the outbound links;
:func:`dataset_turtle` writes them as Turtle. :class:`StatisticsCache` keeps the figures of
one store version, since the aggregates take seconds on a large store.

``void:triples`` is :meth:`~cokg.store.ReadableStore.count`, the figure ``/healthz``
reports: each statement once per named graph that states it (the knowledge base states each
triple in one graph only, so this is also the number of distinct triples). The property
partitions add up to it.

>>> from cokg.load import open_knowledge_base
>>> store = open_knowledge_base()
>>> stats = dataset_statistics(store, base_iri="https://w3id.org/coprod/")
>>> stats.triples == store.count()
True
>>> sum(p.count for p in stats.properties) == stats.triples
True
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, serialize

from cokg.describe import LICENSE
from cokg.errors import StoreUnavailable
from cokg.namespaces import (
    COP,
    DCAT,
    DCTERMS,
    FOAF,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    VOID,
    XSD,
)
from cokg.store import ReadableStore, store_fingerprint

SPDX = "http://spdx.org/rdf/terms#"
"""The SPDX namespace, for ``spdx:checksum`` (as DCAT 3 uses it)."""

IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
"""Where ``dcat:mediaType`` IRIs live (DCAT 3 recommends the IANA register)."""

SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"
"""What the SPARQL endpoint's data service ``dcterms:conformsTo``."""

TITLE = "The co-production knowledge base"
DESCRIPTION = (
    "Research and practice projects on co-producing public services with citizens "
    "(participatory budgeting, citizens' juries, community–university partnerships, value "
    "co-creation, coaching for co-production…), with their periods, keywords, contributors "
    "and their organisations, related publications, reports and videos, and the co-production "
    "approach, participation level, stage and participant groups of each, as linked data."
)
PUBLISHER_NAME = "cokg contributors"
"""Who publishes the data: the name the ontology states as its creator (ontology/cop.ttl)."""

LINK_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("orcid", "https://orcid.org/", "ORCID"),
    ("ror", "https://ror.org/", "Research Organization Registry (ROR)"),
    ("wikidata", "http://www.wikidata.org/entity/", "Wikidata"),
    ("doi", "https://doi.org/", "DOI"),
)
"""The external datasets the knowledge base links to: key, IRI space, title."""

LINK_PREDICATES: tuple[str, ...] = (
    OWL + "sameAs",
    SCHEMA + "sameAs",
    SKOS + "exactMatch",
    SKOS + "closeMatch",
    SKOS + "relatedMatch",
    SKOS + "broadMatch",
    SKOS + "narrowMatch",
    RDFS + "seeAlso",
    DCTERMS + "relation",
    COP + "output",
    COP + "relatedPublication",
)
"""The predicates whose objects are counted as links: identity and mapping links (ORCID, ROR,
Wikidata) and the links from entries to their documents (DOIs)."""

SPDX_SHA256 = SPDX + "checksumAlgorithm_sha256"


class Distribution(Protocol):
    """What the description needs of a dump file (``cokg.dumps.DumpFile`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def compressed(self) -> bool: ...
    @property
    def byte_size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def statements(self) -> int: ...
    @property
    def modified(self) -> datetime: ...


@dataclass(frozen=True)
class Count:
    """A term and a number: a class and its entities, a property and its triples…"""

    iri: str
    count: int
    label: str | None = None


@dataclass(frozen=True)
class Linkset:
    """The links through one predicate to one external dataset."""

    key: str  # "orcid", "ror", "wikidata" or "doi"
    target: str  # the IRI space of the external dataset
    title: str
    predicate: str
    triples: int


@dataclass(frozen=True)
class DatasetStatistics:
    """What the store holds, counted (see :func:`dataset_statistics`)."""

    triples: int
    entities: int
    distinct_subjects: int
    distinct_objects: int
    graphs: int
    classes: tuple[Count, ...]
    properties: tuple[Count, ...]
    linksets: tuple[Linkset, ...]
    entries: int
    people: int
    organisations: int
    documents: int
    concepts: int
    entries_per_year: tuple[Count, ...]  # iri: the year as text
    top_keywords: tuple[Count, ...]

    @property
    def vocabularies(self) -> list[str]:
        """Return the namespaces of the classes and properties used (``void:vocabulary``)."""
        found = {namespace_of(c.iri) for c in (*self.classes, *self.properties)}
        return sorted(n for n in found if n)


def namespace_of(iri: str) -> str | None:
    """Return the namespace of a class or property IRI: up to its last ``#`` or ``/``.

    >>> namespace_of("http://xmlns.com/foaf/0.1/name")
    'http://xmlns.com/foaf/0.1/'
    >>> namespace_of("http://www.w3.org/ns/dcat#startDate")
    'http://www.w3.org/ns/dcat#'
    """
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut > len("https://") else None


def _select(store: ReadableStore, query: str) -> list[Any]:
    return list(store.query(query))  # type: ignore[arg-type]


def _int(term: object) -> int:
    return int(term.value) if isinstance(term, Literal) else 0


def _one(store: ReadableStore, query: str) -> int:
    rows = _select(store, query)
    return _int(rows[0]["n"]) if rows else 0


def dataset_statistics(store: ReadableStore, *, base_iri: str) -> DatasetStatistics:
    """Return the figures of the dataset in ``store``, counted by SPARQL aggregates.

    Entities are the typed resources in the URI space ``{base_iri}id/`` (every resource of the
    knowledge base has a type; counting typed subjects is much faster than scanning every
    triple). Links are counted through :data:`LINK_PREDICATES`. Raises
    :class:`~cokg.errors.StoreUnavailable` or :class:`~cokg.errors.QueryError` from the store.
    """
    space = base_iri + "id/"
    classes = tuple(
        Count(row["c"].value, _int(row["n"]))
        for row in _select(
            store,
            "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) } "
            "GROUP BY ?c ORDER BY DESC(?n) ?c",
        )
    )
    properties = tuple(
        Count(row["p"].value, _int(row["n"]))
        for row in _select(
            store, "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) ?p"
        )
    )
    by_class = {c.iri: c.count for c in classes}
    return DatasetStatistics(
        triples=store.count(),
        entities=_one(
            store,
            "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?type "
            f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{_escape(space)}")) }}',
        ),
        distinct_subjects=_one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"),
        distinct_objects=_one(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }"),
        graphs=len(store.graphs()),
        classes=classes,
        properties=properties,
        linksets=_linksets(store),
        entries=by_class.get(SCHEMA + "ResearchProject", 0),
        people=by_class.get(FOAF + "Person", 0),
        organisations=by_class.get(FOAF + "Organization", 0),
        documents=_one(
            store,
            f"SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{ ?e a <{SCHEMA}ResearchProject> ; "
            f"<{DCTERMS}relation> ?d }}",
        ),
        concepts=by_class.get(SKOS + "Concept", 0),
        entries_per_year=tuple(
            Count(row["year"].value, _int(row["n"]))
            for row in _select(store, ENTRIES_PER_YEAR_QUERY)
        ),
        top_keywords=tuple(
            Count(row["k"].value, _int(row["n"]), row["label"].value if row["label"] else None)
            for row in _select(store, TOP_KEYWORDS_QUERY)
        ),
    )


ENTRIES_PER_YEAR_QUERY = f"""SELECT ?year (COUNT(DISTINCT ?e) AS ?n)
WHERE {{
  ?e a <{SCHEMA}ResearchProject> ; <{DCTERMS}temporal>/<{DCAT}startDate> ?start .
  BIND(SUBSTR(STR(?start), 1, 4) AS ?year)
}}
GROUP BY ?year
ORDER BY ?year"""
"""Entries by the year they start (the first four characters of ``dcat:startDate``)."""

TOP_KEYWORDS_QUERY = f"""SELECT ?k (SAMPLE(?name) AS ?label) (COUNT(DISTINCT ?e) AS ?n)
WHERE {{
  ?e a <{SCHEMA}ResearchProject> ; <{DCTERMS}subject> ?k .
  OPTIONAL {{ ?k <{SKOS}prefLabel> ?name }}
}}
GROUP BY ?k
ORDER BY DESC(?n) LCASE(STR(?label)) ?k
LIMIT 10"""
"""The ten keywords most entries have."""


def linkset_query() -> str:
    """Return the query that counts links to each external dataset, by predicate.

    Only :data:`LINK_PREDICATES` are read: a scan of every triple's object takes a minute at
    100 000 entries, the triples of these predicates a few seconds.
    """
    cases = "".join(
        f'IF(STRSTARTS(STR(?o), "{space}"), "{key}", ' for key, space, _ in LINK_TARGETS
    )
    predicates = " ".join(f"<{p}>" for p in LINK_PREDICATES)
    return (
        f"SELECT ?target ?p (COUNT(*) AS ?n)\nWHERE {{\n  VALUES ?p {{ {predicates} }}\n"
        "  ?s ?p ?o . FILTER(isIRI(?o))\n"
        f"  BIND({cases}?none{')' * len(LINK_TARGETS)} AS ?target)\n"
        "  FILTER(BOUND(?target))\n}\nGROUP BY ?target ?p\nORDER BY ?target ?p"
    )


def _linksets(store: ReadableStore) -> tuple[Linkset, ...]:
    targets = {key: (space, title) for key, space, title in LINK_TARGETS}
    found = []
    for row in _select(store, linkset_query()):
        key = row["target"].value
        space, title = targets[key]
        found.append(Linkset(key, space, title, row["p"].value, _int(row["n"])))
    order = [key for key, _, _ in LINK_TARGETS]
    return tuple(sorted(found, key=lambda ls: (order.index(ls.key), ls.predicate)))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# -- the description -------------------------------------------------------------------------


def dataset_iri(base_iri: str) -> str:
    """Return the IRI of the knowledge base as a dataset.

    >>> dataset_iri("https://w3id.org/coprod/")
    'https://w3id.org/coprod/dataset'
    """
    return base_iri + "dataset"


def dataset_description(
    store: ReadableStore,
    *,
    base_iri: str,
    distributions: Sequence[Distribution] = (),
    version: str | None = None,
    issued: date | None = None,
    previous: str | None = None,
    statistics: DatasetStatistics | None = None,
    sparql_endpoint: str | None = None,
    download_base: str | None = None,
) -> list[Triple]:
    """Return the VoID + DCAT description of the dataset in ``store``, as triples.

    The dataset is ``{base_iri}dataset`` for the live graph, ``{base_iri}releases/{version}/``
    for a release (``version``; with ``issued`` its date and ``previous`` the IRI of the
    release it follows, ``prov:wasDerivedFrom`` and ``dcat:previousVersion``; a release names
    no SPARQL endpoint, since the endpoint serves the live graph only). Each of
    ``distributions`` becomes a ``dcat:Distribution`` downloadable at
    ``{download_base}{name}`` (default: ``{base_iri}dumps/`` live, the release's IRI for a
    release). ``sparql_endpoint`` defaults to ``{base_iri}sparql``; ``statistics`` to
    :func:`dataset_statistics` of ``store`` (pass them when they are cached).
    """
    stats = statistics or dataset_statistics(store, base_iri=base_iri)
    live = dataset_iri(base_iri)
    iri = live if version is None else f"{base_iri}releases/{version}/"
    endpoint = sparql_endpoint or base_iri + "sparql"
    downloads = download_base or (base_iri + "dumps/" if version is None else iri)
    d = NamedNode(iri)
    out: list[Triple] = []

    def add(s: NamedNode | BlankNode, p: str, o: NamedNode | BlankNode | Literal) -> None:
        out.append(Triple(s, NamedNode(p), o))

    def typed(value: object, datatype: str) -> Literal:
        return Literal(str(value), datatype=NamedNode(datatype))

    add(d, RDF + "type", NamedNode(VOID + "Dataset"))
    add(d, RDF + "type", NamedNode(DCAT + "Dataset"))
    title = TITLE if version is None else f"{TITLE}, version {version}"
    add(d, DCTERMS + "title", Literal(title, language="en"))
    add(d, RDFS_LABEL, Literal(title, language="en"))
    add(d, DCTERMS + "description", Literal(DESCRIPTION, language="en"))
    publisher = BlankNode("publisher")
    add(d, DCTERMS + "publisher", publisher)
    add(d, DCTERMS + "creator", publisher)
    add(publisher, RDF + "type", NamedNode(FOAF + "Agent"))
    add(publisher, FOAF + "name", Literal(PUBLISHER_NAME))
    add(d, DCTERMS + "license", NamedNode(LICENSE))
    add(d, DCAT + "landingPage", NamedNode(base_iri + "page/dataset" if version is None else iri))
    add(d, FOAF + "homepage", NamedNode(base_iri))
    for word in ("co-production", "public services", "citizen participation"):
        add(d, DCAT + "keyword", Literal(word, language="en"))
    if version is None:  # the endpoint serves the live graph, never a frozen release
        add(d, VOID + "sparqlEndpoint", NamedNode(endpoint))
    add(d, VOID + "uriSpace", Literal(base_iri + "id/"))
    for namespace in stats.vocabularies:
        add(d, VOID + "vocabulary", NamedNode(namespace))
    add(d, VOID + "feature", NamedNode("http://www.w3.org/ns/formats/Turtle"))
    add(d, VOID + "feature", NamedNode("http://www.w3.org/ns/formats/JSON-LD"))
    add(d, VOID + "triples", typed(stats.triples, XSD + "integer"))
    add(d, VOID + "entities", typed(stats.entities, XSD + "integer"))
    add(d, VOID + "classes", typed(len(stats.classes), XSD + "integer"))
    add(d, VOID + "properties", typed(len(stats.properties), XSD + "integer"))
    add(d, VOID + "distinctSubjects", typed(stats.distinct_subjects, XSD + "integer"))
    add(d, VOID + "distinctObjects", typed(stats.distinct_objects, XSD + "integer"))
    for cls in stats.classes:
        part = NamedNode(f"{iri}#class-{term_fragment(cls.iri)}")
        add(d, VOID + "classPartition", part)
        add(part, VOID + "class", NamedNode(cls.iri))
        add(part, VOID + "entities", typed(cls.count, XSD + "integer"))
    for prop in stats.properties:
        part = NamedNode(f"{iri}#property-{term_fragment(prop.iri)}")
        add(d, VOID + "propertyPartition", part)
        add(part, VOID + "property", NamedNode(prop.iri))
        add(part, VOID + "triples", typed(prop.count, XSD + "integer"))

    for linkset in stats.linksets:
        node = NamedNode(f"{iri}#links-{linkset.key}-{term_fragment(linkset.predicate)}")
        target = NamedNode(linkset.target)
        add(d, VOID + "subset", node)
        add(node, RDF + "type", NamedNode(VOID + "Linkset"))
        add(node, DCTERMS + "title", Literal(f"Links to {linkset.title}", language="en"))
        add(node, VOID + "subjectsTarget", d)
        add(node, VOID + "objectsTarget", target)
        add(node, VOID + "linkPredicate", NamedNode(linkset.predicate))
        add(node, VOID + "triples", typed(linkset.triples, XSD + "integer"))
    for key, space, name in LINK_TARGETS:
        if any(ls.key == key for ls in stats.linksets):
            target = NamedNode(space)
            add(target, RDF + "type", NamedNode(VOID + "Dataset"))
            add(target, DCTERMS + "title", Literal(name, language="en"))
            add(target, VOID + "uriSpace", Literal(space))

    if version is None:
        service = NamedNode(endpoint)
        add(service, RDF + "type", NamedNode(DCAT + "DataService"))
        add(service, DCTERMS + "title", Literal(f"SPARQL endpoint of {TITLE}", language="en"))
        add(service, DCAT + "endpointURL", NamedNode(endpoint))
        add(service, DCAT + "servesDataset", d)
        add(service, DCTERMS + "conformsTo", NamedNode(SPARQL_PROTOCOL))
        add(service, DCTERMS + "license", NamedNode(LICENSE))

    for index, dump in enumerate(distributions):
        url = NamedNode(downloads + dump.name)
        node = NamedNode(f"{iri}#dump-{dump.name}")
        add(d, DCAT + "distribution", node)
        add(d, VOID + "dataDump", url)
        add(node, RDF + "type", NamedNode(DCAT + "Distribution"))
        add(node, DCTERMS + "title", Literal(dump.title, language="en"))
        add(node, DCAT + "downloadURL", url)
        add(node, DCAT + "accessURL", url)
        add(node, DCAT + "mediaType", NamedNode(IANA_MEDIA_TYPES + dump.media_type))
        if dump.compressed:
            add(node, DCAT + "compressFormat", NamedNode(IANA_MEDIA_TYPES + "application/gzip"))
        add(node, DCAT + "byteSize", typed(dump.byte_size, XSD + "nonNegativeInteger"))
        add(node, DCTERMS + "license", NamedNode(LICENSE))
        add(node, DCTERMS + "modified", typed(_utc(dump.modified), XSD + "dateTime"))
        checksum = BlankNode(f"checksum-{index}")
        add(node, SPDX + "checksum", checksum)
        add(checksum, RDF + "type", NamedNode(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", NamedNode(SPDX_SHA256))
        add(checksum, SPDX + "checksumValue", typed(dump.sha256, XSD + "hexBinary"))
    if distributions:
        newest = max(_utc(dump.modified) for dump in distributions)
        add(d, DCTERMS + "modified", typed(newest, XSD + "dateTime"))

    if version is not None:
        add(d, OWL + "versionInfo", Literal(version))
        add(d, DCAT + "version", Literal(version))
        add(d, DCTERMS + "isVersionOf", NamedNode(live))  # DCAT 3 has no dcat:isVersionOf
        add(NamedNode(live), DCAT + "hasVersion", d)
        if issued is not None:
            add(d, DCTERMS + "issued", typed(issued.isoformat(), XSD + "date"))
        if previous is not None:
            add(d, PROV + "wasDerivedFrom", NamedNode(previous))
            add(d, DCAT + "previousVersion", NamedNode(previous))
    return _by_subject(out)


def _by_subject(triples: list[Triple]) -> list[Triple]:
    """Return ``triples`` with each subject's triples together (in order of first mention).

    Turtle writers abbreviate only consecutive triples of one subject.
    """
    groups: dict[object, list[Triple]] = {}
    for t in triples:
        groups.setdefault(t.subject, []).append(t)
    return [t for group in groups.values() for t in group]


RDFS_LABEL = RDFS + "label"


_FRAGMENT_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_BY_NAMESPACE_LENGTH = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def term_fragment(iri: str) -> str:
    """Return a fragment that names a class or property the same way in every version.

    ``prefix-local`` for a term of a known vocabulary, else a digest of the IRI.

    >>> term_fragment("http://xmlns.com/foaf/0.1/Person")
    'foaf-Person'
    >>> term_fragment("http://example.org/a b")
    't-...'
    """
    for name, namespace in _BY_NAMESPACE_LENGTH:
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and local and all(c in _FRAGMENT_SAFE for c in local):
            return f"{name}-{local}"
    return "t-" + hashlib.sha256(iri.encode("utf-8")).hexdigest()[:16]


def _utc(moment: datetime) -> str:
    """Return ``moment`` as an ``xsd:dateTime`` lexical form (naive times are taken as UTC)."""
    text = moment.replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if moment.tzinfo else text + "Z"


def description_prefixes(base_iri: str) -> dict[str, str]:
    """Return the prefixes the description is written with (:data:`PREFIXES` plus ``spdx``)."""
    return {**PREFIXES, "spdx": SPDX}


def dataset_turtle(store: ReadableStore, *, base_iri: str, **options: Any) -> bytes:
    """Return :func:`dataset_description` (same keyword arguments) as Turtle bytes."""
    triples = dataset_description(store, base_iri=base_iri, **options)
    return to_turtle(triples, base_iri=base_iri)


def to_turtle(triples: Iterable[Triple], *, base_iri: str) -> bytes:
    """Return ``triples`` as Turtle with the description's prefixes."""
    return (
        serialize(list(triples), format=RdfFormat.TURTLE, prefixes=description_prefixes(base_iri))
        or b""
    )


# -- caching ---------------------------------------------------------------------------------


class StatisticsNotReady(StoreUnavailable):
    """The figures are being counted for the first time (503: try again shortly)."""


class StatisticsCache:
    """The statistics of one store version, recounted in the background when the store changes.

    The version is :func:`cokg.store.store_fingerprint` (graph list and size), checked at most
    once per ``check_every`` seconds; :meth:`invalidate` (subscribe it to the app's write
    events) forces a recount. One thread counts at a time; :meth:`get` waits for it up to
    ``wait`` seconds, then answers the figures of the version before (at 100 000 entries a
    count takes about 45 s, longer than a web request should wait).
    """

    def __init__(self, store: ReadableStore, *, base_iri: str, check_every: float = 60.0) -> None:
        self._store = store
        self._base_iri = base_iri
        self._check_every = check_every
        self._lock = threading.Lock()
        self._value: DatasetStatistics | None = None
        self._fingerprint: str | None = None
        self._checked = -float("inf")
        self._generation = 0  # bumped by invalidate()
        self._counted_generation = -1
        self._counter: threading.Thread | None = None
        self._failure: Exception | None = None

    def invalidate(self, _event: object = None) -> None:
        """Mark the figures stale: the next :meth:`get` starts a recount."""
        with self._lock:
            self._generation += 1

    @property
    def fingerprint(self) -> str | None:
        """Return the store version the cached figures belong to (None before the first count)."""
        return self._fingerprint

    def get(self, *, wait: float | None = None) -> DatasetStatistics:
        """Return the statistics of the store, recounted first if it changed.

        Waits for a recount up to ``wait`` seconds (None: until it ends), then returns the
        previous figures. Raises :class:`StatisticsNotReady` when there are none yet, and
        what the store raised when the last count failed (the next call counts again).
        """
        with self._lock:
            self._refresh()
            counter = self._counter
        if counter is not None:
            counter.join(wait)
        with self._lock:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            if self._value is None:
                raise StatisticsNotReady(
                    "the dataset's figures are being counted; try again in a minute"
                )
            return self._value

    def _refresh(self) -> None:
        """Start a recount when the store changed (the lock is held)."""
        if self._counter is not None and self._counter.is_alive():
            return
        generation = self._generation
        due = time.monotonic() - self._checked >= self._check_every
        if self._value is not None and not due and generation == self._counted_generation:
            return
        fresh = self._value is None or generation != self._counted_generation  # after a write
        version = store_fingerprint(self._store, max_age=0.0 if fresh else self._check_every)
        self._checked = time.monotonic()
        if (
            self._value is not None
            and version == self._fingerprint
            and generation == self._counted_generation
        ):
            return
        self._counter = threading.Thread(
            target=self._count, args=(version, generation), name="cokg-void-count", daemon=True
        )
        self._counter.start()

    def _count(self, version: str, generation: int) -> None:
        try:
            value = dataset_statistics(self._store, base_iri=self._base_iri)
        except Exception as error:  # reported to the next caller, never lost in the thread
            with self._lock:
                self._failure = error
                self._counter = None
            return
        with self._lock:
            self._value, self._fingerprint = value, version
            self._counted_generation = generation
            self._failure = None
            self._counter = None


__all__ = [
    "DESCRIPTION",
    "LINK_PREDICATES",
    "LINK_TARGETS",
    "SPDX",
    "TITLE",
    "Count",
    "DatasetStatistics",
    "Distribution",
    "Linkset",
    "StatisticsCache",
    "StatisticsNotReady",
    "dataset_description",
    "dataset_iri",
    "dataset_statistics",
    "dataset_turtle",
    "description_prefixes",
    "linkset_query",
    "namespace_of",
    "to_turtle",
]
