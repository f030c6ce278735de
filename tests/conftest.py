"""Fixtures shared by every test module.

- the shell's ``COKG_*`` settings never leak into an app or command under test;
- the browser tests get Debian's chromium driven by Playwright (never `playwright install`;
  CI installs Debian's chromium);
- ``store``: the shipped knowledge base in an in-memory store, one per test module, and
  ``app`` / ``client``: the web app serving it, its dumps in a folder of its own (a module that
  needs another store or settings defines its own fixture of that name, which takes precedence).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cokg.load import open_knowledge_base
from cokg.store import OxigraphStore

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by the `browser` fixture, as a failure
    sync_playwright = None


@pytest.fixture(autouse=True)
def no_cokg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings of the shell running the tests (COKG_STORE, COKG_WRITE_TOKEN…) stay out."""
    for name in [n for n in os.environ if n.startswith("COKG_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def store() -> Iterator[OxigraphStore]:
    """The shipped knowledge base, in memory, for one test module."""
    kb = open_knowledge_base()
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def app(store: OxigraphStore, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The web app serving ``store``, for one test module."""
    from cokg.server import create_app

    folder = tmp_path_factory.mktemp("dumps")
    return create_app({"TESTING": True, "DUMPS_DIR": str(folder)}, store=store)


@pytest.fixture(scope="module")
def client(app: Any) -> Any:
    """A test client of ``app``."""
    return app.test_client()


WAIT_MS = 15_000  # how long a browser expectation waits for the page before failing
CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, for one test module."""
    if sync_playwright is None:
        pytest.fail("Playwright is missing: `pip install playwright` (it is in the test extras)")
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (Debian's browser; "
            "these tests never download one with `playwright install`)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page; the test fails at teardown if the page logged an error."""
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"
