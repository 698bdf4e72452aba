"""Run reactions: what a step or child that failed for good does to its run.

A step's final failure fails its run; a child's is counted at its barrier, as
an arrival that failed. The reaction is taken in the ``after_*`` hooks, which
run after Retries has decided the failure is final and before Dramatiq
rejects the message: if this process dies in between, the message is
redelivered and fails again, so the reaction is not lost. (A step that
succeeds moves its run on itself, in the actor: service.py.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.middleware import Middleware

from .child_ids import child_position
from .lifecycle import CHILD, STEP, Message, actor_options, describe, run_started_at, valid_run_id
from .recording import SKIPPED

if TYPE_CHECKING:
    from .runs import RunControl

logger = logging.getLogger(__name__)


def failed_items(run_id: str, index: int, message: Message, error: str) -> list[dict[str, Any]]:
    """The items of a child message that failed for good, each named with the message's error.

    A chunk's items are at ``first`` onwards; a child of one item is at the
    position its id carries. A message too malformed to name its items
    names none (its arrival still counts one item, failed).
    """
    kwargs = message.kwargs if isinstance(message.kwargs, dict) else {}
    items, first = kwargs.get("items"), kwargs.get("first")
    if isinstance(items, list) and isinstance(first, int):
        return [{"position": first + n, "item": item, "error": error} for n, item in enumerate(items)]
    if "item" in kwargs:
        return [{"position": child_position(run_id, index, message.message_id), "item": kwargs["item"], "error": error}]
    return []


class RunReactions(Middleware):
    """Fails the run of a step, or counts at its barrier a child, that failed for good."""

    actor_options = {"step_role", "step_index"}

    def __init__(self, control_factory: Callable[[], RunControl]) -> None:
        self._control_factory = control_factory

    def after_process_message(
        self, broker: dramatiq.Broker, message: Message, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is not None and message.failed:
            self._final_failure(broker, message, f"{message.actor_name} failed: {describe(exception)}")

    def after_skip_message(self, broker: dramatiq.Broker, message: Message) -> None:
        # A refused message is not its run's step, and a skip that did not fail the message leaves its run be.
        if getattr(message, "_ledger_handled", False) or not message.failed:
            return
        poison = getattr(message, "_ledger_poison", None)
        reason = (
            f"{message.actor_name} dead-lettered after at least {poison} start{'' if poison == 1 else 's'} without finishing"
            if poison is not None
            else f"{message.actor_name} {SKIPPED}"
        )
        self._final_failure(broker, message, reason)

    def _final_failure(self, broker: dramatiq.Broker, message: Message, error: str) -> None:
        options = actor_options(broker, message)
        role = options.get("step_role")
        run_id = valid_run_id(message)
        if role not in (STEP, CHILD) or not run_id:
            return
        self._retrying(lambda: self._react(role, options, run_id, message, error))

    def _react(self, role: str, options: dict[str, Any], run_id: str, message: Message, error: str) -> None:
        control = self._control_factory()
        if role == CHILD:
            failures = failed_items(run_id, options["step_index"], message, error)
            control.arrive(
                run_id,
                options["step_index"],
                message.message_id,
                failed=True,
                run_started_at=run_started_at(message.options),
                items=max(len(failures), 1),
                failures=failures,
            )
        else:
            control.fail(run_id, error)

    @staticmethod
    def _retrying(action: Callable[[], None], attempts: int = 5) -> None:
        # Hook exceptions are swallowed by Dramatiq, so a lost reaction would
        # leave a run hanging: try a few times before giving up loudly.
        delay_s = 0.5
        for attempt in range(1, attempts + 1):
            try:
                action()
                return
            except Exception:
                if attempt == attempts:
                    logger.exception("could not record a final failure in the run ledger")
                    raise
                time.sleep(delay_s)
                delay_s *= 2
