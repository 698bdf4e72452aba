"""Step 6 of licence-import (one child per licence), and the one-licence import on demand.

One licence, one transaction: its NALD rows are read, transformed by pure
functions, and water.licences, crm_v2.documents and document roles, and the
licence's versions, purposes and conditions are written together or not at
all (the legacy ran one statement per row in parallel, with no transaction,
so a failure left a licence half-written). A licence with data the rules
cannot read, or that needs a region, purpose or role WRLS lacks, fails on its
own, at once and named; the other licences go on.

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/jobs/import-licence.js``.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import PermanentError, StepContext
from ..shared.per_licence import licence_of
from .licence_import_rows import read_licence_rows
from .licence_transforms import end_dates_changed, transform_licence
from .write_licence_import import check_reference_data, read_state, write_licence

# Two imports of one licence at once (the nightly fan-out and a manual one) take turns.
LICENCE_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('licence-import-licence:' || :ref))")


def import_licence(ctx: StepContext) -> None:
    ref = licence_of(ctx)
    with ctx.engine.begin() as connection:
        connection.execute(LICENCE_LOCK, {"ref": ref})
        rows = read_licence_rows(connection, ref)
        if rows is None:
            raise PermanentError(f"licence {ref} is not in the NALD extract (schema import)")
        try:
            licence = transform_licence(rows)
            state = read_state(connection, licence)
            check_reference_data(licence, state)
        except ValueError as e:
            raise PermanentError(str(e) if ref in str(e) else f"licence {ref}: {e}") from None
        written = write_licence(connection, licence, state, end_dates_changed(state.before, licence.licence))
    ctx.count("licences_imported")
    ctx.count("versions", len(licence.versions))
    ctx.count("purposes", len(licence.purposes))
    ctx.count("conditions", len(licence.conditions) - written.conditions_skipped)
    if written.conditions_skipped:
        ctx.count("conditions_skipped", written.conditions_skipped)
    if written.end_dates_changed:
        ctx.count("end_dates_changed")
        ctx.logger.info("licence %s: expired, lapsed or revoked date changed", ref)
    if written.flagged_supplementary:
        ctx.count("flagged_supplementary")
