"""When schedules fire as the service runs them (calendar.Calendar), environment overrides applied."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from wrls_actors.runtime import Calendar, Schedule, Service, Settings, StepContext

NIGHT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 01:00 in London (GMT)


def test_a_step_asks_when_a_schedule_fires_as_the_service_runs_it():
    schedules = (Schedule("loader", cron="0 1 * * *"), Schedule("often", every=timedelta(minutes=15)))
    calendar = Service(Settings.from_env("APP", {}), (), schedules).calendar
    assert calendar.fires_at("loader", NIGHT)
    assert calendar.fires_at("loader", datetime(2026, 7, 6, 0, 0, tzinfo=UTC))  # 01:00 in summer time
    assert not calendar.fires_at("loader", NIGHT + timedelta(hours=3))
    assert not calendar.fires_at("loader", None) and not calendar.fires_at("unknown", NIGHT)
    assert calendar.next_fire("loader", NIGHT) == NIGHT + timedelta(days=1)
    assert calendar.previous_fire("loader", NIGHT + timedelta(hours=5)) == NIGHT
    assert calendar.next_fire("often", NIGHT) == NIGHT + timedelta(minutes=15)

    overridden = Service(Settings.from_env("APP", {"APP_SCHEDULE_LOADER": "0 4 * * *"}), (), schedules).calendar
    assert overridden.fires_at("loader", NIGHT.replace(hour=4)) and not overridden.fires_at("loader", NIGHT)
    off = Service(Settings.from_env("APP", {"APP_SCHEDULE_LOADER": "off"}), (), schedules).calendar
    assert not off.fires_at("loader", NIGHT) and off.next_fire("loader", NIGHT) is None
    assert not StepContext(
        uuid.uuid4(), "j", "s", {}, "m", 1, logging.LoggerAdapter(logging.getLogger(), {}), calendar=None
    ).fires_at("loader", NIGHT)
    assert Calendar().next_fire("loader", NIGHT) is None
