"""The embedded store ``cokg serve`` uses when no ``--store`` is given.

It lives in ``DATA_DIR/store`` with the fingerprint of the shipped knowledge base it holds in
``DATA_DIR/store.fingerprint``. The first run creates and loads it; later runs reuse it; when the
shipped data (or the base IRI) changed, the knowledge base is loaded into a fresh folder that
then replaces the old one, so a crash mid-load never leaves a half-loaded store in place.
A lock file keeps two ``cokg serve`` processes off the same folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

from cokg.errors import StoreUnavailable
from cokg.load import knowledge_base_fingerprint, load_knowledge_base
from cokg.store import OxigraphStore

log = logging.getLogger("cokg.serve")

STORE_NAME = "store"
FINGERPRINT_NAME = "store.fingerprint"
LOCK_NAME = "lock"
_LOADING_PREFIX = "store.loading-"
_OLD_PREFIX = "store.old-"


def default_data_dir() -> Path:
    """Return ``$XDG_DATA_HOME/cokg``, or ``~/.local/share/cokg``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "cokg"


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Create ``data_dir`` and take its lock; keep the returned file open to hold it.

    Raises :class:`~cokg.errors.StoreUnavailable` when another process holds it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_NAME).open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreUnavailable(
            f"another cokg serve is using {data_dir}; stop it or pass another --data-dir"
        ) from None
    return handle


def prepare_embedded_store(data_dir: Path, *, base_iri: str) -> Path:
    """Return the folder of an on-disk store holding the shipped knowledge base.

    Reuses ``data_dir/store`` when its recorded fingerprint matches the shipped data;
    otherwise loads the knowledge base into a fresh folder and swaps it in. The caller holds
    the lock (:func:`lock_data_dir`).
    """
    store_dir = data_dir / STORE_NAME
    fingerprint_file = data_dir / FINGERPRINT_NAME
    _remove_leftovers(data_dir)
    wanted = knowledge_base_fingerprint(base_iri=base_iri)
    if store_dir.is_dir() and _read_fingerprint(fingerprint_file) == wanted:
        log.info("reusing the embedded store %s", store_dir)
        return store_dir

    reason = "the shipped data changed" if store_dir.exists() else "first run"
    log.info("loading the shipped knowledge base into %s (%s)", store_dir, reason)
    began = time.monotonic()
    fresh = Path(tempfile.mkdtemp(prefix=_LOADING_PREFIX, dir=data_dir))
    quads = _load_into(fresh, base_iri=base_iri)
    old = data_dir / f"{_OLD_PREFIX}{uuid.uuid4().hex}"
    if store_dir.exists():
        store_dir.rename(old)
    fresh.rename(store_dir)
    _write_atomically(fingerprint_file, wanted + "\n")
    _sync_folder(data_dir)
    shutil.rmtree(old, ignore_errors=True)
    log.info("loaded %d quads in %.1f s", quads, time.monotonic() - began)
    return store_dir


def _load_into(folder: Path, *, base_iri: str) -> int:
    """Load the knowledge base into a new store at ``folder`` and close it again."""
    store = OxigraphStore(folder)
    load_knowledge_base(store, base_iri=base_iri, progress=sys.stderr.isatty())
    quads = store.count()
    store.close()
    # pyoxigraph releases the folder (and its lock) when the last reference goes.
    del store
    return quads


def _read_fingerprint(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_leftovers(data_dir: Path) -> None:
    """Remove folders a crashed load or swap left behind."""
    for child in data_dir.iterdir():
        if child.is_dir() and child.name.startswith((_LOADING_PREFIX, _OLD_PREFIX)):
            log.info("removing %s, left over from an interrupted load", child)
            shutil.rmtree(child, ignore_errors=True)
