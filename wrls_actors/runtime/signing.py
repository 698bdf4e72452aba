"""Signed messages: only the service's own processes can send steps and ticks.

Anyone with write access to the vhost can publish to any queue through the
default exchange. Every message the service sends carries an HMAC-SHA256 of
what identifies it (actor, queue, message id, arguments, and the options a
tick acts on) in its ``signature`` option. Actors declared ``public`` (the
start message) take unsigned messages; a message for any other actor that is
unsigned or badly signed is dead-lettered, recorded as rejected and never run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

logger = logging.getLogger(__name__)

OPTION = "signature"
UNVERIFIED = "unverified"  # what an unsigned or badly signed delayed message carries on
# Options that change what a tick does (a copy replayed with others must fail), and the run start a step
# or child message finds its run's rows by (runs.py: a forged one must not find another run's).
SIGNED_OPTIONS = ("scheduled_at", "subtick", "run_started_at")

Report = Callable[[bytes, str], None]


def _base_queue(name: str) -> str:
    # Delayed and retried copies travel through "<queue>.DQ": the signature is the queue's.
    return name[:-3] if name.endswith((".DQ", ".XQ")) else name


def canonical(message: Any) -> bytes:
    content = {
        "actor": message.actor_name,
        "queue": _base_queue(message.queue_name),
        "message_id": message.message_id,
        "args": list(message.args or ()),
        "kwargs": message.kwargs or {},
        "options": {k: message.options[k] for k in SIGNED_OPTIONS if k in message.options},
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


class Signer:
    """Signs with the current key; verifies with it or the previous one (during a rotation)."""

    def __init__(self, key: str, previous: str | None = None) -> None:
        self._keys = [k.encode() for k in (key, previous) if k]

    def __repr__(self) -> str:
        return "Signer(***)"

    def sign(self, message: Any) -> str:
        return hmac.new(self._keys[0], canonical(message), hashlib.sha256).hexdigest()

    def problem(self, message: Any) -> str | None:
        """Why the message's signature is not acceptable, or None."""
        given = message.options.get(OPTION)
        if not given:
            return "unsigned"
        if given == UNVERIFIED:
            return "unsigned or badly signed (found leaving its delay queue)"
        if not isinstance(given, str):
            return "bad signature"
        content = canonical(message)
        for key in self._keys:
            if hmac.compare_digest(hmac.new(key, content, hashlib.sha256).hexdigest(), given):
                return None
        return "bad signature"


class Signatures(Middleware):
    """Signs every message sent; dead-letters unsigned ones for non-public actors before anything runs."""

    actor_options = {"public"}

    def __init__(self, signer: Signer, report: Report) -> None:
        self.signer = signer
        self.report = report

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        # A message already signed keeps its signature: a retry (same content), or one
        # moved on from a delay queue, whose signature was checked as it arrived there.
        if OPTION not in message.options:
            message.options[OPTION] = self.signer.sign(message)

    def before_delay_message(self, broker: dramatiq.Broker, message: Any) -> None:
        # Anyone can publish to "<queue>.DQ": the worker itself moves such a message on
        # to the queue when due, and must not sign it then.
        if self._needs_signature(broker, message) and self.signer.problem(message) is not None:
            message.options[OPTION] = UNVERIFIED

    @staticmethod
    def _needs_signature(broker: dramatiq.Broker, message: Any) -> bool:
        try:
            actor = broker.get_actor(message.actor_name)
        except dramatiq.errors.ActorNotFound:
            return False  # dead-lettered by the worker, and recorded, as for no actor
        return not actor.options.get("public")

    def verified(self, broker: dramatiq.Broker, message: Any) -> bool:
        """True when the message needs no signature or carries a good one (remembered on the message, whose
        content the worker does not change before it runs: child_batches.py checks before the hook)."""
        if getattr(message, "_signature_verified", False):
            return True
        if self._needs_signature(broker, message) and self.signer.problem(message) is not None:
            return False
        message._signature_verified = True
        return True

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if self.verified(broker, message):
            return
        problem = self.signer.problem(message) or "bad signature"
        reason = (
            f"{problem} message for {message.actor_name} on {_base_queue(message.queue_name)} "
            f"(message id {message.message_id}): only the service's own processes may send it"
        )
        # Recorded here, not as a step: a forged message may carry a real step's id.
        message._ledger_recorded = True
        message._ledger_handled = True
        try:
            self.report(message.encode(), reason)
        finally:
            message.fail()
        raise SkipMessage(reason)
