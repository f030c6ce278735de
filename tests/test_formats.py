"""The format table: look-ups by name, extension, media type; clear errors otherwise."""

import pytest

from cokg.errors import UnsupportedFormat
from cokg.formats import JSONLD, NQUADS, RDF_FORMATS, RESULTS_FORMATS, TRIG, TURTLE


@pytest.mark.parametrize(
    ("given", "expected"),
    [("ttl", TURTLE), (".ttl", TURTLE), ("TURTLE", TURTLE), ("jsonld", JSONLD), ("nq", NQUADS)],
)
def test_get_by_name_or_extension(given, expected):
    assert RDF_FORMATS.get(given) is expected


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("text/turtle", TURTLE),
        ("text/turtle; charset=utf-8", TURTLE),
        ("application/ld+json", JSONLD),
        ("APPLICATION/TRIG", TRIG),
    ],
)
def test_by_media_type(media_type, expected):
    assert RDF_FORMATS.by_media_type(media_type) is expected


def test_dataset_formats_are_the_ones_with_graphs():
    assert {f.name for f in RDF_FORMATS if f.dataset} == {"nquads", "trig"}


def test_unknown_names_are_refused_with_the_known_ones_listed():
    with pytest.raises(UnsupportedFormat, match=r"known: .*ttl"):
        RDF_FORMATS.by_extension("docx")
    with pytest.raises(UnsupportedFormat, match="unsupported media type"):
        RDF_FORMATS.by_media_type("text/html")
    with pytest.raises(UnsupportedFormat, match="no file extension"):
        RDF_FORMATS.by_path("README")


def test_results_formats():
    assert RESULTS_FORMATS.get("json").media_type == "application/sparql-results+json"
    assert RESULTS_FORMATS.by_media_type("text/csv").name == "csv"
    assert RESULTS_FORMATS.get("tsv").extension == "tsv"
