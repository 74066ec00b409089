"""Browser tests of the review workspace: a real server on loopback, Debian's chromium through Playwright."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "flows"))   # flow_catalogs (small catalogs)

CHROMIUM = Path("/usr/bin/chromium")     # `make browser` installs it; Playwright's own download is never used


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Not for the session: while Playwright's sync API is open the main
    thread has a running event loop, and Prefect's sync calls (state.result(), flow.to_deployment())
    then return coroutines in every later test."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) whose console errors and failed responses are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("response", lambda r: r.status >= 400 and pg.problems.append(f"{r.status} {r.url}"))
    yield pg
    context.close()
