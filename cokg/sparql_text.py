"""Small facts read off the text of a SPARQL query, shared by the store backends."""

from __future__ import annotations

import re

from cokg.errors import QueryError

_DATASET_CLAUSE = re.compile(r"\bFROM\s+(?:NAMED\s+)?(?:<|[A-Za-z][\w.\-]*:|:)", re.IGNORECASE)

# What may hide a FROM keyword: IRIs (kept), string literals and comments (blanked).
_LEXICAL = re.compile(
    r"""(?P<iri><[^<>"{}|^`\\\s]*>)"""
    r'''|(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|'\''\''(?:[^'\\]|\\.|'(?!''))*'\''\''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')'''
    r"|(?P<comment>#[^\n]*)",
    re.DOTALL,
)


def code_only(sparql: str) -> str:
    """Return ``sparql`` with its comments and string literals blanked out (IRIs kept).

    >>> code_only('# from ex: here\\nASK { ?s ?p "FROM <x>" }')
    ' \\nASK { ?s ?p   }'
    """
    return _LEXICAL.sub(lambda m: m.group("iri") or " ", sparql)


def has_dataset_clause(sparql: str) -> bool:
    """Tell whether a query names its own dataset with ``FROM`` / ``FROM NAMED``.

    Such a query must not get the union default graph on top of its own dataset. Words in
    comments and string literals do not count.

    >>> has_dataset_clause("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }")
    True
    >>> has_dataset_clause("SELECT ?from WHERE { ?from ?p ?o }")
    False
    >>> has_dataset_clause("# Search from SPARQL: an example\\nASK {}")
    False
    """
    return _DATASET_CLAUSE.search(code_only(sparql)) is not None


_REPORTED_LINE = re.compile(r"(\bat |\bline |\bbetween line |\band line )(\d+)")


def shift_back(error: QueryError, lines: int) -> QueryError:
    """Return ``error`` with its line numbers moved up by the ``lines`` added before the text.

    Used wherever cokg puts lines (``PREFIX``, ``BASE``) before a user's query, so that the
    line and column an engine reports point into the user's own text.

    >>> str(shift_back(QueryError("error at 2:8: expected", line=2, column=8), 1))
    'error at 1:8: expected'
    """
    if not lines:
        return error
    message = _REPORTED_LINE.sub(
        lambda m: m.group(1) + str(max(1, int(m.group(2)) - lines)), error.message
    )
    line = max(1, error.line - lines) if error.line is not None else None
    return QueryError(message, line=line, column=error.column)
