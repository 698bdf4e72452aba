"""The message envelope: what goes over RabbitMQ, and how bad input is refused.

Messages are Dramatiq's JSON (see docs/messages.md). Other services need to
send only ``queue_name``, ``actor_name`` and ``kwargs``: the decoder fills in
the rest, deriving a missing ``message_id`` from the body so that a redelivered
copy keeps the same id. A body that is not such JSON, or is over the size
limit, is reported to the encoder's owner (the service records it) and
Dramatiq dead-letters it.

Dramatiq has one encoder per process: each Service builds its own and sets it,
so a second Service in a process (a forked worker) replaces the first one's
report instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from dramatiq.encoder import JSONEncoder

from .definitions import MAX_CHUNK
from .errors import BadMessage

logger = logging.getLogger(__name__)

REQUIRED = ("queue_name", "actor_name")
# Up to 9999-12-31: beyond, a date (a message's ledger partition) cannot hold it.
MAX_TIMESTAMP_MS = 253_402_300_800_000
# How far ahead of the worker's clock a publisher's may be.
FUTURE_S = 24 * 3600
_NAMESPACE = uuid.UUID("7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10")

DEFAULT_MAX_BYTES = 256 * 1024

Report = Callable[[bytes, str], None]


def excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    return text + ("..." if len(body) > limit else "")


class EnvelopeEncoder(JSONEncoder):
    """Dramatiq's JSON encoder, lenient on optional fields and loud on bad bodies.

    ``report(body, reason)`` is called once for every body refused.
    """

    def __init__(self, report: Report | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.report = report
        self.max_bytes = max_bytes

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) > self.max_bytes:
            # Refused before parsing: a huge body must not cost the worker its memory.
            reason = f"body is {len(data)} bytes, over the limit of {self.max_bytes}"
            self._report(data, reason)
            raise BadMessage(reason)
        try:
            return fill_defaults(data, json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            self._report(data, f"body is not JSON: {e}")
            raise
        except BadMessage as e:
            self._report(data, str(e))
            raise

    def _report(self, data: bytes, reason: str) -> None:
        if self.report is None:
            return
        try:
            self.report(data, reason)
        except Exception:  # a failing report must not stop the dead-lettering
            logger.exception("could not record a rejected message")


def fill_defaults(body: bytes, fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise BadMessage(f"body must be a JSON object, got {type(fields).__name__}")
    missing = [k for k in REQUIRED if not isinstance(fields.get(k), str) or not fields.get(k)]
    if missing:
        raise BadMessage(f"body lacks {', '.join(missing)}")
    for key, kind in (("args", list), ("kwargs", dict), ("options", dict)):
        if key not in fields:
            fields[key] = kind()
        elif not isinstance(fields[key], kind):
            raise BadMessage(f"{key} must be a JSON {'array' if kind is list else 'object'}")
    if not fields.get("message_id"):
        fields["message_id"] = _derived_id(body)
    fields.setdefault("message_timestamp", int(time.time() * 1000))
    stamp = fields["message_timestamp"]
    # Its UTC day is the message's ledger partition (lifecycle.created_on): it must be a moment.
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < MAX_TIMESTAMP_MS:
        raise BadMessage("message_timestamp must be milliseconds since 1970-01-01 UTC, a whole number")
    # A message from the far future would make a ledger week no retention pass can make after it.
    if stamp > (time.time() + FUTURE_S) * 1000:
        raise BadMessage(f"message_timestamp is more than {FUTURE_S // 3600} hours ahead of this worker's clock")
    unknown = set(fields) - {"queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"}
    if unknown:
        raise BadMessage(f"unknown fields: {', '.join(sorted(unknown))}")
    return fields


def _derived_id(body: bytes) -> str:
    return str(uuid.uuid5(_NAMESPACE, hashlib.sha256(body).hexdigest()))


def message_id_of(body: bytes) -> str | None:
    """The id a worker reads for ``body``: its own, or the one derived for a body without one; None when
    the body is no JSON object (such a body has no id anywhere)."""
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(fields, dict):
        return None
    given = fields.get("message_id")
    return str(given) if given else _derived_id(body)


def step_arguments(kwargs: Mapping[str, Any], *, child: bool) -> tuple[uuid.UUID, dict[str, Any], Any]:
    """Validate a step message's kwargs: ``run_id``, ``params`` and, for a child, ``item``."""
    allowed = {"run_id", "params", "item"} if child else {"run_id", "params"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise BadMessage(f"unexpected arguments: {', '.join(sorted(unknown))}")
    try:
        run_id = uuid.UUID(str(kwargs["run_id"]))
    except KeyError:
        raise BadMessage("missing argument run_id") from None
    except ValueError:
        raise BadMessage(f"run_id is not a UUID: {kwargs['run_id']!r}") from None
    params = kwargs.get("params") or {}
    if not isinstance(params, dict):
        raise BadMessage("params must be a JSON object")
    if child and "item" not in kwargs:
        raise BadMessage("missing argument item")
    return run_id, params, kwargs.get("item")


def chunk_arguments(kwargs: Mapping[str, Any]) -> tuple[uuid.UUID, dict[str, Any], list[Any], int]:
    """Validate a chunked child's kwargs: ``run_id``, ``params``, ``items`` and ``first``.

    ``first`` is the position of its first item in the fan-out's list. Up to
    MAX_CHUNK items, not the step's chunk: a message sent before the chunk
    was made smaller is still good.
    """
    run_id, params, _ = step_arguments({k: v for k, v in kwargs.items() if k not in ("items", "first")}, child=False)
    items, first = kwargs.get("items"), kwargs.get("first")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CHUNK:
        raise BadMessage(f"items must be a list of 1 to {MAX_CHUNK} items")
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise BadMessage("first must be the position of the chunk's first item (a whole number, 0 or more)")
    return run_id, params, items, first


def start_arguments(kwargs: Mapping[str, Any], known_jobs: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """Validate a start message's kwargs: ``job``, ``params`` and ``force``."""
    unknown = set(kwargs) - {"job", "params", "force"}
    if unknown:
        raise BadMessage(f"unexpected arguments: {', '.join(sorted(unknown))}")
    job = kwargs.get("job")
    if not isinstance(job, str) or not job:
        raise BadMessage("missing argument job")
    if job not in known_jobs:
        raise BadMessage(f"unknown job {job!r}")
    params = kwargs.get("params") or {}
    if not isinstance(params, dict):
        raise BadMessage("params must be a JSON object")
    force = kwargs.get("force", False)
    if not isinstance(force, bool):
        raise BadMessage("force must be true or false")
    return job, params, force
