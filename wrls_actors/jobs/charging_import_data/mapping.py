"""NALD codes and strings to WRLS values: the rules of the legacy charging-data import.

Pure functions, no I/O. Each takes one NALD value (varchar, ``'null'`` or
``None`` for NULL) and returns the WRLS value, or raises ``ValueError`` saying
why it cannot be read. The steps apply them to the *distinct* values of a
column only (a few dozen codes, a few thousand dates) and hand the results to
set-based SQL as lookup tables (:func:`lookup`), so the rules live here and the
rows never travel through Python.

Legacy sources (DEFRA/water-abstraction-import, Jan 2024):
``src/modules/charging-import/lib/queries/purposes.js`` (loss factor, two-part
tariff uses), ``.../queries/return-versions.js`` (status, frequency, summer and
upload formats, dates, integers), ``.../queries/financial-agreement-types.js``
(``DISABLED::boolean``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ..nald_import.return_cycles import is_summer_format, parse_nald_date

RETURN_VERSION_STATUSES = {"CURR": "current", "SUPER": "superseded", "DRAFT": "draft"}
RETURNS_FREQUENCIES = {"D": "day", "W": "week", "F": "fortnight", "M": "month", "Q": "quarter", "A": "year"}
LOSS_FACTORS = {"V": "very low", "L": "low", "M": "medium", "H": "high", "N": "non-chargeable"}
TWO_PART_TARIFF_USES = frozenset({"380", "390", "400", "410", "420", "600", "620"})
#: FORM_PRODN_MONTH of formats whose returns are uploaded (legacy: in ('65', '66')).
UPLOAD_PRODUCTION_MONTHS = frozenset({65, 66})
FLAGS = {"Y": True, "N": False}
# NALD_CHG_ELEMENTS codes (legacy charging.js importChargeElements).
SEASONS = {"S": "summer", "W": "winter", "A": "all year"}
SOURCES = {"S": "supported", "U": "unsupported", "K": "kielder", "T": "tidal"}

_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_PRODUCTION_MONTH = re.compile(r"^\s*([+-]?\d+)")


def is_null(value: str | None) -> bool:
    """NALD's NULL: ``None`` (an empty CSV field), ``''`` or the string ``'null'``."""
    return value is None or value.strip() == "" or value.strip().lower() == "null"


def _code(value: str | None, table: dict[str, Any], what: str) -> Any:
    key = None if value is None else value.strip()
    if key not in table:
        raise ValueError(f"{value!r} is not {what} ({', '.join(table)})")
    return table[key]


def return_version_status(value: str | None) -> str:
    """NALD_RET_VERSIONS.STATUS: CURR, SUPER, DRAFT to current, superseded, draft."""
    return _code(value, RETURN_VERSION_STATUSES, "a return version status")


def returns_frequency(value: str | None) -> str:
    """NALD_RET_FORMATS.ARTC_REC_FREQ_CODE: D, W, F, M, Q, A to day ... year.

    The legacy cast an unknown code to NULL, which failed the whole statement.
    """
    return _code(value, RETURNS_FREQUENCIES, "a returns frequency code")


def loss_factor(value: str | None) -> str:
    """NALD_PURP_USES.ALSF_CODE: V, L, M, H, N to very low, low, medium, high, non-chargeable."""
    return _code(value, LOSS_FACTORS, "a loss factor code")


def is_two_part_tariff(use_code: str | None) -> bool:
    """Spray and trickle irrigation, horticultural watering and golf courses are two-part tariff uses."""
    return use_code is not None and use_code.strip() in TWO_PART_TARIFF_USES


def flag(value: str | None) -> bool:
    """A NALD ``Y``/``N`` column (DISABLED) as a boolean."""
    return _code(value, FLAGS, "a Y/N flag")


def is_summer(form_prodn_month: str | None) -> bool:
    """Summer (November to October) formats: FORM_PRODN_MONTH 65, 45 or 80."""
    return is_summer_format(form_prodn_month)


def is_upload(form_prodn_month: str | None) -> bool:
    """Formats whose returns are uploaded as a file: FORM_PRODN_MONTH 65 or 66.

    Read as a number, like :func:`is_summer` (the legacy compared strings, so
    ``'066'`` was not an upload format; NALD writes no leading zeros).
    """
    match = None if form_prodn_month is None else _PRODUCTION_MONTH.match(form_prodn_month)
    return bool(match) and int(match.group(1)) in UPLOAD_PRODUCTION_MONTHS


def nald_date(value: str | None) -> date | None:
    """``DD/MM/YYYY`` to a date; NULL to ``None``; anything else raises ``ValueError``."""
    return parse_nald_date(value)


def required_date(value: str | None) -> date:
    """A date that must be there (a return version's start)."""
    parsed = parse_nald_date(value)
    if parsed is None:
        raise ValueError(f"{value!r}: a date is required")
    return parsed


def nald_integer(value: str | None, maximum: int = 2**31 - 1) -> int | None:
    """A whole number up to ``maximum``, or NULL to ``None`` (VERS_NO, format ID, abstraction periods)."""
    if is_null(value):
        return None
    if not _INTEGER.match(value):
        raise ValueError(f"{value!r} is not a whole number")
    number = int(value)
    if not -maximum - 1 <= number <= maximum:
        raise ValueError(f"{value!r} is out of range")
    return number


def nald_decimal(value: str | None) -> Decimal | None:
    """A finite number (a quantity), or NULL to ``None``."""
    if is_null(value):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return number


def code_of(table: Mapping[str, Any], what: str) -> Callable[[str | None], Any]:
    """The rule of a coded column: its code to the WRLS value; NULL stays ``None``, an unknown code raises."""
    def rule(value: str | None) -> Any:
        return None if is_null(value) else _code(value, dict(table), what)
    return rule


def period_part(value: str | None) -> int | None:
    """An abstraction period day or month (``smallint``), or NULL to ``None``."""
    return nald_integer(value, 2**15 - 1)


def required_integer(value: str | None) -> int:
    number = nald_integer(value)
    if number is None:
        raise ValueError(f"{value!r}: a number is required")
    return number


def nald_text(value: str | None) -> str | None:
    """Text, with NALD's ``'null'`` as ``None`` (the legacy ``nullif(x, 'null')``)."""
    return None if value is None or value == "null" else value


@dataclasses.dataclass(frozen=True)
class Lookup:
    """The readable distinct values of a column and what they map to, for SQL.

    ``raw`` holds the values as they are in ``import`` (NULL as ``''``: SQL
    joins on ``coalesce(column, '')``); ``unreadable`` maps each value the rule
    refused to its reason. A row whose value is not in ``raw`` is unreadable.
    """

    raw: list[str]
    value: list[Any]
    unreadable: dict[str, str]

    def params(self, name: str) -> dict[str, list]:
        return {f"{name}_raw": self.raw, f"{name}_value": self.value}


def lookup(values: Iterable[str | None], rule: Callable[[str | None], Any]) -> Lookup:
    """Apply ``rule`` to each distinct value; NULL (``None``) is offered to it as ``None``."""
    raw, mapped, unreadable = [], [], {}
    for value in sorted({"" if v is None else v for v in values}):
        try:
            result = rule(None if value == "" else value)
        except ValueError as e:
            unreadable[value] = str(e)
            continue
        raw.append(value)
        mapped.append(result)
    return Lookup(raw, mapped, unreadable)


# --------------------------------------------------------------------------- reference tables, row by row
# A few hundred rows in all: mapped whole, in Python.


def required_text(value: str | None, what: str) -> str:
    if is_null(value):
        raise ValueError(f"{what} is missing")
    return value


def financial_agreement_type(row: Mapping[str, str | None]) -> tuple[str, str | None, bool]:
    """NALD_FIN_AGRMNT_TYPES: (financial_agreement_code, description, disabled)."""
    return required_text(row["CODE"], "CODE"), row["DESCR"], flag(row["DISABLED"])


def purpose(row: Mapping[str, str | None]) -> tuple[str, str]:
    """NALD_PURP_PRIMS, NALD_PURP_SECS: (legacy_id, description)."""
    return required_text(row["CODE"], "CODE"), required_text(row["DESCR"], "DESCR")


def purpose_use(row: Mapping[str, str | None]) -> tuple[str, str, str, bool]:
    """NALD_PURP_USES: (legacy_id, description, loss_factor, is_two_part_tariff)."""
    code = required_text(row["CODE"], "CODE")
    return code, required_text(row["DESCR"], "DESCR"), loss_factor(row["ALSF_CODE"]), is_two_part_tariff(code)


def valid_purpose(row: Mapping[str, str | None]) -> tuple[str, str, str] | None:
    """NALD_PURPOSES: the (primary, secondary, use) codes of an enabled combination; ``None`` if disabled."""
    if flag(row["DISABLED"]):
        return None
    return row["APPR_CODE"], row["APSE_CODE"], row["APUS_CODE"]


def map_rows(rows: Iterable[Mapping[str, str | None]], rule: Callable[[Mapping[str, str | None]], Any],
             key: str) -> tuple[list, list[str]]:
    """``rule`` applied to each row: the results (``None`` dropped) and, per unreadable row, why."""
    mapped, unreadable = [], []
    for row in rows:
        try:
            result = rule(row)
        except ValueError as e:
            unreadable.append(f"{key} {row.get(key)!r}: {e}")
            continue
        if result is not None:
            mapped.append(result)
    return mapped, unreadable
