"""The ledger's middlewares for one service, built together from its settings.

Each middleware has one concern (recording.py, start_checks.py,
delivery_limit.py, heartbeats.py, run_reactions.py); broker.py puts them in
the stack, in order. This only builds them, wires the heartbeat to the
recorder's writer, and flushes or closes them as one for the processes and
the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from .delivery_limit import DeliveryLimit
from .heartbeats import Heartbeats
from .recording import Recorder
from .run_reactions import RunReactions
from .start_checks import StartChecks
from .starts import StartCommitter

if TYPE_CHECKING:
    from .runs import RunControl


class Ledger:
    """The recorder, start checks, delivery limit, heartbeats and run reactions of one service."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        *,
        flush_ms: int,
        max_deliveries: int,
        heartbeat_s: float,
        stall_after_s: float,
        stall_grace_s: float,
        sweep_s: float,
        control_factory: Callable[[], RunControl],
    ) -> None:
        self.recorder = Recorder(engine_factory, flush_ms=flush_ms)
        self.start_checks = StartChecks(engine_factory)
        self.delivery_limit = DeliveryLimit(engine_factory, max_deliveries=max_deliveries)
        self.heartbeats = Heartbeats(
            engine_factory,
            self.recorder.record,
            control_factory,
            heartbeat_s=heartbeat_s,
            stall_after_s=stall_after_s,
            stall_grace_s=stall_grace_s,
            sweep_s=sweep_s,
        )
        self.run_reactions = RunReactions(control_factory)
        self.control_factory = control_factory

    @property
    def starts(self) -> StartCommitter:
        return self.start_checks.starts

    def flush(self, timeout_s: float = 30) -> bool:
        """Wait until the step events recorded so far are written; False if not within ``timeout_s``."""
        return self.recorder.flush(timeout_s)

    def close(self, timeout_s: float = 10) -> None:
        """Stop the heartbeat and write what is still queued (for embedding and tests)."""
        self.heartbeats.stop()
        self.recorder.close(timeout_s)
