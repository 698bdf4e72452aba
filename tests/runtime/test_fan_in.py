"""The fan-in barrier against the real database: each child counted once, fired once; found by its run's start
in one partition, or by the run id alone for a message from before the run_started_at option."""

import json
from datetime import UTC, datetime, timedelta

import pika
import pytest
from sqlalchemy import text

from tests.support import services as svc
from tests.support.helpers import add_run, query, scalar, wait_run_ended
from tests.support.messages import publish, signed
from wrls_actors.runtime import LedgerView, fan_in, partition_statements, runs, starts
from wrls_actors.runtime.child_ids import child_message_id
from wrls_actors.runtime.fan_in import Arrival, MissingBarrier
from wrls_actors.runtime.lifecycle import RUN_STARTED_AT, run_started_micros
from wrls_actors.runtime.retention import make_weeks, monday


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


def test_a_child_finds_its_barrier_by_its_runs_start_and_not_at_another_start(service):
    run_id = service.trigger("fan", {"n": 2})
    control = service.control
    control.fan_out(run_id, 0, ["a", "b"])
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    with pytest.raises(MissingBarrier, match=f"no barrier for run {run_id} step 0"):
        control.arrive(run_id, 0, "child-a", failed=False, run_started_at=started + timedelta(microseconds=1))
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 0
    assert scalar(service, "SELECT count(*) FROM jobs.barrier_arrivals") == 0
    control.arrive(run_id, 0, "child-a", failed=False, run_started_at=started)
    control.arrive(run_id, 0, "child-b", failed=False)  # an older message, without its run's start
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 2
    assert scalar(service, "SELECT step_index FROM jobs.runs WHERE run_id = :r", r=run_id) == 1


def _without_run_start(vhost: str, queue: str, keep) -> list[dict]:
    """Take every message off ``queue`` and publish back those ``keep`` accepts as a process from before
    the run_started_at option published them: without it, signed. Returns them as they were."""
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        bodies = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            bodies.append(json.loads(body))
    finally:
        connection.close()
    kept = [body for body in bodies if keep(body)]
    for body in kept:
        options = {k: v for k, v in body["options"].items() if k not in (RUN_STARTED_AT, "signature")}
        publish(vhost, queue, signed({**body, "options": options}))
    return kept


def test_children_published_without_their_runs_start_run_and_arrive(service, processes, vhost):
    run_id = service.trigger("fan", {"n": 3})
    service.control.fan_out(run_id, 0, [0, 1, 2])
    # The fan-out is done: its own message goes; the children are the older processes' kind.
    children = _without_run_start(vhost, "long", lambda body: body["actor_name"] == "fan.each")
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    assert [c["options"][RUN_STARTED_AT] for c in children] == [run_started_micros(started)] * 3
    processes("worker")
    assert wait_run_ended(service, run_id).status == "succeeded"
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 3
    # Each succeeded at once: its arrival, with its timings, is what the ledger keeps of it.
    children = LedgerView(service.engine).children(run_id, 0)
    assert [c.status for c in children] == ["succeeded"] * 3
    assert all(c.started_at is not None and c.duration_ms > 0 for c in children)
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE actor = 'fan.each'") == 0,
        10,
        what="the children's rows deleted",
    )


def _partitions_planned(plan: dict, table: str) -> set[str]:
    """The partitions of jobs.``table`` a plan (EXPLAIN, JSON) holds: each is locked and opened at each run,
    even when pruned then."""
    found = set()
    if plan.get("Relation Name", "").startswith(f"{table}_"):
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= _partitions_planned(child, table)
    return found


def test_with_a_year_of_weeks_a_start_and_an_arrival_plan_only_their_runs_partitions_and_once(service):
    today = datetime.now(UTC).date()
    make_weeks(service.engine, today - timedelta(weeks=53), today)
    run_id = service.trigger("fan", {"n": 4})
    service.control.fan_out(run_id, 0, ["a", "b", "c", "d"])
    with service.engine.connect() as connection:
        run = connection.execute(
            text("SELECT tableoid::regclass::text AS part, started_at FROM jobs.runs WHERE run_id = :r"), {"r": run_id}
        ).one()
        barrier = connection.execute(
            text("SELECT tableoid::regclass::text FROM jobs.barriers WHERE run_id = :r"), {"r": run_id}
        ).scalar_one()
    connection = service.engine.raw_connection()
    connection.dbapi_connection.autocommit = True  # as each committer's
    try:
        cursor = connection.cursor()

        def plan(statement: str, args) -> dict:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, args)
            return cursor.fetchone()[0][0]["Plan"]

        def start_args(message_id: str, started_at) -> tuple:
            return ([message_id], [run_id], ["fan.each"], ["long"], [1], ["fan"], [0], [None], [True], "w", [today],
                    started_at)  # fmt: skip

        def arrival_args(message_id: str, started_at) -> tuple:
            return ([run_id], [0], [message_id], [False], ["{}"], started_at, [1], [None], [None], [None])

        for setting in partition_statements.SETTINGS:
            cursor.execute(setting)
        start_statements, arrival_statements = starts.partition_statements(), fan_in.partition_statements()
        start_name = start_statements.statement_for(
            cursor, run.started_at, {"run_id": run_id, "started_at": run.started_at}
        )
        arrival_name = arrival_statements.statement_for(
            cursor, run.started_at, {"run_id": run_id, "index": 0, "started_at": run.started_at}
        )
        in_partition = [
            plan(starts.EXECUTE.format(start_name), start_args("child-a", run.started_at)),
            plan(fan_in.EXECUTE.format(arrival_name), arrival_args("child-a", run.started_at)),
        ]
        for child in ("child-b", "child-c"):
            cursor.execute(starts.EXECUTE.format(start_name), start_args(child, run.started_at))
            cursor.execute(fan_in.EXECUTE.format(arrival_name), arrival_args(child, run.started_at))
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name = ANY(%s)",
            ([start_name, arrival_name],),
        )
        plans_made = {name: (generic, custom) for name, generic, custom in cursor.fetchall()}
        # The fallbacks, sent as plain SQL: planned for their values.
        plain = partition_statements.plain_parameters
        by_key = plan(fan_in.BY_KEY, plain(arrival_args("child-d", run.started_at)))
        by_id = [
            plan(starts.BY_ID, plain(start_args("child-e", None))),
            plan(fan_in.BY_ID, plain(arrival_args("child-e", None))),
        ]
    finally:
        connection.close()
    # On its run's partition, each statement ran three times on its one generic plan, never planned again.
    assert plans_made == {start_name: (3, 0), arrival_name: (3, 0)}
    assert {p.removeprefix("jobs.") for p in (run.part, barrier)} == {
        *_partitions_planned(in_partition[0], "runs"),
        *_partitions_planned(in_partition[1], "barriers"),
    }
    assert len(_partitions_planned(in_partition[1], "barriers")) == 1
    assert "Subplans Removed" not in json.dumps(in_partition)
    assert _partitions_planned(by_key, "barriers") == {barrier.removeprefix("jobs.")}
    # Found by run id alone, every week is planned and read: what the run's start spares.
    assert len(_partitions_planned(by_id[0], "runs")) > 50
    assert len(_partitions_planned(by_id[1], "barriers")) > 50
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 5
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'running' AND run_id = :r", r=run_id) == 4


def test_with_a_year_of_weeks_a_fan_in_fires_and_settles_its_children_in_its_runs_weeks_only(service):
    today = datetime.now(UTC).date()
    make_weeks(service.engine, today - timedelta(weeks=53), today)
    run_id = service.trigger("fan", {"n": 2})
    service.control.fan_out(run_id, 0, ["a", "b"])
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    keys = {"run_id": run_id, "index": 0, "started": started, "first_day": runs.children_first_day(started)}
    with service.engine.connect() as connection:

        def plan(statement) -> dict:
            return connection.execute(text("EXPLAIN (FORMAT JSON) " + statement.text), keys).scalar_one()[0]["Plan"]

        fire, settle = plan(runs.FIRE_BARRIER), plan(runs.SETTLE_CHILDREN)
    # By run id and message id alone these read all 54 weeks of each table: a year's ledger made a fan-in
    # of 20,000 children take half a minute to fire.
    assert len(_partitions_planned(fire, "barriers")) == 1
    assert len(_partitions_planned(fire, "barrier_arrivals")) == 1
    assert len(_partitions_planned(settle, "barrier_arrivals")) == 1
    # No week before the one holding the day before the run (children's rows are never older), and the
    # empty weeks made ahead.
    weeks = _partitions_planned(settle, "steps") - {"steps_default"}
    assert weeks and min(weeks) == f"steps_p{monday(keys['first_day']):%Y%m%d}"


def test_in_one_group_only_the_child_at_a_start_not_its_runs_is_refused(service):
    run_id = service.trigger("fan", {"n": 2})
    service.control.fan_out(run_id, 0, ["a", "b"])
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    forged = started + timedelta(microseconds=1)
    group = [Arrival(run_id, 0, "child-a", False, {}, started), Arrival(run_id, 0, "child-b", False, {}, forged)]
    connection = service.engine.raw_connection()
    connection.dbapi_connection.autocommit = True
    try:
        cursor = connection.cursor()
        with pytest.raises(MissingBarrier) as refused:
            fan_in.write_group(cursor, group, fan_in.partition_statements())
    finally:
        connection.close()
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 1
    # What the committer matches to refuse that child alone (the other goes again).
    assert (refused.value.barrier, refused.value.run_started_at) == ((run_id, 0), forged)
    assert str(refused.value) == f"no barrier for run {run_id} step 0 of the run started at {forged.isoformat()}"


def test_a_start_and_an_arrival_whose_run_left_the_partition_their_statement_was_prepared_on_are_still_counted(
    service,
):
    """What retention does when it moves a week's rows out of the DEFAULT partition, as the committers see it:
    their statement for the run's start is on a partition that no longer holds the run."""
    today = datetime.now(UTC).date()
    make_weeks(service.engine, today - timedelta(weeks=3), today)
    run_id = service.trigger("fan", {"n": 2})
    service.control.fan_out(run_id, 0, ["a", "b"])
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    # A run and barrier two weeks back: the partition the statements are prepared on.
    elsewhere = add_run(service, "fan", started="now() - interval '14 days'")
    elsewhere_started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=elsewhere)
    with service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO jobs.barriers (run_id, step_index, expected, run_started_at) VALUES (:r, 0, 1, :s)"),
            {"r": elsewhere, "s": elsewhere_started},
        )
    connection = service.engine.raw_connection()
    connection.dbapi_connection.autocommit = True
    try:
        cursor = connection.cursor()
        for setting in partition_statements.SETTINGS:
            cursor.execute(setting)
        start_statements, arrival_statements = starts.partition_statements(), fan_in.partition_statements()
        start_statements.statement_for(cursor, started, {"run_id": elsewhere, "started_at": elsewhere_started})
        arrival_statements.statement_for(
            cursor, started, {"run_id": elsewhere, "index": 0, "started_at": elsewhere_started}
        )
        child = starts.Start("child-a", today, run_id, "fan.each", "long", 1, "fan", 0, None, run_started_at=started)
        starts.write_group(cursor, [child], "w", start_statements)
        arrival = Arrival(run_id, 0, "child-a", False, {}, started)
        fan_in.write_group(cursor, [arrival], arrival_statements)
        # Looked up again: the next group's statement is on the run's own partition.
        relocated = arrival_statements.statement_for(
            cursor, started, {"run_id": run_id, "index": 0, "started_at": started}
        )
    finally:
        connection.close()
    assert child.verdict == starts.RUN
    assert scalar(service, "SELECT status FROM jobs.steps WHERE message_id = 'child-a'") == "running"
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == 1
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=elsewhere) == 0
    barrier_oid = scalar(service, "SELECT tableoid::int FROM jobs.barriers WHERE run_id = :r", r=run_id)
    assert relocated == f"wrls_arrivals_{barrier_oid}"


def test_the_firing_settles_the_rows_its_children_left_running(service):
    # As a worker killed after its children arrived, before their ends reached the ledger, leaves them.
    run_id = service.trigger("fan", {"n": 2})
    service.control.fan_out(run_id, 0, ["a", "b"])
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    ids = [child_message_id(run_id, 0, position) for position in (0, 1)]
    for message_id in ids:
        start = starts.Start(
            message_id, datetime.now(UTC).date(), run_id, "fan.each", "long", 1, "fan", 0, None, run_started_at=started
        )
        assert service.ledger.starts.start(start).verdict == starts.RUN
    service.control.arrive(run_id, 0, ids[0], failed=False, run_started_at=started)
    service.control.arrive(run_id, 0, ids[1], failed=True, run_started_at=started)
    rows = query(
        service,
        "SELECT message_id, status, rank, finished_at FROM jobs.steps WHERE message_id IN :ids ORDER BY message_id",
        ids=tuple(ids),
    )
    assert {r.message_id: r.status for r in rows} == {ids[0]: "succeeded", ids[1]: "failed"}
    assert all(r.rank == 2 and r.finished_at is not None for r in rows)
