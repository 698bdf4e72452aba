"""When schedules fire, as the service runs them: with their environment overrides applied."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .cron import fire_times, is_expected
from .definitions import Schedule

# fire_times lists every time in its window (an every-minute cron: 1,440 a day): look a day away first, then further.
_HORIZONS = (timedelta(days=1), timedelta(days=32), timedelta(days=366))


class Calendar:
    """The service's schedules and time zone; a disabled or unknown schedule never fires."""

    def __init__(self, schedules: Iterable[Schedule] = (), tz: ZoneInfo | None = None) -> None:
        self.schedules = {s.name: s for s in schedules}
        self.tz = tz or ZoneInfo("UTC")

    def _enabled(self, name: str) -> Schedule | None:
        schedule = self.schedules.get(name)
        return schedule if schedule is not None and schedule.enabled else None

    def fires_at(self, name: str, moment: datetime | None) -> bool:
        """Whether the schedule has a tick at ``moment`` (False for the repeated hour when clocks go back)."""
        schedule = self._enabled(name)
        return schedule is not None and moment is not None and is_expected(schedule, moment, self.tz)

    def next_fire(self, name: str, after: datetime) -> datetime | None:
        """The schedule's first tick after ``after`` (UTC), or None."""
        schedule = self._enabled(name)
        if schedule is None:
            return None
        for horizon in _HORIZONS:
            times = self._times(schedule, after, after + horizon)
            if times:
                return times[0]
        return None

    def previous_fire(self, name: str, before: datetime) -> datetime | None:
        """The schedule's last tick at or before ``before`` (UTC), or None."""
        schedule = self._enabled(name)
        if schedule is None:
            return None
        for horizon in _HORIZONS:
            times = self._times(schedule, before - horizon, before)
            if times:
                return times[-1]
        return None

    def _times(self, schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
        return fire_times(schedule, start.astimezone(UTC), end.astimezone(UTC), self.tz)
