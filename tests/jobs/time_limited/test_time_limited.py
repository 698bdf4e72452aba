"""time-limited end to end: a real worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from tests.support.water_rows import Water, london_today, trigger_while_another_writer_holds

JOB = "time-limited"


def scenario(wrls, today: date) -> dict[str, tuple[str, str, str]]:
    """Licences, each named for what should happen to it: (licence id, the version and the charge version
    its workflow should name)."""
    water = Water(wrls)
    rows = {}

    def add(
        name: str,
        end: date | None,
        scheme: str = "sroc",
        cv_status: str = "current",
        cv_end: date | None = None,
        lv_status: str = "current",
        **licence_dates,
    ) -> tuple[str, str, str]:
        licence = water.licence(f"01/{name}", **licence_dates)
        version = water.version(licence, f"1:{name}", status=lv_status)
        charge_version = water.charge_version(licence, f"01/{name}", scheme, cv_status, end=cv_end)
        water.purposes(charge_version, end)
        rows[name] = (licence, version, charge_version)
        return rows[name]

    add("ends-in-49-days", today + timedelta(days=49))
    add("skip-ends-in-50-days", today + timedelta(days=50))
    add("ended-last-month", today - timedelta(days=30))
    add("skip-no-time-limit", None)
    add("skip-presroc", today + timedelta(days=10), scheme="alcs")
    add("skip-charge-version-ended", today + timedelta(days=10), cv_end=today + timedelta(days=100))
    add("skip-charge-version-draft", today + timedelta(days=10), cv_status="draft")
    add("skip-licence-version-superseded", today + timedelta(days=10), lv_status="superseded")
    add("skip-expires-today", today + timedelta(days=10), expired=today)
    add("expires-tomorrow", today + timedelta(days=10), expired=today + timedelta(days=1))
    add("skip-revoked-next-year", today + timedelta(days=10), revoked=today + timedelta(days=365))
    add("skip-lapsed-next-year", today + timedelta(days=10), lapsed=today + timedelta(days=365))
    licence, version, _ = add("skip-live-workflow", today + timedelta(days=10))
    water.workflow(licence, water.version(licence, "2:skip-live-workflow", status="superseded"), status="to_setup")
    licence, version, _ = add("deleted-workflow-does-not-block", today + timedelta(days=10))
    water.workflow(licence, version, deleted=True)

    # The legacy's duplicates: one row per combination, and the same licence version twice broke the
    # unique index of live workflows and aborted the run.
    licence, old_version, charge_version = add("two-current-versions", today + timedelta(days=10))
    newer = water.version(licence, "2:two-current-versions", issue=2)
    rows["two-current-versions"] = (licence, newer, charge_version)
    licence, version, _ = add("two-open-sroc-charge-versions", today + timedelta(days=10))
    newest = water.charge_version(licence, "01/two-open-sroc-charge-versions", start=date(2024, 4, 1), number=2)
    water.purposes(newest, today + timedelta(days=20), today + timedelta(days=30))
    water.purposes(newest, today + timedelta(days=40))
    rows["two-open-sroc-charge-versions"] = (licence, version, newest)
    return rows


def workflows(wrls) -> list[tuple[str, str, str]]:
    """Every live workflow the job wrote: (licence id, version id, charge version it names)."""
    rows = query(
        wrls,
        "SELECT licence_id, licence_version_id, status, data FROM water.charge_version_workflows "
        "WHERE date_deleted IS NULL AND data ? 'timeLimitedChargeVersionId'",
    )
    assert all(r.status == "to_setup" and r.data["chargeVersion"] is None for r in rows)
    return sorted((str(r.licence_id), str(r.licence_version_id), r.data["timeLimitedChargeVersionId"]) for r in rows)


def expected(rows) -> list[tuple[str, str, str]]:
    return sorted(v for name, v in rows.items() if not name.startswith("skip-"))


def run(wrls, force: bool = False):
    return wait_run_ended(wrls, wrls.trigger(JOB, force=force), 30)


def test_one_workflow_per_due_sroc_licence_and_nothing_more_on_a_second_run(wrls, worker, vhost):
    today = london_today(wrls)
    rows = scenario(wrls, today)
    worker()
    wait_worker_ready(vhost, "default")

    first = run(wrls)
    assert london_today(wrls) == today, "London's midnight passed during the test: run it again"
    assert first.status == "succeeded", first.error
    assert workflows(wrls) == expected(rows)
    assert first.counts == {"workflows_added": 6}
    assert str(today + timedelta(days=50)) in first.note

    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert second.counts == {"workflows_added": 0}
    assert workflows(wrls) == expected(rows)


def test_two_runs_at_once_add_each_workflow_once(wrls, worker, vhost):
    rows = scenario(wrls, london_today(wrls))
    worker()
    wait_worker_ready(vhost, "default")
    runs = [wait_run_ended(wrls, r, 30) for r in [wrls.trigger(JOB, force=True) for _ in range(2)]]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert sum(r.counts.get("workflows_added", 0) for r in runs) == 6
    assert workflows(wrls) == expected(rows)


def test_a_version_another_writer_puts_into_workflow_meanwhile_is_skipped_not_fatal(wrls, worker, vhost):
    """The legacy's run aborted on the unique index of live workflows; here the run waits for the other
    writer, skips that version and writes the rest."""
    rows = scenario(wrls, london_today(wrls))
    licence, version, _ = rows.pop("ends-in-49-days")
    worker()
    wait_worker_ready(vhost, "default")
    run_id = trigger_while_another_writer_holds(wrls, JOB, licence, version)
    done = wait_run_ended(wrls, run_id, 30)
    assert done.status == "succeeded", done.error
    [step] = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=run_id)
    assert step.attempt == 1  # no unique violation to retry
    assert done.counts == {"workflows_added": 5}
    assert workflows(wrls) == expected(rows)
    assert (
        len(query(wrls, "SELECT 1 FROM water.charge_version_workflows WHERE licence_version_id = :v", v=version)) == 1
    )
