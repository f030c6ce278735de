"""The workloads: what is measured, on which two sides, with which requests.

A workload is a small object in :data:`WORKLOADS`. Adding one is a few lines::

    register(SparqlWorkload(
        name="count-entries",
        title="COUNT of entries",
        queries=lambda ctx: ["SELECT (COUNT(*) AS ?n) WHERE { ?e a schema:ResearchProject }"],
    ))

An :class:`HttpWorkload` names its two sides (``cokg`` and a peer from
:data:`bench.servers.SERVERS`) and builds, for each side, the list of requests it sends; the
harness warms up, then measures with 1 and with several clients. A :class:`CommandWorkload`
runs one command line per side to its end (the bulk load), before the servers start.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Request, Response
from bench.data import Dataset
from bench.servers import OXIGRAPH, Server
from cokg.load import collect_files, graph_iri
from cokg.namespaces import DEFAULT_BASE_IRI, PREFIXES, sparql_prologue
from cokg.resources import QUERIES_DIR

PROLOGUE = sparql_prologue(PREFIXES)
SPARQL_JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"


@dataclass(frozen=True)
class Context:
    """What a workload may use to build its requests."""

    dataset: Dataset
    seed: int


@dataclass(frozen=True)
class HttpWorkload:
    """Requests sent over HTTP to two running servers."""

    name: str
    title: str
    build: Callable[[Server, Context], list[Request]]
    sides: tuple[str, str] = ("cokg", "oxigraph")

    def requests(self, server: Server, ctx: Context) -> list[Request]:
        """Return the requests to send to ``server`` (the same work on every side)."""
        return self.build(server, ctx)

    def size(self, response: Response) -> str:
        """Return a short description of a response's size, to compare the two sides."""
        return f"{len(response.body)} B"


def _count_results(response: Response) -> str:
    content = response.body
    if response.headers.get("content-type", "").startswith(SPARQL_JSON):
        parsed = json.loads(content)
        if "boolean" in parsed:
            return f"ask={parsed['boolean']}"
        return f"{len(parsed['results']['bindings'])} rows"
    lines = [line for line in content.splitlines() if line.strip()]
    if any(not line.rstrip().endswith(b".") for line in lines):
        raise ValueError("not N-Triples")
    return f"{len(lines)} triples"


@dataclass(frozen=True)
class SparqlWorkload(HttpWorkload):
    """SPARQL queries (common prefixes declared in front) sent to each side's endpoint."""

    build: Callable[[Server, Context], list[Request]] = field(default=lambda s, c: [])
    queries: Callable[[Context], list[str]] = field(default=lambda c: [])
    accept: str = SPARQL_JSON

    def requests(self, server: Server, ctx: Context) -> list[Request]:
        """Return one GET request per query, in the SPARQL protocol."""
        return [
            Request(server.sparql_path_for(PROLOGUE + q), {"Accept": self.accept})
            for q in self.queries(ctx)
        ]

    def size(self, response: Response) -> str:
        """Return the number of result rows (or triples) in ``response``.

        Raises :class:`ValueError` for a body that is not a whole answer (bare Oxigraph sends
        200 and then an error message when it stops a query at its time limit).
        """
        try:
            found = _count_results(response)
        except (ValueError, KeyError) as e:
            snippet = response.body[:100].decode("utf-8", "replace")
            raise ValueError(f"HTTP 200 but not a whole answer: {snippet!r}") from e
        if response.headers.get("x-cokg-result-truncated") == "true":
            found += f" (cut at the row limit, {response.headers.get('x-cokg-row-limit')})"
        return found


@dataclass(frozen=True)
class CommandWorkload:
    """One or more command lines per side, run to their end; throughput in triples/s."""

    name: str
    title: str
    commands: Callable[[str, Path, Context], list[list[str]]]
    sides: tuple[str, str] = ("cokg", "oxigraph")


Workload = HttpWorkload | CommandWorkload
WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    """Add ``workload`` to :data:`WORKLOADS` (names are unique)."""
    if workload.name in WORKLOADS:
        raise ValueError(f"workload {workload.name} is registered twice")
    WORKLOADS[workload.name] = workload
    return workload


# --- bulk load ---------------------------------------------------------------------------------


def _load_commands(side: str, store: Path, ctx: Context) -> list[list[str]]:
    kb = ctx.dataset.kb
    if side == "cokg":
        return [[sys.executable, "-m", "cokg", "load", "--store", str(store), str(kb)]]
    commands = []
    for path, relative in collect_files([kb]):  # the same named graphs as cokg gives them
        command = [OXIGRAPH, "load", "--location", str(store), "--file", str(path)]
        if path.suffix != ".trig":
            command += ["--graph", graph_iri(relative, base_iri=DEFAULT_BASE_IRI)]
        commands.append(command)
    return commands


register(
    CommandWorkload(
        name="load",
        title="bulk load (cokg load vs oxigraph load)",
        commands=_load_commands,
    )
)


# --- DESCRIBE of a random entry ----------------------------------------------------------------


def _describe_queries(ctx: Context) -> list[str]:
    rng = random.Random(ctx.seed)
    numbers = [rng.randint(1, ctx.dataset.entries) for _ in range(50)]
    return [f"DESCRIBE <{DEFAULT_BASE_IRI}id/project/synth-{n:06d}>" for n in numbers]


register(
    SparqlWorkload(
        name="describe",
        title="DESCRIBE a random entry",
        queries=_describe_queries,
        accept=NTRIPLES,
    )
)


# --- competency questions ----------------------------------------------------------------------


def _query_file(path: Path) -> Callable[[Context], list[str]]:
    text = path.read_text(encoding="utf-8")
    return lambda ctx: [text]


for _path in sorted(QUERIES_DIR.glob("cq*.rq")):
    register(
        SparqlWorkload(
            name=_path.stem.split("-", 1)[0],
            title=_path.stem.split("-", 1)[1].replace("-", " "),
            queries=_query_file(_path),
        )
    )
