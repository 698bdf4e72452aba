"""The browser tests' own tools (tests/support/browser.py), against tiny pages this test serves:
chromium starts, pages open at both widths, screenshots are written, and axe-core both passes a
good page and flags a bad one, under a Content-Security-Policy without inline scripts as the
console's."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.browser import NARROW, SCREENSHOTS, WIDE, describe, serious_axe_violations, shot

GOOD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A good page</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/site.css"></head>
<body><main>
<h1>Runs</h1>
<form method="post" action="/retry">
  <label for="reason">Reason</label> <input id="reason" name="reason">
  <button type="submit">Retry</button>
</form>
<p class="plain">Readable text.</p>
</main></body></html>
"""

# An input with no label (axe: `label`, critical) and pale grey on white (axe: `color-contrast`, serious).
BAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A bad page</title>
<link rel="stylesheet" href="/site.css"></head>
<body><main>
<h1>Runs</h1>
<input name="reason">
<p class="pale">Hard to read.</p>
</main></body></html>
"""

# A stylesheet of its own: the policy refuses inline styles too.
CSS = ".plain { color: #222; background: #fff } .pale { color: #ddd; background: #fff }"

PAGES = {"/good": (GOOD, "text/html"), "/bad": (BAD, "text/html"), "/site.css": (CSS, "text/css")}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in PAGES:
            self.send_error(404)
            return
        body, kind = PAGES[self.path]
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        # The console's kind of policy: no inline script may run, so axe must get in another way.
        self.send_header("Content-Security-Policy", "default-src 'self'; script-src 'self'")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_a_good_page_passes_axe_and_is_saved_at_its_width(new_page, site, viewport):
    page = new_page(viewport, base_url=site)
    page.goto("/good")
    assert page.evaluate("window.innerWidth") == viewport["width"]

    assert serious_axe_violations(page) == []
    path = shot(page, "good")

    assert path.parent == SCREENSHOTS
    width = viewport["width"]
    assert path.name == f"test_browser-test_a_good_page_passes_axe_and_is_saved_at_its_width-{width}-good-{width}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unlabelled_input_and_pale_text_are_serious_violations(new_page, site):
    page = new_page(WIDE, base_url=site)
    page.goto("/bad")

    violations = serious_axe_violations(page)

    found = {v["id"]: v for v in violations}
    assert set(found) == {"label", "color-contrast"}, describe(violations)
    assert found["label"]["impact"] == "critical"
    assert found["label"]["targets"] == ["input"]
    assert found["color-contrast"]["impact"] == "serious"
    assert found["color-contrast"]["targets"] == ["p"]


def test_the_content_security_policy_is_in_force_while_axe_runs(new_page, site):
    """axe gets in through the DevTools protocol, not around the page's policy: an inline script the
    page itself adds is still refused, so a page that needs one would fail its own tests."""
    page = new_page(WIDE, base_url=site)
    page.goto("/good")
    serious_axe_violations(page)

    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = true';"
        " document.body.append(s); }"
    )

    assert page.evaluate("window.ran === true") is False


def test_two_pages_of_a_test_keep_their_own_cookies(new_page, site):
    first = new_page(WIDE, base_url=site)
    second = new_page(NARROW, base_url=site)
    first.goto("/good")
    second.goto("/good")

    first.context.add_cookies([{"name": "session", "value": "operator", "url": site}])

    assert [c["value"] for c in first.context.cookies()] == ["operator"]
    assert second.context.cookies() == []
