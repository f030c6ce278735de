"""SparqlStore: the store over any SPARQL 1.1 engine (Oxigraph server, Fuseki, Virtuoso, GraphDB…).

Queries and updates go through the SPARQL 1.1 Protocol. Whole named graphs are read,
replaced, added to and deleted with the SPARQL 1.1 Graph Store HTTP Protocol where the engine
has it, and with SPARQL Update where it does not, or where its Graph Store ``PUT`` is not one
transaction (Oxigraph's server clears the graph and loads the new data in two steps). Results
come back as the same types :class:`cokg.store.OxigraphStore` returns. Requests travel on
kept-alive connections shared by threads (:class:`_Connections`): a connection is reused only
after its answer was read to the end, and closed otherwise.

Engines differ; SparqlStore absorbs the differences so callers never see them (an
:class:`Engine` describes each one): how the default graph becomes the union of the named
graphs, which graphs are the engine's own, how a timed-out or cut result is announced, how
DESCRIBE behaves. ``docs/engines.md`` says how to point cokg at each engine.

The query URL users know is enough for the engines cokg recognises:

>>> store = SparqlStore.for_endpoint("http://127.0.0.1:7878/query")
>>> store.engine.name, store.update_url, store.gsp_url
('oxigraph', 'http://127.0.0.1:7878/update', 'http://127.0.0.1:7878/store')
>>> store = SparqlStore.for_endpoint("http://fuseki:3030/kb/sparql")
>>> store.engine.name, store.update_url, store.gsp_url
('fuseki', 'http://fuseki:3030/kb/update', 'http://fuseki:3030/kb/data')
>>> store = SparqlStore.for_endpoint("http://db:8890/sparql")
>>> store.engine.name, store.update_url, store.gsp_url
('virtuoso', 'http://db:8890/sparql', 'http://db:8890/sparql-graph-crud')
>>> store = SparqlStore.for_endpoint("http://db:8890/sparql", auth=DigestAuth("dba", "secret"))
>>> store.update_url, store.gsp_url
('http://db:8890/sparql-auth', 'http://db:8890/sparql-graph-crud-auth')
>>> store = SparqlStore.for_endpoint("http://gdb:7200/repositories/kb")
>>> store.engine.name, store.update_url, store.gsp_url
('graphdb', 'http://gdb:7200/repositories/kb/statements', 'http://gdb:7200/repositories/kb/rdf-graphs/service')
>>> store = SparqlStore.for_endpoint("https://db.cluster-x.eu-west-1.neptune.amazonaws.com:8182/sparql")
>>> store.engine.name, store.gsp_url
('neptune', 'https://db.cluster-x.eu-west-1.neptune.amazonaws.com:8182/sparql/gsp/')
>>> store = SparqlStore.for_endpoint("https://example.org/endpoint")
>>> store.engine.name, store.update_url, store.gsp_url
('generic', 'https://example.org/endpoint', None)
"""

from __future__ import annotations

import base64
import functools
import http.client
import re
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import IO, Literal, Protocol, TypeVar
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from pyoxigraph import (
    BlankNode,
    NamedNode,
    Quad,
    QueryBoolean,
    QuerySolutions,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
    serialize,
)

from cokg.errors import (
    CokgError,
    NotFound,
    ParseError,
    QueryError,
    QueryTimeout,
    StoreUnavailable,
    UnsupportedFormat,
)
from cokg.formats import NTRIPLES, RDF_FORMATS, RESULTS_FORMATS, SPARQL_CSV, SPARQL_TSV, Format
from cokg.namespaces import PREFIXES
from cokg.sparql_text import has_dataset_clause, shift_back
from cokg.store import QueryResult, RdfInput, parse_quads, position_of

__all__ = [
    "ENGINES",
    "AnswerReceiver",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "DigestAuth",
    "Engine",
    "SolutionsText",
    "SparqlStore",
    "TriplesText",
    "UnionMode",
    "guess_engine",
    "query_form",
]

UnionMode = Literal["native", "oxigraph", "jena"]
"""How an engine's default graph becomes the union of the named graphs:

- ``native``: it already is (Virtuoso, GraphDB, Neptune, an Oxigraph server started with
  ``--union-default-graph``, a Fuseki dataset with ``unionDefaultGraph``);
- ``oxigraph``: send the ``union-default-graph`` parameter with each query (Oxigraph server);
- ``jena``: send ``default-graph-uri=urn:x-arq:UnionGraph`` with each query (Fuseki).
"""

_JENA_UNION_GRAPH = "urn:x-arq:UnionGraph"
_SD = "http://www.w3.org/ns/sparql-service-description#"
_SD_FEATURE = NamedNode(_SD + "feature")
_SD_UNION_DEFAULT_GRAPH = NamedNode(_SD + "UnionDefaultGraph")
_NO_GRAPH = "urn:x-cokg:no-graph"
"""A graph that never exists: names an empty default graph or an empty set of named graphs
for engines that would otherwise fill in what a request leaves out."""

_RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
_RDF_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"
_ANY_ACCEPT = f"{_RESULTS_ACCEPT}, {_RDF_ACCEPT}"
_TIMEOUT_TEXT = re.compile(r"has been cancelled|timed? ?out|timeout|S1TAT", re.IGNORECASE)
# What Oxigraph's server says, with a 500, about an operation that cannot be evaluated as
# written (an unknown function, DROP/CREATE of a graph that does (not) exist…).
_CLIENT_ERROR_TEXT = re.compile(
    r"The custom function \S+ is not supported"
    r"|The graph \S+ (?:does not exists?|already exists)"
    r"|is not a valid service name|The service \S+ is not supported"
    r"|The variable encoding the service name is unbound"
)
_PROLOGUE = re.compile(
    r"\s+|\#[^\n]*|(?i:BASE)\s*<[^>]*>|(?i:PREFIX)\s*[^\s:]*:\s*<[^>]*>|(?i:DEFINE)\s+\S+\s+(?:\"[^\"]*\"|\S+)"
)
_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_UPDATE_FORMS = (
    "INSERT",
    "DELETE",
    "WITH",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
)
_AGENT = "cokg"
_FORM = "application/x-www-form-urlencoded"
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class BearerAuth:
    """Send ``Authorization: Bearer <token>`` with every request."""

    token: str = field(repr=False)

    def header(self) -> str:
        """Return the value of the ``Authorization`` header."""
        return f"Bearer {self.token}"


@dataclass(frozen=True)
class BasicAuth:
    """Send HTTP Basic credentials with every request."""

    user: str
    password: str = field(repr=False)

    def header(self) -> str:
        """Return the value of the ``Authorization`` header."""
        pair = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class DigestAuth:
    """Answer HTTP Digest challenges (all Virtuoso's authenticated endpoints accept).

    The first request to each URL costs one extra round trip to fetch the challenge; later
    requests reuse it until the engine refuses it.
    """

    user: str
    password: str = field(repr=False)


Auth = BearerAuth | BasicAuth | DigestAuth


class _DigestSigner:
    """Computes Digest ``Authorization`` headers from cached challenges (thread-safe)."""

    def __init__(self, auth: DigestAuth, opener: urllib.request.OpenerDirector) -> None:
        self._passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        self._handler = urllib.request.HTTPDigestAuthHandler(self._passwords)
        self._auth = auth
        self._opener = opener
        self._challenges: dict[str, dict[str, str] | None] = {}
        self._lock = threading.Lock()

    def header(self, method: str, url: str, timeout: float) -> str | None:
        """Return the ``Authorization`` value for ``method`` on ``url`` (None: not asked for)."""
        with self._lock:
            known = url in self._challenges
            challenge = self._challenges.get(url)
        if not known:
            challenge = self._challenge(url, timeout)
            with self._lock:
                self._challenges[url] = challenge
        if challenge is None:
            return None
        request = urllib.request.Request(url, method=method)
        with self._lock:
            root = urlunsplit((*urlsplit(url)[:2], "/", "", ""))
            self._passwords.add_password(None, root, self._auth.user, self._auth.password)
            answer = self._handler.get_authorization(request, challenge)
        if answer is None:
            raise StoreUnavailable(f"cannot answer the Digest challenge of {url}: {challenge}")
        return f"Digest {answer}"

    def forget(self) -> None:
        """Drop the cached challenges (the engine refused one)."""
        with self._lock:
            self._challenges.clear()

    def _challenge(self, url: str, timeout: float) -> dict[str, str] | None:
        """Ask ``url`` for its Digest challenge; None when it serves without credentials."""
        try:
            self._opener.open(urllib.request.Request(url, method="GET"), timeout=timeout).close()
        except urllib.error.HTTPError as e:
            _read_error_body(e)
            for value in e.headers.get_all("WWW-Authenticate") or []:
                scheme, _, parameters = value.partition(" ")
                if scheme.lower() == "digest":
                    items = [i for i in urllib.request.parse_http_list(parameters) if i]
                    return urllib.request.parse_keqv_list(items)
        except (OSError, http.client.HTTPException) as e:
            raise _connection_failure(e, url).error from e
        return None


@dataclass(frozen=True)
class Engine:
    """What SparqlStore needs to know about one SPARQL engine's behaviour."""

    name: str
    union_default_graph: UnionMode = "native"
    """How the default graph becomes the union of the named graphs (see :data:`UnionMode`)."""
    atomic_gsp_put: bool = False
    """True when a Graph Store ``PUT`` or ``POST`` is one transaction (a reader never sees
    half of it); otherwise cokg writes with SPARQL Update."""
    keeps_empty_graphs: bool = False
    """True when a named graph can exist with no triples (``GRAPH ?g {}`` lists it)."""
    separate_default_graph: bool = False
    """True when the default graph is stored apart from the named graphs (``count()`` adds it)."""
    system_graphs: tuple[str, ...] = ()
    """IRI prefixes of the engine's own graphs, hidden from ``graphs()``, ``count()``, dumps."""
    describe_prologue: str = ""
    """Text put before DESCRIBE queries."""
    drop_all_is_safe: bool = True
    """False when ``DROP ALL`` would also remove the engine's own graphs."""
    fills_in_dataset: bool = True
    """True when the engine fills in a dataset half given by a request (all named graphs when
    only ``default-graph-uri`` is sent…) instead of leaving the other half empty."""
    row_limit_header: str | None = None
    """Response header that says the engine cut a SELECT result at its row limit."""
    timeout_state_header: str | None = None
    """Response header whose value ``S1TAT`` says the engine sent a partial result at its
    time limit."""
    query_timeout_parameter: str | None = None
    """Query parameter that asks the engine to stop a query after that many milliseconds."""
    commits_each_operation: bool = False
    """True when the engine commits each operation of an update request on its own (Virtuoso:
    readers can see the state between two operations), so a graph is replaced by one
    ``DELETE … INSERT … WHERE`` operation instead of ``DROP`` then ``INSERT DATA``."""
    blank_nodes_in_insert_data: bool = True
    """False when ``INSERT DATA`` refuses blank nodes (Virtuoso): cokg then writes
    ``INSERT { … } WHERE {}``, which means the same."""
    ntriples_lines: bool = False
    """True when the engine's N-Triples answers hold one triple per line and nothing else (no
    comments, no blank lines), so that they can be cut at a count of triples by counting lines
    and passed on as they are (:class:`TriplesText`)."""
    select_accept: str = _RESULTS_ACCEPT
    """``Accept`` header for SELECT answers. SPARQL TSV is lossless, and the cheapest to write
    and to read (half the size of JSON); cokg asks for it where the engine's TSV is known to
    be complete and exact (Oxigraph), JSON elsewhere. CSV, which loses term types, never."""


ENGINES: dict[str, Engine] = {
    "oxigraph": Engine(
        "oxigraph",
        union_default_graph="oxigraph",
        keeps_empty_graphs=True,
        separate_default_graph=True,
        fills_in_dataset=False,
        ntriples_lines=True,
        select_accept=f"text/tab-separated-values, {_RESULTS_ACCEPT}",
    ),
    "fuseki": Engine(
        "fuseki", union_default_graph="jena", atomic_gsp_put=True, separate_default_graph=True
    ),
    "virtuoso": Engine(
        "virtuoso",
        system_graphs=(
            "http://www.openlinksw.com/",
            "http://www.w3.org/ns/ldp#",
            "http://localuriqaserver/",
            "urn:activitystreams-owl:map",
            "urn:core:services:",
        ),
        describe_prologue='DEFINE sql:describe-mode "CBD" ',
        drop_all_is_safe=False,
        row_limit_header="X-SPARQL-MaxRows",
        blank_nodes_in_insert_data=False,
        commits_each_operation=True,
        timeout_state_header="X-SQL-State",
        query_timeout_parameter="timeout",
    ),
    "graphdb": Engine("graphdb", atomic_gsp_put=True),
    "neptune": Engine("neptune", atomic_gsp_put=True),
    "generic": Engine("generic"),
}
"""The engines SparqlStore knows, by name."""


def guess_engine(query_url: str) -> Engine:
    """Return the engine a query URL most likely belongs to (``generic`` when unsure).

    >>> guess_engine("http://localhost:7878/query").name
    'oxigraph'
    >>> guess_engine("http://localhost:3030/ds/query").name
    'fuseki'
    """
    parts = urlsplit(query_url)
    path = parts.path.rstrip("/")
    host = parts.hostname or ""
    if re.fullmatch(r".*/repositories/[^/]+", path):
        return ENGINES["graphdb"]
    if host.endswith(".neptune.amazonaws.com") or (parts.port == 8182 and path == "/sparql"):
        return ENGINES["neptune"]
    if path == "/query":
        return ENGINES["oxigraph"]
    if path == "/sparql":
        return ENGINES["virtuoso"]
    match = re.fullmatch(r"/([^/]+)/(?:sparql|query)", path)
    if match and match.group(1) not in ("blazegraph", "bigdata"):
        return ENGINES["fuseki"]
    return ENGINES["generic"]


def _derived_urls(query_url: str, engine: Engine, auth: Auth | None) -> tuple[str, str | None]:
    """Return the update and Graph Store URLs an engine serves next to its query URL."""
    parts = urlsplit(query_url)
    path = parts.path.rstrip("/")

    def at(new_path: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, new_path, "", ""))

    if engine.name == "oxigraph":
        base = path.rsplit("/", 1)[0]
        return at(base + "/update"), at(base + "/store")
    if engine.name == "fuseki":
        base = path.rsplit("/", 1)[0]
        return at(base + "/update"), at(base + "/data")
    if engine.name == "virtuoso":
        if auth is None:
            return query_url, at(path + "-graph-crud")
        return at(path + "-auth"), at(path + "-graph-crud-auth")
    if engine.name == "graphdb":
        return at(path + "/statements"), at(path + "/rdf-graphs/service")
    if engine.name == "neptune":
        return query_url, at(path + "/gsp/")
    return query_url, None


_R = TypeVar("_R")

_CACHED_TEXT = 1 << 14
"""Texts up to this many characters have what is read off them kept (:func:`_per_text`)."""


def _per_text(function: Callable[[str], _R]) -> Callable[[str], _R]:
    """Keep what ``function`` (pure) reads off each of the last 64 texts up to 16 K characters.

    A front-end asks the same queries again and again (a query page's examples, a client's
    polling, a benchmark), and reading the prologue, the prefixes and the dataset clauses off
    a query of a few kilobytes costs a good part of a millisecond. Longer texts are read again
    each time, so the cache stays small.
    """
    cached = functools.lru_cache(maxsize=64)(function)

    @functools.wraps(function)
    def call(text: str) -> _R:
        return cached(text) if len(text) <= _CACHED_TEXT else function(text)

    return call


def query_form(sparql: str) -> str | None:
    """Return ``SELECT``, ``ASK``, ``CONSTRUCT`` or ``DESCRIBE``, or None for anything else.

    Looks past comments and the prologue (``BASE``, ``PREFIX``), never into the query body.

    >>> query_form("PREFIX ex: <http://example.org/#> # ASK me\\n construct { ?s ?p ?o } where {}")
    'CONSTRUCT'
    >>> query_form("INSERT DATA {}") is None
    True
    """
    keyword = _first_keyword(sparql)
    return keyword if keyword in _FORMS else None


@_per_text
def _first_keyword(sparql: str) -> str:
    """Return the first word after comments and the prologue, upper-cased ("" if none)."""
    position = 0
    while match := _PROLOGUE.match(sparql, position):
        if match.end() == position:
            break
        position = match.end()
    keyword = _WORD.match(sparql, position)
    return keyword.group(0).upper() if keyword else ""


_WORD = re.compile(r"[A-Za-z]+")
_names_dataset = _per_text(has_dataset_clause)
_encoded_query = _per_text(lambda text: urlencode([("query", text)]))
"""``query=`` and the text, form-encoded."""


@_per_text
def _with_prefixes(sparql: str) -> str:
    """Declare the :data:`~cokg.namespaces.PREFIXES` the text uses but does not declare.

    The declarations take one line of their own before the query, so columns in the engine's
    messages stay right and lines are off by exactly one
    (:func:`~cokg.sparql_text.shift_back` puts them back).

    >>> _with_prefixes("ASK { ?s a schema:Person }").splitlines()[0]
    'PREFIX schema: <https://schema.org/>'
    """
    declared = {name.lower() for name in re.findall(r"(?i)PREFIX\s*([^\s:]*):", sparql)}
    used = set(_prefix_use(tuple(PREFIXES)).findall(sparql))  # one pass, not one per prefix
    missing = [
        f"PREFIX {name}: <{iri}>"
        for name, iri in PREFIXES.items()
        if name not in declared and name in used
    ]
    return " ".join(missing) + "\n" + sparql if missing else sparql


@functools.lru_cache(maxsize=4)
def _prefix_use(names: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern whose matches are the uses ``name:`` of the prefixes ``names`` in a text.

    No match can hide another: one starts only where no name character comes before it.
    """
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.\-])({alternatives}):")


def _engine_message(body: bytes) -> str:
    """Return the useful part of an engine's error body."""
    text = body.decode("utf-8", errors="replace").strip()
    text = text.split("\n\nSPARQL query:", 1)[0]  # Virtuoso echoes the query after its message
    return text[:2000] or "(no message)"


@dataclass
class _Response:
    """One HTTP answer, read in full or still open (``stream``; call :meth:`finish` after)."""

    status: int
    headers: Message
    body: bytes = b""
    stream: IO[bytes] | None = None
    finish: Callable[[], None] = lambda: None
    """Give the connection back when the stream was read to its end, else close it."""

    @property
    def media_type(self) -> str:
        return self.headers.get_content_type().lower()


class _Connections:
    """Keep-alive HTTP connections to the engine, shared by threads.

    A request takes an idle connection to its origin (or opens one), and gives it back only
    once the answer was read to its end; a connection left mid-answer (a deadline, an error,
    a caller that stopped reading a stream) is closed, which also tells the engine to stop.
    An idle connection the engine has closed meanwhile (it restarted, or dropped idle
    connections) is noticed before use and replaced. Proxies come from the environment
    (``http_proxy``, ``https_proxy``, ``no_proxy``), as for :mod:`urllib.request`.
    """

    def __init__(self, max_idle: int = 16) -> None:
        self.max_idle = max_idle
        self.opened = 0
        """How many connections were opened so far (for tests and diagnostics)."""
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._proxies = urllib.request.getproxies()

    def take(self, url: str, timeout: float) -> tuple[_Origin, http.client.HTTPConnection, bool]:
        """Return the origin of ``url``, a connection to it and whether it was used before."""
        origin = self._origin(url)
        while True:
            with self._lock:
                idle = self._idle.get(origin.key)
                connection = idle.pop() if idle else None
            if connection is None:
                break
            if connection.sock is None or _dropped(connection.sock):
                connection.close()
                continue
            connection.timeout = timeout
            connection.sock.settimeout(timeout)
            return origin, connection, True
        connection = origin.connect(timeout)
        with self._lock:
            self.opened += 1
        return origin, connection, False

    def give_back(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for the next request (its last answer was read to the end)."""
        if connection.sock is None:
            return
        with self._lock:
            idle = self._idle.setdefault(origin.key, [])
            if len(idle) < self.max_idle:
                idle.append(connection)
                return
        connection.close()

    def forget(self, origin: _Origin) -> None:
        """Close the idle connections to ``origin`` (one of them turned out to be dead)."""
        with self._lock:
            idle = self._idle.pop(origin.key, [])
        for connection in idle:
            connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def __del__(self) -> None:
        # A store dropped without close(): its idle sockets go quietly with it.
        self.close()

    def _origin(self, url: str) -> _Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise StoreUnavailable(f"not an http(s) URL: {url}")
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = self._proxies.get(scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname):
            proxy = None
        return _Origin(scheme, parts.hostname, port, proxy)


class _OneWrite:
    """Sends a request's head and a ``bytes`` body in one write, not two.

    :mod:`http.client` writes them apart; the engine then wakes up twice per request (once for
    a head it cannot act on yet). On a busy machine that second wake-up is a good part of the
    cost of a small query.
    """

    def _send_output(self, message_body: object = None, encode_chunked: bool = False) -> None:
        buffer: list[bytes] = self._buffer  # type: ignore[attr-defined]
        if isinstance(message_body, bytes) and not encode_chunked:
            buffer.extend((b"", message_body))
            message = b"\r\n".join(buffer)
            del buffer[:]
            self.send(message)  # type: ignore[attr-defined]
        else:
            super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    """An HTTP connection that writes a request in one go (see :class:`_OneWrite`)."""


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    """An HTTPS connection that writes a request in one go (see :class:`_OneWrite`)."""


@dataclass(frozen=True)
class _Origin:
    """Where a request goes: scheme, host, port, and the proxy in between (if any)."""

    scheme: str
    host: str
    port: int
    proxy: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def target(self, url: str) -> str:
        """Return the request target: the path and query, or the whole URL for a proxy."""
        if self.proxy and self.scheme == "http":
            return url
        parts = urlsplit(url)
        return urlunsplit(("", "", parts.path or "/", parts.query, ""))

    def proxy_headers(self) -> dict[str, str]:
        """Return the ``Proxy-Authorization`` header the proxy URL's credentials ask for."""
        if not self.proxy:
            return {}
        parts = urlsplit(self.proxy if "://" in self.proxy else "http://" + self.proxy)
        if parts.username is None:
            return {}
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        """Return a new (not yet connected) connection to this origin."""
        if not self.proxy:
            if self.scheme == "https":
                return _HTTPSConnection(self.host, self.port, timeout=timeout)
            return _HTTPConnection(self.host, self.port, timeout=timeout)
        parts = urlsplit(self.proxy if "://" in self.proxy else "http://" + self.proxy)
        proxy_host = parts.hostname or ""
        proxy_port = parts.port or (443 if parts.scheme == "https" else 80)
        if self.scheme == "http":
            return _HTTPConnection(proxy_host, proxy_port, timeout=timeout)
        tunnel = _HTTPSConnection(proxy_host, proxy_port, timeout=timeout)
        tunnel.set_tunnel(self.host, self.port, headers=self.proxy_headers())
        return tunnel


def _dropped(sock: socket.socket) -> bool:
    """Return True when an idle connection's socket has something to read: the peer closed it
    (an idle keep-alive connection never receives anything else)."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class _Failure(Exception):
    """An HTTP exchange that failed, with whether trying again is safe and useful."""

    def __init__(self, error: CokgError, *, transient: bool, refused: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient
        self.refused = refused
        """True for a 401: the credentials (or a Digest nonce) were not accepted."""


T = TypeVar("T")


class AnswerReceiver(Protocol):
    """Takes the body of a query's answer while it arrives (:meth:`SparqlStore.query_text`).

    It sees the answer before the store has checked it whole, so it must only prepare work
    (say, write the rows received so far in another format) that is used once the store has
    returned the checked answer, and never raise.
    """

    def begin(self, media_type: str) -> None:
        """An answer in ``media_type`` begins (again, when the request is sent again)."""

    def receive(self, data: bytes) -> None:
        """The next bytes of the answer."""


@dataclass(frozen=True)
class SolutionsText:
    """SELECT solutions as SPARQL TSV text, as the engine wrote them: a header line, then one
    line per row (TSV escapes the line breaks inside literals).

    Made by :meth:`SparqlStore.query_text`, which has checked that the answer is whole. A
    front-end can cut it at a row count, pass it on as it is, or parse it once to write
    another format, without reading it into Python objects first.
    """

    text: bytes
    rows: int

    def head(self, rows: int) -> SolutionsText:
        """Return the header and the first ``rows`` rows (all of them when there are fewer).

        >>> answer = SolutionsText(b"?x\\n1\\n2\\n3\\n", 3)
        >>> answer.head(2)
        SolutionsText(text=b'?x\\n1\\n2\\n', rows=2)
        """
        if rows < 0:
            raise ValueError("rows cannot be negative")
        if rows >= self.rows:
            return self
        return SolutionsText(self.text[: _after_lines(self.text, rows + 1)], rows)

    def solutions(self) -> QuerySolutions:
        """Return the rows as :class:`pyoxigraph.QuerySolutions` (parsed as they are read)."""
        parsed = parse_query_results(self.text, SPARQL_TSV.oxigraph)
        assert isinstance(parsed, QuerySolutions)
        return parsed


@dataclass(frozen=True)
class TriplesText:
    """CONSTRUCT or DESCRIBE triples as N-Triples text, as the engine wrote them: one triple
    per line (N-Triples escapes the line breaks inside literals).

    Made by :meth:`SparqlStore.query_text`, which has checked that the answer is whole; like
    :class:`SolutionsText`, a front-end can cut it at a count of triples, pass it on as it is,
    or parse it once to write another format.
    """

    text: bytes
    triples: int

    def head(self, triples: int) -> TriplesText:
        """Return the first ``triples`` triples (all of them when there are fewer).

        >>> answer = TriplesText(b"<a> <b> <c> .\\n<a> <b> <d> .\\n", 2)
        >>> answer.head(1)
        TriplesText(text=b'<a> <b> <c> .\\n', triples=1)
        """
        if triples < 0:
            raise ValueError("triples cannot be negative")
        if triples >= self.triples:
            return self
        return TriplesText(self.text[: _after_lines(self.text, triples)], triples)

    def parsed(self) -> Iterator[Triple]:
        """Return the triples, parsed as they are read."""
        return (quad.triple for quad in parse(self.text, RdfFormat.N_TRIPLES))


def _after_lines(text: bytes, lines: int) -> int:
    """Return the offset just past the ``lines``-th line break of ``text`` (0 for none).

    Counts the line breaks of whole blocks first (in C), then steps through the last block.

    >>> _after_lines(b"a\\nbb\\nccc\\n", 2)
    5
    """
    position, left, size = 0, lines, len(text)
    while left > 0 and position < size:
        end = min(position + (1 << 16), size)
        found = text.count(b"\n", position, end)
        if found >= left:
            break
        left -= found
        position = end
    for _ in range(left):
        position = text.index(b"\n", position) + 1
    return position


class SparqlStore:
    """A store over a SPARQL 1.1 endpoint; see the module documentation.

    ``query_url`` is the SPARQL query endpoint. ``update_url`` defaults to it (SPARQL 1.1
    lets one URL serve both); without ``gsp_url`` graphs are read and written with SPARQL
    alone. :meth:`for_endpoint` derives both for the engines it knows. ``engine`` names an
    entry of :data:`ENGINES` (or is an :class:`Engine`); ``"auto"`` guesses from
    ``query_url``. ``union_default_graph`` overrides how the engine is asked for the union of
    the named graphs as default graph (see :data:`UnionMode`). ``timeout`` bounds every wait
    for the engine, in seconds; ``query_timeout`` asks engines that take a per-query limit
    (Virtuoso) to stop a query after that many seconds. Queries and reads are tried
    ``retries`` more times when the engine cannot be reached or answers 503; writes never.
    """

    def __init__(
        self,
        query_url: str,
        *,
        update_url: str | None = None,
        gsp_url: str | None = None,
        auth: Auth | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        union_default_graph: UnionMode | Literal["auto"] = "auto",
        engine: str | Engine = "auto",
        query_timeout: float | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries cannot be negative")
        if isinstance(engine, Engine):
            chosen = engine
        elif engine == "auto":
            chosen = guess_engine(query_url)
        elif engine in ENGINES:
            chosen = ENGINES[engine]
        else:
            raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
        if union_default_graph != "auto":
            chosen = replace(chosen, union_default_graph=union_default_graph)
        self.engine = chosen
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.gsp_url = gsp_url
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.query_timeout = query_timeout
        self._opener = urllib.request.build_opener()
        self._connections = _Connections()
        self._union_feature: bool | None = None  # see _union_by_default
        self._digest = _DigestSigner(auth, self._opener) if isinstance(auth, DigestAuth) else None

    @classmethod
    def for_endpoint(
        cls,
        url: str,
        *,
        update_url: str | None = None,
        gsp_url: str | None = None,
        auth: Auth | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        union_default_graph: UnionMode | Literal["auto"] = "auto",
        engine: str | Engine = "auto",
        query_timeout: float | None = None,
    ) -> SparqlStore:
        """Return a store for the query URL users know, deriving the update and GSP URLs.

        Oxigraph ``…/query`` gives ``…/update`` and ``…/store``; Fuseki ``…/ds/sparql`` or
        ``…/ds/query`` gives ``…/ds/update`` and ``…/ds/data``; Virtuoso ``…/sparql`` gives
        itself and ``…/sparql-graph-crud`` (with ``auth``: ``…/sparql-auth`` and
        ``…/sparql-graph-crud-auth``, which want :class:`DigestAuth`); GraphDB
        ``…/repositories/R`` gives ``…/statements`` and ``…/rdf-graphs/service``; Neptune
        ``…/sparql`` gives itself and ``…/sparql/gsp/``. Any other URL serves updates itself
        and has no Graph Store. URLs given explicitly win.
        """
        store = cls(
            url,
            update_url=update_url,
            gsp_url=gsp_url,
            auth=auth,
            timeout=timeout,
            retries=retries,
            union_default_graph=union_default_graph,
            engine=engine,
            query_timeout=query_timeout,
        )
        derived_update, derived_gsp = _derived_urls(url, store.engine, auth)
        store.update_url = update_url or derived_update
        store.gsp_url = gsp_url or derived_gsp
        return store

    def __repr__(self) -> str:
        return f"SparqlStore({self.query_url!r}, engine={self.engine.name!r})"

    # -- reading ---------------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL 1.1 query over the union of the graphs (or the given dataset).

        The common prefixes (:data:`cokg.namespaces.PREFIXES`) are predeclared. The whole
        answer is read and checked before anything is returned, so a result the engine cut
        short never passes for a complete one.

        Returns :class:`pyoxigraph.QuerySolutions` (SELECT), :class:`pyoxigraph.QueryBoolean`
        (ASK) or an iterator of :class:`pyoxigraph.Triple` (CONSTRUCT, DESCRIBE). Raises
        :class:`~cokg.errors.QueryError` with the engine's message for a malformed query,
        :class:`~cokg.errors.QueryTimeout` when the engine or the wait ran out of time and
        :class:`~cokg.errors.StoreUnavailable` when the engine cannot be reached or fails.
        """
        result = self._query(sparql, default_graph_uris, named_graph_uris, as_text=False)
        assert not isinstance(result, SolutionsText | TriplesText)
        return result

    def _query(
        self,
        sparql: str,
        default_graph_uris: Iterable[str] | None,
        named_graph_uris: Iterable[str] | None,
        *,
        as_text: bool,
        receiver: AnswerReceiver | None = None,
    ) -> QueryResult | SolutionsText | TriplesText:
        form = query_form(sparql)
        if _first_keyword(sparql) in _UPDATE_FORMS:
            # Some engines (Virtuoso) run an update sent as a query: never let one through.
            raise QueryError("malformed query: this is a SPARQL Update, not a query")
        text = _with_prefixes(sparql)
        added = text.count("\n") - sparql.count("\n")
        if form == "DESCRIBE":
            text = self.engine.describe_prologue + text
        default = list(default_graph_uris or ())
        named = list(named_graph_uris or ())
        if not default and not named and _names_dataset(sparql):
            params = []  # the query's FROM clauses name its dataset: no union on top of them
        else:
            params = self._dataset_params(default, named)
        try:
            if as_text and form == "SELECT":
                response = self._sparql_query(text, form, params, receiver=receiver)
                return _read_solutions_text(response, self.engine) or _read_result(
                    response, form, self.engine
                )
            if as_text and form in ("CONSTRUCT", "DESCRIBE"):
                response = self._sparql_query(text, form, params)
                return _read_triples_text(response, self.engine) or _read_result(
                    response, form, self.engine
                )
            return self._run_query(text, form, params)
        except QueryError as error:
            if not added:
                raise
            raise shift_back(error, added) from error

    def query_text(
        self,
        sparql: str,
        *,
        default_graph_uris: Iterable[str] | None = None,
        named_graph_uris: Iterable[str] | None = None,
        receiver: AnswerReceiver | None = None,
    ) -> QueryResult | SolutionsText | TriplesText:
        """Run a query as :meth:`query` does, but return a SELECT answer the engine sent as
        SPARQL TSV (Oxigraph) as that text, and a CONSTRUCT or DESCRIBE answer it sent as
        N-Triples as that text, checked whole but not parsed.

        An endpoint in front of the engine then passes it on as it is or parses it at most
        once, to write the format its client asked for (:class:`SolutionsText`,
        :class:`TriplesText`). Other answers come as from :meth:`query`; so do answers in
        other formats. A ``receiver`` is given the body of a SELECT answer while it arrives
        (:class:`AnswerReceiver`). Raises as :meth:`query` does.
        """
        return self._query(
            sparql, default_graph_uris, named_graph_uris, as_text=True, receiver=receiver
        )

    def graphs(self) -> list[str]:
        """Return the IRIs of every named graph, sorted (the engine's own graphs left out)."""
        pattern = "{}" if self.engine.keeps_empty_graphs else "{ ?s ?p ?o }"
        solutions = self._select(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {pattern} }}")
        found = {row["g"].value for row in solutions if isinstance(row["g"], NamedNode)}
        return sorted(g for g in found if not self._is_system_graph(g))

    def has_graph(self, graph: str) -> bool:
        """Tell whether the named graph ``graph`` exists (an empty one too, on an engine that
        keeps empty graphs; on the others, a graph exists while it holds a triple)."""
        pattern = "{}" if self.engine.keeps_empty_graphs else "{ ?s ?p ?o }"
        answer = self._run_query(f"ASK {{ GRAPH {NamedNode(graph)} {pattern} }}", "ASK", [])
        return bool(answer)

    def count(self, graph: str | None = None) -> int:
        """Return the number of quads in ``graph``, or in the whole store."""
        if graph is not None:
            return self._count(f"{{ GRAPH {NamedNode(graph)} {{ ?s ?p ?o }} }}")
        if self.engine.system_graphs:
            return sum(self._graph_sizes().values())
        if self.engine.separate_default_graph and not self._union_by_default():
            return self._count("{ { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
        return self._count("{ GRAPH ?g { ?s ?p ?o } }")

    def dump(self, output: IO[bytes], fmt: Format, *, graph: str | None = None) -> None:
        """Write the store (a dataset format) or one graph (any format) to ``output``.

        Streams: each graph is read from the engine (Graph Store ``GET`` or CONSTRUCT) while
        it is written out. A dump of the whole store reads one graph after another, so it is
        not a snapshot when writers are busy (an Oxigraph server with a Graph Store URL is
        read in one request). Raises :class:`~cokg.errors.NotFound` for an unknown graph,
        :class:`~cokg.errors.UnsupportedFormat` for a whole-store dump in a format without
        graphs and :class:`~cokg.errors.StoreUnavailable` when a read breaks off (``output``
        then holds a partial dump).
        """
        if graph is not None:
            serialize(self._graph_triples(graph), output, fmt.oxigraph, prefixes=PREFIXES)
        elif fmt.dataset:
            serialize(self._all_quads(), output, fmt.oxigraph, prefixes=PREFIXES)
        else:
            raise UnsupportedFormat(
                f"{fmt.label} holds one graph: name a graph or pick N-Quads or TriG for the store"
            )

    def dump_default_graph(self, output: IO[bytes], fmt: Format) -> None:
        """Write the engine's own default graph to ``output`` (Graph Store ``?default``).

        Without a Graph Store URL it is a CONSTRUCT without the union parameter; on engines
        whose default graph always is the union (Virtuoso, GraphDB, Neptune) that is what
        comes back.
        """
        if self.gsp_url:
            separator = "&" if "?" in self.gsp_url else "?"
            response = self._attempt(
                lambda: self._send(
                    "GET",
                    f"{self.gsp_url}{separator}default",
                    headers={"Accept": _RDF_ACCEPT},
                    stream=True,
                    what="GET",
                ),
                retry=True,
            )
        else:
            text = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
            response = self._sparql_query(text, "CONSTRUCT", [], stream=True)
        triples = (quad.triple for quad in self._stream_quads(response, "the default graph"))
        serialize(triples, output, fmt.oxigraph, prefixes=PREFIXES)

    def close(self) -> None:
        """Close the idle connections kept for later requests (those open new ones)."""
        self._connections.close()

    # -- writing ---------------------------------------------------------------------------

    def replace_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Replace the content of ``graph`` with ``data`` in one transaction.

        The data is parsed here first, so malformed data raises
        :class:`~cokg.errors.ParseError` and sends nothing.
        """
        self.replace_graph_quads(graph, parse_quads(data, fmt, graph=graph, base_iri=base_iri))

    def replace_graph_quads(self, graph: str, quads: Iterable[Quad]) -> None:
        """Replace ``graph`` with ``quads`` in one transaction.

        Uses a Graph Store ``PUT`` where the engine makes it one transaction; on an engine that
        commits each update operation on its own (Virtuoso), one ``DELETE … INSERT … WHERE``
        operation; otherwise one SPARQL Update request (``DROP SILENT GRAPH`` then
        ``INSERT DATA``), which the engine runs as one transaction.
        """
        target = NamedNode(graph)
        quads = list(quads)
        if (
            quads
            and self.gsp_url
            and self.engine.atomic_gsp_put
            and all(q.graph_name == target for q in quads)
        ):
            self._gsp_write("PUT", graph, quads)
            return
        if (
            quads
            and self.engine.commits_each_operation
            and all(q.graph_name == target for q in quads)
        ):
            self._run_update(_replace_in_one_operation(target, quads))
            return
        update = f"DROP SILENT GRAPH {target}"
        if quads:
            update += " ;\n" + self._insert(quads)
        elif self.engine.keeps_empty_graphs:  # kept, empty (a Graph Store PUT of nothing)
            update += f" ;\nCREATE SILENT GRAPH {target}"
        self._run_update(update)

    def add_to_graph(
        self, graph: str, data: RdfInput, fmt: Format, *, base_iri: str | None = None
    ) -> None:
        """Add ``data`` to ``graph`` in one transaction (parsed here first, like replace)."""
        self.add_quads(parse_quads(data, fmt, graph=graph, base_iri=base_iri))

    def add_quads(self, quads: Iterable[Quad]) -> None:
        """Add ``quads`` in one transaction (Graph Store ``POST`` or ``INSERT DATA``)."""
        quads = list(quads)
        if not quads:
            return
        first = quads[0].graph_name
        if (
            self.gsp_url
            and self.engine.atomic_gsp_put
            and isinstance(first, NamedNode)
            and all(q.graph_name == first for q in quads)
        ):
            self._gsp_write("POST", first.value, quads)
        else:
            self._run_update(self._insert(quads))

    def delete_graph(self, graph: str) -> None:
        """Delete ``graph``; raises :class:`~cokg.errors.NotFound` when it does not exist."""
        target = NamedNode(graph)
        if self.gsp_url:
            self._gsp_request("DELETE", graph, retry=False, missing=f"no graph {graph}")
            return
        if not self.has_graph(graph):
            raise NotFound(f"no graph {graph}")
        self._run_update(f"DROP SILENT GRAPH {target}")

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update (one request, which the engine runs as one transaction).

        The common prefixes are predeclared. Raises :class:`~cokg.errors.QueryError` with the
        engine's message for a malformed update. Never retried: a lost answer does not say
        whether the update happened.
        """
        text = _with_prefixes(sparql)
        try:
            self._run_update(text)
        except QueryError as error:
            added = text.count("\n") - sparql.count("\n")
            if not added:
                raise
            raise shift_back(error, added) from error

    def clear(self) -> None:
        """Delete every graph (the engine's own graphs stay)."""
        if self.engine.drop_all_is_safe:
            self._run_update("DROP ALL")
            return
        graphs = self.graphs()
        if graphs:
            self._run_update(" ;\n".join(f"DROP SILENT GRAPH {NamedNode(g)}" for g in graphs))

    # -- engine differences ----------------------------------------------------------------

    def _insert(self, quads: list[Quad]) -> str:
        template = not self.engine.blank_nodes_in_insert_data and any(
            isinstance(term, BlankNode) for q in quads for term in (q.subject, q.object)
        )
        return _insert(quads, template=template)

    def _is_system_graph(self, graph: str) -> bool:
        return graph.startswith(self.engine.system_graphs) if self.engine.system_graphs else False

    def _dataset_params(self, default: list[str], named: list[str]) -> list[tuple[str, str]]:
        """Return the protocol parameters that give a query its dataset.

        With neither list the default graph is the union of the named graphs. With one of
        them the dataset is exactly what was given, as the SPARQL 1.1 Protocol says: the other
        half is empty, also on engines that would fill it in.
        """
        if not default and not named:
            if self.engine.union_default_graph == "oxigraph":
                return [("union-default-graph", "")]
            if self.engine.union_default_graph == "jena":
                return [("default-graph-uri", _JENA_UNION_GRAPH)]
            return []
        if self.engine.fills_in_dataset:
            default = default or [_NO_GRAPH]
            named = named or [_NO_GRAPH]
        return [("default-graph-uri", g) for g in default] + [("named-graph-uri", g) for g in named]

    def _graph_sizes(self) -> dict[str, int]:
        """Return the number of triples of every named graph (the engine's own left out)."""
        solutions = self._select(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        )
        return {
            row["g"].value: int(row["n"].value)
            for row in solutions
            if isinstance(row["g"], NamedNode) and not self._is_system_graph(row["g"].value)
        }

    def _select(self, text: str) -> QuerySolutions:
        """Run one of SparqlStore's own SELECT queries (no dataset parameters)."""
        solutions = self._run_query(text, "SELECT", [])
        if not isinstance(solutions, QuerySolutions):
            raise StoreUnavailable(
                f"the engine did not answer a SELECT query with solutions: {text}"
            )
        return solutions

    def _count(self, pattern: str) -> int:
        for row in self._select(f"SELECT (COUNT(*) AS ?n) WHERE {pattern}"):
            return int(row["n"].value)
        return 0

    def _union_by_default(self) -> bool:
        """Tell whether the engine's service description lists ``sd:UnionDefaultGraph`` (an
        Oxigraph server started with ``--union-default-graph``): its default graph is then the
        union of the named graphs, not a graph of its own, and counting both would count every
        quad twice. Asked once; an engine without a readable description is taken to keep a
        default graph of its own."""
        if self._union_feature is None:
            try:
                answer = self._send(
                    "GET",
                    self.query_url,
                    headers={"Accept": "application/n-triples, text/turtle;q=0.9"},
                    what="service description",
                )
                form = RdfFormat.from_media_type(answer.media_type)
                features = {
                    triple.object
                    for triple in (parse(answer.body, form) if form is not None else ())
                    if triple.predicate == _SD_FEATURE
                }
            except (_Failure, SyntaxError, ValueError):
                features = set()
            self._union_feature = _SD_UNION_DEFAULT_GRAPH in features
        return self._union_feature

    # -- dumps -----------------------------------------------------------------------------

    def _graph_triples(self, graph: str, *, expected: int | None = None) -> Iterator[Triple]:
        """Open ``graph`` for reading now (so NotFound comes first); stream its triples."""
        if self.engine.row_limit_header and expected is None:
            expected = self.count(graph)
        if self.gsp_url:
            response = self._gsp_request(
                "GET", graph, retry=True, missing=f"no graph {graph}", accept=_RDF_ACCEPT
            )
        else:
            if not self.has_graph(graph):
                raise NotFound(f"no graph {graph}")
            text = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {NamedNode(graph)} {{ ?s ?p ?o }} }}"
            response = self._sparql_query(text, "CONSTRUCT", [], stream=True)
        return self._stream_triples(response, f"graph {graph}", expected)

    def _all_quads(self) -> Iterator[Quad]:
        """Stream every quad of the store, graph after graph."""
        if self.engine.name == "oxigraph" and self.gsp_url:
            response = self._send(
                "GET",
                self.gsp_url,
                headers={"Accept": "application/n-quads"},
                stream=True,
                what="GET",
            )
            yield from self._stream_quads(response, "the store")
            return
        sizes = self._graph_sizes() if self.engine.row_limit_header else {}
        for graph in self.graphs():
            target = NamedNode(graph)
            for triple in self._graph_triples(graph, expected=sizes.get(graph)):
                yield Quad(triple.subject, triple.predicate, triple.object, target)

    def _stream_triples(
        self, response: _Response, what: str, expected: int | None
    ) -> Iterator[Triple]:
        seen = 0
        for quad in self._stream_quads(response, what):
            seen += 1
            yield quad.triple
        if expected is not None and seen < expected:
            raise StoreUnavailable(
                f"the engine sent {seen} of the {expected} triples of {what}: its result "
                "size limit (Virtuoso: ResultSetMaxRows in virtuoso.ini) is too low for a dump"
            )

    def _stream_quads(self, response: _Response, what: str) -> Iterator[Quad]:
        assert response.stream is not None
        fmt = _rdf_format(response)
        try:
            yield from parse(response.stream, fmt.oxigraph, rename_blank_nodes=True)
        except SyntaxError as e:
            raise _broken_off(str(e).encode(), what) from e
        except TimeoutError as e:
            raise QueryTimeout(f"reading {what} from the engine took too long: {e}") from e
        except (OSError, http.client.HTTPException) as e:
            raise StoreUnavailable(f"reading {what} from the engine broke off: {e}") from e
        finally:
            response.finish()

    # -- SPARQL protocol -------------------------------------------------------------------

    def _run_query(self, text: str, form: str | None, params: list[tuple[str, str]]) -> QueryResult:
        response = self._sparql_query(text, form, params)
        return _read_result(response, form, self.engine)

    def _sparql_query(
        self,
        text: str,
        form: str | None,
        params: list[tuple[str, str]],
        *,
        stream: bool = False,
        receiver: AnswerReceiver | None = None,
    ) -> _Response:
        """POST a query; return the answer read in full (or open, with ``stream``); a
        ``receiver`` is given a successful answer's body while it arrives."""
        accept = (
            _RDF_ACCEPT
            if form in ("CONSTRUCT", "DESCRIBE")
            else self.engine.select_accept
            if form == "SELECT"
            else _RESULTS_ACCEPT
            if form
            else _ANY_ACCEPT
        )
        if self.query_timeout is not None and self.engine.query_timeout_parameter:
            milliseconds = str(max(1, round(self.query_timeout * 1000)))
            params = [*params, (self.engine.query_timeout_parameter, milliseconds)]

        encoded = _encoded_query(text)  # the same as urlencode([("query", text), *params])
        body = (f"{encoded}&{urlencode(params)}" if params else encoded).encode()
        headers = {"Accept": accept, "Content-Type": _FORM}

        def attempt() -> _Response:
            return self._send(
                "POST",
                self.query_url,
                headers=headers,
                body=body,
                stream=stream,
                what="query",
                receiver=receiver,
            )

        return self._attempt(attempt, retry=True)

    def _run_update(self, text: str) -> None:
        """POST an update, once."""

        body = urlencode([("update", text)]).encode()

        def attempt() -> _Response:
            return self._send(
                "POST", self.update_url, headers={"Content-Type": _FORM}, body=body, what="update"
            )

        self._attempt(attempt, retry=False)

    def _authorization(self, method: str, url: str) -> str | None:
        if self._digest is not None:
            return self._digest.header(method, url, self.timeout)
        if isinstance(self.auth, (BearerAuth, BasicAuth)):
            return self.auth.header()
        return None

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None = None,
        stream: bool = False,
        what: str,
        missing: str | None = None,
        receiver: AnswerReceiver | None = None,
    ) -> _Response:
        """Send one request on a pooled connection; return the answer (see :func:`_take`).

        An error status raises the matching :class:`_Failure`; a 404 raises
        NotFound(``missing``) when ``missing`` is given. ``GET`` follows redirects.
        """
        started = time.monotonic()
        home = urlsplit(url)[:2]
        for _ in range(_MAX_REDIRECTS + 1):
            sent = {"User-Agent": _AGENT, **headers}
            # credentials go to the engine's own origin only, never where it redirects
            authorization = self._authorization(method, url) if urlsplit(url)[:2] == home else None
            if authorization:
                sent["Authorization"] = authorization
            origin, connection, reused = self._connections.take(url, self.timeout)
            sent.update(origin.proxy_headers() if origin.scheme == "http" else {})
            try:
                connection.request(method, origin.target(url), body=body, headers=sent)
                raw = connection.getresponse()
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                if reused:  # the others kept as long are likely dead too
                    self._connections.forget(origin)
                raise _connection_failure(e, url) from e
            release = functools.partial(self._connections.give_back, origin, connection)
            if 200 <= raw.status < 300:
                return _take(
                    raw,
                    connection,
                    release,
                    stream=stream and method == "GET",
                    deadline=started + self.timeout,
                    receiver=receiver,
                )
            answer = _take(raw, connection, release, stream=False, deadline=started + self.timeout)
            location = answer.headers.get("Location")
            if raw.status in _REDIRECTS and location and method in ("GET", "HEAD"):
                url = urljoin(url, location)
                continue
            if raw.status == 404 and missing is not None:
                raise _Failure(NotFound(missing), transient=False)
            if 300 <= raw.status < 400:
                raise _Failure(
                    StoreUnavailable(
                        f"the engine at {url} redirected the {what} ({raw.status}) to "
                        f"{location or '(nowhere)'}; give cokg that URL instead"
                    ),
                    transient=False,
                )
            raise _status_failure(raw.status, answer.body, what, url)
        raise _Failure(
            StoreUnavailable(f"more than {_MAX_REDIRECTS} redirects from {url}"), transient=False
        )

    # -- Graph Store protocol --------------------------------------------------------------

    def _gsp_target(self, graph: str) -> str:
        assert self.gsp_url is not None
        separator = "&" if "?" in self.gsp_url else "?"
        return f"{self.gsp_url}{separator}graph={quote(graph, safe='')}"

    def _gsp_write(self, method: str, graph: str, quads: list[Quad]) -> None:
        body = serialize([q.triple for q in quads], format=RdfFormat.N_TRIPLES)
        assert body is not None
        self._gsp_request(
            method, graph, retry=False, body=body, content_type="application/n-triples"
        )

    def _gsp_request(
        self,
        method: str,
        graph: str,
        *,
        retry: bool,
        missing: str | None = None,
        accept: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> _Response:
        headers = {}
        if accept:
            headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        url = self._gsp_target(graph)
        try:
            return self._attempt(
                lambda: self._send(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    stream=True,
                    what=method,
                    missing=missing,
                ),
                retry=retry,
            )
        except QueryError as e:
            if body is None:
                raise
            raise ParseError(f"the engine refused the data: {e}") from e

    # -- retries ---------------------------------------------------------------------------

    def _attempt(self, action: Callable[[], T], *, retry: bool) -> T:
        """Run ``action``; try again after transient failures when ``retry`` says it is safe."""
        tries = 1 + (self.retries if retry else 0)
        refreshed = False
        for attempt in range(tries):
            try:
                return action()
            except _Failure as failure:
                if failure.refused and self._digest is not None and not refreshed:
                    # a stale Digest nonce: the engine did nothing, so asking again is safe
                    self._digest.forget()
                    refreshed = True
                    try:
                        return action()
                    except _Failure as second:
                        failure = second
                if not failure.transient or attempt == tries - 1:
                    error, cause = failure.error, failure.__cause__
                    break
                # a short backoff: the engine is restarting or shedding load
                time.sleep(min(0.1 * 2**attempt, 1.0))
        else:
            raise AssertionError("unreachable")
        # Raised here, outside the handler, and without keeping it in this frame: the
        # failure that holds the error as its context, or a local naming it, would make a
        # reference cycle through the error's traceback that keeps every frame of the failed
        # request (and the query solutions in them) until the collector runs, on whichever
        # thread it runs (pyoxigraph's solutions may only be dropped by their own thread).
        try:
            raise error from cause
        finally:
            del error, cause


def _replace_in_one_operation(graph: NamedNode, quads: list[Quad]) -> str:
    """Return one update operation that replaces ``graph`` with ``quads`` (all in ``graph``).

    The old triples are the solutions of the first branch; the second branch is one solution
    that binds ``?new``, so the new triples are inserted once (a template triple with an
    unbound variable is skipped, SPARQL 1.1 Update §3.1.3), not once per old triple.
    """
    triples = "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in quads)
    return (
        f"DELETE {{ GRAPH {graph} {{ ?s ?p ?o }} }}\n"
        f"INSERT {{ GRAPH ?new {{\n{triples}\n}} }}\n"
        f"WHERE {{ {{ GRAPH {graph} {{ ?s ?p ?o }} }} UNION {{ BIND({graph} AS ?new) }} }}"
    )


def _insert(quads: list[Quad], *, template: bool) -> str:
    """Return an update that inserts ``quads``: ``INSERT DATA``, or a template with ``WHERE {}``."""
    lines = [
        f"GRAPH {q.graph_name} {{ {q.subject} {q.predicate} {q.object} }}"
        if isinstance(q.graph_name, NamedNode)
        else f"{q.subject} {q.predicate} {q.object} ."
        for q in quads
    ]
    body = "{\n" + "\n".join(lines) + "\n}"
    return f"INSERT {body} WHERE {{}}" if template else f"INSERT DATA {body}"


def _take(
    raw: http.client.HTTPResponse,
    connection: http.client.HTTPConnection,
    release: Callable[[], None],
    *,
    stream: bool,
    deadline: float,
    receiver: AnswerReceiver | None = None,
) -> _Response:
    """Read a response in full by ``deadline`` (a monotonic time) unless ``stream``; a
    ``receiver`` is given the body while it is read.

    The socket timeout only bounds each read: an engine that keeps sending (Oxigraph streams
    results past its own time limit) is stopped here, by closing the connection. A connection
    goes back to the pool (``release``) only once its answer was read to the end.
    """
    response = _Response(raw.status, raw.headers)
    finish = functools.partial(_finish, raw, connection, release)
    if stream:
        response.stream = raw
        response.finish = finish
        return response
    chunks = []
    if receiver is not None:
        receiver.begin(response.media_type)
    try:
        while chunk := raw.read(1 << 16):
            chunks.append(chunk)
            if receiver is not None:
                receiver.receive(chunk)
            if time.monotonic() > deadline:
                raise _Failure(
                    QueryTimeout("the engine was still sending its answer at the time limit"),
                    transient=False,
                )
        response.body = b"".join(chunks)
    except TimeoutError as e:
        raise _Failure(
            QueryTimeout(f"the engine did not answer in time: {e}"), transient=False
        ) from e
    except (OSError, http.client.HTTPException) as e:
        raise _Failure(
            StoreUnavailable(f"the engine's answer broke off: {e!r}"), transient=False
        ) from e
    finally:
        finish()
    return response


def _finish(
    raw: http.client.HTTPResponse,
    connection: http.client.HTTPConnection,
    release: Callable[[], None],
) -> None:
    """Pool ``connection`` if its answer was read to the end and it stays open; else close it
    (closing is what stops an engine still sending, or a query still running)."""
    if raw.isclosed() and not raw.will_close:
        release()
    else:
        raw.close()
        connection.close()


def _read_error_body(error: urllib.error.HTTPError) -> bytes:
    """Read and close an error response (an unclosed one leaks its socket)."""
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def _status_failure(status: int, body: bytes, what: str, url: str) -> _Failure:
    """Turn an HTTP error status into the cokg error a caller expects."""
    message = _engine_message(body)
    if status in (408, 504) or (status >= 500 and _TIMEOUT_TEXT.search(message)):
        return _Failure(QueryTimeout(f"the engine stopped the {what}: {message}"), transient=False)
    if status == 400 or status in (413, 414, 422):
        line, column = position_of(message)
        kind = "query" if what == "query" else "update" if what == "update" else "request"
        return _Failure(
            QueryError(f"malformed {kind}: {message}", line=line, column=column), transient=False
        )
    if status in (401, 403, 405):
        return _Failure(
            StoreUnavailable(f"the engine at {url} refused the {what} ({status}): {message}"),
            transient=False,
            refused=status == 401,
        )
    if status == 404:
        return _Failure(StoreUnavailable(f"no SPARQL service at {url} (404)"), transient=False)
    if status == 503:
        return _Failure(
            StoreUnavailable(f"the engine is unavailable (503): {message}"), transient=True
        )
    if status >= 500 and _CLIENT_ERROR_TEXT.search(message):
        # Oxigraph answers 500 to these errors of the request itself: a 503 would tell the
        # client to send it again.
        return _Failure(QueryError(f"the engine refused the {what}: {message}"), transient=False)
    if status >= 500:
        return _Failure(
            StoreUnavailable(f"the engine failed ({status}): {message}"), transient=False
        )
    return _Failure(
        QueryError(f"the engine refused the {what} ({status}): {message}"), transient=False
    )


def _connection_failure(error: OSError | http.client.HTTPException, url: str) -> _Failure:
    """Turn a network-level failure into StoreUnavailable (worth a retry) or QueryTimeout."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return _Failure(QueryTimeout(f"no answer from {url} in time: {reason}"), transient=False)
    return _Failure(StoreUnavailable(f"cannot reach {url}: {reason}"), transient=True)


def _rdf_format(response: _Response) -> Format:
    try:
        return RDF_FORMATS.by_media_type(response.media_type)
    except UnsupportedFormat as e:
        raise StoreUnavailable(f"the engine answered in an unexpected {e}") from e


def _broken_off(body: bytes, what: str) -> CokgError:
    """Return the error for an answer that does not parse: cut at a time limit, or broken."""
    message = _engine_message(body[-2000:])  # the end, where an engine says it stopped
    if _TIMEOUT_TEXT.search(message):
        return QueryTimeout(f"the engine stopped the {what} at its time limit: {message[-300:]}")
    return StoreUnavailable(
        f"the engine's answer to the {what} is malformed or cut short: {message[-300:]}"
    )


def _read_solutions_text(response: _Response, engine: Engine) -> SolutionsText | None:
    """Return a SELECT answer in SPARQL TSV as :class:`SolutionsText`, after checking that it
    is whole; None for an answer in another format, or from an engine not asked for TSV.

    Oxigraph ends every row with a line break; when it stops a query at its time limit it
    has already answered 200, and it writes "The SPARQL operation has been cancelled" after
    the last row it sent, with no line break. So an answer is whole when it ends with a line
    break and its last row reads as a row under its header. The rows in between come from
    the engine's own serialiser and are not read here: a front-end parses them at most once,
    while it writes them out.
    """
    if response.media_type != SPARQL_TSV.media_type or SPARQL_TSV.media_type not in (
        engine.select_accept
    ):
        return None  # only the TSV of an engine asked for it is known to keep a row a line
    _check_partial(response, engine)
    body = response.body
    header_end = body.find(b"\n")
    if header_end < 0 or not body.endswith(b"\n"):
        raise _broken_off(body, "query")
    last_start = body.rfind(b"\n", 0, len(body) - 1) + 1
    if last_start > header_end:  # at least one row: read the last one
        try:
            last = parse_query_results(
                body[: header_end + 1] + body[last_start:], SPARQL_TSV.oxigraph
            )
            if isinstance(last, QuerySolutions):
                for _ in last:
                    pass
        except SyntaxError as e:
            raise _broken_off(body, "query") from e
    return SolutionsText(body, body.count(b"\n") - 1)


def _read_triples_text(response: _Response, engine: Engine) -> TriplesText | None:
    """Return a CONSTRUCT or DESCRIBE answer in N-Triples as :class:`TriplesText`, after
    checking that it is whole; None for an answer in another format, or from an engine whose
    N-Triples are not known to hold exactly one triple per line.

    As for TSV (:func:`_read_solutions_text`): an answer is whole when it is empty, or ends
    with a line break and its last line reads as one triple. A query Oxigraph stops at its
    time limit ends with its "cancelled" message, without a line break, or inside a triple.
    """
    if not engine.ntriples_lines or response.media_type != NTRIPLES.media_type:
        return None
    _check_partial(response, engine)
    body = response.body
    if not body:
        return TriplesText(body, 0)
    if not body.endswith(b"\n"):
        raise _broken_off(body, "query")
    last = body[body.rfind(b"\n", 0, len(body) - 1) + 1 :]
    try:
        if len(list(parse(last, RdfFormat.N_TRIPLES))) != 1:
            raise SyntaxError("the last line of the answer is not one triple")
    except SyntaxError as e:
        raise _broken_off(body, "query") from e
    return TriplesText(body, body.count(b"\n"))


def _check_partial(response: _Response, engine: Engine) -> None:
    """Raise for an answer its engine marks as cut (Virtuoso: a time limit, a row limit)."""
    state = response.headers.get(engine.timeout_state_header or "", "").strip()
    if state == "S1TAT":
        raise QueryTimeout(
            "the engine stopped the query at its time limit and sent a partial result: "
            + response.headers.get("X-SQL-Message", "")
        )
    if engine.row_limit_header and response.headers.get(engine.row_limit_header):
        raise QueryError(
            f"the engine cut the result at {response.headers[engine.row_limit_header]} rows "
            "(its result size limit); page the query with LIMIT and OFFSET"
        )


def _read_result(response: _Response, form: str | None, engine: Engine) -> QueryResult:
    """Turn a complete query answer into pyoxigraph results, refusing partial ones."""
    _check_partial(response, engine)
    if form in ("CONSTRUCT", "DESCRIBE") or (
        form is None and response.media_type not in RESULTS_FORMATS.media_types()
    ):
        fmt = _rdf_format(response)
        try:
            return iter([q.triple for q in parse(response.body, fmt.oxigraph)])
        except SyntaxError as e:
            raise _broken_off(response.body, "query") from e
    try:
        results_format = RESULTS_FORMATS.by_media_type(response.media_type)
    except UnsupportedFormat as e:
        raise StoreUnavailable(f"the engine answered in an unexpected {e}") from e
    if results_format is SPARQL_CSV:
        raise StoreUnavailable("the engine answered in CSV, which loses term types")
    try:
        parsed = parse_query_results(response.body, results_format.oxigraph)
        if isinstance(parsed, QuerySolutions):
            for _ in parsed:  # read to the end: a cut answer fails here, not in the caller
                pass
            fresh = parse_query_results(response.body, results_format.oxigraph)
            assert isinstance(fresh, QuerySolutions)
            return fresh
    except SyntaxError as e:
        raise _broken_off(response.body, "query") from e
    assert isinstance(parsed, QueryBoolean)
    return parsed
