"""A licence's NALD charge versions as the PRESROC charge version history WRLS bills from.

Pure functions, no I/O: the rules of the legacy ``mappers/charge-versions.js``,
with two of its bugs fixed:

- An end date is clipped to the day before the next version's start with a
  real minimum. The legacy's ``getMinDate`` sorted on a ``.unix`` property
  that does not exist, so which of the two dates it kept was up to the sort.
- The result is ordered by start date, then version number. The legacy's second
  sort subtracted objects from each other (``NaN``), which left the order to
  the engine.

A version is "in error" when NALD flags it so or when the next one starts the
same day; it becomes ``superseded``, every other ``current``. The spans of the
licence no current version covers (before the first, between two, after the
last, or the whole licence when none is current) become NALD gap versions,
numbered after the highest NALD version number.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from itertools import pairwise

CURRENT = "current"
SUPERSEDED = "superseded"
ONE_DAY = timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Licence:
    region: str  # FGAC_REGION_CODE
    id: str  # NALD_ABS_LICENCES.ID
    start_date: date | None  # ORIG_EFF_DATE
    end_date: date | None  # the earliest of expiry, revocation and lapse

    @property
    def key(self) -> str:
        return f"{self.region}:{self.id}"


@dataclasses.dataclass(frozen=True)
class NaldVersion:
    version_number: int
    start_date: date
    end_date: date | None
    in_error: bool  # IN_ERROR_STATUS = 'Y'


@dataclasses.dataclass(frozen=True)
class ChargeVersion:
    """A row of ``water_import.charge_versions_metadata``."""

    external_id: str
    version_number: int
    start_date: date
    end_date: date | None
    status: str
    is_nald_gap: bool


def _is_error(version: NaldVersion, following: NaldVersion | None) -> bool:
    return version.in_error or (following is not None and version.start_date == following.start_date)


def _clipped_end(version: NaldVersion, following: NaldVersion | None) -> date | None:
    if following is None or _is_error(version, following):
        return version.end_date
    latest = following.start_date - ONE_DAY
    return latest if version.end_date is None else min(version.end_date, latest)


def charge_history(licence: Licence, versions: list[NaldVersion]) -> list[ChargeVersion]:
    """The charge versions and gaps of ``licence``; nothing when NALD has no version for it.

    ``versions`` are its non-draft NALD versions, in any order. Raises ``ValueError`` when a gap
    would need the licence's start date and it has none.
    """
    if not versions:
        return []
    ordered = sorted(versions, key=lambda v: (v.start_date, v.version_number))
    mapped = []
    for i, version in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        mapped.append(
            ChargeVersion(
                f"{licence.key}:{version.version_number}",
                version.version_number,
                version.start_date,
                _clipped_end(version, following),
                SUPERSEDED if _is_error(version, following) else CURRENT,
                False,
            )
        )
    gaps = _gaps(licence, [v for v in mapped if v.status == CURRENT])
    highest = max(v.version_number for v in mapped)
    numbered = [
        ChargeVersion(external_id, highest + n, start, end, CURRENT, True)
        for n, (start, end, external_id) in enumerate(gaps, 1)
    ]
    return sorted(mapped + numbered, key=lambda v: (v.start_date, v.version_number))


def _gaps(licence: Licence, current: list[ChargeVersion]) -> list[tuple[date, date | None, str]]:
    """(start, end, external id) of each span of the licence that no current version covers."""
    key = licence.key
    if not current:
        if licence.start_date is None:
            raise ValueError(f"licence {key} has no start date (ORIG_EFF_DATE) to start its NALD gap from")
        return [(licence.start_date, licence.end_date, f"{key}:licenceStart-licenceEnd")]
    gaps: list[tuple[date, date | None, str]] = []
    first = current[0]
    if licence.start_date is not None and licence.start_date < first.start_date:
        gaps.append((licence.start_date, first.start_date - ONE_DAY, f"{key}:licenceStart"))
    for version, following in pairwise(current):
        # A current version followed by another was clipped, so it has an end date.
        day_before = following.start_date - ONE_DAY
        if version.end_date is not None and version.end_date < day_before:
            gaps.append(
                (version.end_date + ONE_DAY, day_before, f"{key}:{version.version_number}-{following.version_number}")
            )
    last = current[-1]
    if last.end_date is not None and (licence.end_date is None or licence.end_date > last.end_date):
        gaps.append((last.end_date + ONE_DAY, licence.end_date, f"{key}:licenceEnd"))
    return gaps
