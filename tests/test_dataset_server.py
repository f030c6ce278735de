"""``/.well-known/void``, ``/data/dataset`` and the dataset page, as clients see them."""

from __future__ import annotations

import doctest
import hashlib
import importlib
import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import rdflib
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from pyld import jsonld
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, XSD

from cokg.cli import main
from cokg.describe import CONTEXT
from cokg.formats import TURTLE
from cokg.load import open_knowledge_base
from cokg.namespaces import DEFAULT_BASE_IRI
from cokg.release import make_release
from cokg.server import create_app
from cokg.sparql_store import SparqlStore
from cokg.store import OxigraphStore
from cokg.validate import validate

BASE = DEFAULT_BASE_IRI
dataset_module = importlib.import_module("cokg.server.dataset")
DATASET = URIRef(BASE + "dataset")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
TOKEN = "dataset-test-token"


def void_graph(client: FlaskClient) -> rdflib.Graph:
    response = client.get("/.well-known/void")
    assert response.status_code == 200
    return rdflib.Graph().parse(data=response.data, format="turtle")


def integer(graph: rdflib.Graph, subject: Any, predicate: URIRef) -> int:
    (value,) = list(graph.objects(subject, predicate))
    assert isinstance(value, Literal) and value.datatype == XSD.integer
    return int(value)


def test_doctests_of_the_dataset_module() -> None:
    result = doctest.testmod(importlib.import_module("cokg.server.dataset"))
    assert result.failed == 0 and result.attempted > 0


# -- /.well-known/void --------------------------------------------------------------------------


def test_well_known_void_is_turtle_that_conforms_to_the_shapes(client: FlaskClient) -> None:
    response = client.get("/.well-known/void")
    assert response.status_code == 200
    assert response.mimetype == "text/turtle"
    graph = rdflib.Graph().parse(data=response.data, format="turtle")
    report = validate(graph)
    assert report.conforms, report.to_text()
    assert (DATASET, RDF.type, VOID.Dataset) in graph
    assert (DATASET, RDF.type, DCAT.Dataset) in graph


def test_void_triples_equal_the_store_count_and_healthz(
    client: FlaskClient, store: OxigraphStore
) -> None:
    graph = void_graph(client)
    health = client.get("/healthz").json
    assert integer(graph, DATASET, VOID.triples) == store.count() == health["triples"] == 1333


def test_endpoint_and_uri_space_are_this_server(client: FlaskClient) -> None:
    graph = void_graph(client)
    endpoint = URIRef("http://localhost/sparql")
    assert (DATASET, VOID.sparqlEndpoint, endpoint) in graph
    assert (DATASET, VOID.uriSpace, Literal(BASE + "id/")) in graph
    service = graph.value(predicate=DCAT.servesDataset, object=DATASET)  # DCAT 3: no link back
    assert (service, DCAT.endpointURL, endpoint) in graph
    answer = client.get("/sparql", query_string={"query": "ASK {}"})
    assert answer.status_code == 200


def test_linkset_counts_equal_counts_asked_at_the_endpoint(client: FlaskClient) -> None:
    graph = void_graph(client)
    linksets = list(graph.subjects(RDF.type, VOID.Linkset))
    assert linksets
    for linkset in linksets:
        target = graph.value(linkset, VOID.objectsTarget)
        predicate = graph.value(linkset, VOID.linkPredicate)
        query = (
            f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{predicate}> ?o "
            f'FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{target}")) }}'
        )
        answer = client.get(
            "/sparql",
            query_string={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        counted = int(answer.json["results"]["bindings"][0]["n"]["value"])
        assert integer(graph, linkset, VOID.triples) == counted


def test_every_listed_dump_downloads_with_the_listed_size_and_checksum(
    client: FlaskClient,
) -> None:
    graph = void_graph(client)
    distributions = list(graph.objects(DATASET, DCAT.distribution))
    assert len(distributions) >= 10
    for distribution in distributions:
        url = str(graph.value(distribution, DCAT.downloadURL))
        assert url.startswith("http://localhost/dumps/")
        assert (DATASET, VOID.dataDump, URIRef(url)) in graph
        with client.get(url.removeprefix("http://localhost")) as download:
            assert download.status_code == 200, url
            body = download.data
        checksum = graph.value(distribution, SPDX.checksum)
        assert str(graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(body).hexdigest()
        assert int(graph.value(distribution, DCAT.byteSize)) == len(body)  # type: ignore[arg-type]


NEGOTIATION = [
    # (Accept, ?format, status, media type of the answer)
    (None, None, 200, "text/turtle"),
    ("*/*", None, 200, "text/turtle"),
    ("text/turtle", None, 200, "text/turtle"),
    ("application/ld+json", None, 200, "application/ld+json"),
    ("application/json", None, 200, "application/ld+json"),
    ("application/rdf+xml", None, 200, "application/rdf+xml"),
    ("application/n-triples", None, 200, "application/n-triples"),
    ("application/n-quads", None, 200, "application/n-quads"),
    ("application/trig", None, 200, "application/trig"),
    ("text/turtle;q=0.2, application/rdf+xml;q=0.9", None, 200, "application/rdf+xml"),
    (BROWSER, "nt", 200, "application/n-triples"),
    ("text/turtle", "jsonld", 200, "application/ld+json"),
    ("text/html", None, 303, "text/plain"),
    (BROWSER, None, 303, "text/plain"),
    ("text/turtle", "html", 303, "text/plain"),
    ("image/png", None, 406, None),
    ("application/sparql-results+json", None, 406, None),
    (None, "nonsense", 400, None),
    (None, "csv", 406, None),
]


@pytest.mark.parametrize(("accept", "fmt", "status", "media_type"), NEGOTIATION)
def test_negotiation(
    client: FlaskClient, accept: str | None, fmt: str | None, status: int, media_type: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    query = {"format": fmt} if fmt else {}
    response = client.get("/.well-known/void", headers=headers, query_string=query)
    assert response.status_code == status, response.data
    if media_type is not None:
        assert response.mimetype == media_type
    if status == 303:
        assert response.headers["Location"] == "/page/dataset"
    if status == 406:
        assert b"turtle" in response.data  # says what is offered
    if status == 200:
        extension = response.headers["Content-Location"].rsplit(".", 1)[1]
        assert response.headers["Content-Location"] == f"/data/dataset.{extension}"


def test_headers_etag_304_links_and_cors(client: FlaskClient) -> None:
    response = client.get("/.well-known/void")
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert response.headers["Last-Modified"]
    assert response.headers["Vary"] == "Accept"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    link = response.headers["Link"]
    assert '<https://creativecommons.org/licenses/by/4.0/>; rel="license"' in link
    assert '</data/dataset>; rel="describedby"' in link
    assert '</page/dataset>; rel="alternate"; type="text/html"' in link
    again = client.get("/.well-known/void", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_well_known_void_and_the_data_document_say_the_same(client: FlaskClient) -> None:
    well_known = void_graph(client)
    for url, name in (("/data/dataset.ttl", "turtle"), ("/data/dataset.nt", "nt")):
        document = rdflib.Graph().parse(data=client.get(url).data, format=name)
        assert isomorphic(well_known, document), url
    see_other = client.get("/dataset", headers={"Accept": "text/turtle"})
    assert see_other.status_code == 303
    assert see_other.headers["Location"] == "/data/dataset.ttl"
    assert client.get("/dataset", headers={"Accept": BROWSER}).headers["Location"] == (
        "/page/dataset"
    )


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    if url.endswith("/context.jsonld"):
        return {"contextUrl": None, "documentUrl": url, "document": CONTEXT}
    raise AssertionError(f"the JSON-LD refers to a document other than the context: {url}")


def test_jsonld_with_the_published_context_gives_the_same_triples(client: FlaskClient) -> None:
    document = client.get("/.well-known/void", headers={"Accept": "application/ld+json"}).json
    assert document["@context"] == "http://localhost/context.jsonld"
    nquads = jsonld.to_rdf(document, {"format": "application/n-quads", "documentLoader": _loader})
    from_jsonld = rdflib.Graph().parse(data=nquads, format="nt")
    assert isomorphic(from_jsonld, void_graph(client))


def test_the_description_follows_writes(tmp_path: Path) -> None:
    kb = open_knowledge_base()
    try:
        app = create_app(
            {"TESTING": True, "WRITE_TOKEN": TOKEN, "DUMPS_DIR": str(tmp_path)}, store=kb
        )
        client = app.test_client()
        before = integer(void_graph(client), DATASET, VOID.triples)
        put = client.put(
            "/rdf-graph-store",
            query_string={"graph": BASE + "id/graph/extra"},
            data=f"<{BASE}id/person/extra> <http://xmlns.com/foaf/0.1/name> 'Extra' .",
            headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {TOKEN}"},
        )
        assert put.status_code in (201, 204), put.data
        after = void_graph(client)
        assert integer(after, DATASET, VOID.triples) == before + 1 == kb.count()
    finally:
        kb.close()


# -- the dataset page ---------------------------------------------------------------------------


class _Page(HTMLParser):
    """What a test reads off the page: JSON-LD scripts, links in <head>, table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.rows: list[list[str]] = []
        self._script = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("type") == "application/ld+json":
            self._script = True
            self.scripts.append("")
        elif tag == "link":
            self.links.append(attributes)
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[-1] += data
        elif self._cell is not None:
            self._cell.append(data)


def page(client: FlaskClient) -> tuple[_Page, str]:
    response = client.get("/page/dataset", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    parser = _Page()
    parser.feed(text)
    return parser, text


def test_the_page_embeds_a_schema_org_dataset(client: FlaskClient) -> None:
    parsed, _ = page(client)
    (script,) = parsed.scripts
    dataset = json.loads(script)
    assert dataset["@context"] == "https://schema.org"
    assert dataset["@type"] == "Dataset"
    assert dataset["name"] == "The co-production knowledge base"
    assert dataset["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert dataset["description"]
    assert dataset["url"] == "http://localhost/page/dataset"
    assert dataset["includedInDataCatalog"]["@type"] == "DataCatalog"
    downloads = dataset["distribution"]
    assert downloads and all(d["@type"] == "DataDownload" for d in downloads)
    graph = void_graph(client)
    listed = {str(url) for url in graph.objects(DATASET, VOID.dataDump)}
    assert {d["contentUrl"] for d in downloads} == listed
    gzip = [d for d in downloads if d["contentUrl"].endswith(".gz")]
    assert gzip and all(d["encodingFormat"] == "application/gzip" for d in gzip)


def test_the_page_shows_licence_statistics_and_dumps(
    client: FlaskClient, store: OxigraphStore
) -> None:
    parsed, text = page(client)
    assert 'rel="license" href="https://creativecommons.org/licenses/by/4.0/"' in text
    assert "Creative Commons Attribution 4.0 International (CC BY 4.0)" in text
    rows = {row[0]: row[1:] for row in parsed.rows if row}
    assert rows["Triples"] == [f"{store.count():,}"]
    assert rows["Entries (research and practice projects)"] == ["6"]
    assert rows["People"] == ["15"]
    assert "http://localhost/sparql" in text
    graph = void_graph(client)
    for distribution in graph.objects(DATASET, DCAT.distribution):
        checksum = graph.value(graph.value(distribution, SPDX.checksum), SPDX.checksumValue)
        name = str(graph.value(distribution, DCAT.downloadURL)).rsplit("/", 1)[1]
        assert rows[name][-1] == str(checksum)  # the SHA-256 column
    assert "Entries by the year they started" in text and "<svg" in text
    assert "Top keywords" in text


def test_the_page_links_its_data(client: FlaskClient) -> None:
    parsed, _ = page(client)
    links = {(link.get("rel"), link.get("type"), link.get("href")) for link in parsed.links}
    assert ("describedby", None, "/data/dataset") in links
    assert ("alternate", "text/turtle", "/data/dataset.ttl") in links
    assert ("alternate", "application/ld+json", "/data/dataset.jsonld") in links
    response = client.get("/page/dataset")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self'
    assert (
        client.get("/page/dataset", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )


def test_void_link_from_the_page_and_the_page_from_well_known(client: FlaskClient) -> None:
    _, text = page(client)
    assert 'href="/.well-known/void"' in text


def test_the_page_offers_each_release_to_cite(store: OxigraphStore, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    make_release(store, releases, "1.0.0", base_iri=BASE, issued=date(2026, 11, 26))
    app = create_app(
        {"TESTING": True, "DUMPS_DIR": str(tmp_path / "dumps"), "RELEASES_DIR": str(releases)},
        store=store,
    )
    client = app.test_client()
    _, text = page(client)
    assert "No release has been made yet" not in text
    assert 'href="/releases/1.0.0/"' in text and "Version 1.0.0" in text
    assert "released 2026-11-26" in text
    assert 'href="/releases/1.0.0/CITATION.cff"' in text
    # The release's own description is a release: versioned, frozen, no SPARQL endpoint.
    with client.get("/releases/1.0.0/void.ttl") as response:
        assert response.status_code == 200
        graph = rdflib.Graph().parse(data=response.data, format="turtle")
    release = URIRef(BASE + "releases/1.0.0/")
    assert (release, rdflib.OWL.versionInfo, Literal("1.0.0")) in graph
    assert (release, VOID.sparqlEndpoint, None) not in graph
    assert validate(graph).conforms


def test_without_releases_the_page_says_how_to_cite_the_live_graph(client: FlaskClient) -> None:
    _, text = page(client)
    assert "No release has been made yet" in text
    assert "cokg contributors. <cite>The co-production knowledge base</cite>" in text


def test_cokg_validate_accepts_the_served_description(client: FlaskClient, tmp_path: Path) -> None:
    # cokg validate reads files through an Oxigraph store, which keeps every integer type as
    # xsd:integer: the shapes accept that for dcat:byteSize.
    path = tmp_path / "void.ttl"
    path.write_bytes(client.get("/.well-known/void").data)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.stdout
    assert "conforms" in result.stdout


def test_labels_on_the_page_are_text_never_markup(tmp_path: Path) -> None:
    store = OxigraphStore()
    label = "<script>alert('x')</script> & co"
    store.replace_graph(
        BASE + "id/graph/e",
        f"""
        @prefix schema: <https://schema.org/> . @prefix dcterms: <http://purl.org/dc/terms/> .
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        <{BASE}id/project/e> a schema:ResearchProject ; dcterms:title "E"@en ;
            dcterms:subject <{BASE}id/concept/keywords/k> .
        <{BASE}id/concept/keywords/k> a skos:Concept ; skos:prefLabel "{label}"@en .
        """.encode(),
        TURTLE,
    )
    app = create_app({"TESTING": True, "DUMPS_DIR": str(tmp_path)}, store=store)
    parsed, text = page(app.test_client())
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in text
    assert json.loads(parsed.scripts[0])["@type"] == "Dataset"  # still one JSON-LD script
    assert len(parsed.scripts) == 1


@pytest.mark.parametrize("url", ["/", "/search", "/query", "/page/project/imagine"])
def test_every_page_shows_the_licence_and_leads_to_the_dataset(
    client: FlaskClient, url: str
) -> None:
    text = client.get(url, headers={"Accept": BROWSER}).get_data(as_text=True)
    assert '<a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>' in text
    assert 'href="/page/dataset"' in text


def test_no_dumps_yet_means_they_are_being_built(app: Flask) -> None:
    # The dumps blueprint builds every dump; an empty list means the first build still runs.
    with app.test_request_context("/page/dataset"):
        assert dataset_module.dumps_building([]) is True
    bare = Flask("bare")
    with bare.test_request_context("/"):
        assert dataset_module.dumps_building([]) is False


def test_an_unreachable_store_gives_503_with_retry_after_never_500(tmp_path: Path) -> None:
    store = SparqlStore.for_endpoint("http://127.0.0.1:9/sparql", engine="oxigraph")
    app = create_app({"TESTING": True, "DUMPS_DIR": str(tmp_path)}, store=store)
    client = app.test_client()
    for url in ("/.well-known/void", "/page/dataset", "/data/dataset.ttl", "/sitemap.xml"):
        response = client.get(url, headers={"Accept": "text/turtle"})
        assert response.status_code == 503, url
        assert response.headers["Retry-After"], url
