"""A bounded cache of rendered resource pages, emptied by every write.

A resource page costs a round trip to the engine and a few milliseconds of Python; the same
page asked for again, while the store has not changed, is the same bytes. The cache keeps
rendered pages, least recently used first out, within ``PAGE_CACHE_BYTES`` (0 turns it off).

A cached page is never older than the store, as far as the server can know:

- every write through the app (SPARQL Update, Graph Store Protocol) empties the cache before
  its answer is sent (the ``on_write`` hook of :class:`.state.CokgState`);
- a store on disk (the embedded store at a path, or the folder behind the engine, the
  ``STORE_LOCATION`` setting): the key holds the time of its last write
  (:func:`.resources.last_change`), which every writer, in any process, moves forward, so a
  write by another process is seen at the next request;
- a store in memory: a write that does not go through the app is seen through
  :func:`cokg.store.store_fingerprint` (the graph list and the store's size), read in a
  background thread at most every ``PAGE_CACHE_CHECK_SECONDS`` (a reading another cache took
  recently is shared): when it differs, the cache is emptied (a write that keeps the graph
  list and the size, such as a changed literal, goes unseen there);
- a remote endpoint without ``STORE_LOCATION``: others may write it, and nothing tells when
  they did, so its pages are not cached;
- a page whose data was read before the cache was emptied is not stored (generations);
  nothing is stored before the first fingerprint reading is known.

The cache also holds the labels of the properties pages show (:meth:`PageCache.property_labels`):
they are the same for every page, so a page asks the engine only for those it has not seen yet.
They are kept for one version of the store (its last write time) and emptied with the pages,
by the same rules, even when ``PAGE_CACHE_BYTES`` is 0 for a store on disk (its version then
still tells of every write); a store in memory with the page cache off keeps none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from cokg.store import ReadableStore, store_fingerprint

log = logging.getLogger("cokg.server")


@dataclass(frozen=True)
class CachedPage:
    """A rendered page: its body, its entity tag and its ``Link`` header."""

    body: bytes
    tag: str
    link: str


class PageCache:
    """Rendered pages by key, within ``max_bytes``, emptied when the store changes.

    ``max_bytes`` 0 keeps nothing. A key is whatever names one rendering (the URL, the store's
    last write time); see the module docstring for when the cache is emptied. ``check_every``
    None reads no fingerprint: for a store whose last write time, in the keys, tells of
    every write.
    """

    def __init__(self, store: ReadableStore, *, max_bytes: int, check_every: float | None) -> None:
        self.max_bytes = max_bytes
        self.check_every = check_every
        self._store = store
        self._lock = threading.Lock()
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._bytes = 0
        self._generation = 0
        # no checks (None): the keys hold the time of the store's last write, which every
        # writer changes (a store on disk), so no fingerprint is needed
        self._version: str | None = None if check_every is not None else ""
        self._checked = float("-inf")
        self._checker: threading.Thread | None = None
        self._terms_version: Hashable = None
        self._terms: dict[str, str | None] = {}

    @property
    def enabled(self) -> bool:
        """Tell whether the cache keeps anything."""
        return self.max_bytes > 0

    def generation(self) -> int:
        """Return the current generation: read it before the data of a page to :meth:`put`."""
        self._check_soon()
        return self._generation

    def get(self, key: Hashable) -> CachedPage | None:
        """Return the page stored under ``key``, or None."""
        if not self.enabled:
            return None
        self._check_soon()
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: CachedPage, generation: int) -> None:
        """Store ``page`` under ``key`` unless the cache was emptied since ``generation``."""
        size = len(page.body) + len(page.link) + 200
        if not self.enabled or size > self.max_bytes:
            return
        with self._lock:
            if generation != self._generation or self._version is None:
                return
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body) + len(old.link) + 200
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body) + len(dropped.link) + 200

    def property_labels(self, version: Hashable) -> dict[str, str | None] | None:
        """Return the labels of properties known for the store's ``version``, or None.

        A property without a label maps to None. None (no mapping at all) when labels cannot be
        kept: the version does not tell of every write (a store in memory whose fingerprint is
        not read, the page cache being off) or is unknown (None).
        """
        if version is None or self._version is None:
            return None
        with self._lock:
            return dict(self._terms) if self._terms_version == version else {}

    def add_property_labels(
        self, version: Hashable, labels: dict[str, str | None], generation: int
    ) -> None:
        """Keep ``labels`` (None: no label) for ``version`` unless the cache was emptied since
        ``generation`` (read before the labels were)."""
        with self._lock:
            if generation != self._generation or self._version is None or version is None:
                return
            if self._terms_version != version:
                self._terms_version = version
                self._terms = {}
            self._terms.update(labels)

    def invalidate(self, _event: object = None) -> None:
        """Empty the cache; pages being rendered now are not stored."""
        with self._lock:
            self._generation += 1
            self._pages.clear()
            self._bytes = 0
            self._terms.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def check_now(self) -> None:
        """Read the store's fingerprint now and empty the cache if it changed (tests)."""
        self._checked = time.monotonic()
        self._check(max_age=0.0)

    def _check_soon(self) -> None:
        """Start a background check when the last one is ``check_every`` seconds old."""
        every = self.check_every
        if not self.enabled or every is None:
            return
        now = time.monotonic()
        if now - self._checked < every:
            return
        with self._lock:
            if now - self._checked < every:
                return
            if self._checker is not None and self._checker.is_alive():
                return
            self._checked = now
            self._checker = threading.Thread(
                target=self._check,
                kwargs={"max_age": every},
                name="cokg-page-cache-check",
                daemon=True,
            )
            self._checker.start()

    def _check(self, *, max_age: float) -> None:
        try:
            version = store_fingerprint(self._store, max_age=max_age)
        except Exception:
            log.exception("checking the page cache against the store failed")
            return
        with self._lock:
            if version != self._version:
                self._version = version
                self._generation += 1
                self._pages.clear()
                self._bytes = 0
                self._terms.clear()
