"""Logging: text for people, JSON (one object per line) for machines.

Every record made while a step runs carries its run id, message id and actor,
taken from a context variable the recorder middleware sets (recording.py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

step_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("step_context", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = step_context.get() or {}
        for key in ("run_id", "message_id", "actor"):
            if not hasattr(record, key):
                setattr(record, key, context.get(key))
        actor = getattr(record, "actor", None)
        record.context = f" [{actor} {getattr(record, 'message_id', None)}]" if actor else ""
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("run_id", "message_id", "actor", "job", "step", "status", "duration_ms", "counts", "schedule")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pika logs every reconnect attempt at INFO/WARNING with tracebacks.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
