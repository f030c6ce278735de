"""Content negotiation for the endpoints: ``Accept`` with q-values, and the ``format`` parameter.

Offers are media types taken from the one format table (:mod:`cokg.formats`): each format's
preferred type first (so ``*/*`` and a missing ``Accept`` get the first format), its other
spellings after. ``charset`` parameters in ``Accept`` are ignored: every answer is UTF-8.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TypeVar

from flask import Response, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import BadRequest, NotAcceptable
from werkzeug.http import parse_accept_header

from cokg.errors import UnsupportedFormat
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, Format, ResultsFormat

F = TypeVar("F", Format, ResultsFormat)

GRAPH_FORMATS: tuple[Format, ...] = tuple(fmt for fmt in RDF_FORMATS if not fmt.dataset)
"""Formats that hold one graph (Turtle, N-Triples, RDF/XML, JSON-LD)."""

HTML = "text/html"

# Spellings other tools put in `format` (SPARQLWrapper sends its own names as well as media
# types): mapped to names of the format table.
_ALIASES = {"json-ld": "jsonld", "rdf+xml": "rdfxml", "n3": "turtle"}


def offers(formats: Iterable[F]) -> list[str]:
    """Return the media types of ``formats``: every preferred type first, then the others.

    >>> offers(RESULTS_FORMATS)[:3]
    ['application/sparql-results+json', 'application/sparql-results+xml', 'text/csv']
    """
    formats = list(formats)
    preferred = [fmt.media_type for fmt in formats]
    others = [m for fmt in formats for m in fmt.media_types[1:] if m not in preferred]
    return preferred + [m for i, m in enumerate(others) if m not in others[:i]]


MAX_ACCEPT = 8192
"""The longest ``Accept`` header read, in characters (browsers send a few hundred). Parsing one
takes time in proportion (about 0.5 s for 200 KB in werkzeug), and parsed headers are kept."""


def refuse_long_accept() -> Response | None:
    """Answer 431 (RFC 6585) to a request whose ``Accept`` header is over :data:`MAX_ACCEPT`
    characters, before anything parses it (the app's ``before_request``)."""
    size = len(request.headers.get("Accept", ""))
    if size <= MAX_ACCEPT:
        return None
    message = f"the Accept header is {size} characters long; this server reads at most"
    return Response(f"{message} {MAX_ACCEPT}\n", 431, mimetype="text/plain")


def client_accept() -> MIMEAccept:
    """Return the request's ``Accept`` header with ``charset`` parameters dropped."""
    return _parsed(request.headers.get("Accept", ""))


@functools.lru_cache(maxsize=256)
def _parsed(header: str) -> MIMEAccept:
    cleaned = []
    for value, quality in parse_accept_header(header, MIMEAccept):
        kept = [p for p in value.split(";") if not p.strip().lower().startswith("charset=")]
        cleaned.append((";".join(kept).strip(), quality))
    return MIMEAccept(cleaned)


def choose(offered: Sequence[str]) -> str | None:
    """Return the offered media type the client prefers (the first when it states none).

    None means the client accepts none of them. The answer depends on the ``Accept`` header
    alone, so it is kept per header: clients send the same few headers again and again, and
    werkzeug's matching is a good part of a small request's own time.
    """
    return _chosen(tuple(offered), request.headers.get("Accept", ""))


@functools.lru_cache(maxsize=1024)
def _chosen(offered: tuple[str, ...], header: str) -> str | None:
    accept = _parsed(header)
    if not accept:
        return offered[0] if offered else None
    best = accept.best_match(offered)
    return str(best) if best else None


def prefers_html(offered: Sequence[str]) -> bool:
    """Tell whether the client would rather have an HTML page than any of ``offered``."""
    return bool(client_accept()) and choose([*offered, HTML]) == HTML


def not_acceptable(offered: Sequence[str]) -> NotAcceptable:
    """Return the 406 error that lists what is offered."""
    return NotAcceptable(
        f"none of the media types in the Accept header ({request.headers.get('Accept', '')}) "
        f"is offered here; offered: {', '.join(offered)}"
    )


def negotiate(formats: Sequence[F]) -> tuple[F, str]:
    """Return the format of ``formats`` the client wants and the media type to answer with.

    Raises a 406 :class:`~werkzeug.exceptions.NotAcceptable` listing the offers.
    """
    offered = offers(formats)
    chosen = choose(offered)
    if chosen is None:
        raise not_acceptable(offered)
    return format_of(formats, chosen), chosen


def format_of(formats: Sequence[F], media_type: str) -> F:
    """Return the format of ``formats`` that has ``media_type``."""
    for fmt in formats:
        if media_type in fmt.media_types:
            return fmt
    raise ValueError(f"no format with media type {media_type}")


def format_parameter(formats: Sequence[F], values: Sequence[str]) -> F | None:
    """Return the format the ``format`` parameter ``values`` ask for (None: no parameter).

    Each value may be a format name, a file extension or a media type; the first value that
    names a format of ``formats`` wins. Raises a 406 when the values name only other kinds of
    format (a CSV for a CONSTRUCT), and a 400 when they name no format at all.
    """
    if not values:
        return None
    known_elsewhere = []
    for value in values:
        found = _lookup(formats, value)
        if found is not None:
            return found
        if _lookup(RDF_FORMATS.formats, value) or _lookup(RESULTS_FORMATS.formats, value):
            known_elsewhere.append(value)
    names: list[str] = [candidate.name for candidate in formats]
    if known_elsewhere:
        raise NotAcceptable(
            f"format {known_elsewhere[0]!r} does not fit this answer; offered: {', '.join(names)}"
        )
    for candidate in formats:
        names.extend(candidate.extensions)
    known = sorted(set(names))
    raise BadRequest(f"unknown format {values[0]!r}; use one of: {', '.join(known)}")


def _lookup(formats: Sequence[F], value: str) -> F | None:
    key = value.strip().lower()
    key = _ALIASES.get(key, key)
    for fmt in formats:
        if key == fmt.name or key.lstrip(".") in fmt.extensions:
            return fmt
    media_type = key.split(";", 1)[0].strip()
    for fmt in formats:
        if media_type in fmt.media_types:
            return fmt
    return None


def rdf_format_of_body(media_type: str | None) -> Format:
    """Return the RDF format of a request body from its media type.

    Raises :class:`~cokg.errors.UnsupportedFormat` (415) naming the accepted types.
    """
    if not media_type:
        raise UnsupportedFormat(
            "the request has no Content-Type; send one of: " + ", ".join(offers(RDF_FORMATS))
        )
    try:
        return RDF_FORMATS.by_media_type(media_type)
    except UnsupportedFormat:
        raise UnsupportedFormat(
            f"unsupported media type {media_type!r}; send one of: " + ", ".join(offers(RDF_FORMATS))
        ) from None
