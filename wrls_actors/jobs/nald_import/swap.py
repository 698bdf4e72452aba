"""Put the freshly loaded ``import_temp`` in place of ``import``, and record
which extract it came from, in one transaction: readers see the old tables
or the new ones, never none and never half (the legacy dropped ``import``
and renamed ``import_temp`` in two statements).
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, text

from ...model.nald import S as IMPORT_SCHEMA
from ...runtime import PermanentError
from .load import TEMP_SCHEMA
from .shrink import check_shrink

STATE_KEY = "nald-import"
PREVIOUS_SCHEMA = "import_previous"

# Views or other objects outside `import` built on its tables: dropping the
# old schema would silently take them with it (the legacy's CASCADE did).
_DEPENDENTS = text("""
    SELECT DISTINCT dn.nspname || '.' || dc.relname AS name
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class dc ON dc.oid = r.ev_class
    JOIN pg_namespace dn ON dn.oid = dc.relnamespace
    JOIN pg_class c ON c.oid = d.refobjid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND dn.nspname <> :schema
    ORDER BY 1
""")


def read_state(connection: Connection) -> dict:
    row = connection.execute(
        text("SELECT data FROM water.application_state WHERE key = :key"), {"key": STATE_KEY}
    ).first()
    return dict(row.data) if row else {}


def write_state(connection: Connection, data: dict) -> None:
    connection.execute(
        text(
            "INSERT INTO water.application_state (key, data) VALUES (:key, CAST(:data AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET data = excluded.data, date_updated = now() "
            "WHERE water.application_state.data IS DISTINCT FROM excluded.data"
        ),
        {"key": STATE_KEY, "data": json.dumps(data)},
    )


def swap_in(connection: Connection, etag: str, *, max_shrink_percent: float | None, lock_timeout_s: int = 60) -> None:
    """Replace ``import`` with ``import_temp`` and record the ETag; the caller commits.

    ``max_shrink_percent``: refuse key tables that fell by more than this against ``import``
    (shrink.py); None swaps whatever was loaded (a forced run).
    """
    # Readers of the old tables hold locks the drop must wait for; a bounded wait fails the step
    # (and its retry tries again) rather than queueing every later reader behind us for ever.
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(lock_timeout_s)}s'")
    dependents = [r.name for r in connection.execute(_DEPENDENTS, {"schema": IMPORT_SCHEMA})]
    if dependents:
        raise PermanentError(
            f"objects outside schema {IMPORT_SCHEMA} depend on its tables and would be dropped "
            f"with it: {', '.join(dependents)}; drop or move them, then run the import again"
        )
    if max_shrink_percent is not None:
        # In the swap's own transaction, so the counts compared are those of the schema it replaces.
        check_shrink(connection, max_shrink_percent)
    exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": IMPORT_SCHEMA}).first()
    connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PREVIOUS_SCHEMA} CASCADE")
    if exists:
        connection.exec_driver_sql(f'ALTER SCHEMA "{IMPORT_SCHEMA}" RENAME TO {PREVIOUS_SCHEMA}')
    connection.exec_driver_sql(f'ALTER SCHEMA {TEMP_SCHEMA} RENAME TO "{IMPORT_SCHEMA}"')
    connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PREVIOUS_SCHEMA} CASCADE")
    write_state(connection, {"etag": etag, "isDownloaded": True})
