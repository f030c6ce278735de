"""cokg.release and `cokg release`: frozen, immutable, citable versions of the knowledge graph."""

from __future__ import annotations

import json
import re
import warnings
from datetime import date
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner

from cokg.cli import main
from cokg.dumps import dump_names
from cokg.errors import NotFound
from cokg.load import open_knowledge_base
from cokg.release import (
    BadVersion,
    ReleaseExists,
    list_releases,
    make_release,
    read_release,
)
from cokg.store import OxigraphStore

BASE = "https://w3id.org/coprod/"
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
OWL = rdflib.OWL
DCTERMS = rdflib.DCTERMS


@pytest.fixture(scope="module")
def store() -> OxigraphStore:
    return open_knowledge_base()


@pytest.fixture(scope="module")
def releases(store: OxigraphStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("releases")
    make_release(store, folder, "1.0.0", base_iri=BASE, issued=date(2026, 11, 20))
    make_release(store, folder, "1.1.0", base_iri=BASE, issued=date(2026, 11, 26))
    return folder


def cff_fields(text: str) -> dict[str, str]:
    """Read the top-level ``key: value`` lines of a CITATION.cff (values are JSON scalars)."""
    fields = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z-]+): (.+)", line)
        if match:
            value = match.group(2)
            fields[match.group(1)] = json.loads(value) if value.startswith('"') else value
    return fields


def test_a_release_holds_every_dump_and_its_citation_files(releases: Path) -> None:
    folder = releases / "1.1.0"
    names = {p.name for p in folder.iterdir()}
    assert set(dump_names()) <= names
    assert {"CITATION.cff", "citation.bib", "datacite.json", "void.ttl", "manifest.json"} <= names
    assert all(not p.stat().st_mode & 0o222 for p in folder.iterdir())  # read-only


def test_the_citation_files_name_the_version_and_the_date(releases: Path) -> None:
    folder = releases / "1.1.0"
    cff = (folder / "CITATION.cff").read_text(encoding="utf-8")
    fields = cff_fields(cff)
    assert fields["cff-version"] == "1.2.0"
    assert fields["version"] == "1.1.0"
    assert fields["date-released"] == "2026-11-26"
    assert fields["license"] == "CC-BY-4.0"
    assert fields["url"] == BASE + "releases/1.1.0/"
    assert '  - name: "cokg contributors"' in cff.splitlines()
    assert "doi" not in cff.lower()

    bib = (folder / "citation.bib").read_text(encoding="utf-8")
    assert bib.startswith("@misc{cokg-1-1-0,")
    assert "version = {1.1.0}" in bib and "year = {2026}" in bib and "date = {2026-11-26}" in bib

    datacite = json.loads((folder / "datacite.json").read_text(encoding="utf-8"))
    assert datacite["version"] == "1.1.0"
    assert datacite["publicationYear"] == "2026"
    assert datacite["dates"] == [{"date": "2026-11-26", "dateType": "Issued"}]
    assert datacite["types"]["resourceTypeGeneral"] == "Dataset"
    assert "doi" not in json.dumps(datacite).lower()  # no DOI was minted
    relations = {r["relationType"]: r["relatedIdentifier"] for r in datacite["relatedIdentifiers"]}
    assert relations["IsNewVersionOf"] == BASE + "releases/1.0.0/"


def test_the_release_describes_itself_in_void_with_its_version_and_predecessor(
    releases: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = rdflib.Graph().parse(data=(releases / "1.1.0" / "void.ttl").read_bytes())
    release = rdflib.URIRef(BASE + "releases/1.1.0/")
    assert str(graph.value(release, OWL.versionInfo)) == "1.1.0"
    assert str(graph.value(release, DCTERMS.issued)) == "2026-11-26"
    assert graph.value(release, PROV.wasDerivedFrom) == rdflib.URIRef(BASE + "releases/1.0.0/")
    downloads = {str(o) for o in graph.objects(None, rdflib.DCAT.downloadURL)}
    assert BASE + "releases/1.1.0/cokg.ttl.gz" in downloads


def test_releases_are_listed_newest_first_and_read_back(releases: Path) -> None:
    found = list_releases(releases, base_iri=BASE)
    assert [r.version for r in found] == ["1.1.0", "1.0.0"]
    assert found[0].previous == "1.0.0" and found[1].previous is None
    assert read_release(releases, "1.0.0", base_iri=BASE).issued == date(2026, 11, 20)
    with pytest.raises(NotFound):
        read_release(releases, "9.9.9", base_iri=BASE)


def test_releasing_a_version_twice_is_refused_and_changes_nothing(
    store: OxigraphStore, releases: Path
) -> None:
    before = {p.name: p.read_bytes() for p in (releases / "1.0.0").iterdir()}
    with pytest.raises(ReleaseExists, match="exists already"):
        make_release(store, releases, "1.0.0", base_iri=BASE)
    assert {p.name: p.read_bytes() for p in (releases / "1.0.0").iterdir()} == before
    assert not [p for p in releases.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("version", ["", "..", "1..2", "../x", "a/b", ".hidden", "-x", "v 1", "é"])
def test_bad_versions_are_refused(store: OxigraphStore, tmp_path: Path, version: str) -> None:
    with pytest.raises(BadVersion):
        make_release(store, tmp_path, version, base_iri=BASE)
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_an_unknown_previous_release_is_refused(store: OxigraphStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        make_release(store, tmp_path, "2.0.0", base_iri=BASE, previous="1.0.0")


def test_the_command_releases_once_and_exits_2_the_second_time(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["release", "2026-11-26", "--data-dir", str(tmp_path), "--date", "2026-11-26"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "cokg contributors (2026)" in first.stdout and "(Version 2026-11-26)" in first.stdout
    written = tmp_path / "releases" / "2026-11-26"
    assert (written / "cokg.ttl.gz").is_file()
    again = runner.invoke(main, args)
    assert again.exit_code == 2
    assert "exists already" in again.stderr
    bad = runner.invoke(main, ["release", "../up", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "release version" in bad.stderr


def test_the_command_writes_every_dump_into_a_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["dump", "--directory", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert [line.split()[-1] for line in result.stdout.splitlines()] == dump_names()
    assert (tmp_path / "d" / "manifest.json").is_file()
    mixed = CliRunner().invoke(main, ["dump", "--directory", str(tmp_path), "-o", "x.ttl"])
    assert mixed.exit_code == 2


def test_the_command_writes_where_cokg_serve_reads_the_releases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COKG_RELEASES_DIR", str(tmp_path / "shared"))
    result = CliRunner().invoke(main, ["release", "0.1.0", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "shared" / "0.1.0" / "CITATION.cff").is_file()
    assert not (tmp_path / "data" / "releases").exists()
