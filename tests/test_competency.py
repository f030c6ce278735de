"""Competency questions: each query file, against answers worked out by hand from the source.

The expected values below were read off `shared/source/coproduction-knowledge-base.txt`, not
produced by running the queries.
"""

import pytest

from cokg.load import open_knowledge_base
from cokg.resources import QUERIES_DIR

CFS = "Co-production for Sustainability"
GM = (
    "Developing exemplars of Value Co-creation in the Greater Manchester Voluntary Community "
    "and Social Enterprise sector"
)
IMAGINE = "Imagine: bringing together universities and communities"
LOCAL = "Local solutions to local problems: innovation in public participation"
PB = (
    "Mainstreaming participatory budgeting: What works in building foundations for a more "
    "participatory democracy?"
)
TOOLS = "Developing tools for co-creation"

GMCVO = "Greater Manchester Centre for Voluntary Organisations"
MMU = "Manchester Metropolitan University"
BRIGHTON = "University of Brighton"
EDINBURGH = "University of Edinburgh"
WWS = "What Works Scotland"
NEWCASTLE = "Newcastle University"
CFLAT = "Centre for Learning and Teaching"


@pytest.fixture(scope="module")
def ask():
    store = open_knowledge_base()

    def run(name: str) -> list[tuple[str, ...]]:
        (path,) = QUERIES_DIR.glob(f"{name}-*.rq")
        result = store.query(path.read_text(encoding="utf-8"))
        width = len(result.variables)
        return [
            tuple("" if row[i] is None else row[i].value for i in range(width)) for row in result
        ]

    return run


def test_there_are_at_least_ten_questions():
    assert len(list(QUERIES_DIR.glob("cq*.rq"))) >= 10


def test_entries_sharing_a_contributor(ask):
    rows = {(r[1], frozenset(r[2:])) for r in ask("cq01")}
    assert rows == {
        ("Susanne Martikke", frozenset({GM, IMAGINE})),
        ("Oliver Escobar", frozenset({LOCAL, PB})),
    }


def test_no_two_entries_share_a_keyword(ask):
    # The 28 keywords of the six entries are all different.
    assert ask("cq02") == []


def test_organisations_in_more_than_one_entry(ask):
    assert set(ask("cq03")) == {(GMCVO, "2"), (EDINBURGH, "2"), (WWS, "2")}


def test_organisations_co_occurring(ask):
    assert set(ask("cq04")) == {
        (EDINBURGH, WWS, "2"),
        (CFLAT, NEWCASTLE, "1"),
        (GMCVO, MMU, "1"),
        (GMCVO, BRIGHTON, "1"),
    }


def test_entries_running_in_2017_or_2018_despite_mixed_precision(ask):
    # Imagine (2013) is the only entry that ended before 2017.
    assert {r[0] for r in ask("cq05")} == {CFS, GM, LOCAL, PB, TOOLS}


def test_who_contributed_what_for_whom(ask):
    expected = {
        (CFS, "Diana Reynolds", "Welsh Government"),
        (GM, "Susanne Martikke", GMCVO),
        (GM, "Claire Hannibal", MMU),
        (IMAGINE, "Susanne Martikke", GMCVO),
        (IMAGINE, "Angie Hart", BRIGHTON),
        (IMAGINE, "Andrew Church", BRIGHTON),
    }
    for title, people in (
        (LOCAL, ["Nick Bland", "Oliver Escobar"]),
        (PB, ["Oliver Escobar", "Beth Katz"]),
    ):
        expected |= {(title, p, o) for p in people for o in (WWS, EDINBURGH)}
    expected |= {
        (TOOLS, p, o) for p in ("Karen Laing", "Jill Clark", "Liz Todd") for o in (NEWCASTLE, CFLAT)
    }
    assert set(ask("cq06")) == expected
    assert len(ask("cq06")) == 20


def test_people_without_orcid_are_everyone(ask):
    # No ORCID iD is confirmed: 11 contributors plus 4 authors who are not contributors.
    assert {r[0] for r in ask("cq07")} == {
        "Diana Reynolds", "Susanne Martikke", "Claire Hannibal", "Angie Hart", "Andrew Church",
        "Nick Bland", "Oliver Escobar", "Beth Katz", "Karen Laing", "Jill Clark", "Liz Todd",
        "Bernadette Best", "Sandra Moffett", "Rodney McAdam", "Chris Harkins",
    }  # fmt: skip


def test_publications_with_year_and_authors_in_order(ask):
    rows = ask("cq08")
    ngo = "Examining networked NGO services: Reconceptualising value co-creation"
    pbs = (
        "Participatory Budgeting in Scotland: An overview of strategic design choices and "
        "principles for effective delivery"
    )
    by_publication: dict[tuple[str, str, str], list[str]] = {}
    for entry, publication, year, _position, author in rows:
        by_publication.setdefault((entry, publication, year), [])
        if author:
            by_publication[(entry, publication, year)].append(author)
    assert by_publication == {
        (GM, ngo, "2018"): ["Bernadette Best", "Sandra Moffett", "Claire Hannibal", "Rodney McAdam"],
        (PB, pbs, "2015"): ["Chris Harkins", "Oliver Escobar"],
        (TOOLS, "Making Connections: Theory and Practice of using Visual Methods to aid "
         "Participation in Research", "2017"): [],
        (TOOLS, "Theory of Change Guide", "2017"): [],
    }  # fmt: skip


def test_funders(ask):
    assert ask("cq09") == [(GM, "Community University Partnership Initiative")]


def test_units_and_ror_ids(ask):
    assert set(ask("cq10")) == {
        (CFLAT, NEWCASTLE, ""),
        (MMU, "", "https://ror.org/02hstj355"),
        (NEWCASTLE, "", "https://ror.org/01kj2bm70"),
        (BRIGHTON, "", "https://ror.org/04kp2b655"),
        (EDINBURGH, "", "https://ror.org/01nrxwf90"),
    }


def test_entries_with_unavailable_links(ask):
    assert {r[0] for r in ask("cq11")} == {GM, TOOLS}


def test_outputs_by_type(ask):
    rows = {(r[0], r[1].removeprefix("https://schema.org/"), r[3]) for r in ask("cq12")}
    assert rows == {
        (CFS, "DigitalDocument", "Programme Help Sheets"),
        (CFS, "VideoObject", "Transforming Capitalism – Sustainable Futures event, November 2018"),
        (IMAGINE, "DigitalDocument", "Research overview"),
        (LOCAL, "Report", "Local solutions to local problems: SIPR Annual Report 2016"),
        (PB, "Report", "What Works Scotland Policy Briefing 2018"),
        (TOOLS, "DigitalDocument", "Poster"),
    }


def test_keywords_per_entry(ask):
    counts = {r[0]: int(r[1]) for r in ask("cq13")}
    assert counts == {CFS: 8, GM: 4, IMAGINE: 3, LOCAL: 5, PB: 5, TOOLS: 3}
    labels = {r[0]: set(r[2].split(", ")) for r in ask("cq13")}
    assert labels[LOCAL] == {
        "citizen jury", "community engagement", "police", "fire service", "public participation"
    }  # fmt: skip


def test_co_authors(ask):
    rows = ask("cq14")
    assert len(rows) == 6 + 1  # four authors give six pairs; two authors one pair
    assert ("Chris Harkins", "Oliver Escobar") in {r[:2] for r in rows}


def test_approaches(ask):
    by_entry: dict[str, set[str]] = {}
    for approach, title in ask("cq15"):
        by_entry.setdefault(title, set()).add(approach)
    assert "participatory budgeting" in by_entry[PB]
    assert any("jury" in a for a in by_entry[LOCAL])
    assert set(by_entry) == {CFS, GM, IMAGINE, LOCAL, PB, TOOLS}
