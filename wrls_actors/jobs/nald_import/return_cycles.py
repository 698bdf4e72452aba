"""Return cycles of a NALD return format: the legacy ``import-licence`` returns rules.

Pure functions, no I/O. The caller reads the NALD rows (all varchar, ``'null'``
for NULL, dates ``DD/MM/YYYY``), turns them into the small dataclasses below
with their ``from_nald_row`` constructors, and gets back plain return records
to write.

Legacy sources (DEFRA/water-abstraction-import, before the nald-import module
was removed in 2024-09, and @envage/water-abstraction-helpers 4.9.1):

- ``src/modules/nald-import/transform-returns.js`` (buildReturnsPacket, getCycleLogs)
- ``src/modules/nald-import/lib/transform-returns-helpers.js`` (getFormatCycles,
  getReturnCycles, getFormatStartDate, getFormatEndDate, mapProductionMonth,
  mapReceivedDate, getStatus)
- ``src/modules/nald-import/lib/due-date.js`` (getDueDate, isVariationCode)
- ``src/modules/nald-import/lib/nald-queries/sql/returns.js`` (getFormats,
  getSplitDate, getReturnVersionReason)
- helpers ``src/returns/index.js`` (getReturnId) and ``src/returns/date/period-start.js``,
  ``period-end.js`` (getPeriodStart, getPeriodEnd)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# Dates differ from the legacy: its non-strict moment parse treated an invalid
# date as absent (a licence end date dropped, returns running past the end);
# here a malformed date raises, so bad data is seen instead of hidden.
from ...nald.formats import is_summer_format
from ...nald.values import nald_date

#: NALD_MOD_LOGS.AMRE_CODE that marks a licence version as a succession (getSplitDate).
SUCCESSION_CODE = "SUCC"

#: Reason codes of the *next* return version that make a cut-short cycle due on
#: its full cycle end (legacy due-date.js isVariationCode).
VARIATION_CODES = frozenset({"VARF", "VARM", "AMND", "NAME", "REDS", "SPAC", "SPAN", "XCORR"})

#: Days after the (reference) cycle end date that a return is due.
DUE_DAYS = 28

#: Coronavirus extension: the cycle ending 2020-03-31 was due 2020-10-16.
COVID_CYCLE_END = date(2020, 3, 31)
COVID_DUE_DATE = date(2020, 10, 16)

STATUS_DUE = "due"
STATUS_COMPLETED = "completed"

# --------------------------------------------------------------------------- dates


def cycle_start(day: date, is_summer: bool) -> date:
    """Start of the cycle holding ``day``: 1 Apr (financial) or 1 Nov (summer).

    Legacy helpers getPeriodStart.
    """
    month = 11 if is_summer else 4
    boundary = date(day.year, month, 1)
    return boundary if day >= boundary else date(day.year - 1, month, 1)


def cycle_end(day: date, is_summer: bool) -> date:
    """End of the cycle holding ``day``: 31 Mar or 31 Oct (legacy getPeriodEnd)."""
    start = cycle_start(day, is_summer)
    return date(start.year + 1, start.month, 1) - timedelta(days=1)


# --------------------------------------------------------------------------- input data


@dataclass(frozen=True)
class ReturnFormat:
    """One NALD_RET_FORMATS row joined to its NALD_RET_VERSIONS and licence row.

    Mirrors the legacy getFormats query (``f.*, v.*`` plus the licence
    EXPIRY_DATE, REV_DATE and LAPSED_DATE).
    """

    id: str
    region_code: str
    form_prodn_month: str | None
    version_start: date  # NALD_RET_VERSIONS.EFF_ST_DATE
    version_end: date | None = None  # NALD_RET_VERSIONS.EFF_END_DATE
    version_no: str | None = None  # NALD_RET_VERSIONS.VERS_NO (caller needs it for the next version's mod logs)
    licence_id: str | None = None  # NALD_RET_VERSIONS.AABL_ID
    time_limited_start: date | None = None  # NALD_RET_FORMATS.TIMELTD_ST_DATE
    time_limited_end: date | None = None  # NALD_RET_FORMATS.TIMELTD_END_DATE
    licence_expiry: date | None = None
    licence_revoked: date | None = None
    licence_lapsed: date | None = None

    @classmethod
    def from_nald_row(cls, row: Mapping[str, str]) -> ReturnFormat:
        """Build from a getFormats-style row (NALD column names, varchar values)."""
        start = nald_date(row["EFF_ST_DATE"])
        if start is None:
            raise ValueError(f"return format {row.get('ID')!r} has no return version EFF_ST_DATE")
        return cls(
            id=row["ID"],
            region_code=row["FGAC_REGION_CODE"],
            form_prodn_month=row.get("FORM_PRODN_MONTH"),
            version_start=start,
            version_end=nald_date(row.get("EFF_END_DATE")),
            version_no=row.get("VERS_NO"),
            licence_id=row.get("AABL_ID"),
            time_limited_start=nald_date(row.get("TIMELTD_ST_DATE")),
            time_limited_end=nald_date(row.get("TIMELTD_END_DATE")),
            licence_expiry=nald_date(row.get("LICENCE_EXPIRY_DATE", row.get("EXPIRY_DATE"))),
            licence_revoked=nald_date(row.get("LICENCE_REVOKED_DATE", row.get("REV_DATE"))),
            licence_lapsed=nald_date(row.get("LICENCE_LAPSED_DATE", row.get("LAPSED_DATE"))),
        )

    @property
    def is_summer(self) -> bool:
        return is_summer_format(self.form_prodn_month)


@dataclass(frozen=True)
class FormLog:
    """One NALD_RET_FORM_LOGS row: the period it covers and when it was received."""

    date_from: date | None
    date_to: date | None
    received: date | None  # RECD_DATE; None = 'null' = not received

    @classmethod
    def from_nald_row(cls, row: Mapping[str, str]) -> FormLog:
        return cls(
            date_from=nald_date(row.get("DATE_FROM")),
            date_to=nald_date(row.get("DATE_TO")),
            received=nald_date(row.get("RECD_DATE")),
        )


@dataclass(frozen=True)
class VersionModLog:
    """A licence version (NALD_ABS_LIC_VERSIONS) joined to one of its NALD_MOD_LOGS."""

    version_start: date | None  # NALD_ABS_LIC_VERSIONS.EFF_ST_DATE
    reason_code: str  # NALD_MOD_LOGS.AMRE_CODE

    @classmethod
    def from_nald_row(cls, row: Mapping[str, str]) -> VersionModLog:
        return cls(version_start=nald_date(row.get("EFF_ST_DATE")), reason_code=row["AMRE_CODE"])


# --------------------------------------------------------------------------- output data


@dataclass(frozen=True)
class ReturnCycle:
    """A (possibly cut) cycle of a format. ``is_current``: starts on/after the split date."""

    start: date
    end: date
    is_current: bool


@dataclass(frozen=True)
class NaldReturn:
    """A return to write for one cycle of one format (the legacy returnRow's dated fields)."""

    return_id: str
    licence_ref: str
    format_id: str
    region_code: str
    start_date: date
    end_date: date
    due_date: date
    status: str  # 'due' | 'completed'
    received_date: date | None
    is_current: bool
    is_final: bool
    is_summer: bool


# --------------------------------------------------------------------------- format range


def format_start_date(fmt: ReturnFormat) -> date:
    """Return version start, or the time-limited start when it is later.

    Legacy getFormatStartDate.
    """
    if fmt.time_limited_start is not None and fmt.time_limited_start > fmt.version_start:
        return fmt.time_limited_start
    return fmt.version_start


def format_end_date(fmt: ReturnFormat) -> date | None:
    """Earliest of return version end, time-limited end, licence lapsed, revoked, expiry.

    ``None`` when none is set. Legacy getFormatEndDate.
    """
    dates = [
        d
        for d in (
            fmt.version_end,
            fmt.time_limited_end,
            fmt.licence_lapsed,
            fmt.licence_revoked,
            fmt.licence_expiry,
        )
        if d is not None
    ]
    return min(dates) if dates else None


def succession_split_date(version_mod_logs: Iterable[VersionModLog]) -> date | None:
    """Start date of the latest licence version that has a ``SUCC`` mod log, else ``None``.

    Legacy getSplitDate (``AMRE_CODE = 'SUCC'`` ordered by the version's
    EFF_ST_DATE descending, first row). Versions without a start date are
    skipped (the legacy ``to_date('null')`` would fail the query).
    """
    dates = [
        row.version_start
        for row in version_mod_logs
        if row.reason_code.strip() == SUCCESSION_CODE and row.version_start is not None
    ]
    return max(dates) if dates else None


# --------------------------------------------------------------------------- cycles


def return_cycles(start: date, end: date, split_date: date | None, is_summer: bool) -> list[ReturnCycle]:
    """Cut ``start..end`` (inclusive) into cycles, also at ``split_date``.

    Legacy getReturnCycles: every cycle start (1 Apr / 1 Nov) and the split date
    that fall strictly inside the range start a new piece, the previous piece
    ending the day before. ``is_current`` is true when there is no split date or
    the piece starts on/after it (even if the split date is outside the range).

    Differs from legacy, deliberately:
    - the legacy seeds its loop with ``moment(<year number>)``, i.e. a 1970
      timestamp, so it never cuts before 1 Apr 1969 / 1 Nov 1969 and a format
      starting earlier gets one multi-year first piece. We cut every cycle
      (those pieces only matter if form logs exist before 1969).
    - for ``end < start`` the legacy emits one inverted piece; we emit none.
    """
    if end < start:
        return []
    splits: set[date] = set()
    if split_date is not None and start < split_date < end:
        splits.add(split_date)
    boundary = cycle_start(start, is_summer)
    while boundary < end:
        if boundary > start:
            splits.add(boundary)
        boundary = date(boundary.year + 1, boundary.month, 1)
    starts = [start, *sorted(splits)]
    ends = [s - timedelta(days=1) for s in sorted(splits)] + [end]
    return [
        ReturnCycle(start=s, end=e, is_current=split_date is None or s >= split_date)
        for s, e in zip(starts, ends, strict=True)
    ]


def format_cycles(fmt: ReturnFormat, split_date: date | None, today: date) -> list[ReturnCycle]:
    """The cycles of a format: its start..end range, cut by cycle and split date.

    Legacy getFormatCycles. With no end date the range runs to the end of the
    cycle holding ``today`` (legacy: ``getPeriodStart(now + 1 year) - 1 day``,
    the same date; we take ``today`` as an argument to stay pure).
    """
    is_summer = fmt.is_summer
    end = format_end_date(fmt)
    if end is None:
        end = cycle_end(today, is_summer)
    return return_cycles(format_start_date(fmt), end, split_date, is_summer)


def overlapping_logs(logs: Iterable[FormLog], cycle_start_date: date, cycle_end_date: date) -> list[FormLog]:
    """Form logs with DATE_TO >= cycle start and DATE_FROM <= cycle end (legacy getCycleLogs).

    A log missing either date never overlaps (legacy: invalid moment comparisons are false).
    """
    return [
        log
        for log in logs
        if log.date_from is not None
        and log.date_to is not None
        and log.date_to >= cycle_start_date
        and log.date_from <= cycle_end_date
    ]


def received_date(logs: Sequence[FormLog]) -> date | None:
    """Received date of a return from its overlapping form logs.

    ``None`` if there are no logs or any log has RECD_DATE 'null'; otherwise the
    latest RECD_DATE (legacy mapReceivedDate).

    Differs from legacy: its "max" sorts on a nonexistent ``.unix`` property, so
    it returns an arbitrary one of the dates; we take the latest, which is what
    the legacy code and comment intend.
    """
    if not logs or any(log.received is None for log in logs):
        return None
    return max(log.received for log in logs)  # type: ignore[type-var]


def return_status(received: date | None) -> str:
    """``'due'`` when not received, else ``'completed'`` (legacy getStatus)."""
    return STATUS_DUE if received is None else STATUS_COMPLETED


def return_id(region_code: str, licence_ref: str, format_id: str, start: date, end: date) -> str:
    """``v1:<region>:<licence>:<formatId>:<start>:<end>``, ISO dates (helpers getReturnId)."""
    return f"v1:{region_code}:{licence_ref}:{format_id}:{start.isoformat()}:{end.isoformat()}"


def is_variation(reason_codes: Iterable[str]) -> bool:
    """Whether any mod-log reason code is a variation code (legacy isVariationCode)."""
    return any(code.strip() in VARIATION_CODES for code in reason_codes)


def due_date(end: date, fmt: ReturnFormat, next_version_reason_codes: Iterable[str] = ()) -> date:
    """Due date of a cycle ending ``end``: reference date + 28 days.

    Legacy due-date.js getDueDate:
    - the reference date is ``end``, except when ``end`` equals the return
      version's EFF_END_DATE and the *next* return version (VERS_NO + 1) has a
      ``RET`` mod log with a variation code: then it is the end of the full
      cycle holding ``end`` (the cycle was only cut by the variation).
      ``next_version_reason_codes`` are the AMRE_CODEs of NALD_MOD_LOGS with
      ARVN_AABL_ID = AABL_ID, ARVN_VERS_NO = VERS_NO + 1, AMRE_AMRE_TYPE = 'RET';
      the caller reads them only when ``end == fmt.version_end``.
    - a reference date of 2020-03-31 is due 2020-10-16 (coronavirus extension).
    """
    reference = end
    if fmt.version_end is not None and end == fmt.version_end and is_variation(next_version_reason_codes):
        reference = cycle_end(end, fmt.is_summer)
    if reference == COVID_CYCLE_END:
        return COVID_DUE_DATE
    return reference + timedelta(days=DUE_DAYS)


def format_returns(
    licence_ref: str,
    fmt: ReturnFormat,
    logs: Iterable[FormLog],
    split_date: date | None,
    today: date,
    next_version_reason_codes: Iterable[str] = (),
) -> list[NaldReturn]:
    """The returns of one format: one per cycle that overlaps at least one form log.

    Legacy buildReturnsPacket (dated fields and flags; purposes, points and the
    other metadata are built elsewhere). ``is_final``: the cycle ends on the
    format end date.
    """
    logs = list(logs)
    codes = list(next_version_reason_codes)
    end_of_format = format_end_date(fmt)
    result: list[NaldReturn] = []
    for cycle in format_cycles(fmt, split_date, today):
        cycle_logs = overlapping_logs(logs, cycle.start, cycle.end)
        if not cycle_logs:
            continue
        received = received_date(cycle_logs)
        result.append(
            NaldReturn(
                return_id=return_id(fmt.region_code, licence_ref, fmt.id, cycle.start, cycle.end),
                licence_ref=licence_ref,
                format_id=fmt.id,
                region_code=fmt.region_code,
                start_date=cycle.start,
                end_date=cycle.end,
                due_date=due_date(cycle.end, fmt, codes),
                status=return_status(received),
                received_date=received,
                is_current=cycle.is_current,
                is_final=end_of_format is not None and cycle.end == end_of_format,
                is_summer=fmt.is_summer,
            )
        )
    return result
