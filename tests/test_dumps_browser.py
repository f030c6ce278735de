"""/dumps/ and /releases/ in a real browser (Debian's chromium, Playwright) on `cokg serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cokg.dumps import dump_names
from tests.servers import cokg_server

try:
    from playwright.sync_api import Page, expect
except ImportError:  # reported by the `browser` fixture, as a failure
    expect = None

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cokg serve` with one release made beforehand by `cokg release`; yields its base URL."""
    folder = tmp_path_factory.mktemp("dumps-browser")
    data = folder / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COKG_")}
    command = [sys.executable, "-m", "cokg", "release", "1.0.0", "--date", "2026-11-26"]
    made = subprocess.run(
        [*command, "--data-dir", str(data)], capture_output=True, text=True, env=env, timeout=120
    )
    assert made.returncode == 0, made.stderr
    with cokg_server(folder, "--data-dir", str(data)) as url:
        yield url


def test_a_researcher_finds_the_dumps_then_cites_a_release(server: str, page: Page) -> None:
    page.goto(server + "/dumps/")
    expect(page.locator("h1")).to_have_text("Dumps of the knowledge graph")
    rows = page.locator("#dump-files tbody tr")
    expect(rows).to_have_count(len(dump_names()))
    expect(rows.first).to_contain_text("cokg.ttl")
    expect(rows.first.locator("code.checksum")).to_have_text(re.compile("^[0-9a-f]{64}$"))
    with page.expect_download() as download:
        page.get_by_role("link", name="cokg.ttl.gz").click()
    assert download.value.suggested_filename == "cokg.ttl.gz"

    page.get_by_role("link", name="release").click()
    expect(page.locator("h1")).to_have_text("Releases")
    page.get_by_role("link", name="Version 1.0.0").click()
    expect(page.locator("h1")).to_have_text("Release 1.0.0")
    expect(page.locator("blockquote.citation")).to_contain_text(
        "The co-production knowledge base (Version 1.0.0) [Data set]. Released 2026-11-26."
    )
    expect(page.get_by_role("link", name="CITATION.cff")).to_be_visible()
