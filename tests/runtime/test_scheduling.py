"""Ticks against the real ledger and broker: claiming, overlap, lateness, missed ticks, catch-up."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.runtime.test_metrics import first_scrape
from tests.support import services as svc
from tests.support.helpers import free_port, query, scalar, wait_run_ended, wait_worker_ready
from wrls_actors.runtime.processes import send_shifted_ticks
from wrls_actors.runtime.scheduling import timeline

pytestmark = pytest.mark.schedules("pipeline,noop,unbuilt,long-step")


def this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def ticks(service, schedule):
    return query(service, "SELECT * FROM jobs.ticks WHERE schedule = :s ORDER BY nominal_time", s=schedule)


def scrape_once(processes) -> dict:
    port = free_port()
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)})
    return first_scrape(port)


def tick_counts(service) -> dict:
    return {
        (r.schedule, r.outcome): r.value
        for r in query(
            service,
            "SELECT labels->>'schedule' AS schedule, labels->>'outcome' AS outcome, value FROM jobs.counters "
            "WHERE name = 'ticks_total'",
        )
    }


def test_a_tick_is_claimed_once_and_a_second_copy_is_counted_as_suppressed(service):
    nominal = this_minute()
    first = service.scheduling.handle("pipeline", nominal, "m1")
    second = service.scheduling.handle("pipeline", nominal, "m2")
    assert first.outcome == "started" and first.run_id
    assert second.outcome == "suppressed"
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 1
    [tick] = ticks(service, "pipeline")
    assert (tick.outcome, str(tick.run_id), tick.duplicates, tick.message_id) == ("started", first.run_id, 1, "m1")
    assert tick_counts(service) == {("pipeline", "started"): 1, ("pipeline", "suppressed"): 1}
    # Suppressing another scheduler's copy is normal: no incident.
    assert scalar(service, "SELECT count(*) FROM jobs.events") == 0


def test_a_tick_whose_claim_is_gone_is_not_started_again_and_is_an_incident(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    nominal = this_minute()
    first = service.scheduling.handle("pipeline", nominal, "m1")
    assert wait_run_ended(service, first.run_id).status == "succeeded"  # so the overlap rule does not refuse it
    # The claim lost (a row deleted, the table restored from an older backup): only the run shows the tick ran.
    with service.engine.begin() as connection:
        connection.execute(text("DELETE FROM jobs.ticks"))
    again = service.scheduling.handle("pipeline", nominal, "m2")
    assert again.outcome == "double-start" and again.run_id is None
    assert [str(r.run_id) for r in query(service, "SELECT run_id FROM jobs.runs")] == [first.run_id]
    [tick] = ticks(service, "pipeline")
    assert tick.outcome == "double-start" and first.run_id in tick.detail
    assert tick_counts(service)[("pipeline", "double-start")] == 1
    [event] = query(service, "SELECT kind, detail FROM jobs.events WHERE kind LIKE 'tick-%'")
    assert event.kind == "tick-double-start" and first.run_id in event.detail
    # The claim is back: a later copy is only suppressed.
    assert service.scheduling.handle("pipeline", nominal, "m3").outcome == "suppressed"


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
    nominal = datetime(2024, 1, 15, 3, 0, tzinfo=UTC)
    result = service.scheduling.handle("unbuilt", nominal, "m1")
    assert result.outcome == "no-steps"
    assert [t.outcome for t in ticks(service, "unbuilt")] == ["no-steps"]
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_a_time_the_schedule_does_not_fire_at_is_not_a_tick(service):
    result = service.scheduling.handle("unbuilt", datetime(2024, 1, 15, 4, 0, tzinfo=UTC), "m1")
    assert result.outcome == "not-a-tick"
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
    assert ticks(service, "unbuilt") == [] and tick_counts(service) == {}
    # A process sending ticks at other times has another schedule: worth a look.
    [event] = query(service, "SELECT kind, schedule, message_id, detail FROM jobs.events")
    assert (event.kind, event.schedule, event.message_id) == ("tick-unexpected", "unbuilt", "m1")
    assert "0 3 * * *" in event.detail


@pytest.mark.schedules("gate")
def test_the_wall_clock_hour_repeated_in_autumn_is_one_tick_everywhere(service):
    # 2024-10-27: 01:00 BST (00:00 UTC), then clocks go back and 01:00 GMT (01:00 UTC); periodiq fires both.
    first, repeat = (datetime(2024, 10, 27, h, 0, tzinfo=UTC) for h in (0, 1))
    assert service.scheduling.handle("gate", first, "m1").outcome == "late"  # run in 2024: long ago
    result = service.scheduling.handle("gate", repeat, "m2")
    assert result.outcome == "not-a-tick" and "repeated" in result.detail
    # The ledger, the counters, the events and the timeline all say: one tick, at 01:00 BST.
    night = (datetime(2024, 10, 26, 23, tzinfo=UTC), datetime(2024, 10, 27, 3, tzinfo=UTC))
    shown = [t for t, s in timeline(service.schedules, *night, service.tz, include_intervals=True) if s.job == "gate"]
    assert [t.strftime("%H:%M %Z") for t in shown] == ["01:00 BST"]
    # (In UTC: Python never finds an ambiguous local time equal to a time of another zone.)
    assert [t.nominal_time for t in ticks(service, "gate")] == [t.astimezone(UTC) for t in shown]
    assert tick_counts(service) == {("gate", "late"): 1}
    assert [e.kind for e in query(service, "SELECT kind FROM jobs.events")] == ["tick-late"]
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'gate'") == 1


@pytest.mark.schedules("gate")
def test_the_time_skipped_in_spring_is_sent_by_the_scheduler_at_0200_as_the_timeline_shows(service, processes, vhost):
    # 2024-03-31: 01:00 GMT becomes 02:00 BST; periodiq never sees a wall clock reading 01:00.
    processes("worker")
    wait_worker_ready(vhost)
    night = (datetime(2024, 3, 30, 23, tzinfo=UTC), datetime(2024, 3, 31, 3, tzinfo=UTC))
    sent = send_shifted_ticks(service, *night)
    shown = [t for t, s in timeline(service.schedules, *night, service.tz) if s.job == "gate"]
    assert [t.strftime("%H:%M %Z") for t in shown] == ["02:00 BST"]
    assert sent == [("gate", shown[0])]
    # The worker takes it as the tick of its nominal time: the one the timeline shows.
    [tick] = svc.wait_for(lambda: ticks(service, "gate"), 30, what="the tick of 02:00 BST")
    assert tick.nominal_time == shown[0] and tick.outcome == "late"  # late: 2024 is long ago
    assert scalar(service, "SELECT nominal_time FROM jobs.runs WHERE job = 'gate'") == shown[0]


def test_ticks_missed_while_no_scheduler_ran_are_recorded_and_the_latest_caught_up(service, processes, vhost):
    # A scheduler watched until eight minutes ago, then went away.
    down_since = datetime.now(UTC) - timedelta(minutes=8)
    assert service.scheduling.watch(now=down_since) == []
    processes("worker")
    wait_worker_ready(vhost)
    processes("scheduler")
    horizon = datetime.now(UTC) - timedelta(seconds=service.settings.missed_after_s)

    def caught_up():
        return query(service, "SELECT * FROM jobs.ticks WHERE schedule = 'pipeline' AND outcome = 'caught-up'")

    [caught] = svc.wait_for(caught_up, 30, what="the catch-up tick")
    assert wait_run_ended(service, str(caught.run_id)).status == "succeeded"
    missed = query(service, "SELECT nominal_time FROM jobs.ticks WHERE schedule = 'pipeline' AND outcome = 'missed'")
    # Every minute from the last watch to the start horizon: all missed but the latest, which ran.
    assert len(missed) >= 4
    assert all(m.nominal_time < caught.nominal_time for m in missed)
    assert caught.nominal_time >= horizon.replace(second=0, microsecond=0) - timedelta(minutes=1)

    # The 15-second schedule's policy is none: everything recorded missed, nothing run late. The watch goes
    # through the schedules one after another: noop's ticks may be written after the pipeline's run has ended.
    def noop_ticks():
        rows = query(
            service,
            "SELECT outcome, nominal_time FROM jobs.ticks WHERE schedule = 'noop' AND nominal_time <= :h",
            h=horizon,
        )
        return rows if len(rows) >= 12 else None

    noop = svc.wait_for(noop_ticks, 30, what="the noop schedule's missed ticks")
    assert len(noop) >= 12 and {t.outcome for t in noop} == {"missed"}
    assert scalar(
        service, "SELECT count(*) FROM jobs.events WHERE kind = 'tick-missed' AND schedule = 'pipeline'"
    ) == len(missed)


# Slow: it waits for the clock's second 31, then for the next minute (about 90 s), so it is handed out first.
@pytest.mark.slow
@pytest.mark.schedules("noop")
def test_a_scheduler_starting_mid_minute_sends_only_the_latest_past_tick(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    # Start once the minute's :00 and :15 ticks are past (and its :30 too), well before the next minute.
    svc.wait_for(lambda: 31 <= datetime.now(UTC).second < 36, 60, interval_s=0.2, what="second 31")
    minute = this_minute()
    # A scheduler watched until just before this minute, so the watch accounts for the ticks nobody sent.
    assert service.scheduling.watch(now=minute - timedelta(seconds=1)) == []
    processes("scheduler", extra_env={"WRLS_MISSED_AFTER_S": "20"})

    def this_minutes_ticks():
        rows = query(
            service,
            "SELECT nominal_time, outcome, detail FROM jobs.ticks WHERE schedule = 'noop' "
            "AND nominal_time >= :a AND nominal_time < :b ORDER BY nominal_time",
            a=minute,
            b=minute + timedelta(minutes=1),
        )
        return rows if len(rows) == 4 else None

    rows = svc.wait_for(this_minutes_ticks, 120, interval_s=1, what="the four ticks of the minute accounted for")
    outcomes = {int((r.nominal_time - minute).total_seconds()): r.outcome for r in rows}
    # :00 and :15 were due before the scheduler ran: not sent, so not run, and recorded as such by the watch.
    assert outcomes[0] == outcomes[15] == "missed"
    assert all(r.detail == "no scheduler claimed it" for r in rows[:2])
    # :30 was sent at start (the latest past tick), :45 on time; nothing skipped as overlapping.
    assert outcomes[30] in ("started", "late") and outcomes[45] == "started"
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'noop' AND nominal_time >= :a", a=minute) >= 2


@pytest.mark.slow
def test_two_schedulers_start_one_run_per_tick_and_15_seconds_fires_four_times_a_minute(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    processes("scheduler")
    processes("scheduler")
    start = datetime.now(UTC)
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (minute - start).total_seconds() < 5:
        minute += timedelta(minutes=1)
    window_end = minute + timedelta(seconds=60)

    def window_ticks():
        rows = query(
            service,
            "SELECT * FROM jobs.ticks WHERE schedule = 'noop' AND nominal_time >= :a "
            "AND nominal_time < :b ORDER BY nominal_time",
            a=minute,
            b=window_end,
        )
        return rows if len(rows) == 4 else None

    svc.wait_for(
        window_ticks, (window_end - start).total_seconds() + 20, interval_s=1, what="four 15-second ticks in one minute"
    )
    # The other scheduler's copy of a tick may come a moment after the first claimed it: wait for each to be seen.
    noop = svc.wait_for(
        lambda: (lambda rows: rows if rows and all(t.duplicates >= 1 for t in rows) else None)(window_ticks()),
        10,
        interval_s=0.5,
        what="each of the four ticks' second copy suppressed",
    )
    assert [t.nominal_time for t in noop] == [minute + timedelta(seconds=s) for s in (0, 15, 30, 45)]
    assert {t.outcome for t in noop} == {"started"}
    assert all(t.lag_s < 10 for t in noop)
    runs = query(
        service,
        "SELECT run_id FROM jobs.runs WHERE job = 'noop' AND nominal_time >= :a AND nominal_time < :b",
        a=minute,
        b=window_end,
    )
    assert sorted(str(r.run_id) for r in runs) == sorted(str(t.run_id) for t in noop)
    [pipeline] = [t for t in ticks(service, "pipeline") if t.nominal_time == minute]
    assert pipeline.outcome == "started"
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'pipeline' AND nominal_time = :m", m=minute) == 1
    # Both schedulers sent the tick: the second copy was suppressed and counted as such, not as an incident.
    assert pipeline.duplicates >= 1
    counts = tick_counts(service)
    assert counts[("pipeline", "suppressed")] >= 1 and counts[("noop", "suppressed")] >= 4
    assert {o for s, o in counts if s in ("pipeline", "noop")} <= {"started", "late", "suppressed"}
    assert (
        scalar(
            service, "SELECT count(*) FROM jobs.events WHERE kind LIKE 'tick-%' AND schedule IN ('pipeline', 'noop')"
        )
        == 0
    )
    # What the alerts read stays quiet: no double start, and both schedulers' clock agrees with the database's.
    samples = scrape_once(processes)
    assert not [
        k for k in samples if k[0] == "wrls_ticks_total" and dict(k[1])["outcome"] == "double-start" and samples[k] > 0
    ]
    [(labels, offset_s)] = [
        (dict(k[1]), v) for k, v in samples.items() if k[0] == "wrls_scheduler_clock_offset_seconds"
    ]
    assert labels == {"host": socket.gethostname()} and abs(offset_s) < 1
