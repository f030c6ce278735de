"""Releases: frozen, versioned, citable copies of the knowledge graph.

:func:`make_release` freezes the store into ``RELEASES/VERSION/``: the dumps
(:func:`cokg.dumps.write_dumps`), the release's own VoID + DCAT description (``void.ttl``,
:func:`cokg.void.dataset_turtle`, with ``owl:versionInfo``, ``dcterms:issued`` and
``prov:wasDerivedFrom`` the previous release), a ``CITATION.cff`` (Citation File Format
1.2.0), a BibTeX entry (``citation.bib``), DataCite 4 metadata (``datacite.json``) and a
``release.json`` manifest. A release is written under a temporary name and renamed into place
in one step; an existing version is never written again, and its files are made read-only.

The release's IRI is ``{base}releases/{VERSION}/`` and each file's ``{base}releases/{VERSION}/
{name}``. No DOI is minted, so the metadata names none; the authors, publisher and licence are
what the project states (the ontology's ``dcterms:creator``, CC BY 4.0).

>>> check_version("1.0.0"), check_version("2026-11-26")
('1.0.0', '2026-11-26')
>>> check_version("../etc")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cokg.release.BadVersion: a release version is 1 to 64 letters, digits, dots and hyphens, ...
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cokg.describe import LICENSE
from cokg.dumps import DumpFile, read_manifest, write_dumps
from cokg.errors import CokgError, NotFound
from cokg.store import ReadableStore

LICENSE_SPDX = "CC-BY-4.0"
LICENSE_NAME = "Creative Commons Attribution 4.0 International"
RELEASE_MANIFEST = "release.json"
CITATION_FILES = ("CITATION.cff", "citation.bib", "datacite.json", "void.ttl")
"""The metadata files of a release, beside its dumps and ``manifest.json``."""

_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,63}")


class BadVersion(CokgError):
    """A release version that is not a safe, simple name."""

    status = 400


class ReleaseExists(CokgError):
    """The release version exists already: releases are immutable."""

    status = 409


def check_version(version: str) -> str:
    """Return ``version`` if it is a valid release name; raise :class:`BadVersion` otherwise.

    A version is 1 to 64 letters, digits, dots and hyphens, starting with a letter or a digit
    and without ``..`` (a semantic version or a date), so it is safe in a path and in an IRI.
    """
    if not _VERSION.fullmatch(version) or ".." in version:
        raise BadVersion(
            "a release version is 1 to 64 letters, digits, dots and hyphens, starting with a "
            f"letter or digit, with no '..' (not {version[:80]!r})"
        )
    return version


def release_iri(base_iri: str, version: str) -> str:
    """Return the IRI of release ``version``.

    >>> release_iri("https://w3id.org/coprod/", "1.0.0")
    'https://w3id.org/coprod/releases/1.0.0/'
    """
    return f"{base_iri}releases/{check_version(version)}/"


@dataclass(frozen=True)
class Release:
    """A release on disk: its version, date, the release it follows and its dump files."""

    version: str
    issued: date
    previous: str | None
    """The version of the release it follows, if any."""
    base_iri: str
    directory: Path
    files: tuple[DumpFile, ...]

    @property
    def iri(self) -> str:
        """The release's IRI, ``{base}releases/{version}/``."""
        return release_iri(self.base_iri, self.version)

    def file_names(self) -> list[str]:
        """Return every file of the release: the dumps, then the metadata files."""
        return [f.name for f in self.files] + [*CITATION_FILES, "manifest.json", RELEASE_MANIFEST]

    def citation(self) -> str:
        """Return the release's citation as plain text.

        >>> release = Release("1.0.0", date(2026, 11, 26), None, "https://e.org/", Path("."), ())
        >>> text = release.citation()
        >>> text[:60]
        'cokg contributors (2026). The co-production knowledge base ('
        >>> text[60:]
        'Version 1.0.0) [Data set]. Released 2026-11-26. https://e.org/releases/1.0.0/'
        """
        return (
            f"{_creator()} ({self.issued.year}). {_title()} (Version {self.version}) [Data set]. "
            f"Released {self.issued.isoformat()}. {self.iri}"
        )


def _title() -> str:
    from cokg.void import TITLE

    return TITLE


def _description() -> str:
    from cokg.void import DESCRIPTION

    return DESCRIPTION


def _creator() -> str:
    from cokg.void import PUBLISHER_NAME

    return PUBLISHER_NAME


def citation_cff(release: Release) -> str:
    """Return the release's ``CITATION.cff`` (CFF 1.2.0, YAML; strings JSON-quoted)."""
    q = _quoted
    lines = [
        "cff-version: 1.2.0",
        f"message: {q('If you use this dataset, please cite this release as below.')}",
        "type: dataset",
        f"title: {q(_title())}",
        f"version: {q(release.version)}",
        f"date-released: {q(release.issued.isoformat())}",
        "authors:",
        f"  - name: {q(_creator())}",
        f"license: {LICENSE_SPDX}",
        f"url: {q(release.iri)}",
        "identifiers:",
        "  - type: url",
        f"    value: {q(release.iri)}",
        f"    description: {q(f'Release {release.version} of the knowledge base')}",
        f"abstract: {q(_description())}",
        "keywords:",
        *(f"  - {q(k)}" for k in ("co-production", "linked data", "knowledge graph")),
    ]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    """Return ``text`` as a double-quoted YAML scalar (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def citation_bibtex(release: Release) -> str:
    """Return the release's BibTeX entry (``@misc``, which every BibTeX style knows)."""
    key = "cokg-" + re.sub(r"[^0-9A-Za-z]+", "-", release.version).strip("-")
    fields = {
        "author": "{" + _bibtex(_creator()) + "}",
        "title": _bibtex(_title()),
        "year": str(release.issued.year),
        "version": _bibtex(release.version),
        "date": release.issued.isoformat(),
        "howpublished": r"\url{" + release.iri + "}",
        "url": release.iri,
        "note": _bibtex(
            f"Dataset, version {release.version}, released {release.issued.isoformat()}. "
            "Licence: CC BY 4.0"
        ),
    }
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
    return f"@misc{{{key},\n{body}\n}}\n"


def _bibtex(text: str) -> str:
    """Escape the characters that BibTeX and LaTeX treat specially."""
    for char in "\\{}%&$#_":
        text = text.replace(char, "\\" + char)
    return text


def datacite_json(release: Release) -> dict[str, Any]:
    """Return the release's DataCite Metadata Schema 4 record (the REST API's JSON attributes).

    No DOI has been minted for a release, so the record names none: the release is
    identified by its URL.
    """
    related: list[dict[str, str]] = [
        {
            "relatedIdentifier": release.base_iri + "dataset",
            "relatedIdentifierType": "URL",
            "relationType": "IsVersionOf",
        }
    ]
    if release.previous:
        related.append(
            {
                "relatedIdentifier": release_iri(release.base_iri, release.previous),
                "relatedIdentifierType": "URL",
                "relationType": "IsNewVersionOf",
            }
        )
    return {
        "schemaVersion": "http://datacite.org/schema/kernel-4",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Knowledge graph"},
        "creators": [{"name": _creator(), "nameType": "Organizational"}],
        "titles": [{"title": _title(), "lang": "en"}],
        "publisher": {"name": _creator()},
        "publicationYear": str(release.issued.year),
        "version": release.version,
        "dates": [{"date": release.issued.isoformat(), "dateType": "Issued"}],
        "descriptions": [{"description": _description(), "descriptionType": "Abstract"}],
        "rightsList": [
            {
                "rights": LICENSE_NAME,
                "rightsUri": LICENSE,
                "rightsIdentifier": LICENSE_SPDX.lower(),
                "rightsIdentifierScheme": "SPDX",
            }
        ],
        "url": release.iri,
        "formats": sorted({f.media_type for f in release.files}),
        "sizes": [f"{f.byte_size} bytes ({f.name})" for f in release.files],
        "relatedIdentifiers": related,
    }


def list_releases(directory: Path, *, base_iri: str) -> list[Release]:
    """Return the releases in ``directory``, newest first (by date, then version).

    Folders that are not complete releases (no manifest) are left out.
    """
    found = []
    if directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir() and _VERSION.fullmatch(child.name) and ".." not in child.name:
                try:
                    found.append(read_release(directory, child.name, base_iri=base_iri))
                except CokgError:
                    continue
    return sorted(found, key=lambda r: (r.issued, r.version), reverse=True)


def read_release(directory: Path, version: str, *, base_iri: str) -> Release:
    """Return release ``version`` from ``directory``.

    Raises :class:`~cokg.errors.NotFound` when there is no such release and
    :class:`BadVersion` for a version that is not a valid name.
    """
    folder = directory / check_version(version)
    try:
        record = json.loads((folder / RELEASE_MANIFEST).read_text(encoding="utf-8"))
        _, files = read_manifest(folder)
        return Release(
            version=version,
            issued=date.fromisoformat(str(record["issued"])),
            previous=record.get("previous"),
            base_iri=base_iri,
            directory=folder,
            files=tuple(files),
        )
    except FileNotFoundError:
        raise NotFound(f"no release {version}") from None
    except NotFound:
        raise NotFound(f"no release {version}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CokgError(f"release {version} cannot be read: {e}") from e


def make_release(
    store: ReadableStore,
    directory: Path,
    version: str,
    *,
    base_iri: str,
    issued: date | None = None,
    previous: str | None = None,
    progress: bool = False,
) -> Release:
    """Freeze ``store`` into release ``version`` under ``directory`` and return it.

    ``issued`` defaults to today (UTC); ``previous`` (a version that must exist) to the newest
    release already there. Raises :class:`BadVersion` for a bad name, :class:`ReleaseExists`
    when the version exists (nothing is changed), :class:`~cokg.errors.NotFound` for an
    unknown ``previous``.
    """
    check_version(version)
    target = directory / version
    if target.exists():
        raise ReleaseExists(
            f"release {version} exists already in {directory}; releases never change"
        )
    if previous is not None:
        read_release(directory, previous, base_iri=base_iri)
    else:
        existing = list_releases(directory, base_iri=base_iri)
        previous = existing[0].version if existing else None
    when = issued or datetime.now(UTC).date()
    directory.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".building-{version}-", dir=directory))
    try:
        files = write_dumps(store, building, base_iri=base_iri, progress=progress)
        release = Release(version, when, previous, base_iri, target, tuple(files))
        _write_metadata(store, release, building)
        for child in building.iterdir():
            child.chmod(0o444)
        building.chmod(0o755)
        try:
            os.rename(building, target)  # fails when the version appeared meanwhile
        except OSError as e:
            raise ReleaseExists(f"release {version} exists already in {directory}") from e
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return release


def _write_metadata(store: ReadableStore, release: Release, folder: Path) -> None:
    from cokg.void import dataset_turtle

    previous = release_iri(release.base_iri, release.previous) if release.previous else None
    void = dataset_turtle(
        store,
        base_iri=release.base_iri,
        distributions=list(release.files),
        version=release.version,
        issued=release.issued,
        previous=previous,
    )
    (folder / "void.ttl").write_bytes(void)
    (folder / "CITATION.cff").write_text(citation_cff(release), encoding="utf-8")
    (folder / "citation.bib").write_text(citation_bibtex(release), encoding="utf-8")
    datacite = json.dumps(datacite_json(release), ensure_ascii=False, indent=2) + "\n"
    (folder / "datacite.json").write_text(datacite, encoding="utf-8")
    record = {
        "version": release.version,
        "issued": release.issued.isoformat(),
        "previous": release.previous,
        "iri": release.iri,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
    (folder / RELEASE_MANIFEST).write_text(text, encoding="utf-8")


def default_releases_dir(data_dir: Path | None = None) -> Path:
    """Return ``DATA_DIR/releases``; ``DATA_DIR`` defaults to ``$XDG_DATA_HOME/cokg``.

    (``~/.local/share/cokg`` without ``XDG_DATA_HOME``, as ``cokg serve``.)
    """
    if data_dir is None:
        xdg = os.environ.get("XDG_DATA_HOME")
        data_dir = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "cokg"
    return data_dir / "releases"


__all__ = [
    "CITATION_FILES",
    "BadVersion",
    "Release",
    "ReleaseExists",
    "check_version",
    "citation_bibtex",
    "citation_cff",
    "datacite_json",
    "default_releases_dir",
    "list_releases",
    "make_release",
    "read_release",
    "release_iri",
]
