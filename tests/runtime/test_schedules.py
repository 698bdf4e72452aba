"""Ticks against the real ledger and broker: claiming, overlap, lateness, missed ticks, catch-up."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready

pytestmark = pytest.mark.schedules("pipeline,noop,unbuilt,long-step")


def this_minute() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def ticks(service, schedule):
    return query(service, "SELECT * FROM jobs.ticks WHERE schedule = :s ORDER BY nominal_time", s=schedule)


def test_a_tick_is_claimed_once_and_a_second_copy_is_counted_as_duplicate(service):
    nominal = this_minute()
    first = service.scheduling.handle("pipeline", nominal, "m1")
    second = service.scheduling.handle("pipeline", nominal, "m2")
    assert first.outcome == "started" and first.run_id
    assert second.outcome == "duplicate"
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 1
    [tick] = ticks(service, "pipeline")
    assert (tick.outcome, str(tick.run_id), tick.duplicates, tick.message_id) == ("started", first.run_id, 1, "m1")
    counts = {r.outcome: r.value for r in query(
        service, "SELECT labels->>'outcome' AS outcome, value FROM jobs.counters WHERE name = 'ticks_total'")}
    assert counts == {"started": 1, "duplicate": 1}


def test_a_late_tick_is_recorded_as_late_and_still_run(service):
    nominal = this_minute() - timedelta(minutes=3)
    result = service.scheduling.handle("pipeline", nominal, "m1")
    assert result.outcome == "late" and result.run_id
    [tick] = ticks(service, "pipeline")
    assert tick.lag_s >= 180 and "after its nominal time" in tick.detail
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'tick-late'") == 1


def test_a_tick_while_the_previous_run_goes_on_is_skipped_and_recorded(service):
    first = service.scheduling.handle("long-step", this_minute(), "m1")
    second = service.scheduling.handle("long-step", this_minute() + timedelta(minutes=1), "m2")
    assert first.run_id and second.outcome == "skipped-overlap"
    assert "already running" in second.detail
    assert [t.outcome for t in ticks(service, "long-step")] == ["started", "skipped-overlap"]
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'long-step'") == 1


def test_a_tick_of_a_job_with_no_steps_is_recorded_as_such(service):
    nominal = datetime(2024, 1, 15, 3, 0, tzinfo=timezone.utc)
    result = service.scheduling.handle("unbuilt", nominal, "m1")
    assert result.outcome == "no-steps"
    assert [t.outcome for t in ticks(service, "unbuilt")] == ["no-steps"]
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_a_time_the_schedule_does_not_fire_at_is_not_a_tick(service):
    result = service.scheduling.handle("unbuilt", datetime(2024, 1, 15, 4, 0, tzinfo=timezone.utc), "m1")
    assert result.outcome == "duplicate"
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_ticks_missed_while_no_scheduler_ran_are_recorded_and_the_latest_caught_up(service, processes, vhost):
    # A scheduler watched until eight minutes ago, then went away.
    down_since = datetime.now(timezone.utc) - timedelta(minutes=8)
    assert service.scheduling.watch(now=down_since) == []
    processes("worker")
    wait_worker_ready(vhost)
    processes("scheduler")
    horizon = datetime.now(timezone.utc) - timedelta(seconds=service.settings.missed_after_s)

    def caught_up():
        return query(service, "SELECT * FROM jobs.ticks WHERE schedule = 'pipeline' AND outcome = 'caught-up'")

    [caught] = svc.wait_for(caught_up, 30, what="the catch-up tick")
    assert wait_run_ended(service, str(caught.run_id)).status == "succeeded"
    missed = query(service, "SELECT nominal_time FROM jobs.ticks WHERE schedule = 'pipeline' AND outcome = 'missed'")
    # Every minute from the last watch to the start horizon: all missed but the latest, which ran.
    assert len(missed) >= 4
    assert all(m.nominal_time < caught.nominal_time for m in missed)
    assert caught.nominal_time >= horizon.replace(second=0, microsecond=0) - timedelta(minutes=1)
    # The 15-second schedule's policy is none: everything recorded missed, nothing run late.
    noop = query(service, "SELECT outcome, nominal_time FROM jobs.ticks WHERE schedule = 'noop' "
                          "AND nominal_time <= :h", h=horizon)
    assert len(noop) >= 12 and {t.outcome for t in noop} == {"missed"}
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'tick-missed' AND schedule = 'pipeline'") \
        == len(missed)


@pytest.mark.slow
def test_two_schedulers_start_one_run_per_tick_and_15_seconds_fires_four_times_a_minute(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    processes("scheduler")
    processes("scheduler")
    start = datetime.now(timezone.utc)
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (minute - start).total_seconds() < 5:
        minute += timedelta(minutes=1)
    window_end = minute + timedelta(seconds=60)

    def window_ticks():
        rows = query(service, "SELECT * FROM jobs.ticks WHERE schedule = 'noop' AND nominal_time >= :a "
                              "AND nominal_time < :b ORDER BY nominal_time", a=minute, b=window_end)
        return rows if len(rows) == 4 else None

    noop = svc.wait_for(window_ticks, (window_end - start).total_seconds() + 20, interval_s=1,
                        what="four 15-second ticks in one minute")
    assert [t.nominal_time for t in noop] == [minute + timedelta(seconds=s) for s in (0, 15, 30, 45)]
    assert {t.outcome for t in noop} == {"started"}
    assert all(t.lag_s < 10 for t in noop)
    runs = query(service, "SELECT run_id FROM jobs.runs WHERE job = 'noop' AND nominal_time >= :a AND nominal_time < :b",
                 a=minute, b=window_end)
    assert sorted(str(r.run_id) for r in runs) == sorted(str(t.run_id) for t in noop)
    [pipeline] = [t for t in ticks(service, "pipeline") if t.nominal_time == minute]
    assert pipeline.outcome == "started"
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'pipeline' AND nominal_time = :m", m=minute) == 1
    # Both schedulers sent the tick: the second copy was refused and counted.
    assert pipeline.duplicates >= 1
    assert all(t.duplicates >= 1 for t in noop)
