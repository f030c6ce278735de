"""The cache of rendered resource pages: hits, bounds, and every write empties it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cokg.formats import TURTLE
from cokg.server import create_app
from cokg.server.page_cache import CachedPage, PageCache
from cokg.server.resources import SETTLE
from cokg.store import OxigraphStore

BASE = "https://kb.example/"
GRAPH = BASE + "graph/demo"
TOKEN = "page-cache-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAGE = "/page/project/demo"


def entry(title: str) -> bytes:
    return f"""
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix schema: <https://schema.org/> .
<{BASE}id/project/demo> a schema:ResearchProject ; dcterms:title "{title}"@en .
""".encode()


def make_app(**config: Any) -> Flask:
    store = OxigraphStore()
    store.replace_graph(GRAPH, entry("First title"), TURTLE)
    settings = {"TESTING": True, "BASE_IRI": BASE, "WRITE_TOKEN": TOKEN, **config}
    app: Flask = create_app(settings, store=store)
    return app


def cache_of(app: Flask) -> PageCache:
    cache = app.extensions["cokg-page-cache"]
    assert isinstance(cache, PageCache)
    return cache


@pytest.fixture
def app() -> Flask:
    app = make_app()
    cache_of(app).check_now()  # the first reading of the store, which caching waits for
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_the_second_request_is_served_from_the_cache(client: FlaskClient) -> None:
    first = client.get(PAGE)
    second = client.get(PAGE)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cokg-Page-Cache"] == "miss"
    assert second.headers["X-Cokg-Page-Cache"] == "hit"
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Link"] == first.headers["Link"]
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    again = client.get(PAGE, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_each_url_is_its_own_page(client: FlaskClient) -> None:
    client.get(PAGE)
    other = client.get(PAGE, query_string={"values": "http://purl.org/dc/terms/title"})
    assert other.headers["X-Cokg-Page-Cache"] == "miss"
    elsewhere = client.get(PAGE, headers={"Host": "other.example"})  # its links name its host
    assert elsewhere.headers["X-Cokg-Page-Cache"] == "miss"


def test_a_graph_store_put_shows_at_once(client: FlaskClient) -> None:
    assert "First title" in client.get(PAGE).get_data(as_text=True)
    assert client.get(PAGE).headers["X-Cokg-Page-Cache"] == "hit"
    put = client.put(
        "/rdf-graph-store",
        query_string={"graph": GRAPH},
        data=entry("Second title"),
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert put.status_code in (200, 201, 204)
    after = client.get(PAGE)
    text = after.get_data(as_text=True)
    assert "Second title" in text and "First title" not in text
    assert after.headers["X-Cokg-Page-Cache"] == "miss"


def test_a_sparql_update_shows_at_once(client: FlaskClient) -> None:
    client.get(PAGE)
    update = (
        f"DELETE WHERE {{ GRAPH <{GRAPH}> {{ <{BASE}id/project/demo> "
        f"<http://purl.org/dc/terms/title> ?t }} }};\n"
        f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <{BASE}id/project/demo> "
        f'<http://purl.org/dc/terms/title> "Updated title"@en }} }}'
    )
    answer = client.post(
        "/sparql", data=update, headers={**AUTH, "Content-Type": "application/sparql-update"}
    )
    assert answer.status_code in (200, 204)
    assert "Updated title" in client.get(PAGE).get_data(as_text=True)


def test_a_write_behind_the_apps_back_shows_after_a_check(app: Flask, client: FlaskClient) -> None:
    client.get(PAGE)
    store = app.extensions["cokg"].store
    # not through the app; the store's size changes, which the fingerprint sees
    extra = f'<{BASE}id/project/demo> <http://purl.org/dc/terms/alternative> "Other" .'
    store.replace_graph(GRAPH, entry("Written elsewhere") + extra.encode(), TURTLE)
    cache_of(app).check_now()  # what the timed check does
    assert "Written elsewhere" in client.get(PAGE).get_data(as_text=True)


def test_no_cache_when_turned_off() -> None:
    app = make_app(PAGE_CACHE_BYTES=0)
    client = app.test_client()
    first, second = client.get(PAGE), client.get(PAGE)
    assert first.status_code == second.status_code == 200
    assert "X-Cokg-Page-Cache" not in second.headers
    assert len(cache_of(app)) == 0


def test_an_unknown_resource_is_a_404_each_time(client: FlaskClient) -> None:
    for _ in range(2):
        assert client.get("/page/project/nothing-here").status_code == 404


def page(size: int) -> CachedPage:
    return CachedPage(b"x" * size, "tag", "")


def test_the_cache_stays_within_its_bound() -> None:
    cache = PageCache(OxigraphStore(), max_bytes=2000, check_every=3600)
    cache.check_now()
    generation = cache.generation()
    for name in "abc":
        cache.put(name, page(700), generation)
    assert cache.get("a") is None  # the least recently used went first
    assert cache.get("b") is not None and cache.get("c") is not None
    cache.put("d", page(700), generation)  # "c" was used last: "b" goes
    assert cache.get("b") is None and cache.get("d") is not None
    cache.put("huge", page(5000), generation)
    assert cache.get("huge") is None


def test_a_page_read_before_a_write_is_not_kept() -> None:
    cache = PageCache(OxigraphStore(), max_bytes=10_000, check_every=3600)
    cache.check_now()
    generation = cache.generation()
    cache.invalidate()  # a write while the page was being rendered
    cache.put("a", page(10), generation)
    assert cache.get("a") is None
    cache.put("a", page(10), cache.generation())
    assert cache.get("a") is not None


def test_nothing_is_kept_before_the_store_was_read_once() -> None:
    cache = PageCache(OxigraphStore(), max_bytes=10_000, check_every=3600)
    cache.put("a", page(10), 0)
    assert cache.get("a") is None


def served_from_cache(client: FlaskClient) -> str:
    """Ask for the page until the cache answers it (the store still for SETTLE); its text."""
    deadline = time.monotonic() + SETTLE + 30
    while True:
        answer = client.get(PAGE)
        if answer.headers["X-Cokg-Page-Cache"] == "hit":
            return answer.get_data(as_text=True)
        assert time.monotonic() < deadline, "the page never came from the cache"
        time.sleep(0.05)


def test_a_store_on_disk_shows_any_write_at_once(tmp_path: Path) -> None:
    """On disk, the store's last write time is in the key: a write by anyone is seen."""
    store = OxigraphStore(tmp_path / "store")
    store.replace_graph(GRAPH, entry("First title"), TURTLE)
    app = create_app({"TESTING": True, "BASE_IRI": BASE}, store=store)
    client = app.test_client()
    assert "First title" in served_from_cache(client)  # no fingerprint awaited
    store.replace_graph(GRAPH, entry("Written elsewhere"), TURTLE)  # same size, not the app
    # at once, and while the store settles (its files' clock may not have moved yet for a
    # second write), never the page kept from before
    for _ in range(5):
        after = client.get(PAGE)
        assert "Written elsewhere" in after.get_data(as_text=True)
    store.replace_graph(GRAPH, entry("Written again"), TURTLE)
    assert "Written again" in client.get(PAGE).get_data(as_text=True)
    assert "Written again" in served_from_cache(client)
    store.close()


# -- the labels of properties, kept per version of the store -----------------------------------

VOCABULARY = BASE + "graph/vocabulary"
TITLE = "http://purl.org/dc/terms/title"


def title_label(label: str) -> bytes:
    return f'<{TITLE}> <http://www.w3.org/2000/01/rdf-schema#label> "{label}"@en .'.encode()


def shown_label(client: FlaskClient) -> str:
    """The label the entry page gives dcterms:title (the name of its group of values)."""
    page = client.get(PAGE).get_data(as_text=True)
    found = re.search(
        rf'<span class="property-label">([^<]*)</span>\s*<[^>]* title="{TITLE}"', page
    )
    assert found, "the page has no group of dcterms:title values"
    return found.group(1)


def kept_labels(app: Flask, client: FlaskClient) -> dict[str, str | None]:
    """Ask for the page until the app keeps the labels of its properties (the store settled)."""
    from cokg.server.resources import last_change

    deadline = time.monotonic() + SETTLE + 30
    while True:
        client.get(PAGE)
        with app.test_request_context(PAGE):
            kept = cache_of(app).property_labels(last_change())
        if kept:
            return kept
        assert time.monotonic() < deadline, "the labels of the page's properties were never kept"
        time.sleep(0.05)


def test_property_labels_kept_with_the_cache_off_show_every_write(tmp_path: Path) -> None:
    """A store on disk, the page cache off (a cold page): the labels of properties are kept
    for the store's version, and a write through the app or behind its back shows at once."""
    store = OxigraphStore(tmp_path / "store")
    store.replace_graph(GRAPH, entry("First title"), TURTLE)
    store.replace_graph(VOCABULARY, title_label("Label one"), TURTLE)
    settings = {"TESTING": True, "BASE_IRI": BASE, "WRITE_TOKEN": TOKEN, "PAGE_CACHE_BYTES": 0}
    app = create_app(settings, store=store)
    client = app.test_client()
    assert shown_label(client) == "Label one"
    assert kept_labels(app, client)[TITLE] == "Label one"
    assert shown_label(client) == "Label one"  # now from what the app keeps
    update = (
        f"DELETE WHERE {{ GRAPH <{VOCABULARY}> {{ <{TITLE}> ?p ?o }} }};\n"
        f'INSERT DATA {{ GRAPH <{VOCABULARY}> {{ <{TITLE}> rdfs:label "Label two"@en }} }}'
    )
    answer = client.post(
        "/sparql", data=update, headers={**AUTH, "Content-Type": "application/sparql-update"}
    )
    assert answer.status_code in (200, 204)
    for _ in range(3):  # at once, and while the store settles
        assert shown_label(client) == "Label two"
    assert kept_labels(app, client)[TITLE] == "Label two"
    store.replace_graph(VOCABULARY, title_label("Label three"), TURTLE)  # not through the app
    for _ in range(3):
        assert shown_label(client) == "Label three"
    assert kept_labels(app, client)[TITLE] == "Label three"
    store.close()


def test_property_labels_in_memory_show_a_write_at_once(client: FlaskClient) -> None:
    store = client.application.extensions["cokg"].store
    store.replace_graph(VOCABULARY, title_label("Label one"), TURTLE)
    cache_of(client.application).check_now()
    assert shown_label(client) == "Label one"
    kept_labels(client.application, client)
    put = client.put(
        "/rdf-graph-store",
        query_string={"graph": VOCABULARY},
        data=title_label("Label two"),
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert put.status_code in (200, 201, 204)
    assert shown_label(client) == "Label two"
    kept_labels(client.application, client)
    # behind the app's back, the store's size changing: seen by the fingerprint
    store.replace_graph(VOCABULARY, title_label("Label three") + b"\n" + title_label("3"), TURTLE)
    cache_of(client.application).check_now()  # what the timed check does
    assert shown_label(client) in ("Label three", "3")


def test_property_labels_are_not_kept_in_memory_with_the_cache_off() -> None:
    """In memory, nothing tells of a write behind the app's back but the page cache's
    fingerprint: with the cache off, each page asks for its properties' labels."""
    app = make_app(PAGE_CACHE_BYTES=0)
    client = app.test_client()
    store = app.extensions["cokg"].store
    store.replace_graph(VOCABULARY, title_label("Label one"), TURTLE)
    assert shown_label(client) == "Label one"
    store.replace_graph(VOCABULARY, title_label("Label two"), TURTLE)  # not through the app
    assert shown_label(client) == "Label two"
    with app.test_request_context(PAGE):
        assert cache_of(app).property_labels(None) is None
