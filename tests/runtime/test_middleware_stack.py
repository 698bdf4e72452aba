"""The broker's middleware stack: the ledger's concerns in middlewares of their own, in one order.

Behaviour of each is tested where it shows, on real workers: recording in
test_pipelines.py and test_messages.py (an unknown actor), start checks in
test_messages.py (strays, duplicates), the delivery limit in
test_recovery.py, heartbeats and the stall sweep in test_heartbeats.py and
test_recovery.py, run reactions in test_pipelines.py (a failed step fails its
run, a failed child is counted at its barrier).
"""

from dramatiq.middleware import AgeLimit, Middleware, Pipelines, Retries, ShutdownNotifications, TimeLimit

from wrls_actors.runtime.broker import ScheduleOptions
from wrls_actors.runtime.child_batches import ChildBatches
from wrls_actors.runtime.delivery_limit import DeliveryLimit
from wrls_actors.runtime.heartbeats import Heartbeats
from wrls_actors.runtime.recording import Recorder
from wrls_actors.runtime.run_reactions import RunReactions
from wrls_actors.runtime.signing import Signatures
from wrls_actors.runtime.start_checks import StartChecks

HOOKS = sorted(name for name in vars(Middleware) if name.startswith(("before_", "after_")))

OWN_HOOKS = {
    Recorder: {
        "after_enqueue",
        "before_process_message",
        "after_process_message",
        "after_skip_message",
        "after_nack",
        "after_worker_shutdown",
    },
    StartChecks: {"before_process_message"},
    DeliveryLimit: {"before_process_message"},
    Heartbeats: {
        "after_process_boot",
        "after_worker_boot",
        "before_worker_shutdown",
        "before_process_message",
        "after_process_message",
        "after_skip_message",
    },
    RunReactions: {"after_process_message", "after_skip_message"},
}


def overridden(cls: type) -> set[str]:
    return {name for name in HOOKS if getattr(cls, name) is not getattr(Middleware, name)}


def test_the_hooks_are_dramatiqs():
    # Guards the check below: a renamed hook in Dramatiq would make every class look clean.
    assert {
        "before_process_message",
        "after_process_message",
        "after_skip_message",
        "after_nack",
        "after_enqueue",
        "after_process_boot",
        "after_worker_boot",
        "before_worker_shutdown",
        "after_worker_shutdown",
    } <= set(HOOKS)


def test_each_ledger_middleware_overrides_only_the_hooks_of_its_concern():
    found = {cls: overridden(cls) for cls in OWN_HOOKS}
    assert found == OWN_HOOKS


def test_only_the_recorder_records_enqueues_and_nacks_and_only_heartbeats_start_a_thread():
    owners = {hook: sorted(cls.__name__ for cls in OWN_HOOKS if hook in overridden(cls)) for hook in HOOKS}
    assert owners["after_enqueue"] == owners["after_nack"] == ["Recorder"]
    assert owners["after_process_boot"] == owners["after_worker_boot"] == ["Heartbeats"]


def test_the_services_broker_has_the_stack_in_its_order(service):
    stack = service.broker.middleware
    assert [type(m) for m in stack] == [
        Signatures,
        AgeLimit,
        TimeLimit,
        ShutdownNotifications,
        Pipelines,
        RunReactions,
        Recorder,
        StartChecks,
        DeliveryLimit,
        Heartbeats,
        Retries,
        ScheduleOptions,
        ChildBatches,
    ]
    ledger = service.ledger
    assert [m for m in stack if type(m) in OWN_HOOKS] == [
        ledger.run_reactions,
        ledger.recorder,
        ledger.start_checks,
        ledger.delivery_limit,
        ledger.heartbeats,
    ]
    # The heartbeat records its running rows through the recorder's writer, not a writer of its own.
    assert ledger.heartbeats._record == ledger.recorder.record


def test_child_batches_hooks_no_message_only_the_workers_boot():
    # Its threads run each message of a batch through the stack above, unchanged.
    assert overridden(ChildBatches) == {"before_worker_boot"}


def test_the_order_keeps_each_reason_in_broker_py(service):
    position = {type(m): i for i, m in enumerate(service.broker.middleware)}
    assert all(position[cls] < position[Retries] for cls in OWN_HOOKS), "after_* hooks must see Retries' decision"
    assert position[Signatures] == 0, "a forged message must reach no other middleware"
    assert min(position[cls] for cls in (Recorder, StartChecks, DeliveryLimit, Heartbeats)) == position[Recorder], (
        "the recorder stamps the start and log context the others use"
    )
    assert position[StartChecks] < position[DeliveryLimit], "a refused message must not be counted in jobs.steps"
    assert position[Heartbeats] == position[Retries] - 1, "only a message that passed every check is watched"
    assert position[RunReactions] < position[Recorder], "a run reacts once the failure is recorded"


def test_the_actor_options_the_middlewares_read_are_declared_by_them(service):
    assert {"step_role", "job_name", "step_index", "public", "periodic", "batchable"} <= service.broker.actor_options
    assert StartChecks.actor_options == {"step_role", "job_name", "step_index"}
    assert RunReactions.actor_options == {"step_role", "step_index"}
    assert Recorder.actor_options == {"job_name"}
