"""When a schedule fires: pure functions over cron expressions and intervals.

Matching uses periodiq's own ``CronSpec.validate``, so the timeline, the
missed-tick watch and periodiq agree on what fires when. What periodiq gets
wrong is refused or corrected here:

- Sunday written ``0`` (or ``sun``, ``@weekly``) never fires in periodiq: such
  expressions are refused with a message saying to write ``7``.
- Six-field expressions are silently read as five by periodiq: refused.
- Month names raise deep inside periodiq: refused here with a clear message.
- Daylight saving: on the night clocks go back, a fixed-hour expression fires
  once (the repeated wall-clock hour is not a second firing); on the night
  clocks go forward, a time inside the skipped hour fires at the first
  instant after the gap. periodiq matches the wall clock, so it sends the
  repeat (the handler ignores it: not a fire time) and never sends the
  skipped time (``shifted_times`` lists those for the scheduler to send).

Intervals (``every``) are aligned to the epoch, so a 15 s schedule fires at
:00, :15, :30 and :45 of every minute wherever the scheduler started.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from periodiq import CronSpec

from .definitions import Schedule
from .errors import ScheduleError

MINUTE = timedelta(minutes=1)
_INTERVAL = re.compile(r"^every\s+(\d+)\s*(s|sec|seconds?|m|min|minutes?)$")


def parse_cron(expression: str) -> CronSpec:
    """Parse and check a 5-field cron expression (``@daily`` style aliases allowed, ``@weekly`` not)."""
    text = expression.strip()
    if text in ("@weekly",):
        raise ScheduleError(f"{expression!r}: @weekly means Sunday 0, which periodiq never fires; write '0 0 * * 7'")
    fields = text.split() if not text.startswith("@") else []
    if not text.startswith("@") and len(fields) != 5:
        raise ScheduleError(
            f"{expression!r}: a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    if fields and re.search(r"[a-z]", fields[3], re.I):
        raise ScheduleError(f"{expression!r}: write months as numbers (1-12), not names")
    if fields and re.search(r"sun", fields[4], re.I):
        raise ScheduleError(f"{expression!r}: write Sunday as 7: periodiq never fires 'sun'")
    try:
        spec = CronSpec.parse(text)
    except (KeyError, ValueError, IndexError) as e:
        raise ScheduleError(f"{expression!r} is not a valid cron expression: {e}") from None
    if fields and fields[4] != "*" and 0 in spec.dow:
        raise ScheduleError(f"{expression!r}: write Sunday as 7: periodiq never fires a weekday of 0")
    for name, values, low, high in (
        ("minute", spec.minute, 0, 59),
        ("hour", spec.hour, 0, 23),
        ("day", spec.dom, 1, 31),
        ("month", spec.month, 1, 12),
        ("weekday", spec.dow, 0, 7),
    ):
        if not values or min(values) < low or max(values) > high:
            raise ScheduleError(f"{expression!r}: {name} out of range {low}-{high}")
    return spec


def parse_interval(text: str) -> timedelta:
    """``every 15s`` / ``every 2m`` -> a timedelta (whole seconds dividing into days)."""
    match = _INTERVAL.match(text.strip().lower())
    if not match:
        raise ScheduleError(f"{text!r}: an interval is written 'every 15s' or 'every 5m'")
    seconds = int(match.group(1)) * (60 if match.group(2).startswith("m") else 1)
    if seconds <= 0 or 86400 % seconds:
        raise ScheduleError(f"{text!r}: the interval must divide a day evenly")
    return timedelta(seconds=seconds)


def fixed_hour(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and fields[1] != "*" and not fields[1].startswith("*/")


def fire_times(schedule: Schedule, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every nominal time in ``(start, end]``, as aware UTC datetimes, oldest first."""
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    if schedule.every is not None:
        return _interval_times(schedule.every, start, end)
    if not schedule.cron:
        return []
    return _cron_times(parse_cron(schedule.cron), fixed_hour(schedule.cron), start, end, tz)


def _interval_times(every: timedelta, start: datetime, end: datetime) -> list[datetime]:
    step = int(every.total_seconds())
    first = (int(start.timestamp()) // step + 1) * step
    return [datetime.fromtimestamp(t, UTC) for t in range(first, int(end.timestamp()) + 1, step)]


# A zone's UTC offset changes at most once in any day: in tzdata the closest two changes of one zone are 95 hours
# apart (Africa/Freetown, 1939). So a jump of up to a day that ends on the offset it started from crossed no change.
_PROBE = timedelta(days=1)


def _cron_times(spec: CronSpec, fixed: bool, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC minutes in ``(start, end]`` that fire, as if each were looked at in turn.

    The window is cut where the UTC offset changes (and at least once a day). A stretch's first minute may follow
    a gap and is looked at as such; after it, a minute's wall-clock time is the one before's plus a minute, so
    only the minutes whose wall-clock time the expression names can fire, and only those are looked at.
    """
    times = []
    moment = start.replace(second=0, microsecond=0) + MINUTE
    previous_wall = (moment - MINUTE).astimezone(tz).replace(tzinfo=None)
    while moment <= end:
        local = moment.astimezone(tz)
        wall = local.replace(tzinfo=None)
        offset = local.utcoffset()
        stretch_end = moment + _PROBE
        if stretch_end.astimezone(tz).utcoffset() != offset:
            stretch_end = _first_change(moment, stretch_end, offset, tz)
        if _fires(spec, fixed, local.fold, wall, previous_wall):
            times.append(moment)
        wall_minute = wall.replace(second=0)
        for match in _wall_matches(spec, wall_minute, wall_minute + (min(stretch_end - MINUTE, end) - moment)):
            fired = moment + (match - wall_minute)
            if not fixed or fired.astimezone(tz).fold == 0:  # fold 1: the repeated hour when clocks go back
                times.append(fired)
        previous_wall = wall + (stretch_end - MINUTE - moment)
        moment = stretch_end
    return times


def _fires(spec: CronSpec, fixed: bool, fold: int, wall: datetime, previous_wall: datetime) -> bool:
    if fold == 1 and fixed:
        fires = False  # the repeated hour when clocks go back: already fired once
    else:
        fires = spec.validate(wall)
    if not fires and wall - previous_wall > MINUTE:
        # Clocks went forward: what would have fired in the gap fires now.
        gap = previous_wall + MINUTE
        while gap < wall and not fires:
            fires = spec.validate(gap)
            gap += MINUTE
    return fires


def _wall_matches(spec: CronSpec, after: datetime, limit: datetime) -> Iterator[datetime]:
    """The wall-clock minutes in ``(after, limit]`` the expression names, oldest first, skipping days that cannot match."""
    hours, minutes = spec.hour, spec.minute
    day = datetime.combine(after.date(), time())
    first_day = True
    while day <= limit:
        # periodiq's own test of month, day of month and weekday, on a time of day the expression names.
        if spec.validate(day.replace(hour=hours[0], minute=minutes[0])):
            for hour in hours[bisect_left(hours, after.hour) :] if first_day else hours:
                later = bisect_right(minutes, after.minute) if first_day and hour == after.hour else 0
                for minute in minutes[later:]:
                    match = day.replace(hour=hour, minute=minute)
                    if match > limit:
                        return
                    yield match
        day += timedelta(days=1)
        first_day = False


def _first_change(low: datetime, high: datetime, offset: timedelta | None, tz: ZoneInfo) -> datetime:
    """The first whole minute in ``(low, high]`` whose UTC offset is not ``offset`` (``high``'s is not; one change)."""
    below, above = 0, (high - low) // MINUTE
    while above - below > 1:
        middle = (below + above) // 2
        if (low + middle * MINUTE).astimezone(tz).utcoffset() == offset:
            below = middle
        else:
            above = middle
    return low + above * MINUTE


def shifted_times(schedule: Schedule, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Fire times in ``(start, end]`` that periodiq never sends: a time the clocks skipped, moved after the gap.

    periodiq fires when the wall clock matches the expression; these fire at a
    wall-clock time the expression does not name.
    """
    if schedule.every is not None or not schedule.cron:
        return []
    spec = parse_cron(schedule.cron)
    return [t for t in fire_times(schedule, start, end, tz) if not spec.validate(t.astimezone(tz).replace(tzinfo=None))]


def repeated_wall_time(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether ``moment``'s wall-clock time happens twice that night (the hour repeated when clocks go back)."""
    local = moment.astimezone(tz)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def is_expected(schedule: Schedule, nominal: datetime, tz: ZoneInfo) -> bool:
    """Whether ``nominal`` is one of the schedule's fire times (False for a DST repeat)."""
    nominal = nominal.astimezone(UTC)
    return nominal in fire_times(schedule, nominal - timedelta(seconds=1), nominal, tz)
