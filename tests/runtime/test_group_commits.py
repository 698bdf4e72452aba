"""The committers' group commit (group_commits.py), through the start committer against the real database:
a hand-over written together and woken together, a repeat within it written after it, and an error reaching
every waiter of its group without stopping the next."""

import uuid
from datetime import UTC, datetime

import psycopg2
import pytest

from tests.support.helpers import query
from wrls_actors.runtime.starts import RUN, Start, StartCommitter


def start(run_id: str, message_id: str | None = None) -> Start:
    return Start(
        message_id or str(uuid.uuid4()),
        datetime.now(UTC).date(),
        run_id,
        "pipeline.step0",
        "short",
        1,
        "pipeline",
        0,
        1000,
    )


def test_a_hand_over_is_written_together_and_its_waiters_share_one_wake_up(service):
    run_id = service.trigger("pipeline")
    committer = service.ledger.starts
    starts = [start(run_id) for _ in range(5)]
    committer.submit_all(starts)
    for s in starts:
        assert committer.wait(s).verdict == RUN
    assert len({id(s.done) for s in starts}) == 1
    rows = query(service, "SELECT message_id FROM jobs.steps WHERE status = 'running'")
    assert sorted(r.message_id for r in rows) == sorted(s.message_id for s in starts)


def test_a_message_repeated_within_one_hand_over_is_written_after_its_first_copy(service):
    # One statement cannot update the same row twice (ON CONFLICT DO UPDATE): the copy goes in a second round.
    run_id = service.trigger("pipeline")
    committer = service.ledger.starts
    first = start(run_id)
    copy = start(run_id, first.message_id)
    committer.submit_all([first, start(run_id), copy])
    assert committer.wait(first).verdict == RUN
    assert committer.wait(copy).verdict == RUN
    assert query(service, "SELECT count(*) AS n FROM jobs.steps WHERE message_id = :m", m=first.message_id)[0].n == 1


def test_a_start_never_handed_over_is_not_waited_for():
    with pytest.raises(RuntimeError, match="was never handed over"):
        StartCommitter(lambda: None).wait(start(str(uuid.uuid4())))  # type: ignore[arg-type,return-value]


def test_a_group_whose_connection_died_fails_every_waiter_and_the_next_group_is_written_anew(service):
    run_id = service.trigger("pipeline")
    committer = service.ledger.starts
    committer.start(start(run_id))  # the committer's connection is open
    with service.engine.begin() as connection:
        killed = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar()
    assert killed >= 1
    group = [start(run_id), start(run_id)]
    committer.submit_all(group)
    for s in group:
        with pytest.raises(psycopg2.OperationalError):
            committer.wait(s)
    after = start(run_id)
    committer.submit_all([after])
    assert committer.wait(after).verdict == RUN
