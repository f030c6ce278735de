"""Page latency at scale: cokg's entry page and its Turtle beside a bare DESCRIBE and Trifid.

The report it writes is what ``bench/RESULTS.md`` quotes::

    flock /tmp/cokg-bench.lock .venv/bin/python -m bench.pages \\
        --store bench/data/final/synth-100000-seed1/run/stores/cokg --output /tmp/pages.md

One ``oxigraph serve-read-only --union-default-graph`` on the store answers everyone, so the
engine, its caches and the data are the same for all sides:

- **cokg**: ``cokg serve --store http://…/query`` (the path any remote engine takes), twice,
  both with ``COKG_STORE_LOCATION`` naming the engine's folder: the HTML entry page
  ``/page/project/…`` **cold** from a server whose page cache is off
  (``COKG_PAGE_CACHE_BYTES=0``: every page is built from the engine, as the first request for
  a page is) and **warm** from one whose cache holds it (filled by an unmeasured pass; every
  measured answer is checked to be a hit), and the Turtle ``/data/project/….ttl``;
- **bare DESCRIBE**: ``DESCRIBE <entry>`` sent to that ``oxigraph serve``, as Turtle — the least
  work a linked-data front-end can do for one entity (one query, no page);
- **the page's query, bare**: the one query a cold entry page sends
  (:func:`cokg.server.pages.page_query`, as the page sends it once the app holds its
  properties' labels) sent to that ``oxigraph serve`` as cokg sends it (the prefixes it uses
  declared, a GET, tab-separated answer): what the engine alone costs a cold page, before
  cokg builds anything;
- **Trifid** (npm ``trifid``, installed under ``--trifid-dir``): its entity renderer over the
  same endpoint, with ``datasetBaseUrl`` rewriting the base IRI to localhost, so
  ``http://127.0.0.1:PORT/id/project/…`` is the entry: HTML (``Accept: text/html``) and Turtle
  (``Accept: text/turtle``).

``--samples`` entries are drawn with ``--seed``. Every URL is requested once to warm up (the
answers are checked: status 200, the entry's title in the HTML, the IRI in the Turtle), then
``--rounds`` rounds request every entry from every side, the order of the sides rotating from
one request to the next, each side on its own keep-alive connection: one client, latency to
the last byte. Prints (and with ``--output`` writes) a Markdown table of medians and p95s, and
the ratios cokg / bare DESCRIBE and cokg / Trifid. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyoxigraph import RdfFormat, parse

from bench.client import Client, Request, Response
from bench.data import DATA_DIR
from bench.report import machine, nearest_p95
from bench.servers import LOOPBACK, OXIGRAPH, free_port, start, stop_process, wait_until_ready
from cokg.server.pages import PAGE_QUERIES
from cokg.sparql_store import _with_prefixes

BASE = "https://w3id.org/coprod/"
STORE = DATA_DIR / "final" / "synth-100000-seed1" / "run" / "stores" / "cokg"
TRIFID_DIR = DATA_DIR / "trifid"
TRIFID_CONFIG = """\
server:
  logLevel: warn
globals:
  datasetBaseUrl: {base}
  endpoints:
    default:
      url: {endpoint}
plugins:
  entity-renderer:
    module: "@zazuko/trifid-entity-renderer"
"""
HTML = "text/html,application/xhtml+xml"
TURTLE = "text/turtle"
COLD = "cokg HTML page, cold (no page cache)"
WARM = "cokg HTML page, warm (page cached)"
PAGE_QUERY = "the page's query, bare (no page)"
TSV = "text/tab-separated-values"


@dataclass
class Side:
    """One measured kind of request: where it goes and how its answer is checked."""

    name: str
    base_url: str
    request: Callable[[str], Request]
    check: Callable[[str, Response], str | None]
    measured_check: Callable[[Response], str | None] = lambda response: (
        None if response.status == 200 else f"HTTP {response.status}"
    )
    samples: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.samples)

    def p95(self) -> float:
        return nearest_p95(self.samples)


def titles(endpoint: str, iris: list[str]) -> dict[str, str]:
    """Return the ``dcterms:title`` of each entry (one query), to check the HTML pages."""
    values = " ".join(f"<{iri}>" for iri in iris)
    query = (
        f"SELECT ?e ?t WHERE {{ VALUES ?e {{ {values} }} ?e <http://purl.org/dc/terms/title> ?t }}"
    )
    client = Client(endpoint.rsplit("/", 1)[0], timeout=60)
    path = "/query?" + urllib.parse.urlencode({"query": query})
    answer = client.send(Request(path, {"Accept": "application/sparql-results+json"}))
    client.close()
    rows = json.loads(answer.body)["results"]["bindings"]
    return {row["e"]["value"]: row["t"]["value"] for row in rows}


def html_check(expected: dict[str, str]) -> Callable[[str, Response], str | None]:
    import html

    def check(iri: str, response: Response) -> str | None:
        if response.status != 200:
            return f"HTTP {response.status}"
        text = html.unescape(response.body.decode("utf-8", "replace"))  # &#39; or &#x27;…
        if expected[iri] not in text:
            return f"the title of {iri} is not on the page"
        return None

    return check


def cache_state(expected: str | None) -> Callable[[Response], str | None]:
    """Check a measured page: 200, and the page cache's answer as ``expected`` (None: none)."""

    def check(response: Response) -> str | None:
        if response.status != 200:
            return f"HTTP {response.status}"
        state = response.headers.get("x-cokg-page-cache")
        if state != expected:
            return f"page cache: {state}, expected {expected}"
        return None

    return check


def turtle_check(local_iri: Callable[[str], str]) -> Callable[[str, Response], str | None]:
    def check(iri: str, response: Response) -> str | None:
        if response.status != 200:
            return f"HTTP {response.status}"
        triples = list(parse(response.body, format=RdfFormat.TURTLE))
        wanted = local_iri(iri)
        if not any(t.subject.value == wanted for t in triples):
            return f"no triple about {wanted} in the Turtle"
        return None

    return check


def tsv_check(iri: str, response: Response) -> str | None:
    """Check the page query's answer: 200, tab-separated, with rows naming ``iri``."""
    if response.status != 200:
        return f"HTTP {response.status}"
    if not response.headers.get("content-type", "").startswith(TSV):
        return f"not tab-separated: {response.headers.get('content-type')}"
    if response.body.count(b"\n") < 2 or f"<{iri}>".encode() not in response.body:
        return f"no row about {iri}"
    return None


def start_oxigraph(store: Path, logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [OXIGRAPH, "serve-read-only", "--location", str(store)]
    # No --timeout-s, as cokg's own child (bench.servers.start_oxigraph says why).
    command += ["--bind", f"{LOOPBACK}:{port}", "--union-default-graph"]
    log = logs / "oxigraph.log"
    process = start(command, log)
    endpoint = f"http://{LOOPBACK}:{port}/query"
    wait_until_ready(process, endpoint + "?query=ASK%7B%7D", log)
    return process, endpoint


def start_cokg(
    endpoint: str, logs: Path, name: str, settings: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cokg serve`` on ``endpoint`` with ``settings`` (``COKG_*`` variables)."""
    port = free_port()
    command = [sys.executable, "-m", "cokg", "serve", "--host", LOOPBACK, "--port", str(port)]
    command += ["--store", endpoint, "--data-dir", str(logs / f"{name}-data"), "--timeout", "60"]
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **settings},
        )
    base = f"http://{LOOPBACK}:{port}"
    wait_until_ready(process, base + "/sparql?query=ASK%7B%7D", log)
    return process, base


def start_trifid(
    folder: Path, endpoint: str, logs: Path, probe: str
) -> tuple[subprocess.Popen[bytes], str]:
    server = folder / "node_modules" / "trifid" / "server.js"
    if not server.is_file():
        raise SystemExit(
            f"Trifid is not installed: (cd {folder} && npm install trifid) — see bench/pages.py"
        )
    config = logs / "trifid.yaml"
    config.write_text(TRIFID_CONFIG.format(base=BASE, endpoint=endpoint), encoding="utf-8")
    port = free_port()
    command = ["node", str(server), "--config", str(config), "--port", str(port)]
    log = logs / "trifid.log"
    process = start(command, log)
    base = f"http://{LOOPBACK}:{port}"
    wait_until_ready(process, base + probe, log, timeout=120)
    return process, base


def version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> None:
    """Run the comparison; print the table (and write it with ``--output``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the store")
    parser.add_argument("--samples", type=int, default=50, help="entries drawn")
    parser.add_argument("--rounds", type=int, default=4, help="requests per entry and side")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trifid-dir", type=Path, default=TRIFID_DIR)
    parser.add_argument("--output", type=Path)
    options = parser.parse_args(argv)

    rng = random.Random(options.seed)
    numbers = rng.sample(range(1, options.entries + 1), options.samples)
    iris = [f"{BASE}id/project/synth-{n:06d}" for n in numbers]
    local = [iri[len(BASE) :] for iri in iris]  # id/project/synth-…
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="pages-", dir=DATA_DIR) as folder:
        logs = Path(folder)
        try:
            oxigraph, endpoint = start_oxigraph(options.store, logs)
            processes.append(oxigraph)
            expected = titles(endpoint, iris)
            # Both know the engine's folder (Last-Modified); one keeps no rendered page, so
            # every page it serves is built from the engine (cold), the other caches them.
            location = {"COKG_STORE_LOCATION": str(options.store.resolve())}
            cokg, cokg_base = start_cokg(
                endpoint, logs, "cokg-cold", {**location, "COKG_PAGE_CACHE_BYTES": "0"}
            )
            processes.append(cokg)
            cached, cached_base = start_cokg(endpoint, logs, "cokg-cached", location)
            processes.append(cached)
            trifid, trifid_base = start_trifid(options.trifid_dir, endpoint, logs, "/" + local[0])
            processes.append(trifid)
            oxigraph_base = endpoint.rsplit("/", 1)[0]

            def path_of(iri: str) -> str:
                return iri[len(BASE) - 1 :]  # /id/project/…

            def describe(iri: str) -> Request:
                query = urllib.parse.urlencode({"query": f"DESCRIBE <{iri}>"})
                return Request(f"/query?{query}", {"Accept": TURTLE})

            def trifid_iri(iri: str) -> str:
                return trifid_base + path_of(iri)

            def page_query(iri: str) -> Request:
                query = urllib.parse.urlencode({"query": _with_prefixes(PAGE_QUERIES["page"](iri))})
                return Request(f"/query?{query}", {"Accept": TSV})

            def page(iri: str) -> Request:
                return Request("/page/" + path_of(iri)[4:], {"Accept": HTML})

            sides = [
                Side(COLD, cokg_base, page, html_check(expected), cache_state(None)),
                Side(WARM, cached_base, page, html_check(expected), cache_state("hit")),
                Side(
                    "cokg Turtle",
                    cokg_base,
                    lambda iri: Request("/data/" + path_of(iri)[4:] + ".ttl", {}),
                    turtle_check(lambda iri: iri),
                ),
                Side("bare DESCRIBE", oxigraph_base, describe, turtle_check(lambda iri: iri)),
                Side(
                    PAGE_QUERY,
                    oxigraph_base,
                    page_query,
                    tsv_check,
                ),
                Side(
                    "Trifid HTML page",
                    trifid_base,
                    lambda iri: Request(path_of(iri), {"Accept": HTML}),
                    html_check(expected),
                ),
                Side(
                    "Trifid Turtle",
                    trifid_base,
                    lambda iri: Request(path_of(iri), {"Accept": TURTLE}),
                    turtle_check(trifid_iri),
                ),
            ]
            clients = {side.name: Client(side.base_url, timeout=120) for side in sides}
            print(f"warming up on {len(iris)} entries…", file=sys.stderr)
            for iri in iris:
                for side in sides:
                    response = clients[side.name].send(side.request(iri))
                    problem = side.check(iri, response)
                    if problem:
                        side.errors.append(problem)
            for side in sides:
                if side.errors:
                    raise SystemExit(f"{side.name}: {side.errors[:3]}")
            # the cached server keeps every page once it has read the store: a second pass
            # (unmeasured) fills it, so its measured requests are all hits (checked)
            warm = next(side for side in sides if side.name == WARM)
            for iri in iris:
                clients[warm.name].send(warm.request(iri))
            print(f"measuring {options.rounds} rounds…", file=sys.stderr)
            turn = 0
            for round_number in range(options.rounds):
                order = list(iris)
                rng.shuffle(order)
                for iri in order:
                    turn += 1
                    rotated = sides[turn % len(sides) :] + sides[: turn % len(sides)]
                    for side in rotated:
                        response = clients[side.name].send(side.request(iri))
                        problem = side.measured_check(response)
                        if problem:
                            side.errors.append(problem)
                            continue
                        side.samples.append(response.seconds)
                        side.sizes.append(len(response.body))
                print(f"  round {round_number + 1} done", file=sys.stderr)
            for client in clients.values():
                client.close()
        finally:
            for process in reversed(processes):
                stop_process(process)
    report = render(sides, options, argv)
    print(report)
    if options.output:
        options.output.write_text(report, encoding="utf-8")


def render(sides: list[Side], options: argparse.Namespace, argv: list[str] | None) -> str:
    """Return the Markdown report of one run."""
    by_name = {side.name: side for side in sides}
    bare = by_name["bare DESCRIBE"].median()
    lines = [
        "# Page latency at 100 000 entries: cokg beside a bare DESCRIBE and Trifid",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "Command: `flock /tmp/cokg-bench.lock .venv/bin/python -m bench.pages "
        + shlex.join(argv if argv is not None else sys.argv[1:])
        + "`",
        f"Store: `{options.store}` (served by one `oxigraph serve-read-only "
        f"--union-default-graph`, {version([OXIGRAPH, '--version'])}); "
        f"{options.samples} entries drawn with seed {options.seed}, {options.rounds} rounds, "
        "one client, keep-alive, sides interleaved request by request. Trifid "
        f"{_trifid_version(options.trifid_dir)} (entity renderer, `datasetBaseUrl` rewriting "
        "to localhost) and cokg both query that server.",
        "",
        "| request | median | p95 | median / bare DESCRIBE | answer size (median) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for side in sides:
        lines.append(
            f"| {side.name} | {side.median() * 1000:.1f} ms | {side.p95() * 1000:.1f} ms "
            f"| {side.median() / bare:.2f}× | {statistics.median(side.sizes) / 1024:.1f} KiB "
            f"| {len(side.errors)} |"
        )
    trifid_html = by_name["Trifid HTML page"].median()
    cold, warm = by_name[COLD].median(), by_name[WARM].median()
    turtle = by_name["cokg Turtle"].median() / by_name["Trifid Turtle"].median()
    lines += [
        "",
        f"cokg / Trifid (median): HTML page cold {cold / trifid_html:.2f}×, warm "
        f"{warm / trifid_html:.2f}×; Turtle {turtle:.2f}×. Below 1× cokg is faster. "
        f"HTML page / bare DESCRIBE: cold {cold / bare:.2f}×, warm {warm / bare:.2f}×.",
        "",
        f"The page's own query on the bare engine / bare DESCRIBE: "
        f"{by_name[PAGE_QUERY].median() / bare:.2f}×: what the engine alone costs a cold "
        "page, before cokg's hop, parsing and page. The warm page (answered from memory, "
        "nothing built) is what waitress, Flask and the cache's lookup cost.",
        "",
        "Cold: a server with `COKG_PAGE_CACHE_BYTES=0`, so every page is built from the engine "
        "(what the first request for a page costs; the engine's own caches are warm, as for "
        "every side). Warm: a server with the page cache on, filled by an unmeasured pass; "
        "each measured answer was checked to be a cache hit (`X-Cokg-Page-Cache`). Both "
        "servers have `COKG_STORE_LOCATION` set to the engine's folder.",
        "",
    ]
    return "\n".join(lines)


def _trifid_version(folder: Path) -> str:
    manifest = folder / "node_modules" / "trifid" / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "?"


if __name__ == "__main__":
    main()
