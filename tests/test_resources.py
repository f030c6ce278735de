"""Linked-data resources: 303 dereferencing, /data negotiation, headers, the data, the pages."""

from __future__ import annotations

import doctest
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import rdflib
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld
from pyoxigraph import parse
from rdflib.compare import isomorphic

from cokg.describe import CONTEXT, describe
from cokg.formats import RDF_FORMATS, TURTLE
from cokg.load import open_knowledge_base
from cokg.namespaces import COP, COP_ONTOLOGY, DEFAULT_BASE_IRI
from cokg.server import create_app
from cokg.store import OxigraphStore

BASE = DEFAULT_BASE_IRI
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FOAF = "http://xmlns.com/foaf/0.1/"

# (the local URL of the thing, its resource path, its IRI): one of every kind.
KINDS = [
    ("/id/project/imagine", "project/imagine"),
    ("/id/person/oliver-escobar", "person/oliver-escobar"),
    ("/id/organisation/university-of-edinburgh", "organisation/university-of-edinburgh"),
    ("/id/document/imagine-research-overview", "document/imagine-research-overview"),
    ("/id/concept/keywords/resilience", "concept/keywords/resilience"),
    ("/id/concept/participation-levels/co-produce", "concept/participation-levels/co-produce"),
    ("/id/scheme/keywords", "scheme/keywords"),
    ("/id/record/imagine", "record/imagine"),
    ("/id/period/imagine", "period/imagine"),
    ("/id/grant/es-m003922-1", "grant/es-m003922-1"),
    ("/ontology", "ontology"),
    ("/ontology/Stage", "ontology/Stage"),
    ("/ontology/participationLevel", "ontology/participationLevel"),
    ("/dataset", "dataset"),
]


def iri_of(path: str) -> str:
    if path == "ontology":
        return COP_ONTOLOGY
    if path.startswith("ontology/"):
        return COP + path.split("/", 1)[1]
    return BASE + ("dataset" if path == "dataset" else "id/" + path)


@pytest.fixture(scope="module")
def store() -> Iterator[Any]:
    kb = open_knowledge_base()
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def client(store: Any) -> FlaskClient:
    return create_app(store=store).test_client()


def test_doctests_of_the_server_modules() -> None:
    for name in ("cokg.server.resources", "cokg.server.pages"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0, name


# -- dereferencing: /id/… answers 303 ---------------------------------------------------------

ID_TABLE = [
    # (Accept, ?format) -> where the 303 leads (a suffix of /data/R, or "page")
    (None, None, ".ttl"),
    ("*/*", None, ".ttl"),
    (BROWSER, None, "page"),
    ("text/html", None, "page"),
    ("text/turtle", None, ".ttl"),
    ("application/ld+json", None, ".jsonld"),
    ("application/json", None, ".jsonld"),
    ("application/rdf+xml", None, ".rdf"),
    ("application/n-triples", None, ".nt"),
    ("application/n-quads", None, ".nq"),
    ("application/trig", None, ".trig"),
    ("text/turtle;q=0.5, application/ld+json;q=0.9", None, ".jsonld"),
    ("application/rdf+xml;q=0.2, text/html;q=0.1", None, ".rdf"),
    (BROWSER, "jsonld", ".jsonld"),
    (BROWSER, "nt", ".nt"),
    ("text/turtle", "html", "page"),
]


@pytest.mark.parametrize(("local", "path"), KINDS)
@pytest.mark.parametrize(("accept", "fmt", "target"), ID_TABLE)
def test_the_thing_answers_303_to_the_page_or_the_data(
    client: FlaskClient, local: str, path: str, accept: str | None, fmt: str | None, target: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(local, headers=headers, query_string={"format": fmt} if fmt else {})
    assert response.status_code == 303
    expected = f"/page/{path}" if target == "page" else f"/data/{path}{target}"
    assert response.headers["Location"] == expected
    assert response.headers["Vary"] == "Accept"
    assert_links(response.headers["Link"], path)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def assert_links(link: str, path: str) -> None:
    for fmt in RDF_FORMATS:
        assert f'</data/{path}.{fmt.extension}>; rel="alternate"; type="{fmt.media_type}"' in link
    assert f'</page/{path}>; rel="alternate"; type="text/html"' in link
    assert '<https://creativecommons.org/licenses/by/4.0/>; rel="license"' in link
    assert f'</data/{path}>; rel="describedby"' in link


def test_nothing_acceptable_is_a_406_listing_the_offers(client: FlaskClient) -> None:
    response = client.get("/id/person/oliver-escobar", headers={"Accept": "image/png"})
    assert response.status_code == 406
    text = response.get_data(as_text=True)
    for media_type in ("text/turtle", "application/ld+json", "application/rdf+xml", "text/html"):
        assert media_type in text


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/turtle", "text/plain"),
        ("application/json", "application/json"),
        (BROWSER, "text/html"),
    ],
)
def test_an_unknown_resource_is_a_404_in_the_negotiated_format(
    client: FlaskClient, accept: str, media_type: str
) -> None:
    for url in ("/id/person/nobody-at-all", "/data/person/nobody-at-all", "/page/person/nobody"):
        response = client.get(url, headers={"Accept": accept})
        assert response.status_code == 404, url
        assert response.mimetype == media_type, url


# -- /data/… negotiates, /data/….ext is fixed -------------------------------------------------

DATA_TABLE = [
    # (suffix, Accept, ?format) -> (status, media type, Content-Location suffix, Vary)
    ("", None, None, 200, "text/turtle", ".ttl", "Accept"),
    ("", "*/*", None, 200, "text/turtle", ".ttl", "Accept"),
    ("", BROWSER, None, 200, "application/rdf+xml", ".rdf", "Accept"),
    ("", "application/ld+json", None, 200, "application/ld+json", ".jsonld", "Accept"),
    ("", "application/n-quads", None, 200, "application/n-quads", ".nq", "Accept"),
    ("", "text/plain", None, 200, "application/n-triples", ".nt", "Accept"),
    ("", "text/turtle;q=0.1, application/trig", None, 200, "application/trig", ".trig", "Accept"),
    ("", "application/ld+json", "ttl", 200, "text/turtle", ".ttl", None),
    ("", None, "application/rdf+xml", 200, "application/rdf+xml", ".rdf", None),
    (".ttl", "application/ld+json", None, 200, "text/turtle", ".ttl", None),
    (".jsonld", None, None, 200, "application/ld+json", ".jsonld", None),
    (".rdf", None, None, 200, "application/rdf+xml", ".rdf", None),
    (".nt", None, None, 200, "application/n-triples", ".nt", None),
    (".trig", None, None, 200, "application/trig", ".trig", None),
    (".nq", None, None, 200, "application/n-quads", ".nq", None),
    ("", "image/png", None, 406, "text/plain", None, None),
    (".xyz", None, None, 404, "text/plain", None, None),
    (".xyz", BROWSER, None, 404, "text/plain", None, None),
    (".html", BROWSER, None, 404, "text/plain", None, None),
    ("", None, "nonsense", 400, "text/plain", None, None),
]


@pytest.mark.parametrize(("local", "path"), KINDS)
@pytest.mark.parametrize(
    ("suffix", "accept", "fmt", "status", "media_type", "location", "vary"), DATA_TABLE
)
def test_the_data_negotiates_or_is_fixed_by_the_extension(
    client: FlaskClient,
    local: str,
    path: str,
    suffix: str,
    accept: str | None,
    fmt: str | None,
    status: int,
    media_type: str,
    location: str | None,
    vary: str | None,
) -> None:
    headers = {"Accept": accept} if accept else {}
    query = {"format": fmt} if fmt else {}
    response = client.get(f"/data/{path}{suffix}", headers=headers, query_string=query)
    assert response.status_code == status
    assert response.mimetype == media_type
    if status != 200:
        return
    assert response.headers["Content-Location"] == f"/data/{path}{location}"
    assert response.headers.get("Vary") == vary
    assert_links(response.headers["Link"], path)
    assert response.headers["ETag"].startswith('"')  # strong
    assert response.headers["Last-Modified"]
    assert "max-age" in response.headers["Cache-Control"]
    assert "Link" in response.headers["Access-Control-Expose-Headers"]


# -- the data: parses in its format and equals the description in the store -------------------


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    if url.endswith("/context.jsonld"):
        return {"contextUrl": None, "documentUrl": url, "document": CONTEXT}
    raise AssertionError(f"the JSON-LD refers to a document other than the context: {url}")


def parsed(body: bytes, media_type: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    if media_type == "application/ld+json":
        document = json.loads(body)
        assert isinstance(document["@context"], str)
        nquads = jsonld.to_rdf(
            document, {"format": "application/n-quads", "documentLoader": _loader}
        )
        graph.parse(data=nquads, format="nt")  # pyld writes the default graph only
        return graph
    if RDF_FORMATS.by_media_type(media_type).dataset:
        # rdflib's Dataset parser warns about its own deprecations; Oxigraph reads the quads.
        fmt = RDF_FORMATS.by_media_type(media_type)
        quads = list(parse(body, format=fmt.oxigraph))
        assert all(q.graph_name.value.startswith(BASE + "data/") for q in quads)
        graph.parse(data="".join(f"{q.triple} .\n" for q in quads), format="nt")
        return graph
    rdflib_name = {"text/turtle": "turtle", "application/n-triples": "nt"}
    graph.parse(data=body, format=rdflib_name.get(media_type, "xml"))
    return graph


def description_graph(store: Any, iri: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(data="".join(f"{t} .\n" for t in describe(store, iri)), format="nt")
    return graph


@pytest.mark.parametrize(("local", "path"), KINDS)
def test_every_format_of_the_data_parses_and_equals_the_description(
    client: FlaskClient, store: Any, local: str, path: str
) -> None:
    iri = iri_of(path)
    expected = description_graph(store, iri)
    document = rdflib.URIRef(BASE + "data/" + path)
    for fmt in RDF_FORMATS:
        response = client.get(f"/data/{path}.{fmt.extension}")
        graph = parsed(response.data, fmt.media_type)
        about_document = set(graph.triples((document, None, None)))
        assert (document, rdflib.URIRef(FOAF + "primaryTopic"), rdflib.URIRef(iri)) in graph
        assert (
            document,
            rdflib.URIRef("http://purl.org/dc/terms/license"),
            rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/"),
        ) in graph
        assert (
            document,
            rdflib.URIRef("http://rdfs.org/ns/void#inDataset"),
            rdflib.URIRef(BASE + "dataset"),
        ) in graph
        for triple in about_document:
            graph.remove(triple)
        if path == "dataset":
            assert (rdflib.URIRef(iri), None, None) in graph
            continue
        assert isomorphic(graph, expected), f"{fmt.name} differs from the store's description"


def test_the_description_has_the_labels_and_types_of_what_it_points_to(store: Any) -> None:
    graph = description_graph(store, BASE + "id/project/imagine")
    person = rdflib.URIRef(BASE + "id/person/angie-hart")
    assert (person, rdflib.URIRef(FOAF + "name"), None) in graph
    assert (person, rdflib.RDF.type, rdflib.URIRef(FOAF + "Person")) in graph
    # but not what the person says beyond that
    assert (person, rdflib.URIRef("http://www.w3.org/ns/org#memberOf"), None) not in graph


def test_the_jsonld_reads_naturally_with_the_published_context(client: FlaskClient) -> None:
    context = client.get("/context.jsonld")
    assert context.status_code == 200
    assert context.mimetype == "application/ld+json"
    assert context.json == CONTEXT
    document = client.get("/data/project/imagine.jsonld").json
    assert document["@context"].endswith("/context.jsonld")
    text = json.dumps(document)
    assert '"title"' in text and '"contributor"' in text
    assert "http://purl.org/dc/terms/title" not in text


# -- conditional requests, CORS ---------------------------------------------------------------


@pytest.mark.parametrize("url", ["/data/person/oliver-escobar.ttl", "/page/project/imagine"])
def test_conditional_requests_answer_304(client: FlaskClient, url: str) -> None:
    first = client.get(url, headers={"Accept": BROWSER})
    assert first.status_code == 200
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_formats_have_their_own_etags(client: FlaskClient) -> None:
    tags = {client.get(f"/data/project/imagine.{f.extension}").headers["ETag"] for f in RDF_FORMATS}
    assert len(tags) == len(RDF_FORMATS.formats)


def test_a_write_moves_last_modified_and_the_etag(store: Any) -> None:
    local = OxigraphStore()
    local.replace_graph(BASE + "graph/t", f"<{BASE}id/person/t> <{FOAF}name> 'T' .", TURTLE)
    app = create_app(store=local)
    client = app.test_client()
    first = client.get("/data/person/t.ttl")
    local.add_to_graph(BASE + "graph/t", f"<{BASE}id/person/t> <{FOAF}nick> 'U' .", TURTLE)
    second = client.get("/data/person/t.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert "U" in second.get_data(as_text=True)


def test_cors_preflight_for_data(client: FlaskClient) -> None:
    response = client.options(
        "/data/project/imagine",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


# -- base-URL rewriting, odd IRIs, markup in literals ------------------------------------------


def test_local_paths_map_onto_the_configured_base_iri() -> None:
    base = "http://localhost:8080/kb/"
    app = create_app({"BASE_IRI": base}, store=open_knowledge_base(base_iri=base))
    client = app.test_client()
    person = client.get("/data/person/oliver-escobar.nt").get_data(as_text=True)
    assert f"<{base}id/person/oliver-escobar> " in person
    assert "https://w3id.org/coprod/id/" not in person
    term = client.get("/data/ontology/Stage.nt").get_data(as_text=True)
    assert f"<{COP}Stage> " in term
    page = client.get("/page/person/oliver-escobar").get_data(as_text=True)
    assert 'href="/page/organisation/university-of-edinburgh"' in page


ODD = ["a%23b", "a%3Fb", "a%20b", "café", "100%25"]


@pytest.fixture(scope="module")
def odd_client() -> FlaskClient:
    local = OxigraphStore()
    data = "".join(
        f'<{BASE}id/document/{slug}> <http://purl.org/dc/terms/title> "odd {slug}"@en .\n'
        f"<{BASE}id/project/p> <http://purl.org/dc/terms/relation> <{BASE}id/document/{slug}> .\n"
        for slug in ODD
    )
    data += f'<{BASE}id/project/p> <http://purl.org/dc/terms/title> "A <script>alert(1)</script> title"@en .\n'
    local.replace_graph(BASE + "graph/odd", data.encode("utf-8"), TURTLE)
    return create_app(store=local).test_client()


@pytest.mark.parametrize("slug", ODD)
def test_iris_with_odd_characters_round_trip(odd_client: FlaskClient, slug: str) -> None:
    from urllib.parse import quote

    url_slug = quote(slug, safe="%")
    response = odd_client.get(f"/id/document/{url_slug}", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/data/document/{url_slug}.ttl"
    data = odd_client.get(f"/data/document/{url_slug}.nt").get_data(as_text=True)
    assert f"<{BASE}id/document/{slug}> <http://purl.org/dc/terms/title>" in data
    page = odd_client.get(f"/page/document/{url_slug}")
    assert page.status_code == 200
    assert f"odd {slug}" in page.get_data(as_text=True)
    project = odd_client.get("/page/project/p").get_data(as_text=True)
    assert f'href="/page/document/{slug}"' in project


def test_markup_in_a_literal_is_shown_as_text(odd_client: FlaskClient) -> None:
    page = odd_client.get("/page/project/p").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "A &lt;script&gt;alert(1)&lt;/script&gt; title" in page
    embedded = page.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["@id"] == BASE + "id/project/p"


def test_markup_in_a_linked_label_and_an_iri_is_shown_as_text() -> None:
    """Values write their own HTML (pages.Value): labels and IRIs are escaped there too."""
    local = OxigraphStore()
    doc = "https://doi.org/10.1000/a&b<c>"
    data = (
        f"<{BASE}id/project/m> <http://purl.org/dc/terms/relation> <{BASE}id/document/d> .\n"
        f'<{BASE}id/document/d> <http://purl.org/dc/terms/title> "<b>bold</b> & co"@en .\n'
        f"<{BASE}id/project/m> <http://purl.org/dc/terms/relation> <{doc.replace('<', '%3C').replace('>', '%3E')}> .\n"
        f"<{doc.replace('<', '%3C').replace('>', '%3E')}> <http://purl.org/dc/terms/title> \"Doc 'q'\"@en .\n"
    )
    local.replace_graph(BASE + "graph/m", data.encode("utf-8"), TURTLE)
    page = create_app(store=local).test_client().get("/page/project/m").get_data(as_text=True)
    assert "<b>bold</b>" not in page
    assert (
        f'href="/page/document/d" title="{BASE}id/document/d">&lt;b&gt;bold&lt;/b&gt; &amp; co</a>'
        in page
    )
    assert "Doc &#39;q&#39;</a>" in page
    assert 'title="https://doi.org/10.1000/a&amp;b%3Cc%3E"' in page
    out = (
        '<a class="external out" href="https://doi.org/10.1000/a&amp;b%3Cc%3E" rel="noopener" '
        'title="https://doi.org/10.1000/a&amp;b%3Cc%3E">DOI<span class="visually-hidden"> '
        "(leaves this site)</span></a>"
    )
    assert out in page


# -- the pages ---------------------------------------------------------------------------------


def test_the_home_page_lists_every_entry(client: FlaskClient, store: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Search the co-production knowledge base" in page
    titles = [
        row["t"].value
        for row in store.query(
            "SELECT ?t WHERE { ?e a <https://schema.org/ResearchProject> ; "
            "<http://purl.org/dc/terms/title> ?t }"
        )
    ]
    assert titles
    for title in titles:
        assert title.replace("'", "&#39;") in page


def test_an_entry_page_reads_like_the_entry(client: FlaskClient) -> None:
    response = client.get("/page/project/mainstreaming-participatory-budgeting")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Mainstreaming participatory budgeting" in page
    assert "December 2018" in page
    assert 'href="/page/concept/keywords/participatory-budgeting"' in page
    assert 'href="/page/person/oliver-escobar">Oliver Escobar</a>' in page
    assert "University of Edinburgh" in page
    assert "No link given in the source" in page
    assert '<script type="application/ld+json">' in page
    assert "Open in the query page" in page and 'href="/query?query=' in page
    assert_links(response.headers["Link"], "project/mainstreaming-participatory-budgeting")


def test_an_entry_page_shows_the_queries_of_its_reading_view(client: FlaskClient) -> None:
    entry = client.get("/page/project/value-co-creation-greater-manchester").get_data(as_text=True)
    assert "<summary>The contributors and documents of the entry</summary>" in entry
    assert "<summary>The authors of the documents" in entry
    document = client.get("/page/document/theory-of-change-guide").get_data(as_text=True)
    assert "The contributors and documents of the entry" not in document


def test_outbound_identifiers_are_marked(client: FlaskClient) -> None:
    page = client.get("/page/organisation/university-of-edinburgh").get_data(as_text=True)
    assert 'class="term iri external" href="https://ror.org/' in page
    assert ">ROR</span>" in page


@pytest.mark.parametrize("many", [250, 450])  # fetched with the page's first queries, or not
def test_inverse_links_are_grouped_with_counts_and_paged(many: int) -> None:
    local = OxigraphStore()
    data = "".join(
        f"<{BASE}id/project/p{i}> <http://purl.org/dc/terms/subject> <{BASE}id/concept/k/x> .\n"
        for i in range(many)
    )
    local.replace_graph(BASE + "graph/many", data, TURTLE)
    client = create_app(store=local).test_client()
    page = client.get("/page/concept/k/x").get_data(as_text=True)
    assert f'<span class="count">{many}</span>' in page
    assert f"Showing 1–100 of {many}" in page
    assert page.count('href="/page/project/p') == 100
    subject = "http://purl.org/dc/terms/subject"
    end = (many // 100) * 100
    last = client.get("/page/concept/k/x", query_string={"inverse": subject, "offset": end})
    text = last.get_data(as_text=True)
    assert f"Showing {end + 1}–{many} of {many}" in text
    assert text.count('href="/page/project/p') == many - end
    # in the order of their IRIs (none has a name): p0, p1, p10, p100…
    shown = sorted(f"p{i}" for i in range(many))[end:]
    positions = [text.index(f'href="/page/project/{name}"') for name in shown]
    assert positions == sorted(positions)


@pytest.fixture(scope="module")
def backlinked() -> FlaskClient:
    """An app whose concept k/x has 450 backlinks and whose person p0 knows 450 people."""
    local = OxigraphStore()
    data = "".join(
        f"<{BASE}id/project/p{i}> <http://purl.org/dc/terms/subject> <{BASE}id/concept/k/x> .\n"
        f"<{BASE}id/person/p0> <http://xmlns.com/foaf/0.1/knows> <{BASE}id/person/f{i}> .\n"
        for i in range(450)
    )
    local.replace_graph(BASE + "graph/many", data, TURTLE)
    return create_app(store=local).test_client()


_LISTS = [
    ("/page/concept/k/x", "inverse", "http://purl.org/dc/terms/subject"),
    ("/page/person/p0", "values", "http://xmlns.com/foaf/0.1/knows"),
]


@pytest.mark.parametrize(("path", "group", "prop"), _LISTS)
@pytest.mark.parametrize("offset", ["5_0", "-5", "+50", "1e3", "abc", "\u0665", "5 0", "0x10"])
def test_a_malformed_offset_is_a_clear_400(
    backlinked: FlaskClient, path: str, group: str, prop: str, offset: str
) -> None:
    answer = backlinked.get(
        path, query_string={group: prop, "offset": offset}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"] == f"offset must be a whole number from 0, not {offset!r}"


@pytest.mark.parametrize(("path", "group", "prop"), _LISTS)
@pytest.mark.parametrize(
    ("offset", "shown"),
    [
        ("", "1–100"),
        (" 50 ", "51–150"),
        ("0000000000000000000000050", "51–150"),
        ("449", "450–450"),
        ("450", "401–450"),  # past the end: the last page
        ("18446744073709551616", "401–450"),  # more than the engine's OFFSET takes
        ("9" * 5000, "401–450"),  # more digits than int() reads
    ],
)
def test_an_offset_pages_and_one_past_the_end_shows_the_last_page(
    backlinked: FlaskClient, path: str, group: str, prop: str, offset: str, shown: str
) -> None:
    answer = backlinked.get(path, query_string={group: prop, "offset": offset})
    assert answer.status_code == 200
    assert f"Showing {shown} of 450." in answer.get_data(as_text=True)


def test_the_ontology_page_documents_every_term(client: FlaskClient, store: Any) -> None:
    page = client.get("/page/ontology").get_data(as_text=True)
    terms = [
        row["t"].value
        for row in store.query(
            f"SELECT ?t WHERE {{ ?t <http://www.w3.org/2000/01/rdf-schema#isDefinedBy> <{COP_ONTOLOGY}> }}"
        )
    ]
    assert len(terms) >= 8
    for term in terms:
        assert f"<code>{term}</code>" in page


def test_a_scheme_page_shows_the_hierarchy(client: FlaskClient) -> None:
    page = client.get("/page/scheme/participation-levels").get_data(as_text=True)
    assert '<ul class="tree">' in page
    assert 'href="/page/concept/participation-levels/co-produce"' in page


def test_many_values_of_one_property_are_paged_and_long_literals_render() -> None:
    local = OxigraphStore()
    many = 1500
    long_text = "word " * 20_000
    data = "".join(
        f"<{BASE}id/person/busy> <http://xmlns.com/foaf/0.1/knows> <{BASE}id/person/f{i:04}> .\n"
        for i in range(many)
    )
    data += f'<{BASE}id/person/busy> <http://purl.org/dc/terms/description> "{long_text}" .\n'
    local.replace_graph(BASE + "graph/busy", data, TURTLE)
    client = create_app(store=local).test_client()
    page = client.get("/page/person/busy").get_data(as_text=True)
    assert f'<span class="count">{many}</span>' in page
    assert f"Showing 1–100 of {many}" in page
    assert long_text.strip() in page
    last = client.get(
        "/page/person/busy",
        query_string={"values": "http://xmlns.com/foaf/0.1/knows", "offset": 1400},
    ).get_data(as_text=True)
    assert f"Showing 1401–{many} of {many}" in last
    assert f"{BASE}id/person/f1499" in last and f"{BASE}id/person/f0001<" not in last
    turtle = client.get("/data/person/busy.nt").get_data(as_text=True)
    assert turtle.count("<http://xmlns.com/foaf/0.1/knows>") == many  # the data has them all


def test_document_authors_keep_their_order(client: FlaskClient) -> None:
    page = client.get("/page/project/value-co-creation-greater-manchester").get_data(as_text=True)
    names = ["Bernadette Best", "Sandra Moffett", "Claire Hannibal", "Rodney McAdam"]
    positions = [page.index(f">{name}</a>, ") for name in names[:-1]]
    assert positions == sorted(positions)


def test_other_extensions_of_a_format_are_fixed_too(client: FlaskClient) -> None:
    response = client.get("/data/person/oliver-escobar.json")
    assert response.mimetype == "application/ld+json"
    assert response.headers["Content-Location"] == "/data/person/oliver-escobar.jsonld"


def test_no_iri_becomes_a_script_link() -> None:
    local = OxigraphStore()
    data = f"<{BASE}id/project/j> <javascript:alert(1)> <javascript:alert(2)> .\n"
    local.replace_graph(BASE + "graph/j", data, TURTLE)
    page = create_app(store=local).test_client().get("/page/project/j").get_data(as_text=True)
    assert "javascript:alert" in page  # shown as text
    assert 'href="javascript:' not in page


def test_head_answers_like_get_without_a_body(client: FlaskClient) -> None:
    get = client.get("/data/project/imagine.ttl")
    head = client.head("/data/project/imagine.ttl")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert client.head("/id/project/imagine").status_code == 303


@pytest.mark.parametrize("url", ["/", "/page/project/value-co-creation-greater-manchester"])
def test_the_sparql_behind_a_page_runs_in_the_query_page(client: FlaskClient, url: str) -> None:
    import html
    import re

    page = client.get(url).get_data(as_text=True)
    links = re.findall(r'href="(/query\?query=[^"]+)"', page)
    assert links
    for link in links:
        answer = client.get(html.unescape(link), headers={"Accept": BROWSER})
        assert answer.status_code == 200, link


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1))
def test_any_literal_survives_the_page_and_every_format(text: str) -> None:
    from markupsafe import escape
    from pyoxigraph import Literal, NamedNode, Quad

    local = OxigraphStore()
    subject = NamedNode(BASE + "id/project/any")
    title = NamedNode("http://purl.org/dc/terms/title")
    local.replace_graph(
        BASE + "graph/any",
        f"{Quad(subject, title, Literal(text, language='en'))} .\n".encode(),
        TURTLE,
    )
    client = create_app(store=local).test_client()
    page = client.get("/page/project/any").get_data(as_text=True)
    assert f'<span class="term literal">{escape(text)}</span>' in page
    for fmt in RDF_FORMATS:
        graph = parsed(client.get(f"/data/project/any.{fmt.extension}").data, fmt.media_type)
        values = {
            str(o) for o in graph.objects(rdflib.URIRef(subject.value), rdflib.URIRef(title.value))
        }
        assert values == {text}, fmt.name


# -- IRIs outside the base: a document whose IRI is its DOI has a page and data here ----------

# 10.1000 is the DOI Handbook's example prefix: these DOIs name no real work.
DOI = "https://doi.org/10.1000/cokg-test.1"
ODD_DOIS = [
    "https://doi.org/10.1000/a%3Cb%3E",  # escaped as the DOI rules of cokg.ids write it
    "https://doi.org/10.1000/a&b+c=d",
    "https://doi.org/10.1000/caf\u00e9",
    "https://doi.org/10.1000/a%23b%3Fc",
    "https://doi.org/10.1000/(sici)1;2:3",
]
ORCID = "https://orcid.org/0000-0002-1825-0097"  # ORCID's own documentation example
DCTERMS = "http://purl.org/dc/terms/"


def external_store() -> OxigraphStore:
    local = OxigraphStore()
    documents = [DOI, *ODD_DOIS]
    data = "".join(
        f"<{BASE}id/project/p> <{DCTERMS}relation> <{doi}> .\n"
        f'<{doi}> a <https://schema.org/ScholarlyArticle> ; <{DCTERMS}title> "Paper {i}"@en ;\n'
        f'  <{DCTERMS}issued> "2018"^^<http://www.w3.org/2001/XMLSchema#gYear> ;\n'
        f'  <{DCTERMS}bibliographicCitation> "Journal of Tests, {i}:1" ;\n'
        f"  <{DCTERMS}creator> <{BASE}id/person/ann> .\n"
        for i, doi in enumerate(documents)
    )
    data += (
        f"<{BASE}id/project/p> a <https://schema.org/ResearchProject> ; "
        f'<{DCTERMS}title> "Project P"@en ; <https://w3id.org/coprod/ontology/output> <{DOI}> .\n'
        f'<{BASE}id/person/ann> <{FOAF}name> "Ann Author" ; '
        f"<http://www.w3.org/2002/07/owl#sameAs> <{ORCID}> .\n"
        f'<{BASE}id/person/zed> <{FOAF}name> "Zed Writer" .\n'
        f"<{DOI}> <{DCTERMS}creator> <{BASE}id/person/zed> ; "
        f"<https://schema.org/author> (<{BASE}id/person/zed> <{BASE}id/person/ann>) .\n"
    )
    local.replace_graph(BASE + "graph/external", data.encode("utf-8"), TURTLE)
    return local


@pytest.fixture(scope="module")
def external_client() -> FlaskClient:
    return create_app(store=external_store()).test_client()


def q(iri: str) -> str:
    """The ``uri=`` query string as the server writes it."""
    from urllib.parse import quote

    return "uri=" + quote(iri, safe=":/")


EXTERNAL_TABLE = [
    # (route, Accept, ?format) -> (status, Location or Content-Location, media type, Vary)
    ("/describe", None, None, 303, "/data.ttl", "text/plain", "Accept"),
    ("/describe", BROWSER, None, 303, "/page", "text/plain", "Accept"),
    ("/describe", "application/ld+json", None, 303, "/data.jsonld", "text/plain", "Accept"),
    ("/describe", BROWSER, "nt", 303, "/data.nt", "text/plain", "Accept"),
    ("/describe", "image/png", None, 406, None, "text/plain", None),
    ("/data", None, None, 200, "/data.ttl", "text/turtle", "Accept"),
    ("/data", "application/rdf+xml", None, 200, "/data.rdf", "application/rdf+xml", "Accept"),
    ("/data", "application/ld+json", "ttl", 200, "/data.ttl", "text/turtle", None),
    ("/data", "image/png", None, 406, None, "text/plain", None),
    ("/data.ttl", "application/ld+json", None, 200, "/data.ttl", "text/turtle", None),
    ("/data.jsonld", None, None, 200, "/data.jsonld", "application/ld+json", None),
    ("/data.json", None, None, 200, "/data.jsonld", "application/ld+json", None),
    ("/data.nq", None, None, 200, "/data.nq", "application/n-quads", None),
    ("/data.ttl", None, "jsonld", 406, None, "text/plain", None),
    ("/data.xyz", None, None, 404, None, "text/plain", None),
    ("/page", BROWSER, None, 200, None, "text/html", None),
]


@pytest.mark.parametrize("iri", [DOI, *ODD_DOIS])
@pytest.mark.parametrize(
    ("route", "accept", "fmt", "status", "location", "media_type", "vary"), EXTERNAL_TABLE
)
def test_an_external_iri_the_store_describes_has_its_page_and_data_here(
    external_client: FlaskClient,
    iri: str,
    route: str,
    accept: str | None,
    fmt: str | None,
    status: int,
    location: str | None,
    media_type: str,
    vary: str | None,
) -> None:
    headers = {"Accept": accept} if accept else {}
    url = f"{route}?{q(iri)}" + (f"&format={fmt}" if fmt else "")
    response = external_client.get(url, headers=headers)
    assert response.status_code == status
    assert response.mimetype == media_type
    if status == 303:
        assert response.headers["Location"] == f"{location}?{q(iri)}"
    if status == 200 and location:
        assert response.headers["Content-Location"] == f"{location}?{q(iri)}"
        assert response.headers["ETag"].startswith('"')
        assert response.headers["Last-Modified"]
    if status in (200, 303):
        assert response.headers.get("Vary") == vary
        link = response.headers["Link"]
        for f in RDF_FORMATS:
            assert f'</data.{f.extension}?{q(iri)}>; rel="alternate"; type="{f.media_type}"' in link
        assert f'</page?{q(iri)}>; rel="alternate"; type="text/html"' in link
        assert f'</data?{q(iri)}>; rel="describedby"' in link


@pytest.mark.parametrize("iri", [DOI, *ODD_DOIS])
def test_the_data_about_an_external_iri_is_its_description(
    external_client: FlaskClient, iri: str
) -> None:
    store = external_store()
    expected = description_graph(store, iri)
    document = rdflib.URIRef(f"{BASE}data?{q(iri)}")
    for fmt in RDF_FORMATS:
        response = external_client.get(f"/data.{fmt.extension}?{q(iri)}")
        graph = parsed_any(response.data, fmt.media_type)
        assert (document, rdflib.URIRef(FOAF + "primaryTopic"), rdflib.URIRef(iri)) in graph
        for triple in list(graph.triples((document, None, None))):
            graph.remove(triple)
        assert isomorphic(graph, expected), fmt.name


def parsed_any(body: bytes, media_type: str) -> rdflib.Graph:
    """Like :func:`parsed`, for data documents outside ``{base}data/``."""
    if RDF_FORMATS.by_media_type(media_type).dataset:
        fmt = RDF_FORMATS.by_media_type(media_type)
        quads = list(parse(body, format=fmt.oxigraph))
        assert {q.graph_name.value for q in quads} == {quads[0].graph_name.value}
        graph = rdflib.Graph()
        graph.parse(data="".join(f"{q.triple} .\n" for q in quads), format="nt")
        return graph
    return parsed(body, media_type)


@pytest.mark.parametrize("iri", [DOI, *ODD_DOIS])
def test_the_page_of_a_doi_document_shows_its_description(
    external_client: FlaskClient, iri: str
) -> None:
    import html

    page = external_client.get(f"/page?{q(iri)}").get_data(as_text=True)
    assert f'<code class="iri-copy" data-copy>{html.escape(iri)}</code>' in page
    assert "Journal of Tests" in page and ">2018<" in page
    assert f'href="/page/person/ann" title="{BASE}id/person/ann">Ann Author</a>' in page
    assert 'href="/page/project/p"' in page  # the inverse link back to the entry
    assert f"<h1>Paper {[DOI, *ODD_DOIS].index(iri)}</h1>" in page


def test_a_document_page_reads_like_a_reference(external_client: FlaskClient) -> None:
    page = external_client.get(f"/page?{q(DOI)}").get_data(as_text=True)
    view = page.split('<section class="document"', 1)[1].split("</section>", 1)[0]
    zed, ann = view.index(">Zed Writer</a>"), view.index(">Ann Author</a>")
    assert zed < ann  # the order of the schema:author list, not the alphabet
    assert "<dt>Issued</dt><dd>2018</dd>" in view
    assert '<dd class="citation">Journal of Tests, 0:1</dd>' in view
    assert '<a href="/page/project/p">Project P</a>' in view  # the entry it belongs to
    assert f'<a class="external out" href="{DOI}" rel="noopener">Open at DOI' in page


def test_the_entry_links_the_doi_document_here_and_out(external_client: FlaskClient) -> None:
    page = external_client.get("/page/project/p").get_data(as_text=True)
    assert f'<a href="/page?{q(DOI)}">Paper 0</a>' in page  # the entry's outputs
    assert f'<a class="term iri" href="/page?{q(DOI)}" title="{DOI}">Paper 0</a>' in page
    out = f'<a class="external out" href="{DOI}" rel="noopener"'
    assert page.count(out) >= 2  # in the reading view and in the semantic view
    for doi in ODD_DOIS:
        assert f'href="/page?{q(doi)}"'.replace("&", "&amp;") in page


def test_a_doi_document_is_linked_here_from_the_inverse_links(
    external_client: FlaskClient,
) -> None:
    page = external_client.get("/page/person/ann").get_data(as_text=True)
    assert f'href="/page?{q(DOI)}"' in page
    assert f'href="{ORCID}"' in page  # the ORCID is only linked to: it leads out


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/page?{q(ORCID)}", 404),  # only the object of owl:sameAs: not described here
        (f"/data.ttl?{q(ORCID)}", 404),
        (f"/describe?{q(ORCID)}", 404),
        (f"/page?{q('https://doi.org/10.1000/unknown')}", 404),
        (f"/describe?{q('https://evil.example/')}", 404),
        ("/page", 400),
        ("/data.ttl", 400),
        ("/describe?uri=", 400),
        ("/page?uri=not-an-iri", 400),
        ("/page?uri=http://a%20b", 400),
        (f"/describe?{q(DOI)}&{q(ORCID)}", 400),
    ],
)
def test_unknown_or_malformed_iris_are_a_clear_4xx(
    external_client: FlaskClient, url: str, status: int
) -> None:
    for accept in (BROWSER, "text/turtle"):
        response = external_client.get(url, headers={"Accept": accept})
        assert response.status_code == status, url
        assert "Location" not in response.headers


def test_a_local_iri_named_by_uri_leads_to_its_own_url(external_client: FlaskClient) -> None:
    person = BASE + "id/person/ann"
    page = external_client.get(f"/page?{q(person)}")
    assert (page.status_code, page.headers["Location"]) == (303, "/page/person/ann")
    data = external_client.get(f"/data.nt?{q(person)}")
    assert (data.status_code, data.headers["Location"]) == (303, "/data/person/ann.nt")
    thing = external_client.get(f"/describe?{q(person)}", headers={"Accept": "text/turtle"})
    assert (thing.status_code, thing.headers["Location"]) == (303, "/data/person/ann.ttl")


def test_an_external_iri_is_never_fetched() -> None:
    """No SSRF: the server answers from the store and never requests the IRI it is given."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        iri = f"http://127.0.0.1:{server.server_address[1]}/doc"
        local = external_store()
        local.add_to_graph(BASE + "graph/x", f'<{iri}> <{DCTERMS}title> "Here" .', TURTLE)
        client = create_app(store=local).test_client()
        for url in ("/describe", "/page", "/data", "/data.ttl"):
            assert client.get(f"{url}?{q(iri)}", headers={"Accept": BROWSER}).status_code in (
                200,
                303,
            )
        assert client.get(f"/page?{q(iri)}/unknown").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_the_inverse_links_of_an_external_page_page_with_its_uri() -> None:
    local = OxigraphStore()
    many = 150
    data = "".join(
        f"<{BASE}id/project/p{i:03}> <{DCTERMS}relation> <{DOI}> .\n" for i in range(many)
    )
    data += f'<{DOI}> <{DCTERMS}title> "Popular"@en .\n'
    local.replace_graph(BASE + "graph/many", data, TURTLE)
    client = create_app(store=local).test_client()
    page = client.get(f"/page?{q(DOI)}").get_data(as_text=True)
    assert f"Showing 1–100 of {many}" in page
    relation = f"{DCTERMS}relation"
    from urllib.parse import urlencode

    following = f"/page?{q(DOI)}&{urlencode({'inverse': relation, 'offset': 100})}#i0"
    assert f'href="{following.replace("&", "&amp;")}"' in page
    text = client.get(following.split("#")[0]).get_data(as_text=True)
    assert f"Showing 101–{many} of {many}" in text
