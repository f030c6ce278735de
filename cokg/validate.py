"""Validate RDF against cokg's SHACL shapes (``shapes/*.ttl``) with pySHACL.

:func:`validate` returns a :class:`ValidationReport`: an immutable, sorted tuple of
:class:`ValidationResult` plus the SHACL report graph. Only violations make data fail;
warnings (recommended links such as a missing ORCID iD) and infos (notes) are reported but
never change :attr:`ValidationReport.conforms`.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import rdflib
from pyparsing import ParseException
from pyshacl import validate as shacl_validate
from pyshacl.errors import ReportableRuntimeError
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.sparql import Query
from rdflib.term import BNode, Literal, Node, URIRef

from cokg.errors import CokgError
from cokg.namespaces import PREFIXES
from cokg.resources import SHAPES_DIR

__all__ = [
    "Severity",
    "ShapesError",
    "ValidationReport",
    "ValidationResult",
    "load_shapes",
    "validate",
]


class ShapesError(CokgError):
    """The shapes themselves are broken: they do not parse or pySHACL cannot run them.

    This is a fault of cokg (or of shapes a caller passed in), never of the data validated.
    """

    status = 500


class Severity(enum.Enum):
    """The severity of a result: only a violation makes data fail."""

    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"

    @property
    def iri(self) -> str:
        """The SHACL IRI of this severity, e.g. ``http://www.w3.org/ns/shacl#Violation``."""
        return str(SH) + self.value

    @classmethod
    def from_iri(cls, iri: str) -> Severity:
        """Return the severity whose SHACL IRI is ``iri``; raise :class:`ValueError` if none."""
        for severity in cls:
            if severity.iri == iri:
                return severity
        raise ValueError(f"not a SHACL severity: {iri}")


_SEVERITY_ORDER = {Severity.VIOLATION: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class ValidationResult:
    """One SHACL result.

    ``focus_node`` is the IRI of the resource the result is about (``_:id`` for a blank node);
    ``path`` the property (an IRI, or a SPARQL property path such as ``^<…primaryTopic>`` for a
    complex path), ``None`` for a result about the node itself; ``value`` the offending value
    (an IRI, or a literal in N-Triples syntax), ``None`` when the problem is a missing value;
    ``source_shape`` the IRI of the shape that produced it.
    """

    focus_node: str
    path: str | None
    value: str | None
    message: str
    severity: Severity
    source_shape: str

    def sort_key(self) -> tuple[int, str, str, str, str, str]:
        """The key results are sorted by: severity, focus node, path, message, value, shape."""
        return (
            _SEVERITY_ORDER[self.severity],
            self.focus_node,
            self.path or "",
            self.message,
            self.value or "",
            self.source_shape,
        )

    def to_dict(self) -> dict[str, str | None]:
        """Return the result as a JSON-ready dictionary."""
        return {
            "severity": self.severity.value,
            "focus_node": self.focus_node,
            "path": self.path,
            "value": self.value,
            "message": self.message,
            "source_shape": self.source_shape,
        }


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate`: sorted results and pySHACL's report graph."""

    results: tuple[ValidationResult, ...]
    graph: rdflib.Graph

    @property
    def conforms(self) -> bool:
        """``True`` when there is no violation (warnings and infos are allowed)."""
        return not self.violations

    @property
    def violations(self) -> tuple[ValidationResult, ...]:
        """The results of severity :attr:`Severity.VIOLATION`."""
        return self._of(Severity.VIOLATION)

    @property
    def warnings(self) -> tuple[ValidationResult, ...]:
        """The results of severity :attr:`Severity.WARNING`."""
        return self._of(Severity.WARNING)

    @property
    def infos(self) -> tuple[ValidationResult, ...]:
        """The results of severity :attr:`Severity.INFO`."""
        return self._of(Severity.INFO)

    def _of(self, severity: Severity) -> tuple[ValidationResult, ...]:
        return tuple(r for r in self.results if r.severity is severity)

    def summary(self) -> str:
        """One line: whether the data conforms, and how many results of each severity."""
        verdict = "conforms" if self.conforms else "does not conform"
        counts = ", ".join(
            _plural(len(found), noun)
            for found, noun in (
                (self.violations, "violation"),
                (self.warnings, "warning"),
                (self.infos, "info"),
            )
        )
        return f"{verdict}: {counts}"

    def to_text(self) -> str:
        """Return a readable report: one block per result, in order, then the summary line."""
        blocks = []
        for result in self.results:
            lines = [f"{result.severity.value}: {result.focus_node}"]
            if result.path is not None:
                lines.append(f"  path:    {_compact(result.path)}")
            if result.value is not None:
                lines.append(f"  value:   {result.value}")
            lines.append(f"  message: {result.message}")
            lines.append(f"  shape:   {_compact(result.source_shape)}")
            blocks.append("\n".join(lines))
        blocks.append(self.summary())
        return "\n\n".join(blocks) + "\n"

    def to_json(self) -> str:
        """Return the report as a JSON object: ``conforms``, counts and ``results``."""
        document = {
            "conforms": self.conforms,
            "violations": len(self.violations),
            "warnings": len(self.warnings),
            "infos": len(self.infos),
            "results": [result.to_dict() for result in self.results],
        }
        return json.dumps(document, indent=2, ensure_ascii=False)

    def to_turtle(self) -> str:
        """Return the SHACL validation report graph as Turtle."""
        return self.graph.serialize(format="turtle")


@functools.cache
def load_shapes() -> rdflib.Graph:
    """Return the shapes graph: every ``shapes/*.ttl`` file, parsed once and cached.

    The same graph object is returned on every call; treat it as read-only.
    Raises :class:`ShapesError` if a shapes file does not parse.
    """
    graph = rdflib.Graph()
    files = sorted(SHAPES_DIR.glob("*.ttl"))
    if not files:
        raise ShapesError(f"no shapes (*.ttl) found in {SHAPES_DIR}")
    for path in files:
        try:
            graph.parse(path, format="turtle")
        except Exception as error:  # rdflib raises several unrelated types on bad syntax
            raise ShapesError(f"shapes file {path.name} does not parse: {error}") from error
    return graph


def validate(
    data: rdflib.Graph | rdflib.Dataset,
    *,
    shapes: rdflib.Graph | None = None,
    ontology: rdflib.Graph | None = None,
) -> ValidationReport:
    """Validate ``data`` against ``shapes`` (default: :func:`load_shapes`).

    A :class:`rdflib.Dataset` (or any graph with named graphs) is validated as the union of its
    graphs, the way queries see it. ``ontology``, if given, is mixed into the data first (so its
    ``rdfs:subClassOf`` axioms count for class targets). SHACL-AF SPARQL targets are enabled;
    no inference runs. Returns a :class:`ValidationReport` whose results are sorted; raises
    :class:`ShapesError` only when the shapes are broken, never because the data is invalid.

    >>> from rdflib import Graph
    >>> data = Graph().parse(format="turtle", data='''
    ...     @prefix foaf: <http://xmlns.com/foaf/0.1/> .
    ...     @prefix schema: <https://schema.org/> .
    ...     <https://w3id.org/coprod/id/person/ada> a foaf:Person, schema:Person ;
    ...         foaf:name "Ada" ; schema:name "Ada" .
    ... ''')
    >>> report = validate(data)
    >>> report.conforms
    True
    >>> [(r.severity.value, r.path) for r in report.results]
    [('Warning', 'http://www.w3.org/2002/07/owl#sameAs')]
    >>> validate(Graph().parse(format="turtle", data='''
    ...     <https://w3id.org/coprod/id/person/ada> a <http://xmlns.com/foaf/0.1/Person> .
    ... ''')).conforms
    False
    """
    shapes_graph = load_shapes() if shapes is None else shapes
    try:
        _conforms, report_graph, _text = shacl_validate(
            _copy_for_validation(data),
            shacl_graph=shapes_graph,
            ont_graph=ontology,
            inplace=True,
            advanced=True,
            inference="none",
            allow_warnings=True,
            allow_infos=True,
        )
    except (ReportableRuntimeError, ParseException) as error:
        # ParseException: a SPARQL constraint or target in the shapes does not parse.
        raise ShapesError(f"the shapes cannot be run: {error}") from error
    if not isinstance(report_graph, rdflib.Graph):  # pragma: no cover - pySHACL contract
        raise ShapesError("pySHACL returned no report graph")
    results = sorted(_results(report_graph), key=ValidationResult.sort_key)
    return ValidationReport(results=tuple(results), graph=report_graph)


class _PreparedQueryGraph(rdflib.Graph):
    """A graph that parses each distinct SPARQL text once.

    pySHACL sends the same query text for every focus node (binding ``$this`` separately), and
    rdflib's parser takes about a quarter of a second per SPARQL constraint: caching the parsed
    query makes validating the knowledge base several times faster.
    """

    def query(
        self,
        query_object: Any,
        processor: Any = "sparql",
        result: Any = "sparql",
        initNs: Any = None,  # noqa: N803 - rdflib's name
        initBindings: Any = None,  # noqa: N803 - rdflib's name
        use_store_provided: bool = True,
        **kwargs: Any,
    ) -> Any:
        if isinstance(query_object, str) and not initNs and processor == "sparql":
            query_object = _prepared(query_object)
        return super().query(
            query_object, processor, result, initNs, initBindings, use_store_provided, **kwargs
        )


@functools.lru_cache(maxsize=1024)
def _prepared(text: str) -> Query:
    return prepareQuery(text)


def _copy_for_validation(data: rdflib.Graph) -> _PreparedQueryGraph:
    """Copy ``data`` (for a graph with named graphs: the union of its graphs) for pySHACL.

    pySHACL runs in place on the copy, so the caller's graph is never changed (an ontology
    mixed in lands in the copy only).
    """
    copy = _PreparedQueryGraph()
    for prefix, namespace in data.namespaces():
        copy.bind(prefix, namespace)
    if isinstance(data, rdflib.ConjunctiveGraph):
        for subject, predicate, obj, _context in data.quads((None, None, None, None)):
            copy.add((subject, predicate, obj))
    else:
        for triple in data:
            copy.add(triple)
    return copy


def _results(report: rdflib.Graph) -> Iterator[ValidationResult]:
    # Only the report's own results: those nested under sh:detail (why an sh:node or sh:or
    # failed) repeat their parent's finding without its message.
    for node in report.objects(None, SH.result):
        focus = report.value(node, SH.focusNode)
        severity = report.value(node, SH.resultSeverity)
        if focus is None or severity is None:  # pragma: no cover - pySHACL always sets both
            continue
        path = report.value(node, SH.resultPath)
        value = report.value(node, SH.value)
        shape = report.value(node, SH.sourceShape)
        messages = sorted(str(m) for m in report.objects(node, SH.resultMessage))
        yield ValidationResult(
            focus_node=_term(focus),
            path=None if path is None else _path(report, path, top=True),
            value=None if value is None else _term(value),
            message=" / ".join(messages) or "(no message)",
            severity=Severity.from_iri(str(severity)),
            source_shape="" if shape is None else _term(shape),
        )


def _term(node: Node) -> str:
    if isinstance(node, Literal):
        return node.n3()
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


def _path(graph: rdflib.Graph, node: Node, *, top: bool = False) -> str:
    """Render a SHACL property path: a bare IRI at the top, else SPARQL property-path syntax."""
    if isinstance(node, URIRef):
        return str(node) if top else f"<{node}>"
    if (node, RDF.first, None) in graph:
        return "/".join(_path(graph, step) for step in Collection(graph, node))
    for predicate, template in (
        (SH.inversePath, "^{}"),
        (SH.zeroOrMorePath, "{}*"),
        (SH.oneOrMorePath, "{}+"),
        (SH.zeroOrOnePath, "{}?"),
    ):
        inner = graph.value(node, predicate)
        if inner is not None:
            return template.format(_grouped(graph, inner))
    alternatives = graph.value(node, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path(graph, step) for step in Collection(graph, alternatives)) + ")"
    return _term(node)  # pragma: no cover - not a SHACL path


def _grouped(graph: rdflib.Graph, node: Node) -> str:
    rendered = _path(graph, node)
    return rendered if isinstance(node, URIRef) or rendered.startswith("(") else f"({rendered})"


def _compact(iri: str) -> str:
    """Shorten a plain IRI with cokg's prefixes for display (``foaf:name``)."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and "/" not in iri[len(namespace) :]:
            return f"{prefix}:{iri[len(namespace) :]}"
    if iri.startswith(_SHAPES_NS):
        return f"shapes:{iri[len(_SHAPES_NS) :]}"
    return iri


_SHAPES_NS = "https://w3id.org/coprod/shapes/"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
