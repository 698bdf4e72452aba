"""Read the NALD rows that licence-import's import-licence needs for a chunk of licences, in two queries.

The first query finds the licences by their numbers; the second, a statement
of CTEs joined to the licences' (``FGAC_REGION_CODE``, ``ID``)
(:mod:`wrls_actors.nald.licence_parts`), returns one JSON array per table and
licence. The rules (which versions count, which purposes belong to
which version) are left to :mod:`licence_transforms`.

Legacy queries this follows (DEFRA/water-abstraction-import, early 2024):
``src/modules/licence-import/extract/connectors/queries.js`` (getLicence,
getLicenceVersions, getLicencePurposes, getPurposeConditions, getLicenceRoles,
getParties, getAddresses) and ``extract/index.js`` (getLicenceData).

Not read, unlike the legacy: charge versions with their invoice accounts, and
the two-part tariff and section 130 agreements. The legacy's licence transform
used the charge versions only to widen the party and address lookups (no role
it wrote came from them: billing roles were off), and the agreements only when
``IMPORT_LICENCE_AGREEMENTS`` was on, which it was not. Reading them would cost
a scan of NALD_IAS_INVOICE_ACCS per licence (it is not indexed by customer
reference) for nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from ...nald.licence_parts import Part, read_parts
from ...nald.sql import licences_query

Row = dict[str, Any]


@dataclass(frozen=True)
class LicenceImportRows:
    """One licence's NALD rows, one list per table, each in a fixed order."""

    licence: Row  # NALD_ABS_LICENCES
    versions: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_VERSIONS, STATUS <> 'DRAFT'
    purposes: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_PURPOSES of every version of the licence
    conditions: list[Row] = field(default_factory=list)  # NALD_LIC_CONDITIONS of those purposes
    roles: list[Row] = field(default_factory=list)  # NALD_LIC_ROLES, ended ones too
    parties: list[Row] = field(default_factory=list)  # NALD_PARTIES of the versions and roles
    addresses: list[Row] = field(default_factory=list)  # NALD_ADDRESSES of the versions and roles


def _order(*columns: str) -> str:
    return ", ".join(f'(t)."{c}"' for c in columns)


# Each licence's rows in text order: any fixed order makes the same extract read the same.
_PARTS: tuple[Part, ...] = (
    Part(
        "versions",
        "NALD_ABS_LIC_VERSIONS",
        ("AABL_ID",),
        ("keys.id",),
        where="t.\"STATUS\" <> 'DRAFT'",
        order=_order("ISSUE_NO", "INCR_NO"),
    ),
    Part("purposes", "NALD_ABS_LIC_PURPOSES", ("AABV_AABL_ID",), ("keys.id",), order=_order("ID")),
    Part("conditions", "NALD_LIC_CONDITIONS", ("AABP_ID",), ("purposes.ID",), order=_order("AABP_ID", "ID")),
    Part(
        "roles",
        "NALD_LIC_ROLES",
        ("AABL_ID",),
        ("keys.id",),
        order=_order("ALRT_CODE", "EFF_ST_DATE", "ACON_APAR_ID", "ACON_AADD_ID"),
    ),
    Part("parties", "NALD_PARTIES", ("ID",), ("versions.ACON_APAR_ID", "roles.ACON_APAR_ID"), order=_order("ID")),
    Part("addresses", "NALD_ADDRESSES", ("ID",), ("versions.ACON_AADD_ID", "roles.ACON_AADD_ID"), order=_order("ID")),
)

# The tables this reader needs in schema import.
TABLES = ("NALD_ABS_LICENCES", *(p.table for p in _PARTS))


def read_licences_rows(
    connection: Connection, licence_refs: Sequence[str], schema: str = "import"
) -> dict[str, LicenceImportRows]:
    """The NALD rows of each of ``licence_refs``, by licence number, in two statements; a licence that
    NALD_ABS_LICENCES does not have is left out."""
    found = connection.execute(text(licences_query(schema)), {"licence_refs": list(licence_refs)}).mappings().all()
    licences = [dict(row) for row in found]
    parts = read_parts(connection, "licence_import_rows", _PARTS, schema, licences)
    return {
        lic["LIC_NO"]: LicenceImportRows(licence=lic, **{p.name: t.get(p.name, []) for p in _PARTS})
        for lic, t in zip(licences, parts, strict=True)
    }


def read_licence_rows(connection: Connection, licence_ref: str, schema: str = "import") -> LicenceImportRows | None:
    """The NALD rows of ``licence_ref``; ``None`` when NALD_ABS_LICENCES has no such licence."""
    return read_licences_rows(connection, [licence_ref], schema).get(licence_ref)
