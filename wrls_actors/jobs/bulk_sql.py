"""Planning help for statements that read and write whole tables in one go."""

from __future__ import annotations

from sqlalchemy import Connection


def hash_joins_only(connection: Connection) -> None:
    """Keep nested loops out of this transaction's plans.

    The planner multiplies the selectivities of correlated join columns (a NALD
    region and ID, then the licence number they imply) and expects one row
    where there are 400,000; a nested loop chosen on that guess ran a
    bill-runs-import statement for hours at production scale. For a statement
    over whole tables hash joins are right whatever the estimate. ``SET LOCAL``
    ends with the transaction.
    """
    connection.exec_driver_sql("SET LOCAL enable_nestloop = off")


def analyse(connection: Connection, *tables: str) -> None:
    """Fresh statistics for tables a step has just filled, for the next step's plans
    (autovacuum gets to them minutes later, if it runs at all)."""
    for table in tables:
        connection.exec_driver_sql(f"ANALYZE {table}")
