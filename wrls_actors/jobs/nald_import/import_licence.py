"""Step 4 of nald-import (children of up to CHUNK licences each), and the whole of nald-import-licence.

A chunk of licences, one transaction: their NALD rows are read together, each
licence's permit JSON and returns are built by pure functions, and
``permit.licence``, ``crm.document_header`` and ``returns.*`` are written
for all of them together, a statement per table (the legacy wrote each
licence separately, over HTTP for returns, with no transaction). A licence
with data the rules cannot read fails the chunk with the licence named; the
runtime then halves the chunk until that licence fails alone, and the others
are written (runtime/chunks.py). The one-licence job is a chunk of one.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, text

from ...runtime import PermanentError, StepContext, array_literal
from ..shared.per_licence import licence_of, licences_of
from .licence_rows import LicenceRows, read_licences
from .permit_json import document_metadata, permit_licence
from .returns import licence_returns
from .write_licence import LicenceWrite, ReturnRow, upsert_documents, upsert_permits, write_returns

# Licences in one child message of the nightly import: big enough that a message's and a
# transaction's fixed costs vanish, small enough that halving a chunk with a bad licence is quick.
CHUNK = 100

# Two imports of one licence at once (the nightly fan-out and a manual one) take turns. Taken in
# the licences' order, so two chunks sharing licences cannot deadlock.
LICENCE_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtext('nald-import-licence:' || ref)) "
    "FROM unnest(CAST(:refs AS text[])) AS ref ORDER BY ref"
)


def import_licences(ctx: StepContext) -> None:
    """The nightly import's child: the licences of its chunk."""
    _import(ctx, licences_of(ctx))


def import_licence(ctx: StepContext) -> None:
    """The one-licence job (``--param licence=<ref>``)."""
    _import(ctx, [licence_of(ctx)])


def _build(ctx: StepContext, ref: str, rows: LicenceRows, today: date) -> tuple[LicenceWrite, list[ReturnRow]] | None:
    try:
        permit = permit_licence(rows, today)
        if permit is None:
            ctx.count("licences_skipped")
            ctx.logger.info("licence %s has no versions in NALD: skipped", ref)
            return None
        returns = licence_returns(rows, today)
        metadata = document_metadata(rows, permit)
    except ValueError as e:
        raise PermanentError(f"licence {ref}: {e}") from None
    return LicenceWrite(ref, permit.start_date, permit.end_date, permit.data, metadata), returns


def _read(connection: Connection, refs: list[str]) -> list[tuple[str, LicenceRows]]:
    found = read_licences(connection, refs)
    for ref in refs:
        if ref not in found:
            raise PermanentError(f"licence {ref} is not in the NALD extract (schema import)")
    return [(ref, found[ref]) for ref in refs]


def _import(ctx: StepContext, refs: list[str]) -> None:
    today = date.today()
    licences: list[LicenceWrite] = []
    returns: list[ReturnRow] = []
    with ctx.engine.begin() as connection:
        connection.execute(LICENCE_LOCKS, {"refs": array_literal(refs)})
        for ref, rows in _read(connection, refs):
            built = _build(ctx, ref, rows, today)
            if built is not None:
                licences.append(built[0])
                returns += built[1]
        ids = upsert_permits(connection, licences)
        upsert_documents(connection, licences, ids)
        written, voided = write_returns(connection, [w.licence_ref for w in licences], returns)
    if not licences:
        return
    ctx.count("licences_imported", len(licences))
    ctx.count("returns", len(returns))
    if written:
        ctx.count("returns_written", written)
    if voided:
        ctx.count("returns_voided", voided)
