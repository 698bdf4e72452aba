"""Workers killed mid-step (SIGKILL) and stopped mid-step (SIGTERM), schedulers killed across ticks."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from wrls_actors.runtime.cron import fire_times

pytestmark = pytest.mark.slow


def test_workers_killed_and_stopped_mid_fan_out_lose_nothing_and_repeat_no_effect(service, processes, vhost, tally):
    children = 2000
    doomed = processes("worker")
    graceful = processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan-steady", {"n": children})
    svc.wait_for(
        lambda: (
            scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
            >= children // 5
        ),
        60,
        interval_s=0.2,
        what="a fifth of the children done",
    )
    doomed.kill(signal.SIGKILL)
    tally.faults.append("worker SIGKILL mid-step")
    graceful.terminate()
    tally.faults.append("worker SIGTERM mid-step")
    stopping = time.monotonic()
    # SIGTERM is graceful: the worker finishes what it holds and exits well within Dramatiq's shutdown timeout.
    assert graceful.popen.wait(60) == 0
    tally.faults.append(f"graceful stop took {time.monotonic() - stopping:.1f}s")
    processes("worker")

    run = wait_run_ended(service, run_id, timeout_s=240)
    done = scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
    tried = scalar(
        service,
        "SELECT count(*) FROM test_attempts a JOIN test_effects e USING (message_id, step) "
        "WHERE e.run_id = :r AND a.step = 'each'",
        r=run_id,
    )
    tally.sent, tally.completed, tally.duplicated, tally.lost = children, done, tried - done, children - done
    assert run.status == "succeeded", run.error
    assert done == children and run.counts["children_ok"] == children
    # A step the killed worker held was done again at most once per message it held (its prefetch): never
    # more attempts than deliveries, and the effect once.
    assert tried - done <= 4 * 2  # threads x (held + prefetched) of the one killed worker process


def test_a_worker_stopped_mid_step_finishes_the_step_once_and_the_run_goes_on(service, processes, vhost, tally):
    worker = processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("long-step", {"seconds": 4})
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 1,
        30,
        what="the step to start",
    )
    worker.terminate()
    tally.faults.append("worker SIGTERM mid-step")
    assert worker.popen.wait(60) == 0
    processes("worker")
    run = wait_run_ended(service, run_id, timeout_s=60)
    tally.sent, tally.completed = 2, scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r", r=run_id)
    started = scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'")
    tally.duplicated, tally.lost = started - 1, 2 - tally.completed
    assert run.status == "succeeded"
    assert started == 1  # finished by the stopping worker, not handed back and started again
    assert tally.completed == 2


@pytest.mark.schedules("noop,pulse")
def test_a_scheduler_killed_across_ticks_catches_up_as_configured_and_starts_no_tick_twice(
    service, processes, vhost, tally
):
    # A tick unclaimed 20 s after its time counts as missed (120 s by default): the test need not wait minutes.
    quick = {"WRLS_MISSED_AFTER_S": "20"}
    processes("worker")
    wait_worker_ready(vhost)
    scheduler = processes("scheduler", extra_env=quick)
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = 'pulse'") >= 1,
        40,
        what="the first 15-second tick",
    )
    # Killing a scheduler loses nothing of the minute it was in: its ticks were queued (delayed) at the minute's
    # start, and a scheduler that starts sends the latest past tick of its current minute and the rest. So the
    # outage covers one whole minute, from its 50th second to the 2nd of the minute after next: that minute's
    # ticks are nobody's.
    svc.wait_for(lambda: 50 <= datetime.now(UTC).second < 55, 70, interval_s=0.2, what="the 50th second of a minute")
    scheduler.kill(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    tally.faults.append("scheduler SIGKILL")
    orphan = killed_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    time.sleep((orphan + timedelta(minutes=1, seconds=2) - datetime.now(UTC)).total_seconds())
    processes("scheduler", extra_env=quick)
    back_at = datetime.now(UTC)
    tally.faults.append("scheduler restarted")

    scheduling = service.scheduling
    due = {
        name: fire_times(scheduling.schedules[name], killed_at, back_at, scheduling.tz) for name in ("noop", "pulse")
    }
    assert all(len(times) >= 2 for times in due.values())

    def outage():
        rows = query(
            service,
            "SELECT schedule, nominal_time, outcome, run_id FROM jobs.ticks WHERE nominal_time > :k "
            "AND nominal_time < :b ORDER BY nominal_time",
            k=killed_at,
            b=back_at,
        )
        # Every tick due in the outage is recorded once the watch gets past it.
        return (
            rows
            if all(
                sorted(r.nominal_time for r in rows if r.schedule == name) == list(times) for name, times in due.items()
            )
            else None
        )

    ticks = svc.wait_for(outage, 90, interval_s=1, what="every tick of the outage in the ledger")
    pulse = [t for t in ticks if t.schedule == "pulse"]
    noop = [t for t in ticks if t.schedule == "noop"]
    # The orphaned minute: latest runs the newest tick the watch finds late (unless a newer one has run since),
    # none only records its ticks. (Ticks of the minutes either side were sent by a scheduler and start.)
    orphaned = [t for t in ticks if orphan <= t.nominal_time < orphan + timedelta(minutes=1)]
    assert "caught-up" in [t.outcome for t in orphaned if t.schedule == "pulse"]
    assert {t.outcome for t in orphaned if t.schedule == "pulse"} <= {"missed", "caught-up"}
    assert {t.outcome for t in orphaned if t.schedule == "noop"} == {"missed"}
    assert {t.outcome for t in pulse} <= {"missed", "caught-up", "started", "late", "skipped-overlap"}
    assert {t.outcome for t in noop} <= {"missed", "started", "late", "skipped-overlap"}
    for caught in (t for t in pulse if t.outcome == "caught-up"):
        assert wait_run_ended(service, str(caught.run_id), timeout_s=30).status == "succeeded"
    # And the schedule keeps time afterwards.
    svc.wait_for(
        lambda: (
            scalar(
                service,
                "SELECT count(*) FROM jobs.ticks WHERE schedule = 'pulse' "
                "AND outcome = 'started' AND nominal_time > :b",
                b=back_at,
            )
            >= 1
        ),
        40,
        interval_s=1,
        what="a pulse tick on time after the restart",
    )
    # No tick started twice: one run per (job, nominal time), and a run for every tick that claims one.
    runs = query(
        service,
        "SELECT job, nominal_time, count(*) AS n FROM jobs.runs WHERE nominal_time IS NOT NULL "
        "GROUP BY job, nominal_time",
    )
    every = query(service, "SELECT outcome FROM jobs.ticks WHERE schedule IN ('noop', 'pulse')")
    tally.sent = len(every)
    tally.completed = len(runs)
    tally.duplicated = sum(r.n - 1 for r in runs)
    tally.lost = sum(1 for t in every if t.outcome in ("started", "late", "caught-up")) - len(runs)
    assert tally.duplicated == 0 and tally.lost == 0
