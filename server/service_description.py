"""The SPARQL 1.1 Service Description of ``/sparql``, built once per app.

``GET /sparql`` without a query answers it (Turtle, RDF/XML, JSON-LD or N-Triples by
``Accept``): an ``sd:Service`` with its endpoint, languages, result and input formats,
features, the default dataset (linked to the VoID description) and the endpoint's limits.
The limits are stated with two annotation properties described in the graph itself, plus a
plain-language ``rdfs:comment``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import BlankNode, Literal, NamedNode, Triple, serialize

from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, Format
from cokg.namespaces import DCTERMS, RDF, RDFS, VOID, XSD

from .negotiation import GRAPH_FORMATS

SD = "http://www.w3.org/ns/sparql-service-description#"
SERVICE_TERMS = "https://w3id.org/coprod/ns/service#"
"""Annotation properties for what SPARQL Service Description has no terms for (limits)."""

PREFIXES = {
    "sd": SD,
    "rdfs": RDFS,
    "xsd": XSD,
    "void": VOID,
    "dcterms": DCTERMS,
    "cokgsd": SERVICE_TERMS,
}

_TERMS = {
    "resultRowLimit": (
        "result row limit",
        "Answers of the service are cut after this many solutions (SELECT) or triples "
        "(CONSTRUCT, DESCRIBE); a cut answer carries the HTTP header X-Cokg-Result-Truncated.",
    ),
    "queryTimeLimit": (
        "query time limit",
        "Seconds a query may run on the service before it is stopped (HTTP 503).",
    ),
}


class ServiceDescription:
    """The service description of one app, serialised once in each graph format."""

    def __init__(self, triples: Iterable[Triple]) -> None:
        self.triples = list(triples)
        self._bodies = {
            fmt.name: serialize(self.triples, format=fmt.oxigraph, prefixes=PREFIXES) or b""
            for fmt in GRAPH_FORMATS
        }

    def body(self, fmt: Format) -> bytes:
        """Return the description serialised in ``fmt`` (one of the graph formats)."""
        return self._bodies[fmt.name]


def describe_service(
    *,
    base_iri: str,
    writable: bool,
    federated: bool,
    max_rows: int,
    timeout: float | None,
) -> ServiceDescription:
    """Return the description of the endpoint ``{base_iri}sparql``.

    ``writable``: updates and Graph Store writes are enabled (a write token is set);
    ``federated``: the operator allows ``SERVICE`` to some endpoints; ``timeout`` is the query
    time limit in seconds (None: the app has none of its own).

    >>> sd = describe_service(base_iri="https://example.org/", writable=False, federated=False,
    ...                       max_rows=10, timeout=None)
    >>> b"sd:endpoint <https://example.org/sparql>" in sd.body(RDF_FORMATS.get("turtle"))
    True
    """
    endpoint = NamedNode(base_iri + "sparql")
    service = NamedNode(base_iri + "sparql#service")
    dataset = NamedNode(base_iri + "dataset")
    default_graph = BlankNode()
    triples: list[Triple] = []

    def add(
        subject: NamedNode | BlankNode, predicate: str, obj: NamedNode | BlankNode | Literal
    ) -> None:
        triples.append(Triple(subject, NamedNode(predicate), obj))

    add(service, RDF + "type", NamedNode(SD + "Service"))
    add(service, SD + "endpoint", endpoint)
    add(service, SD + "supportedLanguage", NamedNode(SD + "SPARQL11Query"))
    if writable:
        add(service, SD + "supportedLanguage", NamedNode(SD + "SPARQL11Update"))
    add(service, SD + "feature", NamedNode(SD + "UnionDefaultGraph"))
    if federated:
        add(service, SD + "feature", NamedNode(SD + "BasicFederatedQuery"))
    add(
        service,
        SD + "defaultEntailmentRegime",
        NamedNode("http://www.w3.org/ns/entailment/Simple"),
    )
    for results_format in RESULTS_FORMATS:
        add(service, SD + "resultFormat", NamedNode(format_iri(results_format.oxigraph.iri)))
    for rdf_format in RDF_FORMATS:
        add(service, SD + "resultFormat", NamedNode(format_iri(rdf_format.oxigraph.iri)))
    if writable:
        for rdf_format in RDF_FORMATS:
            add(service, SD + "inputFormat", NamedNode(format_iri(rdf_format.oxigraph.iri)))

    add(service, SD + "defaultDataset", dataset)
    add(dataset, RDF + "type", NamedNode(SD + "Dataset"))
    add(dataset, RDF + "type", NamedNode(VOID + "Dataset"))
    add(dataset, VOID + "sparqlEndpoint", endpoint)
    add(dataset, RDFS + "seeAlso", NamedNode(base_iri + ".well-known/void"))
    add(dataset, SD + "defaultGraph", default_graph)
    add(default_graph, RDF + "type", NamedNode(SD + "Graph"))
    add(
        default_graph,
        RDFS + "comment",
        Literal("The union of all the named graphs of the knowledge base.", language="en"),
    )

    limits = [f"Answers are cut after {max_rows} rows (announced in the X-Cokg-Row-Limit header)."]
    add(service, SERVICE_TERMS + "resultRowLimit", _integer(max_rows))
    if timeout is not None:
        seconds = f"{timeout:.3f}".rstrip("0").rstrip(".")
        add(service, SERVICE_TERMS + "queryTimeLimit", Literal(seconds, datatype=_DECIMAL))
        limits.append(f"Queries are stopped after {seconds} seconds.")
    if not federated:
        limits.append("Federated queries (SERVICE) are refused.")
    if not writable:
        limits.append("Updates and Graph Store writes are disabled.")
    add(service, RDFS + "comment", Literal(" ".join(limits), language="en"))

    for name, (label, comment) in _TERMS.items():
        term = NamedNode(SERVICE_TERMS + name)
        add(term, RDF + "type", NamedNode("http://www.w3.org/2002/07/owl#AnnotationProperty"))
        add(term, RDFS + "label", Literal(label, language="en"))
        add(term, RDFS + "comment", Literal(comment, language="en"))
    return ServiceDescription(triples)


_DECIMAL = NamedNode(XSD + "decimal")
_FORMATS = "http://www.w3.org/ns/formats/"


def format_iri(iri: str) -> str:
    """Return the W3C IRI of a format (pyoxigraph names JSON-LD under another path).

    >>> format_iri("https://www.w3.org/ns/formats/data/JSON-LD")
    'http://www.w3.org/ns/formats/JSON-LD'
    """
    return _FORMATS + iri.rsplit("/", 1)[1]


def _integer(value: int) -> Literal:
    return Literal(str(value), datatype=NamedNode(XSD + "integer"))
