"""The resource pages in a real browser: Debian's chromium, driven by Playwright, on `cokg serve`.

A walk through the knowledge base as a reader takes it (home → entry → keyword, person,
organisation → back through a link to the resource), a `<script>` title shown as text, and
screenshots of an entry page on a desktop and a phone, kept as test artefacts in
``test-artifacts/`` (git-ignored) and in the test's temporary folder.
"""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import cokg_server

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # reported by the `browser` fixture, as a failure
    sync_playwright = None

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TOKEN = "pages-browser-test-token"
ENTRY = "Mainstreaming participatory budgeting"
SCRIPT_TITLE = "A <script>document.title='pwned'</script> entry"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cokg serve` on its own embedded store, writable with a token; yields its base URL."""
    folder = tmp_path_factory.mktemp("pages")
    with cokg_server(folder, env={"COKG_WRITE_TOKEN": TOKEN}) as url:
        yield url


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def test_a_reader_walks_from_the_home_page_through_the_links(server: str, page: Page) -> None:
    page.goto(server + "/")
    expect(page.locator("h1")).to_have_text("Search the co-production knowledge base")

    page.locator(".entry-list").get_by_role("link", name=ENTRY).click()
    expect(page.locator("h1")).to_contain_text(ENTRY)
    entry_url = page.url
    assert entry_url == server + "/page/project/mainstreaming-participatory-budgeting"

    page.locator(".keywords").get_by_role("link", name="social justice").click()
    expect(page.locator("h1")).to_have_text("social justice")
    # the keyword page lists the entries that use it, among the links to it
    expect(page.locator("#inverse-heading ~ dl")).to_contain_text(ENTRY)
    page.go_back()

    page.locator(".contributors").get_by_role("link", name="Oliver Escobar").click()
    expect(page.locator("h1")).to_have_text("Oliver Escobar")

    page.locator(".properties").first.get_by_role(
        "link", name="University of Edinburgh"
    ).first.click()
    expect(page.locator("h1")).to_have_text("University of Edinburgh")
    ror = page.locator("a.external[href^='https://ror.org/']")
    expect(ror).to_have_count(1)

    # back through the links to the organisation: its member, then the member's entry
    inverse = page.locator("#inverse-heading ~ dl")
    inverse.get_by_role("link", name="Oliver Escobar").first.click()  # org:memberOf, affiliation
    expect(page.locator("h1")).to_have_text("Oliver Escobar")
    page.locator("#inverse-heading ~ dl").get_by_role("link", name=ENTRY).first.click()
    expect(page.locator("h1")).to_contain_text(ENTRY)
    assert page.url == entry_url


def test_an_entry_page_on_a_desktop_and_a_phone(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    url = server + "/page/project/mainstreaming-participatory-budgeting"
    for name, viewport in (
        ("entry-desktop.png", {"width": 1280, "height": 900}),
        ("entry-phone.png", {"width": 390, "height": 844}),
    ):
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(url)
        expect(page.locator("h1")).to_contain_text(ENTRY)
        # nothing is wider than the screen: no sideways scrolling on a phone
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: the page is {width}px wide"
        shot = tmp_path / name
        page.screenshot(path=str(shot), full_page=True)
        shutil.copy(shot, ARTIFACTS / name)
        first_screen = name.replace(".png", "-first-screen.png")
        page.screenshot(path=str(tmp_path / first_screen))
        shutil.copy(tmp_path / first_screen, ARTIFACTS / first_screen)
        context.close()
        assert shot.stat().st_size > 10_000


def test_a_script_in_a_title_is_shown_as_text(server: str, page: Page) -> None:
    iri = "https://w3id.org/coprod/id/project/script-test"
    title = SCRIPT_TITLE.replace("'", "\\'")
    update = (
        f"INSERT DATA {{ GRAPH <https://w3id.org/coprod/graph/test/script> {{ <{iri}> "
        f"a <https://schema.org/ResearchProject> ; <http://purl.org/dc/terms/title> '{title}'@en ; "
        f"<https://schema.org/name> '{title}'@en }} }}"
    )
    request = urllib.request.Request(
        server + "/sparql",
        data=update.encode("utf-8"),
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 204)

    page.goto(server + "/page/project/script-test")
    expect(page.locator("h1")).to_have_text(SCRIPT_TITLE)
    assert page.evaluate("document.title") != "pwned"
    page.goto(server + "/")
    expect(page.locator(".entry-list")).to_contain_text(SCRIPT_TITLE)
    assert page.evaluate("document.title") != "pwned"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/page/project/imagine",
        "/page/person/oliver-escobar",
        "/page/scheme/stages",
        "/page/ontology",
    ],
)
def test_pages_have_landmarks_one_heading_and_keyboard_access(
    server: str, page: Page, path: str
) -> None:
    page.goto(server + path)
    expect(page.locator("h1")).to_have_count(1)
    for role in ("banner", "main", "contentinfo"):
        expect(page.get_by_role(role)).to_have_count(1)
    expect(page.get_by_role("navigation", name="Site")).to_be_visible()
    assert page.locator("img:not([alt])").count() == 0
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_reader_follows_a_doi_document_to_its_page_here_and_back(server: str, page: Page) -> None:
    # 10.1000 is the DOI Handbook's example prefix: this DOI names no real work
    doi = "https://doi.org/10.1000/cokg-browser-test"
    entry = "https://w3id.org/coprod/id/project/imagine"
    title = "A test paper with a DOI"
    update = (
        "INSERT DATA { GRAPH <https://w3id.org/coprod/graph/test/doi> { "
        f"<{entry}> <http://purl.org/dc/terms/relation> <{doi}> ; "
        f"<https://w3id.org/coprod/ontology/relatedPublication> <{doi}> . "
        f"<{doi}> a <https://schema.org/ScholarlyArticle> ; "
        f"<http://purl.org/dc/terms/title> '{title}'@en ; "
        "<http://purl.org/dc/terms/bibliographicCitation> 'Journal of Tests, 1:2' } }"
    )
    request = urllib.request.Request(
        server + "/sparql",
        data=update.encode("utf-8"),
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 204)

    page.goto(server + "/page/project/imagine")
    entry_url = page.url
    documents = page.locator(".documents")
    expect(documents.locator(f"a.external[href='{doi}']")).to_have_count(1)  # the way out
    documents.get_by_role("link", name=title).click()
    expect(page.locator("h1")).to_have_text(title)
    assert page.url == server + "/page?uri=" + doi
    expect(page.locator(".iri-copy")).to_have_text(doi)
    expect(page.locator("main")).to_contain_text("Journal of Tests, 1:2")
    page.locator("#inverse-heading ~ dl").get_by_role(
        "link", name="Imagine: bringing together"
    ).first.click()
    assert page.url == entry_url
