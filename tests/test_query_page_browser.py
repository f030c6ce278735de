"""The query page in a real browser: Debian's chromium, driven by Playwright, on `cokg serve`.

The browser is the system's (`apt-get install chromium`), never one Playwright downloads. When
it or Playwright is missing these tests fail saying what to install: they do not skip.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pyoxigraph import Literal, NamedNode

from cokg.load import open_knowledge_base
from cokg.resources import QUERIES_DIR
from tests.conftest import WAIT_MS
from tests.servers import cokg_server

with contextlib.suppress(ImportError):  # reported by the `browser` fixture (conftest.py)
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect

pytestmark = pytest.mark.slow

UNITS = QUERIES_DIR / "cq10-units-and-parents.rq"
UNITS_QUESTION = "Which organisations are units inside another, and which have a ROR iD?"


def expected_rows(query: str) -> tuple[list[str], list[list[Any]]]:
    """The answer to ``query`` on the shipped knowledge base, computed here, in process."""
    store = open_knowledge_base()
    try:
        result = store.query(query)
        columns = [v.value for v in result.variables]  # type: ignore[union-attr]
        return columns, [[row[i] for i in range(len(columns))] for row in result]  # type: ignore[union-attr]
    finally:
        store.close()


def shown(term: Any) -> str:
    """How the page shows a term of these queries: a literal's text, an IRI as ``<iri>``."""
    if term is None:
        return ""
    if isinstance(term, Literal):
        return term.value
    assert isinstance(term, NamedNode)
    return f"<{term.value}>"


def table_of(page: Page) -> list[list[str]]:
    """The results table as the browser shows it: each cell's term, row numbers dropped."""
    rows: list[list[str]] = page.locator(".results-table tbody tr").evaluate_all(
        """rows => rows.map(row => Array.from(row.querySelectorAll("td")).slice(1).map(td => {
             const term = td.querySelector(".term");
             return term ? term.textContent : "";
           }))"""
    )
    return rows


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cokg serve` on its own embedded store; yields its base URL."""
    folder = tmp_path_factory.mktemp("query-page")
    with cokg_server(folder) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the test fails at teardown if the page logged a script or CSP error.

    A 400 answer is no error here: it is how a malformed query comes back.
    """
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 400" not in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"


# -- running queries -------------------------------------------------------------------------


def test_an_example_query_runs_and_its_rows_show_in_the_table(server: str, page: Page) -> None:
    columns, rows = expected_rows(UNITS.read_text())
    page.goto(server + "/query")
    page.get_by_role("link", name=UNITS_QUESTION).click()
    expect(page.locator("#query")).to_have_value(UNITS.read_text())
    assert page.url == server + "/query"  # choosing an example loads it; it does not run it

    page.get_by_role("button", name="Run query").click()
    expect(page.locator(".results-table")).to_be_visible()
    expect(page.locator("#results-summary")).to_contain_text(f"{len(rows)} rows")
    headings = page.locator(".results-table thead th").all_inner_texts()
    assert headings[1:] == [f"?{c}" for c in columns]
    assert table_of(page) == [[shown(term) for term in row] for row in rows]
    ror = page.locator(".results-table a.external").first
    assert (ror.get_attribute("href") or "").startswith("https://ror.org/")

    # The address is now the share link, and loading it shows the same answer.
    share = page.locator("#share-url").input_value()
    assert page.url == share
    page.goto(share)
    assert table_of(page) == [[shown(term) for term in row] for row in rows]


def test_the_endpoint_address_is_the_same_page_for_a_browser(server: str, page: Page) -> None:
    page.goto(server + "/sparql")
    page.locator("#query").fill("SELECT ?entry WHERE { ?entry a schema:ResearchProject }")
    page.locator("#query").press("Control+Enter")
    expect(page.locator("#results-summary")).to_contain_text("6 rows")
    assert page.url.startswith(server + "/sparql?query=SELECT+%3Fentry")
    links = page.locator(".results-table a").evaluate_all("links => links.map(a => a.pathname)")
    assert "/id/project/imagine" in links


def test_the_editor_keys_run_and_indent(server: str, page: Page) -> None:
    page.goto(server + "/query")
    editor = page.locator("#query")
    editor.fill("")
    editor.press("Tab")
    assert editor.input_value() == "  "
    editor.press("Shift+Tab")
    assert editor.input_value() == ""
    editor.press("Escape")
    editor.press("Tab")  # Esc then Tab leaves the editor
    expect(editor).not_to_be_focused()

    editor.fill("ASK { ?entry a schema:ResearchProject }")
    editor.press("Control+Enter")
    expect(page.locator(".boolean-value")).to_have_text("true")
    assert page.url == page.locator("#share-url").input_value()


def test_a_malformed_query_shows_the_error_and_marks_its_line(server: str, page: Page) -> None:
    page.goto(server + "/query")
    editor = page.locator("#query")
    editor.fill("SELECT *\nWHERE { ?s ?p ?o . FILTER( }")
    editor.press("Control+Enter")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("line 2, column")
    expect(error).to_contain_text("expected")
    expect(page.locator(".gutter .error-line")).to_have_text("2")


def test_the_page_works_without_javascript(server: str, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto(server + "/query")
        page.get_by_role("link", name=UNITS_QUESTION).click()  # a plain link: it runs
        expect(page.locator(".results-table")).to_be_visible()
        page.locator("#query").fill("ASK { ?entry a schema:Nothing }")
        page.get_by_role("button", name="Run query").click()
        expect(page.locator(".boolean-value")).to_have_text("false")
        assert page.url == page.locator("#share-url").input_value()
    finally:
        context.close()


def test_the_copy_button_copies_the_share_link(server: str, browser: Browser) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    try:
        page = context.new_page()
        page.goto(server + "/query?" + urlencode({"query": "ASK {}"}))
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == page.url
    finally:
        context.close()


def test_the_page_fits_a_phone_screen(server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        query = (QUERIES_DIR / "cq08-publications-per-entry.rq").read_text()
        page.goto(server + "/query?" + urlencode({"query": query}))
        expect(page.locator(".results-table")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the page scrolls sideways; only the table should"
    finally:
        context.close()


# -- downloads -------------------------------------------------------------------------------


def test_the_csv_download_holds_the_results(server: str, page: Page) -> None:
    columns, rows = expected_rows(UNITS.read_text())
    page.goto(server + "/query?" + urlencode({"query": UNITS.read_text()}))
    with page.expect_download() as started:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = started.value
    assert download.suggested_filename == "results.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == columns
    assert table[1:] == [["" if t is None else t.value for t in row] for row in rows]
