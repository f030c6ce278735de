"""Normalise external identifiers to their canonical IRIs and verify their checksums.

Each normaliser accepts the forms people write (a bare identifier, a prefixed one, an old or
non-canonical URL) and returns the one IRI the knowledge base uses, or raises
:class:`cokg.errors.IdentifierError` saying what is wrong:

- ORCID iD ``https://orcid.org/0000-0002-1825-0097`` (ISO 7064 MOD 11-2 check character);
- ROR ID ``https://ror.org/01nrxwf90`` (Crockford base 32 + two ISO 7064 MOD 97-10 digits);
- DOI ``https://doi.org/10.1000/xyz`` (no ``dx.``, no ``doi:`` prefix);
- Wikidata entity ``http://www.wikidata.org/entity/Q42`` (the concept IRI, not the page).

The SHACL shapes (``shapes/identifiers.ttl``) check the same rules in SPARQL.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from cokg.errors import IdentifierError

__all__ = [
    "doi",
    "is_valid_orcid",
    "is_valid_ror",
    "orcid",
    "orcid_checksum",
    "ror",
    "ror_checksum",
    "wikidata",
]

ORCID_PREFIX = "https://orcid.org/"
ROR_PREFIX = "https://ror.org/"
DOI_PREFIX = "https://doi.org/"
WIKIDATA_PREFIX = "http://www.wikidata.org/entity/"

#: Crockford's base-32 alphabet: the digits, then the letters without i, l, o and u.
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"

_ORCID_IRI = re.compile(r"https://orcid\.org/[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]")
_ROR_IRI = re.compile(r"https://ror\.org/0[0-9a-hjkmnp-tv-z]{6}[0-9]{2}")

_ORCID_URL = re.compile(r"(?:(?:https?://)?(?:www\.)?orcid\.org/|orcid:)", re.IGNORECASE)
_ROR_URL = re.compile(r"(?:(?:https?://)?(?:www\.)?ror\.org/|ror:)", re.IGNORECASE)
_DOI_URL = re.compile(r"(?:https?://)?(?:dx\.|www\.)?doi\.org/", re.IGNORECASE)
_DOI_LABEL = re.compile(r"(?:doi:|info:doi/)\s*", re.IGNORECASE)
_DOI_NAME = re.compile(r"(10\.[0-9]{4,9}(?:\.[0-9]+)*)/(\S.*)")
_WIKIDATA_URL = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?wikidata\.org/(?:wiki/Special:EntityPage/|wiki/|entity/)",
    re.IGNORECASE,
)
_WIKIDATA_LABEL = re.compile(r"wd:", re.IGNORECASE)

# Characters a DOI may contain that an IRI path may not hold (or that would end it early).
_DOI_UNSAFE = frozenset(' "<>\\^`{|}#?%')


def orcid_checksum(digits15: str) -> str:
    """Return the ORCID check character (``0``–``9`` or ``X``) for the first 15 digits.

    ISO 7064 MOD 11-2: ``t = 0``; for each digit ``t = (t + d) * 2``; the check is
    ``(12 - t mod 11) mod 11``, 10 written as ``X``. Raises :class:`IdentifierError` unless
    ``digits15`` is exactly 15 ASCII digits.

    >>> orcid_checksum("000000021825009")
    '7'
    >>> orcid_checksum("000000021694233")
    'X'
    """
    if len(digits15) != 15 or not (digits15.isascii() and digits15.isdigit()):
        raise IdentifierError("ORCID", digits15, "the checksum needs exactly 15 digits")
    total = 0
    for digit in digits15:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def orcid(value: str) -> str:
    """Return the canonical ORCID iD IRI for ``value``, checking its check character.

    Accepts ``0000-0002-1825-0097``, the same without hyphens or with spaces, ``orcid:…``,
    ``orcid.org/…``, ``http(s)://(www.)orcid.org/…``, and a lower-case ``x``.
    Raises :class:`IdentifierError` when the form or the check character is wrong.

    >>> orcid("http://orcid.org/0000-0002-1825-0097")
    'https://orcid.org/0000-0002-1825-0097'
    >>> orcid("0000-0002-1694-233x")
    'https://orcid.org/0000-0002-1694-233X'
    >>> orcid("0000-0002-1825-0098")
    Traceback (most recent call last):
    ...
    cokg.errors.IdentifierError: ORCID '0000-0002-1825-0098': has check character 8, expected 7
    """
    text = _strip(value, _ORCID_URL)
    compact = re.sub(r"[\s-]", "", text).upper()
    if not re.fullmatch(r"[0-9]{15}[0-9X]", compact):
        raise IdentifierError(
            "ORCID", value, "expected four blocks of four digits, the last may end in X"
        )
    expected = orcid_checksum(compact[:15])
    if compact[15] != expected:
        raise IdentifierError(
            "ORCID", value, f"has check character {compact[15]}, expected {expected}"
        )
    blocks = "-".join(compact[i : i + 4] for i in range(0, 16, 4))
    return ORCID_PREFIX + blocks


def is_valid_orcid(iri: str) -> bool:
    """Return whether ``iri`` is a canonical ORCID iD IRI with a correct check character.

    Only the canonical IRI counts; use :func:`orcid` to normalise other forms first.

    >>> is_valid_orcid("https://orcid.org/0000-0002-1825-0097")
    True
    >>> is_valid_orcid("https://orcid.org/0000-0002-1825-0098")
    False
    >>> is_valid_orcid("http://orcid.org/0000-0002-1825-0097")
    False
    """
    if not _ORCID_IRI.fullmatch(iri):
        return False
    digits = iri[len(ORCID_PREFIX) :].replace("-", "")
    return orcid_checksum(digits[:15]) == digits[15]


def ror_checksum(six: str) -> str:
    """Return the two ROR check digits for the six Crockford characters after the leading 0.

    ``n`` is ``six`` read as a base-32 number; the check is ``98 - (n * 100) mod 97``,
    zero-padded. Raises :class:`IdentifierError` unless ``six`` is six Crockford characters.

    >>> ror_checksum("1nrxwf")
    '90'
    >>> ror_checksum("4KP2B6")
    '55'
    """
    lowered = six.lower()
    if len(lowered) != 6:
        raise IdentifierError("ROR", six, "the checksum needs exactly 6 characters")
    number = 0
    for char in lowered:
        position = CROCKFORD.find(char)
        if position < 0:
            raise IdentifierError("ROR", six, f"{char!r} is not a Crockford base-32 character")
        number = number * 32 + position
    return f"{98 - (number * 100) % 97:02d}"


def ror(value: str) -> str:
    """Return the canonical ROR IRI for ``value``, checking its check digits.

    Accepts ``01nrxwf90``, ``ror.org/…``, ``http(s)://(www.)ror.org/…`` in any case.
    Raises :class:`IdentifierError` when the form or the check digits are wrong.

    >>> ror("https://ror.org/01NRXWF90")
    'https://ror.org/01nrxwf90'
    >>> ror("01nrxwf91")
    Traceback (most recent call last):
    ...
    cokg.errors.IdentifierError: ROR '01nrxwf91': has check digits 91, expected 90
    """
    text = _strip(value, _ROR_URL).lower()
    if len(text) != 9 or not text.startswith("0"):
        raise IdentifierError(
            "ROR", value, "expected 9 characters: 0, six base-32 characters, two digits"
        )
    for char in text[1:7]:
        if char not in CROCKFORD:
            raise IdentifierError(
                "ROR", value, f"{char!r} is not a Crockford base-32 character (no i, l, o, u)"
            )
    found = text[7:]
    if not (found.isascii() and found.isdigit()):
        raise IdentifierError("ROR", value, f"the check digits {found!r} are not two digits")
    expected = ror_checksum(text[1:7])
    if found != expected:
        raise IdentifierError("ROR", value, f"has check digits {found}, expected {expected}")
    return ROR_PREFIX + text


def is_valid_ror(iri: str) -> bool:
    """Return whether ``iri`` is a canonical ROR IRI with correct check digits.

    Only the canonical (lower-case ``https://ror.org/0…``) IRI counts; see :func:`ror`.

    >>> is_valid_ror("https://ror.org/02hstj355")
    True
    >>> is_valid_ror("https://ror.org/02hstj356")
    False
    """
    if not _ROR_IRI.fullmatch(iri):
        return False
    identifier = iri[len(ROR_PREFIX) :]
    return ror_checksum(identifier[1:7]) == identifier[7:]


def doi(value: str) -> str:
    """Return the canonical DOI IRI ``https://doi.org/10.…`` for ``value``.

    Accepts a bare DOI (``10.1000/xyz``), ``doi:…``, ``info:doi/…`` and ``doi.org`` URLs
    (``http``/``https``, with ``dx.`` or ``www.``); those labels and hosts are matched in any
    case. The DOI suffix is kept as written (DOIs are case-insensitive, but the registrant's
    spelling is the one to cite); a URL's percent-escapes are decoded first, then characters an
    IRI path cannot hold are percent-encoded. Raises :class:`IdentifierError` for anything that
    is not ``10.<registrant>/<suffix>``.

    >>> doi("doi:10.1108/IJOPM-02-2017-0088")
    'https://doi.org/10.1108/IJOPM-02-2017-0088'
    >>> doi("https://dx.doi.org/10.1000/a%3Cb%3E")
    'https://doi.org/10.1000/a%3Cb%3E'
    """
    text = value.strip()
    if _DOI_URL.match(text):
        text = unquote(_DOI_URL.sub("", text, count=1))
    else:
        text = _DOI_LABEL.sub("", text, count=1) if _DOI_LABEL.match(text) else text
    match = _DOI_NAME.fullmatch(text.strip())
    if match is None:
        raise IdentifierError("DOI", value, "expected 10.<registrant>/<suffix>, e.g. 10.1000/xyz")
    prefix, suffix = match.groups()
    return f"{DOI_PREFIX}{prefix}/{_quote_doi_suffix(suffix)}"


def wikidata(value: str) -> str:
    """Return the canonical Wikidata entity IRI ``http://www.wikidata.org/entity/Q…``.

    Accepts ``Q42`` (any case), ``wd:Q42`` and ``wikidata.org`` page or entity URLs.
    Only items (``Q…``) are accepted. Raises :class:`IdentifierError` otherwise.

    >>> wikidata("https://www.wikidata.org/wiki/Q42")
    'http://www.wikidata.org/entity/Q42'
    >>> wikidata("wd:q42")
    'http://www.wikidata.org/entity/Q42'
    """
    text = value.strip()
    text = _WIKIDATA_URL.sub("", text, count=1) if _WIKIDATA_URL.match(text) else text
    text = _WIKIDATA_LABEL.sub("", text, count=1) if _WIKIDATA_LABEL.match(text) else text
    text = text.split("#", 1)[0].upper()
    if not re.fullmatch(r"Q[1-9][0-9]*", text):
        if re.fullmatch(r"[PL][1-9][0-9]*", text):
            reason = "is a property or lexeme; only items (Q…) are supported"
        else:
            reason = "expected an item identifier such as Q42"
        raise IdentifierError("Wikidata", value, reason)
    return WIKIDATA_PREFIX + text


def _strip(value: str, prefix: re.Pattern[str]) -> str:
    """Remove surrounding space and a leading URL or label matched by ``prefix``."""
    text = value.strip()
    match = prefix.match(text)
    return text[match.end() :].rstrip("/") if match else text


def _quote_doi_suffix(suffix: str) -> str:
    """Percent-encode only what an IRI path cannot hold; keep everything else as written."""
    return "".join(
        quote(char, safe="") if char in _DOI_UNSAFE or not char.isprintable() else char
        for char in suffix
    )
