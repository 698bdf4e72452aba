"""The writes of import-licence: permit licences, CRM documents, returns, a statement each for many licences.

Every write is an upsert that changes a row only when a value differs, so
importing the same extract twice leaves every row (``date_updated`` and
``updated_at`` included) exactly as it was, and a redelivered licence message
never duplicates anything.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, text

from ...model.crm import WATER_REGIME_ENTITY_ID
from ...model.permit import NALD_LICENCE_TYPE_ID, NALD_REGIME_ID
from ...runtime import array_literal
from .return_cycles import COVID_CYCLE_END, COVID_DUE_DATE, DUE_DAYS, cycle_end, cycle_start

# Returns ending before this were submitted in NALD: NALD stays their master,
# status and received date included. Later ones live in WRLS, where users
# submit them: the import refreshes only their metadata and due date (legacy rule).
WRLS_RETURNS_FROM = date(2018, 10, 31)


@dataclasses.dataclass(frozen=True)
class ReturnRow:
    return_id: str
    licence_ref: str
    format_id: str
    start_date: date
    end_date: date
    due_date: date
    status: str
    received_date: date | None
    returns_frequency: str
    is_summer: bool
    format_metadata: dict  # shared by every return of its format, never changed once built
    is_current: bool
    is_final: bool

    @property
    def metadata(self) -> dict:
        """The return's metadata: its format's, then ``isCurrent`` and ``isFinal``."""
        return {**self.format_metadata, "isCurrent": self.is_current, "isFinal": self.is_final}


def _json(value) -> str:
    return json.dumps(value, sort_keys=False, separators=(",", ":"), default=str)


@dataclasses.dataclass(frozen=True)
class LicenceWrite:
    """What import-licence writes for one licence, its returns apart."""

    licence_ref: str
    start_date: date | None
    end_date: date | None
    data: dict  # the permit JSON
    metadata: dict  # the CRM document's


# Not INSERT ... ON CONFLICT DO UPDATE: that takes a value of licence_id's sequence for every row
# it is given, updated or not (71,000 a night). An unchanged licence is left alone and takes none;
# only a licence not there yet is inserted. Inserted in the order given: the caller sorts, so a
# licence's id does not depend on which licences shared its statement.
UPSERT_PERMITS = text("""
    WITH n AS (
        SELECT * FROM unnest(CAST(:refs AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[]),
                             CAST(:data AS jsonb[])) WITH ORDINALITY AS n(ref, start_dt, end_dt, data, ord)
    ), existing AS (
        -- Licence by licence on the whole unique key (OFFSET 0 keeps the lookup apart): as a join,
        -- a planner whose statistics predate the night's licences scanned every one for each chunk.
        SELECT l.licence_id, l.licence_ref FROM n CROSS JOIN LATERAL (
            SELECT licence_id, licence_ref FROM permit.licence
            WHERE licence_regime_id = :regime AND licence_type_id = :type AND licence_ref = n.ref OFFSET 0
        ) l
    ), updated AS (
        UPDATE permit.licence l
        SET licence_status_id = '1', licence_start_dt = n.start_dt, licence_end_dt = n.end_dt,
            licence_data_value = n.data, date_updated = now()
        FROM n JOIN existing e ON e.licence_ref = n.ref
        WHERE l.licence_id = e.licence_id
          AND (l.licence_status_id, l.licence_start_dt, l.licence_end_dt, l.licence_data_value)
              IS DISTINCT FROM ('1', n.start_dt, n.end_dt, n.data)
    ), inserted AS (
        INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_status_id,
                                    licence_start_dt, licence_end_dt, licence_data_value)
        SELECT :regime, :type, n.ref, '1', n.start_dt, n.end_dt, n.data FROM n
        WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.licence_ref = n.ref)
        ORDER BY n.ord
        ON CONFLICT (licence_regime_id, licence_type_id, licence_ref) DO NOTHING
        RETURNING licence_id, licence_ref
    )
    SELECT licence_ref, licence_id FROM existing UNION ALL SELECT licence_ref, licence_id FROM inserted
""")


def upsert_permits(connection: Connection, licences: Sequence[LicenceWrite]) -> dict[str, int]:
    """The licences' ``permit.licence`` rows, in one statement; returns each one's licence_id."""
    if not licences:
        return {}
    found = connection.execute(
        UPSERT_PERMITS,
        {
            "regime": NALD_REGIME_ID,
            "type": NALD_LICENCE_TYPE_ID,
            "refs": array_literal([w.licence_ref for w in licences]),
            "starts": array_literal([w.start_date for w in licences]),
            "ends": array_literal([w.end_date for w in licences]),
            "data": [_json(w.data) for w in licences],  # big documents: see runtime/sql_arrays.py
        },
    )
    ids = {row.licence_ref: row.licence_id for row in found}
    missing = [w.licence_ref for w in licences if w.licence_ref not in ids]
    if missing:
        # Only if another import inserted the licence meanwhile: the step's retry finds it.
        raise RuntimeError(f"licences {', '.join(missing)} were inserted by another import meanwhile: retry")
    return ids


UPSERT_DOCUMENTS = text("""
    INSERT INTO crm.document_header (regime_entity_id, system_id, system_internal_id, system_external_id, metadata)
    SELECT :regime, 'permit-repo', n.internal, n.ref, n.metadata
    FROM unnest(CAST(:internals AS text[]), CAST(:refs AS text[]), CAST(:metadata AS jsonb[])) AS n(internal, ref, metadata)
    ORDER BY n.ref
    ON CONFLICT (system_external_id) DO UPDATE
      SET system_internal_id = excluded.system_internal_id, metadata = excluded.metadata,
          date_deleted = NULL, date_updated = now()
      WHERE (crm.document_header.system_internal_id, crm.document_header.metadata,
             crm.document_header.date_deleted)
            IS DISTINCT FROM (excluded.system_internal_id, excluded.metadata, NULL)
""")


def upsert_documents(connection: Connection, licences: Sequence[LicenceWrite], ids: dict[str, int]) -> None:
    """The licences' CRM v1 documents; a licence back in NALD is undeleted (the legacy left it deleted)."""
    if not licences:
        return
    connection.execute(
        UPSERT_DOCUMENTS,
        {
            "regime": WATER_REGIME_ENTITY_ID,
            "internals": array_literal([ids[w.licence_ref] for w in licences]),
            "refs": array_literal([w.licence_ref for w in licences]),
            "metadata": [_json(w.metadata) for w in licences],
        },
    )


UPSERT_CYCLES = text("""
    INSERT INTO returns.return_cycles (start_date, end_date, due_date, is_summer, is_submitted_in_wrls)
    SELECT * FROM unnest(CAST(:starts AS date[]), CAST(:ends AS date[]), CAST(:dues AS date[]),
                         CAST(:summers AS boolean[]), CAST(:wrls AS boolean[]))
    ON CONFLICT (start_date, end_date, is_summer) DO NOTHING
""")

CYCLE_IDS = text("""
    SELECT return_cycle_id::text, start_date, end_date, is_summer FROM returns.return_cycles
    WHERE (start_date, end_date, is_summer) IN
          (SELECT * FROM unnest(CAST(:starts AS date[]), CAST(:ends AS date[]), CAST(:summers AS boolean[])))
""")


def cycle_of(row: ReturnRow) -> tuple[date, date, bool]:
    """The whole cycle a return falls in (a return cut at a succession is part of one)."""
    return cycle_start(row.start_date, row.is_summer), cycle_end(row.start_date, row.is_summer), row.is_summer


def cycle_due_date(end: date) -> date:
    return COVID_DUE_DATE if end == COVID_CYCLE_END else date.fromordinal(end.toordinal() + DUE_DAYS)


def ensure_cycles(connection: Connection, rows: Sequence[ReturnRow]) -> dict[tuple[date, date, bool], str]:
    cycles = sorted({cycle_of(r) for r in rows})
    if not cycles:
        return {}
    ends = [c[1] for c in cycles]
    starts, summers = array_literal([c[0] for c in cycles]), array_literal([c[2] for c in cycles])
    connection.execute(
        UPSERT_CYCLES,
        {
            "starts": starts,
            "ends": array_literal(ends),
            "summers": summers,
            "dues": array_literal([cycle_due_date(e) for e in ends]),
            "wrls": array_literal([e > WRLS_RETURNS_FROM for e in ends]),
        },
    )
    found = connection.execute(CYCLE_IDS, {"starts": starts, "ends": array_literal(ends), "summers": summers})
    return {(r.start_date, r.end_date, r.is_summer): r.return_cycle_id for r in found}


UPSERT_RETURNS = text("""
    INSERT INTO returns.returns AS r (return_id, regime, licence_type, licence_ref, start_date, end_date,
                                      returns_frequency, status, source, metadata, received_date, due_date,
                                      return_requirement, return_cycle_id)
    SELECT n.return_id, 'water', 'abstraction', n.licence_ref, n.start_date, n.end_date, n.frequency, n.status,
           'NALD', (CAST(:formats AS jsonb[]))[n.format]
                   || jsonb_build_object('isCurrent', n.is_current, 'isFinal', n.is_final),
           n.received_date, n.due_date, n.requirement, CAST(n.cycle AS uuid)
    FROM unnest(CAST(:ids AS text[]), CAST(:refs AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[]),
                CAST(:frequencies AS text[]), CAST(:statuses AS text[]), CAST(:format_of AS int[]),
                CAST(:currents AS boolean[]), CAST(:finals AS boolean[]), CAST(:received AS date[]),
                CAST(:dues AS date[]), CAST(:requirements AS text[]), CAST(:cycles AS text[]))
         AS n (return_id, licence_ref, start_date, end_date, frequency, status, format, is_current, is_final,
               received_date, due_date, requirement, cycle)
    ON CONFLICT (return_id) DO UPDATE
      SET metadata = excluded.metadata, due_date = excluded.due_date, return_cycle_id = excluded.return_cycle_id,
          returns_frequency = excluded.returns_frequency,
          status = CASE WHEN r.end_date < :wrls_from OR r.status = 'void' THEN excluded.status ELSE r.status END,
          received_date = CASE WHEN r.end_date < :wrls_from THEN excluded.received_date ELSE r.received_date END,
          updated_at = now()
      WHERE (r.metadata, r.due_date, r.return_cycle_id, r.returns_frequency)
              IS DISTINCT FROM (excluded.metadata, excluded.due_date, excluded.return_cycle_id,
                                excluded.returns_frequency)
         OR r.status = 'void'
         OR (r.end_date < :wrls_from
             AND (r.status, r.received_date) IS DISTINCT FROM (excluded.status, excluded.received_date))
""")

# The licences' returns not kept, licence by licence (OFFSET 0 keeps each lookup apart). As one
# `licence_ref = ANY(:refs)` a planner without statistics for the returns (autovacuum yet to
# analyse a night's new rows, or off) expected half the table and read all of it, for every
# chunk: the first import slowed as the table grew, to seconds a chunk. NOT IN a sub-select, not
# <> ALL(array): a hashed lookup per return, not a scan of a chunk's 1,400 kept ids for each.
RETURNS_TO_VOID = text("""
    SELECT o.return_id FROM unnest(CAST(:refs AS text[])) AS u(ref)
    CROSS JOIN LATERAL (
        SELECT return_id FROM returns.returns
        WHERE licence_ref = u.ref AND regime = 'water' AND licence_type = 'abstraction' AND status <> 'void'
        OFFSET 0
    ) o
    WHERE o.return_id NOT IN (SELECT unnest(CAST(:keep AS text[])))
    ORDER BY o.return_id
""")

VOID_RETURNS = text("""
    UPDATE returns.returns SET status = 'void', updated_at = now()
    WHERE return_id = ANY(CAST(:ids AS text[])) AND status <> 'void'
""")


def write_returns(connection: Connection, licence_refs: Sequence[str], rows: Sequence[ReturnRow]) -> tuple[int, int]:
    """Upsert the licences' returns and void their others; returns (written, voided).

    The legacy skipped the voiding when a licence had no returns left, so
    those kept their old returns for ever.
    """
    rows = sorted(rows, key=lambda r: r.return_id)  # one order for every writer: no deadlock between two
    cycles = ensure_cycles(connection, rows)
    written = 0
    if rows:
        formats = {id(r.format_metadata): r.format_metadata for r in rows}
        position = {key: i for i, key in enumerate(formats, start=1)}  # SQL arrays count from 1
        written = connection.execute(
            UPSERT_RETURNS,
            {
                "wrls_from": WRLS_RETURNS_FROM,
                "ids": array_literal([r.return_id for r in rows]),
                "refs": array_literal([r.licence_ref for r in rows]),
                "starts": array_literal([r.start_date for r in rows]),
                "ends": array_literal([r.end_date for r in rows]),
                "frequencies": array_literal([r.returns_frequency for r in rows]),
                "statuses": array_literal([r.status for r in rows]),
                # A format's metadata once (its JSON is most of the statement), each return's flags added to it.
                "formats": [_json(m) for m in formats.values()],
                "format_of": array_literal([position[id(r.format_metadata)] for r in rows]),
                "currents": array_literal([r.is_current for r in rows]),
                "finals": array_literal([r.is_final for r in rows]),
                "received": array_literal([r.received_date for r in rows]),
                "dues": array_literal([r.due_date for r in rows]),
                "requirements": array_literal([r.format_id for r in rows]),
                "cycles": array_literal([cycles.get(cycle_of(r)) for r in rows]),
            },
        ).rowcount
    voided = 0
    if licence_refs:
        doomed = connection.execute(
            RETURNS_TO_VOID,
            {"refs": array_literal(licence_refs), "keep": array_literal([r.return_id for r in rows])},
        ).scalars()
        ids = list(doomed)
        if ids:
            voided = connection.execute(VOID_RETURNS, {"ids": array_literal(ids)}).rowcount
    return written, voided
