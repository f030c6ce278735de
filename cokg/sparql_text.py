"""Small facts read off the text of a SPARQL query, shared by the store backends."""

from __future__ import annotations

import re

_DATASET_CLAUSE = re.compile(r"\bFROM\s+(?:NAMED\s+)?(?:<|[A-Za-z][\w.\-]*:|:)", re.IGNORECASE)


def has_dataset_clause(sparql: str) -> bool:
    """Tell whether a query names its own dataset with ``FROM`` / ``FROM NAMED``.

    Such a query must not get the union default graph on top of its own dataset.

    >>> has_dataset_clause("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }")
    True
    >>> has_dataset_clause("SELECT ?from WHERE { ?from ?p ?o }")
    False
    """
    return _DATASET_CLAUSE.search(sparql) is not None
