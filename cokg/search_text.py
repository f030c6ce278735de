"""The text side of the search index: a tantivy index of the entries' words, facets and years.

One tantivy document per entry: its id (the SQLite row id of :mod:`cokg.search`), six text
fields ranked with BM25 and field boosts (:data:`COLUMNS`, :data:`BOOSTS`), the ids of its
facet values (one integer field per facet) and its start and end years. Text is analysed by
:func:`analyzer`: tantivy's simple tokenizer (letters and digits; apostrophes and hyphens
separate words), lower case, ASCII folding (``café`` = ``cafe``) and the English Snowball
stemmer (``juries`` = ``jury``).

A query never reaches tantivy's query parser: :meth:`TextIndex.text_query` builds it from a
:class:`~cokg.search.ParsedQuery`, word by word, so no input can be a syntax error. Facet
counts and year bounds are tantivy aggregations over the same query (:func:`aggregations`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tantivy

from cokg.errors import CokgError

if TYPE_CHECKING:
    from cokg.search import ParsedQuery, Term

COLUMNS = ("title", "topics", "people", "organisations", "documents", "description")
BOOSTS = (10.0, 5.0, 3.0, 3.0, 2.0, 1.0)
"""BM25 boost per field of :data:`COLUMNS`: a title match counts ten description matches."""
ANALYZER = "cokg_english"
PHRASES = "_phrases"
"""The suffix of the field beside each text field that holds its recorded phrases, one token
each ("co_product" for the analysed "co production"), so that such a phrase is a term query."""
_PHRASE_ANALYZER = "cokg_phrases"
_STORED = ("title", "description")
PREFIX_TERM_CHARS = 64
"""The longest prefix (in characters, analysed) matched by a regex over the term dictionary."""
_HEAP = 64_000_000
"""The writer's memory budget in bytes (twice that for a rebuild, shared by its threads);
tantivy writes a segment out when it is full."""


@dataclass(frozen=True)
class Alternative:
    """One alternative of a query group as index terms: a term, a phrase, maybe a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Group:
    """A group of alternatives of which one must match (none, when ``excluded``)."""

    excluded: bool
    alternatives: tuple[Alternative, ...]


def analyzer() -> tantivy.TextAnalyzer:
    """Return the text analyzer of every text field (and of every query word).

    >>> analyzer().analyze("Citizens’ Juries, café co-production")
    ['citizen', 'juri', 'cafe', 'co', 'product']
    """
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def facet_field(facet: str) -> str:
    """Return the name of the integer field holding the value ids of ``facet``."""
    return f"facet_{facet}"


def _schema(facets: Iterable[str]) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    for column in COLUMNS:
        builder.add_text_field(column, stored=column in _STORED, tokenizer_name=ANALYZER)
        builder.add_text_field(column + PHRASES, tokenizer_name=_PHRASE_ANALYZER)
    for facet in facets:
        builder.add_integer_field(facet_field(facet), indexed=True, fast=True)
    builder.add_integer_field("start_year", indexed=True, fast=True)
    builder.add_integer_field("end_year", indexed=True, fast=True)
    return builder.build()


class TextIndex:
    """A tantivy index in ``directory`` (None: in memory) for the facets ``facets``."""

    def __init__(self, directory: Path | None, facets: Sequence[str]) -> None:
        self.facets = tuple(facets)
        self.schema = _schema(self.facets)
        self._analyzer = analyzer()
        try:
            if directory is None:
                self._index = tantivy.Index(self.schema)
            else:
                directory.mkdir(parents=True, exist_ok=True)
                self._index = tantivy.Index(self.schema, path=str(directory), reuse=True)
        except ValueError as e:
            raise CokgError(f"cannot open the search index {directory}: {e}") from e
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self._index.register_tokenizer(
            _PHRASE_ANALYZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        self._index.reload()

    @staticmethod
    def remove(directory: Path) -> None:
        """Remove the index in ``directory`` (an index of another schema version)."""
        shutil.rmtree(directory, ignore_errors=True)

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    # -- writing -------------------------------------------------------------------------

    def write(
        self,
        documents: Iterable[tantivy.Document],
        *,
        delete: Iterable[int] = (),
        everything: bool = False,
    ) -> None:
        """Delete the documents of ids ``delete`` (or ``everything``), add ``documents``, commit."""
        threads = 0 if everything else 1  # a rebuild uses every core; an update one thread
        try:
            writer = self._index.writer(_HEAP * (2 if everything else 1), threads)
        except ValueError as e:
            raise CokgError(f"the search index is being written by another process: {e}") from e
        try:
            if everything:
                writer.delete_all_documents()
            for entry_id in delete:
                writer.delete_documents_by_term("id", entry_id)
            for document in documents:
                writer.add_document(document)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        self._index.reload()

    def document(
        self,
        entry_id: int,
        texts: Mapping[str, str],
        facet_ids: Mapping[str, Iterable[int]],
        years: tuple[int | None, int | None],
        phrases: Mapping[str, Iterable[str]] | None = None,
    ) -> tantivy.Document:
        """Return the document of one entry: its id, texts, the recorded phrases of each text
        (analysed, space-separated tokens), facet value ids and years."""
        document = tantivy.Document()
        document.add_integer("id", entry_id)
        for column in COLUMNS:
            document.add_text(column, texts.get(column, ""))
            found = (phrases or {}).get(column, ())
            document.add_text(column + PHRASES, " ".join(p.replace(" ", "_") for p in found))
        for facet, ids in facet_ids.items():
            for value_id in ids:
                document.add_integer(facet_field(facet), value_id)
        start, end = years
        if start is not None:
            document.add_integer("start_year", start)
        if end is not None:
            document.add_integer("end_year", end)
        return document

    # -- queries -------------------------------------------------------------------------

    def searcher(self) -> tantivy.Searcher:
        """Return a searcher over the last commit."""
        return self._index.searcher()

    def tokens(self, text: str) -> list[str]:
        """Return ``text`` as the index's terms (folded and stemmed)."""
        return list(self._analyzer.analyze(text))

    def analysed(self, query: ParsedQuery, compounds: Mapping[str, str]) -> list[Group]:
        """Return ``query`` as analysed groups: every group must match, excluded ones not.

        Each group lists its alternatives as index terms; ``compounds`` maps a joined compound
        ("coproduction") to its parts ("co production"): each spelling also matches the
        others. :meth:`text_query` and :class:`cokg.search_sets.MatchSets` both read this.
        """
        groups = []
        for group in query.groups:
            spellings = [(term, term.words) for term in group]
            spellings += [
                (term, tuple(other))
                for term in group
                for other in _other_spellings(term, compounds)
            ]
            alternatives = tuple(
                Alternative(tuple(self.tokens(" ".join(words))), term.prefix)
                for term, words in spellings
            )
            groups.append(Group(group[0].excluded, alternatives))
        return groups

    def text_query(
        self, groups: Sequence[Group], recorded: Collection[str] = frozenset()
    ) -> tantivy.Query:
        """Return the tantivy query of the analysed ``groups`` (:meth:`analysed`): the entries
        that match every group (and none of the excluded ones), scored by
        :meth:`ranking_query` (each word's score in each field, boosted, summed).

        A phrase of ``recorded`` (its tokens joined by spaces) is looked up as one term in the
        fields of recorded phrases, rather than as a phrase (positions) in the text fields:
        the same entries, found without reading positions. Without ``recorded``, the query
        holds the text fields' own terms, as snippets need them.
        """
        return self.queries(groups, recorded)[0]

    def queries(
        self, groups: Sequence[Group], recorded: Collection[str] = frozenset()
    ) -> tuple[tantivy.Query, tantivy.Query | None]:
        """Return :meth:`text_query` and :meth:`ranking_query` of ``groups``, made once."""
        ranking = self.ranking_query(groups, recorded)
        if len(groups) == 1 and not groups[0].excluded and ranking is not None:
            return ranking, ranking  # one group matches what its words' union matches
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for group in groups:
            either = _any(
                [
                    _any(self._leaves(alternative, recorded) or [tantivy.Query.empty_query()])
                    for alternative in group.alternatives
                ]
            )
            occur = tantivy.Occur.MustNot if group.excluded else tantivy.Occur.Must
            clauses.append((occur, either))
        matching = tantivy.Query.boolean_query(clauses)
        if ranking is None:
            return matching, None
        # matched by the groups, scored by the union of the words alone: the same score,
        # bit for bit, as the union ranked on its own (tantivy sums a union's scores in one
        # order, whether it ranks with block-max WAND or not)
        scored = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.const_score_query(matching, 0.0)),
                (tantivy.Occur.Should, ranking),
            ]
        )
        return scored, ranking

    def ranking_query(
        self, groups: Sequence[Group], recorded: Collection[str] = frozenset()
    ) -> tantivy.Query | None:
        """Return the query that scores the text of ``groups``: one union of every field's
        query of every alternative of the groups not excluded (None: there are none).

        It matches the entries with any of the words, more than the text does, and scores
        each as the text does. A union of term queries is ranked with block-max WAND, which
        skips the blocks of postings that cannot reach the page: 0.6–0.7 ms for the best 40
        entries of "participatory budgeting" at 100 000 entries, against 1.2–1.9 ms for the
        conjunction of the two words' unions, which scores every entry with both.
        """
        leaves = [
            leaf
            for group in groups
            if not group.excluded
            for alternative in group.alternatives
            for leaf in self._leaves(alternative, recorded)
        ]
        return _any(leaves) if leaves else None

    def _leaves(self, alternative: Alternative, recorded: Collection[str]) -> list[tantivy.Query]:
        """The boosted queries of one alternative, one per field (none without tokens)."""
        tokens = list(alternative.tokens)
        if not tokens:
            return []
        if len(tokens) > 1 and not alternative.prefix and " ".join(tokens) in recorded:
            term = "_".join(tokens)
            return [
                tantivy.Query.boost_query(
                    tantivy.Query.term_query(self.schema, column + PHRASES, term), boost
                )
                for column, boost in zip(COLUMNS, BOOSTS, strict=True)
            ]
        return [
            tantivy.Query.boost_query(self._field_query(column, tokens, alternative.prefix), boost)
            for column, boost in zip(COLUMNS, BOOSTS, strict=True)
        ]

    def _field_query(self, column: str, tokens: list[str], prefix: bool) -> tantivy.Query:
        if prefix and len(tokens) == 1 and len(tokens[0]) <= PREFIX_TERM_CHARS:
            # a regex over the term dictionary: every term with the prefix (a phrase prefix
            # query stops at 50 of them; a long prefix has few, and would overflow a regex)
            return tantivy.Query.regex_query(self.schema, column, re.escape(tokens[0]) + ".*")
        if prefix:
            return tantivy.Query.phrase_prefix_query(
                self.schema, column, list[str | tuple[int, str]](tokens)
            )
        if len(tokens) == 1:
            return tantivy.Query.term_query(self.schema, column, tokens[0])
        return tantivy.Query.phrase_query(self.schema, column, list[str | tuple[int, str]](tokens))

    def filter_query(
        self,
        facet_ids: Iterable[tuple[str, Sequence[int]]],
        from_year: int | None,
        to_year: int | None,
    ) -> list[tantivy.Query]:
        """Return the queries every selected entry matches: each chosen facet value (any of
        its ids) and a period overlapping the years. They score nothing: a hit's score is its
        text's, whatever narrows the search."""
        filters = []
        for facet, ids in facet_ids:
            field = facet_field(facet)
            filters.append(
                tantivy.Query.term_set_query(self.schema, field, list(ids))
                if ids
                else tantivy.Query.empty_query()
            )
        integer = tantivy.FieldType.Integer
        if from_year is not None:
            filters.append(
                tantivy.Query.range_query(self.schema, "end_year", integer, lower_bound=from_year)
            )
        if to_year is not None:
            filters.append(
                tantivy.Query.range_query(self.schema, "start_year", integer, upper_bound=to_year)
            )
        return [tantivy.Query.const_score_query(f, 0.0) for f in filters]


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _other_spellings(term: Term, compounds: Mapping[str, str]) -> list[list[str]]:
    """The other spellings of a known compound: parts for a joined word, joined for parts."""
    joined = "".join(term.words)
    if joined not in compounds:
        return []
    if len(term.words) == 1:
        return [compounds[joined].split()]
    return [[joined]]


def combine(text: tantivy.Query | None, filters: list[tantivy.Query]) -> tantivy.Query:
    """Return the query of ``text`` (None: every entry) narrowed by ``filters``."""
    clauses = [(tantivy.Occur.Must, q) for q in ([text] if text is not None else []) + filters]
    if not clauses:
        return tantivy.Query.all_query()
    if len(clauses) == 1:
        return clauses[0][1]
    return tantivy.Query.boolean_query(clauses)


def aggregations(facets: Sequence[str], values: int, *, years: bool = True) -> dict[str, Any]:
    """Return the aggregation request of facet counts (``values`` per facet) and year bounds."""
    request: dict[str, Any] = {}
    if years:
        request["start_year"] = {"min": {"field": "start_year"}}
        request["end_year"] = {"max": {"field": "end_year"}}
    for facet in facets:
        # segment_size: every value of a segment is counted, so the counts are exact
        # whatever the number of segments (tantivy's default keeps 10 × size per segment)
        request[facet] = {
            "terms": {"field": facet_field(facet), "size": values, "segment_size": 65_000}
        }
    return request


def marked(text: str, ranges: Iterable[tuple[int, int]], open_: str, close: str) -> str:
    """Return ``text`` with ``open_``…``close`` around the UTF-8 byte ``ranges``.

    >>> marked("café au lait", [(0, 5), (9, 13)], "[", "]")
    '[café] au [lait]'
    """
    data = text.encode()
    pieces, last = [], 0
    for start, end in sorted(ranges):
        if start < last:
            continue
        pieces += [data[last:start], open_.encode(), data[start:end], close.encode()]
        last = end
    pieces.append(data[last:])
    return b"".join(pieces).decode(errors="replace")
