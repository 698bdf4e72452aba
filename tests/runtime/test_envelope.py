import json

import pytest

from wrls_actors.runtime import BadMessage
from wrls_actors.runtime.envelope import EnvelopeEncoder, start_arguments, step_arguments


def test_a_minimal_message_gets_defaults_and_a_stable_id():
    body = json.dumps({"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "x"}}).encode()
    first = EnvelopeEncoder().decode(body)
    second = EnvelopeEncoder().decode(body)
    assert first["args"] == [] and first["options"] == {} and first["kwargs"] == {"job": "x"}
    assert first["message_id"] == second["message_id"]


@pytest.mark.parametrize("body, reason", [
    (b"\xff\xfe", "body is not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"actor_name": "a"}', "lacks queue_name"),
    (b'{"queue_name": "q", "actor_name": "a", "kwargs": []}', "kwargs must be a JSON object"),
    (b'{"queue_name": "q", "actor_name": "a", "colour": 1}', "unknown fields: colour"),
])
def test_bad_bodies_are_reported_with_the_reason(body, reason):
    reports = []
    with pytest.raises((BadMessage, ValueError)):  # ValueError: not UTF-8, not JSON
        EnvelopeEncoder(lambda data, why: reports.append((data, why))).decode(body)
    assert len(reports) == 1 and reason in reports[0][1] and reports[0][0] == body


def test_a_body_over_the_size_limit_is_refused_before_it_is_parsed():
    reports = []
    encoder = EnvelopeEncoder(lambda data, why: reports.append(why), max_bytes=100)
    body = b"{" + b" " * 200  # not JSON either: the size is what it is refused for
    with pytest.raises(BadMessage, match="body is 201 bytes, over the limit of 100"):
        encoder.decode(body)
    assert reports == ["body is 201 bytes, over the limit of 100"]
    ok = json.dumps({"queue_name": "q", "actor_name": "a"}).encode()
    assert len(ok) <= 100 and encoder.decode(ok)["actor_name"] == "a"


def test_step_arguments_are_checked():
    run_id, params, item = step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10", "item": 3}, child=True)
    assert str(run_id) == "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10" and params == {} and item == 3
    with pytest.raises(BadMessage, match="missing argument run_id"):
        step_arguments({}, child=False)
    with pytest.raises(BadMessage, match="missing argument item"):
        step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10"}, child=True)
    with pytest.raises(BadMessage, match="unexpected arguments: item"):
        step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10", "item": 1}, child=False)


def test_start_arguments_are_checked():
    assert start_arguments({"job": "a", "params": {"k": 1}}, {"a": object()}) == ("a", {"k": 1}, False)
    with pytest.raises(BadMessage, match="unknown job 'b'"):
        start_arguments({"job": "b"}, {"a": object()})
    with pytest.raises(BadMessage, match="force must be true or false"):
        start_arguments({"job": "a", "force": "yes"}, {"a": object()})
