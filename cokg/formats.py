"""One table of the RDF and query-result formats cokg reads and writes.

The loader, the exporter, the command line and the web layer all look formats up here, by
name, file extension or media type.

>>> RDF_FORMATS.by_extension("ttl").name
'turtle'
>>> RDF_FORMATS.by_media_type("application/n-quads; charset=utf-8").extension
'nq'
>>> RDF_FORMATS.get("jsonld").media_type
'application/ld+json'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Generic, TypeVar

from pyoxigraph import QueryResultsFormat, RdfFormat

from cokg.errors import UnsupportedFormat


@dataclass(frozen=True)
class Format:
    """An RDF serialisation: its names, media types and file extensions."""

    name: str
    label: str
    media_types: tuple[str, ...]
    extensions: tuple[str, ...]
    dataset: bool
    """True when the format carries named graphs (N-Quads, TriG)."""
    oxigraph: RdfFormat

    @property
    def media_type(self) -> str:
        """The preferred media type."""
        return self.media_types[0]

    @property
    def extension(self) -> str:
        """The preferred file extension, without the dot."""
        return self.extensions[0]


@dataclass(frozen=True)
class ResultsFormat:
    """A SPARQL query results serialisation (SELECT and ASK)."""

    name: str
    label: str
    media_types: tuple[str, ...]
    extensions: tuple[str, ...]
    oxigraph: QueryResultsFormat

    @property
    def media_type(self) -> str:
        """The preferred media type."""
        return self.media_types[0]

    @property
    def extension(self) -> str:
        """The preferred file extension, without the dot."""
        return self.extensions[0]


F = TypeVar("F", Format, ResultsFormat)


def _spellings(fmt: Format | ResultsFormat) -> tuple[str, ...]:
    return (fmt.name, *fmt.extensions)


class _Table(Generic[F]):
    """Look-ups over a fixed tuple of formats."""

    kind: str
    formats: tuple[F, ...]

    def __init__(self, kind: str, formats: tuple[F, ...]) -> None:
        self.kind = kind
        self.formats = formats

    def __iter__(self) -> Iterator[F]:
        return iter(self.formats)

    def names(self) -> list[str]:
        """Return every format name and extension a user may type."""
        found: list[str] = []
        for candidates in map(_spellings, self.formats):
            for name in candidates:
                if name not in found:
                    found.append(name)
        return found

    def get(self, name: str) -> F:
        """Return the format called ``name`` (a format name or a file extension).

        Raises :class:`~cokg.errors.UnsupportedFormat` when there is none.
        """
        key = name.lower().lstrip(".")
        for fmt in self.formats:
            if key == fmt.name or key in fmt.extensions:
                return fmt
        raise UnsupportedFormat(
            f"unknown {self.kind} format {name!r}; known: {', '.join(self.names())}"
        )

    def by_extension(self, extension: str) -> F:
        """Return the format of a file extension (with or without the dot)."""
        key = extension.lower().lstrip(".")
        for fmt in self.formats:
            if key in fmt.extensions:
                return fmt
        known = ", ".join("." + e for f in self.formats for e in f.extensions)
        raise UnsupportedFormat(f"unknown file extension {extension!r}; known: {known}")

    def by_path(self, path: str | PurePath) -> F:
        """Return the format of a file from its name (``.gz`` is not looked through)."""
        suffix = PurePath(path).suffix
        if not suffix:
            raise UnsupportedFormat(f"{path}: no file extension to tell the format by")
        try:
            return self.by_extension(suffix)
        except UnsupportedFormat as e:
            raise UnsupportedFormat(f"{path}: {e}") from None

    def by_media_type(self, media_type: str) -> F:
        """Return the format of a media type; parameters such as ``charset`` are ignored."""
        key = media_type.split(";", 1)[0].strip().lower()
        for fmt in self.formats:
            if key in fmt.media_types:
                return fmt
        raise UnsupportedFormat(f"unsupported media type {media_type!r}")

    def media_types(self) -> list[str]:
        """Return every media type of the table, preferred ones first."""
        return [m for f in self.formats for m in f.media_types]


TURTLE = Format(
    "turtle", "Turtle", ("text/turtle", "application/x-turtle"), ("ttl",), False, RdfFormat.TURTLE
)
NTRIPLES = Format(
    "ntriples",
    "N-Triples",
    ("application/n-triples", "text/plain"),
    ("nt",),
    False,
    RdfFormat.N_TRIPLES,
)
NQUADS = Format(
    "nquads", "N-Quads", ("application/n-quads", "text/x-nquads"), ("nq",), True, RdfFormat.N_QUADS
)
TRIG = Format("trig", "TriG", ("application/trig",), ("trig",), True, RdfFormat.TRIG)
RDFXML = Format(
    "rdfxml",
    "RDF/XML",
    ("application/rdf+xml", "application/xml", "text/xml"),
    ("rdf", "owl", "xml"),
    False,
    RdfFormat.RDF_XML,
)
JSONLD = Format(
    "jsonld",
    "JSON-LD",
    ("application/ld+json", "application/json"),
    ("jsonld", "json"),
    False,
    RdfFormat.JSON_LD,
)

RDF_FORMATS: _Table[Format] = _Table("RDF", (TURTLE, NTRIPLES, NQUADS, TRIG, RDFXML, JSONLD))

SPARQL_JSON = ResultsFormat(
    "json",
    "SPARQL JSON",
    ("application/sparql-results+json", "application/json"),
    ("srj", "json"),
    QueryResultsFormat.JSON,
)
SPARQL_XML = ResultsFormat(
    "xml",
    "SPARQL XML",
    ("application/sparql-results+xml", "application/xml", "text/xml"),
    ("srx", "xml"),
    QueryResultsFormat.XML,
)
SPARQL_CSV = ResultsFormat("csv", "CSV", ("text/csv",), ("csv",), QueryResultsFormat.CSV)
SPARQL_TSV = ResultsFormat(
    "tsv", "TSV", ("text/tab-separated-values",), ("tsv",), QueryResultsFormat.TSV
)

RESULTS_FORMATS: _Table[ResultsFormat] = _Table(
    "query results", (SPARQL_JSON, SPARQL_XML, SPARQL_CSV, SPARQL_TSV)
)
