"""A licence's returns from its NALD rows: the joins the legacy made in SQL
(formats with their return version and the licence's end dates, the
succession split date, the next return version's reasons), then the cycle
rules of :mod:`return_cycles` and the metadata of :mod:`permit_json`.

Pure: rows in, :class:`ReturnRow` out.
"""

from __future__ import annotations

from datetime import date

from .licence_rows import LicenceRows
from .permit_json import format_metadata, return_frequency
from .return_cycles import FormLog, ReturnFormat, VersionModLog, format_returns, succession_split_date
from .write_licence import ReturnRow


def _key(*values) -> tuple[str, ...]:
    return tuple(str(v).strip() for v in values)


def version_mod_logs(rows: LicenceRows) -> list[VersionModLog]:
    """Licence versions joined to their mod logs (legacy getSplitDate's join)."""
    starts = {_key(v["ISSUE_NO"], v["INCR_NO"]): v["EFF_ST_DATE"] for v in rows.versions}
    result = []
    for log in rows.mod_logs:
        start = starts.get(_key(log.get("AABV_ISSUE_NO"), log.get("AABV_INCR_NO")))
        if start is not None and str(log.get("AABL_ID")) == str(rows.licence["ID"]):
            result.append(VersionModLog.from_nald_row({"EFF_ST_DATE": start, "AMRE_CODE": log["AMRE_CODE"]}))
    return result


def next_version_reasons(rows: LicenceRows, version_no: str | None) -> list[str]:
    """Reason codes of return version ``version_no + 1`` (legacy getReturnVersionReason)."""
    if version_no is None or not str(version_no).strip().isdigit():
        return []
    following = str(int(version_no) + 1)
    return [
        log["AMRE_CODE"]
        for log in rows.mod_logs
        if str(log.get("ARVN_AABL_ID")) == str(rows.licence["ID"])
        and str(log.get("ARVN_VERS_NO", "")).strip() == following
        and str(log.get("AMRE_AMRE_TYPE", "")).strip() == "RET"
    ]


def format_row(rows: LicenceRows, fmt: dict) -> dict | None:
    """A format joined to its return version and the licence's end dates (legacy getFormats)."""
    version = next((v for v in rows.return_versions if _key(v["VERS_NO"]) == _key(fmt["ARVN_VERS_NO"])), None)
    if version is None:
        return None
    licence = rows.licence
    return {
        **fmt,
        **{k: version[k] for k in ("EFF_ST_DATE", "EFF_END_DATE", "VERS_NO", "AABL_ID")},
        "LICENCE_EXPIRY_DATE": licence.get("EXPIRY_DATE"),
        "LICENCE_REVOKED_DATE": licence.get("REV_DATE"),
        "LICENCE_LAPSED_DATE": licence.get("LAPSED_DATE"),
    }


def licence_returns(rows: LicenceRows, today: date) -> list[ReturnRow]:
    licence_ref = rows.licence["LIC_NO"]
    split_date = succession_split_date(version_mod_logs(rows))
    result = []
    logs_of: dict[tuple[str, ...], list[dict]] = {}
    for log in rows.form_logs:
        logs_of.setdefault(_key(log["ARTY_ID"]), []).append(log)
    for fmt in rows.return_formats:
        joined = format_row(rows, fmt)
        if joined is None:
            continue
        nald_format = ReturnFormat.from_nald_row(joined)
        logs = [FormLog.from_nald_row(log) for log in logs_of.get(_key(fmt["ID"]), [])]
        reasons = next_version_reasons(rows, nald_format.version_no)
        metadata = None  # built once a format (it has a return a cycle, for decades), and only if it has any
        for nald_return in format_returns(licence_ref, nald_format, logs, split_date, today, reasons):
            if metadata is None:
                metadata = format_metadata(rows, fmt)
            result.append(
                ReturnRow(
                    return_id=nald_return.return_id,
                    licence_ref=licence_ref,
                    format_id=nald_return.format_id,
                    start_date=nald_return.start_date,
                    end_date=nald_return.end_date,
                    due_date=nald_return.due_date,
                    status=nald_return.status,
                    received_date=nald_return.received_date,
                    returns_frequency=return_frequency(fmt),
                    is_summer=nald_return.is_summer,
                    format_metadata=metadata,
                    is_current=nald_return.is_current,
                    is_final=nald_return.is_final,
                )
            )
    return result
