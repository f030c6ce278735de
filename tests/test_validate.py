"""Tests of cokg.validate: the report objects, their renderings and the validate() options."""

from __future__ import annotations

import dataclasses
import json

import pytest
import rdflib
from rdflib.namespace import SH
from rdflib.term import BNode, URIRef

from cokg.errors import CokgError
from cokg.resources import SHAPES_DIR
from cokg.validate import (
    Severity,
    ShapesError,
    ValidationReport,
    ValidationResult,
    load_shapes,
    validate,
)

PREFIXES = """
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix schema: <https://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix person: <https://w3id.org/coprod/id/person/> .
@prefix project: <https://w3id.org/coprod/id/project/> .
@prefix period: <https://w3id.org/coprod/id/period/> .
"""

ADA = "https://w3id.org/coprod/id/person/ada"
FOAF_NAME = "http://xmlns.com/foaf/0.1/name"
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"


def turtle(text: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=PREFIXES + text, format="turtle")


def complete_person(slug: str = "ada", name: str = "Ada") -> str:
    return f"""person:{slug} a foaf:Person , schema:Person ;
        foaf:name "{name}" ; schema:name "{name}" .
    """


# One graph with a violation (a nameless person), warnings (no ORCID iDs) and an info
# (an entry's editorial note; the entry is otherwise broken too).
MIXED = turtle(
    complete_person()
    + """
    person:nameless a foaf:Person , schema:Person .
    period:p a dcterms:PeriodOfTime ; rdfs:label "2019-18" ;
        dcat:startDate "2019"^^xsd:gYear ; dcat:endDate "2018"^^xsd:gYear .
    project:x a schema:ResearchProject ;
        skos:editorialNote "Links currently unavailable"@en .
    """
)


@pytest.fixture(scope="module")
def mixed() -> ValidationReport:
    return validate(MIXED)


# --- results and report ------------------------------------------------------------------------


def test_results_and_report_are_frozen(mixed: ValidationReport) -> None:
    result = mixed.results[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.message = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        mixed.results = ()  # type: ignore[misc]
    assert isinstance(mixed.results, tuple)
    assert hash(result) == hash(dataclasses.replace(result))


def test_results_are_sorted_by_severity_then_focus_node(mixed: ValidationReport) -> None:
    assert list(mixed.results) == sorted(mixed.results, key=ValidationResult.sort_key)
    severities = [r.severity for r in mixed.results]
    assert severities == sorted(severities, key=[*Severity].index)
    assert severities[0] is Severity.VIOLATION and severities[-1] is Severity.INFO


def test_validation_is_deterministic() -> None:
    assert validate(MIXED).results == validate(MIXED).results


def test_severity_partitions(mixed: ValidationReport) -> None:
    assert mixed.violations and mixed.warnings and mixed.infos
    assert len(mixed.violations) + len(mixed.warnings) + len(mixed.infos) == len(mixed.results)
    assert all(r.severity is Severity.WARNING for r in mixed.warnings)
    assert {r.focus_node for r in mixed.infos} == {"https://w3id.org/coprod/id/project/x"}


def test_a_violation_makes_data_fail(mixed: ValidationReport) -> None:
    assert not mixed.conforms
    nameless = [r for r in mixed.violations if r.focus_node.endswith("/person/nameless")]
    assert {r.path for r in nameless} >= {FOAF_NAME}


def test_warnings_and_infos_do_not_make_data_fail() -> None:
    report = validate(turtle(complete_person()))
    assert report.conforms
    assert not report.violations
    assert [(r.focus_node, r.path, r.severity) for r in report.results] == [
        (ADA, OWL_SAME_AS, Severity.WARNING)
    ]


def test_result_fields(mixed: ValidationReport) -> None:
    order = next(r for r in mixed.results if r.source_shape.endswith("/Period-order"))
    assert order.focus_node == "https://w3id.org/coprod/id/period/p"
    assert order.path == "http://www.w3.org/ns/dcat#endDate"
    assert order.value == '"2018"^^<http://www.w3.org/2001/XMLSchema#gYear>'
    assert order.message == "The period starts (2019) after it ends (2018)"
    assert order.source_shape == "https://w3id.org/coprod/shapes/Period-order"


def test_complex_paths_are_rendered_as_sparql_paths(mixed: ValidationReport) -> None:
    record = next(r for r in mixed.results if r.source_shape.endswith("/Entry-record"))
    assert record.path == "^<http://xmlns.com/foaf/0.1/primaryTopic>"
    assert record.value is None


def test_missing_values_have_no_value(mixed: ValidationReport) -> None:
    name = next(r for r in mixed.results if r.source_shape.endswith("/Person-name"))
    assert name.value is None


# --- renderings --------------------------------------------------------------------------------


def test_to_text_has_one_block_per_result_and_a_summary(mixed: ValidationReport) -> None:
    text = mixed.to_text()
    blocks = text.strip().split("\n\n")
    assert len(blocks) == len(mixed.results) + 1
    first = mixed.results[0]
    assert blocks[0].startswith(f"Violation: {first.focus_node}")
    assert first.message in blocks[0]
    for result in mixed.results:
        assert result.focus_node in text
        assert result.message in text
    assert "  path:    foaf:name" in text  # paths shortened with the usual prefixes
    assert blocks[-1] == mixed.summary()
    assert mixed.summary() == (
        f"does not conform: {len(mixed.violations)} violations, "
        f"{len(mixed.warnings)} warnings, 1 info"
    )


def test_to_text_of_conforming_data() -> None:
    text = validate(turtle(complete_person())).to_text()
    assert text.endswith("conforms: 0 violations, 1 warning, 0 infos\n")
    assert f"Warning: {ADA}\n  path:    owl:sameAs\n" in text


def test_to_json_round_trips(mixed: ValidationReport) -> None:
    document = json.loads(mixed.to_json())
    assert document["conforms"] is False
    assert document["violations"] == len(mixed.violations)
    assert document["warnings"] == len(mixed.warnings)
    assert document["infos"] == len(mixed.infos)
    assert document["results"] == [r.to_dict() for r in mixed.results]
    assert document["results"][0]["severity"] == "Violation"
    assert set(document["results"][0]) == {
        "severity",
        "focus_node",
        "path",
        "value",
        "message",
        "source_shape",
    }


def test_to_turtle_is_the_shacl_report(mixed: ValidationReport) -> None:
    graph = rdflib.Graph().parse(data=mixed.to_turtle(), format="turtle")
    report = next(graph.subjects(rdflib.RDF.type, SH.ValidationReport))
    assert graph.value(report, SH.conforms) is not None
    assert len(list(graph.objects(report, SH.result))) == len(mixed.results)


# --- validate() options ------------------------------------------------------------------------


def test_dataset_is_validated_as_the_union_of_its_graphs() -> None:
    dataset = rdflib.Dataset()
    people = dataset.graph(URIRef("https://w3id.org/coprod/graph/people"))
    people.parse(data=PREFIXES + complete_person(), format="turtle")
    extra = dataset.graph(URIRef("https://w3id.org/coprod/graph/extra"))
    extra.parse(data=PREFIXES + 'person:ada foaf:name "Ada Lovelace" .', format="turtle")
    report = validate(dataset)
    # Only the union shows two names; each graph alone has at most one.
    assert [r.source_shape for r in report.violations] == [
        "https://w3id.org/coprod/shapes/Person-name",
        "https://w3id.org/coprod/shapes/Person-schema-name",
    ]


def test_ontology_subclasses_count_for_targets() -> None:
    ontology = turtle("<https://w3id.org/coprod/ontology/Researcher> rdfs:subClassOf foaf:Person .")
    data = turtle("person:r a <https://w3id.org/coprod/ontology/Researcher> .")
    assert validate(data).conforms
    report = validate(data, ontology=ontology)
    assert "https://w3id.org/coprod/id/person/r" in {r.focus_node for r in report.violations}


def test_validate_leaves_its_input_unchanged() -> None:
    data = turtle(complete_person())
    ontology = turtle("<https://w3id.org/coprod/ontology/Researcher> rdfs:subClassOf foaf:Person .")
    before = set(data)
    validate(data, ontology=ontology)
    assert set(data) == before


def test_custom_shapes() -> None:
    shapes = rdflib.Graph().parse(
        format="turtle",
        data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix foaf: <http://xmlns.com/foaf/0.1/> .
        <urn:s> a sh:NodeShape ; sh:targetClass foaf:Person ;
            sh:property [ sh:path foaf:mbox ; sh:minCount 1 ; sh:severity sh:Info ;
                          sh:message "no mailbox" ] .
        """,
    )
    report = validate(turtle(complete_person()), shapes=shapes)
    assert [(r.severity, r.message, r.source_shape) for r in report.results] == [
        (Severity.INFO, "no mailbox", report.results[0].source_shape)
    ]
    assert report.conforms


@pytest.mark.parametrize(
    "shape",
    [
        '<urn:s> a sh:NodeShape ; sh:targetClass foaf:Person ; sh:property [ sh:path foaf:name ; sh:minCount "one" ] .',
        '<urn:s> a sh:NodeShape ; sh:targetClass foaf:Person ; sh:sparql [ sh:message "m" ; sh:select "SELECT $this WHERE { oops" ] .',
    ],
    ids=["bad-count", "bad-sparql"],
)
def test_broken_shapes_raise_shapes_error(shape: str) -> None:
    shapes = rdflib.Graph().parse(
        format="turtle",
        data="@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n" + shape,
    )
    with pytest.raises(ShapesError) as caught:
        validate(turtle(complete_person()), shapes=shapes)
    assert isinstance(caught.value, CokgError)
    assert "shapes cannot be run" in str(caught.value)


def test_invalid_data_never_raises() -> None:
    report = validate(turtle('person:x a foaf:Person ; foaf:name 42 , "x"@en ; owl:sameAs "no" .'))
    assert not report.conforms


def test_load_shapes_reads_every_shapes_file() -> None:
    shapes = load_shapes()
    assert load_shapes() is shapes
    files = sorted(SHAPES_DIR.glob("*.ttl"))
    assert len(files) > 1
    for path in files:
        named = {
            triple
            for triple in rdflib.Graph().parse(path, format="turtle")
            if not any(isinstance(term, BNode) for term in triple)
        }
        assert named <= set(shapes), path.name


def test_severity_iris() -> None:
    assert Severity.VIOLATION.iri == "http://www.w3.org/ns/shacl#Violation"
    assert Severity.from_iri("http://www.w3.org/ns/shacl#Info") is Severity.INFO
    with pytest.raises(ValueError, match="not a SHACL severity"):
        Severity.from_iri("http://www.w3.org/ns/shacl#Error")
