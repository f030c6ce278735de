"""What the endpoint reads off the text of a SPARQL query or update before the store sees it.

A small tokenizer skips what may contain keyword-like text (strings, IRIs, comments, variables,
prefixed names, blank nodes) and keeps bare words and braces. On top of it:
:func:`uses_service` and :func:`service_endpoints` (federated query is refused unless the
operator allows the endpoint), :func:`uses_load` (``LOAD`` would fetch any URL),
:func:`with_base` (relative IRIs resolve against the knowledge base's base IRI, whatever the
engine behind the store would use) and :func:`with_using` (the protocol's
``using-graph-uri`` / ``using-named-graph-uri`` become ``USING`` clauses, which every backend
understands).
"""

from __future__ import annotations

import re
import threading
from typing import NamedTuple

from pyoxigraph import NamedNode

from cokg.errors import QueryError
from cokg.sparql_text import code_only

# Re-exported: the endpoint and the query page take it from here with the other helpers.
from cokg.sparql_text import shift_back as shift_back

_TOKEN = re.compile(
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*')"
    r'|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)'
    r"|(?P<comment>\#[^\n\r]*)"
    r"|(?P<var>[?$]\w+)"
    r"|(?P<bnode>_:[\w.-]*)"
    r"|(?P<pname>[\w.-]*:[\w.:%\\-]*)"
    r"|(?P<word>\w+)"
    r"|(?P<brace>[{}])"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


class Token(NamedTuple):
    """One token: its kind (a group name of the tokenizer), text and place in the source.

    ``depth`` is how many braces are open where the token starts.
    """

    kind: str
    text: str
    start: int
    end: int
    depth: int

    def is_word(self, *words: str) -> bool:
        """Tell whether the token is one of the bare ``words`` (case-insensitive)."""
        return self.kind == "word" and self.text.upper() in words


# The endpoint reads the same text several times in one request (SERVICE, then relative
# IRIs…): each thread keeps the tokens of the last text it scanned.
_LAST = threading.local()


def tokens(text: str) -> tuple[Token, ...]:
    """Return the tokens of ``text`` that matter here (comments left out).

    >>> [t.text for t in tokens('SELECT ?s { ?s ex:p "}" } # }')]
    ['SELECT', '?s', '{', '?s', 'ex:p', '"}"', '}']
    """
    last = getattr(_LAST, "scan", None)
    if last is not None and last[0] == text:
        scanned: tuple[Token, ...] = last[1]
        return scanned
    found = []
    depth = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or ""
        if kind == "comment":
            continue
        value = match.group(0)
        if value == "}":
            depth = max(0, depth - 1)
        found.append(Token(kind, value, match.start(), match.end(), depth))
        if value == "{":
            depth += 1
    scanned = tuple(found)
    _LAST.scan = (text, scanned)
    return scanned


def uses_service(query: str) -> bool:
    """Tell whether ``query`` contains the ``SERVICE`` keyword (federated query).

    Errs on the safe side: text that only looks like the keyword to this scanner is refused
    too, but a real ``SERVICE`` is never missed.

    >>> uses_service("SELECT * WHERE { service <http://example.org/sparql> { ?s ?p ?o } }")
    True
    >>> uses_service('SELECT ?service WHERE { ?service ex:SERVICE "SERVICE" } # SERVICE')
    False
    """
    return any(token.is_word("SERVICE") for token in tokens(query))


def service_endpoints(query: str) -> list[str | None]:
    """Return the endpoint of each ``SERVICE`` clause; None where it is not a full IRI.

    >>> service_endpoints("SELECT * { SERVICE SILENT <http://a/sparql> {} SERVICE ?s {} }")
    ['http://a/sparql', None]
    """
    found = tokens(query)
    endpoints: list[str | None] = []
    for index, token in enumerate(found):
        if not token.is_word("SERVICE"):
            continue
        following = found[index + 1 : index + 3]
        if following and following[0].is_word("SILENT"):
            following = following[1:]
        target = following[0] if following else None
        if target is not None and target.kind == "iri" and _SCHEME.match(target.text[1:]):
            endpoints.append(target.text[1:-1])
        else:
            endpoints.append(None)
    return endpoints


def uses_load(update: str) -> bool:
    """Tell whether an update contains ``LOAD`` (which makes the engine fetch a URL).

    >>> uses_load("LOAD <http://example.org/data.ttl> INTO GRAPH <http://g>")
    True
    >>> uses_load('INSERT DATA { <http://s> <http://p> "LOAD" }')
    False
    """
    return any(token.is_word("LOAD") for token in tokens(update))


def has_relative_iri(text: str) -> bool:
    """Tell whether ``text`` holds an IRI reference without a scheme (such as ``<test>``).

    >>> has_relative_iri("CONSTRUCT { <s> <p> 1 } WHERE {}")
    True
    >>> has_relative_iri("ASK { <urn:x> ?p ?o }")
    False
    """
    return any(t.kind == "iri" and not _SCHEME.match(t.text[1:]) for t in tokens(text))


def with_base(text: str, base_iri: str) -> tuple[str, int]:
    """Return ``text`` with ``BASE <base_iri>`` on a line of its own before it, if it needs one.

    Only text with relative IRIs gets it (a ``BASE`` of the query's own still wins, coming
    later). Returns the text and how many lines were added (0 or 1), for
    :func:`shift_back`.

    >>> with_base("ASK { <a> ?p ?o }", "https://example.org/")
    ('BASE <https://example.org/>\\nASK { <a> ?p ?o }', 1)
    >>> with_base("ASK {}", "https://example.org/")
    ('ASK {}', 0)
    """
    if not has_relative_iri(text):
        return text, 0
    return f"BASE <{base_iri}>\n{text}", 1


def with_using(update: str, graphs: list[str], named_graphs: list[str]) -> str:
    """Return ``update`` with the protocol's dataset as ``USING`` / ``USING NAMED`` clauses.

    Each ``DELETE``/``INSERT … WHERE`` operation gets the clauses before its ``WHERE``;
    ``DELETE WHERE { P }`` becomes ``DELETE { P } USING … WHERE { P }``, which means the same.
    Raises :class:`~cokg.errors.QueryError` when the update names its own dataset (``USING``
    or ``WITH``), as the SPARQL 1.1 Protocol requires (§2.2.3).

    >>> with_using("INSERT { <http://a> <http://b> ?o } WHERE { ?s ?p ?o }", ["http://g"], [])
    'INSERT { <http://a> <http://b> ?o } USING <http://g> WHERE { ?s ?p ?o }'
    >>> with_using("DELETE WHERE { ?s ?p 1 }", [], ["http://g"])
    'DELETE { ?s ?p 1 } USING NAMED <http://g> WHERE { ?s ?p 1 }'
    """
    if not graphs and not named_graphs:
        return update
    found = tokens(update)
    top = [t for t in found if t.depth == 0]
    if any(t.is_word("USING", "WITH") for t in top):
        raise QueryError(
            "the update names its own dataset (USING or WITH) and the request gives one too "
            "(using-graph-uri / using-named-graph-uri): keep one of them"
        )
    clauses = " ".join(
        [f"USING <{_iri(g)}>" for g in graphs] + [f"USING NAMED <{_iri(g)}>" for g in named_graphs]
    )
    pieces = []
    done = 0
    for index, token in enumerate(top):
        if not token.is_word("WHERE"):
            continue
        previous = top[index - 1] if index else None
        if previous is not None and previous.is_word("DELETE"):
            pattern = _group_after(found, token)
            if pattern is None:
                continue  # malformed: leave it to the parser to say where
            text = update[pattern[0] : pattern[1]]
            pieces.append(update[done : token.start])
            pieces.append(f"{text} {clauses} WHERE {text}")
            done = pattern[1]
        else:
            pieces.append(update[done : token.start])
            pieces.append(f"{clauses} ")
            done = token.start
    pieces.append(update[done:])
    return "".join(pieces)


def is_absolute_iri(value: str) -> bool:
    """Tell whether ``value`` is an absolute IRI that may be written between ``<`` and ``>``.

    >>> is_absolute_iri("http://example.org/g"), is_absolute_iri("g"), is_absolute_iri("http://a b")
    (True, False, False)
    >>> is_absolute_iri("http://[bad")
    False
    """
    if not _SCHEME.match(value) or _NOT_IN_IRI.search(value):
        return False
    try:
        NamedNode(value)
    except ValueError:
        return False
    return True


_NOT_IN_IRI = re.compile(r'[<>"{}|^`\\\x00-\x20]')


def _iri(value: str) -> str:
    if not is_absolute_iri(value):
        raise QueryError(f"not an absolute IRI: {value!r}")
    return value


def _group_after(found: tuple[Token, ...], keyword: Token) -> tuple[int, int] | None:
    """Return the span of the ``{ … }`` group that follows ``keyword``."""
    following = [t for t in found if t.start >= keyword.end]
    if not following or following[0].text != "{":
        return None
    opening = following[0]
    for token in following[1:]:
        if token.text == "}" and token.depth == opening.depth:
            return opening.start, token.end
    return None


MAX_DEPTH = 128
"""How deep a query or update may nest, as :func:`nesting_depth` measures it."""

MAX_WIDTH = 800
"""How many triple patterns, and list items, a query's pattern may chain on top of that."""

_SHAPE = re.compile(
    _TOKEN.pattern.replace(r"|(?P<brace>[{}])", "")
    + r"|(?P<open><<|[{(\[])|(?P<close>>>|[})\]])|(?P<operator>&&|\|\||!(?!=)|[/|+*])"
    + r"|(?P<separator>[.;,])|(?P<minus>-)"
)
# What a binary ``-`` follows (after anything else it is a sign).
_OPERANDS = frozenset({"word", "var", "close", "string", "iri", "pname", "bnode"})
# Each one makes the engine's parse tree one level deeper where it stands in a group.
_NESTING_WORDS = frozenset({"OPTIONAL", "MINUS", "BIND", "FILTER", "VALUES", "GRAPH", "SERVICE"})
# The group after these holds data (INSERT DATA, VALUES rows, templates): it is read as a
# list, not as a chain, so its items add nothing; WHERE starts a pattern again.
_DATA_WORDS = frozenset({"DATA", "VALUES", "CONSTRUCT", "INSERT", "DELETE"})


def nesting_depth(text: str, *, separators: bool = False) -> int:
    """Return how deep the engine's parse tree of ``text`` may get, counted on its tokens.

    Every bracket (and RDF 1.2 ``<<``) opens a level, and every bracket, chaining operator
    (``&&``, ``||``, ``!``, ``+``, binary ``-``, ``*``, ``/``, ``|``) and ``OPTIONAL``, ``MINUS``,
    ``BIND``, ``FILTER``, ``VALUES``, ``GRAPH`` or ``SERVICE`` inside a level adds one to it:
    the engine builds a chain of such siblings as a left-deep tree (a ``UNION`` of groups
    counts by its groups). With ``separators``, so does every ``.``, ``;`` and ``,`` of a
    group (triple patterns). Items of data blocks (``INSERT DATA``, ``VALUES``, templates)
    add nothing; comparisons neither.

    >>> nesting_depth("SELECT ?s WHERE { ?s ?p ?o . ?o ?q '{{{' }")
    3
    >>> nesting_depth("SELECT ?s WHERE { ?s ?p ?o . ?o ?q '{{{' }", separators=True)
    4
    >>> nesting_depth("SELECT ?s WHERE { OPTIONAL { ?s ?p ?o } OPTIONAL { ?s ?q ?o } }")
    8
    >>> nesting_depth("SELECT * WHERE { VALUES (?a ?b) { (1 2) (3 4) (5 6) (7 8) } }")
    9
    """
    levels = [0]
    opened = ["{"]
    data = [False]
    pending = False
    deepest = 0
    previous = None
    for match in _SHAPE.finditer(text):
        kind, before = match.lastgroup, previous
        if kind == "comment":
            continue
        previous = kind
        token = match.group(0)
        if kind == "close":
            if len(levels) > 1:
                levels.pop()
                opened.pop()
                data.pop()
            continue
        if kind == "word" and token.upper() in _DATA_WORDS:
            pending = True
        elif kind == "word" and token.upper() == "WHERE":
            pending = False
        counted = kind in ("open", "operator") or (
            kind == "word" and token.upper() in _NESTING_WORDS
        )
        if kind == "separator":
            counted = separators and opened[-1] in "{["
        elif kind == "minus":
            counted = before in _OPERANDS
        if counted and not data[-1]:
            levels[-1] += 1
        if kind == "open":
            levels.append(0)
            opened.append(token)
            data.append(data[-1] or (pending and token == "{"))
            if token == "{":
                pending = False
        deepest = max(deepest, len(levels) + sum(levels))
    return deepest


def check_nesting(text: str) -> None:
    """Raise :class:`~cokg.errors.QueryError` when ``text`` (a query or an update) nests
    deeper than :data:`MAX_DEPTH` or chains more than :data:`MAX_WIDTH` patterns (the items
    of data blocks and templates do not count).

    Oxigraph parses and evaluates recursively: a query nested a few hundred levels deep
    (``{{{…}}}``, ``CONCAT(CONCAT(…))``, hundreds of ``OPTIONAL`` in one group), or with
    some two thousand triple patterns in one group, overflows its stack and kills the
    engine process, and with it every query in flight.
    """
    if _counted_at_most(text) <= MAX_DEPTH:
        return  # the tokens are not walked: a few µs instead of 0.1–0.4 ms per query
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise QueryError(
            f"the request nests too deep for this endpoint ({depth} levels of brackets and "
            f"chained groups, OPTIONAL, FILTER, BIND or operators; at most {MAX_DEPTH}): "
            "split it, or list alternatives with VALUES or IN (…) instead"
        )
    width = nesting_depth(text, separators=True)
    if width > MAX_WIDTH:
        raise QueryError(
            f"the request chains too many patterns for this endpoint ({width}, counting its "
            f"triple patterns and nesting; at most {MAX_WIDTH}): split it, or list values "
            "with VALUES instead"
        )


_IRI_REF = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')


# An IRI without quotes, not after a "<": where one stands, the tokens of :func:`nesting_depth`
# see an IRI too, or are inside a string or comment (uncounted), never a string's end and
# what follows it; after a "<", they see "<<" (a bracket) and then what the IRI holds.
_PLAIN_IRI = re.compile(r"(?<!<)<[^<>\"'{}|^`\\\x00-\x20]*>")


def _counted_at_most(text: str) -> int:
    """Return a bound of :func:`nesting_depth` of ``text``, with ``separators`` or without.

    The depth is at most one, plus two for each bracket (a level and a sibling), plus one for
    each token that may count: an operator, ``-``, a separator or a nesting word. Those are
    counted as characters and words anywhere outside IRIs (in strings and names too, which
    only makes the bound larger), without walking the tokens.

    >>> text = "SELECT ?s WHERE { OPTIONAL { ?s <http://a/b.c> ?o } FILTER(?o != 1) }"
    >>> nesting_depth(text, separators=True), _counted_at_most(text)
    (8, 10)
    """
    code = _PLAIN_IRI.sub(" ", text) if "<" in text else text
    upper = code.upper()
    brackets = sum(map(code.count, "{([<"))
    tokens = sum(map(code.count, "&|!/+*-.;,")) + sum(map(upper.count, _NESTING_WORDS))
    return 1 + 2 * brackets + tokens


_RDF_1_2 = re.compile(r"<<|\{\||\|\}|~|(?<![\w:?$])TRIPLE\s*\(", re.IGNORECASE)


def uses_triple_terms(update: str) -> bool:
    """Tell whether an update may write RDF 1.2 triple terms or reifiers.

    ``<<( … )>>``, ``<< … >>``, annotations ``{| … |}``, reifiers ``~`` and ``TRIPLE()``
    (strings, comments and IRIs do not count).

    >>> uses_triple_terms("INSERT DATA { <http://a> <http://b> <<( <http://a> <http://b> 1 )>> }")
    True
    >>> uses_triple_terms('INSERT DATA { <http://a> <http://b> "<< ~ {| TRIPLE(" } # ~')
    False
    >>> uses_triple_terms("DELETE WHERE { ?s ?p ?o FILTER(?o<<http://x>) }")
    False
    """
    return _RDF_1_2.search(_IRI_REF.sub(" ", code_only(update))) is not None
