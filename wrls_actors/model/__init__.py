"""The WRLS tables the jobs read and write, one module per schema.

In production these tables belong to other services and already exist; the
definitions here are what the jobs rely on (columns, keys, unique
constraints), as the water service's and the import's schemas define them.
For development, tests and the embedded default, ``wrls-actors db
upgrade`` creates whatever of them is missing, and never alters or drops
what is there.
"""

from sqlalchemy import Connection, text

from . import crm, crm_v2, nald, permit, public, reference, returns, water, water_import
from .base import metadata

SCHEMAS = ("water", "crm", "crm_v2", "permit", "returns", water_import.S, nald.S)


def create_missing(connection: Connection) -> None:
    """Create the WRLS schemas and tables that do not exist yet (idempotent).

    Keys default to ``gen_random_uuid()``, built into PostgreSQL since 13.
    Reference tables it creates get their rows (``reference.py``).
    """
    for schema in SCHEMAS:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    existing = {
        f"{schema}.{name}"
        for schema, name in connection.execute(
            text("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(:s)"),
            {"s": list(SCHEMAS)},
        )
    }
    metadata.create_all(connection, checkfirst=True)
    reference.seed_created(connection, set(reference.TABLES) - existing)


__all__ = [
    "metadata",
    "create_missing",
    "crm",
    "crm_v2",
    "nald",
    "permit",
    "public",
    "returns",
    "water",
    "water_import",
]
