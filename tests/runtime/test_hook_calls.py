"""Hooks called only on the middleware that implement them (hook_calls.py): the same calls, in the same order,
with the same handling of errors, as Dramatiq's own broker makes."""

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, SkipMessage

from wrls_actors.runtime.broker import InProcess


class Both(Middleware):
    def __init__(self, calls: list[str], name: str) -> None:
        self.calls, self.name = calls, name

    def before_process_message(self, broker, message):
        self.calls.append(f"{self.name}.before")

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.calls.append(f"{self.name}.after")


class AfterOnly(Both):
    before_process_message = Middleware.before_process_message


class Failing(Both):
    def before_process_message(self, broker, message):
        self.calls.append(f"{self.name}.before")
        raise RuntimeError("a middleware's bug")


class Skipping(Both):
    def before_process_message(self, broker, message):
        self.calls.append(f"{self.name}.before")
        raise SkipMessage("skipped")


class Silent(Middleware):
    pass


def calls_made(broker_class, middleware_classes, later=()):
    calls: list[str] = []
    broker = broker_class(
        middleware=[cls(calls, f"m{i}") if cls is not Silent else cls() for i, cls in enumerate(middleware_classes)]
    )
    for cls in later:
        broker.add_middleware(cls(calls, f"later-{cls.__name__}"))
    outcome = "ran"
    try:
        broker.emit_before("process_message", None)
    except SkipMessage:
        outcome = "skipped"
    broker.emit_after("process_message", None, result=None)
    broker.emit_before("ack", None)  # implemented by none of them
    return calls, outcome


@pytest.mark.parametrize(
    "stack, later",
    [
        ([Both, Silent, AfterOnly, Both], ()),
        ([Silent, Failing, Both], ()),
        ([Both, Skipping, Both], ()),
        ([Both, Silent], (AfterOnly, Both)),
    ],
    ids=["mixed", "a hook raising", "a message skipped", "middleware added later"],
)
def test_the_hooks_called_are_dramatiqs_own_in_its_order(stack, later):
    ours = calls_made(InProcess, stack, later)
    assert ours == calls_made(StubBroker, stack, later)
    assert ours[0]  # something was called: the comparison is not between two empty lists


def test_a_middleware_list_changed_in_place_is_read_again():
    calls: list[str] = []
    broker = InProcess(middleware=[Both(calls, "first")])
    broker.emit_before("process_message", None)
    broker.middleware.append(Both(calls, "appended"))
    broker.emit_before("process_message", None)
    assert calls == ["first.before", "first.before", "appended.before"]
