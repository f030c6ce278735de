"""Small facts read off the text of a SPARQL query, shared by the store backends."""

from __future__ import annotations

import re

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
