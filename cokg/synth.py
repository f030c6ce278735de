"""A realistic synthetic knowledge base of any size, written streaming (for benchmarks).

:func:`write_synthetic` writes a folder that ``cokg load --store DIR FOLDER`` loads as a whole
knowledge base and that ``cokg validate FOLDER`` accepts:

- ``entries.trig``: one named graph per entry (``{base}graph/entries/synth-000001`` …) holding
  the entry, its period, its documents and its catalog record, like ``data/entries/*.ttl``;
- ``people.ttl`` and ``organisations.ttl``: the pools that contributors and authors are drawn
  from, each person with one or two organisations;
- ``vocabularies/keywords.ttl``: a few hundred keywords (the shipped ones first, same IRIs);
- ``vocabularies/*.ttl`` and ``ontology/cop.ttl``: the shipped ``cop:`` facet schemes and the
  ontology, copied.

Shapes and distributions follow the real entries: 1–4 paragraphs of description, 3–8 keywords
with a Zipf-like popularity, 1–4 contributors, 0–4 documents of the five real kinds, periods
at year, month or day precision (some ending in the future), facets from the ``cop:`` schemes.
The same ``seed`` gives byte-identical files; memory stays flat however many entries are
written (entries are generated and written one at a time; people and organisations are
derived from their index).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     summary = write_synthetic(Path(folder), entries=3, seed=7)
...     (summary.entries, summary.files[-1], summary.triples > 100)
(3, 'entries.trig', True)
"""

from __future__ import annotations

import calendar
import datetime
import functools
import random
import re
import shutil
import string
import unicodedata
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TextIO

from pyoxigraph import Literal, NamedNode, RdfFormat, parse
from tqdm import tqdm

from cokg import resources
from cokg.errors import CokgError
from cokg.namespaces import COP, DCTERMS, DEFAULT_BASE_IRI, RDF, SKOS

__all__ = ["SynthSummary", "write_synthetic"]

# --- word lists ------------------------------------------------------------------------------


def _words(text: str, separator: str | None = None) -> list[str]:
    """Split a word list written over several lines (by ``separator``, default whitespace)."""
    return [" ".join(item.split()) for item in text.split(separator) if item.strip()]


GIVEN = _words(
    """Aisha Alan Alice Amina Andrew Angela Anna Ben Bethan Carlos Catherine Chen Chris Claire
Connor Dafydd Daniel David Deborah Diana Eilidh Elena Emma Eoin Fatima Fiona Gareth Grace Hamish
Hannah Helen Ian Imran Isla Jack James Jane Javier Jill Joanna John Julia Karen Kate Katie Kevin
Laura Lei Leon Liam Liz Lucy Mairi Marco Maria Mark Martin Megan Mei Michael Mohammed Naomi Neil
Nia Nick Nicola Oliver Olivia Owen Patrick Paul Priya Rachel Rajesh Rebecca Rhys Richard Robert
Rosa Ruth Sam Sandra Sarah Sean Sian Simon Sofia Sophie Stephen Susan Tariq Thomas Tom Una Victoria
Wei William Yasmin Yusuf Zara Zoe Agnieszka Ingrid Kwame Oluwaseun Siobhán"""
)

FAMILY = _words(
    """Adams Ahmed Ali Allan Anderson Armstrong Bailey Baker Bell Bennett Best Black Bland Boyd
Brown Burns Campbell Carter Chapman Chen Church Clark Clarke Cole Collins Cook Cooper Cox Craig
Crawford Cunningham Davies Davis Dixon Douglas Duncan Edwards Elliott Escobar Evans Ferguson Fisher
Fleming Forbes Foster Fraser Gibson Gill Gordon Graham Grant Gray Green Griffiths Hall Hamilton
Hannibal Harkins Harris Hart Harvey Hill Hughes Hunter Hussain Jackson James Jenkins Johnson
Johnston Jones Kaur Kelly Kennedy Khan King Laing Lee Lewis Lloyd Macdonald Mackay Mackenzie
Marshall Martin Mason Matthews McAdam Miller Mitchell Moffett Moore Morgan Morris Murphy Murray
Nelson Owen Palmer Parker Patel Pearson Phillips Powell Price Rahman Reid Reynolds Richards
Richardson Roberts Robertson Robinson Rogers Ross Russell Scott Shaw Simpson Singh Smith Stewart
Stevenson Taylor Thomas Thompson Thomson Todd Turner Walker Wallace Ward Watson White Williams
Wilson Wood Wright Young Nowak Okafor Mensah Rossi García Müller Novak Kowalski O'Neill"""
)

PLACES = _words(
    """Aberdeen Belfast Birmingham Bradford Brighton Bristol Cambridge Cardiff Carlisle Chester
Coventry Derby Dundee Durham Edinburgh Exeter Glasgow Gloucester Hull Inverness Lancaster Leeds
Leicester Lincoln Liverpool London Manchester Newcastle Newport Norwich Nottingham Oxford Perth
Plymouth Portsmouth Preston Reading Salford Sheffield Southampton Stirling Sunderland Swansea
Wakefield Winchester Wolverhampton Worcester York Bangor Wrexham Falkirk Paisley Ayr Dumfries
Lerwick Kirkwall Stornoway Oban Fort-William Elgin Peterhead Arbroath Kendal Barrow Whitby Hexham
Berwick Alnwick Truro Bath Salisbury Taunton Yeovil Hereford Shrewsbury Telford Stafford Stoke
Macclesfield Bolton Wigan Oldham Rochdale Bury Stockport Blackburn Burnley Halifax Huddersfield
Doncaster Rotherham Barnsley Grimsby Scunthorpe Ipswich Colchester Chelmsford Luton Bedford
Northampton Milton-Keynes Swindon Cheltenham Aberystwyth Carmarthen Llandudno Limerick Galway
Cork Derry Armagh Lisburn Newry Enniskillen"""
)

ORG_TEMPLATES = (
    ("University of {place}", "university"),
    ("{place} City Council", "government"),
    ("{place} Centre for Voluntary Organisations", "charity"),
    ("Centre for Participatory Research, University of {place}", "unit"),
    ("{place} Health and Social Care Partnership", "government"),
    ("{place} Housing Association", "charity"),
    ("{place} Community Trust", "charity"),
    ("Institute for Public Service Innovation, University of {place}", "unit"),
    ("{place} Police Division", "government"),
    ("{place} Fire and Rescue Service", "government"),
    ("{place} Youth Forum", "charity"),
    ("{place} Citizens Advice", "charity"),
    ("{place} Metropolitan University", "university"),
    ("{place} Carers Centre", "charity"),
    ("{place} Public Health Observatory", "government"),
    ("{place} Council for Voluntary Service", "charity"),
)
AREA_PREFIXES = ("", "North ", "South ", "East ", "West ", "Greater ", "Central ", "Mid ")

EXTRA_KEYWORDS = _words(
    """co-design|co-commissioning|co-delivery|co-assessment|co-creation|citizen
science|deliberative democracy|deliberation|mini-publics|citizens' assembly|community
development|asset-based approaches|community assets|health and social care|social care|mental
health|public health|primary care|integrated care|adult social care|children's services|youth
work|young people|older people|carers|disability|learning disability|dementia|homelessness|
housing|social housing|poverty|food insecurity|welfare reform|employability|education|schools|
early years|further education|higher education|knowledge exchange|public engagement|civic
universities|participatory action research|peer research|lived experience|experts by
experience|service design|design thinking|user-centred design|digital inclusion|digital public
services|open government|transparency|accountability|local government|localism|devolution|
community planning|place-based approaches|neighbourhood planning|regeneration|urban
regeneration|rural communities|islands|environment|climate change|net zero|energy transition|
green spaces|transport|active travel|community safety|policing|criminal justice|probation|
restorative justice|prisons|violence prevention|domestic abuse|gender equality|equality and
diversity|racial justice|migration|refugees|asylum seekers|language and culture|arts and culture|
community arts|heritage|libraries|museums|sport and physical activity|volunteering|social
enterprise|third sector|charities|philanthropy|funding|commissioning|procurement|social value|
public value|outcomes|evaluation|impact|theory of change|realist evaluation|social return on
investment|monitoring|performance management|leadership|systems leadership|systems thinking|
complexity|relational practice|trust|power|power sharing|partnership working|collaborative
governance|network governance|new public governance|new public management|public administration|
public policy|policy design|evidence-based policy|behavioural insights|nudge|innovation|social
innovation|public sector innovation|scaling|sustainability of services|austerity|budgets|
financial inclusion|welfare|social security|human rights|children's rights|participation rights|
inclusion|social inclusion|social exclusion|inequalities|health inequalities|place|community
anchor organisations|community councils|community empowerment act|community ownership|
community land|co-operatives|mutuals|asset transfer|participatory grant-making|citizen
panels|consultation|engagement methods|facilitation|dialogue|storytelling|photovoice|visual
methods|creative methods|arts-based methods|qualitative methods|interviews|focus groups|surveys|
ethnography|case study|comparative research|international comparison|learning networks|
communities of practice|peer support|mentoring|training|capacity building|skills|workforce
development|professional identity|frontline workers|street-level bureaucracy|social work|nursing|
general practice|pharmacy|hospitals|emergency services|ambulance service|recovery|addiction|
substance use|alcohol|smoking cessation|obesity|physical activity|nutrition|loneliness|social
isolation|ageing well|end of life care|palliative care|bereavement|family support|parenting|
looked-after children|care leavers|adoption|fostering|child protection|safeguarding|youth
justice|school exclusion|attainment gap|literacy|numeracy|digital skills|employment support|
job centres|universal credit|benefits advice|debt advice|fuel poverty|energy efficiency|
retrofit|flooding|resilient communities|emergency planning|covid-19|pandemic recovery|
vaccination|health literacy|patient involvement|patient experience|shared decision making|
self-management|personalisation|personal budgets|direct payments|self-directed support|
independent living|housing first|tenant participation|estate regeneration|planning system|
town centres|high streets|local economy|community wealth building|anchor institutions|
fair work|living wage|trade unions|gig economy|accessibility|inclusive design|assistive
technology|telecare|data sharing|open data|artificial intelligence|algorithmic accountability|
ethics|research ethics|informed consent|safeguarding in research|research impact|
knowledge mobilisation|evidence use|what works|randomised trials|implementation science|
improvement science|quality improvement|lean|agile|governance|boards|scrutiny|audit|
inspection|regulation|complaints|ombudsman|legal aid|advocacy|self-advocacy|user-led
organisations|disabled people's organisations|faith groups|black and minority ethnic
communities|gypsy and traveller communities|lgbtq+ communities|women's organisations|
men's sheds|intergenerational practice|time banking|community currencies|sharing economy|
food banks|community gardens|allotments|community energy|repair cafés|circular economy""",
    "|",
)

GROUPS = _words(
    """citizens|service users|residents|young people|older people|carers|families|patients|
tenants|community members|civil servants|frontline staff|social workers|police officers|
teachers|nurses|volunteers|local councillors|community organisations|voluntary organisations|
researchers|students|practitioners|policy makers|people with lived experience|disabled people|
parents|pupils|health professionals|housing officers""",
    "|",
)

SERVICES = _words(
    """public services|health and social care|community safety|housing services|
mental health support|education|youth services|adult social care|local budgets|neighbourhood
plans|transport planning|public health programmes|library services|employment support|welfare
advice|children's services|fire safety|policing priorities|community care|green spaces|
regeneration plans|school curricula|primary care|recovery services|family support|
homelessness services|energy advice|food projects|arts programmes|sports facilities""",
    "|",
)

FACTORS = _words(
    """trust|leadership|time|funding|power sharing|shared language|organisational culture|
relationships|mutual learning|clear roles|accessible information|facilitation|follow-up|
institutional support|political commitment|staff capacity|training|flexibility|listening|
reciprocity|legitimacy|feedback loops|shared goals|local knowledge|evidence|reflection|
inclusion|recognition|resources|continuity""",
    "|",
)

METHODS = _words(
    """interviews|focus groups|a citizens' jury|participatory budgeting|action research|
appreciative enquiry|a survey|workshops|photovoice|a learning network|peer research|
storytelling|design sprints|community mapping|deliberative workshops|an online platform|
a theory of change|case studies|a realist evaluation|coaching conversations""",
    "|",
)

VERBS_PAST = _words(
    """examined|explored|studied|mapped|compared|documented|evaluated|tested|
investigated|described|reviewed|analysed|traced|questioned|assessed""",
    "|",
)

VERBS_INF = _words(
    """improve|redesign|rethink|evaluate|co-design|co-deliver|reshape|strengthen|
review|prioritise|plan|monitor|transform|commission|sustain""",
    "|",
)

STUDIES = _words("project study programme partnership pilot research evaluation initiative")

SLOT_WORDS = {
    "group": GROUPS,
    "place": [place.replace("-", " ") for place in PLACES],
    "verb": VERBS_INF,
    "past": VERBS_PAST,
    "service": SERVICES,
    "study": STUDIES,
    "factor": FACTORS,
    "method": METHODS,
    "month": list(calendar.month_name)[1:],
}

SENTENCES = (
    "{Org} worked with {group} in {place} to {verb} {service}.",
    "The {study} {past} how {group} and {group2} co-produce {service}.",
    "This {study} {past} the role of {kw} in {service} across {place}.",
    "Interviews were conducted with {n} {group} and {n2} {group2}.",
    "The findings show that {kw} depends on {factor}, {factor2} and {factor3}.",
    "We used {method} to {verb} {service} together with {group}.",
    "The {study} brought together {group} and {group2} to {verb} {service}.",
    "Participants described {factor} and {factor2} as key to {kw}.",
    "The report features recommendations to {group} who are interested in {kw}.",
    "It is intended to support culture change among {group} in {place}.",
    "The {study} began in {month} {year} and is led by {org}.",
    "The aim of the {study} is to develop a better understanding of {kw} and {kw2}.",
    "Challenges related to {factor}, {factor2} and {factor3} remain.",
    "Evaluation is carried out by {org} and has so far considered {kw} and {kw2}.",
    "Over {n} months, {group} and {group2} met to {verb} {service}.",
    "The {study} draws on {method} and {method2} to learn what makes {kw} possible.",
    "Early results suggest that {kw} improves {service} when {factor} is in place.",
    "{Org} has championed {kw} since {year}.",
)

TITLES = (
    "{Kw} in {place}",
    "Co-producing {service} with {group}",
    "{Kw} and {kw2}: lessons from {place}",
    "Developing tools for {kw}",
    "Evaluating {method} in {service}",
    "{Place} {kw} project",
    "Rethinking {service}: {kw} in practice",
    "{Kw} with {group}: what works?",
    "Building {kw} in {place}",
    "From consultation to co-production: {service} in {place}",
)

VENUES = (
    "Public Management Review",
    "Public Administration Review",
    "Policy & Politics",
    "Journal of Social Policy",
    "Voluntary Sector Review",
    "Local Government Studies",
    "International Journal of Public Sector Management",
    "Health Expectations",
    "Evidence & Policy",
    "Journal of Community Practice",
    "Research for All",
    "Social Policy and Society",
)

MONTHS = list(calendar.month_name)[1:]

DOCUMENT_KINDS = (  # (schema class, genre, weight, is a related publication)
    ("ScholarlyArticle", "Related publication", 30, True),
    ("Report", "Research report", 20, False),
    ("Report", "Related publication", 10, True),
    ("Report", "Project report", 10, False),
    ("Book", "Related publication", 5, True),
    ("VideoObject", "Video presentation", 8, False),
    ("DigitalDocument", "Poster", 7, False),
    ("DigitalDocument", "Help sheets", 5, False),
    ("DigitalDocument", "Research overview", 5, False),
)
_DOC_CUMULATIVE = list(accumulate(kind[2] for kind in DOCUMENT_KINDS))

PREFIXES = {
    "cop": COP,
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcterms": DCTERMS,
    "foaf": "http://xmlns.com/foaf/0.1/",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "https://schema.org/",
    "skos": SKOS,
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
FACET_SCHEMES = (  # (scheme file, entry property, cop: class)
    ("approaches", "cop:approach", "CoProductionApproach"),
    ("participation-levels", "cop:participationLevel", "ParticipationLevel"),
    ("stages", "cop:stage", "Stage"),
    ("participant-groups", "cop:participantGroup", "ParticipantGroup"),
)
TODAY = datetime.date(2026, 11, 26)


# --- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_synthetic` wrote: counts, files (relative to ``output``), size."""

    output: Path
    entries: int
    people: int
    organisations: int
    keywords: int
    documents: int
    files: tuple[str, ...]
    triples: int
    bytes: int

    def __str__(self) -> str:
        return (
            f"wrote {self.entries} entries ({self.documents} documents), {self.people} people, "
            f"{self.organisations} organisations, {self.keywords} keywords to {self.output}: "
            f"{len(self.files)} files, {self.triples} triples, "
            f"{self.bytes} bytes ({self.bytes / 2**20:.1f} MiB)"
        )


# --- helpers ---------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """Return the lower-case ASCII slug of ``text`` (words joined by ``-``).

    >>> slugify("Siobhán O'Neill")
    'siobhan-oneill'
    >>> slugify("citizens' assembly")
    'citizens-assembly'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = ascii_text.lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _text(value: str, lang: str | None = "en") -> str:
    quoted = '"' + value.translate(_ESCAPES) + '"'
    return quoted + (f"@{lang}" if lang else "")


def _typed(value: str, datatype: str) -> str:
    return f'"{value}"^^xsd:{datatype}'


class _Turtle:
    """Writes subject blocks to a Turtle/TriG stream and counts the triples written."""

    def __init__(self, out: TextIO, indent: str = "") -> None:
        self.out = out
        self.indent = indent
        self.triples = 0

    def block(self, subject: str, pairs: Sequence[tuple[str, Sequence[str]]]) -> None:
        lines = []
        for predicate, objects in pairs:
            if objects:
                lines.append(f"{predicate} {' , '.join(objects)}")
                for value in objects:
                    # An rdf:List "( a b )" of n members is 2n triples besides the link to it.
                    self.triples += 1 + (2 * (value.count(" ") - 1) if value[:2] == "( " else 0)
        pad = self.indent + "    "
        self.out.write(f"{self.indent}{subject} " + f" ;\n{pad}".join(lines) + " .\n")


def _prologue(out: TextIO, prefixes: dict[str, str]) -> None:
    for name, iri in sorted(prefixes.items()):
        out.write(f"@prefix {name}: <{iri}> .\n")
    out.write("\n")


def _instance_prefixes(base: str) -> dict[str, str]:
    kinds = ("project", "period", "person", "organisation", "document", "record")
    found = {kind: f"{base}id/{kind}/" for kind in kinds}
    found["keyword"] = f"{base}id/concept/keywords/"
    found["scheme"] = f"{base}id/scheme/"
    found["entrygraph"] = f"{base}graph/entries/"
    for name, (scheme, _, _) in zip(
        ("approach", "level", "stage", "group"), FACET_SCHEMES, strict=True
    ):
        found[name] = f"{base}id/concept/{scheme}/"
    return found


def _zipf_cumulative(n: int, exponent: float) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(n)))


def _pick_distinct(rng: random.Random, cumulative: list[float], k: int) -> list[int]:
    """Return ``k`` distinct indices drawn with the weights behind ``cumulative``."""
    total = cumulative[-1]
    chosen: list[int] = []
    for _ in range(50 * k):  # bounded: distinct draws from a skewed pool
        index = bisect(cumulative, rng.random() * total)
        if index not in chosen:
            chosen.append(index)
            if len(chosen) == k:
                break
    return chosen


# --- pools derived from an index (nothing grows with N) --------------------------------------


@dataclass(frozen=True)
class _Person:
    slug: str
    given: str
    family: str


def _person(index: int) -> _Person:
    combos = len(GIVEN) * len(FAMILY)
    j = (index * 7919 + 13) % combos  # 7919 is prime and divides no pool size: a permutation
    given, family = GIVEN[j % len(GIVEN)], FAMILY[j // len(GIVEN)]
    repeat = index // combos
    slug = slugify(f"{given} {family}") + (f"-{repeat + 1}" if repeat else "")
    return _Person(slug, given, family)


@dataclass(frozen=True)
class _Organisation:
    name: str
    kind: str
    parent: int | None

    @property
    def slug(self) -> str:
        return slugify(self.name)


def _organisation(index: int) -> _Organisation:
    block = len(ORG_TEMPLATES) * len(PLACES)
    template, kind = ORG_TEMPLATES[index % len(ORG_TEMPLATES)]
    place = PLACES[(index // len(ORG_TEMPLATES)) % len(PLACES)].replace("-", " ")
    level = index // block
    area = AREA_PREFIXES[level % len(AREA_PREFIXES)] + place
    if level >= len(AREA_PREFIXES):
        area += f" {level // len(AREA_PREFIXES) + 1}"
    name = template.format(place=area)
    parent = index - index % len(ORG_TEMPLATES) if kind == "unit" else None
    return _Organisation(name, kind, parent)


@functools.cache
def _slots(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _initials(name: str) -> str:
    skip = {"for", "and", "of", "the"}
    return "".join(word[0].upper() for word in name.split(",")[0].split() if word not in skip)


# --- the writer ------------------------------------------------------------------------------


class _Generator:
    def __init__(
        self, *, seed: int, base: str, people: int, organisations: int, keywords: list[str]
    ) -> None:
        self.rng = random.Random(seed)
        self.base = base
        self.people = people
        self.organisations = organisations
        self.keywords = keywords
        order = list(range(len(keywords)))
        random.Random(seed + 1).shuffle(order)  # which keywords are popular depends on the seed
        self.keyword_by_rank = order
        self.keyword_refs = [f"keyword:{slugify(label)}" for label in keywords]
        self.keyword_cumulative = _zipf_cumulative(len(keywords), 1.0)
        self.facets = {prop: _facet_slugs(scheme, cls) for scheme, prop, cls in FACET_SCHEMES}
        self.documents = 0

    # -- text

    def _keyword_label(self) -> str:
        index = bisect(self.keyword_cumulative, self.rng.random() * self.keyword_cumulative[-1])
        return self.keywords[self.keyword_by_rank[index]]

    def _fill(self, template: str) -> str:
        """Fill the ``{slots}`` of ``template``; a capitalised slot capitalises its value."""
        values: dict[str, str] = {}
        for slot in _slots(template):
            key = slot.lower()
            if key not in values:
                values[key] = self._slot_value(key.rstrip("23"), set(values.values()))
            if slot != key:
                values[slot] = values[key][:1].upper() + values[key][1:]
        return template.format(**values)

    def _slot_value(self, kind: str, taken: set[str]) -> str:
        rng = self.rng
        for _ in range(10):  # bounded: a second slot of a kind differs from the first
            if kind == "kw":
                value = self._keyword_label()
            elif kind == "org":
                value = _organisation(rng.randrange(self.organisations)).name
            elif kind == "year":
                value = str(rng.randint(2000, 2025))
            elif kind == "n":
                value = str(rng.randint(3, 40))
            else:
                value = rng.choice(SLOT_WORDS[kind])
            if value not in taken:
                break
        return value

    def title(self) -> str:
        return self._fill(self.rng.choice(TITLES))

    def description(self) -> str:
        rng = self.rng
        paragraphs = []
        for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
            sentences = [self._fill(rng.choice(SENTENCES)) for _ in range(rng.randint(2, 5))]
            if rng.random() < 0.1:
                items = [
                    f"• how {rng.choice(GROUPS)} can {rng.choice(VERBS_INF)} {rng.choice(SERVICES)}"
                    for _ in range(rng.randint(2, 4))
                ]
                paragraphs.append(sentences[0][:-1] + ":\n\n" + "\n".join(items) + ".")
            else:
                paragraphs.append(" ".join(sentences))
        return "\n\n".join(paragraphs)

    # -- structure

    def period(self) -> tuple[str, str, str]:
        """Return (label, start literal, end literal) at a mixed precision."""
        rng = self.rng
        start = rng.randint(2000, 2025)
        future = rng.random() < 0.08
        end = (
            rng.randint(2027, 2035) if future else min(start + rng.choice((0, 1, 1, 2, 3, 4)), 2026)
        )
        kind = rng.random()
        if kind < 0.25 and not future:
            return str(start), _typed(str(start), "gYear"), _typed(str(start), "gYear")
        if kind < 0.6:
            label = rng.choice((f"{start}-{str(end)[2:]}", f"{start}-{end}", f"{start} – {end}"))
            if end == start:
                label = str(start)
            return label, _typed(str(start), "gYear"), _typed(str(end), "gYear")
        m1 = rng.randint(1, 12)
        m2 = rng.randint(m1, 12) if end == start else rng.randint(1, 12)
        if kind < 0.85:
            label = f"{MONTHS[m1 - 1]} {start} – {MONTHS[m2 - 1]} {end}"
            return (
                label,
                _typed(f"{start}-{m1:02d}", "gYearMonth"),
                _typed(f"{end}-{m2:02d}", "gYearMonth"),
            )
        d1 = rng.randint(1, calendar.monthrange(start, m1)[1])
        last = calendar.monthrange(end, m2)[1]
        d2 = rng.randint(d1, last) if (end, m2) == (start, m1) else rng.randint(1, last)
        label = f"{d1} {MONTHS[m1 - 1]} {start} – {d2} {MONTHS[m2 - 1]} {end}"
        return (
            label,
            _typed(f"{start}-{m1:02d}-{d1:02d}", "date"),
            _typed(f"{end}-{m2:02d}-{d2:02d}", "date"),
        )

    def person_ref(self) -> str:
        # Mildly skewed: a few people contribute to many entries, most to a handful.
        return "person:" + _person(int(self.people * self.rng.random() ** 1.5)).slug

    def entry(self, out: _Turtle, number: int) -> None:
        rng = self.rng
        slug = f"synth-{number:06d}"
        title, description = self.title(), self.description()
        quoted_title, quoted_description = _text(title), _text(description)
        label, start, end = self.period()
        keywords = _pick_distinct(rng, self.keyword_cumulative, rng.randint(3, 8))
        subjects = [self.keyword_refs[self.keyword_by_rank[k]] for k in keywords]
        contributors = list(
            dict.fromkeys(self.person_ref() for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))))
        )
        unavailable = rng.random() < 0.15
        documents = [
            self.document(slug, i + 1, contributors, unavailable)
            for i in range(rng.choice((0, 1, 1, 2, 2, 3, 4)))
        ]
        relation = [doc for doc, _, _ in documents]
        publications = [doc for doc, is_pub, _ in documents if is_pub]
        outputs = [doc for doc, is_pub, _ in documents if not is_pub]
        year = end.split('"')[1][:4] if rng.random() < 0.15 else None
        facets = []
        for prop, slugs in self.facets.items():
            chance, most = {"cop:approach": (0.8, 2), "cop:participantGroup": (0.8, 3)}.get(
                prop, (0.4, 1)
            )
            if rng.random() < chance:
                picked = rng.sample(slugs, min(len(slugs), rng.randint(1, most)))
                facets.append((prop, sorted(picked)))
        funder = (
            [f"organisation:{_organisation(rng.randrange(self.organisations)).slug}"]
            if rng.random() < 0.25
            else []
        )
        issued = TODAY - datetime.timedelta(days=rng.randint(0, 2500))
        modified = min(
            TODAY, issued + datetime.timedelta(days=rng.choice((0, 0, 0, rng.randint(1, 400))))
        )

        out.out.write(f"entrygraph:{slug} {{\n")
        out.block(
            f"project:{slug}",
            [
                ("a", ["schema:ResearchProject", "foaf:Project"]),
                ("dcterms:title", [quoted_title]),
                ("schema:name", [quoted_title]),
                ("dcterms:description", [quoted_description]),
                ("schema:description", [quoted_description]),
                ("dcterms:temporal", [f"period:{slug}"]),
                (
                    "dcterms:date",
                    [_typed(f"{year}-{rng.randint(1, 12):02d}", "gYearMonth")] if year else [],
                ),
                ("dcterms:subject", subjects),
                ("schema:keywords", subjects),
                ("dcterms:contributor", contributors),
                ("schema:contributor", contributors),
                ("schema:funder", funder),
                ("dcterms:relation", relation),
                ("cop:relatedPublication", publications),
                ("cop:output", outputs),
                (
                    "skos:editorialNote",
                    [_text("Links currently unavailable")] if unavailable else [],
                ),
                *facets,
            ],
        )
        out.block(
            f"period:{slug}",
            [
                ("a", ["dcterms:PeriodOfTime"]),
                ("rdfs:label", [_text(label, None)]),
                ("dcat:startDate", [start]),
                ("dcat:endDate", [end]),
            ],
        )
        for iri, _, pairs in documents:
            out.block(iri, pairs)
        out.block(
            f"record:{slug}",
            [
                ("a", ["dcat:CatalogRecord"]),
                ("dcterms:title", [_text(f"Catalogue record for “{title}”")]),
                ("foaf:primaryTopic", [f"project:{slug}"]),
                ("prov:wasAttributedTo", contributors),
                ("dcterms:issued", [_typed(issued.isoformat(), "date")]),
                ("dcterms:modified", [_typed(modified.isoformat(), "date")]),
            ],
        )
        out.out.write("}\n\n")

    def document(
        self, entry_slug: str, number: int, contributors: list[str], unavailable: bool
    ) -> tuple[str, bool, list[tuple[str, list[str]]]]:
        """Return (IRI, is a related publication, its predicate-objects pairs)."""
        rng = self.rng
        self.documents += 1
        cls, genre, _, is_publication = DOCUMENT_KINDS[
            bisect(_DOC_CUMULATIVE, rng.random() * _DOC_CUMULATIVE[-1])
        ]
        iri = f"document:{entry_slug}-{number}"
        title = genre if genre in ("Poster", "Research overview") else self.title()
        authors: list[str] = []
        if is_publication or genre == "Research report":
            pool = contributors + [self.person_ref() for _ in range(3)]
            authors = list(dict.fromkeys(rng.sample(pool, rng.randint(0, min(4, len(pool))))))
        issued = []
        if rng.random() < 0.7:
            year = rng.randint(2000, 2026)
            issued = [
                _typed(f"{year}-{rng.randint(1, 12):02d}", "gYearMonth")
                if rng.random() < 0.2
                else _typed(str(year), "gYear")
            ]
        venue = (
            [_text(rng.choice(VENUES) + f", {rng.randint(1, 60)}:{rng.randint(1, 12)}", None)]
            if cls == "ScholarlyArticle"
            else []
        )
        note = "Links currently unavailable" if unavailable else "No link given in the source"
        pairs: list[tuple[str, list[str]]] = [
            ("a", [f"schema:{cls}", "foaf:Document"]),
            ("dcterms:title", [_text(title)]),
            ("schema:name", [_text(title)]),
            ("schema:genre", [_text(genre)]),
            ("dcterms:creator", authors),
            ("dcterms:issued", issued),
            ("dcterms:bibliographicCitation", venue),
            (
                "schema:encodingFormat",
                [_text("application/pdf", None)] if genre == "Poster" else [],
            ),
            ("skos:editorialNote", [_text(note)]),
        ]
        if authors:
            pairs.append(("schema:author", [f"( {' '.join(authors)} )"]))
        return iri, is_publication, pairs


def _facet_slugs(scheme: str, cls: str) -> list[str]:
    """Return the prefixed names of the shipped concepts of a ``cop:`` scheme, sorted."""
    path = resources.DATA_DIR / "vocabularies" / f"{scheme}.ttl"
    rdf_type, wanted = NamedNode(RDF + "type"), NamedNode(COP + cls)
    prefix = {"approaches": "approach", "participation-levels": "level", "stages": "stage"}.get(
        scheme, "group"
    )
    with path.open("rb") as handle:
        iris = {
            str(t.subject.value)
            for t in parse(handle, RdfFormat.TURTLE)
            if t.predicate == rdf_type and t.object == wanted
        }
    return [f"{prefix}:{iri.rsplit('/', 1)[1]}" for iri in sorted(iris)]


def shipped_keywords() -> list[str]:
    """Return the labels of the shipped keyword concepts, in the order the file gives them."""
    path = resources.DATA_DIR / "vocabularies" / "keywords.ttl"
    label = NamedNode(SKOS + "prefLabel")
    with path.open("rb") as handle:
        return [
            t.object.value
            for t in parse(handle, RdfFormat.TURTLE)
            if t.predicate == label
            and isinstance(t.object, Literal)
            and "/concept/" in t.subject.value
        ]


def keyword_labels() -> list[str]:
    """Return every synthetic keyword label: the shipped ones first, then the extra ones."""
    labels = shipped_keywords()
    seen = {slugify(label) for label in labels}
    for extra in EXTRA_KEYWORDS:
        extra = " ".join(extra.split())
        if extra and slugify(extra) not in seen:
            seen.add(slugify(extra))
            labels.append(extra)
    return labels


# --- files -----------------------------------------------------------------------------------


def _write_keywords(path: Path, labels: list[str], base: str) -> int:
    prefixes = {
        **{k: PREFIXES[k] for k in ("dcterms", "schema", "skos")},
        "keyword": f"{base}id/concept/keywords/",
        "scheme": f"{base}id/scheme/",
    }
    refs = [f"keyword:{slugify(label)}" for label in labels]
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            "# Synthetic keyword scheme (cokg synth): the shipped keywords, then more.\n\n"
        )
        _prologue(handle, prefixes)
        out = _Turtle(handle)
        title = _text("Keywords of the co-production knowledge base")
        out.block(
            "scheme:keywords",
            [
                ("a", ["skos:ConceptScheme", "schema:DefinedTermSet"]),
                ("dcterms:title", [title]),
                ("skos:prefLabel", [title]),
                ("schema:name", [title]),
                ("dcterms:description", [_text("Synthetic keywords for benchmarks.")]),
                ("skos:hasTopConcept", refs),
                ("schema:hasDefinedTerm", refs),
            ],
        )
        for ref, label in zip(refs, labels, strict=True):
            handle.write("\n")
            out.block(
                ref,
                [
                    ("a", ["skos:Concept", "schema:DefinedTerm"]),
                    ("skos:prefLabel", [_text(label)]),
                    ("schema:name", [_text(label)]),
                    ("skos:inScheme", ["scheme:keywords"]),
                    ("schema:inDefinedTermSet", ["scheme:keywords"]),
                    ("skos:topConceptOf", ["scheme:keywords"]),
                ],
            )
    return out.triples


def _write_organisations(path: Path, count: int, base: str) -> int:
    prefixes = {
        **{k: PREFIXES[k] for k in ("foaf", "org", "schema", "skos")},
        "organisation": f"{base}id/organisation/",
    }
    extra_types = {
        "university": ["schema:CollegeOrUniversity"],
        "government": ["schema:GovernmentOrganization"],
        "unit": ["org:OrganizationalUnit"],
    }
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# Synthetic organisations (cokg synth).\n\n")
        _prologue(handle, prefixes)
        out = _Turtle(handle)
        for index in range(count):
            found = _organisation(index)
            name = _text(found.name, None)
            pairs = [
                (
                    "a",
                    [
                        "foaf:Organization",
                        "schema:Organization",
                        "org:Organization",
                        *extra_types.get(found.kind, []),
                    ],
                ),
                ("foaf:name", [name]),
                ("schema:name", [name]),
                ("skos:prefLabel", [name]),
            ]
            if found.parent is not None:
                parent = [f"organisation:{_organisation(found.parent).slug}"]
                abbreviation = [_text(_initials(found.name), None)]
                pairs += [
                    ("skos:altLabel", abbreviation),
                    ("schema:alternateName", abbreviation),
                    ("org:subOrganizationOf", parent),
                    ("schema:parentOrganization", parent),
                ]
            out.block(f"organisation:{found.slug}", pairs)
    return out.triples


def _write_people(path: Path, count: int, organisations: int, rng: random.Random, base: str) -> int:
    prefixes = {
        **{k: PREFIXES[k] for k in ("foaf", "org", "schema")},
        "person": f"{base}id/person/",
        "organisation": f"{base}id/organisation/",
    }
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# Synthetic people (cokg synth): contributors and authors.\n\n")
        _prologue(handle, prefixes)
        out = _Turtle(handle)
        for index in range(count):
            found = _person(index)
            name = _text(f"{found.given} {found.family}", None)
            orgs = sorted(
                {
                    "organisation:" + _organisation(rng.randrange(organisations)).slug
                    for _ in range(1 if rng.random() < 0.7 else 2)
                }
            )
            out.block(
                f"person:{found.slug}",
                [
                    ("a", ["foaf:Person", "schema:Person"]),
                    ("foaf:name", [name]),
                    ("schema:name", [name]),
                    ("schema:givenName", [_text(found.given, None)]),
                    ("schema:familyName", [_text(found.family, None)]),
                    ("org:memberOf", orgs),
                    ("schema:affiliation", orgs),
                ],
            )
    return out.triples


def _copy_shipped(output: Path, base: str) -> tuple[list[str], int]:
    """Copy the ontology and the ``cop:`` facet schemes; return their paths and triples."""
    copies = [(resources.ONTOLOGY_DIR / "cop.ttl", "ontology/cop.ttl")]
    copies += [
        (resources.DATA_DIR / "vocabularies" / f"{scheme}.ttl", f"vocabularies/{scheme}.ttl")
        for scheme, _, _ in FACET_SCHEMES
    ]
    triples = 0
    for source, relative in copies:
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if base == DEFAULT_BASE_IRI:
            shutil.copyfile(source, target)
        else:  # instance IRIs move to the new base; ontology terms stay put
            text = source.read_text(encoding="utf-8")
            target.write_text(text.replace(f"<{DEFAULT_BASE_IRI}id/", f"<{base}id/"), "utf-8")
        with target.open("rb") as handle:
            triples += sum(1 for _ in parse(handle, RdfFormat.TURTLE))
    return [relative for _, relative in copies], triples


def _entries(progress: bool, count: int) -> Iterator[int]:
    yield from tqdm(range(1, count + 1), desc="synth", unit="entry", disable=not progress)


def write_synthetic(
    output: Path,
    *,
    entries: int,
    seed: int = 1,
    base_iri: str = DEFAULT_BASE_IRI,
    progress: bool = False,
    people: int | None = None,
    organisations: int | None = None,
) -> SynthSummary:
    """Write a synthetic knowledge base of ``entries`` entries into the folder ``output``.

    The pools default to 3 people per 10 entries (at least 24) and one organisation per
    10 people (at least 16). Returns a :class:`SynthSummary`; raises
    :class:`~cokg.errors.CokgError` for a bad size or an unwritable folder.
    """
    if entries < 1:
        raise CokgError(f"--entries must be at least 1, not {entries}")
    if not base_iri.endswith(("/", "#")):
        raise CokgError(f"the base IRI must end with / or #: {base_iri}")
    people = people if people is not None else max(24, entries * 3 // 10)
    organisations = organisations if organisations is not None else max(16, people // 10)
    if people < 1 or organisations < 1:
        raise CokgError("the people and organisation pools need at least one member each")
    try:
        output.mkdir(parents=True, exist_ok=True)
        files, triples = _copy_shipped(output, base_iri)
        labels = keyword_labels()
        triples += _write_keywords(output / "vocabularies" / "keywords.ttl", labels, base_iri)
        triples += _write_organisations(output / "organisations.ttl", organisations, base_iri)
        pool_rng = random.Random(seed * 1_000_003 + 17)
        triples += _write_people(output / "people.ttl", people, organisations, pool_rng, base_iri)
        generator = _Generator(
            seed=seed, base=base_iri, people=people, organisations=organisations, keywords=labels
        )
        with (output / "entries.trig").open("w", encoding="utf-8") as handle:
            handle.write("# Synthetic entries (cokg synth): one named graph per entry.\n\n")
            _prologue(handle, {**PREFIXES, **_instance_prefixes(base_iri)})
            out = _Turtle(handle, indent="    ")
            for number in _entries(progress, entries):
                generator.entry(out, number)
            triples += out.triples
    except OSError as e:
        raise CokgError(f"cannot write the synthetic knowledge base to {output}: {e}") from e
    files += ["vocabularies/keywords.ttl", "organisations.ttl", "people.ttl", "entries.trig"]
    size = sum((output / relative).stat().st_size for relative in files)
    return SynthSummary(
        output=output,
        entries=entries,
        people=people,
        organisations=organisations,
        keywords=len(labels),
        documents=generator.documents,
        files=tuple(files),
        triples=triples,
        bytes=size,
    )
