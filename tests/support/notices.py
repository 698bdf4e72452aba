"""Notices as the service's preparation writes them: events and their scheduled_notification rows, and the
stations a water-level notice names. Used by the three notification jobs' tests (send-message, check-status,
refresh-event)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text

EMAIL_TEMPLATE = "2fa7fc83-4df1-4f52-bccf-ff0faeb12b6f"
ADDRESS = {"address_line_1": "Farm House", "address_line_2": "Lane End", "postcode": "AB1 2CD"}
PDF = b"%PDF-1.4\n% a paper return form\n"


def add_event(service, status: str = "sending", created_days_ago: float = 0, metadata: dict | None = None) -> str:
    event_id = str(uuid.uuid4())
    with service.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO water.events (event_id, reference_code, type, subtype, issuer, metadata, status, created) "
                "VALUES (:id, 'RINV-ABC123', 'notification', 'returnInvitation', 'staff@example.gov.uk', "
                "CAST(:metadata AS jsonb), :status, now() - make_interval(secs => :ago))"
            ),
            {
                "id": event_id,
                "status": status,
                "ago": created_days_ago * 86400,
                "metadata": json.dumps(metadata or {"name": "Returns: invitation", "recipients": 0}),
            },
        )
    return event_id


def add_message(
    service, event_id: str, *, status: str | None = "sending", sent_minutes_ago: float = 1, **columns: Any
) -> str:
    """One scheduled_notification row; ``columns`` as the table names them."""
    row = {
        "id": str(uuid.uuid4()),
        "event_id": event_id,
        "status": status,
        "message_type": "email",
        "recipient": "holder@example.com",
        "template_id": EMAIL_TEMPLATE,
        "message_ref": None,
        "personalisation": {"name": "Holder"},
        **columns,
    }
    row["personalisation"] = json.dumps(row["personalisation"])
    names = ", ".join(row)
    values = ", ".join("CAST(:personalisation AS jsonb)" if k == "personalisation" else f":{k}" for k in row)
    with service.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO water.scheduled_notification ({names}, send_after) "
                f"VALUES ({values}, now() - make_interval(secs => :ago))"
            ),
            {**row, "ago": sent_minutes_ago * 60},
        )
    return row["id"]


def add_station(service, status: str = "resume") -> str:
    station_id = str(uuid.uuid4())
    with service.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO water.licence_gauging_stations (licence_gauging_station_id, licence_id, gauging_station_id, "
                "source, restriction_type, threshold_unit, threshold_value, status) "
                "VALUES (:id, gen_random_uuid(), gen_random_uuid(), 'wrls', 'flow', 'Ml/d', 100, :status)"
            ),
            {"id": station_id, "status": status},
        )
    return station_id


def message(service, row_id: str):
    with service.engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM water.scheduled_notification WHERE id = :id"), {"id": row_id}
        ).one()
