"""charge-categories-sync.sync-from-csv: ``billing-metadata/charge-categories.csv``
(``WRLS_CHARGE_CATEGORIES_KEY``) into ``water.billing_charge_categories``,
one row per ``reference``; rows missing from the file are kept, as in the legacy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from ...config import config
from ...model.water import billing_charge_categories as table
from ...runtime import StepContext
from ..csv_sync import CsvSpec, Field, Row, boolean, non_negative_whole_number, sync, write_rows

STATE_KEY = "charge-categories-import"  # the legacy's water.application_state key
SHORT_DESCRIPTION_MAX = 150  # the legacy cut it there


def _volumes_in_order(values: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    if values["min_volume"] > values["max_volume"]:
        yield "max_volume", f"{values['max_volume']} is below min_volume {values['min_volume']}"


SPEC = CsvSpec(
    fields=(
        Field("reference"),
        Field("subsistence_charge", non_negative_whole_number),
        Field("description"),
        Field("short_description", lambda value: value[:SHORT_DESCRIPTION_MAX]),
        Field("min_volume", non_negative_whole_number),
        Field("max_volume", non_negative_whole_number),
        Field("is_tidal", boolean),
        Field("loss_factor"),
        Field("model_tier"),
        Field("is_restricted_source", boolean),
    ),
    unique=("reference",),
    check=_volumes_in_order,
)


def apply(connection: Connection, rows: list[Row]) -> Counter:
    existing = {r["reference"]: r for r in connection.execute(select(table)).mappings()}
    return write_rows(
        connection, table, "billing_charge_category_id", ((row, existing.get(row.values["reference"])) for row in rows)
    )


def sync_from_csv(ctx: StepContext) -> None:
    sync(ctx, object_key=config().charge_categories_key, state_key=STATE_KEY, spec=SPEC, apply=apply)
