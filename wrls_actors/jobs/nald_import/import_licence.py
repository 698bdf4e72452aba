"""Step 4 of nald-import (one child per licence), and the whole of nald-import-licence.

One licence, one transaction: its NALD rows are read, the permit JSON and
the returns are built by pure functions, and ``permit.licence``,
``crm.document_header`` and ``returns.*`` are written together or not at all
(the legacy wrote them separately, over HTTP for returns, with no
transaction). A licence with data the rules cannot read fails on its own, at
once and with the licence named; the other licences go on.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from ...runtime import PermanentError, StepContext
from ..shared.per_licence import licence_of
from .licence_rows import read_licence
from .permit_json import document_metadata, permit_licence
from .returns import licence_returns
from .write_licence import upsert_document, upsert_permit, write_returns

# Two imports of one licence at once (the nightly fan-out and a manual one) take turns.
LICENCE_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('nald-import-licence:' || :ref))")


def import_licence(ctx: StepContext) -> None:
    ref = licence_of(ctx)
    today = date.today()
    with ctx.engine.begin() as connection:
        connection.execute(LICENCE_LOCK, {"ref": ref})
        rows = read_licence(connection, ref)
        if rows is None:
            raise PermanentError(f"licence {ref} is not in the NALD extract (schema import)")
        try:
            permit = permit_licence(rows, today)
            if permit is None:
                ctx.count("licences_skipped")
                ctx.logger.info("licence %s has no versions in NALD: skipped", ref)
                return
            returns = licence_returns(rows, today)
            metadata = document_metadata(rows, permit)
        except ValueError as e:
            raise PermanentError(f"licence {ref}: {e}") from None
        licence_id = upsert_permit(connection, ref, permit.start_date, permit.end_date, permit.data)
        upsert_document(connection, ref, licence_id, metadata)
        written, voided = write_returns(connection, ref, returns)
    ctx.count("licences_imported")
    ctx.count("returns", len(returns))
    if written:
        ctx.count("returns_written", written)
    if voided:
        ctx.count("returns_voided", voided)
