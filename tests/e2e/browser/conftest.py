"""Browser fixtures: Debian's Chromium driven by Playwright for Python, against the real server that
`make run` starts (tests.e2e.server.make_run). Every test leaves a screenshot under test-results/."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.e2e.server import ROOT, RunningServer, make_run

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = ROOT / "test-results" / "browser"

# React reports every commit to the devtools hook, production builds included: a stand-in hook
# counts them (a page that re-renders while nobody touches it shows up here), and every request.
COUNT_RENDERS = """
window.__activity = { commits: 0, requests: 0 };
window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
  supportsFiber: true,
  renderers: new Map(),
  inject(renderer) { this.renderers.set(1, renderer); return 1; },
  onCommitFiberRoot() { window.__activity.commits += 1; },
  onCommitFiberUnmount() {},
  onPostCommitFiberRoot() {},
  checkDCE() {},
};
new PerformanceObserver((list) => { window.__activity.requests += list.getEntries().length; })
  .observe({ type: 'resource' });
"""


def _missing(what: str) -> None:
    # `make test` installs both (make browser); elsewhere say what is missing instead of failing.
    if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"{what} is required for the browser tests (run `make browser`)")
    pytest.skip(f"{what} is not installed (run `make browser`)")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (requirements-browser.txt)")
    if not Path(CHROMIUM).exists():
        _missing(CHROMIUM)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def server_env() -> dict[str, str]:
    """Settings for the test's server; a test overrides this fixture to point it at its fakes."""
    return {}


@pytest.fixture
def server(
    app: Flask, database_url: str, tmp_path: Path, server_env: dict[str, str]
) -> Iterator[RunningServer]:
    with make_run(database_url, tmp_path / "server.log", **server_env) as running:
        yield running


def dialect_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


class Shots:
    """Screenshots of one test, named test-results/browser/<database>/<test>-<step>.png."""

    def __init__(self, page: Any, folder: Path, test: str):
        self.page, self.folder, self.test = page, folder, test
        self.taken: list[Path] = []

    def take(self, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.test}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@dataclass
class Web:
    """One browser tab on the running server, with what it logged."""

    page: Any
    context: Any
    base: str
    shots: Shots
    uncaught_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def activity_while_idle(self, seconds: float = 1.5) -> dict[str, int]:
        """React commits and requests in `seconds` once the page has settled (nothing for 0.7 s,
        or 8 s passed: a page that never settles is measured anyway). Both should be none."""
        read = "({commits: window.__activity.commits, requests: window.__activity.requests})"
        deadline = time.monotonic() + 8
        last, quiet_since = self.page.evaluate(read), time.monotonic()
        while time.monotonic() - quiet_since < 0.7 and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
            now = self.page.evaluate(read)
            if now != last:
                last, quiet_since = now, time.monotonic()
        self.page.wait_for_timeout(seconds * 1000)
        after = self.page.evaluate(read)
        return {key: after[key] - last[key] for key in last}

    def api_get(self, path: str) -> Any:
        """GET with the tab's own cookies (the same session as the page)."""
        return self.context.request.get(f"{self.base}{path}")


@pytest.fixture
def web(
    chromium: Any, server: RunningServer, request: pytest.FixtureRequest, database_url: str
) -> Iterator[Web]:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    context = chromium.new_context(
        locale="he-IL", timezone_id="Asia/Jerusalem", viewport={"width": 1366, "height": 900}
    )
    context.add_init_script(COUNT_RENDERS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    test = re.sub(r"[^\w.-]+", "_", request.node.name)
    tab = Web(page, context, server.base, Shots(page, RESULTS / dialect_of(database_url), test))
    page.on("pageerror", lambda error: tab.uncaught_errors.append(str(error)))
    page.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield tab
    finally:
        tab.shots.take("end")
        context.close()
    # An exception thrown inside the page is a bug whatever the test checked.
    assert not tab.uncaught_errors, f"uncaught errors in the page: {tab.uncaught_errors}"
