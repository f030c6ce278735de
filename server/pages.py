"""The HTML pages: the home page, and one page per resource at ``/page/R``.

A resource page has two views of the same description (:func:`cokg.describe.describe`): a
reading view by kind (an entry reads like the original knowledge-base entry; a concept scheme
shows its hierarchy; the ontology documents every term) and a semantic-web view (types, every
property with its label, copyable IRIs, outbound ORCID / ROR / DOI / Wikidata links marked),
followed by the inverse links grouped by property, with counts and paging, the schema.org
JSON-LD of the resource, and the SPARQL behind the page. One query fetches what a page needs
(:func:`page_query`; a resource with more backlinks than it fetches asks for their counts and
pages, in parallel), never one per row; long value lists and backlink lists are paged, never cut
off silently. Rendered pages are kept in a bounded cache that every write empties
(:mod:`.page_cache`).

An IRI outside the base that the store describes (a document whose IRI is its DOI) has its page
at ``/page?uri=IRI`` (:class:`.resources.Resource`); pages link to it there, with the link out
to the IRI itself beside it.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from flask import Blueprint, Response, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup, escape
from pyoxigraph import BlankNode, Literal, NamedNode, Triple
from werkzeug.exceptions import BadRequest

from cokg.describe import (
    describe_patterns,
    describe_query,
    labels_of,
    prefixes_for,
    sparql_iri,
)
from cokg.errors import NotFound
from cokg.formats import RDF_FORMATS
from cokg.namespaces import (
    COP,
    COP_ONTOLOGY,
    DCTERMS,
    FOAF,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    XSD,
    sparql_prologue,
)
from cokg.store import OxigraphStore, ReadableStore

from .page_cache import CachedPage, PageCache
from .resources import (
    SETTLE,
    Resource,
    as_uri,
    conditional,
    known,
    last_change,
    page_url,
    path_of,
    requested_path,
    uri_parameter,
    uri_query,
)
from .state import cokg_state

pages = Blueprint("pages", __name__)

PAGE_SIZE = 100
"""Values of one property, or backlinks through one property, shown per page."""
"""Values of one property, or backlinks through one property, shown per page."""
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cokg-page")
"""Runs the queries of a page in parallel (each answers on its own store connection)."""


EXTERNAL = (
    ("https://orcid.org/", "ORCID"),
    ("https://ror.org/", "ROR"),
    ("https://doi.org/", "DOI"),
    ("http://www.wikidata.org/entity/", "Wikidata"),
    ("https://www.wikidata.org/wiki/", "Wikidata"),
)
_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
_FACETS = (
    ("https://w3id.org/coprod/ontology/approach", "Co-production approach"),
    ("https://w3id.org/coprod/ontology/participationLevel", "Participation level"),
    ("https://w3id.org/coprod/ontology/stage", "Stage"),
    ("https://w3id.org/coprod/ontology/participantGroup", "Participant groups"),
)


@dataclass(frozen=True, slots=True)  # slots: a page makes a few hundred of them
class Value:
    """One RDF term as a page shows it: text, where it links, and what it is."""

    text: str
    kind: str  # "iri", "literal" or "bnode"
    href: str | None = None
    iri: str | None = None
    note: str | None = None  # a literal's language or datatype
    external: str | None = None  # "ORCID", "ROR", "DOI" or "Wikidata"
    out: str | None = None  # the IRI itself, when ``href`` is its local page here
    site: str | None = None  # the host ``out`` leads to

    def __html__(self) -> str:
        """Return the value as HTML, escaped (what ``{{ value }}`` writes in a template).

        Written here rather than as a Jinja macro: a page shows hundreds of values.
        """
        text = escape(self.text)
        if self.kind == "iri" and self.href:
            href, iri = escape(self.href), escape(self.iri)
            if self.out:
                link = self.out_link()
                return f'<a class="term iri" href="{href}" title="{iri}">{text}</a> {link}'
            if self.external:
                name = escape(self.external)
                return (
                    f'<a class="term iri external" href="{href}" title="{iri}" '
                    f'rel="noopener">{text}</a> '
                    f'<span class="badge" title="an identifier in {name}">{name}</span>'
                )
            return f'<a class="term iri" href="{href}" title="{iri}">{text}</a>'
        if self.kind == "iri":
            return f'<span class="term iri" title="{escape(self.iri)}">{text}</span>'
        if self.kind == "bnode":
            return f'<span class="term bnode">{text}</span>'
        if self.note:
            return (
                f'<span class="term literal">{text}</span> '
                f'<span class="annotation">{escape(self.note)}</span>'
            )
        return f'<span class="term literal">{text}</span>'

    def out_link(self) -> Markup:
        """Return the link out to the IRI itself, for a value that also has a page here."""
        name = escape(self.external or self.site or "Source")
        return Markup(
            f'<a class="external out" href="{escape(self.out)}" rel="noopener" '
            f'title="{escape(self.iri)}">{name}'
            '<span class="visually-hidden"> (leaves this site)</span></a>'
        )


@dataclass
class Group:
    """The values of one property (or the backlinks through one), one page of them."""

    iri: str
    label: str
    compact: str
    count: int
    values: list[Value]
    anchor: str
    href: str | None = None
    previous_href: str | None = None
    next_href: str | None = None
    first: int = 1
    always_count: bool = False

    def __html__(self) -> str:
        """Return the group as HTML, escaped: its property, count, values and pager.

        Written here rather than as a Jinja macro, as :meth:`Value.__html__` is: a page shows
        every group of its resource's properties and backlinks.
        """
        iri, compact = escape(self.iri), escape(self.compact)
        if self.href:
            name = f'<a class="property-iri" href="{escape(self.href)}" title="{iri}">{compact}</a>'
        else:
            name = f'<span class="property-iri" title="{iri}">{compact}</span>'
        count = f' <span class="count">{self.count}</span>' if self.show_count else ""
        values = "".join([f"<li>{value.__html__()}</li>\n" for value in self.values])
        pager = ""
        if self.previous_href or self.next_href:
            last = self.first + len(self.values) - 1
            pager = f'<p class="pager">Showing {self.first}–{last} of {self.count}.'
            if self.previous_href:
                pager += f' <a href="{escape(self.previous_href)}">Previous</a>'
            if self.next_href:
                pager += f' <a href="{escape(self.next_href)}">Next</a>'
            pager += "</p>\n"
        return (
            f'<div class="property" id="{escape(self.anchor)}">\n'
            f'<dt><span class="property-label">{escape(self.label)}</span> {name}{count}</dt>\n'
            f'<dd>\n<ul class="values">\n{values}</ul>\n{pager}</dd>\n</div>\n'
        )

    @property
    def show_count(self) -> bool:
        """Tell whether the count is shown: always for backlinks, else from two values up."""
        return self.always_count or self.count > 1


def group_list(groups: Sequence[Group], empty: str) -> Markup:
    """Return ``groups`` as a definition list (:meth:`Group.__html__`), or ``empty`` as a note."""
    if not groups:
        return Markup('<p class="muted">{}</p>').format(empty)
    return Markup('<dl class="properties">\n' + "".join(g.__html__() for g in groups) + "</dl>")


@dataclass
class Term:
    """A class or property of the ontology, as its documentation shows it."""

    iri: str
    href: str | None
    label: str
    kinds: list[str] = field(default_factory=list)
    definition: str | None = None
    comment: str | None = None
    related: list[tuple[str, Value]] = field(default_factory=list)


class Labels:
    """Names for IRIs: the labels the description carries, else a compact name.

    ``described`` (with the subjects of ``triples``) are the IRIs the store describes: one
    outside the base IRI (a DOI, say) links to its page here, and out to itself beside it.
    """

    def __init__(
        self,
        triples: Iterable[Triple],
        extra: dict[str, str] | None = None,
        described: Iterable[str] = (),
    ) -> None:
        triples = list(triples)
        self.known = {**labels_of(triples), **(extra or {})}
        self.extra = extra or {}
        self.described = {t.subject.value for t in triples if isinstance(t.subject, NamedNode)}
        self.described.update(described)
        self.base_iri = cokg_state().base_iri
        self.prefixes, self.namespaces = _prefix_table(self.base_iri)
        self.page_root = request.script_root + "/page/"
        self._iris: dict[str, Value] = {}  # an IRI is shown the same wherever it appears

    def compact(self, iri: str) -> str:
        """Return ``iri`` as ``prefix:local`` when a known namespace holds it, else the IRI."""
        cut = max(iri.rfind("/"), iri.rfind("#")) + 1
        name = self.namespaces.get(iri[:cut]) if 0 < cut < len(iri) else None
        if name is not None:  # every namespace ends with "/" or "#": this is the longest
            return f"{name}:{iri[cut:]}"
        for name, namespace in self.prefixes:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{name}:{iri[len(namespace) :]}"
        return iri

    def label(self, iri: str) -> str | None:
        """Return the label of ``iri`` if the page knows one."""
        return self.known.get(iri)

    def value(self, term: object) -> Value:
        """Return how ``term`` is shown."""
        if isinstance(term, NamedNode):
            iri = term.value
            shown = self._iris.get(iri)
            if shown is None:
                shown = self._iris[iri] = self.iri_value(iri)
            return shown
        if isinstance(term, BlankNode):
            return Value(self.label(f"_:{term.value}") or "(a node without an IRI)", "bnode")
        if isinstance(term, Literal):
            if term.language:
                return Value(term.value, "literal", note=f"@{term.language}")
            datatype = term.datatype.value
            note = None if datatype == XSD + "string" else self.compact(datatype)
            return Value(term.value, "literal", note=note)
        return Value(str(term), "literal")

    def iri_value(self, iri: str) -> Value:
        """Return how the IRI ``iri`` is shown (:meth:`value` of its named node)."""
        return self._iri_value(iri, self.known.get(iri), iri in self.described)

    def named(self, term: object, name: str | None) -> Value:
        """Return how ``term`` is shown under ``name`` (else a compact name), as a page without
        its description would show it (``Labels([], {iri: name})``): an IRI outside the base
        links out, not to a page here."""
        if isinstance(term, NamedNode):
            return self._iri_value(term.value, name, False)
        return Labels([], {}).value(term)

    def _iri_value(self, iri: str, label: str | None, described: bool) -> Value:
        local = path_of(iri, self.base_iri)
        external = _external(iri)
        text = label or self.compact(iri)
        if local is not None:
            return Value(text, "iri", self.page_root + local, iri, external=external)
        if described:
            href = Resource(iri).page_url()
            out = _http_only(iri)
            site = urlsplit(out).hostname if out else None
            return Value(text, "iri", href, iri, external=external, out=out, site=site)
        return Value(text, "iri", _http_only(iri), iri, external=external)


def _external(iri: str) -> str | None:
    """Return the name of the register ``iri`` belongs to (ORCID, ROR, DOI, Wikidata), if any."""
    if iri.startswith(_EXTERNAL_STARTS):
        return next(name for start, name in EXTERNAL if iri.startswith(start))
    return None


_EXTERNAL_STARTS = tuple(start for start, _ in EXTERNAL)


def _http_only(iri: str) -> str | None:
    return iri if iri.lower().startswith(("http://", "https://")) else None


@functools.lru_cache(maxsize=8)
def _prefix_table(base_iri: str) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """The prefixes pages write names with, longest namespace first, and by namespace."""
    prefixes = prefixes_for(base_iri)
    prefixes.pop("kb", None)
    ordered = tuple(sorted(prefixes.items(), key=lambda item: -len(item[1])))
    by_namespace: dict[str, str] = {}
    for name, namespace in ordered:
        by_namespace.setdefault(namespace, name)
    return ordered, by_namespace


# -- routes ----------------------------------------------------------------------------------


@pages.get("/")
def home() -> Response:
    """The home page: what the knowledge base is, and its entries."""
    store = cokg_state().store
    query = HOME_QUERY
    labels = Labels([])
    entries = []
    for row in _select(store, query):
        entry = row["entry"]
        entries.append(
            {
                "value": labels.value(entry),
                "title": _text(row["title"]),
                "period": _text(row["period"]),
                "summary": _summary(_text(row["description"]) or ""),
            }
        )
    body = render_template(
        "home.html",
        nav="home",
        entries=entries,
        query=query,
        query_href=_query_href(query),
    )
    return _html(body)


@pages.get("/page/<path:rest>")
def resource_page(rest: str) -> Response:
    """The page of one resource."""
    return _resource_page(Resource.local(requested_path(rest, "/page/")))


@pages.get("/page")
def page_about_iri() -> Response:
    """The page of any IRI the store describes, named by ``?uri=`` (a DOI, say).

    An IRI this server mints answers 303 to its own ``/page/…``; the IRI is never fetched.
    """
    resource = Resource.of(uri_parameter())
    if resource.path is not None:
        target = as_uri(resource.page_url())
        response = Response(f"303 See Other: {target}\n", 303, mimetype="text/plain")
        response.headers["Location"] = target
        return response
    return _resource_page(resource)


def _resource_page(resource: Resource) -> Response:
    changed = last_change()
    cache = page_cache()
    # Only a store whose every write this server sees (its files' times, or writes through
    # the app) has its pages cached: a remote endpoint that others write may change unseen.
    cached = cache.enabled and changed is not None
    environ = request.environ  # the URL, as the page's links are written from it
    key = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        request.script_root,
        request.path,
        environ.get("QUERY_STRING"),
        changed,
    )
    # the generation is read before the data: a write after it keeps the page out
    generation = cache.generation()
    page = cache.get(key) if cached else None
    hit = page is not None
    # Not while the store may still be changing within one tick of its files' clock: a
    # write then would leave the key as it is. After SETTLE, any write moves the key.
    settled = changed is not None and datetime.now(UTC) - changed >= timedelta(seconds=SETTLE)
    if page is None:
        terms = _TermLabels(cache, changed if settled else None, generation)
        page = _render_page(resource, terms)
        if cached and settled:
            cache.put(key, page, generation)
    response = _html(page.body)
    response.headers["Link"] = page.link
    if cached:
        response.headers["X-Cokg-Page-Cache"] = "hit" if hit else "miss"
    return conditional(response, page.tag, changed=changed)


def page_cache() -> PageCache:
    """Return the app's cache of rendered pages (:mod:`.page_cache`)."""
    cache = current_app.extensions[_PAGE_CACHE]
    if not isinstance(cache, PageCache):
        raise TypeError(f"app.extensions[{_PAGE_CACHE!r}] is not a PageCache")
    return cache


_PAGE_CACHE = "cokg-page-cache"


@pages.record_once
def _make_page_cache(setup: BlueprintSetupState) -> None:
    """Give the app its page cache, emptied by every write through the app."""
    state = setup.app.extensions["cokg"]
    config = setup.app.config
    on_disk = config.get("STORE_LOCATION") is not None or (
        isinstance(state.store, OxigraphStore) and state.store.path is not None
    )
    cache = PageCache(
        state.store,
        max_bytes=int(config.get("PAGE_CACHE_BYTES", PAGE_CACHE_BYTES)),
        # a store on disk: the keys hold its last write time, which every writer moves
        check_every=None if on_disk else float(config.get("PAGE_CACHE_CHECK_SECONDS", 60)),
    )
    state.on_write.append(cache.invalidate)
    setup.app.extensions[_PAGE_CACHE] = cache


PAGE_CACHE_BYTES = 32 * 1024 * 1024
"""The default bound of the page cache (the ``PAGE_CACHE_BYTES`` setting)."""


class _TermLabels:
    """The labels of properties a page shows, as the app keeps them for the store's version.

    ``version`` None (the store's last change unknown, or too recent to be sure of) keeps
    nothing: the page asks for its properties' labels in its own query.
    """

    def __init__(self, cache: PageCache, version: datetime | None, generation: int) -> None:
        self.cache = cache
        self.version = version
        self.generation = generation
        self.known = cache.property_labels(version)

    def complete(self, store: ReadableStore, properties: Iterable[str]) -> dict[str, str]:
        """Return the labels of ``properties`` that have one; ask the engine for new ones."""
        known = self.known
        if known is None:
            raise RuntimeError("the property labels are asked for in the page's query")
        wanted = set(properties)
        missing = wanted - known.keys()
        if missing:
            fetched: dict[str, str | None] = dict.fromkeys(missing)
            for row in _select(store, _property_labels_query(missing)):
                fetched[row["p"].value] = row["o"].value
            known.update(fetched)
            self.cache.add_property_labels(self.version, fetched, self.generation)
        return {p: label for p in wanted if (label := known.get(p)) is not None}


def _render_page(resource: Resource, terms: _TermLabels) -> CachedPage:
    """Return the page of ``resource``, rendered; raises NotFound when nothing is known."""
    iri = resource.iri
    path = resource.path
    store = cokg_state().store
    # One round trip answers what most pages need: the description, the labels of its
    # properties (unless the app holds them), the first backlinks and, for an entry (its path
    # says so; the type decides), its contributors, documents and their authors.
    hinted = path is not None and path.startswith("project/")
    query = page_query(iri, entry=hinted, property_labels=terms.known is None)
    found = PageData.of(_select(store, query))
    triples = found.triples
    if not triples and not (path is not None and known(resource)):
        raise NotFound(f"nothing is known about <{iri}>")
    subject = NamedNode(iri)
    own = [t for t in triples if t.subject == subject]
    type_iris = {_text(t.object) for t in own if t.predicate.value == RDF + "type"}
    is_entry = SCHEMA + "ResearchProject" in type_iris
    if is_entry and not hinted:
        entry_rows = _POOL.submit(_select, store, _entry_query(iri))
        author_rows = _POOL.submit(_select, store, _authors_query(iri))
        found.entry_rows = entry_rows.result()
        found.author_rows = authors_in_order(author_rows.result())
    backlinks = _inverse_pages(store, iri, found.backlinks)
    if terms.known is not None:
        used = {t.predicate.value for t in own}
        used.update(prop for prop, *_ in backlinks)
        found.property_labels = terms.complete(store, used)
    labels = Labels(triples, found.property_labels)
    types = [labels.value(t.object) for t in own if t.predicate.value == RDF + "type"]
    title = labels.label(iri) or (labels.compact(iri) if path is None else path.rsplit("/", 1)[-1])
    groups = _groups(own, labels, anchor="p")
    inverse = _inverse(backlinks, labels)
    queries = [
        (
            "The description (own triples, blank nodes, labels of linked resources)",
            describe_query(iri),
        ),
        ("The links to this resource", _inverse_counts_query(iri)),
    ]
    context: dict[str, Any] = {
        "iri": iri,
        "path": path,
        "title": title,
        "types": types,
        "groups": groups,
        "inverse": inverse,
        "schema_jsonld": schema_jsonld(iri, own, labels),
        "formats": [(fmt.label, resource.data_url(fmt), fmt.media_type) for fmt in RDF_FORMATS],
        "summary": _first_literal(
            own, (DCTERMS + "description", SKOS + "definition", RDFS + "comment")
        ),
        "entry": None,
        "document": None,
        "scheme": None,
        "terms": None,
        "out": labels.value(NamedNode(iri)).out if path is None else None,
        "external": labels.value(NamedNode(iri)).external if path is None else None,
        "site": labels.value(NamedNode(iri)).site if path is None else None,
    }
    if is_entry:
        context["entry"] = _entry(triples, own, labels, found.entry_rows, found.author_rows)
        queries.append(("The contributors and documents of the entry", _entry_query(iri)))
        queries.append(
            (
                "The authors of the documents (their lists' nodes give the order)",
                _authors_query(iri),
            )
        )
    elif type_iris & DOCUMENT_TYPES:
        context["document"] = _document(iri, triples, labels, inverse)
    if SKOS + "ConceptScheme" in type_iris:
        context["scheme"] = _hierarchy(store, iri, labels)
        queries.append(("The hierarchy of the scheme", _scheme_query(iri)))
    if iri == COP_ONTOLOGY:
        context["terms"] = _ontology_terms(store, labels)
        queries.append(("The terms of the ontology", ONTOLOGY_QUERY))
    context["queries"] = [(caption, text, _query_href(text, iri)) for caption, text in queries]
    body = render_template(
        "resource.html", paragraphs=paragraphs, group_list=group_list, **context
    ).encode("utf-8")
    tag = hashlib.sha256(body).hexdigest()[:40]
    return CachedPage(body, tag, resource.link_header())


def _first_literal(triples: Sequence[Triple], props: Sequence[str]) -> str | None:
    """Return the first English (or untagged) literal of the first of ``props`` that has one."""
    for prop in props:
        for t in triples:
            if (
                t.predicate.value == prop
                and isinstance(t.object, Literal)
                and t.object.language in (None, "en")
            ):
                return t.object.value
    return None


def _html(body: str | bytes) -> Response:
    response = Response(body, 200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    return response


# -- building the page -----------------------------------------------------------------------


def _groups(triples: Sequence[Triple], labels: Labels, *, anchor: str) -> list[Group]:
    """Group the values by property (types first), one page of each."""
    by_property: dict[str, list[object]] = defaultdict(list)
    for t in triples:
        by_property[t.predicate.value].append(t.object)
    chosen = request.args.get("values")
    groups = []
    order = sorted(by_property, key=lambda p: (p != RDF + "type", labels.label(p) or p))
    for index, prop in enumerate(order):
        values = sorted((labels.value(v) for v in by_property[prop]), key=lambda v: v.text)
        start = _offset(len(values)) if prop == chosen else 0
        group = Group(
            prop,
            labels.label(prop) or _humane(prop),
            labels.compact(prop),
            len(values),
            values[start : start + PAGE_SIZE],
            f"{anchor}{index}",
            labels.iri_value(prop).href,
            first=start + 1,
        )
        _page_links(group, start, {"values": prop})
        groups.append(group)
    return groups


def _inverse_pages(
    store: ReadableStore, iri: str, first: Sequence[tuple[str, str, str | None]]
) -> list[tuple[str, int, int, Future[list[Any]]]]:
    """Return (property, count, offset, rows) for the shown page of each group of backlinks.

    ``first`` is (property, subject, name) of up to :data:`FIRST_BACKLINKS` backlinks: when
    it holds every backlink (most resources have a few), the groups are cut from it;
    otherwise the counts are asked for, then each group's page (in parallel).
    """
    chosen = request.args.get("inverse")
    if len({(p, s) for p, s, _ in first}) < FIRST_BACKLINKS:
        grouped: dict[str, dict[str, str | None]] = defaultdict(dict)
        for prop, subject, label in first:
            subjects = grouped[prop]
            known_label = subjects.get(subject)
            if known_label is None or (label is not None and label < known_label):
                subjects[subject] = label
        pages = []
        for prop in sorted(grouped):
            subjects = grouped[prop]
            ordered = sorted(subjects.items(), key=_by_label)
            start = _offset(len(subjects)) if prop == chosen else 0
            shown = [
                {"s": NamedNode(s), "label": None if label is None else Literal(label)}
                for s, label in ordered[start : start + PAGE_SIZE]
            ]
            done: Future[list[Any]] = Future()
            done.set_result(shown)
            pages.append((prop, len(subjects), start, done))
        return pages
    started = []
    for row in _select(store, _inverse_counts_query(iri)):
        prop, count = row["p"].value, int(row["n"].value)
        start = _offset(count) if prop == chosen else 0
        rows = _POOL.submit(_select, store, _inverse_page_query(iri, prop, start))
        started.append((prop, count, start, rows))
    return started


def _by_label(item: tuple[str, str | None]) -> tuple[bool, str, str]:
    """Order backlinks as :func:`_inverse_page_query` does: by name (unnamed first), then IRI."""
    iri, label = item
    return (label is not None, (label or "").lower(), iri)


def _inverse(
    pages: Sequence[tuple[str, int, int, Future[list[Any]]]], labels: Labels
) -> list[Group]:
    """Return the backlinks grouped by property, with counts; one page of each group."""
    groups = []
    for index, (prop, count, start, future) in enumerate(pages):
        rows = future.result()
        extra = {row["s"].value: row["label"].value for row in rows if row["label"] is not None}
        # every ?s is the subject of a triple: the store describes it
        page_labels = Labels([], {**labels.extra, **extra}, (row["s"].value for row in rows))
        group = Group(
            prop,
            labels.label(prop) or _humane(prop),
            labels.compact(prop),
            count,
            [page_labels.value(row["s"]) for row in rows],
            f"i{index}",
            labels.iri_value(prop).href,
            first=start + 1,
            always_count=True,
        )
        _page_links(group, start, {"inverse": prop})
        groups.append(group)
    return groups


def _page_links(group: Group, start: int, args: dict[str, str]) -> None:
    if start > 0:
        group.previous_href = _self_href(args, max(0, start - PAGE_SIZE), group.anchor)
    if start + PAGE_SIZE < group.count:
        group.next_href = _self_href(args, start + PAGE_SIZE, group.anchor)


def _self_href(args: dict[str, str], offset: int, anchor: str) -> str:
    query = urlencode({**args, "offset": str(offset)}) if offset else urlencode(args)
    if "uri" in request.args:  # a page named by ?uri= keeps naming its resource
        query = uri_query(request.args["uri"]) + "&" + query
    return f"{request.path}?{query}#{anchor}"


_DIGITS = re.compile(r"[0-9]+")
"""An offset as a URL writes it: ASCII digits (``int()`` would also read "5_0", "٥" or "-5")."""


def _offset(count: int) -> int:
    """Return the request's ``offset`` into a group of ``count`` values: 0 when not given, the
    last page's first value when it is past the end (a shared link to a list that shrank).

    Raises :class:`~werkzeug.exceptions.BadRequest` for anything but a whole number from 0.
    """
    given = request.args.get("offset", "").strip()
    if not given:
        return 0
    if not _DIGITS.fullmatch(given):
        raise BadRequest(f"offset must be a whole number from 0, not {given[:40]!r}")
    last = (count - 1) // PAGE_SIZE * PAGE_SIZE if count > 0 else 0
    digits = given.lstrip("0")
    if len(digits) > 18:  # past the end of any list (and int() refuses 4 301 digits)
        return last
    value = int(digits or "0")
    return value if value < count else last


def _entry(
    triples: Sequence[Triple],
    own: Sequence[Triple],
    labels: Labels,
    entry_rows: Sequence[Any],
    author_rows: Sequence[Any],
) -> dict[str, Any]:
    """Return what the entry view shows, as the original knowledge-base entry had it.

    ``triples`` is the entry's description (``own`` its own triples): the names of its
    contributors and the titles of its documents; ``entry_rows`` answer :func:`_entry_query`;
    ``author_rows`` are the authors of each document in order (:func:`authors_in_order`).
    """

    by_property: dict[str, list[object]] = defaultdict(list)
    for t in own:
        by_property[t.predicate.value].append(t.object)

    def objects(prop: str) -> list[Value]:
        found = [labels.value(o) for o in by_property.get(prop, ())]
        return sorted(found, key=lambda v: v.text.lower())

    def literal(prop: str) -> str | None:
        found = by_property.get(prop)
        return _text(found[0]) if found else None

    named: dict[tuple[object, str], str] = {}  # (subject, property): its first value
    for t in triples:
        if t.predicate.value in _NAMING and isinstance(t.object, Literal):
            named.setdefault((t.subject, t.predicate.value), t.object.value)
    outputs = set(by_property.get(COP + "output", ()))
    contributors: dict[str, dict[str, Any]] = {}
    documents: dict[str, dict[str, Any]] = {}
    for row in entry_rows:
        if row["person"] is not None:
            person = contributors.setdefault(
                row["person"].value,
                {
                    "value": labels.value(row["person"]),
                    "name": named.get((row["person"], FOAF + "name")),
                    "orgs": {},
                },
            )
            if row["org"] is not None:
                org = labels.named(row["org"], _text(row["orgName"]))
                person["orgs"][row["org"].value] = org
        if row["doc"] is not None:
            documents.setdefault(
                row["doc"].value,
                {
                    "value": labels.value(row["doc"]),
                    "title": named.get((row["doc"], DCTERMS + "title")),
                    "genre": _text(row["genre"]),
                    "issued": _text(row["issued"]),
                    "citation": _text(row["citation"]),
                    "note": _text(row["note"]),
                    "url": _text(row["url"]),
                    "kind": "Output" if row["doc"] in outputs else "Related publication",
                },
            )
    for doc, author, name in author_rows:
        authored = documents.get(doc)
        if authored is not None:
            authored.setdefault("authors", []).append(labels.named(author, _text(name)))
    for person in contributors.values():
        person["orgs"] = sorted(person["orgs"].values(), key=lambda v: v.text)
    period = objects(DCTERMS + "temporal")
    return {
        "period": period[0].text if period else None,
        "date": readable_date(literal(DCTERMS + "date")),
        "description": paragraphs(literal(DCTERMS + "description") or ""),
        "keywords": objects(DCTERMS + "subject"),
        "facets": [(name, values) for prop, name in _FACETS if (values := objects(prop))],
        "funders": objects(SCHEMA + "funder"),
        "notes": [_text(o) for o in by_property.get(SKOS + "editorialNote", ())],
        "contributors": sorted(contributors.values(), key=lambda p: p["value"].text),
        "outputs": sorted(
            (d for d in documents.values() if d["kind"] == "Output"), key=lambda d: d["value"].text
        ),
        "publications": sorted(
            (d for d in documents.values() if d["kind"] != "Output"),
            key=lambda d: d["value"].text,
        ),
    }


_NAMING = {FOAF + "name", DCTERMS + "title"}
"""The properties :func:`_entry` reads contributors' names and documents' titles from."""

DOCUMENT_TYPES = {
    SCHEMA + name
    for name in ("ScholarlyArticle", "Report", "Book", "VideoObject", "DigitalDocument")
} | {FOAF + "Document"}
"""The classes of an entry's related documents (DESIGN.md §2): their pages have a reading view."""


def _document(
    iri: str, triples: Sequence[Triple], labels: Labels, inverse: Sequence[Group]
) -> dict[str, Any]:
    """Return what the reading view of a document shows: authors in order, date, venue."""
    own = [t for t in triples if t.subject == NamedNode(iri)]

    def literals(prop: str) -> list[str]:
        found = (_text(t.object) for t in own if t.predicate.value == prop)
        return [value for value in found if value is not None]

    # the schema:author list is in the description (its blank nodes); creators otherwise
    rest: dict[object, tuple[object | None, object | None]] = {}
    for t in triples:
        if t.predicate.value in (RDF + "first", RDF + "rest"):
            first, tail = rest.get(t.subject, (None, None))
            if t.predicate.value == RDF + "first":
                rest[t.subject] = (t.object, tail)
            else:
                rest[t.subject] = (first, t.object)
    authors: list[Value] = []
    for t in own:
        if t.predicate.value != SCHEMA + "author" or not isinstance(t.object, BlankNode):
            continue
        node: object | None = t.object
        seen = set()
        while node in rest and node not in seen:
            seen.add(node)
            first, node = rest[node]
            if isinstance(first, NamedNode):
                authors.append(labels.value(first))
        break
    if not authors:
        creators = [labels.value(t.object) for t in own if t.predicate.value == DCTERMS + "creator"]
        authors = sorted(creators, key=lambda v: v.text.lower())
    entries = [g for g in inverse if g.iri == DCTERMS + "relation"]
    return {
        "genre": next(iter(literals(SCHEMA + "genre")), None),
        "authors": authors,
        "issued": readable_date(next(iter(literals(DCTERMS + "issued")), None)),
        "citation": next(iter(literals(DCTERMS + "bibliographicCitation")), None),
        "urls": [url for url in literals(SCHEMA + "url") if _http_only(url)],
        "notes": literals(SKOS + "editorialNote"),
        "entries": entries[0] if entries else None,
    }


def readable_date(text: str | None) -> str | None:
    """Return an ``xsd:gYearMonth`` such as ``2018-12`` as the source wrote it (December 2018).

    >>> readable_date("2018-12")
    'December 2018'
    """
    if (
        text
        and len(text) == 7
        and text[4] == "-"
        and text[5:].isdigit()
        and 1 <= int(text[5:]) <= 12
    ):
        return f"{calendar.month_name[int(text[5:])]} {text[:4]}"
    return text


def paragraphs(text: str) -> list[tuple[str, list[str]]]:
    """Split a description into paragraphs and bullet lists (lines starting with ``•``).

    >>> paragraphs("One.\\n\\nList:\\n• a\\n• b")
    [('p', ['One.']), ('p', ['List:']), ('ul', ['a', 'b'])]
    """
    blocks: list[tuple[str, list[str]]] = []
    for chunk in text.split("\n\n"):
        previous_bullet = False
        for line in (line.strip() for line in chunk.split("\n")):
            if not line:
                continue
            if line.startswith("•"):
                item = line.lstrip("•").strip()
                if previous_bullet:
                    blocks[-1][1].append(item)
                else:
                    blocks.append(("ul", [item]))
                previous_bullet = True
            else:
                blocks.append(("p", [line]))
                previous_bullet = False
    return blocks


def _hierarchy(store: ReadableStore, scheme: str, labels: Labels) -> list[dict[str, Any]]:
    """Return the concepts of ``scheme`` as a tree (top concepts first, ordered by notation)."""
    concepts: dict[str, dict[str, Any]] = {}
    broader: dict[str, set[str]] = defaultdict(set)
    for row in _select(store, _scheme_query(scheme)):
        iri = row["c"].value
        concepts.setdefault(
            iri,
            {
                "value": Labels([], {iri: _text(row["label"]) or ""}).value(row["c"]),
                "notation": _text(row["notation"]),
                "definition": _text(row["definition"]),
                "children": [],
            },
        )
        if row["broader"] is not None:
            broader[iri].add(row["broader"].value)

    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        notation = item["notation"] or ""
        return (not notation, notation.zfill(8), item["value"].text.lower())

    roots = []
    for iri, item in concepts.items():
        parents = [p for p in broader.get(iri, ()) if p in concepts]
        for parent in parents:
            concepts[parent]["children"].append(item)
        if not parents:
            roots.append(item)
    for item in concepts.values():
        item["children"].sort(key=key)
    return sorted(roots, key=key)


def _ontology_terms(store: ReadableStore, labels: Labels) -> dict[str, list[Term]]:
    """Return every class and property the ontology defines, documented."""
    terms: dict[str, Term] = {}
    shown = Labels([])
    for row in _select(store, ONTOLOGY_QUERY):
        iri = row["term"].value
        term = terms.setdefault(
            iri, Term(iri, page_url(path_of(iri) or ""), _text(row["label"]) or iri)
        )
        kind = shown.compact(row["type"].value)
        if kind not in term.kinds:
            term.kinds.append(kind)
        term.definition = term.definition or _text(row["definition"])
        term.comment = term.comment or _text(row["comment"])
        for name in ("domain", "range", "parent"):
            if row[name] is not None:
                pair = (name, shown.value(row[name]))
                if pair not in term.related:
                    term.related.append(pair)
    classes = [t for t in terms.values() if "owl:Class" in t.kinds]
    properties = [t for t in terms.values() if "owl:Class" not in t.kinds]
    return {
        "Classes": sorted(classes, key=lambda t: t.label.lower()),
        "Properties": sorted(properties, key=lambda t: t.label.lower()),
    }


def schema_jsonld(iri: str, own: Sequence[Triple], labels: Labels) -> str:
    """Return the schema.org JSON-LD of the resource, safe inside a ``<script>`` element."""
    node: dict[str, Any] = {"@context": "https://schema.org", "@id": iri}
    types = [
        t.object.value[len(SCHEMA) :]
        for t in own
        if t.predicate.value == RDF + "type"
        and isinstance(t.object, NamedNode)
        and t.object.value.startswith(SCHEMA)
    ]
    if types:
        node["@type"] = types if len(types) > 1 else types[0]
    for t in own:
        prop = t.predicate.value
        if not prop.startswith(SCHEMA) or isinstance(t.object, BlankNode):
            continue
        if isinstance(t.object, NamedNode):
            value: Any = {"@id": t.object.value}
            name = labels.label(t.object.value)
            if name:
                value["name"] = name
        elif isinstance(t.object, Literal):
            value = t.object.value
        else:
            continue
        node.setdefault(prop[len(SCHEMA) :], []).append(value)
    compacted = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in node.items()}
    text = json.dumps(compacted, ensure_ascii=False)  # no indent: the C encoder
    # Inside <script>, "</script>" or "<!--" in a literal would end or bend the element.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- queries ---------------------------------------------------------------------------------


def _select(store: ReadableStore, query: str) -> list[Any]:
    return list(store.query(query))  # type: ignore[arg-type]


def _text(term: object) -> str | None:
    return term.value if isinstance(term, Literal | NamedNode) else None


def _summary(text: str, limit: int = 240) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


def _humane(iri: str) -> str:
    local = iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    words = "".join(" " + c.lower() if c.isupper() else c for c in local).strip()
    return words or iri


def _query_href(query: str, iri: str | None = None) -> str:
    """Return the link that opens ``query`` in the query page.

    With ``iri``, the query is taken as a text about ``iri`` (:func:`sparql_iri`): the parts
    around it are the same for every resource, and encoded once (:func:`_form_quote_part`).
    """
    if iri is None:
        encoded = quote_plus(query)
    else:
        named = sparql_iri(iri)
        encoded = quote_plus(named).join(_form_quote_part(part) for part in query.split(named))
    return f"{request.script_root}/query?query={encoded}"


@functools.lru_cache(maxsize=256)
def _form_quote_part(text: str) -> str:
    return quote_plus(text)  # as urllib.parse.urlencode encodes a value


def _inverse_counts_query(iri: str) -> str:
    return (
        f"SELECT ?p (COUNT(DISTINCT ?s) AS ?n)\nWHERE {{ ?s ?p {sparql_iri(iri)} . "
        "FILTER(isIRI(?s)) }\nGROUP BY ?p\nORDER BY ?p"
    )


FIRST_BACKLINKS = 400
"""Backlinks fetched with the page's first query (enough for most resources)."""


_ENTRY_VARIABLES = "?person ?org ?orgName ?doc ?genre ?issued ?citation ?note ?url"


def page_query(iri: str, *, entry: bool = False, property_labels: bool = True) -> str:
    """Return the one query that fetches what the page of ``iri`` needs, in one round trip.

    Each row is one part of the answer, tagged by ``?part``: ``d`` a triple of the
    description (:func:`cokg.describe.describe_patterns`, ``?s ?p ?o``), ``l`` (with
    ``property_labels``; a page whose app keeps them asks :func:`_property_labels_query` for
    the few it lacks instead) the label ``?o`` of a property ``?p`` from or to ``iri``, ``b``
    a backlink ``?s ?p iri`` with a name ``?o`` (at most :data:`FIRST_BACKLINKS` of them);
    with ``entry``, ``e`` a row of :func:`_entry_query` and ``a`` a row of
    :func:`_authors_query`. One query instead of several in parallel: each costs a round trip
    and a share of the engine's few cores.
    """
    i = sparql_iri(iri)
    variables = "?part ?s ?p ?o"  # first: PageData reads them by position
    parts = [f'  {{ BIND("d" AS ?part)\n{describe_patterns(iri)} }}']
    if property_labels:
        parts.append(
            f"""  {{ BIND("l" AS ?part)
    {{ SELECT ?p (SAMPLE(?label) AS ?o) WHERE {{
      {{ SELECT DISTINCT ?p WHERE {{ {{ {i} ?p ?x }} UNION {{ ?x ?p {i} }} }} }}
      ?p rdfs:label ?label }} GROUP BY ?p }} }}"""
        )
    parts.append(
        f"""  {{ BIND("b" AS ?part)
    {{ SELECT DISTINCT ?s ?p WHERE {{ ?s ?p {i} . FILTER(isIRI(?s)) }} LIMIT {FIRST_BACKLINKS} }}
    OPTIONAL {{ VALUES ?name {{ {_NAMES} }} ?s ?name ?o }} }}"""
    )
    if entry:
        variables += f" {_ENTRY_VARIABLES} {_AUTHOR_VARIABLES} ?name"
        parts += [
            f'  {{ BIND("e" AS ?part)\n{_contributors_pattern(i)} }}',
            f'  {{ BIND("e" AS ?part)\n{_documents_pattern(i)} }}',
            f'  {{ BIND("a" AS ?part)\n{_authors_pattern(i)} }}',
        ]
    union = "\n  UNION\n".join(parts)
    # no PREFIX lines: every store declares the common prefixes (cokg.namespaces.PREFIXES)
    return f"SELECT {variables}\nWHERE {{\n{union}\n}}"


_NAMES = " ".join(f"<{p}>" for p in (SKOS + "prefLabel", DCTERMS + "title", FOAF + "name"))
"""The properties a backlink's name is read from (for the page and its paged backlinks)."""


def _property_labels_query(properties: Iterable[str]) -> str:
    """The labels of ``properties`` (``?p``, its label ``?o``), for those a page lacks."""
    listed = " ".join(sparql_iri(p) for p in sorted(properties))
    return (
        f"SELECT ?p (SAMPLE(?label) AS ?o) WHERE {{ VALUES ?p {{ {listed} }} "
        "?p rdfs:label ?label } GROUP BY ?p"
    )


@dataclass
class PageData:
    """The answer to :func:`page_query`, by part."""

    triples: list[Triple]
    property_labels: dict[str, str]
    backlinks: list[tuple[str, str, str | None]]
    entry_rows: list[Any]
    author_rows: list[tuple[str, Any, Any]]

    @classmethod
    def of(cls, rows: Iterable[Any]) -> PageData:
        """Split the rows of :func:`page_query` into their parts (the authors in order)."""
        data = cls([], {}, [], [], [])
        triples: dict[Triple, None] = {}
        for row in rows:
            part = row[0].value
            if part == "d":
                triples.setdefault(Triple(row[1], row[2], row[3]), None)
            elif part == "l":
                data.property_labels[row[2].value] = row[3].value
            elif part == "b":
                data.backlinks.append((row[2].value, row[1].value, _text(row[3])))
            elif part == "e":
                data.entry_rows.append(row)
            elif part == "a":
                data.author_rows.append(row)
        data.triples = list(triples)
        data.author_rows = authors_in_order(data.author_rows)
        return data


def _inverse_page_query(iri: str, prop: str, offset: int) -> str:
    return (
        f"SELECT ?s (SAMPLE(?l) AS ?label) WHERE {{ ?s {sparql_iri(prop)} {sparql_iri(iri)} . "
        f"FILTER(isIRI(?s)) OPTIONAL {{ VALUES ?name {{ {_NAMES} }} ?s ?name ?l }} }} "
        f"GROUP BY ?s ORDER BY LCASE(STR(?label)) ?s LIMIT {PAGE_SIZE} OFFSET {offset}"
    )


def _contributors_pattern(entry: str) -> str:
    """The entry's contributors and their organisations with names (``entry`` in SPARQL).

    The contributors' names are in the entry's description (the labels of what it links to).
    """
    return f"""    {entry} dcterms:contributor ?person .
    OPTIONAL {{ ?person org:memberOf ?org . OPTIONAL {{ ?org foaf:name ?orgName }} }}"""


def _documents_pattern(entry: str) -> str:
    """The entry's documents and what the page shows of them.

    How each relates to the entry (``cop:output``) and its title are in the entry's description.
    """
    return f"""    {entry} dcterms:relation ?doc .
    OPTIONAL {{ ?doc schema:genre ?genre }}
    OPTIONAL {{ ?doc dcterms:issued ?issued }}
    OPTIONAL {{ ?doc dcterms:bibliographicCitation ?citation }}
    OPTIONAL {{ ?doc skos:editorialNote ?note }}
    OPTIONAL {{ ?doc schema:url ?url }}"""


def _authors_pattern(entry: str) -> str:
    """Each node of the entry's documents' author lists: its author and the next node.

    The order is read from the nodes (:func:`authors_in_order`): counting the nodes before
    each one in SPARQL (``rdf:rest*`` twice) costs the engine twice as much.
    """
    return f"""    {entry} dcterms:relation ?doc .
    ?doc schema:author ?list .
    ?list rdf:rest* ?node . ?node rdf:first ?author ; rdf:rest ?next .
    OPTIONAL {{ ?author foaf:name ?name }}"""


_AUTHOR_VARIABLES = "?list ?node ?author ?next"


def authors_in_order(rows: Iterable[Any]) -> list[tuple[str, Any, Any]]:
    """Return (document, author, name) from the rows of :func:`_authors_query`, in list order.

    Each document's ``schema:author`` list is walked from its head, node by node; a node
    with several names gives its author once, with the first name the rows bring.
    """
    nodes: dict[str, dict[Any, tuple[Any, Any, Any]]] = defaultdict(dict)
    heads: dict[str, dict[Any, None]] = defaultdict(dict)
    for row in rows:
        doc = row["doc"].value
        heads[doc][row["list"]] = None
        nodes[doc].setdefault(row["node"], (row["author"], row["name"], row["next"]))
    ordered = []
    for doc in sorted(heads):
        links = nodes[doc]
        for head in heads[doc]:
            node, seen = head, set()
            while node in links and node not in seen:
                seen.add(node)
                author, name, node = links[node]
                ordered.append((doc, author, name))
    return ordered


def _entry_query(iri: str) -> str:
    e = sparql_iri(iri)
    return (
        sparql_prologue()
        + f"""SELECT {_ENTRY_VARIABLES}
WHERE {{
  {{
{_contributors_pattern(e)} }}
  UNION
  {{
{_documents_pattern(e)} }}
}}"""
    )


def _authors_query(iri: str) -> str:
    """The authors of the entry's documents, with the list nodes that give their order."""
    return (
        sparql_prologue()
        + f"""SELECT ?doc {_AUTHOR_VARIABLES} ?name
WHERE {{
{_authors_pattern(sparql_iri(iri))}
}}"""
    )


def _scheme_query(iri: str) -> str:
    return (
        sparql_prologue()
        + f"""SELECT ?c ?label ?broader ?notation ?definition
WHERE {{
  ?c skos:inScheme {sparql_iri(iri)} .
  OPTIONAL {{ ?c skos:prefLabel ?label }}
  OPTIONAL {{ ?c skos:broader ?broader }}
  OPTIONAL {{ ?c skos:notation ?notation }}
  OPTIONAL {{ ?c skos:definition ?definition }}
}}"""
    )


HOME_QUERY = (
    sparql_prologue()
    + """SELECT ?entry ?title ?period ?description
WHERE {
  ?entry a schema:ResearchProject ; dcterms:title ?title .
  OPTIONAL { ?entry dcterms:temporal/rdfs:label ?period }
  OPTIONAL { ?entry dcterms:description ?description }
}
ORDER BY LCASE(?title)"""
)

ONTOLOGY_QUERY = (
    sparql_prologue()
    + f"""SELECT ?term ?type ?label ?definition ?comment
       ?domain ?range ?parent
WHERE {{
  ?term rdfs:isDefinedBy <{COP_ONTOLOGY}> ; a ?type .
  FILTER(?type IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty))
  OPTIONAL {{ ?term rdfs:label ?label }}
  OPTIONAL {{ ?term skos:definition ?definition }}
  OPTIONAL {{ ?term rdfs:comment ?comment }}
  OPTIONAL {{ ?term rdfs:domain ?domain }}
  OPTIONAL {{ ?term rdfs:range ?range }}
  OPTIONAL {{ ?term rdfs:subPropertyOf|rdfs:subClassOf ?parent }}
}}"""
)

__all__ = ["pages", "paragraphs", "schema_jsonld"]

PAGE_QUERIES = {
    # as an entry page sends it once the app holds the labels of its properties
    "page": functools.partial(page_query, entry=True, property_labels=False),
    "describe": describe_query,
    "inverse counts": _inverse_counts_query,
}
"""The queries of an entry page, by name (for ``bench/profile_pages.py``)."""
