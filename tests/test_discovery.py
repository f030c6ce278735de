"""Discovery: ``/sitemap.xml`` lists every page and each answers; ``/robots.txt``; page links."""

from __future__ import annotations

import importlib
import math
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import rdflib
from flask.testing import FlaskClient

from cokg.formats import TURTLE
from cokg.load import open_knowledge_base
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.server import create_app
from cokg.store import OxigraphStore

BASE = DEFAULT_BASE_IRI
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
discovery_module = importlib.import_module("cokg.server.discovery")


def locations(client: FlaskClient, url: str = "/sitemap.xml") -> tuple[str, list[str]]:
    """Return the root element's local name and the <loc> values of a sitemap document."""
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)  # well-formed, or this raises
    name = root.tag.split("}", 1)[1]
    assert root.tag.startswith("{" + NS["sm"] + "}")
    return name, [loc.text or "" for loc in root.iter(f"{{{NS['sm']}}}loc")]


def local(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "localhost", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_sitemap_lists_every_entry_person_and_fixed_page(
    client: FlaskClient, store: OxigraphStore
) -> None:
    name, urls = locations(client)
    assert name == "urlset"
    assert len(urls) == len(set(urls))
    paths = {unquote(local(url)) for url in urls}
    for fixed in ("/", "/search", "/query", "/page/dataset", "/dumps/", "/releases/"):
        assert fixed in paths
    entries = [
        row["e"].value
        for row in store.query("SELECT ?e { ?e a schema:ResearchProject }")  # type: ignore[union-attr]
    ]
    people = [
        row["p"].value
        for row in store.query("SELECT ?p { ?p a foaf:Person }")  # type: ignore[union-attr]
    ]
    assert len(entries) == 6 and people
    for iri in entries + people:
        assert "/page/" + iri.removeprefix(BASE + "id/") in paths, iri
    assert "/page/ontology" in paths and "/page/ontology/Stage" in paths


def test_every_url_in_the_sitemap_answers_200_with_html(client: FlaskClient) -> None:
    _, urls = locations(client)
    for url in urls:
        response = client.get(local(url), headers={"Accept": "text/html"})
        assert response.status_code == 200, url
        assert response.mimetype == "text/html", url


def test_a_large_sitemap_becomes_an_index_of_files(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, whole = locations(client)
    monkeypatch.setattr(discovery_module, "URLS_PER_FILE", 50)
    name, files = locations(client)
    assert name == "sitemapindex"
    assert [local(f) for f in files] == [
        f"/sitemap-{n}.xml" for n in range(1, math.ceil(len(whole) / 50) + 1)
    ]
    pieces: list[str] = []
    for url in files:
        kind, urls = locations(client, local(url))
        assert kind == "urlset" and 0 < len(urls) <= 50
        pieces += urls
    assert pieces == whole  # the same pages, in the same order, none twice
    for missing in ("/sitemap-0.xml", f"/sitemap-{len(files) + 1}.xml", "/sitemap-x.xml"):
        assert client.get(missing).status_code == 404


def test_robots_txt_names_the_sitemap_and_keeps_crawlers_off_queries(
    client: FlaskClient,
) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    assert "User-agent: *" in lines
    for rule in ("Disallow: /sparql", "Disallow: /search?", "Disallow: /query?", "Allow: /"):
        assert rule in lines


def test_every_resource_data_document_links_its_dataset(client: FlaskClient) -> None:
    _, urls = locations(client)
    pages = [local(u) for u in urls if local(u).startswith("/page/")]
    assert len(pages) > 100
    for page in pages:
        data = "/data/" + page.removeprefix("/page/") + ".ttl"
        response = client.get(data)
        assert response.status_code == 200, data
        graph = rdflib.Graph().parse(data=response.data, format="turtle")
        assert (None, VOID.inDataset, rdflib.URIRef(BASE + "dataset")) in graph, data


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append(dict(attrs))


@pytest.mark.parametrize(
    "path",
    ["project/imagine", "person/oliver-escobar", "scheme/keywords", "ontology", "dataset"],
)
def test_pages_link_their_data_in_the_head(client: FlaskClient, path: str) -> None:
    response = client.get(f"/page/{path}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    parser = _Links()
    parser.feed(response.get_data(as_text=True))
    links = {(link.get("rel"), link.get("type"), link.get("href")) for link in parser.links}
    assert ("describedby", None, f"/data/{path}") in links
    assert ("alternate", "text/turtle", f"/data/{path}.ttl") in links
    assert ("alternate", "application/ld+json", f"/data/{path}.jsonld") in links
    described = [link for link in parser.links if link.get("rel") == "describedby"]
    assert len(described) == 1


def test_the_sitemap_follows_writes(tmp_path: Path) -> None:
    kb = open_knowledge_base()
    try:
        app = create_app(
            {"TESTING": True, "WRITE_TOKEN": "t", "DUMPS_DIR": str(tmp_path)}, store=kb
        )
        client = app.test_client()
        _, before = locations(client)
        put = client.put(
            "/rdf-graph-store",
            query_string={"graph": BASE + "id/graph/extra"},
            data=f"<{BASE}id/person/extra> a <http://xmlns.com/foaf/0.1/Person> .",
            headers={"Content-Type": "text/turtle", "Authorization": "Bearer t"},
        )
        assert put.status_code in (201, 204), put.data
        _, after = locations(client)
        assert set(after) - set(before) == {"http://localhost/page/person/extra"}
    finally:
        kb.close()


def test_a_document_named_by_its_doi_is_in_the_sitemap_and_its_page_answers(
    tmp_path: Path,
) -> None:
    store = OxigraphStore()
    doi = "https://doi.org/10.1000/a&b"
    store.replace_graph(
        BASE + "id/graph/e",
        f"""
        @prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .
        <{BASE}id/project/e> a schema:ResearchProject ; dcterms:title "E"@en ;
            dcterms:relation <{doi}> .
        <{doi}> a schema:ScholarlyArticle ; dcterms:title "A DOI document"@en .
        """.encode(),
        TURTLE,
    )
    app = create_app({"TESTING": True, "DUMPS_DIR": str(tmp_path)}, store=store)
    client = app.test_client()
    _, urls = locations(client)
    expected = "http://localhost/page?uri=https://doi.org/10.1000/a%26b"
    assert expected in urls and "http://localhost/page/project/e" in urls
    response = client.get(
        "/page?uri=https://doi.org/10.1000/a%26b", headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    assert "A DOI document" in response.get_data(as_text=True)
