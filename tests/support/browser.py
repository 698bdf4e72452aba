"""A real browser for the console's tests: Debian's chromium driven by Playwright,
axe-core run inside it, and screenshots of every page to look at.

scripts/tools.sh installs chromium and fetches axe-core into the virtual
environment; where either (or Playwright) is missing the tests that need them
skip, and fail under CI. One browser per pytest process (per xdist worker): its
start costs more than most tests' pages. Each page gets a context of its own, so
two pages of one test are two people (their own cookies and sessions).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .processes import ROOT

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(sys.prefix) / "share" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The widths the console must be usable at: a laptop, and a phone held upright.
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
WIDTHS = (WIDE, NARROW)
# What is refused: axe's two worst impacts ("moderate" and "minor" are reported by axe but allowed here).
REFUSED_IMPACTS = ("serious", "critical")
# Long enough for a page of the console under a loaded CI machine; a timeout fails the test, not a figure it checks.
TIMEOUT_MS = 20_000


def require_browser() -> None:
    """Skip where the browser, Playwright or axe-core is missing; fail under CI, which must have them."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian's chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright (the `test` extra)")
    if not AXE.exists():
        missing.append(f"axe-core at {AXE}")
    if missing:
        message = f"the browser tests need {', '.join(missing)} (`make test` sets them up: scripts/tools.sh)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have them")
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """Chromium, headless, started at the first test that asks for it and closed when pytest ends."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """``new_page(WIDE or NARROW, base_url=...)``: a page in a fresh context (its own cookies); closed at
    the end of the test. Playwright's own timeouts are set to TIMEOUT_MS."""
    contexts = []

    def make(viewport: dict = WIDE, base_url: str | None = None):
        if viewport not in WIDTHS:
            raise ValueError(f"new_page: viewport must be WIDE or NARROW, not {viewport!r}")
        context = browser.new_context(viewport=viewport, base_url=base_url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _test_name() -> str:
    # "tests/x/test_y.py::test_z[param] (call)" -> "test_y-test_z-param"
    current = os.environ.get("PYTEST_CURRENT_TEST", "unknown")
    node = current.rsplit(" ", 1)[0]
    path, _, name = node.partition("::")
    return _safe(f"{Path(path).stem}-{name}")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def shot(page, name: str) -> Path:
    """Save the whole page as test-artifacts/screenshots/<test file>-<test>-<name>-<width>.png (gitignored),
    for a person to look at; returns the path."""
    if not name or not isinstance(name, str):
        raise ValueError(f"shot: name must be a non-empty string, not {name!r}")
    width = page.viewport_size["width"]
    path = SCREENSHOTS / f"{_test_name()}-{_safe(name)}-{width}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


# Runs in the page: axe's violations of the refused impacts, each with the elements it found them on.
_RUN_AXE = """
async (impacts) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" "))}));
}
"""


def serious_axe_violations(page) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page as it is now: a list of
    ``{"id", "impact", "help", "targets"}``, empty when there are none.

    axe is evaluated through the DevTools protocol, which a Content-Security-Policy without inline
    scripts (the console's) does not block, so the page is checked with its own policy in force."""
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE.read_text() + "\n;undefined")
    return page.evaluate(_RUN_AXE, list(REFUSED_IMPACTS))


def describe(violations: list[dict]) -> str:
    """Violations as lines for an assertion's message."""
    return "\n".join(json.dumps(v) for v in violations)
