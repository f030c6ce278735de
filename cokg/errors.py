"""The errors cokg raises: one base class, one subclass per kind of failure.

Errors that can reach an HTTP client carry the status they map to, so one handler in the web
layer can render any of them.
"""

from __future__ import annotations

from typing import Any


class CokgError(Exception):
    """Base class of every error cokg raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class QueryError(CokgError):
    """A SPARQL query or update is malformed or cannot be evaluated."""

    status = 400

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class QueryTimeout(CokgError):
    """A query ran past the configured time limit and was stopped."""

    status = 503


class ParseError(CokgError):
    """RDF data could not be parsed; names the source and, where known, line and column."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        where = source or "<input>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")
        self.reason = message
        self.source = source
        self.line = line
        self.column = column


class UnsupportedFormat(CokgError):
    """A file extension, media type or format name that cokg does not know."""

    status = 415


class IdentifierError(CokgError):
    """An ORCID, ROR, DOI or Wikidata identifier that is malformed or fails its checksum."""

    status = 422

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(f"{kind} {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


class ValidationFailed(CokgError):
    """Data does not conform to the SHACL shapes; ``report`` holds the details."""

    status = 422

    def __init__(self, report: Any, message: str = "data does not conform to the shapes") -> None:
        super().__init__(message)
        self.report = report


class NotFound(CokgError):
    """A resource, graph or file that does not exist."""

    status = 404


class StoreUnavailable(CokgError):
    """The store (or the remote engine behind it) cannot be reached."""

    status = 503
