"""Bearer tokens: HS256 JWTs signed with the service's API secret, as the legacy import app took them.

Only HS256 is accepted: a token naming another algorithm (``none``, or RS256
with the secret passed off as a public key) is refused, whatever it says.
``exp`` and ``nbf`` are checked when present; the legacy callers' tokens carry
no ``exp``, so one is not required.

PyJWT is imported where a token is made or checked, not above: it loads
cryptography, 27 ms of imports that every worker process paid at its start
(the CLI imports this module) and that none of them uses.
"""

from __future__ import annotations

import time

ALGORITHM = "HS256"
# Clocks of the caller and this service may differ a little.
LEEWAY_S = 30


class Unauthorized(Exception):
    """The request carries no token, or one this service did not sign or that has expired."""


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("missing bearer token (Authorization: Bearer <JWT>)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <JWT>`")
    return token.strip()


def verify(header: str | None, secret: str) -> dict[str, object]:
    """The token's claims; raises Unauthorized naming why (never echoing the token)."""
    token = bearer_token(header)
    import jwt  # on first use: see the module's doc

    try:
        claims: dict[str, object] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], leeway=LEEWAY_S, options={"require": []}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized("the token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("the token's signature does not match") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthorized(f"the token must be signed with {ALGORITHM}") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("the token is not a valid JWT") from None
    return claims


def mint(secret: str, subject: str, lifetime_s: int = 300) -> str:
    """A short-lived token, for the CLI and the tests: the same secret signs and checks."""
    import jwt  # on first use: see the module's doc

    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + lifetime_s}, secret, algorithm=ALGORITHM)
