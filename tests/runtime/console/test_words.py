"""Figures in words (runtime/console/words.py)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from wrls_actors.runtime.console.words import cron_in_words, duration, moment


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/5 * * * *", "every 5 minutes"),
        ("0 * * * *", "every hour, on the hour"),
        ("15 * * * *", "at 15 minutes past every hour"),
        ("15 20 * * *", "at 20:15 every day"),
        ("0 0,12 * * *", "at 00:00, 12:00 every day"),
        ("0 10 * * 1-5", "at 10:00 on weekdays (Monday to Friday)"),
        ("0 9 * * 1,3", "at 09:00 on Monday, Wednesday"),
        ("0 3 1 * *", "at 03:00 on day 1 of every month"),
        ("5 4 1 4 *", "at 04:05 on 1 April"),
        # Shapes it does not know are given back as written, never guessed at.
        ("1-5 * * * *", "1-5 * * * *"),
        ("0 1 * * 1-5 extra", "0 1 * * 1-5 extra"),
        ("0 1 * 13 *", "0 1 * 13 *"),
    ],
)
def test_a_cron_in_words(cron, words):
    assert cron_in_words(cron) == words


def test_an_interval_in_words():
    assert cron_in_words(None, timedelta(seconds=15)) == "every 15 s"
    assert cron_in_words(None, timedelta(minutes=1)) == "every 1 min"


def test_durations_and_moments():
    assert [duration(s) for s in (None, 0.0123, 4.25, 42, 125, 3600, 3 * 86400 + 7200)] == [
        "—", "12 ms", "4.2 s", "42 s", "2 min 5 s", "1 h", "3 days 2 h",
    ]  # fmt: skip
    summer = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    assert moment(summer, ZoneInfo("Europe/London")) == "2026-07-01 01:30:00 BST"
