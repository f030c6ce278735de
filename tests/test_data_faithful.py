"""The shipped knowledge base says what the source says: no more, no less.

Every expected string below was copied from `shared/source/coproduction-knowledge-base.txt`
(titles, periods, description paragraphs, keywords, contributor lines, publications, outputs)
or from `shared/source/identifiers.md` (ROR IRIs and the facts about What Works Scotland and
GMCVO). They are copies, not values read from the data, so a silent rewrite of the data fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDFS, SKOS, XSD

ROOT = Path(__file__).parents[1]
KB = "https://w3id.org/coprod/"

SCHEMA = Namespace("https://schema.org/")
DCTERMS = Namespace("http://purl.org/dc/terms/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
COP = Namespace("https://w3id.org/coprod/ontology/")

LINKS_UNAVAILABLE = Literal("Links currently unavailable", lang="en")
RECORD_DATE = Literal("2026-11-26", datatype=XSD.date)

# Organisation names as the contributor lines write them. "CfLaT (Centre for Learning and
# Teaching)" is the Centre for Learning and Teaching, whose abbreviation is CfLaT.
WG = "Welsh Government"
GMCVO = "Greater Manchester Centre for Voluntary Organisations"
MMU = "Manchester Metropolitan University"
BRIGHTON = "University of Brighton"
WWS = "What Works Scotland"
EDINBURGH = "University of Edinburgh"
NEWCASTLE = "Newcastle University"
CFLAT = "Centre for Learning and Teaching"

ENTRIES = {
    "co-production-for-sustainability": {
        "title": "Co-production for Sustainability",
        "period": (
            "2012 – 2032",
            Literal("2012", datatype=XSD.gYear),
            Literal("2032", datatype=XSD.gYear),
        ),
        "paragraphs": [
            "The Welsh Government’s Sustainable Development Change Programme began in May 2012. It is intended to support behavioural and culture change among civil servants in the Welsh Government.",
            "The programme has championed co-production and made use of co-production techniques since it started. One of the first Quick Tips (that you can see on the website) was about how to start to co-produce, followed later by Quick Tips on coaching for co-production, the links between co-production and good governance and other topics. In addition, projects in mindfulness and behavioural insights have helped inform our deepening understanding of co-production practices.",
            "The programme scope covers the ways of working of all (approx. 5000) civil servants who work for the Welsh Government. An architecture for the behaviour changes that are being sought is on the website. We are developing these new approaches through a collaborative programme of action research and on-demand service. By supplying advice, conversations, coaching, appreciative enquiries and space to think, the programme encourages civil servants to work with others to find creative solutions to policy and delivery challenges. The programme applies co-production methods and also acts as the primary link between u.lab and Theory U practitioners in Wales and the world.",
            "Evaluation is carried out by academics from universities across the UK and has so far considered: the embedding of coaching across Welsh Government; flow and change; attention in leadership; use of mindfulness and behavioural insights to improve decision making; stakeholder engagement; co-production in public services and other topics. In addition a comprehensive feedback log helps us to understand how civil servants and their stakeholders feel about and respond to the programme.",
        ],
        "keywords": "relational governance, mindfulness, coaching, co-production, appreciative enquiry, action research, wellbeing, organisational development",
        "contributors": {"Diana Reynolds": {WG}},
        "links_unavailable": False,
    },
    "value-co-creation-greater-manchester": {
        "title": "Developing exemplars of Value Co-creation in the Greater Manchester Voluntary Community and Social Enterprise sector",
        "period": (
            "August 2018 – June 2019",
            Literal("2018-08", datatype=XSD.gYearMonth),
            Literal("2019-06", datatype=XSD.gYearMonth),
        ),
        "paragraphs": [
            "The project is funded by Community University Partnership Initiative (CUPI) and was developed using CUPI ‘Thinking Funding’. The development phase included engagement with VCSE organisations from the health and social care sector.",
            "The research project itself is a very small study of five organisations who have self-identified as being engaged in co-production with their service users. Joint interviews are being conducted with one organisational representative and one service user per organisation in order to examine the nuts and bolts of co-producing together. Interviewees are asked to identify one example of co-production and reflect on this particular example.",
            "The aim of the study is to develop a better understanding of what makes co-production possible, how it works and what value it produces.",
        ],
        "keywords": "value co-creation, service-user involvement, collaboration, voluntary sector",
        "contributors": {"Susanne Martikke": {GMCVO}, "Claire Hannibal": {MMU}},
        "links_unavailable": True,
    },
    "imagine": {
        "title": "Imagine: bringing together universities and communities",
        "period": (
            "2013",
            Literal("2013", datatype=XSD.gYear),
            Literal("2013", datatype=XSD.gYear),
        ),
        "paragraphs": [
            "Imagine was a five-year project which finished in December 2017. The project brought together universities and their local communities to uncover knowledge and imagine better futures.",
            "This piece of research consisted of interviews with both members of more than 20 community university partnerships (CUPs) to examine the key features of CUPs, identify how the partners learn from each other in CUPs, explore the extent to which universities are hostile or enabling working environments for CUP working, and understand the processes that make CUPs resilient in the longer term. The report features recommendations to those in academia and the community who are either already involved in CUPs or are interested in becoming involved, as well as to research funders.",
        ],
        "keywords": "community university partnerships, resilience, sustainability",
        "contributors": {
            "Susanne Martikke": {GMCVO},
            "Angie Hart": {BRIGHTON},
            "Andrew Church": {BRIGHTON},
        },
        "links_unavailable": False,
    },
    "local-solutions-to-local-problems": {
        "title": "Local solutions to local problems: innovation in public participation",
        "period": (
            "2016-2017",
            Literal("2016", datatype=XSD.gYear),
            Literal("2017", datatype=XSD.gYear),
        ),
        "paragraphs": [
            "This summary report shares the findings from a trial of a ‘mini-public’ process to enable communities and public services to interact more meaningfully.",
            "The Christie Commission set the agenda for public services – including police and fire services – to pursue wider and better community engagement. But existing UK research shows that the conventional ways in which police services tend to engage with the public has limitations; many people don’t attend community meetings, those who do attend are not fully representative of the community, and the terms of engagement are narrow and largely set by the police.",
            "What Works Scotland worked with police, fire and council services in the North East of Scotland to experiment with a ‘mini-public’ approach – in this case a citizens’ jury – which brings together a group of people, representative of the local community, to work together to solve a problem. The topic for the citizens’ jury was a community bonfire which, due to its popularity and size, was raising safety concerns for the local police and fire service.",
        ],
        "keywords": "citizen jury, community engagement, police, fire service, public participation",
        "contributors": {"Nick Bland": {WWS, EDINBURGH}, "Oliver Escobar": {WWS, EDINBURGH}},
        "links_unavailable": False,
    },
    "mainstreaming-participatory-budgeting": {
        "title": "Mainstreaming participatory budgeting: What works in building foundations for a more participatory democracy?",
        "period": (
            "2018",
            Literal("2018", datatype=XSD.gYear),
            Literal("2018", datatype=XSD.gYear),
        ),
        "paragraphs": [
            "Participatory budgeting (PB) is a process that involves citizens in deciding collectively how to spend public money. This democratic innovation originated from blending two policy agendas: community empowerment and social justice. Over three decades, PB has evolved from experiences in Brazil to a global movement with thousands of processes around the world.",
            "This policy briefing reviews how participatory budgeting (PB) has become central to advancing three policy agendas in Scotland – public service reform, community empowerment and social justice – and examines the requirements to mainstream PB including the co-production of new systems, new mindsets and ways of working.",
            "If PB is to make a substantial difference in the lives of citizens and communities, democratic innovators across Scotland will have to overcome a range of challenges related to culture (mindsets, attitudes, ways of working), capacity, politics, legitimacy and sustainability.",
            "What Works Scotland has highlighted several areas for improvement, including the need to increase the deliberative quality of PB processes and their focus on tackling inequalities. Realising the transformative potential of PB depends, to a great extent, on those two dimensions.",
        ],
        "keywords": "participatory budgeting, participatory democracy, public service reform, community empowerment, social justice",
        "contributors": {"Oliver Escobar": {WWS, EDINBURGH}, "Beth Katz": {WWS, EDINBURGH}},
        "links_unavailable": False,
    },
    "developing-tools-for-co-creation": {
        "title": "Developing tools for co-creation",
        "period": (
            "2018-19",
            Literal("2018", datatype=XSD.gYear),
            Literal("2019", datatype=XSD.gYear),
        ),
        "paragraphs": [
            "Researchers at the Centre for Learning and Teaching (CfLaT) at Newcastle University have been leading innovators in the development, practice and conceptualisation of co-produced research. We are interested in this on several levels:",
            "• how universities can work with other organisations to make a difference to society\n"
            "• how researchers can work with young people to co-produce research\n"
            "• how organisations co-produce services\n"
            "• methods for co-production.",
        ],
        "keywords": "co-creation tools, connections, theory of change",
        "contributors": {
            "Karen Laing": {NEWCASTLE, CFLAT},
            "Jill Clark": {NEWCASTLE, CFLAT},
            "Liz Todd": {NEWCASTLE, CFLAT},
        },
        "links_unavailable": True,
    },
}

# Related publications: (entry, title, year, authors in source order, venue text or None).
PUBLICATIONS = [
    ("value-co-creation-greater-manchester", "Examining networked NGO services: Reconceptualising value co-creation", "2018",
     ["Bernadette Best", "Sandra Moffett", "Claire Hannibal", "Rodney McAdam"],
     "International Journal of Operations and Production Management, 38:7"),
    ("mainstreaming-participatory-budgeting", "Participatory Budgeting in Scotland: An overview of strategic design choices and principles for effective delivery", "2015",
     ["Chris Harkins", "Oliver Escobar"], "Glasgow Centre for Population Health, What Works Scotland"),
    ("developing-tools-for-co-creation", "Making Connections: Theory and Practice of using Visual Methods to aid Participation in Research", "2017", [], None),
    ("developing-tools-for-co-creation", "Theory of Change Guide", "2017", [], None),
]  # fmt: skip

# The entry's own material: (entry, title, source label, schema.org class).
OUTPUTS = [
    ("co-production-for-sustainability", "Programme Help Sheets", "Help sheets", SCHEMA.DigitalDocument),
    ("co-production-for-sustainability", "Transforming Capitalism – Sustainable Futures event, November 2018", "Video presentation", SCHEMA.VideoObject),
    ("imagine", "Research overview", "Research overview", SCHEMA.DigitalDocument),
    ("local-solutions-to-local-problems", "Local solutions to local problems: SIPR Annual Report 2016", "Project report", SCHEMA.Report),
    ("mainstreaming-participatory-budgeting", "What Works Scotland Policy Briefing 2018", "Research report", SCHEMA.Report),
    ("developing-tools-for-co-creation", "Poster", "Poster", SCHEMA.DigitalDocument),
]  # fmt: skip

ROR = {
    EDINBURGH: "https://ror.org/01nrxwf90",
    NEWCASTLE: "https://ror.org/01kj2bm70",
    BRIGHTON: "https://ror.org/04kp2b655",
    MMU: "https://ror.org/02hstj355",
}

DOCUMENT_CLASSES = {
    SCHEMA.ScholarlyArticle, SCHEMA.Report, SCHEMA.Book, SCHEMA.VideoObject, SCHEMA.DigitalDocument,
}  # fmt: skip


@pytest.fixture(scope="module")
def kb() -> Graph:
    graph = Graph()
    files = sorted((ROOT / "ontology").glob("*.ttl")) + sorted((ROOT / "data").rglob("*.ttl"))
    assert files, "no Turtle files found under ontology/ and data/"
    for path in files:
        graph.parse(path, format="turtle")
    return graph


def project(slug: str) -> URIRef:
    return URIRef(f"{KB}id/project/{slug}")


def one(graph: Graph, subject: URIRef, predicate: URIRef):
    values = list(graph.objects(subject, predicate))
    assert len(values) == 1, f"{subject} has {len(values)} values for {predicate}"
    return values[0]


def name_of(graph: Graph, node) -> str:
    return str(one(graph, node, FOAF.name))


def document_titled(graph: Graph, title: str) -> URIRef:
    found = list(graph.subjects(DCTERMS.title, Literal(title, lang="en")))
    assert len(found) == 1, f"{len(found)} documents titled {title!r}"
    return found[0]


def test_exactly_the_six_entries(kb):
    assert set(kb.subjects(RDF.type, SCHEMA.ResearchProject)) == {project(s) for s in ENTRIES}
    assert set(kb.subjects(RDF.type, FOAF.Project)) == {project(s) for s in ENTRIES}


@pytest.mark.parametrize("slug", ENTRIES)
def test_title(kb, slug):
    title = Literal(ENTRIES[slug]["title"], lang="en")
    assert list(kb.objects(project(slug), DCTERMS.title)) == [title]
    assert list(kb.objects(project(slug), SCHEMA.name)) == [title]


@pytest.mark.parametrize("slug", ENTRIES)
def test_description_is_the_source_paragraphs(kb, slug):
    text = Literal("\n\n".join(ENTRIES[slug]["paragraphs"]), lang="en")
    assert list(kb.objects(project(slug), DCTERMS.description)) == [text]
    assert list(kb.objects(project(slug), SCHEMA.description)) == [text]


@pytest.mark.parametrize("slug", ENTRIES)
def test_period(kb, slug):
    label, start, end = ENTRIES[slug]["period"]
    period = one(kb, project(slug), DCTERMS.temporal)
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in kb
    assert list(kb.objects(period, RDFS.label)) == [Literal(label)]
    assert list(kb.objects(period, DCAT.startDate)) == [start]
    assert list(kb.objects(period, DCAT.endDate)) == [end]


def test_the_stand_alone_december_2018_line_is_the_date_of_the_pb_entry(kb):
    date = Literal("2018-12", datatype=XSD.gYearMonth)
    assert list(kb.objects(project("mainstreaming-participatory-budgeting"), DCTERMS.date)) == [
        date
    ]
    others = [s for s in ENTRIES if s != "mainstreaming-participatory-budgeting"]
    assert not any(list(kb.objects(project(s), DCTERMS.date)) for s in others)


@pytest.mark.parametrize("slug", ENTRIES)
def test_keywords(kb, slug):
    expected = ENTRIES[slug]["keywords"].split(", ")
    scheme = URIRef(KB + "id/scheme/keywords")
    concepts = [
        c for c in kb.objects(project(slug), DCTERMS.subject) if (c, SKOS.inScheme, scheme) in kb
    ]
    assert sorted(str(one(kb, c, SKOS.prefLabel)) for c in concepts) == sorted(expected)
    assert all(one(kb, c, SKOS.prefLabel).language == "en" for c in concepts)
    assert set(kb.objects(project(slug), SCHEMA.keywords)) == set(concepts)


def test_keyword_scheme_has_one_concept_per_distinct_keyword(kb):
    distinct = {k for entry in ENTRIES.values() for k in entry["keywords"].split(", ")}
    assert len(distinct) == 28
    scheme = URIRef(KB + "id/scheme/keywords")
    concepts = set(kb.subjects(SKOS.inScheme, scheme))
    assert {str(one(kb, c, SKOS.prefLabel)) for c in concepts} == distinct
    assert len(concepts) == 28
    assert set(kb.objects(scheme, SKOS.hasTopConcept)) == concepts
    for concept in concepts:
        assert {SKOS.Concept, SCHEMA.DefinedTerm} <= set(kb.objects(concept, RDF.type))
        assert not any(kb.objects(concept, SKOS.closeMatch))
        assert not any(kb.objects(concept, SKOS.exactMatch))


@pytest.mark.parametrize("slug", ENTRIES)
def test_contributors_and_their_organisations(kb, slug):
    expected = ENTRIES[slug]["contributors"]
    contributors = list(kb.objects(project(slug), DCTERMS.contributor))
    assert {name_of(kb, p) for p in contributors} == set(expected)
    assert set(kb.objects(project(slug), SCHEMA.contributor)) == set(contributors)
    for person in contributors:
        assert {FOAF.Person, SCHEMA.Person} <= set(kb.objects(person, RDF.type))
        organisations = set(kb.objects(person, ORG.memberOf))
        assert {name_of(kb, o) for o in organisations} == expected[name_of(kb, person)]
        assert set(kb.objects(person, SCHEMA.affiliation)) == organisations


def test_a_person_is_one_resource_across_entries(kb):
    names = [str(n) for p in kb.subjects(RDF.type, FOAF.Person) for n in kb.objects(p, FOAF.name)]
    assert len(names) == len(set(names))


def test_every_person_the_source_names_and_no_one_else(kb):
    contributors = {n for entry in ENTRIES.values() for n in entry["contributors"]}
    authors = {a for *_, names, _venue in PUBLICATIONS for a in names}
    assert len(contributors | authors) == 15
    people = {name_of(kb, p) for p in kb.subjects(RDF.type, FOAF.Person)}
    assert people == contributors | authors


def test_authors_who_are_not_contributors_have_no_invented_organisation(kb):
    for name in ("Bernadette Best", "Sandra Moffett", "Rodney McAdam", "Chris Harkins"):
        (person,) = kb.subjects(FOAF.name, Literal(name))
        assert not any(kb.objects(person, ORG.memberOf))
        assert not any(kb.objects(person, SCHEMA.affiliation))


@pytest.mark.parametrize(
    ("slug", "title", "year", "authors", "venue"),
    PUBLICATIONS,
    ids=[p[1][:30] for p in PUBLICATIONS],
)
def test_related_publication(kb, slug, title, year, authors, venue):
    document = document_titled(kb, title)
    assert (project(slug), COP.relatedPublication, document) in kb
    assert (project(slug), DCTERMS.relation, document) in kb
    assert list(kb.objects(document, DCTERMS.issued)) == [Literal(year, datatype=XSD.gYear)]
    author_lists = list(kb.objects(document, SCHEMA.author))
    in_order = [name_of(kb, a) for a in Collection(kb, author_lists[0])] if author_lists else []
    assert in_order == authors
    assert {name_of(kb, c) for c in kb.objects(document, DCTERMS.creator)} == set(authors)
    citations = [str(c) for c in kb.objects(document, DCTERMS.bibliographicCitation)]
    assert citations == ([venue] if venue else [])
    assert len(set(kb.objects(document, RDF.type)) & DOCUMENT_CLASSES) == 1


@pytest.mark.parametrize(
    ("slug", "title", "label", "kind"), OUTPUTS, ids=[o[1][:30] for o in OUTPUTS]
)
def test_output(kb, slug, title, label, kind):
    document = document_titled(kb, title)
    assert (project(slug), COP.output, document) in kb
    assert (project(slug), DCTERMS.relation, document) in kb
    assert set(kb.objects(document, RDF.type)) & DOCUMENT_CLASSES == {kind}
    assert list(kb.objects(document, SCHEMA.genre)) == [Literal(label, lang="en")]


def test_the_video_is_dated_november_2018(kb):
    video = document_titled(
        kb, "Transforming Capitalism – Sustainable Futures event, November 2018"
    )
    assert list(kb.objects(video, DCTERMS.issued)) == [Literal("2018-11", datatype=XSD.gYearMonth)]


def test_every_document_is_listed_by_an_entry_and_nothing_more(kb):
    documents = set(kb.subjects(RDF.type, FOAF.Document))
    assert len(documents) == len(PUBLICATIONS) + len(OUTPUTS)
    listed = {d for s in ENTRIES for d in kb.objects(project(s), DCTERMS.relation)}
    assert listed == documents


def test_no_document_has_a_link(kb):
    # The source gives no URL for any document: each says why instead.
    for document in kb.subjects(RDF.type, FOAF.Document):
        assert not any(kb.objects(document, SCHEMA.url))
        assert any(kb.objects(document, SKOS.editorialNote))


@pytest.mark.parametrize("slug", ENTRIES)
def test_links_currently_unavailable(kb, slug):
    noted = (project(slug), SKOS.editorialNote, LINKS_UNAVAILABLE) in kb
    assert noted == ENTRIES[slug]["links_unavailable"]
    if noted:
        for document in kb.objects(project(slug), DCTERMS.relation):
            assert (document, SKOS.editorialNote, LINKS_UNAVAILABLE) in kb


def test_funder_of_the_greater_manchester_entry(kb):
    (funder,) = kb.objects(project("value-co-creation-greater-manchester"), SCHEMA.funder)
    assert name_of(kb, funder) == "Community University Partnership Initiative"
    assert (funder, SKOS.altLabel, Literal("CUPI")) in kb
    funded = {
        s
        for s, _ in kb.subject_objects(SCHEMA.funder)
        if (s, RDF.type, SCHEMA.ResearchProject) in kb
    }
    assert funded == {project("value-co-creation-greater-manchester")}


@pytest.mark.parametrize("slug", ENTRIES)
def test_catalog_record(kb, slug):
    record = URIRef(f"{KB}id/record/{slug}")
    assert (record, RDF.type, DCAT.CatalogRecord) in kb
    assert list(kb.objects(record, FOAF.primaryTopic)) == [project(slug)]
    assert set(kb.objects(record, PROV.wasAttributedTo)) == set(
        kb.objects(project(slug), DCTERMS.contributor)
    )
    assert list(kb.objects(record, DCTERMS.issued)) == [RECORD_DATE]
    assert list(kb.objects(record, DCTERMS.modified)) == [RECORD_DATE]


def test_units_and_partnerships(kb):
    def organisation(name: str) -> URIRef:
        (found,) = kb.subjects(FOAF.name, Literal(name))
        return found

    cflat = organisation(CFLAT)
    assert (cflat, SKOS.altLabel, Literal("CfLaT")) in kb
    assert (cflat, RDF.type, ORG.OrganizationalUnit) in kb
    assert list(kb.objects(cflat, ORG.subOrganizationOf)) == [organisation(NEWCASTLE)]
    wws = organisation(WWS)
    assert not any(kb.objects(wws, ORG.subOrganizationOf))
    assert (wws, RDF.type, ORG.OrganizationalUnit) not in kb
    assert set(kb.objects(wws, ORG.linkedTo)) == {
        organisation("University of Glasgow"),
        organisation(EDINBURGH),
    }


def test_what_works_scotland_grant(kb):
    (grant,) = kb.subjects(RDF.type, SCHEMA.Grant)
    assert list(kb.objects(grant, SCHEMA.identifier)) == [Literal("ES/M003922/1")]
    funders = {name_of(kb, f) for f in kb.objects(grant, SCHEMA.funder)}
    assert funders == {"Economic and Social Research Council", "Scottish Government"}
    assert [name_of(kb, i) for i in kb.objects(grant, SCHEMA.fundedItem)] == [WWS]


def test_gmcvo_confirmed_facts(kb):
    (gmcvo,) = kb.subjects(FOAF.name, Literal(GMCVO))
    assert list(kb.objects(gmcvo, SCHEMA.foundingDate)) == [Literal("1975", datatype=XSD.gYear)]
    assert list(kb.objects(gmcvo, SCHEMA.dissolutionDate)) == [Literal("2025", datatype=XSD.gYear)]
    (identifier,) = kb.objects(gmcvo, SCHEMA.identifier)
    assert list(kb.objects(identifier, SCHEMA.value)) == [Literal("504542")]


def test_only_the_four_confirmed_ror_ids_are_same_as(kb):
    same_as = {(name_of(kb, s), str(o)) for s, o in kb.subject_objects(OWL.sameAs)}
    assert same_as == set(ROR.items())


def test_no_orcid_doi_or_wikidata_anywhere(kb):
    forbidden = ("orcid.org", "doi.org", "wikidata.org", "doi:")
    for triple in kb:
        for term in triple:
            assert not any(f in str(term).lower() for f in forbidden), triple


def test_facets_only_where_the_text_supports_them(kb):
    def labels(slug: str, prop: URIRef) -> set[str]:
        return {str(one(kb, c, SKOS.prefLabel)) for c in kb.objects(project(slug), prop)}

    approaches = {slug: labels(slug, COP.approach) for slug in ENTRIES}
    assert approaches == {
        "co-production-for-sustainability": {"coaching for co-production", "action research"},
        "value-co-creation-greater-manchester": {"value co-creation"},
        "imagine": {"community–university partnership"},
        "local-solutions-to-local-problems": {"citizens’ jury"},
        "mainstreaming-participatory-budgeting": {"participatory budgeting"},
        "developing-tools-for-co-creation": {"co-produced research"},
    }
    assert labels("mainstreaming-participatory-budgeting", COP.stage) == {"co-commissioning"}
    assert labels("developing-tools-for-co-creation", COP.participantGroup) >= {"young people"}
    assert labels("co-production-for-sustainability", COP.participantGroup) == {"civil servants"}


def test_participation_levels_are_ordered(kb):
    scheme = URIRef(KB + "id/scheme/participation-levels")
    levels = sorted(kb.subjects(SKOS.inScheme, scheme), key=lambda c: int(one(kb, c, COP.rank)))
    assert [str(one(kb, c, SKOS.prefLabel)) for c in levels] == [
        "inform", "consult", "involve", "collaborate", "co-produce",
    ]  # fmt: skip
    assert [str(one(kb, c, SKOS.notation)) for c in levels] == ["1", "2", "3", "4", "5"]


def test_ontology_header(kb):
    ontology = URIRef("https://w3id.org/coprod/ontology")
    assert (ontology, RDF.type, OWL.Ontology) in kb
    assert list(kb.objects(ontology, OWL.versionIRI)) == [
        URIRef("https://w3id.org/coprod/ontology/0.1.0")
    ]
    assert list(kb.objects(ontology, DCTERMS.license)) == [
        URIRef("https://creativecommons.org/licenses/by/4.0/")
    ]
    terms = set(kb.subjects(RDFS.isDefinedBy, ontology))
    assert len(terms) == 11
    for term in terms:
        assert one(kb, term, RDFS.label).language == "en"
        assert one(kb, term, SKOS.definition).language == "en"


def test_no_page_chrome(kb):
    for _s, _p, o in kb:
        assert "Leave a Reply" not in str(o)
        assert "Skip to content" not in str(o)
