"""The console in a real browser (issue 15): Debian's chromium driven by Playwright
(tests/support/browser.py) against a real `api` process, real workers and
scheduler, RabbitMQ and PostgreSQL.

What an operator does is done as they would do it: by following links, filling
labelled fields and pressing named buttons. What the page shows is checked
against the ledger. Each page is saved as a screenshot at 1280 and 390 px
(test-artifacts/screenshots/) and checked by axe-core for serious violations.
"""

from __future__ import annotations

import pytest

from tests.support.browser import NARROW, WIDE, describe, serious_axe_violations, shot
from tests.support.console import OPERATOR, VIEWER
from tests.support.helpers import break_sample, mend_sample, query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for

# A fan-out of this many children, the third of which fails until the test mends it.
CHILDREN = 5
BROKEN_ITEM = "2"


def failed_fan_out(service) -> str:
    """A fan-fixable run of CHILDREN children, failed because BROKEN_ITEM failed; its run id."""
    break_sample(service, BROKEN_ITEM)
    run_id = service.trigger("fan-fixable", {"n": CHILDREN})
    run = wait_run_ended(service, run_id, 60)
    assert run.status == "failed", run
    return run_id


def sign_in(page, who: tuple[str, str]) -> None:
    """Fill the sign-in form the page shows (the console sent the browser there) and send it."""
    assert "/login" in page.url, page.url
    page.get_by_label("Name").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def check_page(page, name: str) -> None:
    """Screenshot the page as it is, and refuse any serious or critical axe violation on it."""
    shot(page, name)
    violations = serious_axe_violations(page)
    assert violations == [], f"{name} at {page.viewport_size['width']} px:\n{describe(violations)}"


# What reaches past the window's right edge and is not clipped by a scrolling box around it (a table in
# its scrolling region is fine; an absolutely placed element escapes the box unless the box is positioned).
_TOO_WIDE = """
() => {
  const width = document.documentElement.clientWidth, found = [];
  const clipped = (e) => {
    if (!["static", "relative"].includes(getComputedStyle(e).position)) return false;
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  for (const e of document.body.querySelectorAll("*")) {
    if (e.getBoundingClientRect().right > width + 1 && !clipped(e) && !found.some((f) => f.contains(e))) found.push(e);
  }
  return found.slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.className ? "." + e.className : ""}`
    + ` "${e.textContent.trim().slice(0, 40)}" (right edge at ${Math.round(e.getBoundingClientRect().right)} px)`);
}
"""


def too_wide(page) -> list[str]:
    return page.evaluate(_TOO_WIDE)


def live_status(page):
    return page.locator("#live .status").first


@pytest.fixture
def worker(processes, vhost):
    started = processes("worker")
    wait_worker_ready(vhost, "long")
    return started


def test_an_operator_finds_a_failed_fan_out_retries_its_failed_children_and_watches_it_complete(
    console, service, processes, vhost, worker, new_page
):
    succeeded = service.trigger("fan-fixable", {"n": CHILDREN})
    assert wait_run_ended(service, succeeded, 60).status == "succeeded"
    run_id = failed_fan_out(service)
    page = new_page(WIDE, base_url=console.base)

    # 1, 2. The shared filter link sends a stranger to sign in, then back to the filtered list.
    filtered = "/runs?job=fan-fixable&status=failed"
    page.goto(filtered)
    sign_in(page, OPERATOR)
    assert page.url == console.base + filtered
    listed = page.locator("table tbody tr")
    assert listed.count() == 1
    assert page.get_by_role("link", name=succeeded[:8]).count() == 0

    # 3. The run shows its fan-out as the ledger has it.
    page.get_by_role("link", name=run_id[:8]).click()
    page.wait_for_url(f"**/runs/{run_id}")
    [barrier] = query(service, "SELECT expected, arrived, failed FROM jobs.barriers WHERE run_id = :r", r=run_id)
    assert (barrier.expected, barrier.arrived, barrier.failed) == (CHILDREN, CHILDREN, 1)
    fan_out = page.locator(".fanout")
    assert f"{CHILDREN} of {CHILDREN} arrived, 1 failed" in fan_out.locator(".progress-text").inner_text()
    assert fan_out.locator("table tbody tr td").first.inner_text() == BROKEN_ITEM
    assert live_status(page).inner_text() == "failed"

    # 4. Mend the item; with no worker yet the retried run waits, so the page is seen running before it ends.
    mend_sample(service)
    worker.stop()
    page.get_by_label("Reason (kept in the ledger with your name)").fill("item 2's licence fixed in NALD")
    page.get_by_label("only the failed fan-out children").check()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(f"**/runs/{run_id}")
    assert live_status(page).inner_text() == "running"

    # 5. The page asks for its changing part on its own while the run goes (htmx), and once the run has
    # ended reads itself again: the test never reloads it.
    assert "(refreshing)" in page.locator("#live").inner_text()
    with page.expect_response(lambda r: r.url.endswith(f"/runs/{run_id}/live") and r.status == 200) as polled:
        pass
    assert polled.value.request.headers.get("hx-request") == "true"
    assert "running" in polled.value.text()
    processes("worker")
    page.locator("#live .status", has_text="succeeded").first.wait_for(timeout=60_000)
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "succeeded"
    assert f"{CHILDREN} of {CHILDREN} arrived, 0 failed" in page.locator(".fanout .progress-text").inner_text()

    # 6. The audit row: who, what and why, on the run, as the ledger has it.
    [event] = query(
        service, "SELECT operator, reason FROM jobs.events WHERE kind = 'run-retried' AND run_id = :r", r=run_id
    )
    assert (event.operator, event.reason) == (OPERATOR[0], "item 2's licence fixed in NALD")
    audit = page.locator(".timeline li.audit", has_text="run-retried")
    assert audit.count() == 1
    assert OPERATOR[0] in audit.inner_text() and "item 2's licence fixed in NALD" in audit.inner_text()
    check_page(page, "run-retried")


def csrf_on(page) -> str:
    """The session's CSRF token, as every form of the page carries it (the sign-out form at least)."""
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_a_viewer_sees_no_retry_and_a_forged_retry_with_a_valid_session_and_token_is_refused(
    console, service, worker, new_page
):
    run_id = failed_fan_out(service)
    page = new_page(WIDE, base_url=console.base)
    page.goto(f"/runs/{run_id}")
    sign_in(page, VIEWER)

    assert live_status(page).inner_text() == "failed"
    assert page.get_by_role("button", name="Retry").count() == 0
    assert page.get_by_role("heading", name="Put it right").count() == 0
    forged = page.request.post(
        f"/runs/{run_id}/retry",
        form={"csrf": csrf_on(page), "reason": "a viewer trying", "only": "failed-children"},
        max_redirects=0,
    )

    assert forged.status == 403
    assert f"{VIEWER[0]} is a viewer" in forged.text()
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "failed"
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'run-retried'") == 0


def test_an_operators_post_without_the_sessions_csrf_token_is_refused(console, service, worker, new_page):
    run_id = failed_fan_out(service)
    page = new_page(WIDE, base_url=console.base)
    page.goto(f"/runs/{run_id}")
    sign_in(page, OPERATOR)
    form = {"reason": "no token", "only": "failed-children"}

    missing = page.request.post(f"/runs/{run_id}/retry", form=form, max_redirects=0)
    wrong = page.request.post(f"/runs/{run_id}/retry", form={**form, "csrf": "x" + csrf_on(page)}, max_redirects=0)

    assert (missing.status, wrong.status) == (403, 403)
    assert "did not come from this console" in missing.text()
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'run-retried'") == 0
    # The same request with the page's own token is what the console accepts: the refusals were the token's.
    sent = page.request.post(f"/runs/{run_id}/retry", form={**form, "csrf": csrf_on(page)}, max_redirects=0)
    assert sent.status == 303
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'run-retried'") == 1


@pytest.mark.schedules("noop")
def test_pausing_a_schedule_makes_its_next_tick_paused(console, service, processes, worker, new_page):
    # The scheduler sends each tick; a worker handles it (and records it paused).
    processes("scheduler")
    page = new_page(WIDE, base_url=console.base)
    page.goto("/schedules/noop")
    sign_in(page, OPERATOR)

    pause = page.get_by_role("form", name="Pause or resume")
    pause.get_by_label("Reason (kept in the ledger with your name)").fill("the no-op is noisy today")
    pause.get_by_role("button", name="Pause").click()
    page.wait_for_url("**/schedules/noop")
    paused_at = scalar(service, "SELECT at FROM jobs.events WHERE kind = 'schedule-paused' AND schedule = 'noop'")
    assert paused_at is not None

    # The schedule fires every 15 s: its first tick handled after the pause is the one to see.
    def next_tick():
        rows = query(
            service,
            "SELECT nominal_time, outcome, detail FROM jobs.ticks WHERE schedule = 'noop' AND claimed_at > :at "
            "ORDER BY nominal_time LIMIT 1",
            at=paused_at,
        )
        return rows[0] if rows else None

    tick = wait_for(next_tick, 60, what="the noop schedule's next tick")
    assert (tick.outcome, tick.detail) == ("paused", f"paused by {OPERATOR[0]}: the no-op is noisy today")
    page.reload()
    assert "paused" in page.locator("dl.facts").inner_text()
    history = page.get_by_role("region", name="Tick history")
    row = history.locator("tbody tr", has_text=f"paused by {OPERATOR[0]}").first
    assert row.locator(".status").inner_text() == "paused"
    audit = page.locator(".timeline li.audit", has_text="schedule-paused")
    assert OPERATOR[0] in audit.inner_text() and "the no-op is noisy today" in audit.inner_text()
    check_page(page, "paused")


def test_cancelling_a_long_fan_out_counts_the_children_not_started_as_cancelled(console, service, worker, new_page):
    n = 200
    run_id = service.trigger("fan-slow", {"n": n})
    wait_for(
        lambda: scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id) >= 4,
        60,
        what="a few children done",
    )
    page = new_page(WIDE, base_url=console.base)
    page.goto(f"/runs/{run_id}")
    sign_in(page, OPERATOR)
    assert live_status(page).inner_text() == "running"

    page.get_by_label("Reason (kept in the ledger with your name)").fill("the extract is wrong")
    page.get_by_role("button", name="Cancel this run").click()
    page.wait_for_url(f"**/runs/{run_id}")

    assert live_status(page).inner_text() == "cancelled"
    # The children at work when it was cancelled finish; then every child either arrived or is cancelled.
    wait_for(
        lambda: (
            scalar(
                service,
                "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND status IN ('running', 'retrying', 'stalled')",
                r=run_id,
            )
            == 0
        ),
        30,
        what="the children at work to end",
    )
    page.reload()
    [barrier] = query(service, "SELECT arrived, failed FROM jobs.barriers WHERE run_id = :r", r=run_id)
    cancelled = n - barrier.arrived
    assert 0 < cancelled < n and barrier.failed == 0
    assert page.locator(".fanout .progress-text").inner_text() == (
        f"{barrier.arrived} of {n} arrived, 0 failed, {cancelled} cancelled"
    )
    audit = page.locator(".timeline li.audit", has_text="run-cancelled")
    assert OPERATOR[0] in audit.inner_text() and "the extract is wrong" in audit.inner_text()
    check_page(page, "cancelled")


# Every page of the console, as the navigation names it, and the pages reached from them.
TOUR = ("/", "/runs", "/runs?job=fan-fixable&status=failed", "/schedules", "/schedules/pipeline", "/stalls",
        "/dead-letters", "/workers", "/trigger/fan-fixable")  # fmt: skip


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_every_page_is_saved_and_has_no_serious_accessibility_violation(console, service, worker, new_page, viewport):
    run_id = failed_fan_out(service)
    page = new_page(viewport, base_url=console.base)
    page.goto("/")
    check_page(page, "login")
    sign_in(page, OPERATOR)
    problems = []

    # Every page is seen, saved and checked before the test says what was wrong with any of them.
    for path in (*TOUR, f"/runs/{run_id}"):
        answer = page.goto(path)
        if answer.status != 200:
            problems.append(f"{path} answers {answer.status}")
            continue
        name = "run" if path == f"/runs/{run_id}" else path.strip("/").replace("/", "-") or "overview"
        shot(page, name)
        violations = serious_axe_violations(page)
        if violations:
            problems.append(f"{path}: axe:\n{describe(violations)}")
        # At 390 px nothing may be wider than the screen but the tables' own scrolling regions.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            problems.append(f"{path} is {overflow} px wider than the window; too wide: {too_wide(page)}")
    refused = page.goto("/runs/00000000-0000-0000-0000-000000000000")
    assert refused.status == 404
    check_page(page, "refused")

    assert problems == [], f"at {viewport['width']} px:\n" + "\n".join(problems)
