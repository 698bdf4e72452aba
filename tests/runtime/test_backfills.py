"""Backfilling a schedule's ticks (runtime/backfills.py), against the real ledger and broker."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.processes import run_cli
from tests.support.sample_app import JOBS, SCHEDULES
from wrls_actors.runtime import Service, Settings
from wrls_actors.runtime.backfills import MAX_TICKS, BackfillRefused, BadBackfillRange, ticks_in
from wrls_actors.runtime.definitions import ALLOW
from wrls_actors.runtime.pauses import UnknownSchedule

pytestmark = pytest.mark.schedules("pipeline")


def minutes_ago(n: int) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=n)


def ticks(service):
    rows = query(
        service,
        "SELECT nominal_time, outcome, run_id::text AS run_id, detail FROM jobs.ticks "
        "WHERE schedule = 'pipeline' ORDER BY nominal_time",
    )
    return {r.nominal_time: r for r in rows}


def scheduled_runs(service):
    rows = query(
        service,
        "SELECT run_id::text AS run_id, nominal_time, started_at, finished_at FROM jobs.runs "
        "WHERE trigger = 'schedule' ORDER BY nominal_time",
    )
    return {r.nominal_time: r for r in rows}


def record_tick(service, nominal, outcome):
    """A tick as the scheduler or its watch records it, with no run."""
    with service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO jobs.ticks (schedule, nominal_time, outcome) VALUES ('pipeline', :n, :o)"),
            {"n": nominal, "o": outcome},
        )


@pytest.fixture
def allowing(env):
    """The sample service with its `pipeline` schedule allowed to overlap itself."""
    schedules = [dataclasses.replace(s, enabled=s.job == "pipeline") for s in SCHEDULES]
    schedules = [dataclasses.replace(s, overlap=ALLOW) if s.job == "pipeline" else s for s in schedules]
    service = Service(Settings.from_env("WRLS", env), JOBS, schedules)
    yield service
    service.ledger.close()
    if "broker" in service.__dict__:
        service.broker.close()


def test_backfill_runs_exactly_the_ticks_that_never_ran_and_twice_starts_nothing_more(allowing):
    service = allowing
    t = [minutes_ago(n) for n in (8, 7, 6, 5, 4, 3, 2)]
    started = service.scheduling.handle("pipeline", t[1], "m1", now=t[1])
    service.pause("pipeline", operator="ops", reason="maintenance")
    assert service.scheduling.handle("pipeline", t[2], "m2").outcome == "paused"
    service.resume("pipeline", operator="ops", reason="done")
    record_tick(service, t[3], "missed")
    record_tick(service, t[4], "skipped-overlap")
    # A run of t[5] exists but its tick row does not (deleted, or the ledger restored from an older copy).
    with service.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs.runs (run_id, job, trigger, nominal_time, status) "
                "VALUES (gen_random_uuid(), 'pipeline', 'schedule', :n, 'succeeded')"
            ),
            {"n": t[5]},
        )

    done = service.backfill("pipeline", since=t[0], until=t[6], operator="jo@ops", reason="the broker was down")

    runs = scheduled_runs(service)
    assert done.queued == [] and done.ticks == 3
    assert done.run_ids == [runs[t[0]].run_id, runs[t[2]].run_id, runs[t[3]].run_id]
    rows = ticks(service)
    assert {n: rows[n].outcome for n in t[:5]} == {
        t[0]: "backfilled",
        t[1]: "started",
        t[2]: "backfilled",
        t[3]: "backfilled",
        t[4]: "skipped-overlap",
    }
    assert t[5] not in rows and t[6] not in rows  # the run exists; until is excluded
    assert rows[t[1]].run_id == started.run_id
    assert [rows[n].run_id for n in (t[0], t[2], t[3])] == done.run_ids
    assert rows[t[2]].detail == "paused by ops: maintenance; backfill by jo@ops: the broker was down"
    [event] = query(service, "SELECT * FROM jobs.events WHERE kind = 'schedule-backfilled'")
    assert (event.schedule, event.job, event.operator, event.reason) == (
        "pipeline",
        "pipeline",
        "jo@ops",
        "the broker was down",
    )
    assert event.detail == (f"backfill of [{t[0].isoformat()}, {t[6].isoformat()}) by jo@ops: 3 of its 6 ticks to run")

    again = service.backfill("pipeline", since=t[0], until=t[6], operator="jo@ops", reason="once more")

    assert (again.run_ids, again.queued, again.ticks) == ([], [], 0)
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 5
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'schedule-backfilled'") == 2
    counted = scalar(
        service,
        "SELECT value FROM jobs.counters WHERE name = 'ticks_total' AND labels->>'outcome' = 'backfilled'",
    )
    assert counted == 3


def test_under_skip_backfilled_ticks_run_one_at_a_time_oldest_first(service, processes, vhost):
    t = [minutes_ago(n) for n in (5, 4, 3, 2)]

    done = service.backfill("pipeline", since=t[0], until=t[3], operator="ops", reason="missed overnight")

    [first] = done.run_ids
    assert done.queued == t[1:3]
    assert scheduled_runs(service)[t[0]].run_id == first
    # With no worker the first run is still going: the watch starts nothing more, and the live tick is skipped.
    assert [r.outcome for r in service.scheduling.watch()] == []
    assert service.scheduling.handle("pipeline", minutes_ago(0), "live").outcome == "skipped-overlap"
    assert [ticks(service)[n].outcome for n in t[1:3]] == ["backfill-queued", "backfill-queued"]

    processes("worker")
    wait_worker_ready(vhost)
    for nominal in t[1:3]:
        assert wait_run_ended(service, scheduled_runs(service)[max(scheduled_runs(service))].run_id)
        [result] = service.scheduling.watch()
        assert result.outcome == "backfilled"
        assert scheduled_runs(service)[nominal].run_id == result.run_id
    wait_run_ended(service, scheduled_runs(service)[t[2]].run_id)

    runs = scheduled_runs(service)
    assert sorted(runs) == t[:3]
    for earlier, later in zip(t[:2], t[1:3], strict=True):
        assert runs[later].started_at >= runs[earlier].finished_at
    assert {ticks(service)[n].outcome for n in t[:3]} == {"backfilled"}


def test_a_paused_schedule_is_not_backfilled_and_its_queued_ticks_wait_for_its_resume(service):
    t = [minutes_ago(n) for n in (5, 4, 3)]
    service.pause("pipeline", operator="ops", reason="maintenance")
    with pytest.raises(BackfillRefused, match="is paused by ops: maintenance: resume it first"):
        service.backfill("pipeline", since=t[0], until=t[2], operator="ops", reason="x")
    assert scalar(service, "SELECT count(*) FROM jobs.ticks") == 0
    service.resume("pipeline", operator="ops", reason="back")
    done = service.backfill("pipeline", since=t[0], until=t[2], operator="ops", reason="x")
    assert (len(done.run_ids), done.queued) == (1, [t[1]])
    service.cancel(done.run_ids[0], operator="ops", reason="let the next one go")
    service.pause("pipeline", operator="ops", reason="again")

    assert service.scheduling.start_backfills(service.schedules["pipeline"]) == []

    service.resume("pipeline", operator="ops", reason="back again")
    [result] = service.scheduling.start_backfills(service.schedules["pipeline"])
    assert (result.outcome, ticks(service)[t[1]].run_id) == ("backfilled", result.run_id)


@pytest.mark.schedules("pipeline,unbuilt,pulse")
def test_a_backfill_refuses_a_range_it_cannot_run_and_records_nothing(service):
    now = datetime.now(UTC)

    def refused(since, until, field, match, name="pipeline"):
        with pytest.raises(BadBackfillRange, match=match) as caught:
            service.backfill(name, since=since, until=until, operator="ops", reason="x")
        assert caught.value.field == field

    refused(now - timedelta(hours=1), now - timedelta(hours=1), "range", "must be before until")
    refused(now - timedelta(hours=1), now - timedelta(hours=2), "range", "must be before until")
    refused(now - timedelta(hours=1), now + timedelta(minutes=5), "until", "in the future")
    refused(datetime(2026, 1, 1), now, "since", "needs a time zone")
    refused(now - timedelta(hours=1), now.replace(tzinfo=None), "until", "needs a time zone")
    refused(datetime(1969, 12, 31, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC), "since", "before 1970")
    refused(now - timedelta(days=93), now, "range", "over 92 days")
    # An every-minute schedule: one tick more than a backfill takes.
    refused(now - timedelta(minutes=MAX_TICKS + 1), now, "range", f"holds {MAX_TICKS + 1} ticks")
    # An every-15-s schedule: refused before its ticks are listed.
    refused(now - timedelta(days=1), now, "range", "holds over 1000 ticks of pulse", name="pulse")
    with pytest.raises(UnknownSchedule):
        service.backfill("nothing", since=now - timedelta(hours=1), until=now, operator="ops", reason="x")
    with pytest.raises(BackfillRefused, match="switched off"):
        service.backfill("noop", since=now - timedelta(hours=1), until=now, operator="ops", reason="x")
    with pytest.raises(BackfillRefused, match="has no steps"):
        service.backfill("unbuilt", since=now - timedelta(days=2), until=now, operator="ops", reason="x")
    assert scalar(service, "SELECT count(*) FROM jobs.ticks") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.events") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_the_cli_backfills_with_a_reason_and_refuses_a_bad_range(service, env):
    since, until = minutes_ago(3), minutes_ago(1)

    def cli(*args):
        return run_cli(env, "backfill", *args)

    assert cli("pipeline", "--since", since.isoformat(), "--until", until.isoformat()).returncode == 2
    naive = cli("pipeline", "--since", "2026-01-01T00:00", "--until", until.isoformat(), "--reason", "x")
    assert naive.returncode == 2 and "needs a time zone" in naive.stderr
    backwards = cli("pipeline", "--since", until.isoformat(), "--until", since.isoformat(), "--reason", "x")
    assert backwards.returncode == 2 and "must be before until" in backwards.stderr
    assert cli("nothing", "--since", since.isoformat(), "--until", until.isoformat(), "--reason", "x").returncode == 4

    done = cli("pipeline", "--since", since.isoformat(), "--until", until.isoformat(), "--reason", "overnight")

    assert done.returncode == 0, done.stderr
    [run] = query(service, "SELECT run_id::text FROM jobs.runs WHERE nominal_time = :n", n=since)
    assert done.stdout.splitlines() == [
        "schedule pipeline: 2 ticks backfilled: 1 started now, 1 queued "
        "(the scheduler starts each when the job is not running)",
        run.run_id,
    ]
    [event] = query(service, "SELECT operator, reason FROM jobs.events WHERE kind = 'schedule-backfilled'")
    assert event.operator.startswith("cli:") and event.reason == "overnight"
    nothing = cli("pipeline", "--since", since.isoformat(), "--until", until.isoformat(), "--reason", "again")
    assert nothing.returncode == 0
    assert "nothing to backfill" in nothing.stdout


def test_a_range_ending_a_fraction_of_a_second_past_a_tick_holds_that_tick(service):
    # The every-minute schedule: a range ending half a second past a minute holds that minute's tick.
    until = datetime.now(UTC).replace(second=0, microsecond=500_000) - timedelta(minutes=1)
    ticks = ticks_in(service.schedules["pipeline"], until - timedelta(minutes=3), until, service.scheduling)
    minute = until.replace(microsecond=0)
    assert ticks == [minute - timedelta(minutes=2), minute - timedelta(minutes=1), minute]
