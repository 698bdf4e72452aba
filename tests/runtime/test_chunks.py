"""A chunk of a fan-out's items done together, with each item's failure its own (runtime/chunks.py)."""

from collections import Counter

import pytest
from dramatiq import Message

from wrls_actors.runtime import Job, PermanentError, Step
from wrls_actors.runtime.child_ids import child_message_id
from wrls_actors.runtime.chunks import name_item, run_chunk
from wrls_actors.runtime.envelope import chunk_arguments
from wrls_actors.runtime.errors import BadMessage, ConfigurationError
from wrls_actors.runtime.run_reactions import failed_items

RUN = "5b0e6c52-8a0e-4f43-9a43-1c1f4b4b0c11"


class Work:
    """Does a list of items as one transaction would: all of them, or none if one is bad."""

    def __init__(self, bad=(), error=PermanentError) -> None:
        self.bad, self.error = set(bad), error
        self.done: list[int] = []
        self.calls: list[list[int]] = []

    def __call__(self, items: list[int]) -> Counter[str]:
        self.calls.append(list(items))
        bad = [i for i in items if i in self.bad]
        if bad:
            raise self.error(f"item {bad[0]} is bad")
        self.done += items
        return Counter(done=len(items))


def test_a_chunk_without_bad_items_is_one_call():
    work = Work()
    outcome = run_chunk(work, list(range(100)), 0, last_attempt=False)
    assert (outcome.calls, outcome.failures, outcome.counts) == (1, [], Counter(done=100))


def test_one_bad_item_fails_alone_named_at_its_position_and_the_others_are_done():
    work = Work(bad={137})
    outcome = run_chunk(work, list(range(100, 200)), 100, last_attempt=False)
    assert [(f.position, f.item) for f in outcome.failures] == [(137, 137)]
    assert "item 137 is bad" in outcome.failures[0].error
    assert sorted(work.done) == [i for i in range(100, 200) if i != 137]
    assert outcome.counts == Counter(done=99)
    assert outcome.calls <= 2 * 7 + 1  # halving: about 2 x log2(100) calls, not 100


def test_several_bad_items_each_fail_alone_in_their_order():
    work = Work(bad={0, 5, 6, 99})
    outcome = run_chunk(work, list(range(100)), 0, last_attempt=False)
    assert [f.position for f in outcome.failures] == [0, 5, 6, 99]
    assert len(work.done) == 96 and len(set(work.done)) == 96


def test_an_error_that_may_pass_fails_the_message_for_a_retry_until_its_last_attempt():
    work = Work(bad={3}, error=ConnectionError)
    with pytest.raises(ConnectionError, match="item 3 is bad"):
        run_chunk(work, list(range(8)), 0, last_attempt=False)
    # On the last attempt the item fails alone instead, and the others are done.
    work = Work(bad={3}, error=ConnectionError)
    outcome = run_chunk(work, list(range(8)), 0, last_attempt=True)
    assert [(f.position, f.error) for f in outcome.failures] == [(3, "ConnectionError: item 3 is bad")]
    assert sorted(work.done) == [0, 1, 2, 4, 5, 6, 7]


def test_an_item_is_named_as_it_is_or_as_json_and_cut_short():
    assert name_item("03/28/61/0032") == "03/28/61/0032"
    assert name_item({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert len(name_item("x" * 1000)) == 200


def test_a_chunk_message_that_failed_for_good_names_each_of_its_items():
    message = Message(
        queue_name="q",
        actor_name="job.each",
        args=(),
        kwargs={"run_id": RUN, "params": {}, "items": ["a", "b"], "first": 8},
        options={},
    )
    assert failed_items(RUN, 0, message, "boom") == [
        {"position": 8, "item": "a", "error": "boom"},
        {"position": 9, "item": "b", "error": "boom"},
    ]
    one = Message(
        queue_name="q",
        actor_name="job.each",
        args=(),
        kwargs={"run_id": RUN, "params": {}, "item": "c"},
        options={},
        message_id=child_message_id(RUN, 0, 41),
    )
    assert failed_items(RUN, 0, one, "boom") == [{"position": 41, "item": "c", "error": "boom"}]
    assert failed_items(RUN, 0, Message("q", "job.each", (), {"run_id": RUN}, {}), "boom") == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"run_id": RUN, "items": [], "first": 0}, "items must be a list of 1 to 1000 items"),
        ({"run_id": RUN, "items": "abc", "first": 0}, "items must be a list"),
        ({"run_id": RUN, "items": [1], "first": -1}, "first must be the position"),
        ({"run_id": RUN, "items": [1], "first": True}, "first must be the position"),
        ({"run_id": RUN, "items": [1]}, "first must be the position"),
        ({"run_id": RUN, "items": [1], "first": 0, "item": 1}, "unexpected arguments: item"),
        ({"run_id": "nope", "items": [1], "first": 0}, "run_id is not a UUID"),
    ],
)
def test_a_malformed_chunk_message_is_refused_naming_what_is_wrong(kwargs, error):
    with pytest.raises(BadMessage, match=error):
        chunk_arguments(kwargs)


def test_a_chunk_size_is_declared_on_a_fan_outs_child_within_bounds():
    assert Step("each", print, chunk=100).chunk == 100
    for bad in (0, 1001, 2.5):
        with pytest.raises(ConfigurationError, match="chunk must be 1 to 1000 items"):
            Step("each", print, chunk=bad)
    with pytest.raises(ConfigurationError, match="chunk belongs on the fan-out's child step"):
        Step("prepare", print, fan_out=Step("each", print), chunk=10)


def test_a_chunk_on_a_step_that_is_not_a_fan_outs_child_is_refused():
    with pytest.raises(ConfigurationError, match="chunk is for a fan-out's child step, not for work"):
        Job("j", (Step("work", print, chunk=10),))
