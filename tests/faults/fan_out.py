"""What the fan-out fault tests count: the sample app's fan-steady children, each an effect row
(`test_effects`, once per child however often it ran) and an attempt row per start (`test_attempts`)."""

from __future__ import annotations

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended


def effects(service, run_id: str) -> int:
    return scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)


def attempts(service, run_id: str) -> int:
    return scalar(
        service,
        """
        SELECT count(*) FROM test_attempts a JOIN test_effects e ON e.message_id = a.message_id AND e.step = a.step
        WHERE e.run_id = :r AND a.step = 'each'""",
        r=run_id,
    )


def wait_effects(service, run_id: str, at_least: int, timeout_s: float = 120) -> None:
    svc.wait_for(
        lambda: effects(service, run_id) >= at_least, timeout_s, interval_s=0.2, what=f"{at_least} children done"
    )


def check_fan_out(service, run_id: str, tally, children: int, timeout_s: float = 300) -> None:
    """Every child ended exactly once in the ledger and in effect; redone work is counted, not hidden."""
    run = wait_run_ended(service, run_id, timeout_s=timeout_s)
    done = effects(service, run_id)
    tally.sent, tally.completed = children, done
    tally.duplicated = attempts(service, run_id) - done
    tally.lost = children - done
    assert run.status == "succeeded", run.error
    assert done == children
    assert run.counts["children_ok"] == children  # each child's arrival counted once
    # In the ledger: one arrival per child; a child that succeeded at once keeps no jobs.steps row (its
    # arrival records it), one redelivered or retried keeps one, settled. No row is left running.
    arrivals = query(
        service,
        "SELECT count(*) AS n, count(DISTINCT message_id) AS messages, count(*) FILTER (WHERE failed) AS failed "
        "FROM jobs.barrier_arrivals WHERE run_id = :r",
        r=run_id,
    )[0]
    assert (arrivals.n, arrivals.messages, arrivals.failed) == (children, children, 0)
    rows = svc.wait_for(
        lambda: (lambda r: r if r.unsettled == 0 else None)(
            query(
                service,
                """
        SELECT count(*) FILTER (WHERE status <> 'succeeded') AS unsettled, count(*) AS rows,
               count(DISTINCT message_id) AS messages
        FROM jobs.steps WHERE run_id = :r AND actor = 'fan-steady.each'""",
                r=run_id,
            )[0]
        ),
        60,
        what="every child's ledger row settled",
    )
    assert rows.rows == rows.messages
