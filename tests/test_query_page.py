"""The query page (`/query`, server-rendered) on the shipped knowledge base, with Flask's client.

The page is read the way a browser would: parsed into elements (:class:`Page`), never matched
as raw text where structure matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyoxigraph import RdfFormat, parse

from cokg.errors import QueryTimeout, StoreUnavailable
from cokg.formats import TURTLE
from cokg.load import open_knowledge_base
from cokg.namespaces import PREFIXES
from cokg.resources import QUERIES_DIR
from cokg.server import create_app
from cokg.store import OxigraphStore

PROJECTS = "SELECT ?entry WHERE { ?entry a schema:ResearchProject } ORDER BY ?entry"
ENTRY_GRAPH = "https://w3id.org/coprod/graph/entries/imagine"
RESULTS_FORMATS = ["json", "xml", "csv", "tsv"]
GRAPH_FORMATS = ["ttl", "nt", "rdf", "jsonld"]
# The file names the endpoint gives them (Content-Disposition), by the formats' extensions.
FILE_NAMES = {"json": "results.srj", "xml": "results.srx", "csv": "results.csv"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# -- a small DOM -----------------------------------------------------------------------------

# Elements without an end tag.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def inside(self, other: Element) -> bool:
        node = self.parent
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


class Page(HTMLParser):
    """A parsed HTML page: every element in document order, each with its text content."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self._open[-1] if self._open else None
        element = Element(tag, {k: v or "" for k, v in attrs}, parent)
        if parent is not None:
            parent.children.append(element)
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find_all(self, tag: str | None = None, *, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())
        ]

    def by_id(self, id_: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_!r}"
        return found[0]

    def has_id(self, id_: str) -> bool:
        return any(e.attrs.get("id") == id_ for e in self.elements)

    def table(self) -> tuple[list[str], list[list[Element]]]:
        """The results table: its column headings and its rows of cells (row number dropped)."""
        (table,) = self.find_all("table", cls="results-table")
        heads = [e.text.strip() for e in self.elements if e.tag == "th" and e.inside(table)]
        rows = [
            [cell for cell in row.children if cell.tag == "td"][1:]
            for row in self.elements
            if row.tag == "tr" and row.inside(table) and row.parent and row.parent.tag == "tbody"
        ]
        return heads[1:], rows

    def links_in(self, container: Element) -> list[Element]:
        return [e for e in self.elements if e.tag == "a" and e.inside(container)]


def value_of(cell: Element) -> str:
    """A cell's term as shown, without its language or datatype annotation."""
    terms = [e for e in cell.children if "term" in e.classes()]
    return terms[0].text if terms else ""


def annotation_of(cell: Element) -> str | None:
    found = [e.text for e in cell.children if "annotation" in e.classes()]
    return found[0] if found else None


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowledge_base() -> Iterator[OxigraphStore]:
    store = open_knowledge_base()
    yield store
    store.close()


@pytest.fixture
def app(knowledge_base: OxigraphStore) -> Flask:
    app: Flask = create_app({"TESTING": True}, store=knowledge_base)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class FailingStore:
    """A store whose every query raises ``error`` (a timed-out or unreachable engine)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def query(self, sparql: str, **dataset: Any) -> Any:
        raise self.error


def run(client: FlaskClient, query: str, status: int = 200, **params: Any) -> Page:
    response = client.get("/query", query_string={"query": query, **params})
    assert response.status_code == status, response.get_data(as_text=True)[-3000:]
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def competency_files() -> list[Any]:
    return sorted(QUERIES_DIR.glob("cq*.rq"))


# -- the editor ------------------------------------------------------------------------------


def test_the_page_offers_every_competency_question_as_an_example(client: FlaskClient) -> None:
    response = client.get("/query")
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    examples = page.find_all("a", cls="example")
    files = [*competency_files(), QUERIES_DIR / "search-values.rq"]
    assert len(examples) == len(files) >= 16
    for link, path in zip(examples, files, strict=True):
        text = path.read_text(encoding="utf-8")
        assert link.text.strip() == text.splitlines()[0].lstrip("# ").strip()
        target = urlsplit(link.attrs["href"])
        assert target.path == "/query"
        assert parse_qs(target.query)["query"] == [text]


def test_the_search_example_answers_what_the_search_finds(client: FlaskClient) -> None:
    # The example's VALUES block is what /search.json gives for "citizens jury".
    block = client.get("/search.json?q=citizens+jury&format=sparql-values").get_data(as_text=True)
    example = (QUERIES_DIR / "search-values.rq").read_text(encoding="utf-8")
    relative = "<id/project/local-solutions-to-local-problems>"
    assert relative in example
    assert relative.replace("<", "<https://w3id.org/coprod/") in block
    page = client.get("/query", query_string={"query": example}).get_data(as_text=True)
    assert "Nick Bland" in page and "Oliver Escobar" in page


def test_an_example_link_runs_its_query_without_javascript(client: FlaskClient) -> None:
    page = Page(client.get("/query").get_data(as_text=True))
    first = page.find_all("a", cls="example")[0]
    answer = client.get(first.attrs["href"])
    assert answer.status_code == 200
    ran = Page(answer.get_data(as_text=True))
    heads, rows = ran.table()
    assert heads == ["?person", "?name", "?entry1", "?entry2"]
    assert rows
    current = [e for e in ran.find_all("a", cls="example") if e.attrs.get("aria-current")]
    assert [e.attrs["href"] for e in current] == [first.attrs["href"]]


def test_the_editor_is_a_labelled_form_that_gets_the_page(client: FlaskClient) -> None:
    page = Page(client.get("/query").get_data(as_text=True))
    (form,) = page.find_all("form")
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/query"
    editor = page.by_id("query")
    assert editor.tag == "textarea" and editor.attrs["name"] == "query" and editor.inside(form)
    assert [e.text for e in page.find_all("label") if e.attrs.get("for") == "query"] == ["Query"]
    assert "SELECT" in editor.text  # a starting query, not an empty box
    (button,) = [e for e in page.find_all("button") if e.inside(form)]
    assert button.attrs["type"] == "submit" and button.text.strip() == "Run query"
    assert page.find_all("html")[0].attrs["lang"] == "en"
    assert not page.has_id("results-heading")  # nothing ran


def test_the_predeclared_prefixes_are_listed(client: FlaskClient) -> None:
    page = Page(client.get("/query").get_data(as_text=True))
    (note,) = page.find_all("details", cls="prefixes")
    summary = page.by_id("prefix-note").text
    assert "Predeclared" in summary
    for name, namespace in PREFIXES.items():
        assert f"{name}:" in summary
        assert namespace in note.text


def test_a_blank_query_shows_the_empty_editor_and_runs_nothing(client: FlaskClient) -> None:
    page = run(client, "  \n")
    assert page.by_id("query").text == "  \n"
    assert not page.find_all("table", cls="results-table")
    assert not page.has_id("share-url")


def test_only_local_scripts_and_styles_and_no_inline_code(client: FlaskClient) -> None:
    response = client.get("/query", query_string={"query": PROJECTS})
    page = Page(response.get_data(as_text=True))
    scripts = page.find_all("script")
    styles = [e for e in page.find_all("link") if e.attrs.get("rel") == "stylesheet"]
    assert scripts and styles
    for src in [e.attrs["src"] for e in scripts] + [e.attrs["href"] for e in styles]:
        assert src.startswith("/static/"), src
        asset = client.get(src)
        assert asset.status_code == 200
        assert asset.mimetype in ("text/css", "text/javascript", "application/javascript")
        asset.close()
    assert not [e for e in page.elements if "style" in e.attrs or e.tag == "style"]
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy


# -- answers ---------------------------------------------------------------------------------


def test_select_shows_a_table_of_compact_iris_linked_to_their_local_pages(
    client: FlaskClient,
) -> None:
    page = run(client, PROJECTS)
    heads, rows = page.table()
    assert heads == ["?entry"]
    assert len(rows) == 6
    links = [page.links_in(row[0])[0] for row in rows]
    assert "/id/project/imagine" in [a.attrs["href"] for a in links]
    for link in links:
        slug = link.attrs["title"].removeprefix("https://w3id.org/coprod/id/project/")
        assert link.attrs["href"] == f"/id/project/{slug}"
        assert link.text == f"project:{slug}"
    assert page.by_id("results-summary").text.strip().startswith("6 rows · ")
    assert page.by_id("results-summary").text.strip().endswith(" ms")


def test_other_iris_link_out(client: FlaskClient) -> None:
    page = run(
        client,
        'SELECT ?org ?ror WHERE { ?org owl:sameAs ?ror FILTER(STRSTARTS(STR(?ror), "https://ror.org/")) }',
    )
    _, rows = page.table()
    assert rows
    for _, ror in rows:
        (link,) = page.links_in(ror)
        assert link.attrs["href"].startswith("https://ror.org/")
        assert link.text == f"<{link.attrs['href']}>"
        assert "external" in link.classes()


def test_iris_of_other_schemes_are_shown_but_never_linked(client: FlaskClient) -> None:
    page = run(client, 'SELECT ?x WHERE { BIND(IRI("javascript:alert(1)") AS ?x) }')
    _, [[cell]] = page.table()
    assert value_of(cell) == "<javascript:alert(1)>"
    assert not page.links_in(cell)


def test_literals_show_their_language_and_datatype_subtly(client: FlaskClient) -> None:
    page = run(
        client,
        'SELECT ?a ?b ?c ?d ?e WHERE { BIND("co-production"@en AS ?a) BIND("2018"^^xsd:gYear AS ?b) '
        'BIND("plain" AS ?c) BIND("1"^^<http://example.org/unit> AS ?d) BIND(BNODE() AS ?e) }',
    )
    _, [[a, b, c, d, e]] = page.table()
    assert (value_of(a), annotation_of(a)) == ("co-production", "@en")
    assert (value_of(b), annotation_of(b)) == ("2018", "^^xsd:gYear")
    assert (value_of(c), annotation_of(c)) == ("plain", None)
    assert (value_of(d), annotation_of(d)) == ("1", "^^<http://example.org/unit>")
    assert value_of(e).startswith("_:") and not page.links_in(e)


def test_unbound_values_are_empty_cells(client: FlaskClient) -> None:
    page = run(client, (QUERIES_DIR / "cq10-units-and-parents.rq").read_text())
    heads, rows = page.table()
    assert heads == ["?organisation", "?parent", "?ror"]
    assert [value_of(row[0]) for row in rows][:2] == [
        "Centre for Learning and Teaching",
        "Manchester Metropolitan University",
    ]
    assert value_of(rows[0][2]) == "" and rows[0][2].text == ""


def test_a_literal_with_markup_is_shown_as_text(client: FlaskClient) -> None:
    script = "<script>alert('x')</script>"
    query = f'# </textarea>{script}\nSELECT ?x WHERE {{ BIND("{script} & <b>" AS ?x) }}'
    response = client.get("/query", query_string={"query": query})
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body and "<b>" not in body
    page = Page(body)
    assert page.by_id("query").text == query  # the editor got the text back intact
    _, [[cell]] = page.table()
    assert value_of(cell) == f"{script} & <b>"
    assert len(page.find_all("script")) == 1  # only the page's own


def test_ask_is_a_clear_true_or_false(client: FlaskClient) -> None:
    yes = run(client, "ASK { ?e a schema:ResearchProject }")
    no = run(client, "ASK { ?e a schema:Nothing }")
    assert yes.find_all("span", cls="boolean-value")[0].text == "true"
    assert no.find_all("span", cls="boolean-value")[0].text == "false"
    assert not yes.find_all("table", cls="results-table")


def test_construct_shows_a_triple_table_and_the_same_triples_as_turtle(
    client: FlaskClient,
) -> None:
    page = run(
        client,
        "CONSTRUCT { ?e dcterms:title ?t } WHERE { ?e a schema:ResearchProject ; dcterms:title ?t }",
    )
    heads, rows = page.table()
    assert heads == ["subject", "predicate", "object"]
    assert len(rows) == 6
    assert {value_of(row[1]) for row in rows} == {"dcterms:title"}
    assert {annotation_of(row[2]) for row in rows} == {"@en"}
    (turtle,) = [e for e in page.find_all("code") if e.parent and e.parent.tag == "pre"]
    triples = list(parse(turtle.text.encode(), RdfFormat.TURTLE))
    assert len(triples) == 6
    assert page.by_id("results-summary").text.strip().startswith("6 triples")


def test_a_long_answer_says_how_much_is_shown(client: FlaskClient, knowledge_base: Any) -> None:
    total = knowledge_base.count()
    assert total > 1000
    page = run(client, "SELECT * WHERE { ?s ?p ?o }")
    _, rows = page.table()
    assert len(rows) == 1000
    summary = " ".join(page.by_id("results-summary").text.split())
    assert summary.startswith(f"{total:,} rows")
    assert "showing the first 1,000" in summary and f"downloads have all {total:,}" in summary


def test_the_dataset_parameters_restrict_the_query_and_are_kept(
    client: FlaskClient, knowledge_base: Any
) -> None:
    page = run(
        client,
        "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
        **{"default-graph-uri": ENTRY_GRAPH},
    )
    _, [[count]] = page.table()
    assert int(value_of(count)) == knowledge_base.count(ENTRY_GRAPH)
    (hidden,) = [e for e in page.find_all("input") if e.attrs.get("type") == "hidden"]
    assert (hidden.attrs["name"], hidden.attrs["value"]) == ("default-graph-uri", ENTRY_GRAPH)
    share = parse_qs(urlsplit(page.by_id("share-url").attrs["value"]).query)
    assert share["default-graph-uri"] == [ENTRY_GRAPH]
    for link in page.links_in(page.find_all("div", cls="downloads")[0]):
        assert parse_qs(urlsplit(link.attrs["href"]).query)["default-graph-uri"] == [ENTRY_GRAPH]


# -- downloads and sharing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "formats"),
    [
        (PROJECTS, RESULTS_FORMATS),
        ("ASK { ?s ?p ?o }", RESULTS_FORMATS),
        ("CONSTRUCT WHERE { ?s a schema:ResearchProject }", GRAPH_FORMATS),
        ("DESCRIBE <https://w3id.org/coprod/id/project/imagine>", GRAPH_FORMATS),
    ],
    ids=["select", "ask", "construct", "describe"],
)
def test_download_links_for_every_format(
    client: FlaskClient, query: str, formats: list[str]
) -> None:
    page = run(client, query)
    links = page.links_in(page.find_all("div", cls="downloads")[0])
    found = []
    for link in links:
        target = urlsplit(link.attrs["href"])
        assert target.path == "/sparql"
        params = dict(parse_qsl(target.query))
        assert params["query"] == query
        found.append(params["format"])
        name = FILE_NAMES.get(params["format"], f"results.{params['format']}")
        assert link.attrs["download"] == name
    assert found == formats


@pytest.mark.parametrize(
    "query",
    [PROJECTS, "ASK { ?s ?p ?o }", "CONSTRUCT WHERE { ?s a schema:ResearchProject }"],
    ids=["select", "ask", "construct"],
)
def test_every_download_link_answers_in_its_format(client: FlaskClient, query: str) -> None:
    """What a browser gets from each link: its format, though its Accept header prefers HTML."""
    page = run(client, query)
    links = page.links_in(page.find_all("div", cls="downloads")[0])
    assert links
    for link in links:
        answer = client.get(link.attrs["href"], headers={"Accept": BROWSER})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.mimetype == link.attrs["type"], link.text
        disposition = answer.headers.get("Content-Disposition", "")
        assert f'filename="{link.attrs["download"]}"' in disposition


def test_the_share_link_is_the_address_of_the_page(client: FlaskClient) -> None:
    # Encoded as a browser's form submission encodes it: `*` kept, spaces as `+`.
    address = "/query?query=SELECT+*%0D%0AWHERE+%7B+%3Fs+%3Fp+%3Fo+%7D+LIMIT+1+%23+%7E"
    response = client.get(address)
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    assert page.by_id("share-url").attrs["value"] == "http://localhost" + address
    assert page.by_id("share-url").attrs["readonly"] == ""
    copy = [e for e in page.find_all("button") if e.attrs.get("data-copy") == "share-url"]
    assert len(copy) == 1  # shown by the script; the link itself works without it


# -- errors ----------------------------------------------------------------------------------


def test_a_malformed_query_is_a_400_page_with_the_parser_message_and_position(
    client: FlaskClient,
) -> None:
    query = "SELECT *\nWHERE { ?s ?p ?o . FILTER( }"
    page = run(client, query, status=400)
    (box,) = page.find_all("div", cls="error-box")
    assert box.attrs["role"] == "alert"
    status = page.find_all("p", cls="error-status")[0].text
    assert "HTTP 400" in status and "line 2, column " in status
    message = page.find_all("pre", cls="error-message")[0].text
    assert "malformed query" in message and "expected" in message
    excerpt = page.find_all("pre", cls="error-excerpt")[0].text
    assert "2 | WHERE { ?s ?p ?o . FILTER( }" in excerpt and "^" in excerpt
    assert page.by_id("results").attrs["data-error-line"] == "2"
    assert page.by_id("query").text == query
    assert page.by_id("share-url").attrs["value"].startswith("http://localhost/query?query=")
    assert not page.find_all("div", cls="downloads")


def test_federated_queries_are_refused(client: FlaskClient) -> None:
    page = run(
        client, "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", status=400
    )
    assert "SERVICE" in page.find_all("pre", cls="error-message")[0].text


def test_relative_iris_resolve_against_the_base_iri_as_on_the_endpoint(
    client: FlaskClient,
) -> None:
    page = run(client, "SELECT ?title WHERE { <id/project/imagine> dcterms:title ?title }")
    _, [[title]] = page.table()
    assert value_of(title).startswith("Imagine")
    broken = run(client, "SELECT ?title\nWHERE { <id/project/imagine> dcterms:title }", status=400)
    assert "line 2, column " in broken.find_all("p", cls="error-status")[0].text
    assert "2 | WHERE" in broken.find_all("pre", cls="error-excerpt")[0].text


def test_a_query_stopped_at_the_time_limit_is_a_503_page() -> None:
    error = QueryTimeout("the query ran past the time limit of 2 s and was stopped")
    client = create_app({"TESTING": True}, store=FailingStore(error)).test_client()  # type: ignore[arg-type]
    page = run(client, PROJECTS, status=503)
    assert "took too long" in page.by_id("results-heading").text
    assert "time limit of 2 s" in page.find_all("pre", cls="error-message")[0].text
    assert page.by_id("query").text == PROJECTS


def test_an_unavailable_store_is_a_503_page_with_retry_after() -> None:
    store = FailingStore(StoreUnavailable("cannot reach the engine"))
    app = create_app({"TESTING": True, "RETRY_AFTER": 7}, store=store)  # type: ignore[arg-type]
    response = app.test_client().get("/query", query_string={"query": PROJECTS})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert "cannot reach the engine" in response.get_data(as_text=True)


def test_more_than_one_query_is_a_400_page(client: FlaskClient) -> None:
    response = client.get("/query?query=ASK+%7B%7D&query=ASK+%7B%7D")
    assert response.status_code == 400
    assert "More than one query" in Page(response.get_data(as_text=True)).by_id("results").text


# -- another base IRI, another mount point ---------------------------------------------------


def test_links_follow_the_configured_base_iri_and_mount_point() -> None:
    store = OxigraphStore()
    data = b"<http://example.org/kb/id/thing/a> a <http://example.org/kb/ontology/Thing> ."
    store.replace_graph("http://example.org/kb/graph/g", data, TURTLE)
    app = create_app({"TESTING": True, "BASE_IRI": "http://example.org/kb/"}, store=store)
    response = app.test_client().get(
        "/query",
        query_string={"query": "SELECT ?s ?type WHERE { ?s a ?type }"},
        environ_overrides={"SCRIPT_NAME": "/cokg"},
    )
    page = Page(response.get_data(as_text=True))
    _, [[thing, kind]] = page.table()
    assert page.links_in(thing)[0].attrs["href"] == "/cokg/id/thing/a"
    assert page.links_in(kind)[0].attrs["href"] == "/cokg/ontology/Thing"
    assert page.find_all("form")[0].attrs["action"] == "/cokg/query"
    assert page.by_id("share-url").attrs["value"].startswith("http://localhost/cokg/query?")


# -- the SPARQL endpoint serves the page to browsers -----------------------------------------


def test_the_endpoint_answers_browsers_with_the_page(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": PROJECTS}, headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    _, rows = page.table()
    assert len(rows) == 6
    assert page.find_all("form")[0].attrs["action"] == "/sparql"
    address = "/sparql?" + urlencode({"query": PROJECTS})
    assert page.by_id("share-url").attrs["value"] == "http://localhost" + address


def test_the_endpoint_shows_browsers_a_malformed_query_on_the_page(client: FlaskClient) -> None:
    query = "SELECT * WHERE { ?s ?p }"
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": BROWSER})
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert page.by_id("query").text == query
    assert "line 1, column " in page.find_all("p", cls="error-status")[0].text


def test_the_endpoint_without_a_query_shows_browsers_the_editor(client: FlaskClient) -> None:
    response = client.get("/sparql", headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert page.find_all("a", cls="example") and not page.has_id("results-heading")
