"""Pausing and resuming a schedule (runtime/pauses.py), against the real ledger and broker."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.helpers import query, scalar
from tests.support.processes import run_cli
from wrls_actors.runtime.pauses import PauseConflict, UnknownSchedule

pytestmark = pytest.mark.schedules("pipeline")


def this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def tick(service, nominal):
    return query(service, "SELECT * FROM jobs.ticks WHERE schedule = 'pipeline' AND nominal_time = :n", n=nominal)[0]


def test_a_paused_schedules_ticks_are_recorded_as_paused_and_start_nothing_until_resumed(service):
    minute = this_minute()
    service.pause("pipeline", operator="ops@example", reason="NALD is late today")

    result = service.scheduling.handle("pipeline", minute, "m1")

    assert (result.outcome, result.run_id) == ("paused", None)
    row = tick(service, minute)
    assert (row.outcome, row.detail) == ("paused", "paused by ops@example: NALD is late today")
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
    service.resume("pipeline", operator="ops@example", reason="NALD arrived")
    assert service.scheduling.handle("pipeline", minute + timedelta(minutes=1), "m2").outcome == "started"
    events = query(service, "SELECT kind, schedule, operator, reason FROM jobs.events ORDER BY id")
    assert [tuple(e) for e in events] == [
        ("schedule-paused", "pipeline", "ops@example", "NALD is late today"),
        ("schedule-resumed", "pipeline", "ops@example", "NALD arrived"),
    ]
    counts = query(
        service,
        "SELECT labels->>'outcome' AS outcome, value FROM jobs.counters WHERE name = 'ticks_total' ORDER BY 1",
    )
    assert [(c.outcome, c.value) for c in counts] == [("paused", 1), ("started", 1)]


def test_ticks_nobody_sent_while_paused_are_paused_not_missed_and_not_caught_up(service):
    start = this_minute() - timedelta(minutes=10)
    assert service.scheduling.watch(now=start) == []  # the watch's record starts here
    service.pause("pipeline", operator="ops", reason="maintenance")

    results = service.scheduling.watch(now=start + timedelta(minutes=4))

    assert results and {r.outcome for r in results} == {"paused"}
    assert scalar(service, "SELECT count(*) FROM jobs.ticks WHERE outcome <> 'paused'") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind LIKE 'tick-%'") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
    assert service.resume("pipeline", operator="ops", reason="done") is None
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_resume_with_catch_up_starts_the_job_once_for_the_latest_paused_tick(service):
    minute = this_minute()
    service.pause("pipeline", operator="ops", reason="maintenance")
    for n in (3, 2, 1):
        assert service.scheduling.handle("pipeline", minute - timedelta(minutes=n), f"m{n}").outcome == "paused"

    run_id = service.resume("pipeline", operator="ops", reason="back", catch_up=True)

    [run] = query(service, "SELECT run_id::text, trigger, nominal_time FROM jobs.runs")
    assert (run.run_id, run.trigger, run.nominal_time) == (run_id, "schedule", minute - timedelta(minutes=1))
    latest = tick(service, minute - timedelta(minutes=1))
    assert (latest.outcome, str(latest.run_id)) == ("caught-up", run_id)
    assert latest.detail.endswith("; caught up on resume")
    assert [tick(service, minute - timedelta(minutes=n)).outcome for n in (3, 2)] == ["paused", "paused"]


def test_pause_and_resume_refuse_what_they_cannot_do(service):
    with pytest.raises(UnknownSchedule):
        service.pause("no-such-schedule", operator="ops", reason="x")
    service.pause("pipeline", operator="ops", reason="x")
    with pytest.raises(PauseConflict, match="already paused"):
        service.pause("pipeline", operator="ops", reason="again")
    service.resume("pipeline", operator="ops", reason="x")
    with pytest.raises(PauseConflict, match="is not paused"):
        service.resume("pipeline", operator="ops", reason="again")


def test_the_cli_pauses_and_resumes_with_a_reason(service, env):
    def cli(*args):
        return run_cli(env, *args)

    assert cli("pause", "pipeline").returncode == 2  # --reason is required
    paused = cli("pause", "pipeline", "--reason", "the extract is late")
    assert paused.returncode == 0, paused.stderr
    assert cli("pause", "pipeline", "--reason", "twice").returncode == 4
    [event] = query(service, "SELECT operator, reason FROM jobs.events")
    assert event.operator.startswith("cli:") and event.reason == "the extract is late"
    assert cli("resume", "pipeline", "--reason", "it came").returncode == 0
    assert cli("resume", "nothing", "--reason", "x").returncode == 4
