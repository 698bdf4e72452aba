"""Step charge-version-metadata: every licence's PRESROC charge history into
``water_import.charge_versions_metadata``, in one transaction.

The legacy built the whole permit JSON of each of ~71,000 licences one by one
to read two dates from it, in a single 15-minute job that expired long before
it ended. Here one query reads every
non-draft NALD charge version starting before 2022-04-01 with its licence's
dates, the rules of ``history.py`` run per licence in Python, and the result
replaces the table's rows in one transaction.

As in the legacy, a version counts only when its licence, invoice account
and account holder's company are in WRLS already (licence-import writes them);
the others are counted and left out. A licence whose NALD rows cannot be read
is reported and keeps the rows it had; so does every licence when the step
fails. A licence that no longer has any version loses its rows (the legacy
kept them forever).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import groupby

from sqlalchemy import Connection, text

from ...nald.values import nald_date, required_date, required_integer
from ...runtime import StepContext
from ..upsert import update_when_changed
from .history import ChargeVersion, Licence, NaldVersion, charge_history

#: The first day of SROC: versions starting on or after it are not PRESROC's.
SROC_START = date(2022, 4, 1)
ERROR_FLAGS = {"Y": True, "N": False}

READ = text("""
    SELECT v."FGAC_REGION_CODE" AS region, v."AABL_ID" AS licence, v."VERS_NO" AS version_number,
           v."EFF_ST_DATE" AS start_date, v."EFF_END_DATE" AS end_date, v."IN_ERROR_STATUS" AS in_error,
           l."ORIG_EFF_DATE" AS licence_start, l."EXPIRY_DATE" AS expiry, l."REV_DATE" AS revoked,
           l."LAPSED_DATE" AS lapsed,
           EXISTS (SELECT 1 FROM water.licences wl WHERE wl.licence_ref = l."LIC_NO")
           AND EXISTS (SELECT 1 FROM crm_v2.invoice_accounts ia
                       WHERE ia.invoice_account_number = v."AIIA_IAS_CUST_REF")
           AND EXISTS (SELECT 1 FROM import."NALD_LH_ACCS" lha
                       JOIN crm_v2.companies c ON c.external_id = concat_ws(':', lha."FGAC_REGION_CODE",
                                                                            lha."ACON_APAR_ID")
                       WHERE lha."ACC_NO" = v."AIIA_ALHA_ACC_NO"
                         AND lha."FGAC_REGION_CODE" = v."FGAC_REGION_CODE") AS linked
    FROM import."NALD_CHG_VERSIONS" v
    JOIN import."NALD_ABS_LICENCES" l ON l."ID" = v."AABL_ID" AND l."FGAC_REGION_CODE" = v."FGAC_REGION_CODE"
    WHERE v."STATUS" IS DISTINCT FROM 'DRAFT'
    ORDER BY v."FGAC_REGION_CODE", v."AABL_ID"
""")

STAGE = """
    CREATE TEMPORARY TABLE new_metadata (
        external_id varchar PRIMARY KEY, version_number integer NOT NULL, start_date date NOT NULL,
        end_date date, status varchar NOT NULL, is_nald_gap boolean NOT NULL
    ) ON COMMIT DROP
"""

UPSERT = text(f"""
    WITH written AS (
        INSERT INTO water_import.charge_versions_metadata AS m
               (external_id, version_number, start_date, end_date, status, is_nald_gap)
        SELECT external_id, version_number, start_date, end_date, status, is_nald_gap FROM new_metadata
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(("version_number", "start_date", "end_date", "status", "is_nald_gap"), "m")}
        RETURNING 1
    )
    SELECT count(*) FROM written
""")

# Rows of licences that were read and are no longer there; an unreadable licence keeps its rows.
DELETE_STALE = text("""
    DELETE FROM water_import.charge_versions_metadata m
    WHERE NOT EXISTS (SELECT 1 FROM new_metadata n WHERE n.external_id = m.external_id)
      AND split_part(m.external_id, ':', 1) || ':' || split_part(m.external_id, ':', 2)
          <> ALL (CAST(:kept AS text[]))
""")


def _licence(row) -> Licence:
    ends = [d for d in (nald_date(row.expiry), nald_date(row.revoked), nald_date(row.lapsed)) if d is not None]
    return Licence(row.region, row.licence, nald_date(row.licence_start), min(ends) if ends else None)


def _version(row) -> NaldVersion:
    flag = (row.in_error or "").strip()
    if flag not in ERROR_FLAGS:
        raise ValueError(f"IN_ERROR_STATUS {row.in_error!r} is not Y or N")
    return NaldVersion(
        required_integer(row.version_number), required_date(row.start_date), nald_date(row.end_date), ERROR_FLAGS[flag]
    )


def histories(ctx: StepContext, rows: Iterable) -> Iterator[tuple[str, list[ChargeVersion] | None]]:
    """(licence key, its charge versions) per licence; ``None`` for one whose rows cannot be read."""
    for (region, licence_id), grouped in groupby(rows, key=lambda r: (r.region, r.licence)):
        key = f"{region}:{licence_id}"
        group = list(grouped)
        try:
            licence = _licence(group[0])
            versions = [_version(r) for r in group if r.linked]
        except ValueError as e:
            ctx.logger.warning("licence %s: its charge versions are left as they were: %s", key, e)
            yield key, None
            continue
        presroc = [v for v in versions if v.start_date < SROC_START]
        ctx.count("charge_versions_not_linked", len(group) - len(versions))
        ctx.count("charge_versions_sroc_left_out", len(versions) - len(presroc))
        try:
            yield key, charge_history(licence, presroc)
        except ValueError as e:
            ctx.logger.warning("%s: its charge versions are left as they were", e)
            yield key, None


def _stage(connection: Connection, versions: Iterable[ChargeVersion]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for v in versions:
        writer.writerow(
            (
                v.external_id,
                v.version_number,
                v.start_date,
                "" if v.end_date is None else v.end_date,
                v.status,
                v.is_nald_gap,
            )
        )
    buffer.seek(0)
    connection.exec_driver_sql(STAGE)
    driver = connection.connection.driver_connection
    if driver is None:  # only a connection already closed has none
        raise RuntimeError("the database connection was closed before its COPY")
    cursor = driver.cursor()
    cursor.copy_expert("COPY new_metadata FROM STDIN WITH (FORMAT csv)", buffer)


def charge_version_metadata(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        rows = connection.execute(READ).all()
        versions: list[ChargeVersion] = []
        unreadable: list[str] = []
        for key, history in histories(ctx, rows):
            if history is None:
                unreadable.append(key)
            else:
                versions += history
        _stage(connection, versions)
        written = connection.execute(UPSERT).scalar_one()
        deleted = connection.execute(DELETE_STALE, {"kept": unreadable}).rowcount
    ctx.count("nald_charge_versions", len(rows))
    ctx.count("charge_version_metadata", len(versions))
    ctx.count("charge_version_metadata_gaps", sum(v.is_nald_gap for v in versions))
    ctx.count("charge_version_metadata_written", written)
    ctx.count("charge_version_metadata_deleted", deleted)
    ctx.count("licences_unreadable", len(unreadable))
    if unreadable:
        ctx.logger.warning(
            "%d licences' charge versions could not be read and were left as they were (first: %s)",
            len(unreadable),
            ", ".join(unreadable[:5]),
        )
