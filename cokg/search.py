"""Full-text search over the knowledge base's entries: a SQLite FTS5 index derived from a store.

:class:`SearchIndex` holds one row per entry (``schema:ResearchProject``): its title, the
labels of its keywords and approaches, its people, organisations and document titles, and its
description, ranked with BM25 and field boosts (a title match outranks a description match).
Facets (keyword, approach, organisation, person, document type) and the entry's period (as
years, whatever the precision of its dates) sit beside the text, so any combination of text
and facets is one SQL query, and the facet counts are those of the same selection.

The index is built from any :class:`~cokg.store.ReadableStore` with a few SPARQL queries
(:data:`FACETS` holds the graph pattern of each facet), updated one entry at a time after a
write (:meth:`SearchIndex.apply_write`), and rebuilt when the store's fingerprint (its graphs
and its size) no longer matches the one it was built from.

Queries are never handed to FTS5 as written: :func:`parse_query` reads words, ``"phrases"``,
``prefix*``, ``-excluded`` words and ``OR``, and everything else is plain text, so no input can
raise an FTS5 syntax error. Words are folded (case, accents, apostrophes) and stemmed (FTS5's
Porter tokenizer); a hyphenated compound seen in the data ("co-production") also matches
written as one word ("coproduction") or two ("co production").

>>> from cokg.load import open_knowledge_base
>>> index = SearchIndex()
>>> index.build(open_knowledge_base())
6
>>> result = index.search("citizens' juries")
>>> result.hits[0].title
'Local solutions to local problems: innovation in public participation'
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyoxigraph import Literal, NamedNode, QuerySolutions

from cokg.errors import CokgError
from cokg.store import ReadableStore

SEARCH_FUNCTION = "https://w3id.org/coprod/fn/search"
"""The SPARQL function ``<…fn/search>(?entry, "text")``: true when the entry matches."""
SCORE_FUNCTION = "https://w3id.org/coprod/fn/score"
"""The SPARQL function ``<…fn/score>(?entry, "text")``: the entry's relevance (0 if no match)."""

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
FACET_VALUES = 50
"""Values listed per facet (the most frequent in the selection; a chosen one always is)."""
_SCHEMA_VERSION = "2"

_COLUMNS = ("title", "topics", "people", "organisations", "documents", "description")
_BOOSTS = (10.0, 5.0, 3.0, 3.0, 2.0, 1.0)
"""BM25 weight per column of :data:`_COLUMNS`: a title match counts ten description matches."""
_BOOST_LIST = ", ".join(str(b) for b in _BOOSTS)

_OPEN, _CLOSE = "\x02", "\x03"  # highlight markers: control characters never indexed
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_COMPOUND = re.compile(r"\b(\w+)(?:[-‐‑](\w+))+\b")


class SearchError(CokgError):
    """A search that cannot be answered as asked (bad paging, bad year)."""

    status = 400


@dataclass(frozen=True)
class Facet:
    """A facet: its parameter name, its heading, and the SPARQL pattern binding ?entry ?value."""

    name: str
    label: str
    pattern: str
    label_pattern: str = "OPTIONAL { ?value skos:prefLabel ?label }"


FACETS: dict[str, Facet] = {
    facet.name: facet
    for facet in (
        Facet("keyword", "Keyword", "?entry dcterms:subject ?value ."),
        Facet("approach", "Co-production approach", "?entry cop:approach ?value ."),
        Facet(
            "organisation",
            "Organisation",
            "{ ?entry dcterms:contributor/org:memberOf ?value } "
            "UNION { ?entry schema:funder ?value }",
            "OPTIONAL { ?value foaf:name ?label }",
        ),
        Facet(
            "person",
            "Person",
            "?entry dcterms:contributor ?value .",
            "OPTIONAL { ?value foaf:name ?label }",
        ),
        Facet(
            "type",
            "Document type",
            "?entry dcterms:relation ?document . ?document a ?value . "
            "FILTER(?value IN (schema:ScholarlyArticle, schema:Report, schema:Book, "
            "schema:VideoObject, schema:DigitalDocument))",
            "",
        ),
    )
}
"""The facets, in display order; each pattern is what a SPARQL ``GROUP BY ?value`` counts."""

_TYPE_LABELS = {
    "ScholarlyArticle": "Scholarly article",
    "Report": "Report",
    "Book": "Book",
    "VideoObject": "Video",
    "DigitalDocument": "Digital document",
}


# -- queries as users write them -------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One unit of a query: a word or a phrase (several words), maybe a prefix, maybe excluded."""

    words: tuple[str, ...]
    prefix: bool = False
    excluded: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A query as read: groups of alternative terms (all groups must match), and notices."""

    groups: tuple[tuple[Term, ...], ...]
    notices: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the query holds no word to look for."""
        return not any(not term.excluded for group in self.groups for term in group)

    def words(self) -> list[str]:
        """Every word the query looks for (not the excluded ones), in order."""
        return [w for g in self.groups for t in g if not t.excluded for w in t.words]


def fold(text: str) -> str:
    """Return ``text`` folded for matching: NFKC, control characters and apostrophes removed.

    >>> fold("Citizens’ Juries")
    'Citizens Juries'
    """
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _APOSTROPHES.sub("", text)


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(text: str) -> ParsedQuery:
    """Read a user's query: words, ``"phrases"``, ``prefix*``, ``-word``, ``OR``.

    Anything else (FTS syntax, parentheses, stray quotes) is read as text. Returns a
    :class:`ParsedQuery`; never raises.

    >>> parse_query('"citizens jury" co-production OR coproduct* -poster').groups
    ((Term(words=('citizens', 'jury'), prefix=False, excluded=False),), (Term(words=('co', 'production'), prefix=False, excluded=False), Term(words=('coproduct',), prefix=True, excluded=False)), (Term(words=('poster',), prefix=False, excluded=True),))
    """  # noqa: E501
    notices: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notices.append(f"The query was cut to its first {MAX_QUERY_CHARS} characters.")
    text = fold(text)
    groups: list[list[Term]] = []
    pending_or = False
    for match in _TOKEN.finditer(text):
        minus, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare == "OR":
                pending_or = bool(groups)
                continue
            if bare in ("AND", "NOT", "NEAR"):
                continue  # operators of other engines: all words must match anyway
            excluded = bare.startswith("-") and len(bare) > 1
            prefix = bare.endswith("*")
            words = tuple(w.lower() for w in _WORD.findall(bare))
        else:
            excluded, prefix = bool(minus), False
            words = tuple(w.lower() for w in _WORD.findall(phrase))
        words = tuple(w for w in words if w.strip("_"))
        if not words:
            continue
        term = Term(words, prefix=prefix and len(words[-1]) >= 2, excluded=excluded)
        if pending_or and not excluded and not any(t.excluded for t in groups[-1]):
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    if sum(len(t.words) for g in groups for t in g) > MAX_TERMS:
        kept: list[list[Term]] = []
        count = 0
        for group in groups:
            count += sum(len(t.words) for t in group)
            if count > MAX_TERMS:
                break
            kept.append(group)
        groups = kept
        notices.append(f"Only the first {MAX_TERMS} words were used.")
    if groups and all(t.excluded for g in groups for t in g):
        groups = []
        notices.append("A query of excluded words only matches nothing; showing everything.")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(notices))


def _quoted(words: Sequence[str], prefix: bool) -> str:
    return '"' + " ".join(words) + '"' + (" *" if prefix else "")


def fts_expression(query: ParsedQuery, compounds: Mapping[str, str]) -> str:
    """Return the FTS5 MATCH expression for ``query`` (every word quoted: no syntax leaks).

    ``compounds`` maps a joined compound ("coproduction") to its parts ("co production"):
    each spelling also matches the others.

    >>> fts_expression(parse_query("coproduction budget*"), {"coproduction": "co production"})
    '("coproduction" OR "co production") AND "budget" *'
    """
    positive: list[str] = []
    negative: list[str] = []
    for group in query.groups:
        alternatives = [_term_expression(term, compounds) for term in group]
        text = alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"
        (negative if group[0].excluded else positive).append(text)
    expression = " AND ".join(positive)
    if negative:
        expression = f"({expression}) NOT (" + " OR ".join(negative) + ")"
    return expression


def _term_expression(term: Term, compounds: Mapping[str, str]) -> str:
    spellings = [_quoted(term.words, term.prefix)]
    joined = "".join(term.words)
    if len(term.words) == 1 and joined in compounds:
        spellings.append(_quoted(compounds[joined].split(), term.prefix))
    elif len(term.words) > 1 and joined in compounds:
        spellings.append(_quoted([joined], term.prefix))
    return spellings[0] if len(spellings) == 1 else "(" + " OR ".join(spellings) + ")"


def _join_compounds(query: ParsedQuery, compounds: Mapping[str, str]) -> ParsedQuery:
    """Read two adjacent plain words that form a known compound ("co production") as a phrase."""
    groups = list(query.groups)
    merged: list[tuple[Term, ...]] = []
    index = 0
    while index < len(groups):
        group = groups[index]
        if index + 1 < len(groups) and _plain_word(group) and _plain_word(groups[index + 1]):
            first, second = group[0], groups[index + 1][0]
            if first.words[0] + second.words[0] in compounds:
                merged.append((Term(first.words + second.words, prefix=second.prefix),))
                index += 2
                continue
        merged.append(group)
        index += 1
    return ParsedQuery(tuple(merged), query.notices)


def _plain_word(group: tuple[Term, ...]) -> bool:
    return len(group) == 1 and len(group[0].words) == 1 and not group[0].excluded


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One entry found: its IRI, title, score (higher is better; None when no text was asked),
    a snippet and the title with ``\\x02``…``\\x03`` around the matched words."""

    iri: str
    title: str
    score: float | None
    marked_title: str
    marked_snippet: str
    period: str | None
    start_year: int | None
    end_year: int | None

    @property
    def snippet(self) -> str:
        """The snippet as plain text."""
        return self.marked_snippet.replace(_OPEN, "").replace(_CLOSE, "")

    @property
    def snippet_html(self) -> str:
        """The snippet as escaped HTML with ``<mark>`` around the matched words."""
        return marked_html(self.marked_snippet)

    @property
    def title_html(self) -> str:
        """The title as escaped HTML with ``<mark>`` around the matched words."""
        return marked_html(self.marked_title)


def marked_html(text: str) -> str:
    """Escape ``text`` for HTML and turn the highlight markers into ``<mark>`` elements.

    >>> marked_html("a \\x02<b>\\x03")
    'a <mark>&lt;b&gt;</mark>'
    """
    return html.escape(text).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet in the current selection, with how many entries have it."""

    facet: str
    key: str
    iri: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class SearchResult:
    """A page of hits, the total, the facet counts of the whole selection, and notices."""

    query: str
    hits: list[Hit]
    total: int
    page: int
    size: int
    facets: dict[str, list[FacetValue]]
    years: tuple[int, int] | None
    notices: tuple[str, ...] = ()
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        """How many pages the selection fills (at least one)."""
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class Selection:
    """The facet values and year range a search is narrowed to."""

    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    from_year: int | None = None
    to_year: int | None = None


# -- the index ------------------------------------------------------------------------------


def store_fingerprint(store: ReadableStore) -> str:
    """Return a fingerprint of ``store``: a digest of its graph list and its size."""
    digest = hashlib.sha256()
    for graph in store.graphs():
        digest.update(graph.encode() + b"\n")
    digest.update(str(store.count()).encode())
    return digest.hexdigest()


@dataclass
class Entry:
    """An entry as the index reads it from the store (:func:`read_entries`)."""

    iri: str
    graph: str = ""
    title: str = ""
    description: str = ""
    period: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    text: dict[str, list[str]] = field(default_factory=dict)
    facets: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_text(self, column: str, value: str) -> None:
        values = self.text.setdefault(column, [])
        if value and value not in values:
            values.append(value)


_ENTRIES_QUERY = """
SELECT ?entry ?graph ?title ?description ?period ?start ?end WHERE {{
  {values}
  GRAPH ?graph {{ ?entry a schema:ResearchProject }}
  OPTIONAL {{ ?entry dcterms:title ?title }}
  OPTIONAL {{ ?entry dcterms:description ?description }}
  OPTIONAL {{
    ?entry dcterms:temporal ?t .
    OPTIONAL {{ ?t rdfs:label ?period }}
    OPTIONAL {{ ?t dcat:startDate ?start }}
    OPTIONAL {{ ?t dcat:endDate ?end }}
  }}
}}
"""

_TEXT_PATTERNS = {
    "topics": "?entry dcterms:subject|cop:approach ?c . ?c skos:prefLabel|skos:altLabel ?text .",
    "people": "?entry dcterms:contributor/foaf:name ?text .",
    "organisations": "?entry dcterms:contributor/org:memberOf|schema:funder ?o . "
    "?o foaf:name|skos:altLabel ?text .",
    "documents": "?entry dcterms:relation/dcterms:title ?text .",
}
"""The text of each column beside title and description. One query per column: Oxigraph plans
a UNION of them much worse (minutes instead of a second at 1 000 entries)."""

_TEXT_QUERY = "SELECT ?entry ?text WHERE {{ {values} ?entry a schema:ResearchProject . {pattern} }}"

_ENTRIES_IN = (
    "SELECT DISTINCT ?entry WHERE {{ VALUES ?graph {{ {graphs} }} "
    "GRAPH ?graph {{ ?entry a schema:ResearchProject }} }}"
)
_DESCRIBED = (
    "SELECT DISTINCT ?s WHERE {{ VALUES ?graph {{ {graphs} }} GRAPH ?graph {{ ?s ?p ?o }} "
    "FILTER(isIRI(?s)) }}"
)
_LINKING = (
    # Entries that link to something a written graph describes (a person, an organisation…),
    # directly or through a contributor's organisation. The subjects are given as VALUES and
    # each pattern is a query of its own: Oxigraph plans both far better (see _TEXT_PATTERNS).
    "SELECT DISTINCT ?entry WHERE {{ VALUES ?s {{ {subjects} }} ?entry ?link ?s . "
    "?entry a schema:ResearchProject . }}",
    "SELECT DISTINCT ?entry WHERE {{ VALUES ?s {{ {subjects} }} ?person org:memberOf ?s . "
    "?entry dcterms:contributor ?person ; a schema:ResearchProject . }}",
)
_CHUNK = 1000


def _facet_query(values: str, facet: Facet) -> str:
    return (
        f"SELECT ?entry ?value ?label WHERE {{ {values} ?entry a schema:ResearchProject . "
        f"{facet.pattern} {facet.label_pattern} }}"
    )


_UNSAFE_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _safe(iri: str) -> bool:
    """Tell whether ``iri`` can be written as ``<iri>`` in SPARQL as it is."""
    return bool(iri) and not _UNSAFE_IRI.search(iri)


def _values(iris: Iterable[str] | None) -> str:
    if iris is None:
        return ""
    return "VALUES ?entry { " + " ".join(f"<{iri}>" for iri in iris if _safe(iri)) + " }"


def _year(term: Any) -> int | None:
    if not isinstance(term, Literal):
        return None
    match = re.match(r"-?\d{4}", term.value)
    return int(match.group(0)) if match else None


def _text(term: Any) -> str:
    return term.value if isinstance(term, Literal | NamedNode) else ""


def _rows(store: ReadableStore, sparql: str) -> QuerySolutions:
    result = store.query(sparql)
    if not isinstance(result, QuerySolutions):
        raise CokgError("the search index's query did not answer rows")
    return result


def _preferred(current: str, candidate: Literal) -> bool:
    """Take the first English (or untagged) literal; another language only when none is."""
    return not current and candidate.language in (None, "en")


def read_entries(store: ReadableStore, iris: Iterable[str] | None = None) -> list[Entry]:
    """Read every entry (or those of ``iris``) from ``store``: ten SPARQL queries in all."""
    values = _values(iris)
    entries: dict[str, Entry] = {}
    for row in _rows(store, _ENTRIES_QUERY.format(values=values)):
        iri = _text(row["entry"])
        entry = entries.setdefault(iri, Entry(iri, graph=_text(row["graph"])))
        for name in ("title", "description"):
            term = row[name]
            if isinstance(term, Literal) and _preferred(getattr(entry, name), term):
                setattr(entry, name, term.value)
        if entry.period is None and row["period"] is not None:
            entry.period = _text(row["period"])
        start, end = _year(row["start"]), _year(row["end"])
        if start is not None and (entry.start_year is None or start < entry.start_year):
            entry.start_year = start
        if end is not None and (entry.end_year is None or end > entry.end_year):
            entry.end_year = end
    if not entries:
        return []
    values = _values(entries) if iris is not None else ""
    for column, pattern in _TEXT_PATTERNS.items():
        for row in _rows(store, _TEXT_QUERY.format(values=values, pattern=pattern)):
            text_entry = entries.get(_text(row["entry"]))
            if text_entry is not None:
                text_entry.add_text(column, _text(row["text"]))
    for facet in FACETS.values():
        for row in _rows(store, _facet_query(values, facet)):
            facet_entry = entries.get(_text(row["entry"]))
            value = row["value"]
            if facet_entry is None or not isinstance(value, NamedNode):
                continue
            key = (facet.name, value.value)
            label = _text(row["label"]) or _local_label(value.value)
            if key not in facet_entry.facets or _preferred_label(row["label"]):
                facet_entry.facets[key] = label
    return list(entries.values())


def _preferred_label(term: Any) -> bool:
    return isinstance(term, Literal) and term.language in (None, "en")


def _local_label(iri: str) -> str:
    local = key_of(iri)
    return _TYPE_LABELS.get(local, local.replace("-", " "))


def key_of(iri: str) -> str:
    """Return the short key of a facet value: the last segment of its IRI.

    >>> key_of("https://w3id.org/coprod/id/concept/keywords/participatory-budgeting")
    'participatory-budgeting'
    """
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


def compounds_of(text: str) -> dict[str, str]:
    """Return the hyphenated compounds of ``text``, joined (lower case) → parts.

    >>> compounds_of("Co-production and co-creation")
    {'coproduction': 'co production', 'cocreation': 'co creation'}
    """
    found: dict[str, str] = {}
    for match in _COMPOUND.finditer(fold(text)):
        parts = _WORD.findall(match.group(0).lower())
        found["".join(parts)] = " ".join(parts)
    return found


class SearchIndex:
    """The search index: an SQLite FTS5 database, in memory or in the file at ``path``.

    Safe to share between threads (one connection behind a lock). Build it with
    :meth:`build`, keep it in step with :meth:`apply_write`, query it with :meth:`search`.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._generation = 0  # bumped by every change, so cached answers know when to go
        self._cached: tuple[int, Any] | None = None
        self._checked = 0.0
        try:
            self._db = sqlite3.connect(
                str(self.path) if self.path else ":memory:",
                check_same_thread=False,
                isolation_level=None,
            )
            self._create()
        except sqlite3.DatabaseError as e:
            raise CokgError(f"cannot open the search index {self.path}: {e}") from e

    def _create(self) -> None:
        db = self._db
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
        version = self._meta("schema")
        if version not in (None, _SCHEMA_VERSION):
            db.executescript(
                "DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS facets; "
                "DROP TABLE IF EXISTS facet_values; "
                "DROP TABLE IF EXISTS text; DROP TABLE IF EXISTS compounds;"
            )
        columns = ", ".join(_COLUMNS)
        db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS entries (
                id INTEGER PRIMARY KEY, iri TEXT UNIQUE NOT NULL, graph TEXT NOT NULL,
                title TEXT NOT NULL, sort_title TEXT NOT NULL, period TEXT,
                start_year INTEGER, end_year INTEGER);
            CREATE TABLE IF NOT EXISTS facet_values (
                id INTEGER PRIMARY KEY, facet TEXT NOT NULL, iri TEXT NOT NULL,
                key TEXT NOT NULL, label TEXT NOT NULL, UNIQUE (facet, iri));
            CREATE INDEX IF NOT EXISTS facet_values_by_key ON facet_values (facet, key);
            CREATE TABLE IF NOT EXISTS facets (
                entry_id INTEGER NOT NULL, value_id INTEGER NOT NULL,
                PRIMARY KEY (entry_id, value_id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS facets_by_value ON facets (value_id, entry_id);
            CREATE INDEX IF NOT EXISTS entries_by_graph ON entries (graph);
            CREATE INDEX IF NOT EXISTS entries_by_title ON entries (sort_title, id);
            CREATE TABLE IF NOT EXISTS compounds (
                entry_id INTEGER NOT NULL, joined TEXT NOT NULL, parts TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS compounds_by_entry ON compounds (entry_id);
            CREATE INDEX IF NOT EXISTS compounds_by_word ON compounds (joined);
            CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5(
                {columns}, tokenize = 'porter unicode61 remove_diacritics 2');
            INSERT OR REPLACE INTO meta VALUES ('schema', '{_SCHEMA_VERSION}');
            """
        )

    def _meta(self, name: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # -- keeping in step with the store ---------------------------------------------------

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the store the index was last built from or updated to."""
        with self._lock:
            return self._meta("fingerprint")

    def build(self, store: ReadableStore) -> int:
        """Rebuild the whole index from ``store`` in one transaction; return the entry count."""
        return self.load(read_entries(store), store_fingerprint(store))

    def load(self, entries: Sequence[Entry], fingerprint: str) -> int:
        """Replace the index's content with ``entries`` (:func:`read_entries`) in one transaction.

        ``fingerprint`` is that of the store they were read from. Returns the entry count.
        """
        with self._lock, self._transaction():
            for table in ("entries", "facets", "facet_values", "text", "compounds"):
                self._db.execute(f"DELETE FROM {table}")
            known: dict[tuple[str, str], int] = {}
            for entry in entries:
                self._insert(entry, known)
            self._set_fingerprint(fingerprint)
            self._generation += 1
        self._checked = time.monotonic()
        return len(entries)

    def ensure_current(self, store: ReadableStore, *, every: float = 0.0) -> bool:
        """Rebuild when the store changed behind the index's back; return True if it did.

        Compares fingerprints at most once per ``every`` seconds (an empty index is built).
        """
        now = time.monotonic()
        with self._lock:
            if self._checked and now - self._checked < every:
                return False
            self._checked = now
            current = store_fingerprint(store)
            if current == self._meta("fingerprint"):
                return False
            self.build(store)
            return True

    def update_entries(self, store: ReadableStore, iris: Iterable[str]) -> None:
        """Read the entries of ``iris`` from ``store`` again; those gone leave the index."""
        wanted = sorted(set(iris))
        entries = read_entries(store, wanted) if wanted else []
        with self._lock, self._transaction():
            for iri in wanted:
                self._delete(iri)
            for entry in entries:
                self._insert(entry)
            self._generation += 1

    def delete_entry(self, iri: str) -> None:
        """Remove the entry ``iri`` from the index (nothing happens when it is not there)."""
        with self._lock, self._transaction():
            self._delete(iri)
            self._generation += 1

    def apply_write(
        self,
        store: ReadableStore,
        graphs: Sequence[str | None] | None,
        *,
        refingerprint: bool = True,
    ) -> None:
        """Bring the index in step after a write to ``graphs`` (None: any graph, rebuild).

        Entries in those graphs, entries that were indexed from them, and entries that link
        to anything described in them (a person, an organisation…) are read again. With
        ``refingerprint`` false the caller records the store's new fingerprint later
        (:meth:`record_fingerprint`), off the request's path.
        """
        named = [g for g in graphs or () if g and _safe(g)]
        if graphs is None or len(named) != len(graphs):
            self.build(store)
            return
        with self._lock:
            placeholders = ",".join("?" * len(named))
            affected = {
                row[0]
                for row in self._db.execute(
                    f"SELECT iri FROM entries WHERE graph IN ({placeholders})", named
                )
            }
        listed = " ".join(f"<{g}>" for g in named)
        for row in _rows(store, _ENTRIES_IN.format(graphs=listed)):
            affected.add(_text(row["entry"]))
        subjects = [_text(row["s"]) for row in _rows(store, _DESCRIBED.format(graphs=listed))]
        subjects = [iri for iri in subjects if _safe(iri)]
        for start in range(0, len(subjects), _CHUNK):
            chunk = " ".join(f"<{iri}>" for iri in subjects[start : start + _CHUNK])
            for query in _LINKING:
                for row in _rows(store, query.format(subjects=chunk)):
                    affected.add(_text(row["entry"]))
        self.update_entries(store, affected)
        if refingerprint:
            self.record_fingerprint(store_fingerprint(store))

    def record_fingerprint(self, fingerprint: str) -> None:
        """Record that the index is in step with the store whose fingerprint this is."""
        with self._lock:
            self._set_fingerprint(fingerprint)

    def _set_fingerprint(self, fingerprint: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _insert(self, entry: Entry, known: dict[tuple[str, str], int] | None = None) -> None:
        """Insert ``entry``; ``known`` caches facet value ids within one transaction."""
        db = self._db
        cursor = db.execute(
            "INSERT INTO entries (iri, graph, title, sort_title, period, start_year, end_year)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.iri,
                entry.graph,
                entry.title or entry.iri,
                fold(entry.title or entry.iri).casefold(),
                entry.period,
                entry.start_year,
                entry.end_year,
            ),
        )
        rowid = cursor.lastrowid
        texts = {
            "title": entry.title,
            "description": entry.description,
            **{column: " · ".join(values) for column, values in entry.text.items()},
        }
        clean = {c: _CONTROL.sub(" ", texts.get(c, "")) for c in _COLUMNS}
        db.execute(
            f"INSERT INTO text (rowid, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)})",
            (rowid, *(clean[c] for c in _COLUMNS)),
        )
        known = {} if known is None else known
        values = []
        for (facet, iri), label in entry.facets.items():
            value = known.get((facet, iri))
            if value is None:
                value = db.execute(
                    "INSERT INTO facet_values (facet, iri, key, label) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (facet, iri) DO UPDATE SET label = excluded.label RETURNING id",
                    (facet, iri, key_of(iri), label),
                ).fetchone()[0]
                known[(facet, iri)] = value
            values.append((rowid, value))
        db.executemany("INSERT OR IGNORE INTO facets VALUES (?, ?)", values)
        compounds = compounds_of(" ".join(clean.values()))
        db.executemany(
            "INSERT INTO compounds VALUES (?, ?, ?)",
            [(rowid, joined, parts) for joined, parts in compounds.items()],
        )

    def _delete(self, iri: str) -> None:
        row = self._db.execute("SELECT id FROM entries WHERE iri = ?", (iri,)).fetchone()
        if row is None:
            return
        for statement in (
            "DELETE FROM text WHERE rowid = ?",
            "DELETE FROM facets WHERE entry_id = ?",
            "DELETE FROM compounds WHERE entry_id = ?",
            "DELETE FROM entries WHERE id = ?",
        ):
            self._db.execute(statement, (row[0],))

    # -- searching ------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def _compounds(self, query: ParsedQuery) -> dict[str, str]:
        words = query.words()
        candidates = {"".join(words[i : i + 2]) for i in range(len(words))}
        candidates |= {"".join(t.words) for g in query.groups for t in g}
        if not candidates:
            return {}
        marks = ",".join("?" * len(candidates))
        rows = self._db.execute(
            f"SELECT DISTINCT joined, parts FROM compounds WHERE joined IN ({marks})",
            sorted(candidates),
        )
        return {str(joined): str(parts) for joined, parts in rows}

    def _selection_sql(
        self, query: ParsedQuery, selection: Selection
    ) -> tuple[str, list[Any], str | None]:
        """Return the filters' WHERE clause (over ``entries AS e``), its parameters, and the
        FTS5 MATCH expression of the text (None: no text asked)."""
        clauses: list[str] = []
        parameters: list[Any] = []
        match = None
        if not query.empty:
            compounds = self._compounds(query)
            match = fts_expression(_join_compounds(query, compounds), compounds)
        for facet, keys in selection.facets.items():
            if facet not in FACETS:
                raise SearchError(f"unknown facet {facet!r}; facets: {', '.join(FACETS)}")
            for key in keys:
                column = "iri" if "://" in key else "key"
                clauses.append(
                    "e.id IN (SELECT f.entry_id FROM facet_values AS v JOIN facets AS f "
                    f"ON f.value_id = v.id WHERE v.facet = ? AND v.{column} = ?)"
                )
                parameters += [facet, key]
        if selection.from_year is not None:
            clauses.append("e.end_year >= ?")
            parameters.append(selection.from_year)
        if selection.to_year is not None:
            clauses.append("e.start_year <= ?")
            parameters.append(selection.to_year)
        where = " AND ".join(clauses) or "1"
        return where, parameters, match

    def search(
        self,
        text: str = "",
        selection: Selection | None = None,
        *,
        page: int = 1,
        size: int = 10,
        facets: bool = True,
    ) -> SearchResult:
        """Search: ``text`` (see :func:`parse_query`) within ``selection``; one page of hits.

        Returns a :class:`SearchResult` with the facet counts of the whole selection (the
        :data:`FACET_VALUES` most frequent values of each; none when ``facets`` is false).
        Raises :class:`SearchError` for a bad page, size or facet.
        """
        selection = selection or Selection()
        if not 1 <= page <= MAX_PAGE or not 1 <= size <= MAX_PAGE_SIZE:
            raise SearchError(
                f"page must be between 1 and {MAX_PAGE} and size between 1 and {MAX_PAGE_SIZE}"
            )
        for year in (selection.from_year, selection.to_year):
            if year is not None and not -9999 <= year <= 9999:
                raise SearchError(f"a year must be between -9999 and 9999, not {year}")
        if (
            selection.from_year is not None
            and selection.to_year is not None
            and selection.from_year > selection.to_year
        ):
            raise SearchError("the year range ends before it starts")
        query = parse_query(text)
        with self._lock:
            where, parameters, match = self._selection_sql(query, selection)
            try:
                if match is None and where == "1":  # everything: the search page's landing
                    total, counted, years = self._everything()
                    hits = self._page(None, page, size, source="entries")
                else:
                    total = self._select(where, parameters, match)
                    hits = self._page(match, page, size)
                    counted = self._counted("temp.selected") if facets else []
                    years = self._years()
                counts = self._facet_counts(counted, selection) if facets else {}
            except sqlite3.OperationalError as e:  # never expected: every word is quoted
                raise SearchError(f"the search could not be run: {e}") from e
        suggestion = None
        if total == 0 and not query.empty:
            with self._lock:
                suggestion = self._suggest(query)
        return SearchResult(
            query=text,
            hits=hits,
            total=total,
            page=page,
            size=size,
            facets=counts,
            years=years,
            notices=query.notices,
            suggestion=suggestion,
        )

    def _select(self, where: str, parameters: list[Any], match: str | None) -> int:
        """Put the selection's ids and scores into ``temp.selected``; return how many."""
        db = self._db
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS selected "
            "(id INTEGER PRIMARY KEY, rank REAL, sort_title TEXT)"
        )
        db.execute("DELETE FROM temp.selected")
        if match is None:
            db.execute(
                "INSERT INTO temp.selected SELECT e.id, NULL, e.sort_title "
                f"FROM entries AS e WHERE {where}",
                parameters,
            )
        else:
            db.execute(
                f"INSERT INTO temp.selected SELECT e.id, bm25(text, {_BOOST_LIST}), e.sort_title "
                f"FROM text JOIN entries AS e ON e.id = text.rowid WHERE text MATCH ? AND {where}",
                [match, *parameters],
            )
        return int(db.execute("SELECT COUNT(*) FROM temp.selected").fetchone()[0])

    def _everything(self) -> tuple[int, list[tuple[Any, ...]], tuple[int, int] | None]:
        """Total, facet counts and years of every entry, cached until the index changes."""
        if self._cached is None or self._cached[0] != self._generation:
            total = int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
            row = self._db.execute("SELECT MIN(start_year), MAX(end_year) FROM entries").fetchone()
            years = None if row[0] is None or row[1] is None else (int(row[0]), int(row[1]))
            self._cached = (self._generation, (total, self._counted("entries"), years))
        answer: tuple[int, list[tuple[Any, ...]], tuple[int, int] | None] = self._cached[1]
        return answer

    def _page(
        self, match: str | None, page: int, size: int, *, source: str = "temp.selected"
    ) -> list[Hit]:
        if source == "entries":
            sql = (
                "SELECT e.id, NULL, e.iri, e.title, e.period, e.start_year, e.end_year "
                "FROM entries AS e ORDER BY e.sort_title, e.id LIMIT ? OFFSET ?"
            )
        else:
            sql = (
                "SELECT s.id, -s.rank, e.iri, e.title, e.period, e.start_year, e.end_year "
                "FROM temp.selected AS s JOIN entries AS e ON e.id = s.id "
                "ORDER BY s.rank, s.sort_title LIMIT ? OFFSET ?"
            )
        rows = self._db.execute(sql, (size, (page - 1) * size)).fetchall()
        ids = [row[0] for row in rows]
        marks = ",".join("?" * len(ids))
        description = _COLUMNS.index("description")
        marked: dict[int, tuple[str, str]] = {}
        if ids and match is not None:
            for rowid, title, snippet in self._db.execute(
                f"SELECT rowid, highlight(text, 0, '{_OPEN}', '{_CLOSE}'), "
                f"snippet(text, {description}, '{_OPEN}', '{_CLOSE}', '…', 32) "
                f"FROM text WHERE text MATCH ? AND rowid IN ({marks})",
                [match, *ids],
            ):
                marked[rowid] = (title, snippet)
        elif ids:
            for rowid, title, snippet in self._db.execute(
                f"SELECT rowid, title, substr(description, 1, 240) FROM text "
                f"WHERE rowid IN ({marks})",
                ids,
            ):
                snippet = _SPACE.sub(" ", snippet or "").strip()
                if len(snippet) >= 230:
                    snippet = snippet.rsplit(" ", 1)[0] + " …"
                marked[rowid] = (title, snippet)
        hits = []
        for rowid, score, iri, title, period, start, end in rows:
            marked_title, snippet = marked.get(rowid, (title, ""))
            hits.append(
                Hit(
                    iri=iri,
                    title=title,
                    score=None if score is None else float(score),
                    marked_title=marked_title or title,
                    marked_snippet=_SPACE.sub(" ", snippet or "").strip(),
                    period=period,
                    start_year=start,
                    end_year=end,
                )
            )
        return hits

    def _counted(self, source: str) -> list[tuple[Any, ...]]:
        """The most frequent facet values of ``source`` (the selection, or every entry)."""
        # A value appears once per entry (read_entries keys facets by value), so COUNT(*)
        # counts distinct entries, as SPARQL's COUNT(DISTINCT ?entry) does. CROSS JOIN keeps
        # SQLite from scanning every facet row: it starts from the selection.
        grouped = (
            "SELECT f.value_id AS id, COUNT(*) AS n FROM facets AS f GROUP BY f.value_id"
            if source == "entries"
            else "SELECT f.value_id AS id, COUNT(*) AS n "
            "FROM temp.selected AS s CROSS JOIN facets AS f ON f.entry_id = s.id "
            "GROUP BY f.value_id"
        )
        return self._db.execute(
            f"WITH counted AS ({grouped}), "
            "placed AS (SELECT v.facet, v.key, v.iri, v.label, c.n, ROW_NUMBER() OVER ("
            "PARTITION BY v.facet ORDER BY c.n DESC, v.label COLLATE NOCASE) AS place "
            "FROM counted AS c JOIN facet_values AS v ON v.id = c.id) "
            "SELECT facet, key, iri, label, n FROM placed WHERE place <= ? ORDER BY facet, place",
            (FACET_VALUES,),
        ).fetchall()

    def _facet_counts(
        self, rows: list[tuple[Any, ...]], selection: Selection
    ) -> dict[str, list[FacetValue]]:
        counts: dict[str, list[FacetValue]] = {name: [] for name in FACETS}
        for facet, key, iri, label, count in rows:
            chosen = selection.facets.get(facet, ())
            counts[facet].append(
                FacetValue(facet, key, iri, label, int(count), key in chosen or iri in chosen)
            )
        return counts

    def _years(self) -> tuple[int, int] | None:
        row = self._db.execute(
            "SELECT MIN(e.start_year), MAX(e.end_year) "
            "FROM temp.selected AS s JOIN entries AS e ON e.id = s.id"
        ).fetchone()
        if row is None or row[0] is None or row[1] is None:
            return None
        return int(row[0]), int(row[1])

    def _suggest(self, query: ParsedQuery) -> str | None:
        """A query that finds something when this one found nothing: the words that match."""
        words = list(dict.fromkeys(query.words()))
        found = []
        for word in words:
            expression = fts_expression(ParsedQuery(((Term((word,), prefix=True),),)), {})
            row = self._db.execute(
                "SELECT COUNT(*) FROM text WHERE text MATCH ?", (expression,)
            ).fetchone()
            if row[0]:
                found.append(word)
        if not found or found == words:
            return None
        return " OR ".join(found)

    def iris(
        self, text: str, selection: Selection | None = None, *, limit: int = 10_000
    ) -> list[str]:
        """Return the IRIs of the entries matching, best first (at most ``limit``)."""
        query = parse_query(text)
        with self._lock:
            where, parameters, match = self._selection_sql(query, selection or Selection())
            self._select(where, parameters, match)
            rows = self._db.execute(
                "SELECT e.iri FROM temp.selected AS s JOIN entries AS e ON e.id = s.id "
                "ORDER BY s.rank, s.sort_title LIMIT ?",
                (limit,),
            )
            return [str(row[0]) for row in rows]

    def scores(self, text: str) -> dict[str, float]:
        """Return the score of every entry matching ``text`` (higher is better)."""
        query = parse_query(text)
        if query.empty:
            return {}
        with self._lock:
            where, parameters, match = self._selection_sql(query, Selection())
            self._select(where, parameters, match)
            rows = self._db.execute(
                "SELECT e.iri, -s.rank FROM temp.selected AS s JOIN entries AS e ON e.id = s.id"
            )
            return {str(iri): float(score) for iri, score in rows}


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


# -- from SPARQL ----------------------------------------------------------------------------


def values_block(iris: Sequence[str], variable: str = "entry") -> str:
    """Return a SPARQL ``VALUES`` block binding ``?variable`` to ``iris`` (for any engine).

    >>> values_block(["http://example.org/a"])
    'VALUES ?entry { <http://example.org/a> }'
    """
    if not re.fullmatch(r"\w+", variable):
        raise SearchError(f"not a SPARQL variable name: {variable!r}")
    listed = " ".join(f"<{iri}>" for iri in iris if _safe(iri))
    return f"VALUES ?{variable} {{ {listed} }}" if iris else f"VALUES ?{variable} {{ }}"


def custom_functions(index: SearchIndex) -> dict[NamedNode, Callable[..., Any]]:
    """Return pyoxigraph ``custom_functions``: :data:`SEARCH_FUNCTION` and :data:`SCORE_FUNCTION`.

    For the embedded store: ``OxigraphStore.oxigraph.query(sparql,
    custom_functions=custom_functions(index), use_default_graph_as_union=True)``. Each search
    text is looked up once per call of this function.
    """
    cache: dict[str, dict[str, float]] = {}

    def scores_for(text: Any) -> dict[str, float]:
        key = text.value if isinstance(text, Literal) else ""
        if key not in cache:
            cache[key] = index.scores(key)
        return cache[key]

    def matches(entry: Any, text: Any) -> Literal:
        found = isinstance(entry, NamedNode) and entry.value in scores_for(text)
        return Literal("true" if found else "false", datatype=_BOOLEAN)

    def score(entry: Any, text: Any) -> Literal:
        value = scores_for(text).get(entry.value, 0.0) if isinstance(entry, NamedNode) else 0.0
        return Literal(repr(value), datatype=_DOUBLE)

    return {NamedNode(SEARCH_FUNCTION): matches, NamedNode(SCORE_FUNCTION): score}


_BOOLEAN = NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
_DOUBLE = NamedNode("http://www.w3.org/2001/XMLSchema#double")


def result_json(
    result: SearchResult, *, link: Callable[[int], str] | None = None
) -> dict[str, Any]:
    """Return ``result`` as the JSON object ``/search.json`` and ``cokg search`` answer."""
    document: dict[str, Any] = {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "size": result.size,
        "pages": result.pages,
        "hits": [
            {
                "iri": hit.iri,
                "title": hit.title,
                "score": hit.score,
                "period": hit.period,
                "start_year": hit.start_year,
                "end_year": hit.end_year,
                "snippet": hit.snippet,
                "snippet_html": hit.snippet_html,
                "title_html": hit.title_html,
            }
            for hit in result.hits
        ],
        "facets": {
            name: [
                {"key": v.key, "iri": v.iri, "label": v.label, "count": v.count}
                | ({"selected": True} if v.selected else {})
                for v in values
            ]
            for name, values in result.facets.items()
        },
        "years": None if result.years is None else {"min": result.years[0], "max": result.years[1]},
        "notices": list(result.notices),
        "suggestion": result.suggestion,
    }
    if link is not None:
        links = {"self": link(result.page), "first": link(1), "last": link(result.pages)}
        if result.page > 1:
            links["prev"] = link(result.page - 1)
        if result.page < result.pages:
            links["next"] = link(result.page + 1)
        document["links"] = links
    return document


def dumps(document: Mapping[str, Any]) -> str:
    """Serialise a search document as indented JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False)
