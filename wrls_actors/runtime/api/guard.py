"""The outermost layer: a body larger than the limit is refused with 413 before anything reads it,
and every refused request is logged: method, path, status and reason, never the body or query.

A pure ASGI middleware, so a chunked body with no Content-Length is counted as
it arrives and cut off at the limit too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import BodyTooLarge, refusal

logger = logging.getLogger("wrls_actors.api")

MAX_BODY_BYTES = 1024 * 1024


class Guard:
    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        declared = _content_length(scope)
        if declared == -1 or (declared is not None and declared > self.max_body_bytes):
            if declared == -1:
                code, reason = 400, "Content-Length is not a whole number"
            else:
                code, reason = 413, f"the body is over {self.max_body_bytes} bytes"
            state["refusal"] = reason
            await refusal(scope["path"], code, reason)(scope, receive, sending)
        else:
            received = 0

            async def counting() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise BodyTooLarge(f"the body is over {self.max_body_bytes} bytes")
                return message

            try:
                await self.app(scope, counting, sending)
            except BodyTooLarge:
                state["refusal"] = f"the body is over {self.max_body_bytes} bytes"
                if status == 0:
                    await refusal(scope["path"], 413, state["refusal"])(scope, receive, sending)
        if status >= 400:
            _log_refused(scope, status, state, time.monotonic() - started)


def _content_length(scope: Scope) -> int | None:
    """The declared length; -1 when it is not a number (refused)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


def _printable(text: str, limit: int = 200) -> str:
    """A caller's text as one log line can hold it: control characters escaped (no forged lines), cut short."""
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _log_refused(scope: Scope, status: int, state: dict[str, Any], took_s: float) -> None:
    client = scope.get("client")
    fields = [_printable(str(f), 60) for f in (state.get("refused_fields") or [])[:20]]
    logger.log(
        logging.ERROR if status >= 500 else logging.WARNING,
        "refused %s %s -> %d (%s)%s from %s in %.0f ms",
        _printable(scope["method"], 20),
        _printable(scope["path"]),
        status,
        _printable(str(state.get("refusal", "refused")), 300),
        f" fields {', '.join(fields)}" if fields else "",
        client[0] if client else "?",
        took_s * 1000,
    )
