"""The console's session: a signed cookie holding who is signed in and the CSRF token of their forms.

Nothing of a session is kept on the server, so any API process can answer
any request. The role is not in the cookie: it is read from the ledger on
each request, so a removed account or a changed role takes effect at once.
The cookie is HMAC-SHA256 signed with a key derived from the API's secret
(a random key per process in the embedded default, which has no secret).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
import time

COOKIE = "wrls_console"
# A signed-in session lasts a working day; an anonymous one only carries the login form's CSRF token.
LIFETIME_S = 12 * 3600
_MAX_COOKIE_CHARS = 1024


@dataclasses.dataclass(frozen=True)
class Session:
    user: str | None  # None: not signed in
    csrf: str
    issued_at: float  # Unix seconds, to the millisecond: compared with when the account last signed out

    @classmethod
    def anonymous(cls) -> Session:
        return cls(None, secrets.token_urlsafe(32), _now())

    @classmethod
    def signed_in(cls, user: str) -> Session:
        # A fresh CSRF token at sign-in: a token seen before it (on the login form) is worth nothing after.
        return cls(user, secrets.token_urlsafe(32), _now())


def _now() -> float:
    return round(time.time(), 3)


def session_key(api_secret: str | None) -> bytes:
    if api_secret is None:
        return secrets.token_bytes(32)
    # Its own key, not the token key itself: a cookie can never be passed off as a bearer token or back.
    return hmac.new(api_secret.encode(), b"wrls-actors console session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session, key: bytes) -> str:
    payload = _b64(json.dumps({"u": session.user, "c": session.csrf, "t": session.issued_at}).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def decode(cookie: str | None, key: bytes, now: float | None = None) -> Session | None:
    """The session in ``cookie``; None when it is missing, forged, malformed or too old."""
    if not cookie or len(cookie) > _MAX_COOKIE_CHARS or cookie.count(".") != 1:
        return None
    payload, signature = cookie.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        data = json.loads(_unb64(payload))
        user, csrf, issued = data["u"], data["c"], data["t"]
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if (
        not isinstance(csrf, str)
        or isinstance(issued, bool)
        or not isinstance(issued, int | float)
        or (user is not None and not isinstance(user, str))
    ):
        return None
    age = (time.time() if now is None else now) - issued
    if age > LIFETIME_S or age < -60:
        return None
    return Session(user, csrf, float(issued))


def same_token(session: Session, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(session.csrf.encode(), offered.encode())
