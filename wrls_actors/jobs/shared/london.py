"""WRLS's days are Europe/London days, whatever the clock of the machine.

The legacy took "today" from a JavaScript date cast by PostgreSQL, so between
midnight in London and midnight UTC (23:00–00:00 UTC in summer) it was
yesterday. These take an instant (from the database's clock, so every worker
agrees) and give the London day.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

LONDON = ZoneInfo("Europe/London")
NOW = text("SELECT clock_timestamp()")


def today(now: datetime) -> date:
    """The day it is in London at ``now`` (an aware instant)."""
    if now.tzinfo is None:
        raise ValueError("an instant needs its time zone")
    return now.astimezone(LONDON).date()


def today_by_database(connection: Connection) -> date:
    """The day it is in London by the database's clock, which every worker shares."""
    return today(connection.execute(NOW).scalar_one())


def midnight(day: date) -> datetime:
    """The instant London's ``day`` starts (00:00 GMT or BST)."""
    return datetime.combine(day, time(0), tzinfo=LONDON)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, or that month's last day if it is shorter
    (31 May → 31 March; 30 April → 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
