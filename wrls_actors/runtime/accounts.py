"""Operators' accounts: a name, a role and an argon2id hash of the password, in the ledger.

A **viewer** reads; an **operator** also acts (trigger, retry, cancel, pause).
Accounts are made with ``wrls-actors user add``; the password never leaves
this module but as its hash, and is never logged.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, text

from .errors import ConfigurationError

ROLES = ("viewer", "operator")
NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone's: only here to spend the same time")


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime
    updated_at: datetime


class AccountError(ConfigurationError):
    """A name, role or password an account cannot have, or an account that exists already or does not."""


def _now() -> datetime:
    # The clock the console's cookies are stamped with (this process's), not the database's: a session is
    # compared with this moment, and two clocks apart would end new sessions or keep old ones.
    return datetime.now(UTC)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise AccountError(
            "a user name is 1 to 100 characters: lower-case letters, digits and . _ @ - (starting with a letter "
            "or digit)"
        )
    return name


def _check(role: str, password: str) -> None:
    if role not in ROLES:
        raise AccountError(f"the role is viewer or operator, not {role!r}")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")


def add(engine: Engine, name: str, role: str, password: str) -> None:
    check_name(name)
    _check(role, password)
    with engine.begin() as connection:
        added = connection.execute(
            text(
                # Sessions from before: a removed account's cookies are not its namesake's.
                "INSERT INTO jobs.users (name, role, password_hash, sessions_valid_after) VALUES (:n, :r, :h, :now) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"n": name, "r": role, "h": _hasher.hash(password), "now": _now()},
        ).first()
    if added is None:
        raise AccountError(f"user {name} exists already (`wrls-actors user set` changes a role or password)")


def set_(engine: Engine, name: str, role: str, password: str) -> None:
    """Change an account's role and password."""
    check_name(name)
    _check(role, password)
    with engine.begin() as connection:
        changed = connection.execute(
            # A new password ends the account's console sessions (a stolen cookie with it).
            text(
                "UPDATE jobs.users SET role = :r, password_hash = :h, updated_at = now(), sessions_valid_after = :now "
                "WHERE name = :n RETURNING 1"
            ),
            {"n": name, "r": role, "h": _hasher.hash(password), "now": _now()},
        ).first()
    if changed is None:
        raise AccountError(f"no user {name}")


def remove(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        if connection.execute(text("DELETE FROM jobs.users WHERE name = :n RETURNING 1"), {"n": name}).first() is None:
            raise AccountError(f"no user {name}")


def users(engine: Engine) -> list[User]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, role, created_at, updated_at FROM jobs.users ORDER BY name"))
        return [User(r.name, r.role, r.created_at, r.updated_at) for r in rows]


def end_sessions(engine: Engine, name: str) -> None:
    """Every console session of the account issued until now is refused from now on (signing out)."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs.users SET sessions_valid_after = :now WHERE name = :n"), {"n": name, "now": _now()}
        )


def verify(engine: Engine, name: str, password: str) -> User | None:
    """The account, if ``password`` is its password; None otherwise (whichever of the two was wrong)."""
    row = None
    if NAME.fullmatch(name) and len(password) <= MAX_PASSWORD_CHARS:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT name, role, password_hash, created_at, updated_at FROM jobs.users WHERE name = :n"),
                {"n": name},
            ).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE jobs.users SET password_hash = :h WHERE name = :n"),
                {"n": name, "h": _hasher.hash(password)},
            )
    return User(row.name, row.role, row.created_at, row.updated_at)
