"""``/dumps/`` and ``/releases/``: the whole knowledge graph as files to download.

``GET /dumps/`` lists the dumps (HTML for browsers, JSON by negotiation or ``?format=json``);
``GET /dumps/<name>`` serves one, as a file read from disk: strong ``ETag`` (its SHA-256),
``Last-Modified``, ``Content-Length``, ``Accept-Ranges: bytes`` with ``206``/``416`` for range
requests (``If-Range`` honoured) and ``304`` for ``If-None-Match`` / ``If-Modified-Since``.
``.gz`` files are served as ``application/gzip``, plain ones with their RDF media type. The
dumps (:class:`cokg.dumps.DumpCache`) live in ``DUMPS_DIR`` (``cokg serve``: ``DATA_DIR/dumps``;
unset: a temporary folder), are built in the background on the first request, and again after a
write through the app or when the store changed behind the app's back (checked at most every
``DUMPS_CHECK_SECONDS``). A request waits up to ``DUMPS_WAIT_SECONDS`` for a build, then gets
the previous version, or 503 with ``Retry-After`` while the first build runs.

``GET /releases/`` lists the releases made with ``cokg release`` in ``RELEASES_DIR``
(``cokg serve``: ``DATA_DIR/releases``); ``/releases/<version>/`` lists one release's files and
``/releases/<version>/<file>`` serves them like the dumps, cacheable for ever (releases never
change).
"""

from __future__ import annotations

import json
import re
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import werkzeug.utils
from flask import Blueprint, Response, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import BadRequest
from werkzeug.http import parse_range_header

from cokg.describe import LICENSE
from cokg.dumps import DumpCache, DumpFile, DumpsNotReady
from cokg.errors import NotFound
from cokg.release import BadVersion, Release, list_releases, read_release

from .negotiation import HTML, choose, not_acceptable
from .resources import conditional_environ
from .state import WriteEvent, cokg_state

dumps = Blueprint("dumps", __name__)

EXTENSION = "cokg.dumps"
JSON = "application/json"
GZIP = "application/gzip"
IMMUTABLE = "public, max-age=31536000, immutable"
_METADATA_TYPES = {
    ".cff": "application/yaml",
    ".bib": "application/x-bibtex",
    ".json": JSON,
    ".ttl": "text/turtle",
}


class DumpService:
    """The app's dumps (a :class:`~cokg.dumps.DumpCache`) and its releases folder."""

    def __init__(self, app: Any) -> None:
        state = app.extensions["cokg"]
        folder = app.config.get("DUMPS_DIR")
        if folder:
            directory = Path(str(folder))
        else:
            directory = Path(tempfile.mkdtemp(prefix="cokg-dumps-"))
            weakref.finalize(self, _remove, directory)
        self.wait = float(app.config.get("DUMPS_WAIT_SECONDS", 10))
        self.cache = DumpCache(
            directory,
            state.store,
            base_iri=state.base_iri,
            check_every=float(app.config.get("DUMPS_CHECK_SECONDS", 60)),
        )
        releases = app.config.get("RELEASES_DIR")
        self.releases_dir = Path(str(releases)) if releases else None
        self.base_iri = state.base_iri
        state.on_write.append(self.on_write)

    def on_write(self, event: WriteEvent) -> None:
        """A write went through the app: the next download rebuilds the dumps."""
        self.cache.invalidate()

    def releases(self) -> list[Release]:
        """Return the releases, newest first (none without ``RELEASES_DIR``)."""
        if self.releases_dir is None:
            return []
        return list_releases(self.releases_dir, base_iri=self.base_iri)

    def release(self, version: str) -> Release:
        """Return release ``version``; raises :class:`~cokg.errors.NotFound`."""
        if self.releases_dir is None:
            raise NotFound(f"no release {version}")
        try:
            return read_release(self.releases_dir, version, base_iri=self.base_iri)
        except BadVersion:
            raise NotFound(f"no release {version[:80]!r}") from None


def _remove(directory: Path) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


@dumps.record_once
def _setup(setup: BlueprintSetupState) -> None:
    setup.app.extensions[EXTENSION] = DumpService(setup.app)


def dump_service() -> DumpService:
    """Return the dump service of the app handling the current request."""
    service = current_app.extensions[EXTENSION]
    if not isinstance(service, DumpService):
        raise TypeError(f"app.extensions[{EXTENSION!r}] is not a DumpService")
    return service


def current_dumps() -> list[DumpFile]:
    """Return the dumps of the store the current app serves.

    A build that is needed starts; the answer waits for it up to ``DUMPS_WAIT_SECONDS``, then
    is the previous version, or an empty list while the first build is still running.
    """
    service = dump_service()
    try:
        return service.cache.files(wait=service.wait)
    except DumpsNotReady:
        return []


@dataclass(frozen=True)
class ReleaseLink:
    """A release as pages show it: where it is, its date, its citation and its files."""

    version: str
    issued: str
    href: str
    iri: str
    citation: str
    files: list[tuple[str, str]]


def current_releases() -> list[ReleaseLink]:
    """Return the releases the current app serves, newest first, ready for a page."""
    return [_link(release) for release in dump_service().releases()]


def _link(release: Release) -> ReleaseLink:
    href = f"{request.script_root}/releases/{release.version}/"
    files = [
        ("CITATION.cff", href + "CITATION.cff"),
        ("BibTeX", href + "citation.bib"),
        ("DataCite JSON", href + "datacite.json"),
        ("VoID", href + "void.ttl"),
        ("Turtle (gzip)", href + "cokg.ttl.gz"),
    ]
    return ReleaseLink(
        release.version, release.issued.isoformat(), href, release.iri, release.citation(), files
    )


def _root() -> str:
    return request.host_url.rstrip("/") + request.script_root


def _listing_type() -> str:
    """The listing's media type: ``?format=json|html`` (anything else: 400), else ``Accept``."""
    requested = request.args.get("format")
    if requested is not None:
        by_name = {"json": JSON, "html": HTML, JSON: JSON, HTML: HTML}
        if requested.strip().lower() not in by_name:
            raise BadRequest(f"unknown format {requested[:80]!r}; use one of: html, json")
        return by_name[requested.strip().lower()]
    offered = [HTML, JSON]
    chosen = choose(offered)
    if chosen is None:
        raise not_acceptable(offered)
    return chosen


def _file_json(item: DumpFile, url: str) -> dict[str, Any]:
    return {**item.to_json(), "url": url, "format": item.format_label}


def _json_response(document: dict[str, Any]) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, 200, mimetype=JSON)
    response.headers["Vary"] = "Accept"
    _link_license(response)
    return response


def _html_response(template: str, **context: Any) -> Response:
    response = Response(render_template(template, **context), 200, mimetype=HTML)
    response.headers["Vary"] = "Accept"
    _link_license(response)
    return response


def _link_license(response: Response) -> None:
    links = [f'<{LICENSE}>; rel="license"', f'<{_root()}/.well-known/void>; rel="describedby"']
    response.headers.add("Link", ", ".join(links))


@dumps.get("/dumps/")
def dump_listing() -> Response:
    """List the dumps: name, title, format, size, SHA-256 and link."""
    chosen = _listing_type()
    service = dump_service()
    files = service.cache.files(wait=service.wait)
    base = f"{_root()}/dumps/"
    if chosen == JSON:
        return _json_response(
            {
                "dataset": cokg_state().base_iri + "dataset",
                "license": LICENSE,
                "description": _root() + "/.well-known/void",
                "files": [_file_json(f, base + f.name) for f in files],
            }
        )
    return _html_response(
        "dumps.html",
        files=files,
        rows=_rows(files, f"{request.script_root}/dumps/"),
        license=LICENSE,
        releases=current_releases(),
        nav="dumps",
    )


def _rows(files: Sequence[DumpFile], base: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "href": base + f.name,
            "title": f.title,
            "format": f.format_label,
            "size": human_size(f.byte_size),
            "bytes": f.byte_size,
            "sha256": f.sha256,
            "statements": f.statements,
        }
        for f in files
    ]


@dumps.get("/dumps/<name>")
def dump_file(name: str) -> Response:
    """Serve one dump file (conditional and range requests answered)."""
    service = dump_service()
    item, path = service.cache.file(name, wait=service.wait)
    response = _send(path, item, item.modified)
    response.headers["Cache-Control"] = "public, no-cache"
    return response


def _send(path: Path, item: DumpFile | None, modified: datetime, name: str = "") -> Response:
    name = item.name if item is not None else name
    if item is not None:
        mimetype = GZIP if item.compressed else item.media_type
        etag = item.sha256
    else:
        mimetype = _METADATA_TYPES.get(Path(name).suffix, "application/octet-stream")
        etag = _digest(path)
    try:
        response: Response = werkzeug.utils.send_file(  # type: ignore[assignment]
            path,
            _range_environ(conditional_environ(etag, modified), path.stat().st_size),
            mimetype=mimetype,
            as_attachment=item is not None and item.compressed,
            download_name=name,
            conditional=True,
            etag=etag,
            last_modified=modified,
            max_age=current_app.get_send_file_max_age,
            response_class=current_app.response_class,
            use_x_sendfile=bool(current_app.config["USE_X_SENDFILE"]),
        )
    except FileNotFoundError:
        raise NotFound(f"no file {name}") from None
    _link_license(response)
    return response


_EMPTY_SUFFIX = re.compile(r"\s*bytes\s*=\s*-0+\s*")


def _range_environ(environ: dict[str, Any], size: int) -> dict[str, Any]:
    """Return ``environ`` with its ``Range`` header as RFC 9110 §14 wants it answered.

    Werkzeug answers 416 to every ``Range`` it cannot serve as one range; but a server must
    ignore a range unit it does not know and may ignore a malformed or multi-range header
    (then the whole file, 200), and a suffix longer than the file means the whole file
    (206). ``If-Range`` with a weak entity tag never matches (strong comparison, §13.1.5):
    the whole file. ``bytes=-0`` (an empty suffix) is left to werkzeug: 416.
    """
    header = environ.get("HTTP_RANGE")
    if header is None or _EMPTY_SUFFIX.fullmatch(header):
        return environ
    parsed = parse_range_header(header)
    if_range = environ.get("HTTP_IF_RANGE", "").lstrip()
    if (
        parsed is None
        or parsed.units != "bytes"
        or len(parsed.ranges) != 1
        or if_range.startswith(("W/", "w/"))
    ):
        return {key: value for key, value in environ.items() if key != "HTTP_RANGE"}
    start, stop = parsed.ranges[0]
    if start < 0 and stop is None and -start > size:
        return {**environ, "HTTP_RANGE": "bytes=0-"}
    return environ


def _digest(path: Path) -> str:
    import hashlib

    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dumps.get("/releases/")
def release_listing() -> Response:
    """List the releases, newest first."""
    chosen = _listing_type()
    releases = dump_service().releases()
    if chosen == JSON:
        return _json_response(
            {
                "releases": [
                    {
                        "version": r.version,
                        "issued": r.issued.isoformat(),
                        "iri": r.iri,
                        "url": f"{_root()}/releases/{r.version}/",
                        "previous": r.previous,
                        "citation": r.citation(),
                    }
                    for r in releases
                ]
            }
        )
    return _html_response(
        "releases.html", releases=[_link(r) for r in releases], release=None, nav="dumps"
    )


@dumps.get("/releases/<version>/")
def release_page(version: str) -> Response:
    """List one release: its citation and its files."""
    release = dump_service().release(version)
    chosen = _listing_type()
    base = f"{_root()}/releases/{release.version}/"
    if chosen == JSON:
        return _json_response(
            {
                "version": release.version,
                "issued": release.issued.isoformat(),
                "iri": release.iri,
                "previous": release.previous,
                "citation": release.citation(),
                "files": [_file_json(f, base + f.name) for f in release.files],
                "metadata": {n: base + n for n in release.file_names()[len(release.files) :]},
            }
        )
    response = _html_response(
        "releases.html",
        releases=[],
        release=_link(release),
        previous=release.previous,
        rows=_rows(release.files, f"{request.script_root}/releases/{release.version}/"),
        metadata=release.file_names()[len(release.files) :],
        nav="dumps",
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@dumps.get("/releases/<version>/<name>")
def release_file(version: str, name: str) -> Response:
    """Serve one file of a release, cacheable for ever."""
    release = dump_service().release(version)
    if name not in release.file_names():
        raise NotFound(f"release {release.version} has no file {name[:80]!r}")
    item = next((f for f in release.files if f.name == name), None)
    modified = datetime.combine(release.issued, datetime.min.time(), tzinfo=UTC)
    if item is not None:
        modified = item.modified
    response = _send(release.directory / name, item, modified, name)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def human_size(size: int) -> str:
    """Return a byte count as people read it.

    >>> human_size(999), human_size(1536), human_size(5_000_000)
    ('999 bytes', '1.5 kB', '5.0 MB')
    """
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} bytes"  # pragma: no cover - the loop always returns


__all__ = [
    "DumpService",
    "ReleaseLink",
    "current_dumps",
    "current_releases",
    "dump_service",
    "dumps",
]
