"""NALD's coded columns: one code table each, and the rule that reads a code by its table.

A code is trimmed and looked up as it is (``curr`` is not ``CURR``): an
unknown code raises ``ValueError`` listing the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .values import SPACES, is_null

#: NALD_ABS_LIC_VERSIONS.STATUS and NALD_RET_VERSIONS.STATUS.
VERSION_STATUSES = {"CURR": "current", "SUPER": "superseded", "DRAFT": "draft"}
#: NALD_PURP_USES.ALSF_CODE and NALD_CHG_ELEMENTS.ALSF_CODE.
LOSS_FACTORS = {"V": "very low", "L": "low", "M": "medium", "H": "high", "N": "non-chargeable"}
#: NALD_CHG_ELEMENTS.ASFT_CODE (legacy charging.js importChargeElements).
SEASONS = {"S": "summer", "W": "winter", "A": "all year"}
#: NALD_CHG_ELEMENTS.ASRF_CODE.
SOURCES = {"S": "supported", "U": "unsupported", "K": "kielder", "T": "tidal"}
#: A ``Y``/``N`` column (DISABLED, FCTS_OVERRIDDEN).
FLAGS = {"Y": True, "N": False}


def code(value: str | None, table: Mapping[str, Any], what: str) -> Any:
    """``table``'s value of the code ``value``; NULL is an unknown code here."""
    key = None if value is None else value.strip(SPACES)
    if key is None or key not in table:
        raise ValueError(f"{value!r} is not {what} ({', '.join(table)})")
    return table[key]


def code_of(table: Mapping[str, Any], what: str) -> Callable[[str | None], Any]:
    """The rule of a coded column whose NULL stays ``None``; an unknown code raises."""

    def rule(value: str | None) -> Any:
        return None if is_null(value) else code(value, table, what)

    return rule


def flag(value: str | None) -> bool:
    """A ``Y``/``N`` column as a boolean."""
    return code(value, FLAGS, "a Y/N flag")
