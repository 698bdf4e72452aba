"""Step 6 of licence-import (children of up to CHUNK licences each), and the one-licence import on demand.

A chunk of licences, one transaction: the licences' NALD rows are read
together, each licence is transformed by pure functions, and their
water.licences rows, crm_v2 documents and document roles, versions,
purposes and conditions are written by a statement per table for the whole
chunk, all together or not at all (the legacy ran one statement per row in
parallel, with no transaction, so a failure left a licence half-written). A
licence with data the rules cannot read, or that needs a region, purpose or
role WRLS lacks, fails the chunk, named; the runtime halves the chunk until
it fails alone, and the other licences are written (runtime/chunks.py).

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/jobs/import-licence.js``.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ...runtime import PermanentError, StepContext
from ..shared.per_licence import licence_of, licences_of
from .licence_import_rows import LicenceImportRows, read_licences_rows
from .licence_transforms import LicenceImport, end_dates_changed, transform_licence
from .write_licence_import import Written, check_reference_data, read_states, write_licences

# Two imports of one licence at once (the nightly fan-out and a manual one) take turns. Taken in
# the licences' order, so two chunks sharing licences cannot deadlock.
LICENCE_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtext('licence-import-licence:' || ref)) "
    "FROM unnest(CAST(:refs AS text[])) AS ref ORDER BY ref"
)


# Licences in one child message of the nightly import: a message's and a commit's cost spread over many.
CHUNK = 100


def import_licences(ctx: StepContext) -> None:
    """The nightly import's child: the licences of its chunk, in one transaction."""
    with ctx.engine.begin() as connection:
        imported = _import(connection, licences_of(ctx))
    for ref, licence, written in imported:
        _count(ctx, ref, licence, written)


def import_licence(ctx: StepContext) -> None:
    """The one-licence job (``--param licence=<ref>``)."""
    with ctx.engine.begin() as connection:
        [(ref, licence, written)] = _import(connection, [licence_of(ctx)])
    _count(ctx, ref, licence, written)


def _import(connection: Connection, refs: list[str]) -> list[tuple[str, LicenceImport, Written]]:
    connection.execute(LICENCE_LOCKS, {"refs": refs})
    found = read_licences_rows(connection, refs)
    licences = [_transform(ref, found.get(ref)) for ref in refs]
    states = read_states(connection, licences)
    for ref, licence, state in zip(refs, licences, states, strict=True):
        try:
            check_reference_data(licence, state)
        except ValueError as e:
            raise _named(ref, e) from None
    changed = [
        end_dates_changed(state.before, licence.licence) for licence, state in zip(licences, states, strict=True)
    ]
    written = write_licences(connection, licences, states, changed)
    return list(zip(refs, licences, written, strict=True))


def _transform(ref: str, rows: LicenceImportRows | None) -> LicenceImport:
    if rows is None:
        raise PermanentError(f"licence {ref} is not in the NALD extract (schema import)")
    try:
        return transform_licence(rows)
    except ValueError as e:
        raise _named(ref, e) from None


def _named(ref: str, error: ValueError) -> PermanentError:
    """Bad data or missing reference data fails the licence, named."""
    return PermanentError(str(error) if ref in str(error) else f"licence {ref}: {error}")


def _count(ctx: StepContext, ref: str, licence: LicenceImport, written: Written) -> None:
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
