"""/search and /search.json on the shipped knowledge base, in memory; writes through GSP."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import parse_qsl, quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cokg.load import open_knowledge_base
from cokg.search import FacetValue, Hit
from cokg.server import create_app
from cokg.server.search import facet_items, facet_urls, hit_items
from tests.test_search import BAD_INPUTS, KB, MINI_PUBLIC, NEW, NEW_GRAPH, PB, WELSH, entry_turtle

TOKEN = "search-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app() -> Flask:
    settings = {"TESTING": True, "WRITE_TOKEN": TOKEN, "SEARCH_CHECK_SECONDS": 3600}
    return create_app(settings, store=open_knowledge_base())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def hits(client: FlaskClient, query: str) -> list[str]:
    response = client.get("/search.json?" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [hit["iri"] for hit in response.json["hits"]]  # type: ignore[index]


def test_search_json_answers_the_acceptance_queries(client: FlaskClient) -> None:
    assert hits(client, "q=participatory+budgeting")[0] == PB
    assert MINI_PUBLIC in hits(client, "q=citizens+jury")
    assert hits(client, "q=coproduction")[0] == WELSH
    years = hits(client, "from=2014&to=2016")
    assert WELSH in years and PB not in years


def test_search_json_has_scores_snippets_facets_and_paging_links(client: FlaskClient) -> None:
    answer = client.get("/search.json?q=co*&size=2&keyword=co-production").json
    assert answer is not None
    hit = answer["hits"][0]
    assert hit["iri"].startswith("https://w3id.org/coprod/id/project/")
    assert hit["href"].startswith("/id/project/")
    assert isinstance(hit["score"], float) and "snippet_html" in hit
    assert set(answer["facets"]) == {"keyword", "approach", "organisation", "person", "type"}
    assert any(v.get("selected") for v in answer["facets"]["keyword"])
    assert answer["links"]["self"] == "/search.json?q=co%2A&size=2&keyword=co-production&page=1"

    every = client.get("/search.json?size=2").json
    assert every is not None and every["pages"] == 3
    second = client.get(every["links"]["next"]).json
    assert second is not None and second["page"] == 2 and "prev" in second["links"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/html", "text/html"),
        ("application/json", "application/json"),
        ("application/json;q=0.9, text/html", "text/html"),
        ("*/*", "text/html"),
        ("", "text/html"),
    ],
)
def test_search_negotiates(client: FlaskClient, accept: str, media_type: str) -> None:
    response = client.get("/search?q=budgeting", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == media_type
    assert "Accept" in response.vary


def test_search_refuses_what_it_cannot_offer(client: FlaskClient) -> None:
    assert client.get("/search", headers={"Accept": "image/png"}).status_code == 406


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_never_gives_a_500(client: FlaskClient, text: str) -> None:
    for path in ("/search?q=", "/search.json?q=", "/search.json?format=sparql-values&q="):
        response = client.get(path + quote(text))
        assert response.status_code == 200, (path, text, response.get_data(as_text=True))


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=0",
        "page=-1",
        "page=99999999999999999999999",
        "size=0",
        "from=x",
        "to=20x",
        "from=2020&to=2010",
        "from=99999999999999999999999",
        "to=-99999999999999999999999",
        "size=5_0",  # what Python's int() reads as 50
        "page=%D9%A2",  # an Arabic-Indic two
        "from=%EF%BC%92%EF%BC%90%EF%BC%91%EF%BC%94",  # a full-width 2014
        "to=0x7e6",
    ],
)
def test_bad_parameters_are_a_clear_400(client: FlaskClient, query: str) -> None:
    for path in ("/search.json?", "/search?"):
        response = client.get(path + query, headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json and response.json["error"]


def test_a_large_page_size_is_capped_and_unknown_parameters_ignored(client: FlaskClient) -> None:
    answer = client.get("/search.json?size=100000&colour=red").json
    assert answer is not None and answer["size"] == 100 and answer["total"] == 6


def test_the_page_shows_hits_facets_and_escapes(client: FlaskClient) -> None:
    page = client.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E+budgeting").get_data(
        as_text=True
    )
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    response = client.get("/search?q=participatory+budgeting")
    assert response.headers["Link"] == (
        '</search.json?q=participatory+budgeting>; rel="alternate"; type="application/json"'
    )
    page = response.get_data(as_text=True)
    assert 'href="/id/project/mainstreaming-participatory-budgeting"' in page
    assert "<mark>" in page and 'id="facet-keyword"' in page


def facet_hrefs(page: str, facet: str) -> dict[str, tuple[str, bool]]:
    """The facet's values on the search page: label -> (link, whether it is selected)."""
    section = page.split(f'id="facet-{facet}"', 1)[1].split("</section>", 1)[0]
    found = {}
    for item in section.split("<li")[1:]:
        link = item.split('href="', 1)[1].split('"', 1)[0]
        label = item.split('class="facet-label">', 1)[1].split("<", 1)[0]
        found[label] = (html.unescape(link), 'aria-current="true"' in item)
    return found


def test_hits_are_written_as_text_with_their_matches_marked(app: Flask) -> None:
    hits = [
        Hit(
            KB + 'id/project/a"b',
            "",
            1.0,
            '<img src=x onerror="alert(1)"> \x02jury\x03',
            "Tom & \x02Jerry\x03's <b>",
            "<i>2018</i>",
            2018,
            2018,
        ),
        Hit("https://elsewhere.example/x?a=1&b=2", "", None, "Other", "", None, None, None),
    ]
    with app.test_request_context("/search"):
        written = str(hit_items(hits, KB))
    assert "<img" not in written and "<b>" not in written and "<i>" not in written
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; <mark>jury</mark>" in written
    assert "Tom &amp; <mark>Jerry</mark>&#x27;s &lt;b&gt;" in written
    assert '<p class="hit-period">&lt;i&gt;2018&lt;/i&gt;</p>' in written
    assert 'href="/id/project/a&quot;b"' in written  # this server's page, the quote escaped
    assert 'href="https://elsewhere.example/x?a=1&amp;b=2"' in written  # not under the base
    assert written.count('<li class="hit">') == 2 and written.count("hit-period") == 1


def test_facet_values_are_written_as_text(app: Flask) -> None:
    """A facet's label and link are data: markup in them is shown, never run, and each link,
    escaped once for all of a facet's values, reads back as the URL it stands for."""
    values = [
        FacetValue("keyword", "a", "https://kb.example/a", '<img src=x onerror="alert(1)">', 3),
        FacetValue("keyword", "b", "https://kb.example/b", "Tom & Jerry's", 1, selected=True),
        FacetValue("keyword", 'c&d"<é> +', "https://kb.example/c", "C", 2),
    ]
    query = "/search?q=%22x%22+%26+%3Cy%3E&keyword=b&from=2010"
    with app.test_request_context(query):
        urls = facet_urls("/search", "keyword", ["b"], values)
        hrefs = facet_urls("/search", "keyword", ["b"], values, escaped=True)
        written = str(facet_items(values, hrefs))
    assert [html.unescape(href) for href in hrefs] == urls
    assert urls[0] == "/search?q=%22x%22+%26+%3Cy%3E&from=2010&keyword=b&keyword=a"
    assert urls[1] == "/search?q=%22x%22+%26+%3Cy%3E&from=2010"  # b taken out
    assert urls[2].endswith("&keyword=c%26d%22%3C%C3%A9%3E+%2B")
    assert "<img" not in written and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in written
    assert "Tom &amp; Jerry&#x27;s" in written
    assert '"' not in "".join(hrefs) and "<" not in "".join(hrefs)
    selected = written.splitlines()[1]
    assert selected.startswith('<li class="selected">') and 'aria-current="true"' in selected
    assert '<span class="facet-count">3</span>' in written


def test_facet_links_add_or_remove_one_value_and_keep_the_rest(client: FlaskClient) -> None:
    """A facet value's link keeps the text, the years and the other chosen values, adds the
    value (or, for a chosen one, takes it out) and goes back to the first page."""
    query = "q=co-production&from=2010&keyword=community-empowerment&page=1&size=5"
    page = client.get("/search?" + query).get_data(as_text=True)
    keywords = facet_hrefs(page, "keyword")
    chosen_link, selected = keywords["community empowerment"]
    assert selected
    assert parse_qsl(chosen_link.split("?", 1)[1]) == [
        ("q", "co-production"),
        ("from", "2010"),
        ("size", "5"),
    ]
    others = {label: link for label, (link, chosen) in keywords.items() if not chosen}
    assert others
    for link in others.values():
        pairs = parse_qsl(link.split("?", 1)[1])
        assert pairs[:4] == [
            ("q", "co-production"),
            ("from", "2010"),
            ("size", "5"),
            ("keyword", "community-empowerment"),
        ]
        assert len(pairs) == 5 and pairs[4][0] == "keyword" and "page" not in dict(pairs)
    # following a link narrows the results to entries with both keywords
    label, link = next(iter(others.items()))
    narrowed = client.get(link).get_data(as_text=True)
    assert facet_hrefs(narrowed, "keyword")[label][1]


def test_no_results_say_so_with_a_suggestion(client: FlaskClient) -> None:
    page = client.get("/search?q=participatory+zzzqqq").get_data(as_text=True)
    assert "No entries match" in page and "Suggestion:" in page


def test_sparql_values_block(client: FlaskClient) -> None:
    response = client.get("/search.json?q=citizens+jury&format=sparql-values")
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == f"VALUES ?entry {{ <{MINI_PUBLIC}> }}\n"


def test_an_entry_written_through_the_graph_store_is_found_next_request(
    client: FlaskClient,
) -> None:
    assert hits(client, "q=quarkly") == []  # builds the index first
    url = f"/rdf-graph-store?graph={quote(NEW_GRAPH, safe='')}"
    headers = {**AUTH, "Content-Type": "text/turtle"}
    written = client.put(url, data=entry_turtle("Quarkly Deliberation"), headers=headers)
    assert written.status_code in (201, 204), written.get_data(as_text=True)
    assert hits(client, "q=quarkly") == [NEW]
    assert NEW in hits(client, "keyword=participatory-budgeting")

    deleted = client.delete(url, headers=AUTH)
    assert deleted.status_code == 204
    assert hits(client, "q=quarkly") == []


def test_an_entry_written_by_sparql_update_is_found_next_request(client: FlaskClient) -> None:
    assert hits(client, "q=quarkly") == []
    update = (
        f"INSERT DATA {{ GRAPH <{NEW_GRAPH}> {{ <{NEW}> a schema:ResearchProject ; "
        'dcterms:title "Quarkly"@en }}'
    )
    response = client.post("/sparql", data={"update": update}, headers=AUTH)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert hits(client, "q=quarkly") == [NEW]


def index_builds(app: Flask) -> int:
    from cokg.server.search import EXTENSION

    return int(app.extensions[EXTENSION].index.builds)


def update(client: FlaskClient, text: str) -> None:
    response = client.post("/sparql", data={"update": text}, headers=AUTH)
    assert response.status_code in (200, 204), response.get_data(as_text=True)


def test_a_sparql_update_is_applied_without_a_rebuild(app: Flask, client: FlaskClient) -> None:
    assert hits(client, "q=quarkly") == []  # builds the index
    assert index_builds(app) == 1
    update(
        client,
        f"INSERT DATA {{ GRAPH <{NEW_GRAPH}> {{ <{NEW}> a schema:ResearchProject ; "
        'dcterms:title "Quarkly"@en ; dcterms:subject <https://w3id.org/coprod/id/concept/'
        f"keywords/participatory-budgeting> }} }}",
    )
    assert hits(client, "q=quarkly") == [NEW]
    assert NEW in hits(client, "keyword=participatory-budgeting")
    # the default graph: the subject bounds the change; the entry that links to it follows
    person = "https://w3id.org/coprod/id/person/oliver-escobar"
    update(client, f'INSERT DATA {{ <{person}> foaf:name "Zorblax" }}')
    assert MINI_PUBLIC in hits(client, "q=zorblax")
    update(client, f"WITH <{NEW_GRAPH}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}")
    assert hits(client, "q=quarkly") == []
    update(client, f"DROP GRAPH <{KB}graph/entries/mainstreaming-participatory-budgeting>")
    assert PB not in hits(client, "q=budgeting")
    assert index_builds(app) == 1


def test_a_sparql_update_that_cannot_be_bounded_rebuilds(app: Flask, client: FlaskClient) -> None:
    assert hits(client, "q=quarkly") == []
    update(
        client,
        f"INSERT {{ GRAPH ?g {{ <{NEW}> a schema:ResearchProject ; "
        'dcterms:title "Quarkly"@en } } '
        f"WHERE {{ VALUES ?g {{ <{NEW_GRAPH}> }} }}",
    )
    assert hits(client, "q=quarkly") == [NEW]
    assert index_builds(app) == 2


def test_a_store_changed_behind_the_apps_back_is_reindexed_by_the_check(
    app: Flask, client: FlaskClient
) -> None:
    from cokg.formats import TURTLE
    from cokg.server.search import EXTENSION

    assert hits(client, "q=quarkly") == []
    app.extensions["cokg"].store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)
    assert hits(client, "q=quarkly") == []  # the next check is not due yet
    app.extensions[EXTENSION].check_now()
    assert hits(client, "q=quarkly") == [NEW]


def test_the_check_runs_in_the_background_when_due(app: Flask, client: FlaskClient) -> None:
    from cokg.formats import TURTLE
    from cokg.server.search import EXTENSION

    service = app.extensions[EXTENSION]
    service.check_every = 0.0
    assert hits(client, "q=quarkly") == []
    app.extensions["cokg"].store.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)
    hits(client, "q=quarkly")  # starts the check
    service._checker.join(timeout=30)
    assert hits(client, "q=quarkly") == [NEW]


def test_a_kept_index_answers_at_once_and_is_checked(tmp_path: Path) -> None:
    from cokg.formats import TURTLE
    from cokg.server.search import EXTENSION

    settings = {"TESTING": True, "SEARCH_INDEX": str(tmp_path / "search.sqlite3")}
    first = create_app(settings, store=open_knowledge_base())
    assert hits(first.test_client(), "q=coproduction")[0] == WELSH

    changed = open_knowledge_base()
    changed.replace_graph(NEW_GRAPH, entry_turtle("Quarkly"), TURTLE)
    second = create_app({**settings, "SEARCH_CHECK_SECONDS": 3600}, store=changed)
    client = second.test_client()
    hits(client, "q=quarkly")  # answered from the kept index; the check runs meanwhile
    checker = second.extensions[EXTENSION]._checker
    assert checker is not None
    checker.join(timeout=30)
    assert hits(client, "q=quarkly") == [NEW]


def test_warm_up_makes_the_index_ready_before_the_first_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``cokg serve`` does at start with the index of an earlier run: it is checked and
    its entry sets read in the background, so the first search neither builds nor reads."""
    from cokg.search import SearchIndex
    from cokg.search_sets import MatchSets
    from cokg.server.search import warm_up

    settings = {"TESTING": True, "SEARCH_INDEX": str(tmp_path / "search.sqlite3")}
    earlier = create_app(settings, store=open_knowledge_base())
    assert hits(earlier.test_client(), "q=coproduction")[0] == WELSH  # builds the index
    app = create_app({**settings, "SEARCH_CHECK_SECONDS": 3600}, store=open_knowledge_base())
    thread = warm_up(app)
    thread.join(timeout=60)
    assert not thread.is_alive()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the first search did work the warm-up should have done")

    monkeypatch.setattr(SearchIndex, "build", refuse)
    monkeypatch.setattr(MatchSets, "load", refuse)
    answer = app.test_client().get("/search.json?q=coproduction").json
    assert answer is not None and answer["hits"][0]["iri"] == WELSH
    assert answer["facets"]["keyword"]


def test_warm_up_leaves_a_new_index_to_the_first_search(tmp_path: Path) -> None:
    """No index yet: nothing is built at start (minutes on a large store); the first search
    builds it."""
    from cokg.server.search import EXTENSION, warm_up

    settings = {"TESTING": True, "SEARCH_INDEX": str(tmp_path / "search.sqlite3")}
    app = create_app(settings, store=open_knowledge_base())
    warm_up(app).join(timeout=60)
    assert app.extensions[EXTENSION].index.fingerprint is None
    assert hits(app.test_client(), "q=coproduction")[0] == WELSH
