"""What a return format's FORM_PRODN_MONTH says."""

from __future__ import annotations

from .values import leading_integer

#: FORM_PRODN_MONTH codes of summer (1 Nov - 31 Oct) formats (legacy mapProductionMonth).
SUMMER_PRODUCTION_MONTHS = frozenset({65, 45, 80})
#: FORM_PRODN_MONTH of formats whose returns are uploaded (legacy: in ('65', '66')).
UPLOAD_PRODUCTION_MONTHS = frozenset({65, 66})


def is_summer_format(form_prodn_month: str | int | None) -> bool:
    """Whether a format uses summer (November to October) cycles: FORM_PRODN_MONTH 65, 45 or 80."""
    return leading_integer(form_prodn_month) in SUMMER_PRODUCTION_MONTHS


def is_upload_format(form_prodn_month: str | int | None) -> bool:
    """Whether a format's returns are uploaded as a file: FORM_PRODN_MONTH 65 or 66.

    Read as a number, like :func:`is_summer_format` (the legacy compared strings,
    so ``'066'`` was not an upload format; NALD writes no leading zeros).
    """
    return leading_integer(form_prodn_month) in UPLOAD_PRODUCTION_MONTHS
