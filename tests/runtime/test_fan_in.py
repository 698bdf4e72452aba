"""The fan-in barrier against the real database: each child counted once, fired once."""

import pytest
from sqlalchemy import text

from tests.support.helpers import query, scalar
from wrls_actors.runtime.fan_in import MissingBarrier


def test_each_child_counts_once_and_the_barrier_fires_once_with_the_children_counts(service):
    run_id = service.trigger("fan", {"n": 2})
    control = service.control
    control.fan_out(run_id, 0, ["a", "b"])
    control.arrive(run_id, 0, "child-a", failed=False, counts={"rows": 1})
    control.arrive(run_id, 0, "child-a", failed=False, counts={"rows": 1})  # redelivered: not counted again
    barrier = query(service, "SELECT arrived, fired_at FROM jobs.barriers WHERE run_id = :r", r=run_id)[0]
    assert barrier.arrived == 1 and barrier.fired_at is None
    control.arrive(run_id, 0, "child-b", failed=True, counts={"rows": 2})
    barrier = query(service, "SELECT arrived, failed, counts, fired_at FROM jobs.barriers WHERE run_id = :r", r=run_id)[
        0
    ]
    assert (barrier.arrived, barrier.failed, barrier.counts) == (2, 1, {"rows": 3})
    assert barrier.fired_at is not None
    assert scalar(service, "SELECT step_index FROM jobs.runs WHERE run_id = :r", r=run_id) == 1
    control.arrive(run_id, 0, "child-b", failed=True)  # a repeat after firing moves nothing
    assert scalar(service, "SELECT step_index FROM jobs.runs WHERE run_id = :r", r=run_id) == 1


def test_a_child_of_a_barrier_that_does_not_exist_is_refused(service):
    run_id = service.trigger("fan", {"n": 2})
    with pytest.raises(MissingBarrier, match=f"no barrier for run {run_id} step 4"):
        service.control.arrive(run_id, 4, "stray", failed=False)


def test_a_complete_barrier_whose_firing_was_lost_is_fired_by_the_sweep(service):
    run_id = service.trigger("fan", {"n": 1})
    control = service.control
    control.fan_out(run_id, 0, ["a"])
    # The last child was counted, then its worker died before firing the barrier.
    control.committer.arrive(run_id, 0, "child-a", failed=False)
    assert scalar(service, "SELECT fired_at FROM jobs.barriers WHERE run_id = :r", r=run_id) is None
    assert control.fire_forgotten_barriers(older_than_s=60) == 0  # too recent: its own worker may still fire it
    with service.engine.begin() as connection:
        connection.execute(text("UPDATE jobs.barriers SET created_at = now() - interval '2 minutes'"))
        connection.execute(text("UPDATE jobs.barrier_arrivals SET arrived_at = now() - interval '2 minutes'"))
    assert control.fire_forgotten_barriers(older_than_s=60) == 1
    assert scalar(service, "SELECT step_index FROM jobs.runs WHERE run_id = :r", r=run_id) == 1
    assert control.fire_forgotten_barriers(older_than_s=60) == 0
