"""Full-text search over the knowledge base's entries: a tantivy text index beside SQLite tables.

:class:`SearchIndex` holds one document per entry (``schema:ResearchProject``): its title, the
labels of its keywords and approaches, its people, organisations and document titles, and its
description, ranked with BM25 and field boosts (a title match outranks a description match),
in a tantivy index (:mod:`cokg.search_text`). The ids of its facet values (keyword, approach,
organisation, person, document type) and its period (as years, whatever the precision of its
dates) sit in the same document, so any combination of text and facets is one tantivy query,
and the facet counts are aggregations over the same selection. SQLite keeps what is shown and
looked up: the entries, the facet values' IRIs and labels, the compounds, the fingerprint.

The index is built from any :class:`~cokg.store.ReadableStore` (:func:`read_entries`: one
plain query per property), updated one entry at a time after a write
(:meth:`SearchIndex.apply_write`; a SPARQL Update is bounded by the graphs and subjects it
names, :mod:`cokg.search_update`), and rebuilt when the store's fingerprint (its graphs and its
size) no longer matches the one it was built from.

Queries are never handed to a query parser as written: :func:`parse_query` reads words,
``"phrases"``, ``prefix*``, ``-excluded`` words and ``OR``, and everything else is plain text,
so no input can raise a syntax error. Words are folded (case, accents, apostrophes) and stemmed
(English Snowball); a hyphenated compound seen in the data ("co-production") also matches
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

import bisect
import heapq
import html
import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import tantivy
from pyoxigraph import Literal, NamedNode, QuerySolutions

from cokg.errors import CokgError
from cokg.search_read import DOCUMENT_TYPES, Entry, key_of, read_entries, safe_iri
from cokg.search_sets import Mask, MatchSets, Value, pack
from cokg.search_text import COLUMNS, Group, TextIndex, aggregations, combine, marked
from cokg.store import ReadableStore, store_fingerprint

__all__ = ["DOCUMENT_TYPES", "Entry", "key_of", "read_entries"]

SEARCH_FUNCTION = "https://w3id.org/coprod/fn/search"
"""The SPARQL function ``<…fn/search>(?entry, "text")``: true when the entry matches."""
SCORE_FUNCTION = "https://w3id.org/coprod/fn/score"
"""The SPARQL function ``<…fn/score>(?entry, "text")``: the entry's relevance (0 if no match)."""

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
_MOST_FETCHED = 5_000
"""The most best matches of a text fetched to find a page of its narrowed selection in
(:meth:`SearchIndex._ranked_within`); beyond, the filters join the ranking."""
FACET_VALUES = 50
"""Values listed per facet (the most frequent in the selection; a chosen one always is)."""
_SCHEMA_VERSION = "7"


_OPEN, _CLOSE = "\x02", "\x03"  # highlight markers: control characters never indexed
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_COMPOUND = re.compile(r"\b\w++(?:[-‐‑]\w++)+")  # possessive: no backtracking in a word


class SearchError(CokgError):
    """A search that cannot be answered as asked (bad paging, bad year)."""

    status = 400


@dataclass(frozen=True)
class Facet:
    """A facet: its parameter name, its heading, and the SPARQL pattern binding ?entry ?value.

    :func:`read_entries` reads the same values property by property (and their labels:
    ``skos:prefLabel`` of concepts, ``foaf:name`` of people and organisations); a test
    compares its counts with this pattern's ``GROUP BY``.
    """

    name: str
    label: str
    pattern: str


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
        ),
        Facet(
            "person",
            "Person",
            "?entry dcterms:contributor ?value .",
        ),
        Facet(
            "type",
            "Document type",
            "?entry dcterms:relation ?document . ?document a ?value . "
            "FILTER(?value IN (schema:ScholarlyArticle, schema:Report, schema:Book, "
            "schema:VideoObject, schema:DigitalDocument))",
        ),
    )
}
"""The facets, in display order; each pattern is what a SPARQL ``GROUP BY ?value`` counts."""


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


@dataclass(slots=True)
class FacetValue:
    """One value of a facet in the current selection, with how many entries have it.

    Not frozen: a search makes up to :data:`FACET_VALUES` of each facet (300 in all), and a
    frozen dataclass takes six times as long to make (0.55 against 0.09 ms for 300).
    """

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
    # each pattern is a query of its own: Oxigraph plans both far better (see search_read).
    "SELECT DISTINCT ?entry WHERE {{ VALUES ?s {{ {subjects} }} ?entry ?link ?s . "
    "?entry a schema:ResearchProject . }}",
    "SELECT DISTINCT ?entry WHERE {{ VALUES ?s {{ {subjects} }} ?person org:memberOf ?s . "
    "?entry dcterms:contributor ?person ; a schema:ResearchProject . }}",
)
_TYPED = "SELECT ?entry WHERE {{ VALUES ?entry {{ {subjects} }} ?entry a schema:ResearchProject }}"
"""Which of the subjects a write touched are entries themselves."""
_CHUNK = 1000


def _rows(store: ReadableStore, sparql: str) -> QuerySolutions:
    result = store.query(sparql)
    if not isinstance(result, QuerySolutions):
        raise CokgError("the search index's query did not answer rows")
    return result


def _text(term: Any) -> str:
    return term.value if isinstance(term, Literal | NamedNode) else ""


def compounds_of(text: str) -> dict[str, str]:
    """Return the hyphenated compounds of ``text``, joined (lower case) → parts.

    >>> compounds_of("Co-production and co-creation")
    {'coproduction': 'co production', 'cocreation': 'co creation'}
    """
    found: dict[str, str] = {}
    for match in _COMPOUND.finditer(text):  # folding only what matched: the text is long
        parts = _WORD.findall(fold(match.group(0)).lower())
        found["".join(parts)] = " ".join(parts)
    return found


class SearchIndex:
    """The search index: SQLite tables beside a tantivy text index (:mod:`cokg.search_text`).

    In memory, or in the file at ``path`` with the tantivy index in the folder beside it
    (``search.sqlite3`` and ``search.tantivy``). Safe to share between threads (one connection
    behind a lock). Build it with :meth:`build`, keep it in step with :meth:`apply_write`,
    query it with :meth:`search`. ``builds`` counts the full builds this object made.

    With ``match_sets`` (the default) the facet counts and years of a selection come from
    the entry sets held in memory (:mod:`cokg.search_sets`, loaded on the first search that
    counts); without, from tantivy aggregations (slower over broad selections, less memory).
    """

    def __init__(self, path: str | Path | None = None, *, match_sets: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.match_sets = match_sets
        self._sets: MatchSets | None = None
        self._term_ids: dict[str, int] | None = None
        self._phrases: dict[str, list[str]] | None = None
        self._indexed: list[_Indexed] = []
        self._pool: ThreadPoolExecutor | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._generation = 0  # bumped by every change, so cached answers know when to go
        self._cached: tuple[int, Any] | None = None
        self._texts: OrderedDict[str, _Compiled] = OrderedDict()
        self._texts_generation = 0
        self._counts: tuple[int, dict[str, dict[int, int]]] | None = None
        self._checked = 0.0
        self.builds = 0
        try:
            self._db = sqlite3.connect(
                str(self.path) if self.path else ":memory:",
                check_same_thread=False,
                isolation_level=None,
            )
            stale = self._create()
        except sqlite3.DatabaseError as e:
            raise CokgError(f"cannot open the search index {self.path}: {e}") from e
        folder = None if self.path is None else self.path.with_suffix(".tantivy")
        if folder is not None and stale:
            TextIndex.remove(folder)
        self._text = TextIndex(folder, tuple(FACETS))
        if len(self._text) != len(self):  # the two halves disagree (a crash): build again
            self._db.execute("DELETE FROM meta WHERE name = 'fingerprint'")

    def _create(self) -> bool:
        """Create the tables; return True when those of another version were dropped."""
        db = self._db
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
        version = self._meta("schema")
        stale = version not in (None, _SCHEMA_VERSION)
        if stale:
            db.executescript(
                "DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS facets; "
                "DROP TABLE IF EXISTS facet_values; DROP TABLE IF EXISTS text; "
                "DROP TABLE IF EXISTS compounds; DROP TABLE IF EXISTS terms; "
                "DROP TABLE IF EXISTS entry_sets; DELETE FROM meta;"
            )
        db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS entries (
                id INTEGER PRIMARY KEY AUTOINCREMENT, iri TEXT UNIQUE NOT NULL,
                graph TEXT NOT NULL,
                title TEXT NOT NULL, sort_title TEXT NOT NULL, period TEXT,
                start_year INTEGER, end_year INTEGER, opening TEXT NOT NULL,
                fragments BLOB);
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
            CREATE INDEX IF NOT EXISTS compounds_by_form ON compounds (joined, parts);
            CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT UNIQUE NOT NULL);
            CREATE TABLE IF NOT EXISTS entry_sets (
                entry_id INTEGER PRIMARY KEY, terms BLOB NOT NULL, facet_values BLOB NOT NULL);
            INSERT OR REPLACE INTO meta VALUES ('schema', '{_SCHEMA_VERSION}');
            """
        )
        return stale

    def _meta(self, name: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Close the database (and stop the page thread)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            self._db.close()

    # -- keeping in step with the store ---------------------------------------------------

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the store the index was last built from or updated to."""
        with self._lock:
            return self._meta("fingerprint")

    @property
    def generation(self) -> int:
        """A number that changes with every change of the index (build, update, delete)."""
        return self._generation

    def build(self, store: ReadableStore) -> int:
        """Rebuild the whole index from ``store``; return the entry count.

        The fingerprint is taken before reading, so a write during the build is seen by the
        next :meth:`ensure_current`.
        """
        fingerprint = store_fingerprint(store)
        return self.load(read_entries(store), fingerprint)

    def load(self, entries: Iterable[Entry], fingerprint: str) -> int:
        """Replace the index's content with ``entries`` (:func:`read_entries`) in one transaction.

        ``fingerprint`` is that of the store they were read from. Returns the entry count.
        """
        count = 0
        # Compounds first: the phrases of their parts are recorded with every entry that
        # holds them, whichever entry the compound was seen in (cokg.search_sets).
        prepared = [(entry, compounds_of(" ".join(_cleaned(entry).values()))) for entry in entries]
        phrases = {parts for _, found in prepared for parts in found.values()}
        with self._lock, self._transaction(forget=True):
            self._sets, self._term_ids, self._indexed = None, {}, []
            for table in ("entries", "facets", "facet_values", "compounds", "terms", "entry_sets"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'entries'")
            self._set_phrases(phrases)
            known: dict[tuple[str, str], int] = {}
            batch = _Batch(self._db)

            def documents() -> Iterable[tantivy.Document]:
                nonlocal count
                for entry, found in prepared:
                    count += 1
                    yield self._insert(entry, known, batch, found)
                batch.flush()

            self._text.write(documents(), everything=True)
            self._set_fingerprint(fingerprint)
            self._generation += 1
            self.builds += 1
            self._indexed = []
        if self.path is not None:  # a build went through the write-ahead log: give it back
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._checked = time.monotonic()
        return count

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
        with self._lock:
            self._indexed = []
            with self._transaction(forget=True):
                deleted = [i for i in (self._delete(iri) for iri in wanted) if i is not None]
                documents = [self._insert(entry) for entry in entries]
                self._text.write(documents, delete=deleted)
                self._generation += 1
            if self._sets is not None:
                for entry_id in deleted:
                    self._sets.remove(entry_id)
                for i in self._indexed:
                    self._sets.add(i.entry_id, i.terms, i.term_ids, i.value_ids, i.values, i.years)
            self._indexed = []

    def delete_entry(self, iri: str) -> None:
        """Remove the entry ``iri`` from the index (nothing happens when it is not there)."""
        with self._lock:
            with self._transaction(forget=True):
                deleted = self._delete(iri)
                if deleted is not None:
                    self._text.write((), delete=[deleted])
                self._generation += 1
            if deleted is not None and self._sets is not None:
                self._sets.remove(deleted)

    def apply_write(
        self,
        store: ReadableStore,
        graphs: Sequence[str | None] | None,
        *,
        subjects: Iterable[str] = (),
        refingerprint: bool = True,
    ) -> None:
        """Bring the index in step after a write to ``graphs`` (None: any graph, rebuild).

        Entries in those graphs, entries that were indexed from them, and entries that link
        to anything described in them (a person, an organisation…) are read again, and so are
        the entries that are or link to one of ``subjects`` (the subjects a write to the
        default graph touched). With ``refingerprint`` false the caller records the store's
        new fingerprint later (:meth:`record_fingerprint`), off the request's path.
        """
        named = [g for g in graphs or () if g and safe_iri(g)]
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
        described = [iri for iri in subjects if safe_iri(iri)]
        if named:
            listed = " ".join(f"<{g}>" for g in named)
            for row in _rows(store, _ENTRIES_IN.format(graphs=listed)):
                affected.add(_text(row["entry"]))
            described += [_text(row["s"]) for row in _rows(store, _DESCRIBED.format(graphs=listed))]
        described = sorted({iri for iri in described if safe_iri(iri)})
        for start in range(0, len(described), _CHUNK):
            chunk = described[start : start + _CHUNK]
            listed_subjects = " ".join(f"<{iri}>" for iri in chunk)
            with self._lock:
                marks = ",".join("?" * len(chunk))
                affected.update(
                    row[0]
                    for row in self._db.execute(
                        f"SELECT iri FROM entries WHERE iri IN ({marks})", chunk
                    )
                )
            for query in _LINKING:
                for row in _rows(store, query.format(subjects=listed_subjects)):
                    affected.add(_text(row["entry"]))
            for row in _rows(store, _TYPED.format(subjects=listed_subjects)):
                affected.add(_text(row["entry"]))
        if len(affected) > max(1000, len(self) // 2):  # most entries: reading all is quicker
            self.build(store)
            return
        self.update_entries(store, affected)
        if refingerprint:
            self.record_fingerprint(store_fingerprint(store))

    def record_fingerprint(self, fingerprint: str) -> None:
        """Record that the index is in step with the store whose fingerprint this is."""
        with self._lock:
            self._set_fingerprint(fingerprint)

    def _set_fingerprint(self, fingerprint: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))

    def _transaction(self, *, forget: bool = False) -> _Transaction:
        """A write transaction; with ``forget``, a rollback drops what is held in memory."""
        return _Transaction(self._db, self._forget if forget else None)

    def _forget(self) -> None:
        """Drop what is held in memory of the tables: it is read again when needed."""
        self._sets, self._term_ids, self._phrases, self._indexed = None, None, None, []

    def _insert(
        self,
        entry: Entry,
        known: dict[tuple[str, str], int] | None = None,
        batch: _Batch | None = None,
        found: dict[str, str] | None = None,
    ) -> tantivy.Document:
        """Insert ``entry``'s rows; return its text document. ``known`` caches facet value ids
        within one transaction; ``batch`` collects its facet, compound and set rows (a build
        writes them in bulk, :meth:`_Batch.flush`); ``found``: its compounds, when known."""
        db = self._db
        clean = _cleaned(entry)
        cursor = db.execute(
            "INSERT INTO entries (iri, graph, title, sort_title, period, start_year, end_year,"
            " opening, fragments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.iri,
                entry.graph,
                entry.title or entry.iri,
                fold(entry.title or entry.iri).casefold(),
                entry.period,
                entry.start_year,
                entry.end_year,
                _opening(clean["description"]),
                fragment_starts(clean["description"]),
            ),
        )
        rowid = int(cursor.lastrowid or 0)
        known = {} if known is None else known
        values = []
        by_facet: dict[str, list[int]] = {}
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
            by_facet.setdefault(facet, []).append(value)
        if found is None:
            found = compounds_of(" ".join(clean.values()))
        compounds = [(rowid, joined, parts) for joined, parts in found.items()]
        terms, phrases = self._terms_of(clean)
        value_ids = [value for _, value in values]
        pending = _Batch(db) if batch is None else batch
        pending.facets += values
        pending.compounds += compounds
        pending.sets.append((rowid, pack(terms.values()), pack(value_ids)))
        if batch is None or len(pending.facets) >= _BATCH_ROWS:
            pending.flush()
        if batch is None:  # an update: the sets in memory follow (a build reads them anew)
            places = {name: place for place, name in enumerate(FACETS)}
            described = {
                value: Value(places[facet], key_of(iri), iri, entry.facets[(facet, iri)])
                for (facet, iri), value in known.items()
                if (facet, iri) in entry.facets
            }
            self._indexed.append(
                _Indexed(
                    rowid,
                    terms,
                    list(terms.values()),
                    value_ids,
                    described,
                    (entry.start_year, entry.end_year),
                )
            )
        years = (entry.start_year, entry.end_year)
        return self._text.document(rowid, clean, by_facet, years, phrases)

    def _terms_of(self, clean: Mapping[str, str]) -> tuple[dict[str, int], dict[str, list[str]]]:
        """The index terms of an entry's columns (words, and the recorded phrases they hold)
        with their ids, new ones added to the ``terms`` table; and the phrases by column."""
        phrases = self._phrase_starts()
        words: set[str] = set()
        found: dict[str, list[str]] = {}
        for column in COLUMNS:
            tokens = self._text.tokens(clean[column])
            present = set(tokens)
            words |= present
            candidates = [p for first in present & phrases.keys() for p in phrases[first]]
            if candidates:  # a phrase is its tokens, adjacent: a substring of the spaced tokens
                spaced = f" {' '.join(tokens)} "
                found[column] = sorted(p for p in candidates if f" {p} " in spaced)
                words.update(found[column])
        known = self._known_terms()
        for word in words - known.keys():
            known[word] = self._db.execute(
                "INSERT INTO terms (term) VALUES (?) RETURNING id", (word,)
            ).fetchone()[0]
        return {word: known[word] for word in words}, found

    def _known_terms(self) -> dict[str, int]:
        if self._term_ids is None:
            self._term_ids = {
                str(term): int(term_id)
                for term_id, term in self._db.execute("SELECT id, term FROM terms")
            }
        return self._term_ids

    def _set_phrases(self, parts: Iterable[str]) -> None:
        """Record the phrases (compounds' parts) whose entries the sets hold from now on."""
        analysed = {tuple(self._text.tokens(p)) for p in parts}
        phrases = sorted(" ".join(tokens) for tokens in analysed if len(tokens) > 1)
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('phrases', ?)", (json.dumps(phrases),)
        )
        self._phrases = None

    def _recorded_phrases(self) -> list[str]:
        return list(json.loads(self._meta("phrases") or "[]"))

    def _phrase_starts(self) -> dict[str, list[str]]:
        """The recorded phrases by their first token."""
        if self._phrases is None:
            self._phrases = {}
            for phrase in self._recorded_phrases():
                self._phrases.setdefault(phrase.split(" ")[0], []).append(phrase)
        return self._phrases

    def _recorded(self) -> set[str]:
        """The recorded phrases: their entries are in the sets and the phrase fields."""
        return {p for phrases in self._phrase_starts().values() for p in phrases}

    def _worker(self) -> ThreadPoolExecutor:
        """The thread that makes a result page while the facets are counted."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="cokg-search")
        return self._pool

    def warm(self) -> None:
        """Read into memory now what the first search with facets would read (the entry sets:
        seconds at 100 000 entries, and again after every full rebuild)."""
        with self._lock:
            if self.match_sets:
                self._match_sets()

    def _match_sets(self) -> MatchSets:
        """The entry sets in memory, read from the tables the first time."""
        if self._sets is None:
            self._sets = MatchSets.load(self._db, tuple(FACETS), self._recorded_phrases())
        return self._sets

    def _delete(self, iri: str) -> int | None:
        """Delete the rows of entry ``iri``; return its id (None: not indexed)."""
        row = self._db.execute("SELECT id FROM entries WHERE iri = ?", (iri,)).fetchone()
        if row is None:
            return None
        for statement in (
            "DELETE FROM facets WHERE entry_id = ?",
            "DELETE FROM compounds WHERE entry_id = ?",
            "DELETE FROM entry_sets WHERE entry_id = ?",
            "DELETE FROM entries WHERE id = ?",
        ):
            self._db.execute(statement, (row[0],))
        return int(row[0])

    # -- searching ------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def _compounds(self, query: ParsedQuery) -> dict[str, str]:
        words = query.words()
        candidates = {"".join(words[i : i + 2]) for i in range(len(words))}
        candidates |= {"".join(t.words) for g in query.groups for t in g}
        found = {}
        for candidate in sorted(candidates):
            # one look-up in the (joined, parts) index: a common compound has thousands of rows
            row = self._db.execute(
                "SELECT MIN(parts) FROM compounds WHERE joined = ?", (candidate,)
            ).fetchone()
            if row[0] is not None:
                found[candidate] = str(row[0])
        return found

    def _analysed(self, query: ParsedQuery) -> list[Group] | None:
        """The text as analysed groups of index terms (None: no text asked)."""
        if query.empty:
            return None
        compounds = self._compounds(query)
        return self._text.analysed(_join_compounds(query, compounds), compounds)

    def _compiled(self, text: str) -> _Compiled:
        """``text`` read and made into its tantivy queries, kept for the :data:`KEPT_TEXTS`
        texts searched last until the index changes (the lock held).

        A text is searched again and again as its results are narrowed by facets and years,
        paged and shared; reading and analysing it, and making its queries, took 0.23 ms of a
        search with warm caches and 0.66 ms with cold ones ("participatory budgeting", 100 000
        entries). Only the queries are kept: what they match is looked up anew by every search.
        """
        if self._texts_generation != self._generation:  # a write may add a compound it means
            self._texts.clear()
            self._texts_generation = self._generation
        compiled = self._texts.get(text)
        if compiled is not None:
            self._texts.move_to_end(text)
            return compiled
        query = parse_query(text)
        analysed = self._analysed(query)
        if analysed is None:
            compiled = _Compiled(query, None, None, None, None, None)
        else:
            groups = tuple(analysed)  # kept: nothing can change it
            matching, ranking = self._text.queries(groups, self._recorded())
            words = self._text.text_query(groups)
            compiled = _Compiled(query, groups, matching, ranking, words, _probes(groups))
        self._texts[text] = compiled
        while len(self._texts) > KEPT_TEXTS:
            self._texts.popitem(last=False)
        return compiled

    def _selection(
        self, selection: Selection
    ) -> tuple[list[tantivy.Query], list[tuple[str, list[int]]]]:
        """Return the selection as tantivy filters, and the ids of each chosen facet value."""
        chosen: list[tuple[str, list[int]]] = []
        for facet, keys in selection.facets.items():
            if facet not in FACETS:
                raise SearchError(f"unknown facet {facet!r}; facets: {', '.join(FACETS)}")
            for key in keys:
                column = "iri" if "://" in key else "key"
                ids = [
                    int(row[0])
                    for row in self._db.execute(
                        f"SELECT id FROM facet_values WHERE facet = ? AND {column} = ?",
                        (facet, key),
                    )
                ]
                chosen.append((facet, ids))
        filters = self._text.filter_query(chosen, selection.from_year, selection.to_year)
        return filters, chosen

    @staticmethod
    def _where(
        chosen: list[tuple[str, list[int]]], selection: Selection, *, common: bool
    ) -> tuple[str, list[Any]]:
        """The selection as a WHERE clause over ``entries AS e``, and its parameters.

        ``common``: the selection holds a good part of the entries, so a walk in title order
        that checks each entry's facets stops early; else the chosen values' entries are
        collected first (few of them).
        """
        clauses: list[str] = []
        parameters: list[Any] = []
        for _, ids in chosen:
            listed = ",".join(str(i) for i in ids)
            if not ids:
                clauses.append("0")
            elif common:
                clauses.append(
                    "EXISTS (SELECT 1 FROM facets AS f WHERE f.entry_id = e.id "
                    f"AND f.value_id IN ({listed}))"
                )
            else:
                clauses.append(
                    f"e.id IN (SELECT f.entry_id FROM facets AS f WHERE f.value_id IN ({listed}))"
                )
        if selection.from_year is not None:
            clauses.append("e.end_year >= ?")
            parameters.append(selection.from_year)
        if selection.to_year is not None:
            clauses.append("e.start_year <= ?")
            parameters.append(selection.to_year)
        return " AND ".join(clauses) or "1", parameters

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
        Hits with text are ranked by relevance, without text by title.
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
        with self._lock:
            query, groups, text_query, ranking, words, probes = self._compiled(text)
            filters, chosen = self._selection(selection)
            searcher = self._text.searcher()
            try:
                if text_query is None and not filters:  # everything: the search page's landing
                    total, counted, years = self._everything(searcher)
                    hits = self._title_page("1", [], page, size)
                    counts = self._facet_counts(counted, selection) if facets else {}
                else:
                    selected = combine(text_query, filters)
                    found = None
                    if self.match_sets:
                        found = self._match_sets().selection(
                            groups or [], chosen, selection.from_year, selection.to_year
                        )
                    if text_query is None:
                        total = (
                            found.size
                            if found is not None
                            else _count(searcher.search(selected, 1, count=True))
                        )
                        common = total * 20 >= searcher.num_docs
                        where, parameters = self._where(chosen, selection, common=common)

                        def paged() -> tuple[int, list[Hit]]:
                            return total, self._title_page(where, parameters, page, size)

                    if found is not None:
                        # What lets go of the GIL for long runs in a worker thread while the
                        # facets are counted here (numpy, scipy): the SQLite page in title
                        # order, or tantivy's ranking and the page's stored documents and
                        # rows (the snippets are then made here, after the counts: tantivy
                        # holds the GIL for them, Python work in both threads would only take
                        # turns). Only the worker touches the database meanwhile; the lock is
                        # still held.
                        mask, known = found.mask, found.size
                        pending: Future[tuple[int, Any]]
                        if words is None:
                            pending = self._worker().submit(paged)
                        else:
                            rank: Callable[[], tuple[int, list[tuple[float, Any]]]]
                            if ranking is not None and found.ranked_matches > 0:
                                rank = partial(
                                    self._ranked_within,
                                    searcher,
                                    (ranking, selected),
                                    (mask, known / found.ranked_matches),
                                    page,
                                    size,
                                    total=known,
                                )
                            else:
                                rank = partial(
                                    self._ranked, searcher, selected, page, size, total=known
                                )

                            def ranked_and_fetched() -> tuple[int, _Fetched]:
                                counted, ranked = rank()
                                return counted, self._fetched(searcher, ranked)

                            pending = self._worker().submit(ranked_and_fetched)
                        try:
                            sets = self._match_sets()
                            counted = (
                                sets.counts(
                                    mask,
                                    FACET_VALUES * 4,
                                    shown=FACET_VALUES,
                                    bits=found.bits,
                                    size=known,
                                )
                                if facets
                                else []
                            )
                            years = sets.years(mask)
                            # the lists' values (labels from the sets: no database) while
                            # the worker may still rank, as it does for a broad text
                            counts = (
                                self._facet_counts(counted, selection, sets.values)
                                if facets
                                else {}
                            )
                        finally:  # the worker is done with the database before the lock goes
                            wait([pending])
                        total, done = pending.result()
                        hits = done if words is None else self._hits(searcher, done, words, probes)
                    else:
                        if words is None:
                            total, hits = paged()
                        else:
                            total, hits = self._ranked_page(
                                searcher, selected, words, probes, page, size
                            )
                        counted, years = self._aggregate(
                            searcher, selected, facets=facets, total=total
                        )
                        counts = self._facet_counts(counted, selection) if facets else {}
            except ValueError as e:  # never expected: queries are built, not parsed
                raise SearchError(f"the search could not be run: {e}") from e
            suggestion = None
            if total == 0 and not query.empty:
                suggestion = self._suggest(searcher, query)
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

    def _everything(
        self, searcher: tantivy.Searcher
    ) -> tuple[int, list[tuple[str, int, int]], tuple[int, int] | None]:
        """Total, facet counts and years of every entry, cached until the index changes."""
        if self._cached is None or self._cached[0] != self._generation:
            counted, years = self._aggregate(
                searcher, tantivy.Query.all_query(), facets=True, total=0
            )
            self._cached = (self._generation, (len(self), counted, years))
        answer: tuple[int, list[tuple[str, int, int]], tuple[int, int] | None] = self._cached[1]
        return answer

    def _aggregate(
        self, searcher: tantivy.Searcher, selected: tantivy.Query, *, facets: bool, total: int
    ) -> tuple[list[tuple[str, int, int]], tuple[int, int] | None]:
        """The (facet, value id, count) of the selection's most frequent values, and its years.

        ``total`` is the selection's size: when it holds more than four fifths of the entries,
        its counts are those of every entry (cached) less those of the rest, quicker to count.
        """
        # More values than shown are asked for, so that ties at the last place are broken by
        # label here as a SPARQL ORDER BY would, not by tantivy's order.
        wanted = list(FACETS) if facets else []
        complement = facets and total * 5 > searcher.num_docs * 4 and self._countable()
        answer = searcher.aggregate(
            selected, aggregations([] if complement else wanted, FACET_VALUES * 4)
        )
        low = answer.get("start_year", {}).get("value")
        high = answer.get("end_year", {}).get("value")
        years = None if low is None or high is None else (int(low), int(high))
        if not complement:
            counted = [
                (facet, int(bucket["key"]), int(bucket["doc_count"]))
                for facet in wanted
                for bucket in answer.get(facet, {}).get("buckets", [])
            ]
            return counted, years
        everything = self._all_counts(searcher)
        rest = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.all_query()),
                (tantivy.Occur.MustNot, selected),
            ]
        )
        others = searcher.aggregate(rest, aggregations(wanted, _ALL_VALUES, years=False))
        counted = []
        for facet in wanted:
            less = {
                int(bucket["key"]): int(bucket["doc_count"])
                for bucket in others.get(facet, {}).get("buckets", [])
            }
            remaining = (
                (facet, value_id, count - less.get(value_id, 0))
                for value_id, count in everything[facet].items()
            )
            counted += heapq.nlargest(
                FACET_VALUES * 4, (c for c in remaining if c[2] > 0), key=lambda c: c[2]
            )
        return counted, years

    def _countable(self) -> bool:
        """Tell whether every facet value fits in one aggregation (the complement's counts)."""
        row = self._db.execute("SELECT COUNT(*) FROM facet_values").fetchone()
        return int(row[0]) < _ALL_VALUES

    def _all_counts(self, searcher: tantivy.Searcher) -> dict[str, dict[int, int]]:
        """How many entries have each facet value, cached until the index changes."""
        if self._counts is None or self._counts[0] != self._generation:
            answer = searcher.aggregate(
                tantivy.Query.all_query(), aggregations(list(FACETS), _ALL_VALUES, years=False)
            )
            counts = {
                facet: {
                    int(bucket["key"]): int(bucket["doc_count"])
                    for bucket in answer.get(facet, {}).get("buckets", [])
                }
                for facet in FACETS
            }
            self._counts = (self._generation, counts)
        return self._counts[1]

    def _title_page(self, where: str, parameters: list[Any], page: int, size: int) -> list[Hit]:
        """One page of the selection (no text) in title order, with the description's start."""
        rows = self._db.execute(
            "SELECT e.iri, e.title, e.period, e.start_year, e.end_year, "
            f"e.opening FROM entries AS e WHERE {where} "
            "ORDER BY e.sort_title, e.id LIMIT ? OFFSET ?",
            [*parameters, size, (page - 1) * size],
        ).fetchall()
        return [
            Hit(
                iri=iri,
                title=title,
                score=None,
                marked_title=title,
                marked_snippet=opening,
                period=period,
                start_year=start,
                end_year=end,
            )
            for iri, title, period, start, end, opening in rows
        ]

    def _ranked_page(
        self,
        searcher: tantivy.Searcher,
        selected: tantivy.Query,
        words: tantivy.Query,
        probes: tuple[str, ...] | None,
        page: int,
        size: int,
        *,
        total: int | None = None,
    ) -> tuple[int, list[Hit]]:
        """The selection's total and one page of it, best first, with the words of ``words``
        highlighted (:meth:`_hits`). A ``total`` already known (from the entry sets) spares
        tantivy counting every match: it then only ranks."""
        counted, ranked = self._ranked(searcher, selected, page, size, total=total)
        return counted, self._hits(searcher, self._fetched(searcher, ranked), words, probes)

    @staticmethod
    def _ranked(
        searcher: tantivy.Searcher,
        selected: tantivy.Query,
        page: int,
        size: int,
        *,
        total: int | None = None,
    ) -> tuple[int, list[tuple[float, tantivy.DocAddress]]]:
        """The selection's total and the (score, address) of one page of it, best first: only
        tantivy's work, which lets go of the GIL (see :meth:`search`)."""
        offset = (page - 1) * size
        if offset >= searcher.num_docs:  # past the end: nothing to rank
            if total is not None:
                return total, []
            return _count(searcher.search(selected, 1, count=True)), []
        found = searcher.search(selected, size, count=total is None, offset=offset)
        return (_count(found) if total is None else total), list(found.hits)

    @staticmethod
    def _ranked_within(
        searcher: tantivy.Searcher,
        queries: tuple[tantivy.Query, tantivy.Query],
        selection: tuple[Mask, float],
        page: int,
        size: int,
        *,
        total: int,
    ) -> tuple[int, list[tuple[float, tantivy.DocAddress]]]:
        """:meth:`_ranked` for a text, ranked by its words alone.

        ``queries``: the text's ranking query (:meth:`TextIndex.ranking_query`: its words'
        union, which matches the entries with any of them), and the text's query with the
        filters; ``selection``: the mask of the selected entries, and their share of the
        ranking query's matches; ``total``: how many are selected. The page is the first
        selected entries among tantivy's best matches of the words, of which half again as
        many are fetched as the share says a page takes (four times more each time too few
        are selected). The text's query scores as its ranking query does, and the filters
        score nothing (:meth:`TextIndex.filter_query`), so the pages, their order and the
        scores are those of the text with the filters; and tantivy ranks a union of words
        faster (block-max WAND): 0.6–0.7 against 1.2–1.9 ms for "participatory budgeting" at
        100 000 entries, and a text alone than with filters (1.4–2.4 against 2.4–3.3 ms).
        Past :data:`_MOST_FETCHED` matches, ranks the text with the filters.
        """
        text, narrowed = queries
        mask, share = selection
        if total == 0:
            return total, []
        if share >= 1.0:  # the words' union matches the selection and nothing else
            return SearchIndex._ranked(searcher, text, page, size, total=total)
        wanted = page * size
        fetch = int(wanted / max(share, 1e-6) * 1.5) + 16
        while fetch <= _MOST_FETCHED:
            found = searcher.search(text, fetch, count=False).hits
            ids = searcher.fast_field_values("id", [address for _, address in found])
            kept = [
                hit
                for hit, entry in zip(found, ids, strict=True)
                if entry is not None and int(entry) < len(mask) and mask[int(entry)]
            ]
            if len(kept) >= wanted or len(found) < fetch:  # enough, or every match seen
                return total, kept[wanted - size : wanted]
            fetch *= 4
        return SearchIndex._ranked(searcher, narrowed, page, size, total=total)

    def _fetched(
        self, searcher: tantivy.Searcher, ranked: Sequence[tuple[float, tantivy.DocAddress]]
    ) -> _Fetched:
        """The stored documents of ``ranked`` (:meth:`_ranked`) and their entries' rows: what
        lets go of the GIL of making the hits (tantivy reads its store, SQLite its pages),
        done in the ranking's worker while the facets are counted."""
        documents = [(score, searcher.doc(address)) for score, address in ranked]
        ids = [int(document["id"][0]) for _, document in documents]
        marks = ",".join("?" * len(ids))
        rows = {
            row[0]: row[1:]
            for row in self._db.execute(
                f"SELECT id, iri, title, period, start_year, end_year, fragments FROM entries "
                f"WHERE id IN ({marks})",
                ids,
            )
        }
        return _Fetched(documents, ids, rows)

    def _hits(
        self,
        searcher: tantivy.Searcher,
        fetched: _Fetched,
        words: tantivy.Query,
        probes: tuple[str, ...] | None,
    ) -> list[Hit]:
        """The hits of ``fetched`` (:meth:`_fetched`) with the words of ``words`` highlighted
        (``probes``: what a text must hold to hold one of them, :func:`_probes`).

        A description that cannot hold a word of the text (:func:`_span`) is not handed to
        tantivy's snippets, which analyse all of it to find nothing (20–55 µs with warm caches
        for the bench's descriptions): its snippet is its opening, as tantivy's empty fragment
        makes it. Of the ten hits of the bench's texts at 100 000 entries, one to seven have none
        of the text's words in their descriptions. Of the others, tantivy is handed only the
        fragments from the first that may hold a word to the last (:func:`fragment_starts`).
        """
        documents, ids, rows = fetched
        schema = self._text.schema
        titles = tantivy.SnippetGenerator.create(searcher, words, schema, "title")
        titles.set_max_num_chars(100_000)
        snippets = tantivy.SnippetGenerator.create(searcher, words, schema, "description")
        snippets.set_max_num_chars(_SNIPPET_CHARS)
        hits = []
        for (score, document), entry_id in zip(documents, ids, strict=True):
            if entry_id not in rows:  # pragma: no cover - the two halves are written together
                continue
            iri, title, period, start, end, starts = rows[entry_id]
            description = document.get_first("description")
            span = None if probes is None else _span(description, probes, starts)
            hits.append(
                Hit(
                    iri=iri,
                    title=title,
                    score=float(score),
                    marked_title=_highlighted(titles, document, "title", whole=True) or title,
                    marked_snippet=(
                        _highlighted(snippets, document, "description", whole=False, span=span)
                        if probes is None or span is not None
                        else _opening(description)
                    ),
                    period=period,
                    start_year=start,
                    end_year=end,
                )
            )
        return hits

    def _facet_counts(
        self,
        counted: list[tuple[str, int, int]],
        selection: Selection,
        known: Mapping[int, Value] | None = None,
    ) -> dict[str, list[FacetValue]]:
        """The facet values of ``counted`` with their keys, IRIs and labels (from ``known``,
        else the table), the most frequent first, ties by label.

        With ``known`` (the entry sets' values), ``counted`` is :meth:`MatchSets.counts`'s:
        each facet's shown values already in that order.
        """
        counts: dict[str, list[FacetValue]] = {name: [] for name in FACETS}
        if known is not None:
            for facet, value_id, count in counted:
                value = known.get(value_id)
                if value is not None:
                    chosen = selection.facets.get(facet, ())
                    selected = value.key in chosen or value.iri in chosen
                    counts[facet].append(
                        FacetValue(facet, value.key, value.iri, value.label, count, selected)
                    )
            return counts
        values: dict[int, tuple[str, str, str]] = {}
        ids = sorted({value_id for _, value_id, _ in counted})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in self._db.execute(
                "SELECT id, key, iri, label FROM facet_values "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                values[row[0]] = row[1:]
        for facet, value_id, count in sorted(
            counted, key=lambda c: (-c[2], values.get(c[1], ("", "", ""))[2].casefold())
        ):
            if value_id not in values or len(counts[facet]) >= FACET_VALUES:
                continue
            key, iri, label = values[value_id]
            chosen = selection.facets.get(facet, ())
            counts[facet].append(
                FacetValue(facet, key, iri, label, count, key in chosen or iri in chosen)
            )
        return counts

    def _suggest(self, searcher: tantivy.Searcher, query: ParsedQuery) -> str | None:
        """A query that finds something when this one found nothing: the words that match."""
        words = list(dict.fromkeys(query.words()))
        found = []
        for word in words:
            single = ParsedQuery(((Term((word,), prefix=True),),))
            alone = self._text.text_query(self._text.analysed(single, {}))
            if _count(searcher.search(alone, 1, count=True)):
                found.append(word)
        if not found or found == words:
            return None
        return " OR ".join(found)

    def _ranked_iris(
        self, searcher: tantivy.Searcher, selected: tantivy.Query, limit: int
    ) -> list[tuple[str, float]]:
        """The IRIs and scores of the best ``limit`` entries of ``selected``."""
        limit = min(limit, max(1, searcher.num_docs))
        found = searcher.search(selected, limit, count=False)
        ids = [(int(searcher.doc(address)["id"][0]), score) for score, address in found.hits]
        iris: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = [entry_id for entry_id, _ in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            iris.update(
                self._db.execute(f"SELECT id, iri FROM entries WHERE id IN ({marks})", chunk)
            )
        return [(iris[entry_id], float(score)) for entry_id, score in ids if entry_id in iris]

    def iris(
        self, text: str, selection: Selection | None = None, *, limit: int = 10_000
    ) -> list[str]:
        """Return the IRIs of the entries matching, best first (at most ``limit``)."""
        with self._lock:
            text_query = self._compiled(text).matching
            selection = selection or Selection()
            filters, chosen = self._selection(selection)
            if text_query is None:
                where, parameters = self._where(chosen, selection, common=False)
                rows = self._db.execute(
                    f"SELECT e.iri FROM entries AS e WHERE {where} "
                    "ORDER BY e.sort_title, e.id LIMIT ?",
                    [*parameters, limit],
                )
                return [str(row[0]) for row in rows]
            selected = combine(text_query, filters)
            return [iri for iri, _ in self._ranked_iris(self._text.searcher(), selected, limit)]

    def scores(self, text: str) -> dict[str, float]:
        """Return the score of every entry matching ``text`` (higher is better)."""
        with self._lock:
            text_query = self._compiled(text).matching
            if text_query is None:
                return {}
            searcher = self._text.searcher()
            return dict(self._ranked_iris(searcher, text_query, searcher.num_docs))


_SNIPPET_CHARS = 200
"""The most characters of a snippet's fragment (but for one longer word). Where each
description's fragments start is kept with its entry (:func:`fragment_starts`): another width
needs a new :data:`_SCHEMA_VERSION`."""
KEPT_TEXTS = 256
"""How many texts' queries a search index keeps made (:meth:`SearchIndex._compiled`)."""


class _Compiled(NamedTuple):
    """A text as read (:func:`parse_query`), analysed and made into tantivy queries."""

    query: ParsedQuery
    groups: tuple[Group, ...] | None
    """The analysed groups (None: no text asked)."""
    matching: tantivy.Query | None
    """:meth:`TextIndex.text_query` with the recorded phrases: what the text matches."""
    ranking: tantivy.Query | None
    """:meth:`TextIndex.ranking_query`: its words' union."""
    words: tantivy.Query | None
    """The text's query of the text fields' own terms, as snippets need them."""
    probes: tuple[str, ...] | None
    """What a text must hold to hold one of the words (:func:`_probes`; None: anything can)."""


def _probes(groups: Sequence[Group]) -> tuple[str, ...] | None:
    """The starts of words that every word holding one of the terms of ``groups`` begins with,
    lower-cased: each term without its last two letters (None when that leaves nothing).

    A term is a word as the analyzer makes it: lower-cased, folded to ASCII and stemmed (the
    Snowball English stemmer). Of the letters of a stem, at most the last two differ from the
    word's: "dying" is "die"; "possibility", "possibl"; "hoping", "hope" (1.96 million words
    and 1.5 million random strings of English endings checked; `tests/test_search.py` keeps
    the hardest). So an ASCII text none of whose words start with a probe holds none of the
    terms, and tantivy's snippet of it would be empty.

    >>> from cokg.search_text import Alternative
    >>> _probes([Group(False, (Alternative(("participatori",)),)),
    ...          Group(False, (Alternative(("budget",)),))])
    ('budg', 'participato')
    """
    terms = {t for group in groups for option in group.alternatives for t in option.tokens}
    probes = tuple(sorted({term[:-2] for term in terms}))
    return None if not probes or "" in probes else probes


def _span(text: str | None, probes: Sequence[str], starts: bytes | None) -> tuple[int, int] | None:
    """The part of ``text`` that holds every word of which ``probes`` (:func:`_probes`) are
    the starts, as whole fragments of tantivy's snippets (``starts``: where they start,
    :func:`fragment_starts`; None: the whole text); None when it surely holds none: an ASCII
    text in which no probe appears. A text with other characters is always whole (the
    analyzer folds it to ASCII, which this does not repeat).

    The fragments before the first probe and after the last hold no word of the text, so
    their score is 0 and tantivy's best fragment is among those between; as tantivy makes
    each fragment from where the one before it ends, it makes the same ones of this part.
    """
    if not text:
        return None
    if not text.isascii():
        return 0, len(text)
    lowered = text.lower()
    first = last = -1
    for probe in probes:
        found = lowered.find(probe)
        if found >= 0:
            first = found if first < 0 else min(first, found)
            last = max(last, lowered.rfind(probe))
    if first < 0:
        return None
    if not starts:
        return 0, len(text)
    places = np.frombuffer(starts, dtype="<u4").tolist()
    after = bisect.bisect_right(places, last)  # the fragment after the last probe's
    return (
        places[bisect.bisect_right(places, first) - 1],
        places[after] if after < len(places) else len(text),
    )


_WORD_BYTES = np.zeros(256, dtype=np.int8)
_WORD_BYTES[list(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")] = 1


def fragment_starts(text: str | None) -> bytes | None:
    """Where tantivy's snippet generator starts the fragments of an ASCII ``text`` (of at
    most :data:`_SNIPPET_CHARS` characters each, or one longer word), as little-endian
    uint32; None for a text with other characters, or without words.

    As tantivy's simple tokenizer, words are runs of ASCII letters and digits. A fragment
    starts at 0, and takes words while the end of the next is at most :data:`_SNIPPET_CHARS`
    past its start; the word that is not taken starts the next fragment (a first fragment
    without words is dropped). Kept with each entry (``entries.fragments``), so that a
    search hands tantivy only the fragments that may hold its words (:func:`_span`).

    >>> np.frombuffer(fragment_starts("a " * 150), dtype="<u4").tolist()
    [0, 200]
    """
    if not text or not text.isascii():
        return None
    flags = _WORD_BYTES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    edges = np.flatnonzero(np.diff(flags, prepend=0, append=0)).tolist()
    firsts, ends = edges[0::2], edges[1::2]  # each word's first character, and its end
    found: list[int] = []
    start, word = 0, 0
    while word < len(firsts):
        taken = bisect.bisect_right(ends, start + _SNIPPET_CHARS, word)
        if taken == word:  # the next word does not fit: it starts a fragment, alone if need be
            if start != firsts[word]:
                start = firsts[word]
                continue
            taken = word + 1
        found.append(start)
        word = taken
        if word < len(firsts):
            start = firsts[word]
    return np.array(found, dtype="<u4").tobytes() if found else None


class _Fetched(NamedTuple):
    """A page's stored documents with their scores, entry ids, and entries' rows (by id)."""

    documents: list[tuple[float, tantivy.Document]]
    ids: list[int]
    rows: dict[int, tuple[Any, ...]]


def _count(found: tantivy.SearchResult) -> int:
    """How many documents matched (asked with ``count=True``)."""
    return int(found.count)  # type: ignore[attr-defined]  # missing from tantivy's stub


def _opening(description: str | None) -> str:
    """The start of a description (its first 240 characters, cut at a word), as the snippet of
    a hit without text or whose description holds none of its words."""
    snippet = _SPACE.sub(" ", (description or "")[:240]).strip()
    if len(snippet) >= 230:
        snippet = snippet.rsplit(" ", 1)[0] + " …"
    return snippet


def _highlighted(
    generator: tantivy.SnippetGenerator,
    document: tantivy.Document,
    field: str,
    *,
    whole: bool,
    span: tuple[int, int] | None = None,
) -> str:
    """The field's text (``whole``) or its best fragment, with the matched words marked;
    ``span``: the part of the field's text that holds its best fragment (:func:`_span`), the
    only part tantivy is handed."""
    text = document.get_first(field) or ""
    start = 0
    if span is not None and not whole and span != (0, len(text)):
        start, stop = span
        document = tantivy.Document(**{field: [text[start:stop]]})
    snippet = generator.snippet_from_doc(document)
    fragment = snippet.fragment()
    ranges = [(r.start, r.end) for r in snippet.highlighted()]
    if whole:
        base = snippet.fragment_range().start if fragment else 0
        return marked(text, [(base + s, base + e) for s, e in ranges], _OPEN, _CLOSE)
    if not fragment:  # no word of the query in this field: its opening
        return _opening(text)
    where = snippet.fragment_range()
    before = "…" if start + where.start > 0 else ""
    after = "…" if start + where.end < len(text.encode()) else ""
    return _SPACE.sub(" ", before + marked(fragment, ranges, _OPEN, _CLOSE) + after).strip()


_BATCH_ROWS = 50_000
_ALL_VALUES = 60_000
"""Buckets asked of an aggregation that must count every value (tantivy allows 65 000)."""


@dataclass
class _Batch:
    """Facet and compound rows waiting to be written together."""

    db: sqlite3.Connection
    facets: list[tuple[int, int]] = field(default_factory=list)
    compounds: list[tuple[int, str, str]] = field(default_factory=list)
    sets: list[tuple[int, bytes, bytes]] = field(default_factory=list)

    def flush(self) -> None:
        """Write the rows collected so far."""
        self.db.executemany("INSERT OR IGNORE INTO facets VALUES (?, ?)", self.facets)
        self.db.executemany("INSERT INTO compounds VALUES (?, ?, ?)", self.compounds)
        self.db.executemany("INSERT INTO entry_sets VALUES (?, ?, ?)", self.sets)
        self.facets.clear()
        self.compounds.clear()
        self.sets.clear()


@dataclass(frozen=True)
class _Indexed:
    """An entry written by an update, as :meth:`MatchSets.add` takes it."""

    entry_id: int
    terms: dict[str, int]
    term_ids: list[int]
    value_ids: list[int]
    values: dict[int, Value]
    years: tuple[int | None, int | None]


def _cleaned(entry: Entry) -> dict[str, str]:
    """The text of each column of ``entry``, as indexed (control characters removed)."""
    texts = {
        "title": entry.title,
        "description": entry.description,
        **{column: " · ".join(values) for column, values in entry.text.items()},
    }
    return {c: _CONTROL.sub(" ", texts.get(c, "")) for c in COLUMNS}


class _Transaction:
    def __init__(self, db: sqlite3.Connection, on_rollback: Callable[[], None] | None) -> None:
        self._db = db
        self._on_rollback = on_rollback

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        if kind is not None and self._on_rollback is not None:
            self._on_rollback()


# -- from SPARQL ----------------------------------------------------------------------------


def values_block(iris: Sequence[str], variable: str = "entry") -> str:
    """Return a SPARQL ``VALUES`` block binding ``?variable`` to ``iris`` (for any engine).

    >>> values_block(["http://example.org/a"])
    'VALUES ?entry { <http://example.org/a> }'
    """
    if not re.fullmatch(r"\w+", variable):
        raise SearchError(f"not a SPARQL variable name: {variable!r}")
    listed = " ".join(f"<{iri}>" for iri in iris if safe_iri(iri))
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
        "facets": {name: _values_json(values) for name, values in result.facets.items()},
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


def _values_json(values: Iterable[FacetValue]) -> list[dict[str, Any]]:
    """A facet's values as ``result_json`` lists them."""
    listed = []
    for value in values:
        item = {"key": value.key, "iri": value.iri, "label": value.label, "count": value.count}
        if value.selected:
            item["selected"] = True
        listed.append(item)
    return listed


def dumps(document: Mapping[str, Any]) -> str:
    """Serialise a search document as indented JSON (UTF-8 text, two-space indent).

    orjson writes the same text as ``json.dumps(document, indent=2, ensure_ascii=False)``
    about fifty times faster: for a page of hits with its facet lists, 1.5 ms of Python
    became 0.03 ms.
    """
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
