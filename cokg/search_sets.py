"""The entry sets of the search index, in memory: which entries hold each term and facet value.

Facet counts over a broad selection (a quarter to nine tenths of 100 000 entries) took 25–60 ms
as tantivy ``terms`` aggregations, whose cost is per matching document. :class:`MatchSets`
holds, as numpy arrays, the entries of every index term (a word of any text field, as
analysed, or a known compound's parts as a phrase), the entries of every facet value, and
every entry's years. A selection (text, facet values, years) is then a boolean mask over the
entry ids (made as bits: :class:`_BitRows`), its facet counts the popcounts of rows of bits and
one sparse product (:class:`_Counter`), its year bounds the first selected entries in two year
orders: a few milliseconds at 100 000 entries.

The sets answer exactly what tantivy matches: words, prefixes (every term that starts with
the prefix, as the regex over tantivy's term dictionary) and the phrases of compounds known
when the index was last built (their entries are recorded at indexing time). Any other
phrase, or a phrase used as a prefix, is not answered (:meth:`MatchSets.select` returns None)
and the caller counts with tantivy. The SQLite table ``entry_sets`` keeps each entry's term
ids and facet value ids so that the sets load without reading the store or the text again.

>>> sets = MatchSets.empty(["keyword"])
>>> jury = Value(0, "jury", "http://example.org/jury", "Jury")
>>> sets.add(1, {"citizen": 1, "juri": 2}, [1, 2], [7], {7: jury}, (2012, 2032))
>>> sets.add(2, {"citizen": 1}, [1], [8], {8: jury._replace(key="other")}, (2018, 2018))
>>> from cokg.search_text import Alternative, Group
>>> mask = sets.select([Group(False, (Alternative(("citizen",)),))], [], 2014, 2016)
>>> int(mask.sum()), sets.counts(mask, 10), sets.years(mask)
(1, [('keyword', 7, 1)], (2012, 2032))
"""

from __future__ import annotations

import bisect
import itertools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse

from cokg.search_text import PREFIX_TERM_CHARS, Alternative, Group

Mask = npt.NDArray[np.bool_]
_Ids = npt.NDArray[np.int32]
Bits = npt.NDArray[np.uint64]
"""A set of entries as bits: entry i is bit i % 64 of word i // 64."""

NO_START = int(np.iinfo(np.int32).max)
"""The start year of an entry without one: no ``start ≤ to`` holds."""
NO_END = int(np.iinfo(np.int32).min)
"""The end year of an entry without one: no ``end ≥ from`` holds."""
_MERGE_AT = 50_000
"""Entries' pairs added since the arrays were sorted; past this many they are merged."""


class Value(NamedTuple):
    """A facet value: its facet's place in :attr:`MatchSets.facets`, key, IRI and label."""

    facet: int
    key: str
    iri: str
    label: str


def pack(ids: Iterable[int]) -> bytes:
    """Return ``ids`` as the bytes stored in ``entry_sets`` (sorted little-endian uint32)."""
    return np.array(sorted(set(ids)), dtype="<u4").tobytes()


def unpack(data: bytes) -> _Ids:
    """Return the ids stored by :func:`pack`."""
    return np.frombuffer(data, dtype="<u4").astype(np.int32)


class _Pairs:
    """(key, entry) pairs sorted by key, for the entries of a key; plus pairs added since."""

    def __init__(self, keys: _Ids, entries: _Ids) -> None:
        order = np.argsort(keys, kind="stable")  # entries stay in id order within a key
        self.keys = keys[order]
        self.entries = entries[order]
        self.size = int(self.keys[-1]) + 1 if len(self.keys) else 0
        self.bounds = np.searchsorted(self.keys, np.arange(self.size + 1)).astype(np.intp)
        present = np.flatnonzero(np.diff(self.bounds))
        self.present = present.astype(np.intp)  # keys with at least one entry, in order
        self.starts = self.bounds[present]
        self.added: dict[int, list[int]] = {}
        self.added_count = 0

    def of(self, key: int) -> _Ids:
        """The entries of ``key`` (those added since included; maybe removed ones too)."""
        base = self.entries[self.bounds[key] : self.bounds[key + 1]] if key < self.size else None
        added = self.added.get(key)
        if not added:
            return base if base is not None else np.empty(0, np.int32)
        extra = np.array(added, dtype=np.int32)
        return extra if base is None else np.concatenate([base, extra])

    def add(self, entry: int, keys: Iterable[int]) -> None:
        """Record that ``entry`` has ``keys``."""
        for key in keys:
            self.added.setdefault(key, []).append(entry)
            self.added_count += 1

    def added_pairs(self) -> tuple[_Ids, _Ids]:
        """The keys and entries added since the arrays were sorted."""
        keys = [key for key, entries in self.added.items() for _ in entries]
        entries = [entry for added in self.added.values() for entry in added]
        return np.array(keys, dtype=np.int32), np.array(entries, dtype=np.int32)

    def merged(self) -> _Pairs:
        """These pairs with the added ones sorted in (the same when none were added)."""
        if not self.added:
            return self
        keys, entries = self.added_pairs()
        return _Pairs(np.concatenate([self.keys, keys]), np.concatenate([self.entries, entries]))


def bits_of(entries: _Ids, words: int) -> Bits:
    """Return ``entries`` (each below ``words * 64``) as ``words`` words of bits."""
    row = np.zeros(words * 64, dtype=np.bool_)
    row[entries] = True
    return np.packbits(row, bitorder="little").view(np.uint64)


def packed(mask: Mask, words: int) -> Bits:
    """Return the first ``words * 64`` places of ``mask`` as bits (padded if it is shorter)."""
    padded = np.zeros(words * 64, dtype=np.bool_)
    padded[: min(len(mask), len(padded))] = mask[: len(padded)]
    return np.packbits(padded, bitorder="little").view(np.uint64)


class _BitRows:
    """The entries of the keys (terms or facet values) that many entries hold, as bits.

    A selection ANDs and ORs these rows rather than setting the entries of each key in a mask:
    a word in nine entries of ten is 364 KB of ids at 100 000 entries (and as much again made
    into numpy's index type) but 12.5 KB of bits. A key gets a row when at least one entry in
    32 holds it, so the rows take at most the memory of the ids they stand for.
    """

    def __init__(self, pairs: _Pairs, words: int) -> None:
        self.words = words
        least = max(64, words * 64 // 32)
        held = np.zeros(max(pairs.size, max(pairs.added, default=-1) + 1), dtype=np.intp)
        held[: pairs.size] = np.diff(pairs.bounds)
        for key, added in pairs.added.items():
            held[key] += len(added)
        self.rows: dict[int, Bits] = {
            key: bits_of(pairs.of(key), words) for key in np.flatnonzero(held >= least).tolist()
        }

    def add(self, entry: int, keys: Iterable[int]) -> None:
        """Record that ``entry`` (below ``words * 64``) has ``keys``."""
        word, bit = divmod(entry, 64)
        for key in keys:
            row = self.rows.get(key)
            if row is not None:
                row[word] |= np.uint64(1 << bit)


class _Tier(NamedTuple):
    """Some of a facet's values as rows of a sparse matrix of values by entries."""

    matrix: scipy.sparse.csr_array
    """Row i: the entries of value ``ids[i]`` (sorted, each once), as ones."""
    ids: npt.NDArray[np.intp]
    longest: int
    """The most entries a value of the tier has: the most any can count."""
    before: npt.NDArray[np.intp]
    """The facet's values counted before this tier: its bit rows' and the earlier tiers'."""


def _rows_of(matrix: scipy.sparse.csr_array, first: int, last: int) -> scipy.sparse.csr_array:
    """Rows ``first`` to ``last`` (excluded) of ``matrix``, sharing its pairs' arrays.

    A slice copies them, and so does the constructor, of a view into a much larger array
    (scipy's ``_prune_array``): the views are set after it.
    """
    bounds = matrix.indptr[first : last + 1]
    start, stop = int(bounds[0]), int(bounds[-1])
    data, indices = matrix.data[start:stop], matrix.indices[start:stop]
    rows = scipy.sparse.csr_array(
        (data, indices, bounds - start), shape=(last - first, matrix.shape[1])
    )
    rows.data, rows.indices = data, indices
    return rows


TIERS = 4
"""The parts into which each facet's rarer values are cut for counting, by their number of
entries (each part about the same number of pairs)."""
PRUNE_SHARE = 0.25
"""The share of the entries a selection must hold for its counts to skip the values that
cannot reach a facet's list (:meth:`_Counter.count`); below it, few can be skipped, and one
product of all the tiers costs less than looking (at 100 000 entries with cold caches, one
product took 1.3-1.4 ms at any share, the tiers with skips 1.4-1.8 ms below a fifth of the
entries, 1.2-1.3 ms at 30-40 %, 0.8 ms at 90 %)."""


class _Counter:
    """The (value, entry) pairs arranged to count a selection: the values of many entries as
    bit rows (AND, popcount), the others as sparse matrices of values by entries (products
    with the selection: scipy's compiled loop over the pairs).

    A value of at least one entry in 64 costs less as a row of bits (one bit per entry) than
    as its pairs; the approach and document type values, and the common keywords, are such.
    The others are kept by facet (``facet_of``: each value id's place in the facets, -1 for
    none), the values of most entries first, in :data:`TIERS` matrices: a tier whose values
    cannot reach the facet's list need not be counted.
    """

    def __init__(self, pairs: _Pairs, entries: int, facet_of: npt.NDArray[np.intp]) -> None:
        self.words = -(-entries // 64)
        per_key = np.diff(pairs.bounds)
        dense = per_key >= max(64, entries // 64)
        self.dense_keys = np.flatnonzero(dense).astype(np.intp)
        bits = np.zeros((len(self.dense_keys), self.words * 64), dtype=np.bool_)
        for row, key in enumerate(self.dense_keys):
            bits[row, pairs.entries[pairs.bounds[key] : pairs.bounds[key + 1]]] = True
        self.rows = np.packbits(bits, axis=1, bitorder="little").view(np.uint64)
        sparse = ~dense[pairs.keys] if len(pairs.keys) else np.zeros(0, dtype=np.bool_)
        keys, columns = pairs.keys[sparse], pairs.entries[sparse]
        size = int(keys[-1]) + 1 if len(keys) else 0
        bounds = np.searchsorted(keys, np.arange(size + 1))
        per_row = np.diff(bounds)
        present = np.flatnonzero(per_row).astype(np.intp)
        lengths = per_row[present]
        self.columns = max(entries, int(columns.max()) + 1 if len(columns) else 0)
        # A row's count is at most its length: 16-bit sums when every row is shorter than
        # 2**15 (the rows are the values of fewer than max(64, entries // 64) entries), half
        # the memory a product reads.
        longest = int(lengths.max()) if len(lengths) else 0
        self.dtype: type[np.signedinteger[Any]] = np.int16 if longest < 2**15 else np.int32
        # Row i: the entries of value present[i] (sorted, each once), as ones.
        matrix = scipy.sparse.csr_array(
            (
                np.ones(len(columns), dtype=self.dtype),
                columns.astype(np.int32),
                np.append(bounds[present], len(columns)).astype(np.int32),
            ),
            shape=(len(present), self.columns),
        )
        facets = np.full(len(present), -1, dtype=np.intp)
        known = present < len(facet_of)
        facets[known] = facet_of[present[known]]
        dense_facets = np.full(len(self.dense_keys), -1, dtype=np.intp)
        known = self.dense_keys < len(facet_of)
        dense_facets[known] = facet_of[self.dense_keys[known]]
        # The rows in the tiers' order (facet by facet, most entries first), each tier a range
        # of the rows of one matrix: counted alone when tiers may be skipped, all in one
        # product when none can be (one call instead of one a tier: 0.27 ms less with cold
        # caches at 100 000 entries).
        order: list[npt.NDArray[np.intp]] = []
        ranges: list[tuple[int, int, int]] = []  # facet, first row, last row (excluded)
        placed = 0
        for facet in np.unique(facets).tolist():
            rows = np.flatnonzero(facets == facet)
            rows = rows[np.argsort(-lengths[rows], kind="stable")]  # most entries first
            held = np.cumsum(lengths[rows])
            cuts = {0, len(rows)} | {
                int(np.searchsorted(held, held[-1] * part / TIERS)) + 1 for part in range(1, TIERS)
            }
            for first, last in itertools.pairwise(sorted(cut for cut in cuts if cut <= len(rows))):
                ranges.append((int(facet), placed + first, placed + last))
            order.append(rows)
            placed += len(rows)
        rows = np.concatenate(order) if order else np.zeros(0, dtype=np.intp)
        self.matrix = matrix[rows]
        self.ids = present[rows]
        """The value of each row of :attr:`matrix`."""
        self.tiers: dict[int, list[_Tier]] = {}
        for facet, first, last in ranges:
            earlier = self.tiers.setdefault(facet, [])
            before = (
                np.concatenate([earlier[-1].before, earlier[-1].ids])
                if earlier
                else self.dense_keys[dense_facets == facet]
            )
            ids = self.ids[first:last]
            tier = _Tier(_rows_of(self.matrix, first, last), ids, int(lengths[rows[first]]), before)
            earlier.append(tier)

    def count(
        self,
        mask: Mask,
        counts: npt.NDArray[np.int32],
        bits: Bits | None = None,
        *,
        shown: int | None = None,
    ) -> None:
        """Add to ``counts`` (by value id) how many entries of ``mask`` have each value
        (``bits``: the same entries as bits, when at hand).

        With ``shown``, a facet's values that cannot be among its ``shown`` most frequent are
        left uncounted (at 0, or at what ``counts`` held): once the ``shown``-th count of its
        values counted so far is above the most entries any value of the next tier has, that
        tier and those after it are skipped (their values count less than ``shown`` others).
        """
        if len(self.dense_keys):
            if bits is None or len(bits) != self.words:
                bits = packed(mask, self.words)
            ones = np.bitwise_count(self.rows & bits).sum(axis=1, dtype=np.int32)
            counts[self.dense_keys] += ones
        if not self.tiers:
            return
        selected = np.zeros(self.columns, dtype=self.dtype)
        kept = min(len(mask), self.columns)
        selected[:kept] = mask[:kept]
        if shown is None:  # every value counted: one product
            product = self.matrix @ selected
            counts[self.ids] += cast("npt.NDArray[np.int32]", product)
            return
        for facet, tiers in self.tiers.items():
            for tier in tiers:
                if facet >= 0 and len(tier.before) >= shown:
                    so_far = counts[tier.before]
                    least = -np.partition(-so_far, shown - 1)[shown - 1]
                    if tier.longest < least:
                        break  # no value of this tier or after it can reach the list
                product = tier.matrix @ selected  # a vector (the stubs type it as maybe a matrix)
                counts[tier.ids] += cast("npt.NDArray[np.int32]", product)


class Selected(NamedTuple):
    """A selection's entries (:meth:`MatchSets.selection`)."""

    mask: Mask
    size: int
    """How many entries the mask holds."""
    ranked_matches: int
    """How many entries hold any word of the text's groups (not excluded), what
    :meth:`cokg.search_text.TextIndex.ranking_query` matches: the selection is among them."""
    bits: Bits | None
    """The mask as bits (None when the years narrowed it after, entry by entry)."""


MOST_YEAR_ROWS = 512
"""Distinct start and end years beyond which a selection's years are compared entry by entry
rather than taken from rows of bits (:class:`_YearRows`)."""


class _YearRows:
    """The entries by year as bits: for each start year, the entries that start then or
    before; for each end year, those that end then or after (at 100 000 entries with 26 start
    and 36 end years, 0.8 MB, made in a few milliseconds). A range of years is then two ANDs,
    not two comparisons of every entry's years, and the selection stays in bits."""

    def __init__(self, start: _Ids, end: _Ids, words: int) -> None:
        self.words = words
        self.starts = np.unique(start[start != NO_START])
        self.ends = np.unique(end[end != NO_END])
        self.usable = len(self.starts) + len(self.ends) <= MOST_YEAR_ROWS
        self._none = np.zeros(words, dtype=np.uint64)
        self._starting: list[Bits] = []
        self._ending: list[Bits] = []
        if self.usable:
            self._starting = [packed(start <= year, words) for year in self.starts.tolist()]
            self._ending = [packed(end >= year, words) for year in self.ends.tolist()]

    def starting(self, year: int) -> Bits:
        """The entries that start in ``year`` or before."""
        place = int(np.searchsorted(self.starts, year, side="right")) - 1
        return self._none if place < 0 else self._starting[place]

    def ending(self, year: int) -> Bits:
        """The entries that end in ``year`` or after."""
        place = int(np.searchsorted(self.ends, year, side="left"))
        return self._none if place == len(self.ends) else self._ending[place]


class _Rows(NamedTuple):
    """The bit rows of the common terms and facet values (:class:`_BitRows`)."""

    terms: _BitRows
    values: _BitRows


class MatchSets:
    """The index's entries as sets: per term, per facet value, and their years.

    Build it from the SQLite tables (:meth:`load`) or empty (:meth:`empty`), keep it in step
    with :meth:`add` and :meth:`remove`, select with :meth:`select`, count with
    :meth:`counts` and :meth:`years`. Not thread-safe: the index calls it under its lock.
    """

    def __init__(
        self,
        facets: Sequence[str],
        terms: Mapping[str, int],
        phrases: Iterable[str],
        term_pairs: _Pairs,
        value_pairs: _Pairs,
        values: Mapping[int, Value],
        years: Mapping[int, tuple[int | None, int | None]],
    ) -> None:
        self.facets = tuple(facets)
        self.terms = dict(terms)
        self.phrases = frozenset(phrases)
        """The phrases whose entries were all recorded (compounds known at the last build)."""
        self.values: dict[int, Value] = {}
        """Each facet value by id: its facet's place in ``facets``, key, IRI and label."""
        self._words: list[str] | None = None
        self._term_pairs = term_pairs
        self._value_pairs = value_pairs
        self._counter: _Counter | None = None
        self._by_facet: list[npt.NDArray[np.intp]] | None = None
        self._by_year: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None
        self._by_label: list[npt.NDArray[np.intp]] | None = None
        self._years: _YearRows | None = None
        self._rows: _Rows | None = None
        self._alive_bits: Bits | None = None
        self._alive_count: int | None = None
        self._value_size = 0
        self._set_values(values)
        size = max(years, default=0) + 1
        self._alive = np.zeros(size, dtype=np.bool_)
        self._start = np.full(size, NO_START, dtype=np.int32)
        self._end = np.full(size, NO_END, dtype=np.int32)
        for entry, (start, end) in years.items():
            self._set_years(entry, start, end)

    @classmethod
    def empty(cls, facets: Sequence[str]) -> MatchSets:
        """Return the sets of an empty index."""
        nothing = np.empty(0, dtype=np.int32)
        return cls(facets, {}, (), _Pairs(nothing, nothing), _Pairs(nothing, nothing), {}, {})

    @classmethod
    def load(
        cls, db: sqlite3.Connection, facets: Sequence[str], phrases: Iterable[str]
    ) -> MatchSets:
        """Read the sets from the index's SQLite tables (``entry_sets``, ``terms``…)."""
        terms = {
            str(term): int(term_id) for term_id, term in db.execute("SELECT id, term FROM terms")
        }
        rows = db.execute("SELECT entry_id, terms, facet_values FROM entry_sets").fetchall()
        entry_ids = np.array([row[0] for row in rows], dtype=np.int32)
        term_ids = [unpack(row[1]) for row in rows]
        value_ids = [unpack(row[2]) for row in rows]

        def pairs(ids: list[_Ids]) -> _Pairs:
            if not ids:
                return _Pairs(np.empty(0, np.int32), np.empty(0, np.int32))
            lengths = np.array([len(i) for i in ids], dtype=np.intp)
            return _Pairs(np.concatenate(ids), np.repeat(entry_ids, lengths))

        index = {name: i for i, name in enumerate(facets)}
        values = {
            int(value_id): Value(index[facet], key, iri, label)
            for value_id, facet, key, iri, label in db.execute(
                "SELECT id, facet, key, iri, label FROM facet_values"
            )
            if facet in index
        }
        years = {
            int(entry): (start, end)
            for entry, start, end in db.execute("SELECT id, start_year, end_year FROM entries")
        }
        sets = cls(facets, terms, phrases, pairs(term_ids), pairs(value_ids), values, years)
        sets._bit_rows()
        return sets

    # -- keeping in step ------------------------------------------------------------------

    def add(
        self,
        entry: int,
        terms: Mapping[str, int],
        term_ids: Iterable[int],
        value_ids: Iterable[int],
        values: Mapping[int, Value],
        years: tuple[int | None, int | None],
    ) -> None:
        """Add ``entry`` with its terms (``terms`` maps any new term to its id), facet values
        (``values`` describes them, new or renamed ones included) and years."""
        if any(term not in self.terms for term in terms):
            self.terms.update(terms)
            self._words = None
        self._set_values(values)
        self._set_years(entry, *years)  # first: the arrays and bit rows grow to hold entry
        term_ids, value_ids = list(term_ids), list(value_ids)
        self._term_pairs.add(entry, term_ids)
        self._value_pairs.add(entry, value_ids)
        if self._rows is not None:
            self._rows.terms.add(entry, term_ids)
            self._rows.values.add(entry, value_ids)
        if self._value_pairs.added_count + self._term_pairs.added_count > _MERGE_AT:
            self._term_pairs = self._term_pairs.merged()
            self._value_pairs = self._value_pairs.merged()
            self._counter = None
            self._rows = None

    def remove(self, entry: int) -> None:
        """Remove ``entry`` (its pairs stay, masked out: entry ids are never reused)."""
        if entry < len(self._alive):
            self._alive[entry] = False
            self._alive_bits = self._alive_count = None

    def _set_years(self, entry: int, start: int | None, end: int | None) -> None:
        self._by_year = None
        self._alive_bits = self._alive_count = None
        self._years = None
        if entry >= len(self._alive):
            self._rows = None
            grow = max(entry + 1, 2 * len(self._alive)) - len(self._alive)
            self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=np.bool_)])
            self._start = np.concatenate([self._start, np.full(grow, NO_START, dtype=np.int32)])
            self._end = np.concatenate([self._end, np.full(grow, NO_END, dtype=np.int32)])
        self._alive[entry] = True
        self._start[entry] = NO_START if start is None else start
        self._end[entry] = NO_END if end is None else end

    def _set_values(self, values: Mapping[int, Value]) -> None:
        if any(value not in self.values for value in values):
            self._by_facet = None
            self._value_size = max(self._value_size, max(values) + 1)
        if any(self.values.get(value_id) != value for value_id, value in values.items()):
            self._by_label = None
        self.values.update(values)

    # -- selecting ------------------------------------------------------------------------

    def select(
        self,
        groups: Sequence[Group],
        chosen: Sequence[tuple[str, Sequence[int]]],
        from_year: int | None,
        to_year: int | None,
    ) -> Mask | None:
        """Return the mask of the entries matching ``groups`` (analysed text, see
        :meth:`cokg.search_text.TextIndex.analysed`), each chosen facet value (any of its
        ids) and a period overlapping the years; None when the text holds a phrase whose
        entries are not recorded (the caller asks tantivy)."""
        found = self.selection(groups, chosen, from_year, to_year)
        return None if found is None else found.mask

    def selection(
        self,
        groups: Sequence[Group],
        chosen: Sequence[tuple[str, Sequence[int]]],
        from_year: int | None,
        to_year: int | None,
    ) -> Selected | None:
        """Return :meth:`select`'s mask, with how many entries it holds and how many hold any
        word of the text (:attr:`Selected.ranked_matches`).

        Selected as bits (:class:`_BitRows`, or the entries of a rare key set in a row; the
        years from :class:`_YearRows`, or compared entry by entry past too many distinct
        years), then unpacked to a mask.
        """
        rows = self._bit_rows()
        words = rows.terms.words
        if self._alive_bits is None:
            self._alive_bits = packed(self._alive, words)
        bits = self._alive_bits.copy()
        anywhere = np.zeros(words, dtype=np.uint64)  # the entries with any word
        for group in groups:
            either = np.zeros(words, dtype=np.uint64)
            for alternative in group.alternatives:
                found = self._matches(alternative, rows)
                if found is None:
                    return None
                either = either | found
            if group.excluded:
                bits &= ~either
            else:
                bits &= either
                anywhere |= either
        ranked_matches = _ones(anywhere & self._alive_bits)
        for _, ids in chosen:
            either = np.zeros(words, dtype=np.uint64)
            for value in ids:
                row = rows.values.rows.get(value)
                either |= bits_of(self._value_pairs.of(value), words) if row is None else row
            bits &= either
        if from_year is not None or to_year is not None:
            if self._years is None or self._years.words != words:
                self._years = _YearRows(self._start, self._end, words)
            if self._years.usable:
                if from_year is not None:
                    bits &= self._years.ending(from_year)
                if to_year is not None:
                    bits &= self._years.starting(to_year)
                from_year = to_year = None
        unpacked = np.unpackbits(bits.view(np.uint8), count=len(self._alive), bitorder="little")
        mask: Mask = unpacked.view(np.bool_)
        if from_year is None and to_year is None:
            return Selected(mask, _ones(bits), ranked_matches, bits)
        if from_year is not None:
            mask &= self._end >= from_year
        if to_year is not None:
            mask &= self._start <= to_year
        return Selected(mask, int(np.count_nonzero(mask)), ranked_matches, None)

    def _bit_rows(self) -> _Rows:
        """The bit rows, made again when the entries outgrew them or pairs were merged."""
        words = -(-len(self._alive) // 64)
        if self._rows is None or self._rows.terms.words != words:
            self._rows = _Rows(
                _BitRows(self._term_pairs, words), _BitRows(self._value_pairs, words)
            )
        return self._rows

    def _matches(self, alternative: Alternative, rows: _Rows) -> Bits | None:
        """The entries of one alternative as bits (None: see :meth:`_entries`)."""
        tokens = alternative.tokens
        if (
            tokens
            and not alternative.prefix
            and (len(tokens) == 1 or " ".join(tokens) in self.phrases)
        ):
            term_id = self.terms.get(" ".join(tokens))
            row = None if term_id is None else rows.terms.rows.get(term_id)
            if row is not None:
                return row
        entries = self._entries(alternative)
        return None if entries is None else bits_of(entries, rows.terms.words)

    def _entries(self, alternative: Alternative) -> _Ids | None:
        """The entries (maybe removed ones too) of one alternative, as tantivy matches it."""
        tokens = alternative.tokens
        if not tokens:
            return np.empty(0, np.int32)
        if alternative.prefix:
            if len(tokens) > 1 or len(tokens[0]) > PREFIX_TERM_CHARS:
                return None  # tantivy's phrase prefix query (at most 50 expansions)
            ids = [self.terms[word] for word in self._starting_with(tokens[0])]
            found = [self._term_pairs.of(i) for i in ids]
            return np.concatenate(found) if found else np.empty(0, np.int32)
        key = " ".join(tokens)
        if len(tokens) > 1 and key not in self.phrases:
            return None
        term_id = self.terms.get(key)
        return np.empty(0, np.int32) if term_id is None else self._term_pairs.of(term_id)

    def _starting_with(self, prefix: str) -> list[str]:
        """The words (not phrases) of the index that start with ``prefix``, as a regex
        ``prefix.*`` over tantivy's term dictionary finds them."""
        if self._words is None:
            self._words = sorted(term for term in self.terms if " " not in term)
        words = self._words
        found = []
        for place in range(bisect.bisect_left(words, prefix), len(words)):
            if not words[place].startswith(prefix):
                break
            found.append(words[place])
        return found

    # -- counting -------------------------------------------------------------------------

    def counts(
        self,
        mask: Mask,
        per_facet: int,
        *,
        shown: int | None = None,
        bits: Bits | None = None,
        size: int | None = None,
    ) -> list[tuple[str, int, int]]:
        """Return (facet, value id, entries in ``mask``) of each facet's ``per_facet`` most
        frequent values in the selection (those with at least one); with ``shown``, only the
        ``shown`` most frequent, ties broken by label (case-folded) as a SPARQL ``ORDER BY
        DESC(?count) ?label`` would, in that order. ``bits``: the mask as bits, and ``size``:
        how many entries it holds, when at hand (:class:`Selected`)."""
        pairs = self._value_pairs
        if self._counter is None:
            facet_of = np.full(max(pairs.size, self._value_size), -1, dtype=np.intp)
            for value_id, value in self.values.items():
                facet_of[value_id] = value.facet
            self._counter = _Counter(pairs, len(self._alive), facet_of)
        counts = np.zeros(max(pairs.size, self._value_size), dtype=np.int32)
        # The values that cannot reach a list are skipped only for a broad selection, and
        # while no pairs were added since the matrices were made (those the skip cannot see).
        if size is None:
            size = int(np.count_nonzero(mask))
        if self._alive_count is None:
            self._alive_count = int(np.count_nonzero(self._alive))
        broad = size >= PRUNE_SHARE * self._alive_count
        skip = shown if shown is not None and broad and not pairs.added else None
        self._counter.count(mask, counts, bits, shown=skip)
        if pairs.added:
            keys, entries = pairs.added_pairs()
            np.add.at(counts, keys[mask[entries]], 1)
        counted: list[tuple[str, int, int]] = []
        if shown is not None:
            for facet, ids in zip(self.facets, self._values_by_label(), strict=True):
                found = counts[ids]
                if len(found) > shown:  # the values counted at least as often as the shown-th
                    # (selected among the negated counts: numpy's partition near the end of an
                    # array of many equal small counts took 0.5 ms instead of 0.03)
                    least = -np.partition(-found, shown - 1)[shown - 1]
                    present = np.flatnonzero(found >= max(int(least), 1))
                else:
                    present = np.flatnonzero(found)
                # the most frequent first, ties in the order of labels (a stable sort)
                present = present[np.argsort(-found[present], kind="stable")[:shown]]
                counted += zip(
                    [facet] * len(present),
                    ids[present].tolist(),
                    found[present].tolist(),
                    strict=True,
                )
            return counted
        for facet, ids in zip(self.facets, self._values_by_facet(), strict=True):
            found = counts[ids]
            present = np.flatnonzero(found)
            if len(present) > per_facet:
                present = present[np.argpartition(-found[present], per_facet - 1)[:per_facet]]
            counted += zip(
                [facet] * len(present), ids[present].tolist(), found[present].tolist(), strict=True
            )
        return counted

    def _values_by_label(self) -> list[npt.NDArray[np.intp]]:
        """The ids of each facet's values in the order of their labels (case-folded; then
        IRIs), in the order of ``facets``."""
        if self._by_label is None:
            values = self.values
            ids: list[list[int]] = [[] for _ in self.facets]
            for value_id in sorted(
                values, key=lambda v: (values[v].label.casefold(), values[v].iri)
            ):
                ids[values[value_id].facet].append(value_id)
            self._by_label = [np.array(i, dtype=np.intp) for i in ids]
        return self._by_label

    def _values_by_facet(self) -> list[npt.NDArray[np.intp]]:
        """The ids of each facet's values, in the order of ``facets``."""
        if self._by_facet is None:
            ids: list[list[int]] = [[] for _ in self.facets]
            for value_id, value in self.values.items():
                ids[value.facet].append(value_id)
            self._by_facet = [np.array(sorted(i), dtype=np.intp) for i in ids]
        return self._by_facet

    def years(self, mask: Mask) -> tuple[int, int] | None:
        """The earliest start and latest end year of the entries in ``mask`` (None: no years)."""
        if self._by_year is None:  # entries by start year, and by end year latest first
            self._by_year = (
                np.argsort(self._start, kind="stable"),
                np.argsort(-self._end.astype(np.int64), kind="stable"),
            )
        by_start, by_end = self._by_year
        first, last = _first_in(mask, by_start), _first_in(mask, by_end)
        if first is None or last is None:
            return None
        start, end = int(self._start[first]), int(self._end[last])
        if start == NO_START or end == NO_END:
            return None
        return start, end


def _ones(bits: Bits) -> int:
    """How many bits are set."""
    return int(np.bitwise_count(bits).sum())


def _first_in(mask: Mask, order: npt.NDArray[np.intp]) -> int | None:
    """The first entry of ``order`` in ``mask`` (None: none is).

    Looked for in growing slices of ``order``: a selection of any size has an entry near the
    start (a tenth of the entries: among the first few dozen), so a search reads a few KB of
    ``order`` rather than all of it (800 KB at 100 000 entries, and the mask gathered in its
    order), which the caches of a busy server would not hold.
    """
    start, step = 0, 1024
    while start < len(order):
        chunk = mask[order[start : start + step]]
        place = int(np.argmax(chunk))
        if chunk[place]:
            return int(order[start + place])
        start, step = start + step, step * 4
    return None
