"""The base tables of a schema and their columns, as the CSV rules need them."""

from __future__ import annotations

from .csv_rules import Column

# Base tables as information_schema.tables names them (ordinary and partitioned), columns in their order,
# each typed by its base type (a domain by the type under it) so the CSV rules see what node-postgres saw.
COLUMNS = """
SELECT c.relname, a.attname, format_type(coalesce(nullif(t.typbasetype, 0), t.oid), NULL),
       coalesce(bt.typcategory, t.typcategory) = 'A'
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = nullif(t.typbasetype, 0)
WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum
"""


def read_tables(connection, schema: str) -> dict[str, list[Column]]:
    """Every base table of ``schema``, by name in order, with its columns (a DB-API connection)."""
    tables: dict[str, list[Column]] = {}
    with connection.cursor() as cursor:
        cursor.execute(COLUMNS, (schema,))
        for table, column, type_name, is_array in cursor.fetchall():
            columns = tables.setdefault(table, [])
            if column is not None:  # a table with no columns still has its (empty) file
                columns.append(Column(column, type_name, bool(is_array)))
    return tables
