"""Refuse an extract whose key tables shrank sharply against the import in place.

A NALD extract cut at a row boundary (or short of rows some other way) is a
well-formed file, and swapping it in would let the next steps mark real
licences deleted. Real NALD changes by well under 1% of a table's rows a
night, so a fall of more than ``WRLS_NALD_MAX_SHRINK_PERCENT`` (default 10)
is taken for a damaged extract, unless the run is forced.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ...model.nald import S as IMPORT_SCHEMA
from .archive import BadExtract
from .load import TEMP_SCHEMA

# The tables whose rows the later steps turn into live licences, documents, contacts, returns and
# charge versions: a row missing from one of these is data deleted or left stale downstream.
KEY_TABLES = (
    "NALD_ABS_LICENCES",
    "NALD_ABS_LIC_VERSIONS",
    "NALD_ABS_LIC_PURPOSES",
    "NALD_PARTIES",
    "NALD_ADDRESSES",
    "NALD_LIC_ROLES",
    "NALD_RET_VERSIONS",
    "NALD_CHG_VERSIONS",
    "NALD_CHG_ELEMENTS",
)


def _count(connection: Connection, schema: str, table: str) -> int:
    name = f'{schema}."{table}"'
    if connection.execute(text("SELECT to_regclass(:n) IS NULL"), {"n": name}).scalar_one():
        return 0
    return connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()


def check_shrink(connection: Connection, max_percent: float) -> None:
    """Raise ``BadExtract`` if a key table of ``import_temp`` has over ``max_percent`` fewer rows than ``import``.

    A table ``import`` lacks or holds empty (the first import) always passes.
    """
    for table in KEY_TABLES:
        before = _count(connection, IMPORT_SCHEMA, table)
        after = _count(connection, TEMP_SCHEMA, table)
        if before and (before - after) * 100 > before * max_percent:
            raise BadExtract(
                f"{table}.txt: {after:,} rows against {before:,} in the import in place, "
                f"{100 * (before - after) / before:.1f}% fewer, over WRLS_NALD_MAX_SHRINK_PERCENT={max_percent:g} "
                "(NALD changes by well under 1% a night): refusing to swap it in; is the extract short? "
                "Start the run with force=true if NALD really shrank"
            )
