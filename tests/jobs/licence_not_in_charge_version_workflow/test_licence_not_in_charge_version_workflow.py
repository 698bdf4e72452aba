"""licence-not-in-charge-version-workflow end to end: a real worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

from tests.jobs.licence_not_in_charge_version_workflow.conftest import Water
from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from tests.support.water_rows import trigger_while_another_writer_holds

JOB = "licence-not-in-charge-version-workflow"
OLD = "now() - interval '1 year'"


def scenario(wrls) -> dict[str, tuple[str, str]]:
    """Licence versions, each named for what should happen to it: (licence id, version id)."""
    water = Water(wrls)
    rows = {}

    def add(name: str, charged: bool = True, created: str = "now()", status: str = "current") -> tuple[str, str]:
        licence = water.licence(f"01/{name}")
        if charged:
            water.charge_version(licence, f"01/{name}")
        rows[name] = (licence, water.version(licence, f"1:{name}", created, status))
        return rows[name]

    add("new-version")
    add("uncharged-old-current", charged=False, created=OLD)
    add("uncharged-old-superseded", charged=False, created=OLD, status="superseded")
    add("skip-uncharged-old-draft", charged=False, created=OLD, status="draft")
    add("skip-charged-old", created=OLD)
    add("skip-charged-created-3-months-ago", created="now() - interval '3 months'")
    licence, version = add("skip-deleted-workflow")
    water.workflow(licence, version, deleted=True)
    licence, version = add("skip-live-workflow")
    water.workflow(licence, version)
    for status in ("review", "ready"):
        licence, _ = add(f"skip-bill-run-in-{status}")
        [charge_version] = query(
            wrls, "SELECT charge_version_id FROM water.charge_versions WHERE licence_id = :l", l=licence
        )
        water.in_bill_run(charge_version.charge_version_id, status)
    licence, _ = add("bill-run-sent")
    water.in_bill_run(
        query(wrls, "SELECT charge_version_id FROM water.charge_versions WHERE licence_id = :l", l=licence)[
            0
        ].charge_version_id,
        "sent",
    )
    return rows


def to_setup(wrls) -> list[tuple[str, str]]:
    rows = query(
        wrls,
        "SELECT licence_id, licence_version_id, data, created_by FROM water.charge_version_workflows "
        "WHERE status = 'to_setup' AND date_deleted IS NULL ORDER BY licence_version_id",
    )
    assert all(r.data == {"chargeVersion": None} and r.created_by is None for r in rows)
    return sorted((r.licence_id, r.licence_version_id) for r in rows)


def expected(rows) -> list[tuple[str, str]]:
    return sorted(v for name, v in rows.items() if not name.startswith("skip-"))


def run(wrls, force: bool = False):
    return wait_run_ended(wrls, wrls.trigger(JOB, force=force), 30)


def test_one_to_setup_workflow_per_selected_licence_version_and_none_more_on_a_second_run(wrls, worker, vhost):
    rows = scenario(wrls)
    worker()
    wait_worker_ready(vhost, "default")

    first = run(wrls)
    assert first.status == "succeeded", first.error
    assert to_setup(wrls) == expected(rows)
    assert first.counts == {"workflows_added": 4}

    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert second.counts == {"workflows_added": 0}
    assert to_setup(wrls) == expected(rows)


def test_two_runs_at_once_add_each_workflow_once(wrls, worker, vhost):
    rows = scenario(wrls)
    worker()
    wait_worker_ready(vhost, "default")
    run_ids = [wrls.trigger(JOB, force=True) for _ in range(2)]
    runs = [wait_run_ended(wrls, r, 30) for r in run_ids]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert sum(r.counts.get("workflows_added", 0) for r in runs) == 4
    assert to_setup(wrls) == expected(rows)


def test_a_workflow_another_writer_adds_meanwhile_is_left_alone(wrls, worker, vhost):
    """Another writer (the system app, a user) puts a selected version into workflow while the run inserts:
    the run waits for it on the unique index of live workflows, then skips that version."""
    rows = scenario(wrls)
    licence, version = rows["new-version"]
    worker()
    wait_worker_ready(vhost, "default")
    run_id = trigger_while_another_writer_holds(wrls, JOB, licence, version)
    done = wait_run_ended(wrls, run_id, 30)
    assert done.status == "succeeded", done.error
    [step] = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=run_id)
    assert step.attempt == 1  # no unique violation to retry
    assert done.counts == {"workflows_added": 3}
    assert to_setup(wrls) == expected(rows)
    assert (
        len(query(wrls, "SELECT 1 FROM water.charge_version_workflows WHERE licence_version_id = :v", v=version)) == 1
    )
