"""What a hostile or careless client sends: odd paths, headers, queries and bodies.

One table of requests (method, path, headers, body) and what must hold of each answer: its
status, text it must or must not hold, and that the store is unchanged by anything refused.
Most rows pin answers that were already right (a clear 4xx); the others were defects:

- a query or update nested a few hundred levels deep overflowed the engine's stack, which
  killed ``oxigraph serve`` (every query in flight failed, and the supervisor's back-off grew
  with each crash) or, in process, the whole server; now a 400 before the engine sees it;
- ``/dumps/…`` answered 416 to a ``Range`` of an unknown unit (RFC 9110 §14.2: MUST be
  ignored), to several ranges and to malformed ones (MAY be ignored: the whole file), and to
  a suffix longer than the file (§14.1.3: the whole file, 206); ``If-Range`` with a weak
  entity tag matched (§13.1.5: strong comparison);
- ``If-Match: *`` on an existing resource answered 412 (RFC 9110 §13.1.1: it holds), and a
  failed ``If-Match`` sent the representation itself as the body of its 412;
- bytes of a URL path that are not UTF-8 (``/id/project/%C0%AF``) reached a SPARQL query as
  U+FFFD, which no IRI may hold: a 400 "malformed query" about a query the client never sent.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from cokg.errors import QueryError
from cokg.server import create_app, query_text
from cokg.store import OxigraphStore
from tests.servers import cokg_server

TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENTRY = "project/value-co-creation-greater-manchester"
JSON = {"Accept": "application/sparql-results+json"}
TURTLE_BODY = {**AUTH, "Content-Type": "text/turtle"}
FORM = "application/x-www-form-urlencoded"


def q(text: str) -> str:
    """Return ``text`` percent-encoded for a query string."""
    return urllib.parse.quote(text, safe="")


def braces(depth: int) -> str:
    """A query whose group graph patterns nest ``depth`` levels deep."""
    return "SELECT * WHERE " + "{" * depth + "}" * depth


def calls(depth: int) -> str:
    """A query whose function calls nest ``depth`` levels deep."""
    return "SELECT ?x WHERE { BIND(" + "CONCAT(" * depth + '"a"' + ")" * depth + " AS ?x) }"


RDFXML = "application/rdf+xml"
CONTROL_SELECT = 'SELECT ?x WHERE { BIND("a\\u0001b" AS ?x) }'
XML_CONSTRUCT = "CONSTRUCT { <http://a/> <http://example.org/p-1> 1 } WHERE {}"


def laughs(levels: int, *, value: str = "lol", uses: int = 1) -> str:
    """An RDF/XML document whose entity ``e{levels}`` refers ten times to the one below."""
    entities = f'<!ENTITY e0 "{value}">' + "".join(
        f'<!ENTITY e{n} "' + f"&e{n - 1};" * 10 + '">' for n in range(1, levels + 1)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [{entities}]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="http://a/"><rdf:value>{f"&e{levels};" * uses}'
        "</rdf:value></rdf:Description></rdf:RDF>"
    )


def patterns(count: int) -> str:
    """A query with ``count`` triple patterns in one group."""
    return "SELECT * WHERE { " + " . ".join(f"?s <http://p{i}> ?o{i}" for i in range(count)) + " }"


def minus_chain(count: int) -> str:
    """A query whose expression subtracts ``count`` times (a left-deep tree as deep)."""
    return "SELECT * WHERE { FILTER(1 " + "- 1 " * count + "= 0) }"


ROWS_TEXT = " ".join(f"({i} -{i})" for i in range(5000))
NUMBERS = ", ".join(f"-{i}" for i in range(5000))
VALUES_ROWS = "SELECT * WHERE { VALUES (?a ?b) { " + ROWS_TEXT + " } } LIMIT 1"
IN_LIST = "SELECT * WHERE { BIND(1 AS ?x) FILTER(?x IN (" + NUMBERS + ")) }"
DELETE_LIST = "DELETE DATA { <http://example.org/s> <http://example.org/p> " + NUMBERS + " }"


@dataclass(frozen=True)
class Row:
    """One request and what must hold of its answer."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes | None = None
    content_type: str | None = None
    says: str = ""  # text the answer must hold
    not_says: str = ""  # text the answer must not hold

    def __str__(self) -> str:
        return f"{self.method} {self.path[:70]} {self.headers}"


ROWS = [
    # -- SPARQL nested too deep for the engine: refused before it is run (was: crash)
    Row("GET", f"/sparql?query={q(braces(300))}", 400, JSON, says="nests too deep"),
    Row("GET", f"/sparql?query={q(calls(150))}", 400, JSON, says="at most 128"),
    Row("POST", "/sparql", 400, JSON, calls(150), "application/sparql-query", says="too deep"),
    Row(
        "POST",
        "/sparql",
        400,
        AUTH,
        "update=" + q("INSERT { <http://a/> <http://b/> 1 } WHERE " + "{" * 300 + "}" * 300),
        FORM,
        says="nests too deep",
    ),
    Row("GET", f"/query?query={q(calls(150))}", 400, {"Accept": "text/html"}, says="too deep"),
    Row("GET", f"/sparql?query={q(braces(40))}", 200, JSON, says='"bindings"'),
    Row("POST", "/sparql", 400, JSON, patterns(2100), "application/sparql-query", says="chains"),
    Row(
        "POST",
        "/sparql",
        400,
        AUTH,
        "update=" + q("DELETE { ?s ?p ?o } WHERE " + patterns(2100).split("WHERE", 1)[1]),
        FORM,
        says="chains",
    ),
    Row("GET", f"/sparql?query={q(minus_chain(1700))}", 400, JSON, says="nests too deep"),
    # … and long lists of data are no chains: they pass
    Row("POST", "/sparql", 200, JSON, VALUES_ROWS, "application/sparql-query", says="bindings"),
    Row("POST", "/sparql", 200, JSON, IN_LIST, "application/sparql-query", says="bindings"),
    Row("POST", "/sparql", 204, AUTH, "update=" + q(DELETE_LIST), FORM),
    # -- the query page with a dataset that is no IRI (was: 500)
    *[
        Row("GET", f"/query?query={q('ASK {}')}&{name}={value}", 400, says="absolute IRI")
        for name in ("default-graph-uri", "named-graph-uri")
        for value in ("http://a%20b", "%00", "x", "%3Cscript%3E")
    ],
    Row("GET", f"/sparql?query={q(calls(40))}", 200, JSON, says='"bindings"'),
    # -- SPARQL protocol: pinned clear 4xx
    Row("GET", f"/sparql?query={q('ASK {}')}&query={q('ASK {}')}", 400, says="more than one"),
    Row("GET", f"/sparql?update={q('DROP ALL')}", 405, AUTH, says="POST"),
    Row("POST", f"/sparql?query={q('ASK {}')}", 400, AUTH, "DROP ALL", "application/sparql-update"),
    Row("POST", "/sparql", 415, {}, "ASK {}", "text/plain"),
    Row("POST", "/sparql", 400, {}, b"\xff", "application/sparql-query", says="not UTF-8"),
    Row("GET", f"/sparql?query={q('ASK {}')}&default-graph-uri=%00", 400, says="absolute IRI"),
    Row("POST", "/sparql", 401, {}, "update=" + q("DROP ALL"), FORM),
    Row("POST", "/sparql", 403, {"Authorization": "Bearer nope"}, "update=" + q("DROP ALL"), FORM),
    Row("POST", "/sparql", 400, AUTH, "update=" + q("LOAD <file:///etc/passwd>"), FORM),
    # -- RDF 1.2 triple terms: written, they broke every dump and /.well-known/void (500)
    *[
        Row("POST", "/sparql", 400, AUTH, "update=" + q(update), FORM, says="RDF 1.2")
        for update in (
            "INSERT DATA { <http://a/> <http://b/> <<( <http://a/> <http://b/> 1 )>> }",
            "INSERT DATA { << <http://a/> <http://b/> 1 >> <http://b/> 2 }",
            "INSERT DATA { <http://a/> <http://b/> 1 {| <http://b/> 2 |} }",
            "INSERT DATA { <http://a/> <http://b/> 1 ~ <http://r/> }",
            "INSERT { <http://a/> <http://b/> ?t } WHERE "
            "{ BIND(TRIPLE(<http://a/>, <http://b/>, 1) AS ?t) }",
        )
    ],
    Row(
        "PUT",
        "/rdf-graph-store?graph=http://x/",
        400,
        AUTH,
        "<< <http://a/> <http://b/> <http://c/> >> <http://b/> <http://c/> .",
        "text/turtle",
        says="RDF 1.2",
    ),
    # a CONSTRUCT of triple terms in JSON-LD, which cannot carry them (was: 500)
    Row(
        "GET",
        "/sparql?format=jsonld&query="
        + q(
            "CONSTRUCT { <http://a/> <http://b/> ?t } WHERE { BIND(<<( <http://a/> <http://b/> 1 )>> AS ?t) }"
        ),
        406,
        says="RDF 1.2",
    ),
    Row(
        "GET",
        "/sparql?format=ttl&query="
        + q(
            "CONSTRUCT { <http://a/> <http://b/> ?t } WHERE { BIND(<<( <http://a/> <http://b/> 1 )>> AS ?t) }"
        ),
        200,
        says="<<(",
    ),
    # -- answers XML cannot carry (was: 200 with XML that is not well-formed)
    Row("GET", "/sparql?format=xml&query=" + q(CONTROL_SELECT), 406, says="XML cannot carry"),
    Row("GET", "/sparql?format=json&query=" + q(CONTROL_SELECT), 200, says="\\u0001"),
    *[
        Row("GET", "/sparql?format=rdf&query=" + q(construct), 406, says="XML cannot carry")
        for construct in (
            'CONSTRUCT { <http://a/> <http://b/> "a\\u0001b" } WHERE {}',
            "CONSTRUCT { <http://a/> <http://example.org/1> 1 } WHERE {}",
            "CONSTRUCT { <http://a/> <http://example.org/a#> 1 } WHERE {}",
        )
    ],
    Row("GET", "/sparql?format=rdf&query=" + q(XML_CONSTRUCT), 200, says="rdf:RDF"),
    # -- Graph Store: pinned clear 4xx, nothing written
    Row("PUT", "/rdf-graph-store?graph=http://x/&default", 400, AUTH, "", "text/turtle"),
    Row("PUT", "/rdf-graph-store?graph=rel", 400, AUTH, "", "text/turtle", says="absolute"),
    Row("PUT", "/rdf-graph-store?graph=http://x/", 400, AUTH, "garbage <", "text/turtle"),
    Row("PUT", "/rdf-graph-store?graph=http://x/", 415, AUTH, "<a> <b> <c> .", "text/html"),
    Row("PATCH", "/rdf-graph-store?graph=http://x/", 405, AUTH, "", "text/turtle"),
    Row("DELETE", "/rdf-graph-store", 400, AUTH, says="name the graph"),
    # RDF/XML entities that expand without bound ("billion laughs"; was: parsed, 1 KB to GB)
    Row("PUT", "/rdf-graph-store?graph=http://x/", 400, AUTH, laughs(5), RDFXML, says="entit"),
    Row(
        "PUT",
        "/rdf-graph-store?graph=http://x/",
        413,
        AUTH,
        laughs(0, value="a" * 100_000, uses=200),
        RDFXML,
        says="expands its entities",
    ),
    # a path that is not UTF-8 named another graph (…/%EF%BF%BD) and wrote it (was: 201)
    Row("PUT", "/rdf-graph-store/x/%FF", 400, AUTH, "<http://a/> <http://b/> 1 .", "text/turtle"),
    Row("GET", "/rdf-graph-store/x/%C0%AF", 400, says="the URL path is not UTF-8"),
    Row("DELETE", "/rdf-graph-store/x/%FF", 400, AUTH),
    # -- Resource paths with bytes that are not UTF-8 or characters no IRI holds (was: 400
    #    "malformed query")
    Row("GET", "/id/project/%C0%AF", 404, says="nothing is known", not_says="query"),
    Row("GET", "/page/project/%FF", 404, says="%EF%BF%BD", not_says="query"),
    Row("GET", "/data/project/%ED%A0%80.ttl", 404, says="nothing is known", not_says="query"),
    Row("GET", "/data/project/%EF%BF%BE.ttl", 404, says="%EF%BF%BE", not_says="query"),
    Row("GET", "/id/project/..%2F..%2Fetc", 404),
    Row("GET", f"/data/{ENTRY}.xyz", 404, says="unknown file extension"),
    Row("GET", f"/data/{ENTRY}?format=%3Cb%3E", 400, says="unknown format"),
    # -- an Accept header of 200 KB cost 0.5 s to parse (and was cached): 431 unread
    Row("GET", "/sparql?query=ASK%7B%7D", 431, {"Accept": "text/x-a, " * 20_000}, says="Accept"),
    Row("GET", "/", 431, {"Accept": "text/html;q=0.9, " * 1000}, says="at most 8192"),
    Row("GET", "/", 200, {"Accept": "text/html;q=0.9, " * 400}),
    # -- search, dumps: pinned clear 4xx
    Row("GET", "/search.json?page=-1", 400),
    Row("GET", "/search.json?size=x", 400, says="whole number"),
    Row("GET", "/search.json?from=2020&to=2000", 400),
    Row("GET", "/dumps/%2e%2e", 404),
    Row("GET", "/dumps/?format=x", 400),
]


@pytest.fixture(scope="module")
def app(store: OxigraphStore, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app with writes on (a token), so that refused writes are refused for their content."""
    folder = tmp_path_factory.mktemp("dumps")
    config = {"TESTING": True, "DUMPS_DIR": str(folder), "WRITE_TOKEN": TOKEN}
    created: Flask = create_app(config, store=store)
    return created


def quads(store: OxigraphStore) -> int:
    return len(list(store.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }")))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Answer:
    """A response, read and closed (a file answer left open would warn)."""

    status: int
    headers: Any
    mimetype: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(
    client: FlaskClient,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    content_type: str | None = None,
) -> Answer:
    response = client.open(
        path, method=method, headers=headers or {}, data=body, content_type=content_type
    )
    with response:
        return Answer(
            response.status_code, response.headers, response.mimetype or "", response.get_data()
        )


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_hostile_request(client: FlaskClient, store: OxigraphStore, row: Row) -> None:
    before = quads(store)
    answer = fetch(client, row.path, row.method, row.headers, row.body, row.content_type)
    text = answer.text
    assert answer.status == row.status, text[:300]
    assert row.says in text
    if row.not_says:
        assert row.not_says not in text
    assert quads(store) == before


def dump(client: FlaskClient) -> tuple[bytes, str]:
    answer = fetch(client, "/dumps/cokg.ttl")
    assert answer.status == 200
    return answer.body, answer.headers["ETag"]


@pytest.mark.parametrize(
    "value", ["items=0-1", "bytes=0-1,3-4", "bytes=5-2", "bytes=x-y", "bytes="]
)
def test_a_range_the_server_does_not_serve_is_ignored(client: FlaskClient, value: str) -> None:
    whole, _ = dump(client)
    answer = fetch(client, "/dumps/cokg.ttl", headers={"Range": value})
    assert answer.status == 200
    assert answer.body == whole
    assert "Content-Range" not in answer.headers


def test_a_suffix_longer_than_the_dump_is_the_whole_dump(client: FlaskClient) -> None:
    whole, _ = dump(client)
    answer = fetch(client, "/dumps/cokg.ttl", headers={"Range": f"bytes=-{len(whole) * 10}"})
    assert answer.status == 206
    assert answer.headers["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"
    assert answer.body == whole


def test_an_empty_suffix_is_not_satisfiable(client: FlaskClient) -> None:
    whole, _ = dump(client)
    answer = fetch(client, "/dumps/cokg.ttl", headers={"Range": "bytes=-0"})
    assert answer.status == 416
    assert answer.headers["Content-Range"] == f"bytes */{len(whole)}"


def test_if_range_with_a_weak_tag_never_matches(client: FlaskClient) -> None:
    whole, etag = dump(client)
    headers = {"Range": "bytes=0-9", "If-Range": "W/" + etag}
    answer = fetch(client, "/dumps/cokg.ttl", headers=headers)
    assert answer.status == 200
    assert answer.body == whole
    strong = fetch(client, "/dumps/cokg.ttl", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert strong.status == 206
    assert strong.body == whole[:10]


@pytest.mark.parametrize(
    "path", ["/dumps/cokg.ttl", f"/data/{ENTRY}.ttl", f"/page/{ENTRY}", "/context.jsonld"]
)
def test_if_match(client: FlaskClient, path: str) -> None:
    first = fetch(client, path)
    etag = first.headers["ETag"]
    for value in ["*", etag, f'"other", {etag}']:
        answer = fetch(client, path, headers={"If-Match": value})
        assert answer.status == 200, value
        assert answer.body == first.body
    for value in ['"other"', "W/" + etag]:
        failed = fetch(client, path, headers={"If-Match": value, "Accept": "text/plain"})
        assert failed.status == 412, value
        assert failed.mimetype == "text/plain"
        assert "If-Match" in failed.text
        assert first.body[:40] not in failed.body


def test_what_the_engine_cannot_take_is_a_client_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Against ``cokg serve`` and its ``oxigraph serve`` child: 3000 nested braces used to
    overflow the child's stack (it aborted, the client got 503, the child was restarted);
    an unknown function or a DROP of a missing graph got 503 (the engine's 500); ``OPTIONS *``
    and an empty Graph Store PUT, which only a real server and engine show."""
    folder = tmp_path_factory.mktemp("deep")
    with cokg_server(folder, env={"COKG_WRITE_TOKEN": TOKEN}) as url:
        for text in (braces(3000), calls(300), patterns(2100)):
            data = urllib.parse.urlencode({"query": text}).encode()
            request = urllib.request.Request(f"{url}/sparql", data=data, headers=JSON)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30).close()
            with refused.value as error:
                assert error.code == 400
                assert "too deep" in (said := error.read().decode()) or "too many" in said
        # Oxigraph answers these with a 500: the client made them, they are 400s (was: 503)
        for kind, text, headers in [
            ("query", "SELECT ?x WHERE { BIND(<http://example.org/f>(1) AS ?x) }", JSON),
            ("update", "INSERT DATA { <http://a/> <http://b/> 1 } ; DROP GRAPH <http://no/>", AUTH),
        ]:
            data = urllib.parse.urlencode({kind: text}).encode()
            request = urllib.request.Request(f"{url}/sparql", data=data, headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30).close()
            with refused.value as error:
                assert error.code == 400, error.read()[:300]
        ask = q("ASK { <http://a/> <http://b/> 1 }")
        with urllib.request.urlopen(f"{url}/sparql?query={ask}", timeout=30) as answer:
            assert json.load(answer)["boolean"] is False  # the update changed nothing
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as answer:
            health = json.load(answer)
        assert health["engine"]["restarts"] == 0
        assert too_large_is_refused_before_its_body(url)
        with urllib.request.urlopen(f"{url}/sparql?query={q(braces(40))}", timeout=30) as answer:
            assert answer.status == 200
        # RFC 9110 §9.3.7: OPTIONS * asks about the server (was: 404)
        head = raw_head(url, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert head[0].startswith("HTTP/1.1 204 ")
        assert "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS" in head
        # a Graph Store PUT of nothing makes an empty graph, read as such (was: 201, then 404)
        empty = f"{url}/rdf-graph-store?graph={q('http://example.org/empty')}"
        put = urllib.request.Request(empty, data=b"", method="PUT", headers=TURTLE_BODY)
        with urllib.request.urlopen(put, timeout=30) as answer:
            assert answer.status == 201
        with urllib.request.urlopen(f"{empty}&format=nt", timeout=30) as answer:
            assert (answer.status, answer.read()) == (200, b"")


def raw_head(url: str, request: bytes) -> list[str]:
    """Send ``request`` as it is (a target urllib cannot send); the answer's head, by line."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=20) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := connection.recv(65536)):
            answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")


def too_large_is_refused_before_its_body(url: str) -> bool:
    """Announce a body over the 16 MB limit and send none of it: the answer must be a 413
    at once (waitress used to wait for the whole body, buffering it to disk)."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=20) as connection:
        connection.sendall(
            b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/sparql-query\r\nContent-Length: 17000000\r\n\r\n"
        )
        try:
            answer = connection.recv(200)
        except TimeoutError:
            return False
    return answer.startswith(b"HTTP/1.1 413")


def test_rdfxml_with_plain_entities_is_written(client: FlaskClient, store: OxigraphStore) -> None:
    """Entities as ontology tools write them (one per namespace) still work."""
    body = (
        '<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY ex "http://example.org/">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="&ex;a"><rdf:value>&ex;</rdf:value></rdf:Description>'
        "</rdf:RDF>"
    )
    graph = "http://example.org/hostile-entities"
    put = fetch(client, f"/rdf-graph-store?graph={graph}", "PUT", AUTH, body, RDFXML)
    assert put.status == 201, put.text
    got = fetch(client, f"/rdf-graph-store?graph={graph}", headers={"Accept": "text/turtle"})
    assert "<http://example.org/a>" in got.text
    assert '"http://example.org/"' in got.text
    assert fetch(client, f"/rdf-graph-store?graph={graph}", "DELETE", AUTH).status == 204


@pytest.mark.parametrize("path", ["/dumps/cokg.ttl", "/context.jsonld"])
def test_if_unmodified_since(client: FlaskClient, path: str) -> None:
    """RFC 9110 §13.1.4: a date before Last-Modified fails (was: ignored, 200)."""
    first = fetch(client, path)
    modified = first.headers["Last-Modified"]
    for value in [modified, "Fri, 01 Jan 2100 00:00:00 GMT", "not a date"]:
        answer = fetch(client, path, headers={"If-Unmodified-Since": value})
        assert answer.status == 200, value
        assert answer.body == first.body
    before = "Thu, 01 Jan 1970 00:00:00 GMT"
    failed = fetch(client, path, headers={"If-Unmodified-Since": before, "Accept": "text/plain"})
    assert failed.status == 412
    assert "If-Unmodified-Since" in failed.text
    assert first.body[:40] not in failed.body
    # If-Match, when sent, decides alone
    etag = first.headers["ETag"]
    both = fetch(client, path, headers={"If-Match": etag, "If-Unmodified-Since": before})
    assert both.status == 200


_PIECES = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "<<",
    ">>",
    "<",
    ">",
    "&&",
    "||",
    "!",
    "!=",
    "/",
    "|",
    "+",
    "*",
    "-",
    ".",
    ";",
    ",",
    " ",
    "\n",
    "OPTIONAL",
    "optional",
    "FILTER",
    "VALUES",
    "DATA",
    "INSERT",
    "WHERE",
    "MINUS",
    "UNION",
    "?x",
    "ex:a-b.c",
    "<http://a/b.c?d=e&f>",
    "<a'b>",
    '"s<t>&&"',
    "'<'",
    "'>'",
    "# c <d> &&\n",
    "1.5",
    "-2",
    "_:b.1",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=80))
@settings(max_examples=400, deadline=None)
def test_the_quick_bound_of_the_nesting_is_never_below_it(pieces: list[str]) -> None:
    # check_nesting skips the walk over the tokens when the bound is within the limit: a
    # bound below the real depth would let a text that crashes the engine through
    text = "".join(pieces)
    bound = query_text._counted_at_most(text)
    assert bound >= query_text.nesting_depth(text, separators=True)
    assert bound >= query_text.nesting_depth(text)


def test_a_deep_text_is_refused_whatever_its_iris_and_strings() -> None:
    deep = "SELECT * WHERE { " + "FILTER('<'&&?b>) " * 70 + "{" * 70 + "}" * 70 + " }"
    with pytest.raises(QueryError, match="nests too deep"):
        query_text.check_nesting(deep)
    query_text.check_nesting("SELECT * WHERE { " + "<http://a/b.c-d/e> " * 200 + "}")


def test_stored_data_rdfxml_cannot_write_is_a_406(
    client: FlaskClient, store: OxigraphStore
) -> None:
    """Data already in the store (loaded from files, or written before such writes were
    refused) with a control character in a literal, or a predicate that ends in no XML
    name: its RDF/XML would not be well-formed XML, so the RDF/XML answer is a 406 and the
    other formats still answer."""
    kb = "https://w3id.org/coprod/"
    graph = "http://example.org/hostile-xml"
    for subject, triple in (
        ("hostile-control", '"a\\u0001b"'),
        ("hostile-predicate", None),
    ):
        iri = f"{kb}id/project/{subject}"
        written = (
            f"<{iri}> <http://purl.org/dc/terms/title> {triple}"
            if triple
            else f'<{iri}> <http://example.org/1> "x"'
        )
        store.update(f"INSERT DATA {{ GRAPH <{graph}> {{ {written} }} }}")
        try:
            xml_answer = fetch(client, f"/data/project/{subject}.rdf")
            assert xml_answer.status == 406, xml_answer.text[:300]
            assert "XML" in xml_answer.text
            assert fetch(client, f"/data/project/{subject}.ttl").status == 200
            gsp = fetch(client, f"/rdf-graph-store?graph={graph}", headers={"Accept": RDFXML})
            assert gsp.status == 406, gsp.text[:300]
            turtle = fetch(
                client, f"/rdf-graph-store?graph={graph}", headers={"Accept": "text/turtle"}
            )
            assert turtle.status == 200
        finally:
            store.update(f"DROP SILENT GRAPH <{graph}>")
    assert fetch(client, f"/data/{ENTRY}.rdf").status == 200


@pytest.mark.parametrize("path", ["person/caf%C3%A9", "project/x%2Fy", "project/a&b%27c"])
def test_an_iri_with_percent_escapes_of_its_own_is_reached_by_its_links(
    client: FlaskClient, store: OxigraphStore, path: str
) -> None:
    """An IRI a client wrote with percent-encoded octets in it: its page and data links (its
    path as it is, as the sitemap and the pages write them) reach it, though they arrive
    decoded as the path of another IRI (``café``, ``x/y``, ``a&b'c``) that the store does
    not know."""
    iri = f"https://w3id.org/coprod/id/{path}"
    graph = "http://example.org/hostile-escapes"
    store.update(
        f'INSERT DATA {{ GRAPH <{graph}> {{ <{iri}> <http://purl.org/dc/terms/title> "Odd" }} }}'
    )
    try:
        page = fetch(client, f"/page/{path}", headers={"Accept": "text/html"})
        assert page.status == 200, page.text[:300]
        assert "Odd" in page.text
        data = fetch(client, f"/data/{path}.nt")
        assert data.status == 200 and f"<{iri}>" in data.text, data.text[:300]
        negotiated = fetch(client, f"/data/{path}", headers={"Accept": "application/n-triples"})
        assert negotiated.status == 200 and f"<{iri}>" in negotiated.text
        seen = fetch(client, f"/id/{path}", headers={"Accept": "text/html"})
        assert seen.status == 303 and seen.headers["Location"].endswith(f"/page/{path}")
    finally:
        store.update(f"DROP SILENT GRAPH <{graph}>")
