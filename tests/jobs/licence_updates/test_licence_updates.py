"""licence-updates end to end: a real worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from tests.support import services as svc
from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from tests.support.messages import publish
from tests.support.processes import ROOT, WRLS_APP
from tests.support.water_rows import Water, london_today

JOB = "licence-updates"
# The window's start, worked out by PostgreSQL from London's day (not by the code under test), as the
# timestamp without time zone date_created holds in this session's time zone.
SINCE = (
    "((((now() AT TIME ZONE 'Europe/London')::date - interval '2 months')::date)::timestamp "
    "AT TIME ZONE 'Europe/London')::timestamp"
)


def scenario(wrls) -> dict[str, tuple[str, str, bool]]:
    """Licence versions, each named for what should happen to it:
    (licence id, version id, whether the licence has a charge version)."""
    water = Water(wrls)
    rows = {}

    def add(name: str, charged: bool = True, created: str = "now()", status: str = "current") -> tuple[str, str]:
        licence = water.licence(f"01/{name}")
        if charged:
            water.charge_version(licence, f"01/{name}", scheme="alcs")
        rows[name] = (licence, water.version(licence, f"1:{name}", created, status), charged)
        return rows[name][:2]

    add("new-version")
    add("new-version-of-uncharged-licence", charged=False)
    add("new-superseded-version", status="superseded")
    add("skip-new-draft", status="draft")
    add("created-as-the-window-starts", created=SINCE)
    add("skip-created-a-second-before-the-window", created=f"{SINCE} - interval '1 second'")
    licence, version = add("skip-deleted-workflow")
    water.workflow(licence, version, deleted=True)
    licence, version = add("skip-live-workflow")
    water.workflow(licence, version)
    for status in ("queued", "processing", "ready", "review", "sent", "empty", "error", "cancel"):
        name = f"{'skip-' if status in ('queued', 'processing', 'ready', 'review') else ''}bill-run-{status}"
        licence, _ = add(name)
        [charge_version] = query(
            wrls, "SELECT charge_version_id FROM water.charge_versions WHERE licence_id = :l", l=licence
        )
        water.in_bill_run(charge_version.charge_version_id, status)
    return rows


def workflows(wrls) -> list[tuple[str, str, bool]]:
    """Every live workflow licence-updates wrote: (licence id, version id, chargeVersionExists)."""
    rows = query(
        wrls,
        "SELECT licence_id, licence_version_id, status, data FROM water.charge_version_workflows "
        "WHERE date_deleted IS NULL AND data ? 'chargeVersionExists'",
    )
    assert all(r.status == "to_setup" and r.data["chargeVersion"] is None for r in rows)
    return sorted((str(r.licence_id), str(r.licence_version_id), r.data["chargeVersionExists"]) for r in rows)


def expected(rows) -> list[tuple[str, str, bool]]:
    return sorted((str(lic), str(v), c) for name, (lic, v, c) in rows.items() if not name.startswith("skip-"))


def run(wrls, force: bool = False):
    return wait_run_ended(wrls, wrls.trigger(JOB, force=force), 30)


def test_one_workflow_per_new_licence_version_and_nothing_more_on_a_second_run(wrls, worker, vhost):
    today = london_today(wrls)
    rows = scenario(wrls)
    worker()
    wait_worker_ready(vhost, "default")

    first = run(wrls)
    assert london_today(wrls) == today, "London's midnight passed during the test: run it again"
    assert first.status == "succeeded", first.error
    assert workflows(wrls) == expected(rows)
    assert first.counts == {"workflows_added": 8}

    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert second.counts == {"workflows_added": 0}
    assert workflows(wrls) == expected(rows)


def test_two_runs_at_once_add_each_workflow_once(wrls, worker, vhost):
    rows = scenario(wrls)
    worker()
    wait_worker_ready(vhost, "default")
    runs = [wait_run_ended(wrls, r, 30) for r in [wrls.trigger(JOB, force=True) for _ in range(2)]]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert sum(r.counts.get("workflows_added", 0) for r in runs) == 8
    assert workflows(wrls) == expected(rows)


def test_after_time_limited_on_the_same_version_time_limiteds_workflow_stands(wrls, worker, vhost):
    """The legacy ran time-limited first on purpose, so that "time limited" is the workflow's reason."""
    water = Water(wrls)
    licence = water.licence("01/both")
    version = water.version(licence, "1:both")
    charge_version = water.charge_version(licence, "01/both")
    water.purposes(charge_version, london_today(wrls) + timedelta(days=10))
    worker()
    wait_worker_ready(vhost, "default")

    time_limited = wait_run_ended(wrls, wrls.trigger("time-limited"), 30)
    assert time_limited.counts == {"workflows_added": 1}
    updates = run(wrls)
    assert updates.status == "succeeded", updates.error
    assert updates.counts == {"workflows_added": 0}
    [row] = query(wrls, "SELECT licence_id, licence_version_id, data FROM water.charge_version_workflows")
    assert (str(row.licence_id), str(row.licence_version_id)) == (licence, version)
    assert row.data == {"chargeVersion": None, "timeLimitedChargeVersionId": charge_version}


def test_both_jobs_start_by_message_and_by_the_command(wrls, worker, vhost, wrls_env):
    water = Water(wrls)
    licence = water.licence("01/started")
    water.version(licence, "1:started")
    worker()
    wait_worker_ready(vhost, "control")
    publish(
        vhost,
        "control",
        json.dumps({"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": JOB, "params": {}}}).encode(),
    )
    [by_message] = svc.wait_for(
        lambda: query(wrls, "SELECT * FROM jobs.runs WHERE job = :j", j=JOB), 30, what="the licence-updates run"
    )
    assert by_message.trigger == "message"
    assert wait_run_ended(wrls, str(by_message.run_id)).counts == {"workflows_added": 1}

    command = subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", WRLS_APP, "trigger", "time-limited"],
        cwd=ROOT,
        env=wrls_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert command.returncode == 0, command.stderr
    [by_command] = svc.wait_for(
        lambda: query(wrls, "SELECT * FROM jobs.runs WHERE job = 'time-limited'"), 30, what="the time-limited run"
    )
    assert wait_run_ended(wrls, str(by_command.run_id)).status == "succeeded"
