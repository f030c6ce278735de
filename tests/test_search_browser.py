"""The search page in a real browser (Debian's chromium, Playwright) on `cokg serve`.

The server keeps its index in its data dir and takes writes (a token is set), so a Graph Store
write is checked here on the real path too: `oxigraph serve` child, index file, on-write hook.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.servers import cokg_server
from tests.test_query_page_browser import page  # noqa: F401 (fixture)
from tests.test_search import NEW, NEW_GRAPH, WELSH, entry_turtle

with contextlib.suppress(ImportError):  # reported by the `browser` fixture, as a failure
    from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

TOKEN = "browser-search-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cokg serve` on its own embedded store, writes allowed; yields its base URL."""
    folder = tmp_path_factory.mktemp("search-page")
    with cokg_server(folder, env={"COKG_WRITE_TOKEN": TOKEN}) as url:
        yield url
    assert (folder / "data" / "search.sqlite3").is_file()


def found(server: str, text: str) -> list[str]:
    with urllib.request.urlopen(f"{server}/search.json?q={quote(text)}", timeout=30) as answer:
        return [hit["iri"] for hit in json.load(answer)["hits"]]


def send(request: urllib.request.Request) -> int:
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(answer.status)


def test_search_narrow_by_a_facet_page_and_follow_a_hit(server: str, page: Page) -> None:  # noqa: F811
    page.goto(server + "/search?size=2")
    page.get_by_label("Search text").fill("co")
    page.get_by_role("button", name="Search").click()
    summary = page.locator("#results-summary")
    expect(summary).to_contain_text("4 entries match")
    expect(page.locator(".hit")).to_have_count(2)
    expect(page.locator(".hit mark").first).to_be_visible()

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
    expect(summary).to_contain_text("Page 2 of 2")
    expect(page.locator(".hit")).to_have_count(2)

    keyword = page.locator("#facet-keyword a", has_text="coaching")
    expect(keyword).to_contain_text("1")
    keyword.click()
    expect(summary).to_contain_text("1 entry match")
    assert "keyword=coaching" in page.url and "page=" not in page.url
    expect(page.locator("#facet-keyword li.selected")).to_contain_text("coaching")

    page.locator(".hit-title a").first.click()
    page.wait_for_url("**/page/project/co-production-for-sustainability")
    expect(page.locator("h1")).to_contain_text("Co-production for Sustainability")
    assert WELSH.endswith("/co-production-for-sustainability")


def test_no_results_and_suggestions(server: str, page: Page) -> None:  # noqa: F811
    page.goto(server + "/search?q=participatory+zzzqqq")
    expect(page.locator(".no-results")).to_contain_text("No entries match")
    page.get_by_role("link", name="participatory").click()
    expect(page.locator("#results-summary")).to_contain_text("1 entry match")

    box = page.get_by_label("Search text")
    box.fill("")
    box.press_sequentially("budg", delay=30)
    expect(page.locator("#search-suggestions option")).to_have_count(1)


def test_a_graph_store_write_is_searchable_in_the_next_request(server: str) -> None:
    url = f"{server}/rdf-graph-store?graph={quote(NEW_GRAPH, safe='')}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    put = urllib.request.Request(
        url,
        data=entry_turtle("Quarkly Deliberation"),
        method="PUT",
        headers={**auth, "Content-Type": "text/turtle"},
    )
    assert send(put) in (201, 204)
    assert found(server, "quarkly") == [NEW]
    assert send(urllib.request.Request(url, method="DELETE", headers=auth)) == 204
    assert found(server, "quarkly") == []
