"""Dead letters listed and replayed once (runtime/dead_letters.py): real worker process, RabbitMQ and PostgreSQL."""

import threading

import pika
import pytest

from tests.support import services as svc
from tests.support.helpers import attempts, break_sample, mend_sample, query, scalar, wait_run_ended, wait_worker_ready
from tests.support.processes import run_cli
from wrls_actors.runtime.dead_letters import AlreadyReplayed, NoSuchDeadLetter, NotReplayable
from wrls_actors.runtime.runs import step_message_id


def dead_letter_count(service, queue) -> int:
    """Straight from RabbitMQ, not through the code under test."""
    connection = pika.BlockingConnection(pika.URLParameters(service.settings.broker_url))
    try:
        return connection.channel().queue_declare(f"{queue}.XQ", passive=True).method.message_count
    finally:
        connection.close()


def failed_fixable(service, processes, vhost) -> str:
    processes("worker")
    wait_worker_ready(vhost)
    break_sample(service, "step")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    svc.wait_for(lambda: service.dead_letters().letters, what="the failed step's dead letter")
    return run_id


def test_a_failed_step_is_listed_with_its_reason_and_replayed_once_then_its_run_completes(service, processes, vhost):
    run_id = failed_fixable(service, processes, vhost)
    message_id = step_message_id(run_id, 1)

    listed = service.dead_letters()

    [letter] = listed.letters
    assert (letter.message_id, letter.queue, letter.actor, letter.run_id) == (
        message_id,
        "short",
        "fixable.check",
        run_id,
    )
    assert letter.status == "failed"
    assert "broken until fixed" in letter.reason
    assert letter.dead_lettered_at is not None and letter.replayed_at is None
    assert listed.depths["short"] == 1 and not listed.truncated
    # Listing took nothing away.
    assert dead_letter_count(service, "short") == 1
    mend_sample(service)

    replayed = service.replay(message_id, operator="ops@example", reason="input fixed")

    assert (replayed.message_id, replayed.queue, replayed.actor, replayed.run_id) == (
        message_id,
        "short",
        "fixable.check",
        run_id,
    )
    run = wait_run_ended(service, run_id)
    assert (run.status, run.error) == ("succeeded", None)
    assert attempts(service, "check:tried") == 2
    assert dead_letter_count(service, "short") == 0
    [event] = query(service, "SELECT operator, reason, detail, run_id::text FROM jobs.events WHERE kind = 'replayed'")
    assert (event.operator, event.reason, event.run_id) == ("ops@example", "input fixed", run_id)
    assert event.detail == "replayed from short.XQ to short by ops@example; its run runs again"
    with pytest.raises(AlreadyReplayed, match="replayed once"):
        service.replay(message_id, operator="ops", reason="again")


def test_two_replays_at_once_move_the_message_once(service, processes, vhost):
    run_id = failed_fixable(service, processes, vhost)
    message_id = step_message_id(run_id, 1)
    mend_sample(service)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def replay(who):
        start.wait()
        try:
            outcomes.append(service.replay(message_id, operator=who, reason="both at once"))
        except AlreadyReplayed as e:
            outcomes.append(e)

    threads = [threading.Thread(target=replay, args=(who,)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyReplayed", "Replayed"]
    assert wait_run_ended(service, run_id).status == "succeeded"
    assert attempts(service, "check:tried") == 2
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'replayed'") == 1
    assert dead_letter_count(service, "short") == 0


def test_replaying_one_child_leaves_the_others_in_place_and_in_order(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "long")
    break_sample(service, "1", "2", "3")
    run_id = service.trigger("fan-fixable", {"n": 5})
    assert wait_run_ended(service, run_id).status == "failed"
    svc.wait_for(lambda: len(service.dead_letters().letters) == 3, what="three dead children")
    before = [letter.message_id for letter in service.dead_letters().letters]
    assert all("is broken until fixed" in letter.reason for letter in service.dead_letters().letters)
    mend_sample(service)

    service.replay(before[1], operator="ops", reason="this one is fixed")

    # Its fan-in fires again once the child arrives: the two still failed fail the run again.
    run = wait_run_ended(service, run_id)
    svc.wait_for(lambda: attempts(service, "each:1") + attempts(service, "each:2") + attempts(service, "each:3") == 4)
    assert (run.status, run.children_failed) == ("failed", 2)
    after = [letter.message_id for letter in service.dead_letters().letters]
    assert after == [before[0], before[2]]


def test_a_dead_letter_whose_run_moved_on_is_refused_and_stays(service, processes, vhost):
    run_id = failed_fixable(service, processes, vhost)
    message_id = step_message_id(run_id, 1)
    mend_sample(service)
    service.retry(run_id, operator="ops", reason="retried instead")
    assert wait_run_ended(service, run_id).status == "succeeded"

    with pytest.raises(NotReplayable, match="is succeeded at step 3, so its step 1 cannot run again"):
        service.replay(message_id, operator="ops", reason="too late")

    assert dead_letter_count(service, "short") == 1
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'replayed'") == 0
    assert attempts(service, "check:tried") == 2


def test_unknown_and_malformed_ids_are_refused(service, processes, vhost):
    failed_fixable(service, processes, vhost)
    with pytest.raises(NoSuchDeadLetter, match="no dead letter nothing-here"):
        service.replay("nothing-here", operator="ops", reason="x")
    for bad in ("", "a b", "x" * 201, "é"):
        with pytest.raises(NoSuchDeadLetter, match="printable ASCII"):
            service.replay(bad, operator="ops", reason="x")
    assert dead_letter_count(service, "short") == 1


def test_a_body_that_is_no_message_is_listed_without_an_id_and_never_lost(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    connection = pika.BlockingConnection(pika.URLParameters(service.settings.broker_url))
    try:
        connection.channel().basic_publish(exchange="", routing_key="short", body=b"not json")
    finally:
        connection.close()
    svc.wait_for(lambda: service.dead_letters().letters, what="the refused body's dead letter")

    [letter] = service.dead_letters().letters

    assert (letter.message_id, letter.queue, letter.actor) == (None, "short", None)
    assert letter.reason == "the body is not a message (not JSON)"
    assert dead_letter_count(service, "short") == 1


def test_the_cli_lists_and_replays_once(service, processes, vhost, env):
    run_id = failed_fixable(service, processes, vhost)
    message_id = step_message_id(run_id, 1)
    mend_sample(service)

    listed = run_cli(env, "dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert message_id in listed.stdout and "broken until fixed" in listed.stdout
    assert listed.stdout.splitlines()[-1] == "1 dead letters"
    assert run_cli(env, "replay", message_id).returncode == 2  # --reason is required
    done = run_cli(env, "replay", message_id, "--reason", "fixed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"message {message_id} of fixable.check replayed to short (run {run_id})"
    assert wait_run_ended(service, run_id).status == "succeeded"
    again = run_cli(env, "replay", message_id, "--reason", "again")
    assert again.returncode == 4 and "replayed once" in again.stderr
    assert run_cli(env, "replay", "nothing-here", "--reason", "x").returncode == 4
    [event] = query(service, "SELECT operator FROM jobs.events WHERE kind = 'replayed'")
    assert event.operator.startswith("cli:")
