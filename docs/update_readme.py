"""Regenerate the generated parts of README.md (competency questions with their real output).

Run ``python docs/update_readme.py`` after changing a query or the data; ``tests/test_docs.py``
fails while the README is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

from cokg.cli import main
from cokg.resources import QUERIES_DIR

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- competency:start -->", "<!-- competency:end -->"


def competency_section() -> str:
    """Return the Markdown for every competency question: question, query, real output."""
    parts = []
    runner = CliRunner()
    for path in sorted(QUERIES_DIR.glob("cq*.rq")):
        text = path.read_text(encoding="utf-8")
        question = text.splitlines()[0].lstrip("# ").strip()
        query = "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()
        result = runner.invoke(main, ["query", str(path)], catch_exceptions=False)
        parts.append(
            f"**{path.stem}** — {question}\n\n```sparql\n{query}\n```\n\n"
            f"```text\n{result.stdout.rstrip()}\n```\n"
        )
    return "\n".join(parts)


def render(readme: str) -> str:
    """Return ``readme`` with the generated section replaced."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{competency_section()}{END}", readme)


if __name__ == "__main__":
    current = README.read_text(encoding="utf-8")
    updated = render(current)
    README.write_text(updated, encoding="utf-8")
    sys.stdout.write("README.md updated\n" if updated != current else "README.md already current\n")
