"""The command line as a user runs it: exit statuses, output, errors naming file/line/column."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cokg.cli import main
from cokg.resources import QUERIES_DIR

SHAPES_CASES = Path(__file__).parent / "shapes"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_count_projects_prints_six(run):
    result = run("query", "SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:ResearchProject }")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].strip() == "6"


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run(
        [sys.executable, "-m", "cokg", "query", "ASK { ?p a schema:ResearchProject }"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "true"


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "xml"])
def test_query_result_formats(run, fmt):
    result = run(
        "query",
        "SELECT ?t WHERE { ?p a schema:ResearchProject ; dcterms:title ?t }",
        "--format",
        fmt,
    )
    assert result.exit_code == 0
    assert "Imagine" in result.stdout
    if fmt == "json":
        assert len(json.loads(result.stdout)["results"]["bindings"]) == 6


def test_construct_prints_turtle_by_default_and_other_rdf_formats(run):
    query = "CONSTRUCT WHERE { ?p a schema:ResearchProject }"
    assert "schema:ResearchProject" in run("query", query).stdout
    nt = run("query", query, "--format", "nt").stdout
    assert nt.count("<https://schema.org/ResearchProject> .") == 6


def test_query_from_a_file(run):
    path = QUERIES_DIR / "cq07-people-without-orcid.rq"
    result = run("query", str(path))
    assert result.exit_code == 0
    assert "Oliver Escobar" in result.stdout
    assert run("query", "@" + str(path)).stdout == result.stdout


def test_malformed_query_is_exit_2_with_position(run):
    result = CliRunner().invoke(main, ["query", "SELECT ?x WHERE { ?x ?y }"])
    assert result.exit_code == 2
    assert "error" in result.stderr and "1:" in result.stderr


def test_validate_shipped_data_conforms(run):
    result = run("validate")
    assert result.exit_code == 0, result.stdout


INVALID_CASES = sorted(SHAPES_CASES.glob("*/invalid/*.ttl"))


def expectations(case: Path) -> dict[str, str]:
    return dict(
        line[2:].split(": ", 1)
        for line in case.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect-")
    )


@pytest.mark.parametrize(
    "case",
    [c for c in INVALID_CASES if expectations(c).get("expect-severity") == "Violation"],
    ids=lambda c: f"{c.parent.parent.name}/{c.stem}",
)
def test_validate_exits_1_on_each_invalid_fixture_naming_focus_and_path(case):
    expect = expectations(case)
    result = CliRunner().invoke(main, ["validate", str(case), "--format", "json"])
    assert result.exit_code == 1, result.stdout
    path = None if expect.get("expect-path") in (None, "none") else expect["expect-path"]
    found = {(r["focus_node"], r["path"]) for r in json.loads(result.stdout)["results"]}
    assert (expect["expect-focus"], path) in found


def test_validate_text_report_names_focus_path_and_message():
    case = SHAPES_CASES / "EntryShape" / "invalid" / "approach-not-an-approach.ttl"
    result = CliRunner().invoke(main, ["validate", str(case)])
    assert result.exit_code == 1
    assert "https://w3id.org/coprod/id/concept/keywords/demo" in result.stdout
    assert "path:" in result.stdout and "message:" in result.stdout
    assert "Violation" in result.stdout


def test_validate_json_report(run):
    result = run("validate", "--format", "json")
    assert result.exit_code == 0
    json.loads(result.stdout)


def test_broken_turtle_names_file_line_column_and_loads_nothing(tmp_path):
    good = tmp_path / "good.ttl"
    good.write_text('<http://example.org/a> <http://example.org/b> "ok" .\n', encoding="utf-8")
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        '<http://example.org/a> <http://example.org/b> "ok" .\n<http://x> "no" .\n',
        encoding="utf-8",
    )
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["load", str(good), str(bad), "--store", str(store)])
    assert result.exit_code == 2
    assert f"{bad}:2:" in result.stderr
    assert not store.exists()  # every file is parsed before the store is opened


def test_unknown_extension_is_exit_2(tmp_path):
    odd = tmp_path / "entry.docx"
    odd.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["load", str(odd), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "entry.docx" in result.stderr and "unknown file extension" in result.stderr


def test_invalid_orcid_is_rejected_by_validate(tmp_path):
    data = tmp_path / "person.ttl"
    data.write_text(
        """@prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix schema: <https://schema.org/> .
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        <https://w3id.org/coprod/id/person/x> a foaf:Person, schema:Person ;
          foaf:name "X" ; schema:name "X" ;
          owl:sameAs <https://orcid.org/0000-0002-1825-0098> .""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(data)])
    assert result.exit_code == 1
    assert "0000-0002-1825-0098" in result.stdout


def test_load_then_query_an_on_disk_store(tmp_path):
    store = str(tmp_path / "kb")
    result = CliRunner().invoke(main, ["load", "--store", store])
    assert result.exit_code == 0, result.stderr
    count = CliRunner().invoke(
        main,
        [
            "query",
            "SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:ResearchProject }",
            "--store",
            store,
        ],
    )
    assert count.stdout.splitlines()[-1].strip() == "6"


def test_dump_and_stats(run, tmp_path):
    out = tmp_path / "kb.nq"
    assert run("dump", "--format", "nquads", "-o", str(out)).exit_code == 0
    stats = json.loads(run("stats", "--format", "json").stdout)
    assert len(out.read_text(encoding="utf-8").splitlines()) == stats["quads"]
    assert stats["entries"] == 6
    text = run("stats").stdout
    assert "entries" in text and "schema:ResearchProject" in text


def test_missing_store_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["stats", "--store", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no store at" in result.stderr


@pytest.mark.parametrize(
    ("iri", "message"),
    [
        ("https://orcid.org/0000-0002-1825-0098", "check character 8, expected 7"),
        ("https://ror.org/02hstj356", "expected"),
        ("http://orcid.org/0000-0002-1825-0097", "canonical"),
    ],
)
def test_load_refuses_a_bad_identifier_naming_file_line_and_column(tmp_path, iri, message):
    data = tmp_path / "person.ttl"
    data.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        f"<https://w3id.org/coprod/id/person/x> owl:sameAs <{iri}> .\n",
        encoding="utf-8",
    )
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["load", str(data), "--store", str(store)])
    assert result.exit_code == 2
    assert f"{data}:2:" in result.stderr and message in result.stderr
    assert not store.exists()  # nothing was opened, nothing was written
