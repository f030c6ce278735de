"""The dataset page and ``/.well-known/void`` on a real ``cokg serve``, read in Debian's chromium.

This goes through the supervised ``oxigraph serve`` child, as a deployment does: the figures
are counted over the SPARQL protocol, the dumps built in the data folder. Screenshots of the
page on a desktop and a phone are kept in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from rdflib import URIRef

from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.validate import validate
from tests.servers import cokg_server

with contextlib.suppress(ImportError):  # reported by the `browser` fixture, as a failure
    from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DATASET = URIRef(DEFAULT_BASE_IRI + "dataset")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("dataset")
    with cokg_server(folder) as url:
        yield url


def fetch(url: str, accept: str = "*/*") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, response.headers.get_content_type(), response.read()


def test_well_known_void_counts_what_the_engine_holds(server: str) -> None:
    status, media_type, body = fetch(server + "/.well-known/void")
    assert (status, media_type) == (200, "text/turtle")
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert validate(graph).conforms
    (triples,) = graph.objects(DATASET, VOID.triples)
    health = json.loads(fetch(server + "/healthz")[2])
    assert int(triples) == health["triples"] == 1333
    assert (DATASET, VOID.sparqlEndpoint, URIRef(server + "/sparql")) in graph


def test_a_reader_finds_licence_dumps_figures_and_charts(server: str, page: Page) -> None:
    page.goto(server + "/")
    page.goto(server + "/.well-known/void", wait_until="load")  # a browser is sent to the page
    assert page.url == server + "/page/dataset"
    expect(page.locator("h1")).to_have_text("The co-production knowledge base")
    licence = page.get_by_role("link", name="Creative Commons Attribution 4.0 International")
    expect(licence.first).to_be_visible()
    assert licence.first.get_attribute("href") == "https://creativecommons.org/licenses/by/4.0/"
    dumps = page.locator("table[aria-labelledby=dumps-heading] tbody tr")
    assert dumps.count() >= 10
    first = dumps.first.locator("td")
    assert len(first.nth(4).inner_text().strip()) == 64  # the SHA-256 in hex
    expect(page.get_by_role("row", name="Triples 1,333")).to_be_visible()
    chart = page.get_by_role("img", name="Entries by the year they started")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 4  # 2012, 2013, 2016, 2018
    script = page.locator('script[type="application/ld+json"]').text_content() or ""
    dataset = json.loads(script)
    assert dataset["@type"] == "Dataset" and len(dataset["distribution"]) == dumps.count()
    href = dumps.first.locator("a").get_attribute("href") or ""
    status, _, body = fetch(server + href)
    assert status == 200 and len(body) > 0
    _screenshots(page)


def test_the_sitemap_of_the_served_knowledge_base(server: str) -> None:
    status, media_type, body = fetch(server + "/sitemap.xml")
    assert (status, media_type) == (200, "application/xml")
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    urls = [loc.text or "" for loc in ET.fromstring(body).iter(ns + "loc")]
    assert server + "/page/dataset" in urls and len(urls) > 100
    assert server + "/page/project/imagine" in urls
    robots = fetch(server + "/robots.txt")[2].decode()
    assert f"Sitemap: {server}/sitemap.xml" in robots.splitlines()


def _screenshots(page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "dataset-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    path = ARTIFACTS / "dataset-phone.png"
    page.screenshot(path=str(path), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page scrolls sideways on a phone ({width}px)"
    shutil.copy(path, path.with_name("dataset-phone-last.png"))
