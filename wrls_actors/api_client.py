"""The CLI's way into a running service that it cannot reach itself: the embedded default's API.

The embedded default keeps its broker and database inside its one process, so
`trigger` and `runs` from a second terminal go through its HTTP API on
127.0.0.1. Refusals come back as the runtime's own errors, so the CLI answers
with the same exit codes either way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from .runtime.api.auth import mint
from .runtime.errors import BadMessage, ConfigurationError, JobRefused
from .runtime.settings import Settings

TIMEOUT_S = 30


class Unreachable(Exception):
    """Nothing answers on the API's port."""


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.base = f"http://127.0.0.1:{settings.api_port}"
        self.secret = settings.api_jwt_secret
        self.prefix = settings.prefix

    def start(self, job: str, params: dict[str, Any], force: bool, reason: str | None = None) -> str:
        body = {"params": params, "force": force, **({"reason": reason} if reason else {})}
        answer = self._call("POST", f"/api/v1/jobs/{quote(job, safe='')}/runs", body)
        return str(answer["run_id"])

    def cancel(self, run_id: str, reason: str) -> int:
        answer = self._call("POST", f"/api/v1/runs/{quote(run_id, safe='')}/cancel", {"reason": reason})
        return int(answer["children_cancelled"])

    def retry(self, run_id: str, reason: str, failed_children_only: bool) -> int:
        body = {"reason": reason, "failed_children_only": failed_children_only}
        answer = self._call("POST", f"/api/v1/runs/{quote(run_id, safe='')}/retry", body)
        return int(answer["children_again"])

    def pause(self, schedule: str, reason: str) -> None:
        self._call("POST", f"/api/v1/schedules/{quote(schedule, safe='')}/pause", {"reason": reason})

    def resume(self, schedule: str, reason: str, catch_up: bool) -> str | None:
        body = {"reason": reason, "catch_up": catch_up}
        answer = self._call("POST", f"/api/v1/schedules/{quote(schedule, safe='')}/resume", body)
        return answer.get("run_id")

    def backfill(self, schedule: str, since: datetime, until: datetime, reason: str) -> dict[str, Any]:
        body = {"since": since.isoformat(), "until": until.isoformat(), "reason": reason}
        answer: dict[str, Any] = self._call("POST", f"/api/v1/schedules/{quote(schedule, safe='')}/backfill", body)
        return answer

    def dead_letters(self, limit: int) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/v1/dead-letters?{urlencode({'limit': limit})}"))

    def replay(self, message_id: str, reason: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/api/v1/dead-letters/{quote(message_id, safe='')}/replay", {"reason": reason}))

    def workers(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v1/workers")["workers"])

    def runs(self, job: str | None, limit: int) -> list[dict[str, Any]]:
        query = {"limit": limit, **({"job": job} if job else {})}
        return list(self._call("GET", f"/api/v1/runs?{urlencode(query)}")["runs"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode()
        )
        request.add_header("Content-Type", "application/json")
        if self.secret:
            request.add_header("Authorization", f"Bearer {mint(self.secret, 'wrls-actors cli', 60)}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise _refusal(e.code, _message(e), self.prefix) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            raise Unreachable(
                f"nothing answers on {self.base} ({getattr(e, 'reason', e)}): "
                "is `make run` (the embedded default) running?"
            ) from None


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {error.code}"


def _refusal(status: int, message: str, prefix: str) -> Exception:
    if status in (404, 409):
        return JobRefused(message)
    if status == 422:
        return BadMessage(message)
    if status == 401:
        return ConfigurationError(f"the API refused the CLI's token ({message}): is {prefix}_API_JWT_SECRET the same?")
    return Unreachable(f"the API answered {status}: {message}")
