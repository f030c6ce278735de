"""The namespaces cokg uses, as IRI prefixes, plus the default base IRI.

>>> SCHEMA + "name"
'https://schema.org/name'
>>> PREFIXES["cop"]
'https://w3id.org/coprod/ontology/'
"""

from __future__ import annotations

DEFAULT_BASE_IRI = "https://w3id.org/coprod/"

COP = "https://w3id.org/coprod/ontology/"
COP_ONTOLOGY = "https://w3id.org/coprod/ontology"
SCHEMA = "https://schema.org/"
DCTERMS = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
ORG = "http://www.w3.org/ns/org#"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
VOID = "http://rdfs.org/ns/void#"
VANN = "http://purl.org/vocab/vann/"
SH = "http://www.w3.org/ns/shacl#"

PREFIXES: dict[str, str] = {
    "cop": COP,
    "schema": SCHEMA,
    "dcterms": DCTERMS,
    "dcat": DCAT,
    "foaf": FOAF,
    "org": ORG,
    "prov": PROV,
    "skos": SKOS,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "void": VOID,
    "vann": VANN,
    "sh": SH,
}


def instance_prefixes(base_iri: str = DEFAULT_BASE_IRI) -> dict[str, str]:
    """Return prefixes for the knowledge base's own IRIs under ``base_iri``.

    >>> instance_prefixes()["project"]
    'https://w3id.org/coprod/id/project/'
    """
    kinds = ("project", "person", "organisation", "document", "record", "period", "grant")
    found = {kind: f"{base_iri}id/{kind}/" for kind in kinds}
    found["keyword"] = f"{base_iri}id/concept/keywords/"
    found["scheme"] = f"{base_iri}id/scheme/"
    found["kb"] = base_iri
    return found


def sparql_prologue(prefixes: dict[str, str] | None = None) -> str:
    """Return ``PREFIX`` declarations for ``prefixes`` (default: :data:`PREFIXES`).

    >>> sparql_prologue({"ex": "http://example.org/"})
    'PREFIX ex: <http://example.org/>\\n'
    """
    chosen = PREFIXES if prefixes is None else prefixes
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in chosen.items())
