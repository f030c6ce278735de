"""/dumps/ and /releases/: listings, downloads with checksums, ranges, validators, freshness."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from pyld import jsonld
from rdflib.compare import isomorphic

from cokg.dumps import dump_names
from cokg.load import open_knowledge_base
from cokg.release import make_release
from cokg.server import create_app
from cokg.store import OxigraphStore
from tests.servers import cokg_server

BASE = "https://w3id.org/coprod/"
TOKEN = "dump-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MEDIA_TYPES = {
    "ttl": "text/turtle",
    "nt": "application/n-triples",
    "nq": "application/n-quads",
    "trig": "application/trig",
    "jsonld": "application/ld+json",
}
RDFLIB = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "nq": "nquads", "trig": "trig"}


def make_app(tmp_path: Path, **config: Any) -> Flask:
    settings = {
        "TESTING": True,
        "BASE_IRI": BASE,
        "WRITE_TOKEN": TOKEN,
        "DUMPS_DIR": str(tmp_path / "dumps"),
        "RELEASES_DIR": str(tmp_path / "releases"),
        "DUMPS_WAIT_SECONDS": 300,  # wait for every build: no test depends on timing
        **config,
    }
    app: Flask = create_app(settings, store=open_knowledge_base(base_iri=BASE))
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return make_app(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def get(client: FlaskClient, path: str, **options: Any) -> Any:
    """GET ``path``, read the whole body and close the response (and the file it sent)."""
    response = client.get(path, **options)
    response.get_data()
    response.close()
    return response


def head(client: FlaskClient, path: str, **options: Any) -> Any:
    """HEAD ``path`` and close the response."""
    response = client.head(path, **options)
    response.close()
    return response


def listing(client: FlaskClient) -> dict[str, dict[str, Any]]:
    answer = get(client, "/dumps/", headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return {item["name"]: item for item in answer.get_json()["files"]}


def store_of(app: Flask) -> OxigraphStore:
    store = app.extensions["cokg"].store
    assert isinstance(store, OxigraphStore)
    return store


def statements(data: bytes, extension: str) -> int:
    with warnings.catch_warnings():  # rdflib warns about its own deprecated classes
        warnings.simplefilter("ignore", DeprecationWarning)
        if extension in ("nq", "trig"):
            dataset = rdflib.Dataset()
            dataset.parse(data=data, format=RDFLIB[extension])
            return len(list(dataset.quads((None, None, None, None))))
        return len(rdflib.Graph().parse(data=data, format=RDFLIB[extension]))


def test_the_html_listing_shows_every_file_with_size_and_checksum(client: FlaskClient) -> None:
    page = get(client, "/dumps/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for name, item in listing(client).items():
        assert f'href="/dumps/{name}"' in text
        assert item["sha256"] in text
    assert "Creative Commons Attribution 4.0" in text
    assert 'rel="license"' in page.headers["Link"]


def test_the_json_listing_answers_the_format_parameter_and_unacceptable_is_406(
    client: FlaskClient,
) -> None:
    answer = get(client, "/dumps/?format=json", headers={"Accept": "text/html"})
    document = answer.get_json()
    assert [f["name"] for f in document["files"]] == dump_names()
    assert document["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert document["files"][0]["url"] == "http://localhost/dumps/cokg.ttl"
    assert get(client, "/dumps/", headers={"Accept": "image/png"}).status_code == 406


@pytest.mark.parametrize("listing", ["/dumps/", "/releases/"])
def test_an_unknown_listing_format_is_400_naming_the_offered_ones(
    client: FlaskClient, listing: str
) -> None:
    answer = client.get(listing + "?format=xml", headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert "html, json" in answer.get_data(as_text=True)
    page = client.get(listing + "?format=html", headers={"Accept": "application/json"})
    assert page.status_code == 200 and page.mimetype == "text/html"


@pytest.mark.parametrize("extension", sorted(MEDIA_TYPES))
def test_each_dump_downloads_with_its_checksum_and_holds_the_store(
    app: Flask, client: FlaskClient, extension: str
) -> None:
    files = listing(client)
    name = f"cokg.{extension}"
    answer = get(client, f"/dumps/{name}")
    assert answer.status_code == 200
    assert answer.mimetype == MEDIA_TYPES[extension]
    body = answer.get_data()
    assert hashlib.sha256(body).hexdigest() == files[name]["sha256"]
    assert answer.headers["ETag"] == f'"{files[name]["sha256"]}"'
    assert int(answer.headers["Content-Length"]) == len(body) == files[name]["byteSize"]
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Last-Modified"]
    assert '<https://creativecommons.org/licenses/by/4.0/>; rel="license"' in answer.headers["Link"]
    store = store_of(app)
    expected = store.count()  # the knowledge base has no triple in two graphs
    assert statements(body, extension) == files[name]["statements"] == expected == 1333

    packed = get(client, f"/dumps/{name}.gz")
    assert packed.mimetype == "application/gzip"
    assert f"filename={name}.gz" in packed.headers["Content-Disposition"]
    assert "Content-Encoding" not in packed.headers
    assert gzip.decompress(packed.get_data()) == body
    assert hashlib.sha256(packed.get_data()).hexdigest() == files[f"{name}.gz"]["sha256"]


def test_the_jsonld_dump_expands_with_pyld_and_the_served_context(client: FlaskClient) -> None:
    document = json.loads(get(client, "/dumps/cokg.jsonld").get_data())
    served = get(client, "/context.jsonld").get_json()
    assert document["@context"] == served["@context"]
    expanded = jsonld.to_rdf(
        {"@context": served["@context"], "@graph": document["@graph"]},
        {"format": "application/n-quads"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from_pyld = rdflib.Graph().parse(data=expanded, format="nt")
        from_nt = rdflib.Graph().parse(data=get(client, "/dumps/cokg.nt").get_data(), format="nt")
    assert isomorphic(from_pyld, from_nt)


def test_a_range_request_resumes_a_download(client: FlaskClient) -> None:
    whole = get(client, "/dumps/cokg.nq.gz").get_data()
    etag = head(client, "/dumps/cokg.nq.gz").headers["ETag"]
    first = get(client, "/dumps/cokg.nq.gz", headers={"Range": "bytes=0-999"})
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-999/{len(whole)}"
    rest = get(client, "/dumps/cokg.nq.gz", headers={"Range": "bytes=1000-", "If-Range": etag})
    assert rest.status_code == 206
    assert first.get_data() + rest.get_data() == whole
    stale = get(client, "/dumps/cokg.nq.gz", headers={"Range": "bytes=1000-", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.get_data() == whole
    beyond = get(client, "/dumps/cokg.nq.gz", headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"


def test_conditional_requests_get_304(client: FlaskClient) -> None:
    first = get(client, "/dumps/cokg.ttl")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert get(client, "/dumps/cokg.ttl", headers={"If-None-Match": etag}).status_code == 304
    assert (
        get(client, "/dumps/cokg.ttl", headers={"If-Modified-Since": modified}).status_code == 304
    )
    assert get(client, "/dumps/cokg.ttl", headers={"If-None-Match": '"other"'}).status_code == 200
    headers_only = head(client, "/dumps/cokg.ttl")
    assert headers_only.status_code == 200 and headers_only.get_data() == b""
    assert headers_only.headers["Content-Length"] == first.headers["Content-Length"]


@pytest.mark.parametrize(
    "path",
    [
        "/dumps/nothing.ttl",
        "/dumps/manifest.json",
        "/dumps/current.json",
        "/dumps/..%2Fcurrent.json",
        "/dumps/%2e%2e/current.json",
        "/dumps/cokg.ttl%00",
        "/dumps/cokg.ttl/x",
        "/releases/0.0.1/",
        "/releases/0.0.1/cokg.ttl",
        "/releases/..%2F..%2Fdumps/",
        "/releases/.hidden/cokg.ttl",
    ],
)
def test_unknown_names_are_404_and_never_leave_the_folder(client: FlaskClient, path: str) -> None:
    answer = get(client, path)
    assert answer.status_code == 404, answer.get_data(as_text=True)[:200]


def test_a_write_through_the_app_changes_the_dumps(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    before = listing(client)
    old = get(client, "/dumps/cokg.nt").get_data()
    written = client.put(
        "/rdf-graph-store",
        query_string={"graph": BASE + "graph/extra"},
        data=f'<{BASE}id/person/new> <http://xmlns.com/foaf/0.1/name> "New Person" .',
        content_type="application/n-triples",
        headers=AUTH,
    )
    assert written.status_code in (201, 204)
    after = listing(client)
    assert after["cokg.nt"]["sha256"] != before["cokg.nt"]["sha256"]
    assert after["cokg.nq"]["statements"] == before["cokg.nq"]["statements"] + 1
    new = get(client, "/dumps/cokg.nt").get_data()
    assert b'"New Person"' in new and b'"New Person"' not in old
    assert (
        get(
            client, "/dumps/cokg.nt", headers={"If-None-Match": f'"{before["cokg.nt"]["sha256"]}"'}
        ).status_code
        == 200
    )


def test_a_release_is_byte_identical_and_stays_when_the_live_graph_changes(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    assert "No release" in get(client, "/releases/").get_data(as_text=True)
    make_release(
        store_of(app), tmp_path / "releases", "1.0.0", base_iri=BASE, issued=date(2026, 11, 26)
    )
    listed = get(client, "/releases/", headers={"Accept": "application/json"}).get_json()
    assert [r["version"] for r in listed["releases"]] == ["1.0.0"]
    assert "Version 1.0.0" in get(client, "/releases/").get_data(as_text=True)

    page = get(client, "/releases/1.0.0/", headers={"Accept": "application/json"}).get_json()
    files = {f["name"]: f for f in page["files"]}
    first = get(client, "/releases/1.0.0/cokg.nq.gz")
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashlib.sha256(first.get_data()).hexdigest() == files["cokg.nq.gz"]["sha256"]
    assert get(client, "/releases/1.0.0/cokg.nq.gz").get_data() == first.get_data()

    client.put(
        "/rdf-graph-store",
        query_string={"graph": BASE + "graph/extra"},
        data=f'<{BASE}x> <{BASE}p> "changed" .',
        content_type="application/n-triples",
        headers=AUTH,
    )
    assert listing(client)["cokg.nq.gz"]["sha256"] != files["cokg.nq.gz"]["sha256"]
    assert get(client, "/releases/1.0.0/cokg.nq.gz").get_data() == first.get_data()
    assert b"changed" not in get(client, "/releases/1.0.0/cokg.nt").get_data()

    cff = get(client, "/releases/1.0.0/CITATION.cff").get_data(as_text=True)
    assert 'version: "1.0.0"' in cff and 'date-released: "2026-11-26"' in cff
    bib = get(client, "/releases/1.0.0/citation.bib").get_data(as_text=True)
    assert "version = {1.0.0}" in bib and "year = {2026}" in bib
    html = get(client, "/releases/1.0.0/").get_data(as_text=True)
    assert "Cite this version" in html and "(Version 1.0.0)" in html
    assert get(client, "/releases/1.0.0/release.json").get_json()["issued"] == "2026-11-26"
    assert get(client, "/releases/1.0.0/nothing.ttl").status_code == 404


@pytest.mark.slow
def test_cokg_serve_serves_dumps_and_a_release_made_while_it_runs(tmp_path: Path) -> None:
    """Through `cokg serve` (its own engine, the dumps in COKG_DUMPS_DIR), end to end."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    env = {"COKG_DUMPS_DIR": str(elsewhere)}
    with cokg_server(tmp_path, "--data-dir", str(data), env=env) as url:
        with urllib.request.urlopen(f"{url}/dumps/?format=json", timeout=60) as answer:
            files = {f["name"]: f for f in json.load(answer)["files"]}
        with urllib.request.urlopen(f"{url}/dumps/cokg.nq", timeout=60) as answer:
            body = answer.read()
            assert answer.headers["ETag"] == f'"{files["cokg.nq"]["sha256"]}"'
        assert hashlib.sha256(body).hexdigest() == files["cokg.nq"]["sha256"]
        assert statements(body, "nq") == files["cokg.nq"]["statements"] == 1333
        assert (elsewhere / "current.json").is_file()  # COKG_DUMPS_DIR, not DATA_DIR/dumps
        assert not (data / "dumps").exists()

        env = {k: v for k, v in os.environ.items() if not k.startswith("COKG_")}
        made = subprocess.run(
            [sys.executable, "-m", "cokg", "release", "1.0.0", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        frozen = (data / "releases" / "1.0.0" / "cokg.nq").read_bytes()
        assert statements(frozen, "nq") == 1333
        with urllib.request.urlopen(f"{url}/releases/?format=json", timeout=60) as answer:
            assert [r["version"] for r in json.load(answer)["releases"]] == ["1.0.0"]
        with urllib.request.urlopen(f"{url}/releases/1.0.0/cokg.nq", timeout=60) as answer:
            assert answer.read() == frozen
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
