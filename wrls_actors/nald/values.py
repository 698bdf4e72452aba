"""NALD's values, one rule each: NULL, dates, whole numbers and decimals.

NALD is an Oracle extract in which every column is text. It writes NULL as the
string ``null``; the loader reads an empty CSV field as SQL NULL (``None``).
Oracle has no empty string (``''`` is NULL there), so a blank value carries no
more than ``null`` does, and ``NULL`` in another case is the same token. So
NULL is: ``None``, or a value that is blank or ``null`` (any case) once the
surrounding spaces are trimmed. Anything else is kept as text, or read by the
rule of its kind, which raises ``ValueError`` saying why it cannot.

Dates are ``DD/MM/YYYY``; some columns (``IAS_XFER_DATE``) carry a time after
the date, which is dropped. Numbers are plain decimals (no exponent): the SQL
forms in :mod:`.sql` use the same patterns, so Python and PostgreSQL agree on
what is readable.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal
from typing import Any

#: What NALD writes for NULL.
NULL = "null"
SMALLINT_MAX = 2**15 - 1
INTEGER_MAX = 2**31 - 1

# The characters trimmed around a value; the SQL forms trim the same ones.
SPACES = " \t\r\n"
_S = r"[ \t\r\n]*"
#: Patterns shared with the SQL forms (PostgreSQL's regular expressions read them alike).
INTEGER_PATTERN = rf"^{_S}[+-]?[0-9]+{_S}$"
NUMBER_PATTERN = rf"^{_S}[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+){_S}$"
DATE_PATTERN = rf"^{_S}([0-9]{{1,2}})/([0-9]{{1,2}})/([0-9]{{4}})([ \t]+[0-9]{{1,2}}:[0-9]{{2}}(:[0-9]{{2}})?)?{_S}$"

_INTEGER = re.compile(INTEGER_PATTERN)
_LEADING_INTEGER = re.compile(rf"^{_S}([+-]?[0-9]+)")
_NUMBER = re.compile(NUMBER_PATTERN)
_DATE = re.compile(DATE_PATTERN)


def is_null(value: Any) -> bool:
    """Whether ``value`` is NALD's NULL: ``None``, blank, or ``null`` in any case."""
    if value is None:
        return True
    trimmed = str(value).strip(SPACES)
    return trimmed == "" or trimmed.lower() == NULL


def text(value: Any) -> Any:
    """A text value as NALD wrote it, or ``None`` for NULL."""
    return None if is_null(value) else value


def nald_date(value: str | date | None) -> date | None:
    """``DD/MM/YYYY`` (a time after it is dropped) as a date; NULL as ``None``; a ``date`` passes through."""
    if isinstance(value, date):
        return value
    if value is None:
        return None
    return _text_date(value)


# An extract holds few distinct dates (a licence's rows repeat its own), read hundreds of
# thousands of times a night: each text read once. A bad one raises anew each time (not cached).
@functools.lru_cache(maxsize=65536)
def _text_date(value: str) -> date | None:
    if is_null(value):
        return None
    match = _DATE.match(value)
    try:
        if match is None:
            raise ValueError
        day, month, year = (int(g) for g in match.group(1, 2, 3))
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a DD/MM/YYYY date") from None


def integer(value: str | None, maximum: int | None = None) -> int | None:
    """A whole number (within ``±maximum`` when given: the column it goes to), or NULL as ``None``."""
    if value is None or is_null(value):
        return None
    if not _INTEGER.match(value):
        raise ValueError(f"{value!r} is not a whole number")
    number = int(value.strip(SPACES))
    if maximum is not None and not -maximum - 1 <= number <= maximum:
        raise ValueError(f"{value!r} is out of range")
    return number


def smallint(value: str | None) -> int | None:
    """A whole number for a ``smallint`` column (an abstraction period day or month), or NULL as ``None``."""
    return integer(value, SMALLINT_MAX)


def required_integer(value: str | None) -> int:
    """A whole number for an ``integer`` column that must be there."""
    number = integer(value, INTEGER_MAX)
    if number is None:
        raise ValueError(f"{value!r}: a number is required")
    return number


def required_date(value: str | None) -> date:
    """A date that must be there."""
    day = nald_date(value)
    if day is None:
        raise ValueError(f"{value!r}: a date is required")
    return day


def decimal(value: str | None) -> Decimal | None:
    """A plain decimal number (``-1``, ``2.50``, ``.5``), or NULL as ``None``."""
    if value is None or is_null(value):
        return None
    if not _NUMBER.match(value):
        raise ValueError(f"{value!r} is not a number")
    return Decimal(value.strip(SPACES))


def leading_integer(value: str | int | None) -> int | None:
    """The whole number ``value`` starts with, the rest ignored; ``None`` if none (NULL, ``'x1'``).

    The legacy read codes and ids with JavaScript's ``parseInt``, which does
    this; where its output is kept (the permit JSON, summer formats) so is the reading.
    """
    if value is None or isinstance(value, int):
        return value
    match = _LEADING_INTEGER.match(value)
    return int(match.group(1)) if match else None
