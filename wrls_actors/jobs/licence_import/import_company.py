"""Step 4 of licence-import (children of up to CHUNK NALD parties each): the parties' companies in crm_v2.

A chunk of parties, one transaction: the parties' NALD rows are read in one
query (:mod:`company_rows`), each party's turned into crm_v2 rows by pure
functions (:mod:`company_transforms`), then the chunk's companies are
upserted in one round trip (:mod:`write_company`), all together or not at
all (the legacy wrote them in parallel, with no transaction). A party whose
data the rules cannot read fails the chunk, named; the runtime halves the
chunk until that party fails alone, and the others are written
(runtime/chunks.py). The one-party job is a chunk of one.

Legacy: ``src/modules/licence-import/jobs/import-company.js``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ...runtime import PermanentError, StepContext
from .company_rows import CompanyRows, read_companies, read_company
from .company_transforms import CompanyImport, transform_company
from .write_company import write_companies


def party_of(ctx: StepContext) -> tuple[str, str]:
    """(region, party id) of the child's item, or of ``--param party=<region>:<id>``."""
    return _party(ctx, ctx.item if ctx.item is not None else ctx.params.get("party"))


def read_party(connection: Connection, region: str, party: str) -> CompanyImport:
    """Read and transform one party's company."""
    return _transform(region, party, read_company(connection, region, party))


def _transform(region: str, party: str, rows: CompanyRows | None) -> CompanyImport:
    if rows is None:
        raise PermanentError(f"party {region}:{party} is not in the NALD extract (schema import)")
    try:
        return transform_company(rows)
    except ValueError as e:
        raise PermanentError(f"party {region}:{party}: {e}") from None


def import_party(connection: Connection, region: str, party: str) -> CompanyImport:
    """Read, transform and write one party's company; returns what was written."""
    data = read_party(connection, region, party)
    write_companies(connection, [data])
    return data


# Parties in one child message of the nightly import: a message's and a commit's cost spread over many.
CHUNK = 100


def import_companies(ctx: StepContext) -> None:
    """The nightly import's child: the parties of its chunk, in one transaction, written in one round trip."""
    parties = sorted(set(_party(ctx, item) for item in ctx.items or []))
    with ctx.engine.begin() as connection:
        found = read_companies(connection, parties)
        imported = [(region, party, _transform(region, party, found.get((region, party)))) for region, party in parties]
        write_companies(connection, [data for _, _, data in imported])
    for region, party, data in imported:
        _count(ctx, region, party, data)


def import_company(ctx: StepContext) -> None:
    """The one-party job (``--param party=<region>:<id>``)."""
    region, party = party_of(ctx)
    with ctx.engine.begin() as connection:
        data = import_party(connection, region, party)
    _count(ctx, region, party, data)


def _party(ctx: StepContext, item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        item = f"{item.get('region', '')}:{item.get('party', '')}"
    region, _, party = item.partition(":") if isinstance(item, str) else ("", "", "")
    if not region.strip() or not party.strip():
        raise PermanentError(f"{ctx.job}: give the NALD party as <region>:<id>, e.g. --param party=1:123, not {item!r}")
    return region.strip(), party.strip()


def _count(ctx: StepContext, region: str, party: str, data: CompanyImport) -> None:
    ctx.count("companies_imported")
    ctx.count("addresses", len(data.addresses))
    if data.contact is not None:
        ctx.count("contacts")
    ctx.count("invoice_accounts", len(data.invoice_accounts))
    if data.missing_addresses:
        ctx.count("addresses_missing", len(data.missing_addresses))
        ctx.logger.warning(
            "party %s:%s: addresses not in NALD_ADDRESSES, links left out: %s",
            region,
            party,
            ", ".join(data.missing_addresses),
        )
    if data.undated_links:
        ctx.count("links_undated", len(data.undated_links))
        ctx.logger.warning("party %s:%s: no start date, left out: %s", region, party, ", ".join(data.undated_links))
