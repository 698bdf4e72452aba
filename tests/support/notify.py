"""A fake GOV.UK Notify API for the tests, on 127.0.0.1 in a thread.

It checks what the real one checks first: the ``Authorization: Bearer`` JWT
the official client signs (HS256 with the secret half of the API key, ``iss``
the service id, ``iat`` within 30 seconds), then the request, and answers
with Notify's own bodies. Every request is recorded, answered or not.

    with FakeNotify() as notify:
        client = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)
        notify.fail(SERVER_ERROR, times=2, method="POST")   # Notify down for the next two sends
        notify.drop_after_accept()                          # the next send accepted, its answer lost
        notify.emails()                                     # notifications accepted, newest last

Endpoints: POST /v2/notifications/email, POST /v2/notifications/letter (a
template letter, or a precompiled one: ``content`` a base64 PDF), GET
/v2/notifications (filters ``reference``, ``template_type``, ``status``), GET
/v2/notifications/<id>. Pass ``templates={id: "body with ((placeholders))"}``
to get Notify's "Template not found" and "Missing personalisation" errors;
without it any template id that is a UUID is accepted.

    notify.set_status(notification_id, "delivered")     # what GET /v2/notifications/<id> answers next
    FakeNotify(rate_limit=(3000, 60))                   # Notify's 429 past 3000 sends in any 60 s
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.support import json_http

CLOCK_SKEW_S = 30  # Notify refuses tokens issued more than 30 s away from its clock


@dataclasses.dataclass(frozen=True)
class NotifyError:
    """One of Notify's error answers: ``{"status_code": N, "errors": [{"error": ..., "message": ...}]}``."""

    status: int
    error: str
    message: str

    def body(self) -> dict:
        return {"status_code": self.status, "errors": [{"error": self.error, "message": self.message}]}


# The answers Notify documents for POST /v2/notifications/email.
VALIDATION_ERROR = NotifyError(400, "ValidationError", "email_address Not a valid email address")
TEAM_KEY_ERROR = NotifyError(400, "BadRequestError", "Can't send to this recipient using a team-only API key")
TEMPLATE_NOT_FOUND = NotifyError(400, "BadRequestError", "Template not found")
AUTH_ERROR = NotifyError(403, "AuthError", "Invalid token: API key not found")
CLOCK_ERROR = NotifyError(403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")
RATE_LIMIT_ERROR = NotifyError(
    429, "RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"
)
DAILY_LIMIT_ERROR = NotifyError(429, "TooManyRequestsError", "Exceeded send limits (1000) for today")
SERVER_ERROR = NotifyError(500, "Exception", "Internal server error")
NO_TOKEN = NotifyError(401, "AuthError", "Unauthorized: authentication token must be provided")
NOT_FOUND = NotifyError(404, "NoResultFound", "No result found")

SENDS = ("/v2/notifications/email", "/v2/notifications/letter")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclasses.dataclass
class Request:
    """One request as received: ``claims`` is the verified token's payload (None when refused)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    claims: dict | None = None
    status: int | None = None  # what was answered; None when the connection was dropped
    at: float = dataclasses.field(default_factory=time.time)  # when it arrived


@dataclasses.dataclass
class _Failure:
    error: NotifyError | None  # None: accept, then drop the connection unanswered
    times: int | None
    method: str | None
    path: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)


class FakeNotify:
    def __init__(
        self,
        templates: dict[str, str] | None = None,
        key_name: str = "wrls_test",
        rate_limit: tuple[int, float] | None = None,
    ) -> None:
        self.service_id = str(uuid.uuid4())
        self.secret = str(uuid.uuid4())
        self.api_key = f"{key_name}-{self.service_id}-{self.secret}"
        self.templates = templates
        self.rate_limit = rate_limit
        self._sends: list[float] = []  # arrival times of the sends counted against rate_limit
        self.requests: list[Request] = []
        self.notifications: list[dict] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: json_http.Server | None = None

    # -- life -------------------------------------------------------------------

    def start(self) -> FakeNotify:
        self._server = json_http.start(_handler(self), "fake-notify")
        return self

    def stop(self) -> None:
        if self._server is not None:
            json_http.stop(self._server)
            self._server = None

    def __enter__(self) -> FakeNotify:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def worker_env(self) -> dict[str, str]:
        """What a worker needs to reach this fake with the official client."""
        return {"WRLS_NOTIFY_API_KEY": self.api_key, "WRLS_NOTIFY_BASE_URL": self.base_url}

    # -- behaviour on demand ----------------------------------------------------

    def fail(
        self, error: NotifyError, times: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``times`` matching requests (authenticated ones) with ``error``; None: until recover()."""
        with self._lock:
            self._failures.append(_Failure(error, times, method, path))

    def drop_after_accept(self, times: int = 1) -> None:
        """Accept the next ``times`` emails (they exist, and can be found by reference), then close the
        connection without answering: the client sees a network error after Notify took the email."""
        with self._lock:
            self._failures.append(_Failure(None, times, "POST", "/v2/notifications/email"))

    def recover(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self.requests.clear()
            self.notifications.clear()

    # -- what it saw ------------------------------------------------------------

    def emails(self) -> list[dict]:
        """Email notifications accepted, oldest first, as GET /v2/notifications/<id> shows them,
        plus ``personalisation`` as sent."""
        with self._lock:
            return [dict(n) for n in self.notifications if n["type"] == "email"]

    def letters(self) -> list[dict]:
        """Letter notifications accepted (template and precompiled), oldest first; a precompiled one
        has ``pdf`` (the bytes sent)."""
        with self._lock:
            return [dict(n) for n in self.notifications if n["type"] == "letter"]

    def set_status(self, notification_id: str, status: str) -> None:
        """Move a notification on (``delivered``, ``permanent-failure``...), as Notify would."""
        with self._lock:
            for n in self.notifications:
                if n["id"] == notification_id:
                    n["status"] = status
                    return
        raise KeyError(notification_id)

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    # -- the API ----------------------------------------------------------------

    def _authenticate(self, headers: dict[str, str]) -> tuple[dict | None, NotifyError | None]:
        header = headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return None, NO_TOKEN
        token = header[7:].strip()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return None, NotifyError(403, "AuthError", "Invalid token: algorithm used is not HS256")
        except jwt.PyJWTError:
            return None, NotifyError(403, "AuthError", "Invalid token: signature, api token is not valid")
        if unverified.get("iss") != self.service_id:
            return None, NotifyError(403, "AuthError", "Invalid token: service not found")
        try:
            claims = jwt.decode(token, key=self.secret, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            return None, AUTH_ERROR
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)):
            return None, NotifyError(403, "AuthError", "Invalid token: iat field not provided")
        if abs(time.time() - iat) > CLOCK_SKEW_S:
            return None, CLOCK_ERROR
        return claims, None

    def _failure(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.matches(method, path):
                    if failure.times is not None:
                        failure.times -= 1
                        if failure.times <= 0:
                            self._failures.remove(failure)
                    return failure
        return None

    def _send_email(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, NotifyError(400, "ValidationError", "Request body must be a JSON object").body()
        address = body.get("email_address")
        template_id = body.get("template_id")
        personalisation = body.get("personalisation") or {}
        if not isinstance(address, str) or not EMAIL_RE.match(address):
            return 400, VALIDATION_ERROR.body()
        if not isinstance(template_id, str) or not UUID_RE.match(template_id):
            return 400, NotifyError(400, "ValidationError", "template_id is not a valid UUID").body()
        if not isinstance(personalisation, dict):
            return 400, NotifyError(400, "ValidationError", "personalisation {} is not of type object").body()
        return self._accept("email", template_id, personalisation, body.get("reference"), email_address=address)

    def _render(self, template_id: str, personalisation: dict) -> tuple[str | None, tuple[int, dict] | None]:
        """The template's text filled in (None without templates), or Notify's error."""
        text = None
        if self.templates is not None:
            if template_id not in self.templates:
                return None, (400, TEMPLATE_NOT_FOUND.body())
            text = self.templates[template_id]
            missing = [f for f in re.findall(r"\(\(([^)]+)\)\)", text) if f not in personalisation]
            if missing:
                return None, (
                    400,
                    NotifyError(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}").body(),
                )
            for field, value in personalisation.items():
                text = text.replace(f"(({field}))", str(value))
        return text, None

    def _send_letter(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, NotifyError(400, "ValidationError", "Request body must be a JSON object").body()
        if "content" in body:
            return self._send_precompiled(body)
        template_id = body.get("template_id")
        personalisation = body.get("personalisation")
        if not isinstance(template_id, str) or not UUID_RE.match(template_id):
            return 400, NotifyError(400, "ValidationError", "template_id is not a valid UUID").body()
        if not isinstance(personalisation, dict):
            return 400, NotifyError(400, "ValidationError", "personalisation is a required property").body()
        for line in ("address_line_1", "address_line_2"):
            if not personalisation.get(line):
                return 400, NotifyError(400, "ValidationError", f"personalisation {line} is a required property").body()
        return self._accept("letter", template_id, personalisation, body.get("reference"))

    def _send_precompiled(self, body: dict) -> tuple[int, dict]:
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference:
            return 400, NotifyError(400, "ValidationError", "reference is a required property").body()
        try:
            pdf = base64.b64decode(body.get("content") or "", validate=True)
        except (ValueError, TypeError):
            return 400, NotifyError(400, "ValidationError", "content is not a base64 encoded string").body()
        if not pdf.startswith(b"%PDF-"):
            return 400, NotifyError(400, "ValidationError", "Letter content is not a valid PDF").body()
        notification_id = str(uuid.uuid4())
        postage = body.get("postage") or "second"
        with self._lock:
            self.notifications.append(
                {
                    "id": notification_id,
                    "reference": reference,
                    "email_address": None,
                    "phone_number": None,
                    "type": "letter",
                    "status": "pending-virus-check",
                    "template": None,
                    "body": None,
                    "subject": None,
                    "created_at": _now(),
                    "created_by_name": None,
                    "sent_at": None,
                    "completed_at": None,
                    "scheduled_for": None,
                    "postage": postage,
                    "pdf": pdf,
                }
            )
        # Notify's answer to a precompiled letter: no template, no content.
        return 201, {"id": notification_id, "reference": reference, "postage": postage}

    def _accept(
        self,
        kind: str,
        template_id: str,
        personalisation: dict,
        reference: str | None,
        email_address: str | None = None,
    ) -> tuple[int, dict]:
        text, refused = self._render(template_id, personalisation)
        if refused is not None:
            return refused
        notification_id = str(uuid.uuid4())
        uri = f"{self.base_url}/v2/notifications/{notification_id}"
        template = {
            "id": template_id,
            "version": 1,
            "uri": f"{self.base_url}/services/{self.service_id}/templates/{template_id}",
        }
        body_text = text if text is not None else "\n".join(f"{k}: {v}" for k, v in personalisation.items())
        notification = {
            "id": notification_id,
            "reference": reference,
            "email_address": email_address,
            "phone_number": None,
            "type": kind,
            "status": "created",
            "template": template,
            "body": body_text,
            "subject": "Notification",
            "created_at": _now(),
            "created_by_name": None,
            "sent_at": None,
            "completed_at": None,
            "scheduled_for": None,
            "personalisation": personalisation,
        }
        with self._lock:
            self.notifications.append(notification)
        content = {"subject": "Notification", "body": body_text}
        if kind == "email":
            content["from_email"] = "wrls@notify.example"
        return 201, {
            "id": notification_id,
            "reference": reference,
            "uri": uri,
            "template": template,
            "content": content,
            "scheduled_for": None,
        }

    def _over_rate_limit(self, at: float) -> bool:
        """Notify's rolling limit on sends: past it, the send is refused (and not counted)."""
        if self.rate_limit is None:
            return False
        limit, window = self.rate_limit
        with self._lock:
            self._sends = [t for t in self._sends if t > at - window]
            if len(self._sends) >= limit:
                return True
            self._sends.append(at)
            return False

    def _list(self, query: dict[str, list[str]]) -> tuple[int, dict]:
        def wanted(n: dict) -> bool:
            return all(
                n.get(field) == query[key][0]
                for key, field in (("reference", "reference"), ("template_type", "type"), ("status", "status"))
                if key in query
            )

        with self._lock:
            found = [_public(n) for n in reversed(self.notifications) if wanted(n)]
        return 200, {"notifications": found, "links": {"current": f"{self.base_url}/v2/notifications"}}

    def _get(self, notification_id: str) -> tuple[int, dict]:
        with self._lock:
            for n in self.notifications:
                if n["id"] == notification_id:
                    return 200, _public(n)
        return 404, NOT_FOUND.body()

    def handle(self, request: Request) -> tuple[int, dict] | None:
        """The answer to one request (None: drop the connection unanswered)."""
        claims, refused = self._authenticate(request.headers)
        request.claims = claims
        if refused is not None:
            return refused.status, refused.body()
        failure = self._failure(request.method, request.path)
        if failure is not None and failure.error is not None:
            return failure.error.status, failure.error.body()
        if request.method == "POST" and request.path in SENDS:
            if self._over_rate_limit(request.at):
                return RATE_LIMIT_ERROR.status, RATE_LIMIT_ERROR.body()
            send = self._send_email if request.path == SENDS[0] else self._send_letter
            answer = send(request.body)
            return None if failure is not None and answer[0] == 201 else answer
        if request.method == "GET" and request.path == "/v2/notifications":
            return self._list(request.query)
        if request.method == "GET" and request.path.startswith("/v2/notifications/"):
            return self._get(request.path.rsplit("/", 1)[1])
        return 404, NotifyError(404, "NotFound", f"{request.method} {request.path} is not part of this API").body()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _public(notification: dict) -> dict:
    return {k: v for k, v in notification.items() if k not in ("personalisation", "pdf")}


def _handler(fake: FakeNotify) -> type[json_http.JsonHandler]:
    class Handler(json_http.JsonHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = Request(
                self.command, url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            with fake._lock:
                fake.requests.append(request)
            answer = fake.handle(request)
            if answer is None:
                self.close_connection = True
                return
            status, payload = answer
            request.status = status
            self.reply(status, payload)

        do_GET = do_POST = _serve

    return Handler
