"""NALD codes and strings to WRLS values: the rules of the legacy charging-data import.

Pure functions, no I/O. Each takes one NALD value and returns the WRLS value,
or raises ``ValueError`` saying why it cannot be read; NULL, dates, numbers
and codes are read by the rules of :mod:`wrls_actors.nald`, which every job
shares. The steps apply them to the *distinct* values of a column only (a few
dozen codes, a few thousand dates) and hand the results to set-based SQL as
lookup tables (:mod:`wrls_actors.nald.lookups`), so the rows never travel
through Python.

Legacy sources (DEFRA/water-abstraction-import, Jan 2024):
``src/modules/charging-import/lib/queries/purposes.js`` (loss factor, two-part
tariff uses), ``.../queries/return-versions.js`` (status, frequency, summer and
upload formats, dates, integers), ``.../queries/financial-agreement-types.js``
(``DISABLED::boolean``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...nald.codes import LOSS_FACTORS, VERSION_STATUSES, code, flag
from ...nald.values import is_null

RETURNS_FREQUENCIES = {"D": "day", "W": "week", "F": "fortnight", "M": "month", "Q": "quarter", "A": "year"}
TWO_PART_TARIFF_USES = frozenset({"380", "390", "400", "410", "420", "600", "620"})


def return_version_status(value: str | None) -> str:
    """NALD_RET_VERSIONS.STATUS: CURR, SUPER, DRAFT to current, superseded, draft."""
    return code(value, VERSION_STATUSES, "a return version status")


def returns_frequency(value: str | None) -> str:
    """NALD_RET_FORMATS.ARTC_REC_FREQ_CODE: D, W, F, M, Q, A to day ... year.

    The legacy cast an unknown code to NULL, which failed the whole statement.
    """
    return code(value, RETURNS_FREQUENCIES, "a returns frequency code")


def loss_factor(value: str | None) -> str:
    """NALD_PURP_USES.ALSF_CODE: V, L, M, H, N to very low, low, medium, high, non-chargeable."""
    return code(value, LOSS_FACTORS, "a loss factor code")


def is_two_part_tariff(use_code: str | None) -> bool:
    """Spray and trickle irrigation, horticultural watering and golf courses are two-part tariff uses."""
    return use_code is not None and use_code.strip() in TWO_PART_TARIFF_USES


# --------------------------------------------------------------------------- reference tables, row by row
# A few hundred rows in all: mapped whole, in Python.


def required_text(value: str | None, what: str) -> str:
    if value is None or is_null(value):
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


def valid_purpose(row: Mapping[str, str | None]) -> tuple[str | None, str | None, str | None] | None:
    """NALD_PURPOSES: the (primary, secondary, use) codes of an enabled combination; ``None`` if disabled."""
    if flag(row["DISABLED"]):
        return None
    return row["APPR_CODE"], row["APSE_CODE"], row["APUS_CODE"]


def map_rows(
    rows: Iterable[Mapping[str, str | None]], rule: Callable[[Mapping[str, str | None]], Any], key: str
) -> tuple[list, list[str]]:
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
