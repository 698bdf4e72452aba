"""A fake Charging Module API and its OAuth2 token endpoint, on 127.0.0.1 in a thread.

Tokens are issued as the Charging Module's Cognito issues them: POST
``/oauth2/token`` with ``grant_type=client_credentials`` and the client id and
secret in a Basic header, answered ``{access_token, expires_in, token_type}``.
The API answers 401 to a missing, unknown, revoked or expired token.

    with FakeChargingModule() as cm:
        cm.add_file("nalwi50001", "2024-01-10T09:00:00.000Z", ["A12345678A"])
        cm.revoke_tokens()               # every token issued so far is refused from now on
        cm.fail(503, times=2)            # the next two API requests answer 503
        cm.received("GET")               # what it saw, with the token each request carried
        cm.add_bill_run(external_id)     # a bill run it holds, until deleted

Endpoints:
- GET ``/v3/wrls/customer-files/<days>``: the files, oldest first, as
  ``[{id, fileReference, status, exportedAt, exportedCustomers}]``;
- DELETE ``/v3/wrls/bill-runs/<id>``: 204 and the bill run is gone, or 404 if it holds none by that id.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import json_http

TOKEN_PATH = "/oauth2/token"
CUSTOMER_FILES = re.compile(r"^/v3/wrls/customer-files/(\d+)$")
BILL_RUN = re.compile(r"^/v3/wrls/bill-runs/([^/]+)$")


@dataclasses.dataclass
class Request:
    method: str
    path: str
    token: str | None  # the bearer token it carried
    status: int | None = None


@dataclasses.dataclass
class _Failure:
    status: int
    times: int


class FakeChargingModule:
    def __init__(self, token_lifetime_s: int = 3600) -> None:
        self.client_id = f"wrls-{uuid.uuid4().hex[:8]}"
        self.client_secret = uuid.uuid4().hex
        self.token_lifetime_s = token_lifetime_s
        self.files: list[dict] = []
        self.bill_runs: set[str] = set()
        self.requests: list[Request] = []
        self._tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: json_http.Server | None = None

    def __enter__(self) -> FakeChargingModule:
        self._server = json_http.start(_handler(self), "fake-charging-module")
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            json_http.stop(self._server)
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "enter the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    # -- behaviour on demand ----------------------------------------------------

    def add_file(self, reference: str, exported_at: str, customers: list[str]) -> None:
        """A customer file, after the ones added before (the API lists them oldest first)."""
        with self._lock:
            self.files.append(
                {
                    "id": str(uuid.uuid4()),
                    "fileReference": reference,
                    "status": "exported",
                    "exportedAt": exported_at,
                    "exportedCustomers": list(customers),
                }
            )

    def add_bill_run(self, external_id: str) -> None:
        with self._lock:
            self.bill_runs.add(str(external_id))

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def fail(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` API requests (not token requests) with ``status``."""
        with self._lock:
            self._failures.append(_Failure(status, times))

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    # -- the API ----------------------------------------------------------------

    def _issue_token(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return 400, {"error": "invalid_client"}
        if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime_s
        return 200, {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}

    def _valid(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and self._tokens.get(token, 0) > time.time()

    def _failure(self) -> int | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return failure.status

    def handle(self, request: Request, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if request.method == "POST" and request.path == TOKEN_PATH:
            return self._issue_token(headers, body)
        if not self._valid(request.token):
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
        failed = self._failure()
        if failed is not None:
            return failed, {"statusCode": failed, "error": "Service Unavailable", "message": "try again later"}
        if request.method == "GET" and CUSTOMER_FILES.match(request.path):
            with self._lock:
                return 200, [dict(f) for f in self.files]
        if request.method == "DELETE" and (bill_run := BILL_RUN.match(request.path)):
            with self._lock:
                if bill_run.group(1) in self.bill_runs:
                    self.bill_runs.remove(bill_run.group(1))
                    return 204, None
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


def _handler(fake: FakeChargingModule) -> type[json_http.JsonHandler]:
    class Handler(json_http.JsonHandler):
        def _serve(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            auth = headers.get("authorization", "")
            request = Request(self.command, urlsplit(self.path).path, auth[7:] if auth.startswith("Bearer ") else None)
            with fake._lock:
                fake.requests.append(request)
            status, payload = fake.handle(request, headers, body)
            request.status = status
            self.reply(status, payload)

        do_GET = do_POST = do_DELETE = _serve

    return Handler
