"""A fan-out's child message ids: consecutive by position, read back to positions (of today's kind and of the
older, one-uuid5-per-child kind), and a fan-out sent again sends only the children not arrived, under the
ids they had."""

import json
import uuid

import pika

from tests.support import services as svc
from tests.support.helpers import scalar
from wrls_actors.runtime.child_ids import child_message_id, child_positions, legacy_child_message_id


def test_a_fan_outs_children_are_consecutive_in_the_ledgers_key_order():
    run_id = str(uuid.uuid4())
    ids = [child_message_id(run_id, 2, p) for p in (*range(300), 70_999, 2**40)]
    # Text order (jobs.steps' key, COLLATE "C" or not: hex digits and hyphens only) is position order.
    assert sorted(ids) == ids
    assert len({i[:24] for i in ids}) == 1
    assert child_message_id(run_id, 3, 0)[:24] != ids[0][:24]
    assert all(uuid.UUID(i).version == 5 for i in ids)


def test_child_positions_finds_each_derived_id_of_either_kind_and_nothing_else():
    run_id = str(uuid.uuid4())
    derived = {child_message_id(run_id, 2, p): p for p in (0, 7, 4_999)}
    older = {legacy_child_message_id(run_id, 2, p): p for p in (1, 8, 4_998)}
    others = [
        "not-a-uuid",
        child_message_id(run_id, 3, 7),
        child_message_id(str(uuid.uuid4()), 2, 7),
        legacy_child_message_id(run_id, 3, 7),
        str(uuid.uuid4()),
    ]

    assert child_positions(run_id, 2, 5_000, [*derived, *older, *others]) == {**derived, **older}
    # Past the fan-out's size there is no position to find.
    assert child_positions(run_id, 2, 4_999, [*derived, *older]) == {
        k: v for k, v in {**derived, **older}.items() if v < 4_999
    }


def _queued_ids(vhost: str, queue: str) -> list[str]:
    """Take every message off ``queue``; the ids of the fan-out's children among them."""
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        ids = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            message = json.loads(body)
            if message["actor_name"] == "fan.each":
                ids.append(message["message_id"])
    finally:
        connection.close()


def test_a_fan_out_sent_again_sends_the_children_not_arrived_under_the_ids_they_had(service, vhost):
    run_id = service.trigger("fan", {"n": 3})
    service.control.fan_out(run_id, 0, ["a", "b", "c"])
    assert _queued_ids(vhost, "long") == [child_message_id(run_id, 0, p) for p in range(3)]
    service.control.arrive(run_id, 0, child_message_id(run_id, 0, 1), failed=False)

    service.control.fan_out(run_id, 0, ["a", "b", "c"])  # its message redelivered

    assert sorted(_queued_ids(vhost, "long")) == sorted(child_message_id(run_id, 0, p) for p in (0, 2))


def test_a_fan_out_begun_under_the_older_ids_goes_on_under_them(service, vhost):
    # As a runtime from before child_ids left it: the barrier made, one child arrived under its older id.
    older = service.trigger("fan", {"n": 3})
    service.control.fan_out(older, 0, ["a", "b", "c"])
    _queued_ids(vhost, "long")
    service.control.arrive(older, 0, legacy_child_message_id(older, 0, 2), failed=False)

    service.control.fan_out(older, 0, ["a", "b", "c"])

    assert sorted(_queued_ids(vhost, "long")) == sorted(legacy_child_message_id(older, 0, p) for p in (0, 1))
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=older) == 1
