"""Figures as an operator reads them: a cron expression in words, a duration, a moment in the service's zone."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]  # fmt: skip


def cron_in_words(cron: str | None, every: timedelta | None = None) -> str:
    """The usual shapes said plainly; anything else is given back as it is written, never guessed at."""
    if every is not None:
        return f"every {duration(every.total_seconds())}"
    if not cron:
        return "never"
    fields = cron.split()
    if len(fields) != 5:
        return cron
    minute, hour, dom, month, dow = fields
    when = _time_of_day(minute, hour)
    if when is None:
        return cron
    days = _days(dom, month, dow)
    if days is None:
        return cron
    if not days and when.startswith("at ") and "past" not in when:
        days = " every day"
    return f"{when}{days}"


def _time_of_day(minute: str, hour: str) -> str | None:
    if minute == "*" and hour == "*":
        return "every minute"
    if minute.startswith("*/") and minute[2:].isdigit() and hour == "*":
        return f"every {int(minute[2:])} minutes"
    if minute == "0" and hour == "*":
        return "every hour, on the hour"
    if minute.isdigit() and hour == "*":
        return f"at {int(minute)} minutes past every hour"
    if minute.isdigit() and hour.startswith("*/") and hour[2:].isdigit():
        return f"at {int(minute)} minutes past every {int(hour[2:])} hours"
    if minute.isdigit() and all(h.isdigit() for h in hour.split(",")):
        return "at " + ", ".join(f"{int(h):02d}:{int(minute):02d}" for h in hour.split(","))
    return None


def _days(dom: str, month: str, dow: str) -> str | None:
    if month != "*":
        if not month.isdigit() or not 1 <= int(month) <= 12 or not dom.isdigit() or dow != "*":
            return None
        return f" on {int(dom)} {_MONTHS[int(month)]}"
    if dom == "*" and dow == "*":
        return ""
    if dow == "*" and dom.isdigit():
        return f" on day {int(dom)} of every month"
    if dom == "*":
        if dow in ("1-5", "MON-FRI", "mon-fri"):
            return " on weekdays (Monday to Friday)"
        names = []
        for part in dow.split(","):
            if not part.isdigit() or not 0 <= int(part) <= 7:
                return None
            names.append(_DAYS[int(part) % 7])
        return " on " + ", ".join(names)
    return None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, s = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {m} min" if m else f"{hours} h"
    days, h = divmod(hours, 24)
    return f"{days} days {h} h" if h else f"{days} days"


def moment(at: datetime | None, zone: tzinfo) -> str:
    if at is None:
        return "—"
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
