"""Alembic environment for the ledger schema `jobs`.

Run through `wrls-actors db upgrade` (see ..database.upgrade), which passes
the engine in `config.attributes["connection"]`.
"""

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
# The version table lives in `jobs`, so the schema must exist before Alembic looks.
connection.execute(text("CREATE SCHEMA IF NOT EXISTS jobs"))
context.configure(connection=connection, version_table="alembic_version", version_table_schema="jobs")
with context.begin_transaction():
    context.run_migrations()
