"""The digitise jobs: permit rows as the digitise tool and the NALD import leave them, and the water rows they
link to."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text


@pytest.fixture
def job_env():
    return {}  # no object store, no external service


STATION_NAME = "3 Pools Channel"
WATER_BODY = {"id": "138c4d3d-3307-3e03-a9c3-0a04d55cfa21", "name": "ADUR", "value": "ADUR (GB540704116000)"}


def condition(n: int, region: int = 1) -> dict:
    return {"id": f"nald://conditions/{region}/{n}", "value": f"NALD condition {n}"}


def add(item_id: str, schema: str, **content) -> list[dict]:
    """The actions of the digitise tool for one WR22 condition: added, then its fields filled in."""
    return [
        {
            "type": "add.data",
            "payload": {
                "id": item_id,
                "schema": schema,
                "issueNumber": 1,
                "incrementNumber": 0,
                "user": {"id": 1},
                "timestamp": 1,
            },
        },
        {"type": "edit.data", "payload": {"id": item_id, "data": content, "user": {"id": 1}, "timestamp": 2}},
    ]


class Digitise:
    """Rows in permit and water; ``sql`` values are SQL expressions."""

    def __init__(self, service) -> None:
        self.engine = service.engine
        self.region = self._one("SELECT region_id FROM water.regions WHERE nald_region_id = 1")  # seeded

    def _one(self, sql: str, **params):
        with self.engine.begin() as connection:
            value = connection.execute(text(sql), params).scalar_one()
        return str(value) if isinstance(value, uuid.UUID) else value

    def station(self) -> str:
        return self._one(
            "INSERT INTO water.gauging_stations (label) VALUES (:l) RETURNING gauging_station_id", l=STATION_NAME
        )

    def water_licence(self, ref: str) -> str:
        return self._one(
            "INSERT INTO water.licences (region_id, licence_ref, start_date) "
            "VALUES (:r, :ref, '2000-01-01') RETURNING licence_id",
            r=self.region,
            ref=ref,
        )

    def nald_condition(self, external_id: str, created: str = "now()") -> dict:
        """A NALD condition row (its purpose and type ids are made up: the legacy schema has no foreign keys)."""
        return self._one(
            "INSERT INTO water.licence_version_purpose_conditions (licence_version_purpose_id, "
            "licence_version_purpose_condition_type_id, external_id, source, date_created) "
            f"VALUES (gen_random_uuid(), gen_random_uuid(), :e, 'nald', {created}) "
            "RETURNING json_build_object('id', licence_version_purpose_condition_id, "
            "'lvp', licence_version_purpose_id, 'type', licence_version_purpose_condition_type_id)",
            e=external_id,
        )

    def nald_copy(self, ref: str) -> None:
        data = {"ID": "1", "LIC_NO": ref, "data": {"current_version": {"licence": {"LIC_NO": ref}}, "versions": []}}
        self._one(
            "INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_data_value) "
            "VALUES (1, 8, :ref, CAST(:d AS jsonb)) RETURNING licence_id",
            ref=ref,
            d=json.dumps(data),
        )

    def edits(self, ref: str, actions: list, status: str = "Approved", copied: str = "NULL") -> int:
        """The digitise edits of a licence; ``copied`` is the SQL of both last-copied dates."""
        return self._one(
            "INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_data_value, "
            "date_licence_version_purpose_conditions_last_copied, date_gauging_station_links_last_copied) "
            f"VALUES (1, 10, :ref, CAST(:d AS jsonb), {copied}, {copied}) RETURNING licence_id",
            ref=ref,
            d=json.dumps({"status": status, "actions": actions}),
        )
