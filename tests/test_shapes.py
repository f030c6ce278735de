"""Table tests of the SHACL shapes, driven by the cases in ``tests/shapes/``.

Layout: ``tests/shapes/<NodeShape local name>/valid/*.ttl`` must conform (no violation) and
must give the shape at least one focus node; ``tests/shapes/<NodeShape>/invalid/*.ttl`` start
with comment lines declaring the results they must produce::

    # expect-focus: https://w3id.org/coprod/id/person/x
    # expect-path: http://xmlns.com/foaf/0.1/name      ("none" for a result about the node)
    # expect-severity: Violation
    # expect-shape: https://w3id.org/coprod/shapes/Person-name      (optional)
    # expect-value: …                                                (optional)

A new ``expect-focus`` line starts a further expected result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH
from rdflib.term import Node, URIRef

from cokg import ids
from cokg.resources import knowledge_base_files
from cokg.validate import Severity, ValidationReport, ValidationResult, load_shapes, validate

CASES = Path(__file__).parent / "shapes"
SHAPES = "https://w3id.org/coprod/shapes/"


@dataclass
class Expected:
    focus: str
    path: str | None = None
    severity: Severity = Severity.VIOLATION
    shape: str | None = None
    value: str | None = None
    fields: set[str] = field(default_factory=set)

    def matches(self, result: ValidationResult) -> bool:
        return (
            result.focus_node == self.focus
            and result.path == self.path
            and result.severity is self.severity
            and (self.shape is None or result.source_shape == self.shape)
            and (self.value is None or result.value == self.value)
        )


def read_expectations(case: Path) -> list[Expected]:
    """Parse the ``# expect-…`` lines at the top of an invalid case."""
    expected: list[Expected] = []
    for line in case.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, text = line.lstrip("# ").partition(":")
        text = text.strip()
        if not key.startswith("expect-"):
            continue
        name = key.removeprefix("expect-")
        if name == "focus":
            expected.append(Expected(focus=text, fields={"focus"}))
            continue
        if not expected:
            raise ValueError(f"{case}: expect-{name} before expect-focus")
        current = expected[-1]
        current.fields.add(name)
        if name == "path":
            current.path = None if text == "none" else text
        elif name == "severity":
            current.severity = Severity(text)
        elif name == "shape":
            current.shape = text
        elif name == "value":
            current.value = text
        else:
            raise ValueError(f"{case}: unknown expectation expect-{name}")
    return expected


def cases(kind: str) -> list[Path]:
    return sorted(CASES.glob(f"*/{kind}/*.ttl"))


def case_id(case: Path) -> str:
    return str(case.relative_to(CASES))


def parse(case: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(case, format="turtle")


def node_shape_of(case: Path) -> URIRef:
    return URIRef(SHAPES + case.parent.parent.name)


def shapes_graph() -> rdflib.Graph:
    return load_shapes()


def owned_shapes(node_shape: URIRef) -> set[Node]:
    """The node shape itself and its property shapes: the shapes a case folder tests."""
    return {node_shape, *shapes_graph().objects(node_shape, SH.property)}


def value_shapes() -> set[Node]:
    """Shapes used only as values of sh:node, sh:or … (they need no target)."""
    graph = shapes_graph()
    used: set[Node] = set()
    for predicate in (SH.node, SH.qualifiedValueShape, SH["not"]):
        used.update(graph.objects(None, predicate))
    for predicate in (SH["or"], SH["and"], SH.xone):
        for members in graph.objects(None, predicate):
            used.update(Collection(graph, members))
    return used


def targeted_node_shapes() -> list[URIRef]:
    graph = shapes_graph()
    found = [
        shape
        for shape in graph.subjects(RDF.type, SH.NodeShape)
        if isinstance(shape, URIRef) and shape not in value_shapes()
    ]
    return sorted(found)


_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def focus_nodes(shape: URIRef, data: rdflib.Graph) -> set[Node]:
    """The focus nodes ``shape`` selects in ``data`` (core targets and SPARQL targets)."""
    graph = shapes_graph()
    found: set[Node] = set()
    for cls in graph.objects(shape, SH.targetClass):
        query = "SELECT ?n WHERE { ?n a/rdfs:subClassOf* ?c }"
        rows = data.query(query, initBindings={"c": URIRef(str(cls))}, initNs={"rdfs": RDFS})
        found.update(row[0] for row in rows)  # type: ignore[index]
    for node in graph.objects(shape, SH.targetNode):
        if (node, None, None) in data or (None, None, node) in data:
            found.add(node)
    for predicate in graph.objects(shape, SH.targetSubjectsOf):
        found.update(data.subjects(predicate, None))
    for predicate in graph.objects(shape, SH.targetObjectsOf):
        found.update(data.objects(None, predicate))
    for target in graph.objects(shape, SH.target):
        select = graph.value(target, SH.select)
        prologue = "".join(
            f"PREFIX {graph.value(d, SH.prefix)}: <{graph.value(d, SH.namespace)}>\n"
            for declarer in graph.objects(target, SH.prefixes)
            for d in graph.objects(declarer, SH.declare)
        )
        found.update(row[0] for row in data.query(prologue + str(select)))  # type: ignore[index]
    return found


# --- the shapes graph itself ---------------------------------------------------------------


def test_shapes_graph_parses_and_is_cached() -> None:
    graph = load_shapes()
    assert len(graph) > 500
    assert load_shapes() is graph
    assert (None, RDF.type, SH.NodeShape) in graph


def test_every_node_shape_has_a_target_unless_it_is_a_value_shape() -> None:
    graph = shapes_graph()
    for shape in graph.subjects(RDF.type, SH.NodeShape):
        if shape in value_shapes():
            continue
        assert any(graph.value(shape, t) is not None for t in _TARGETS), shape


def test_every_shape_has_a_name_and_every_property_shape_a_message() -> None:
    graph = shapes_graph()
    for shape in graph.subjects(RDF.type, SH.NodeShape):
        assert graph.value(shape, SH.name) is not None, f"{shape} has no sh:name"
        for constraint in graph.objects(shape, SH.sparql):
            assert graph.value(constraint, SH.message) is not None, f"{shape}: no SPARQL message"
        for prop in graph.objects(shape, SH.property):
            assert graph.value(prop, SH.name) is not None, f"{prop} has no sh:name"
            own = graph.value(prop, SH.message)
            sparql = list(graph.objects(prop, SH.sparql))
            if sparql:
                # pySHACL would attach a shape message to every SPARQL result too.
                assert own is None, f"{prop}: a message on a shape that hosts SPARQL"
                assert all(graph.value(s, SH.message) is not None for s in sparql), prop
            else:
                assert own is not None, f"{prop} has no sh:message"


def test_every_targeted_node_shape_has_valid_and_invalid_cases() -> None:
    for shape in targeted_node_shapes():
        name = shape.removeprefix(SHAPES)
        assert list((CASES / name / "valid").glob("*.ttl")), f"no valid case for {name}"
        assert list((CASES / name / "invalid").glob("*.ttl")), f"no invalid case for {name}"


def test_every_case_folder_names_a_targeted_node_shape() -> None:
    names = {shape.removeprefix(SHAPES) for shape in targeted_node_shapes()}
    for folder in CASES.iterdir():
        if folder.is_dir():
            assert folder.name in names, f"tests/shapes/{folder.name} names no node shape"


def test_every_constraint_has_an_invalid_case() -> None:
    graph = shapes_graph()
    tested = {expected.shape for case in cases("invalid") for expected in read_expectations(case)}
    for shape in targeted_node_shapes():
        for prop in graph.objects(shape, SH.property):
            assert str(prop) in tested, f"no invalid case declares expect-shape {prop}"
        if graph.value(shape, SH.sparql) is not None:
            assert str(shape) in tested, f"no invalid case for the SPARQL constraints of {shape}"


# --- the cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("valid"), ids=case_id)
def test_valid_case_conforms(case: Path) -> None:
    data = parse(case)
    assert focus_nodes(node_shape_of(case), data), f"{case_id(case)} gives its shape no focus node"
    report = validate(data)
    assert report.conforms, report.to_text()


@pytest.mark.parametrize("case", cases("invalid"), ids=case_id)
def test_invalid_case_reports_the_declared_result(case: Path) -> None:
    expectations = read_expectations(case)
    assert expectations, f"{case_id(case)} declares no expect-focus"
    for expected in expectations:
        assert {"focus", "path", "severity"} <= expected.fields, case_id(case)
    report = validate(parse(case))
    owned = {str(shape) for shape in owned_shapes(node_shape_of(case))}
    for expected in expectations:
        matching = [r for r in report.results if expected.matches(r)]
        assert matching, f"expected {expected} in\n{report.to_text()}"
        assert all(r.source_shape in owned for r in matching), matching


# --- checksums computed in SPARQL agree with cokg.ids ------------------------------------------

_ORCID_DIGITS = st.text(alphabet="0123456789", min_size=15, max_size=15)
_ROR_BODY = st.text(alphabet=ids.CROCKFORD, min_size=6, max_size=6)


def _identifier_report(iri: str) -> ValidationReport:
    data = rdflib.Graph()
    data.add((URIRef("https://w3id.org/coprod/id/person/x"), OWL.sameAs, URIRef(iri)))
    return validate(data)


def _checksum_failures(report: ValidationReport, kind: str) -> list[ValidationResult]:
    shape = f"{SHAPES}Identifier-{kind}-checksum"
    return [r for r in report.results if r.source_shape == shape]


@settings(max_examples=25, deadline=None)
@given(digits=_ORCID_DIGITS, other=st.sampled_from("0123456789X"))
def test_sparql_orcid_checksum_agrees_with_ids(digits: str, other: str) -> None:
    check = ids.orcid_checksum(digits)
    iri = ids.orcid(digits + check)
    assert not _checksum_failures(_identifier_report(iri), "orcid")
    if other != check:
        wrong = iri[:-1] + other
        failures = _checksum_failures(_identifier_report(wrong), "orcid")
        assert [r.value for r in failures] == [wrong]
        assert f"expected {check}" in failures[0].message


@settings(max_examples=25, deadline=None)
@given(body=_ROR_BODY, other=st.integers(min_value=0, max_value=99))
def test_sparql_ror_checksum_agrees_with_ids(body: str, other: int) -> None:
    check = ids.ror_checksum(body)
    iri = ids.ror("0" + body + check)
    assert not _checksum_failures(_identifier_report(iri), "ror")
    if f"{other:02d}" != check:
        wrong = iri[:-2] + f"{other:02d}"
        failures = _checksum_failures(_identifier_report(wrong), "ror")
        assert [r.value for r in failures] == [wrong]
        assert f"expected {check}" in failures[0].message


# --- the shipped knowledge base ----------------------------------------------------------------


def test_shipped_knowledge_base_has_no_violations() -> None:
    dataset = rdflib.Dataset()
    for path in knowledge_base_files():
        dataset.graph(URIRef(path.as_uri())).parse(path, format="turtle")
    report = validate(dataset)
    assert report.conforms, report.to_text()
    assert report.warnings  # no ORCID iD is confirmed yet: every person is a warning
