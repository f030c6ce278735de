"""Last-Modified and If-Modified-Since hold across app instances and processes.

A resource must never answer 304 to ``If-Modified-Since`` after its description changed,
whichever process served the date and whichever process wrote. These tests write through one
app (or process, or straight into the store) and ask another.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from cokg.formats import TURTLE
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.server import create_app
from cokg.server.resources import SETTLE
from cokg.store import OxigraphStore
from tests.servers import cokg_server, oxigraph_server

BASE = DEFAULT_BASE_IRI
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRAPH = BASE + "graph/t"
PERSON = f"<{BASE}id/person/t>"
NAME = "<http://xmlns.com/foaf/0.1/name>"
URLS = ["/data/person/t.ttl", "/page/person/t"]


def settle(dated: Callable[[], bool]) -> None:
    """Wait until the store has been still long enough for a Last-Modified to be sent.

    ``dated`` asks the server and tells whether its answer carried a ``Last-Modified``.
    """
    deadline = time.monotonic() + SETTLE + 30
    while not dated():
        assert time.monotonic() < deadline, "no Last-Modified long after the last write"
        time.sleep(0.1)


def update(name: str) -> str:
    return (
        f"DELETE WHERE {{ GRAPH <{GRAPH}> {{ {PERSON} {NAME} ?n }} }} ;\n"
        f'INSERT DATA {{ GRAPH <{GRAPH}> {{ {PERSON} {NAME} "{name}" }} }}'
    )


def two_apps(store: OxigraphStore) -> tuple[FlaskClient, FlaskClient]:
    settings = {"TESTING": True, "WRITE_TOKEN": TOKEN}
    return (
        create_app(settings, store=store).test_client(),
        create_app(settings, store=store).test_client(),
    )


def write(client: FlaskClient, name: str) -> None:
    response = client.post(
        "/sparql", data=update(name), content_type="application/sparql-update", headers=AUTH
    )
    assert response.status_code in (200, 204), response.data


def test_a_write_through_one_app_is_never_answered_304_by_another() -> None:
    store = OxigraphStore()
    store.replace_graph(GRAPH, f'{PERSON} {NAME} "Before" .', TURTLE)
    writer, reader = two_apps(store)
    for url in URLS:
        first = reader.get(url)
        modified = first.headers["Last-Modified"]
        assert reader.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    dates = {url: reader.get(url).headers["Last-Modified"] for url in URLS}

    write(writer, "After")

    for url in URLS:
        answer = reader.get(url, headers={"If-Modified-Since": dates[url]})
        assert answer.status_code == 200, url
        assert "After" in answer.get_data(as_text=True)
        # within the second of the write, no date a client could hold too long
        assert "Last-Modified" not in answer.headers
    settle(lambda: "Last-Modified" in reader.get(URLS[0]).headers)
    for url in URLS:
        answer = reader.get(url, headers={"If-Modified-Since": dates[url]})
        assert answer.status_code == 200
        later = answer.headers["Last-Modified"]
        assert parsedate_to_datetime(later) > parsedate_to_datetime(dates[url])
        again = writer.get(url, headers={"If-Modified-Since": later})
        assert again.status_code == 304  # the writer agrees on the new date


def test_if_none_match_decides_alone_when_both_are_sent() -> None:
    store = OxigraphStore()
    store.replace_graph(GRAPH, f'{PERSON} {NAME} "Before" .', TURTLE)
    _, reader = two_apps(store)
    first = reader.get(URLS[0])
    headers = {"If-Modified-Since": first.headers["Last-Modified"], "If-None-Match": '"old"'}
    assert reader.get(URLS[0], headers=headers).status_code == 200


def test_a_write_straight_into_an_on_disk_store_moves_last_modified(tmp_path: Path) -> None:
    """No app sees this write (as with ``cokg load`` or another process): the files do."""
    store = OxigraphStore(tmp_path / "store")
    store.replace_graph(GRAPH, f'{PERSON} {NAME} "Before" .', TURTLE)
    client = create_app({"TESTING": True}, store=store).test_client()
    settle(lambda: "Last-Modified" in client.get(URLS[0]).headers)
    dates = {}
    for url in URLS:
        first = client.get(url)
        dates[url] = first.headers["Last-Modified"]
        assert client.get(url, headers={"If-Modified-Since": dates[url]}).status_code == 304

    store.replace_graph(GRAPH, f'{PERSON} {NAME} "After" .', TURTLE)
    # so that an unmoved date would be sent, and would answer 304
    settle(lambda: "Last-Modified" in client.get(URLS[0]).headers)

    for url in URLS:
        answer = client.get(url, headers={"If-Modified-Since": dates[url]})
        assert answer.status_code == 200, url
        assert "After" in answer.get_data(as_text=True)
        later = answer.headers["Last-Modified"]
        assert parsedate_to_datetime(later) > parsedate_to_datetime(dates[url])
    store.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def post_update(base: str, name: str) -> None:
    request = urllib.request.Request(
        base + "/sparql",
        data=update(name).encode(),
        headers={**AUTH, "Content-Type": "application/sparql-update"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 204)


def test_two_cokg_processes_on_one_oxigraph_serve(tmp_path: Path) -> None:
    """Nothing both processes see tells when a remote endpoint changed: no Last-Modified,
    so If-Modified-Since never answers 304; If-None-Match still does."""
    env = {"COKG_WRITE_TOKEN": TOKEN}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        oxigraph_server(tmp_path) as engine,
        cokg_server(tmp_path / "a", "--store", engine + "/query", env=env) as a,
        cokg_server(tmp_path / "b", "--store", engine + "/query", env=env) as b,
    ):
        post_update(a, "Before")
        for url in URLS:
            status, headers, _ = get(b + url)
            assert status == 200
            assert headers["Last-Modified"] is None
            tag = headers["ETag"]
            assert get(b + url, {"If-None-Match": tag})[0] == 304
            assert get(b + url, {"If-Modified-Since": headers["Date"]})[0] == 200
        tags = {url: get(b + url)[1]["ETag"] for url in URLS}
        post_update(a, "After")
        for url in URLS:
            status, headers, body = get(b + url, {"If-None-Match": tags[url]})
            assert status == 200 and "After" in body


def test_cokg_serve_on_its_own_store_folder(tmp_path: Path) -> None:
    """The supervised ``oxigraph serve`` child: Last-Modified from the store folder's files."""
    (tmp_path / "a").mkdir()
    folder = tmp_path / "kb"
    store = OxigraphStore(folder)
    store.replace_graph(GRAPH, f'{PERSON} {NAME} "Before" .', TURTLE)
    store.close()
    del store
    env = {"COKG_WRITE_TOKEN": TOKEN}
    with cokg_server(tmp_path / "a", "--store", str(folder), env=env) as a:
        settle(lambda: get(a + URLS[0])[1]["Last-Modified"] is not None)
        dates = {}
        for url in URLS:
            status, headers, _ = get(a + url)
            assert status == 200
            dates[url] = headers["Last-Modified"]
            assert get(a + url, {"If-Modified-Since": dates[url]})[0] == 304
        post_update(a, "After")
        for url in URLS:
            status, headers, body = get(a + url, {"If-Modified-Since": dates[url]})
            assert status == 200 and "After" in body
        # RocksDB may flush or compact files a moment after the write: the date then waits
        # until the folder has been still for SETTLE seconds
        deadline = time.monotonic() + 30
        while get(a + URLS[0])[1]["Last-Modified"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        for url in URLS:
            status, headers, body = get(a + url, {"If-Modified-Since": dates[url]})
            assert status == 200 and "After" in body
            assert parsedate_to_datetime(headers["Last-Modified"]) > parsedate_to_datetime(
                dates[url]
            )
