"""The ``cokg`` command line: load, validate, query, dump, stats and serve the knowledge graph.

With no ``--store``, every command works on the shipped knowledge base (loaded into memory),
so ``cokg validate`` and ``cokg query '…'`` work right after ``pip install``.

Exit status: 0 success (for ``validate``: the data conforms), 1 ``validate`` found
violations, 2 an error (bad input, unreadable file, store unavailable).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from pyoxigraph import BlankNode, Literal, NamedNode, QueryBoolean, QuerySolutions, Triple

from cokg import __version__
from cokg.errors import CokgError, UnsupportedFormat
from cokg.export import export
from cokg.formats import RDF_FORMATS, RESULTS_FORMATS, TURTLE
from cokg.load import (
    collect_files,
    knowledge_base_files,
    load_files,
    load_knowledge_base,
    open_knowledge_base,
    prepare_load,
)
from cokg.namespaces import DEFAULT_BASE_IRI, PREFIXES, instance_prefixes
from cokg.store import ReadableStore, WritableStore, open_store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2


def store_option(function: F) -> F:
    """Add ``--store PATH|URL`` (also ``COKG_STORE``) to a command."""
    return click.option(
        "--store",
        "store_spec",
        envvar="COKG_STORE",
        metavar="PATH|URL",
        help="An on-disk store folder or a SPARQL endpoint URL "
        "(default: the shipped knowledge base, in memory).",
    )(function)


def base_iri_option(function: F) -> F:
    """Add ``--base-iri`` (also ``COKG_BASE_IRI``) to a command."""
    return click.option(
        "--base-iri",
        envvar="COKG_BASE_IRI",
        default=DEFAULT_BASE_IRI,
        show_default=True,
        help="The base IRI of the knowledge base's own resources.",
    )(function)


def _open(store_spec: str | None, base_iri: str) -> ReadableStore:
    if store_spec is None:
        return open_knowledge_base(base_iri=base_iri)
    return open_store(store_spec)


def _fail(error: CokgError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_ERROR)


class CokgGroup(click.Group):
    """A group that turns :class:`~cokg.errors.CokgError` into a message and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CokgError as error:
            _fail(error)


@click.group(cls=CokgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cokg")
def main() -> None:
    """cokg — the co-production knowledge graph as linked data."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@store_option
@base_iri_option
def load(paths: Sequence[Path], store_spec: str | None, base_iri: str) -> None:
    """Load RDF files or folders (one named graph per file) into a store.

    With no PATHS, loads the shipped knowledge base. Every file is parsed before anything
    is written: a broken file loads nothing. Without --store, only checks that the files parse.
    """
    progress = sys.stderr.isatty()
    files = collect_files(paths) if paths else knowledge_base_files()
    prepared = prepare_load(files=files, base_iri=base_iri, progress=progress)
    if store_spec is None:
        quads = sum(item.quads for item, _ in prepared.parsed) + sum(
            f.quads for f in prepared.large
        )
        click.echo(f"{len(files)} file(s), {quads} quads parse; nothing kept (no --store given)")
        return
    store = open_store(store_spec, create=True)
    if not isinstance(store, WritableStore):
        raise CokgError(f"the store {store_spec} cannot be written")
    summary = prepared.write(store)
    store.close()
    click.echo(f"loaded {len(summary.files)} file(s), {summary.quads} quads into {store_spec}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@store_option
@base_iri_option
@click.option(
    "--with-kb",
    is_flag=True,
    help="Validate the files together with the shipped knowledge base (for a new entry).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "turtle", "json"]),
    default="text",
    show_default=True,
)
def validate(
    paths: Sequence[Path],
    store_spec: str | None,
    base_iri: str,
    with_kb: bool,
    output_format: str,
) -> None:
    """Validate data against the SHACL shapes.

    Validates PATHS if given, else the store, else the shipped knowledge base. Exit status:
    0 conforms (warnings allowed), 1 violations, 2 error.
    """
    from cokg.validate import validate as run_validation

    graph = _dataset_graph(paths, store_spec, base_iri, with_kb)
    report = run_validation(graph)
    if output_format == "json":
        click.echo(report.to_json())
    elif output_format == "turtle":
        click.echo(report.to_turtle())
    else:
        click.echo(report.to_text())
    sys.exit(EXIT_OK if report.conforms else EXIT_VIOLATIONS)


def _dataset_graph(
    paths: Sequence[Path], store_spec: str | None, base_iri: str, with_kb: bool
) -> Any:
    """Return the union of the graphs to validate as one rdflib graph."""
    import io

    import rdflib

    from cokg.formats import NTRIPLES
    from cokg.store import OxigraphStore

    store: ReadableStore
    if paths:
        scratch = OxigraphStore()
        if with_kb:
            load_knowledge_base(scratch, base_iri=base_iri)
        # Identifiers are checked by the shapes here, so they appear in the report.
        load_files(scratch, paths, base_iri=base_iri, check_ids=False)
        store = scratch
    else:
        store = _open(store_spec, base_iri)
    buffer = io.BytesIO()
    export(store, buffer, NTRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=buffer.getvalue(), format="nt")
    return graph


def _read_query(query: str) -> str:
    if query == "-":
        return sys.stdin.read()
    if query.startswith("@"):
        return Path(query[1:]).read_text(encoding="utf-8")
    candidate = Path(query)
    if query.endswith((".rq", ".sparql")) and candidate.is_file():
        return candidate.read_text(encoding="utf-8")
    return query


@main.command()
@click.argument("query_text", metavar="QUERY")
@store_option
@base_iri_option
@click.option(
    "--format",
    "output_format",
    default=None,
    help="table (default for SELECT), json, xml, csv, tsv; or an RDF format for "
    "CONSTRUCT/DESCRIBE: turtle (default), ntriples, rdfxml, jsonld.",
)
def query(
    query_text: str, store_spec: str | None, base_iri: str, output_format: str | None
) -> None:
    """Run a SPARQL query: a string, @FILE, a .rq file, or - for standard input.

    Common prefixes (schema, dcterms, foaf, org, skos, cop, …) are predeclared.
    """
    sparql = _read_query(query_text)
    store = _open(store_spec, base_iri)
    result = store.query(sparql)
    out = sys.stdout.buffer
    if isinstance(result, QuerySolutions):
        if output_format in (None, "table"):
            _print_table(result, base_iri)
        else:
            result.serialize(out, RESULTS_FORMATS.get(output_format).oxigraph)
    elif isinstance(result, QueryBoolean):
        if output_format in (None, "table"):
            click.echo("true" if bool(result) else "false")
        else:
            result.serialize(out, RESULTS_FORMATS.get(output_format).oxigraph)
    else:
        from pyoxigraph import serialize

        fmt = RDF_FORMATS.get(output_format) if output_format else TURTLE
        if fmt.dataset:
            raise UnsupportedFormat(f"{fmt.label} is for datasets; a query result is one graph")
        serialize(_triples(result), out, fmt.oxigraph, prefixes=PREFIXES)
    out.flush()


def _triples(result: Iterator[Triple]) -> Iterator[Triple]:
    yield from result


def _compact(term: Any, prefixes: dict[str, str]) -> str:
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        best = max(
            ((name, iri) for name, iri in prefixes.items() if term.value.startswith(iri)),
            key=lambda pair: len(pair[1]),
            default=None,
        )
        if best and all(c.isalnum() or c in "-_." for c in term.value[len(best[1]) :]):
            return f"{best[0]}:{term.value[len(best[1]) :]}"
        return f"<{term.value}>"
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    if isinstance(term, Literal):
        return term.value
    return str(term)


def _print_table(result: QuerySolutions, base_iri: str) -> None:
    prefixes = {**PREFIXES, **instance_prefixes(base_iri)}
    names = [v.value for v in result.variables]
    rows = [[_compact(row[i], prefixes) for i in range(len(names))] for row in result]
    rows = [[cell.replace("\n", " ") for cell in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    line = " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))
    click.echo(line.rstrip())
    click.echo("-+-".join("-" * w for w in widths))
    for row in rows:
        click.echo(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


@main.command()
@store_option
@base_iri_option
@click.option(
    "--format",
    "format_name",
    default="trig",
    show_default=True,
    help="turtle, ntriples, nquads, trig, rdfxml, jsonld (graph formats give the union).",
)
@click.option("--graph", default=None, help="Dump only this named graph.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="File (default: stdout)."
)
@click.option(
    "-d",
    "--directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write every dump the server offers into this folder instead (all formats, "
    "plain and gzip, with a manifest of sizes and SHA-256).",
)
def dump(
    store_spec: str | None,
    base_iri: str,
    format_name: str,
    graph: str | None,
    output: Path | None,
    directory: Path | None,
) -> None:
    """Write the knowledge graph (or one graph) in an RDF format, streaming.

    With --directory, write the whole set of dumps of /dumps/ (Turtle, N-Triples, N-Quads,
    TriG, JSON-LD, the ontology and the vocabularies, each also gzipped) into that folder.
    """
    store = _open(store_spec, base_iri)
    if directory is not None:
        from cokg.dumps import write_dumps

        if output is not None or graph is not None:
            raise click.UsageError("--directory writes every dump: leave out --output and --graph")
        files = write_dumps(store, directory, base_iri=base_iri, progress=sys.stderr.isatty())
        for item in files:
            click.echo(f"{item.sha256}  {item.byte_size:>12}  {item.name}")
        return
    fmt = RDF_FORMATS.get(format_name)
    if output is None:
        export(store, sys.stdout.buffer, fmt, graph=graph)
        sys.stdout.buffer.flush()
        return
    with output.open("wb") as handle:
        export(store, handle, fmt, graph=graph)


@main.command()
@click.argument("version")
@store_option
@base_iri_option
@click.option(
    "--data-dir",
    envvar="COKG_DATA_DIR",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The folder `cokg serve` uses; the release goes to DATA_DIR/releases/VERSION, and "
    "without --store its store is released (default: $XDG_DATA_HOME/cokg).",
)
@click.option(
    "--date",
    "issued",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The release date, YYYY-MM-DD (default: today, UTC).",
)
@click.option(
    "--previous", default=None, help="The version this one follows (default: the newest one)."
)
def release(
    version: str,
    store_spec: str | None,
    base_iri: str,
    data_dir: Path | None,
    issued: Any,
    previous: str | None,
) -> None:
    """Freeze the knowledge graph into release VERSION (dumps, VoID, CITATION.cff, BibTeX,
    DataCite JSON), served for ever at /releases/VERSION/.

    Releases never change: an existing VERSION is refused (exit status 2).
    """
    from cokg.release import check_version, default_releases_dir, make_release
    from cokg.store import OxigraphStore

    check_version(version)
    folder = default_releases_dir(data_dir).parent  # the data dir
    # COKG_RELEASES_DIR, as `cokg serve` reads it, else DATA_DIR/releases
    releases = Path(os.environ.get("COKG_RELEASES_DIR") or folder / "releases")
    embedded = folder / "store"
    if store_spec is None and embedded.is_dir():
        store: ReadableStore = OxigraphStore(embedded, read_only=True)
    else:
        store = _open(store_spec, base_iri)
    made = make_release(
        store,
        releases,
        version,
        base_iri=base_iri,
        issued=issued.date() if issued is not None else None,
        previous=previous,
        progress=sys.stderr.isatty(),
    )
    click.echo(f"release {made.version} ({made.issued.isoformat()}) written to {made.directory}")
    click.echo(made.citation())


STATS_QUERIES = {
    "entries": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a schema:ResearchProject }",
    "people": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a foaf:Person }",
    "organisations": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a foaf:Organization }",
    "documents": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a foaf:Document }",
    "concepts": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a skos:Concept }",
    "concept_schemes": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a skos:ConceptScheme }",
    "distinct_triples": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
}


def statistics(store: ReadableStore) -> dict[str, Any]:
    """Return counts of the store: quads, graphs, entries, people, … and per class/property."""
    stats: dict[str, Any] = {"quads": store.count(), "graphs": len(store.graphs())}
    for name, sparql in STATS_QUERIES.items():
        stats[name] = _scalar(store, sparql)
    stats["classes"] = _grouped(
        store,
        "SELECT ?k (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?k } GROUP BY ?k ORDER BY DESC(?n) ?k",
    )
    stats["properties"] = _grouped(
        store, "SELECT ?k (COUNT(*) AS ?n) WHERE { ?s ?k ?o } GROUP BY ?k ORDER BY DESC(?n) ?k"
    )
    return stats


def _select(store: ReadableStore, sparql: str) -> QuerySolutions:
    result = store.query(sparql)
    if not isinstance(result, QuerySolutions):
        raise CokgError("the store answered a SELECT query with something else")
    return result


def _scalar(store: ReadableStore, sparql: str) -> int:
    for row in _select(store, sparql):
        return int(row[0].value)
    return 0


def _grouped(store: ReadableStore, sparql: str) -> dict[str, int]:
    result = _select(store, sparql)
    return {row[0].value: int(row[1].value) for row in result}


@main.command()
@store_option
@base_iri_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def stats(store_spec: str | None, base_iri: str, output_format: str) -> None:
    """Count triples, entries, people, organisations, concepts; per class and property."""
    store = _open(store_spec, base_iri)
    found = statistics(store)
    if output_format == "json":
        click.echo(json.dumps(found, indent=2))
        return
    prefixes = {**PREFIXES, **instance_prefixes(base_iri)}
    for key, value in found.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for name, count in value.items():
                click.echo(f"  {count:>8}  {_compact(NamedNode(name), prefixes)}")
        else:
            click.echo(f"{key:<17} {value}")


@main.command()
@click.option("--host", envvar="COKG_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="COKG_PORT", type=int, default=8080, show_default=True)
@store_option
@base_iri_option
@click.option(
    "--data-dir",
    envvar="COKG_DATA_DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the embedded store lives (default: $XDG_DATA_HOME/cokg or ~/.local/share/cokg).",
)
@click.option(
    "--timeout",
    envvar="COKG_QUERY_TIMEOUT",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a query may run before it is stopped.",
)
@click.option("--threads", envvar="COKG_THREADS", type=int, default=8, show_default=True)
@click.option("--update-url", envvar="COKG_UPDATE_URL", default=None, help="SPARQL Update URL.")
@click.option("--gsp-url", envvar="COKG_GSP_URL", default=None, help="Graph Store Protocol URL.")
def serve(
    host: str,
    port: int,
    store_spec: str | None,
    base_iri: str,
    data_dir: Path | None,
    timeout: float,
    threads: int,
    update_url: str | None,
    gsp_url: str | None,
) -> None:
    """Serve the knowledge graph over HTTP (SPARQL endpoint, pages, search, dumps).

    With no --store, serves the shipped knowledge base from an embedded on-disk store,
    created and loaded on first run and reloaded when the shipped data changed.
    """
    from cokg.server.run import serve as run_server  # the web layer is only needed here

    run_server(
        host=host,
        port=port,
        store=store_spec,
        base_iri=base_iri,
        data_dir=data_dir,
        timeout=timeout,
        threads=threads,
        update_url=update_url,
        gsp_url=gsp_url,
    )


@main.command()
@click.option("--entries", type=int, default=100_000, show_default=True, help="How many entries.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("synthetic-kb"),
    show_default=True,
    help="Folder to write the knowledge base into.",
)
@base_iri_option
def synth(entries: int, seed: int, output: Path, base_iri: str) -> None:
    """Write a realistic synthetic knowledge base of N entries (for benchmarks), streaming."""
    from cokg.synth import write_synthetic

    summary = write_synthetic(
        output, entries=entries, seed=seed, base_iri=base_iri, progress=sys.stderr.isatty()
    )
    click.echo(str(summary))


def search_options(function: F) -> F:
    """Add the facet and year options that ``/search`` takes as parameters."""
    from cokg.search import FACETS

    for name in reversed(list(FACETS)):
        function = click.option(
            f"--{name}",
            f"facet_{name}",
            multiple=True,
            metavar="KEY",
            help=f"Only entries with this {FACETS[name].label.lower()} (key or IRI; repeatable).",
        )(function)
    function = click.option("--from-year", type=int, default=None, help="Active from this year.")(
        function
    )
    return click.option("--to-year", type=int, default=None, help="Active up to this year.")(
        function
    )


@main.command()
@store_option
@base_iri_option
@click.option(
    "--index",
    "index_path",
    required=True,
    type=click.Path(path_type=Path),
    help=(
        "The index file to write; its tantivy text index goes in the folder beside it, named "
        "with the suffix .tantivy (cokg serve keeps DATA_DIR/search.sqlite3)."
    ),
)
def index(store_spec: str | None, base_iri: str, index_path: Path) -> None:
    """Build the full-text search index of a store into a file (see `cokg search`)."""
    from cokg.search import SearchIndex

    built = SearchIndex(index_path)
    count = built.build(_open(store_spec, base_iri))
    built.close()
    click.echo(
        f"indexed {count} entries into {index_path} and {index_path.with_suffix('.tantivy')}"
    )


@main.command()
@click.argument("text", default="")
@store_option
@base_iri_option
@search_options
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--size", type=int, default=10, show_default=True)
@click.option(
    "--index",
    "index_path",
    type=click.Path(path_type=Path),
    default=None,
    help="An index file (`cokg index`), rebuilt if the store changed (default: built in memory).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "sparql-values"]),
    default="text",
    show_default=True,
)
def search(
    text: str,
    store_spec: str | None,
    base_iri: str,
    from_year: int | None,
    to_year: int | None,
    page: int,
    size: int,
    index_path: Path | None,
    output_format: str,
    **facets: tuple[str, ...],
) -> None:
    """Search the entries: words, "phrases", prefix*, -excluded, OR; facets and years narrow.

    The same parameters as /search; exit status 0 even when nothing matches.
    """
    from cokg.search import SearchIndex, Selection, dumps, result_json, values_block

    store = _open(store_spec, base_iri)
    found = SearchIndex(index_path, match_sets=False)  # one search: no sets to read first
    found.ensure_current(store)
    chosen = {name[len("facet_") :]: list(keys) for name, keys in facets.items() if keys}
    selection = Selection(chosen, from_year=from_year, to_year=to_year)
    if output_format == "sparql-values":
        click.echo(values_block(found.iris(text, selection)))
        return
    result = found.search(text, selection, page=page, size=size)
    if output_format == "json":
        click.echo(dumps(result_json(result)))
        return
    first = (result.page - 1) * result.size
    entries = "entry" if result.total == 1 else "entries"
    click.echo(f"{result.total} {entries} (page {result.page} of {result.pages})")
    for notice in result.notices:
        click.echo(f"note: {notice}")
    for number, hit in enumerate(result.hits, start=first + 1):
        period = f" ({hit.period})" if hit.period else ""
        click.echo(f"{number:>3}. {hit.title}{period}\n     {hit.iri}\n     {hit.snippet}")
    if result.suggestion:
        click.echo(f"suggestion: {result.suggestion}")
