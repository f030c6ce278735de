"""Export: every format round-trips to an isomorphic graph or dataset (property tests)."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyoxigraph import (
    BlankNode,
    CanonicalizationAlgorithm,
    Dataset,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    parse,
)

from cokg.errors import NotFound
from cokg.export import export
from cokg.formats import RDF_FORMATS, RDFXML
from cokg.store import OxigraphStore

# XML 1.0 cannot carry most C0 control characters, even escaped; every other format can.
XML_SAFE = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
ANY_TEXT = st.characters(blacklist_categories=("Cs",))

iris = st.builds(
    lambda path: NamedNode("http://example.org/" + path),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzé0123456789-%_", min_size=1, max_size=12).map(
        lambda s: "r" + s.replace("%", "%25")
    ),
)
predicates = st.sampled_from(
    [NamedNode("http://example.org/p"), NamedNode("https://schema.org/name")]
)


def literals(chars):
    text = st.text(alphabet=chars, max_size=40)
    return st.one_of(
        st.builds(Literal, text),
        st.builds(
            lambda t, lang: Literal(t, language=lang), text, st.sampled_from(["en", "cy", "gd-GB"])
        ),
        st.builds(
            lambda n: Literal(
                str(n), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")
            ),
            st.integers(),
        ),
        st.builds(
            lambda y: Literal(
                f"{y:04d}", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#gYear")
            ),
            st.integers(1000, 2999),
        ),
    )


def quads(chars, graphs):
    objects = st.one_of(iris, literals(chars), st.builds(lambda: BlankNode("b1")))
    subjects = st.one_of(iris, st.builds(lambda: BlankNode("b1")))
    return st.lists(
        st.builds(Quad, subjects, predicates, objects, st.sampled_from(graphs)),
        min_size=1,
        max_size=12,
    )


def canonical(items) -> Dataset:
    dataset = Dataset(items)
    dataset.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


def round_trip(store: OxigraphStore, fmt) -> Dataset:
    out = io.BytesIO()
    export(store, out, fmt)
    back = parse(out.getvalue(), fmt.oxigraph)
    if fmt.dataset:
        return canonical(back)
    return canonical(Quad(q.subject, q.predicate, q.object, DefaultGraph()) for q in back)


GRAPHS = [NamedNode("http://example.org/g1"), NamedNode("http://example.org/g2")]


@pytest.mark.parametrize("fmt", list(RDF_FORMATS), ids=lambda f: f.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dump_then_load_is_isomorphic(fmt, data):
    chars = XML_SAFE if fmt is RDFXML else ANY_TEXT
    items = data.draw(quads(chars, GRAPHS))
    store = OxigraphStore()
    store.add_quads(items)
    if fmt.dataset:
        expected = canonical(items)
    else:  # graph formats carry the union of the graphs
        expected = canonical(
            {Quad(q.subject, q.predicate, q.object, DefaultGraph()) for q in items}
        )
    assert set(round_trip(store, fmt)) == set(expected)


@pytest.mark.parametrize("fmt", list(RDF_FORMATS), ids=lambda f: f.name)
def test_one_graph_in_any_format(fmt):
    store = OxigraphStore()
    store.add_quads(
        [
            Quad(
                NamedNode("http://example.org/s"), NamedNode("http://example.org/p"), Literal(v), g
            )
            for v, g in (("in", GRAPHS[0]), ("out", GRAPHS[1]))
        ]
    )
    out = io.BytesIO()
    export(store, out, fmt, graph=GRAPHS[0].value)
    values = {q.object.value for q in parse(out.getvalue(), fmt.oxigraph)}
    assert values == {"in"}


def test_unknown_graph_is_not_found():
    with pytest.raises(NotFound):
        export(OxigraphStore(), io.BytesIO(), RDF_FORMATS.get("ttl"), graph="http://nope")
