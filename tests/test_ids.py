"""Tests of cokg.ids: normalising ORCID, ROR, DOI and Wikidata identifiers, and their checksums."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cokg import ids
from cokg.errors import CokgError, IdentifierError

# --- ORCID -----------------------------------------------------------------------------------

CARBERRY = "https://orcid.org/0000-0002-1825-0097"


@pytest.mark.parametrize(
    "written",
    [
        "0000-0002-1825-0097",
        "0000000218250097",
        "0000 0002 1825 0097",
        " 0000-0002-1825-0097\n",
        "https://orcid.org/0000-0002-1825-0097",
        "http://orcid.org/0000-0002-1825-0097",
        "https://www.orcid.org/0000-0002-1825-0097",
        "orcid.org/0000-0002-1825-0097",
        "HTTPS://ORCID.ORG/0000-0002-1825-0097",
        "https://orcid.org/0000-0002-1825-0097/",
        "orcid:0000-0002-1825-0097",
    ],
)
def test_orcid_forms(written: str) -> None:
    assert ids.orcid(written) == CARBERRY


def test_orcid_x_check_character_is_upper_cased() -> None:
    assert ids.orcid("0000-0002-1694-233x") == "https://orcid.org/0000-0002-1694-233X"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("0000-0002-1825-0098", "has check character 8, expected 7"),
        ("0000-0002-1825-009X", "has check character X, expected 7"),
        ("0000-0002-1694-2330", "has check character 0, expected X"),
        ("0000-0002-1825-009", "expected four blocks of four digits"),
        ("0000-0002-1825-00977", "expected four blocks of four digits"),
        ("0000-000X-1825-0097", "expected four blocks of four digits"),
        ("https://ror.org/01nrxwf90", "expected four blocks of four digits"),
        ("", "expected four blocks of four digits"),
        ("٠٠٠٠-٠٠٠٢-١٨٢٥-٠٠٩٧", "expected four blocks of four digits"),  # Arabic-Indic digits
    ],
)
def test_orcid_rejects(written: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        ids.orcid(written)
    error = caught.value
    assert (error.kind, error.value) == ("ORCID", written)
    assert reason in error.reason
    assert isinstance(error, CokgError)


def test_orcid_error_message_names_the_identifier_and_the_digits() -> None:
    with pytest.raises(IdentifierError) as caught:
        ids.orcid("0000-0002-1825-0098")
    assert str(caught.value) == "ORCID '0000-0002-1825-0098': has check character 8, expected 7"


@pytest.mark.parametrize(
    ("digits", "check"),
    [("000000021825009", "7"), ("000000021694233", "X"), ("000000000000000", "1")],
)
def test_orcid_checksum(digits: str, check: str) -> None:
    assert ids.orcid_checksum(digits) == check


@pytest.mark.parametrize(
    "digits", ["00000002182500", "0000000218250097", "00000002182500a", "٠" * 15]
)
def test_orcid_checksum_needs_15_digits(digits: str) -> None:
    with pytest.raises(IdentifierError, match="exactly 15 digits"):
        ids.orcid_checksum(digits)


@pytest.mark.parametrize(
    ("iri", "valid"),
    [
        (CARBERRY, True),
        ("https://orcid.org/0000-0002-1694-233X", True),
        ("https://orcid.org/0000-0002-1825-0098", False),
        ("http://orcid.org/0000-0002-1825-0097", False),
        ("0000-0002-1825-0097", False),
        ("https://orcid.org/0000-0002-1694-233x", False),
    ],
)
def test_is_valid_orcid(iri: str, valid: bool) -> None:
    assert ids.is_valid_orcid(iri) is valid


@given(digits=st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_orcid_round_trips_and_rejects_every_other_check_character(digits: str) -> None:
    check = ids.orcid_checksum(digits)
    iri = ids.orcid(digits + check)
    assert iri == "https://orcid.org/" + "-".join(
        (digits + check)[i : i + 4] for i in range(0, 16, 4)
    )
    assert ids.is_valid_orcid(iri)
    assert ids.orcid(iri) == iri
    assert ids.orcid(iri.removeprefix("https://orcid.org/")) == iri
    for other in "0123456789X":
        if other != check:
            with pytest.raises(IdentifierError, match=f"expected {check}"):
                ids.orcid(digits + other)
            assert not ids.is_valid_orcid(iri[:-1] + other)


# --- ROR -------------------------------------------------------------------------------------

# The four ROR IRIs source/identifiers.md confirms.
CONFIRMED_ROR = [
    "https://ror.org/01nrxwf90",
    "https://ror.org/01kj2bm70",
    "https://ror.org/04kp2b655",
    "https://ror.org/02hstj355",
]


@pytest.mark.parametrize("iri", CONFIRMED_ROR)
def test_confirmed_ror_ids_are_valid(iri: str) -> None:
    assert ids.is_valid_ror(iri)
    assert ids.ror(iri) == iri
    assert ids.ror_checksum(iri[-8:-2]) == iri[-2:]


@pytest.mark.parametrize(
    "written",
    [
        "01nrxwf90",
        "01NRXWF90",
        "https://ror.org/01nrxwf90",
        "http://ror.org/01nrxwf90",
        "ror.org/01nrxwf90",
        "https://www.ror.org/01nrxwf90",
        "HTTPS://ROR.ORG/01NRXWF90",
        " https://ror.org/01nrxwf90/ ",
    ],
)
def test_ror_forms(written: str) -> None:
    assert ids.ror(written) == "https://ror.org/01nrxwf90"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("01nrxwf91", "has check digits 91, expected 90"),
        ("01nrxwg90", "has check digits 90, expected"),
        ("1nrxwf90", "expected 9 characters"),
        ("11nrxwf90", "expected 9 characters"),
        ("01nrxwf9", "expected 9 characters"),
        ("01nrxwl90", "'l' is not a Crockford base-32 character"),
        ("01nrxwu90", "'u' is not a Crockford base-32 character"),
        ("01nrxwf9a", "are not two digits"),
        ("https://orcid.org/01nrxwf90", "expected 9 characters"),
    ],
)
def test_ror_rejects(written: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        ids.ror(written)
    assert (caught.value.kind, caught.value.value) == ("ROR", written)
    assert reason in caught.value.reason


@pytest.mark.parametrize("six", ["1nrxw", "1nrxwf9", "1nrxwi", "1nrxw!"])
def test_ror_checksum_needs_six_crockford_characters(six: str) -> None:
    with pytest.raises(IdentifierError):
        ids.ror_checksum(six)


@pytest.mark.parametrize(
    ("iri", "valid"),
    [
        ("https://ror.org/01nrxwf90", True),
        ("https://ror.org/01nrxwf91", False),
        ("https://ror.org/01NRXWF90", False),
        ("http://ror.org/01nrxwf90", False),
        ("01nrxwf90", False),
    ],
)
def test_is_valid_ror(iri: str, valid: bool) -> None:
    assert ids.is_valid_ror(iri) is valid


@given(body=st.text(alphabet=ids.CROCKFORD, min_size=6, max_size=6))
def test_ror_round_trips_and_rejects_every_other_check_value(body: str) -> None:
    check = ids.ror_checksum(body)
    assert len(check) == 2 and check.isdigit()
    iri = ids.ror("0" + body + check)
    assert iri == f"https://ror.org/0{body}{check}"
    assert ids.is_valid_ror(iri)
    assert ids.ror(iri.upper()) == iri
    for other in range(100):
        wrong = f"{other:02d}"
        if wrong != check:
            with pytest.raises(IdentifierError, match=f"expected {check}"):
                ids.ror("0" + body + wrong)
            assert not ids.is_valid_ror(f"https://ror.org/0{body}{wrong}")


# --- DOI -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "iri"),
    [
        ("10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("doi:10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("DOI: 10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("info:doi/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("https://doi.org/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("http://doi.org/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("https://dx.doi.org/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("http://dx.doi.org/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("HTTPS://DOI.ORG/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        ("doi.org/10.1000/xyz", "https://doi.org/10.1000/xyz"),
        # The suffix is kept as written.
        ("10.1108/IJOPM-02-2017-0088", "https://doi.org/10.1108/IJOPM-02-2017-0088"),
        ("10.1000.10/ABC", "https://doi.org/10.1000.10/ABC"),
        ("10.1000/a/b/c", "https://doi.org/10.1000/a/b/c"),
        # Characters an IRI path cannot hold are percent-encoded; URL escapes are decoded first.
        (
            "10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-0",
            "https://doi.org/10.1002/(SICI)1097-4571(199806)49:8%3C693::AID-ASI4%3E3.0.CO;2-0",
        ),
        ("https://doi.org/10.1000/a%3Cb%3E", "https://doi.org/10.1000/a%3Cb%3E"),
        ("10.1000/100%", "https://doi.org/10.1000/100%25"),
        ("10.1000/a#b", "https://doi.org/10.1000/a%23b"),
    ],
)
def test_doi_forms(written: str, iri: str) -> None:
    assert ids.doi(written) == iri


@pytest.mark.parametrize(
    "written",
    [
        "",
        "10.1000",
        "10.1000/",
        "11.1000/xyz",
        "10.12/xyz",
        "https://doi.org/",
        "xyz",
        "10.abc/xyz",
    ],
)
def test_doi_rejects(written: str) -> None:
    with pytest.raises(
        IdentifierError, match=re.escape("expected 10.<registrant>/<suffix>")
    ) as caught:
        ids.doi(written)
    assert caught.value.kind == "DOI"


# --- Wikidata --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Q42",
        "q42",
        "wd:Q42",
        "https://www.wikidata.org/wiki/Q42",
        "http://www.wikidata.org/entity/Q42",
        "https://www.wikidata.org/entity/Q42",
        "https://m.wikidata.org/wiki/Q42",
        "www.wikidata.org/wiki/Q42",
        "https://www.wikidata.org/wiki/Special:EntityPage/Q42",
        "https://www.wikidata.org/wiki/Q42#sitelinks-wikipedia",
    ],
)
def test_wikidata_forms(written: str) -> None:
    assert ids.wikidata(written) == "http://www.wikidata.org/entity/Q42"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("P31", "only items (Q…) are supported"),
        ("http://www.wikidata.org/entity/L7", "only items (Q…) are supported"),
        ("Q0", "expected an item identifier"),
        ("Q042", "expected an item identifier"),
        ("Q", "expected an item identifier"),
        ("42", "expected an item identifier"),
        ("https://en.wikipedia.org/wiki/Q42", "expected an item identifier"),
    ],
)
def test_wikidata_rejects(written: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        ids.wikidata(written)
    assert caught.value.kind == "Wikidata"
    assert reason in caught.value.reason
