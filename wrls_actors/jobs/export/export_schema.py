"""The fan-out child of export: one schema's base tables, as CSV, in ``export/<schema>.tgz``.

Streamed end to end: each table's ``COPY`` goes compressed to a temporary file
(spool.py), then into the tar and gzip stream (tarball.py), which is sent in parts of
``WRLS_EXPORT_PART_MIB`` (multipart.py); the object is replaced only when the
last part is in. All the tables are read in one repeatable-read transaction,
so the files agree with each other as the database stood at its start.
"""

from __future__ import annotations

import time
from contextlib import closing

from ...config import config
from ...runtime import StepContext
from ..errors import PermanentJobError
from .multipart import MultipartUpload
from .spool import spool_tables
from .store import RUN_ID, export_store, key_of
from .tables import read_tables
from .tarball import write_tarball


def export_schema(ctx: StepContext) -> None:
    schema = ctx.item
    cfg = config()
    store = export_store(cfg)
    key = key_of(schema)
    started = time.monotonic()
    connection = ctx.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        tables = read_tables(connection, schema)
        if not tables:
            raise PermanentJobError(
                f"schema {schema} has no tables: nothing to export, {store.describe(key)} left as it was"
            )
        upload = MultipartUpload(store.client, store.bucket, key, cfg.export_part_mib << 20, {RUN_ID: str(ctx.run_id)})
        try:
            # Closed here, not whenever the generator is collected: its COPY thread must be done with the
            # connection before the rollback below.
            with closing(spool_tables(connection, schema, tables, cfg.work_dir)) as spooled:
                written = write_tarball(schema, spooled, upload)
            upload.complete()
        except BaseException:
            upload.abort()
            raise
    finally:
        connection.rollback()
        connection.close()
    ctx.count("tables_exported", written.tables)
    ctx.count("rows_exported", written.rows)
    ctx.count("csv_bytes", written.csv_bytes)
    ctx.count("tgz_bytes", upload.bytes_written)
    ctx.count("parts_uploaded", len(upload.parts))
    ctx.logger.info(
        "exported schema %s to %s: %d tables, %d rows, %d bytes of CSV in %d bytes (%d parts) in %.1fs",
        schema,
        store.describe(key),
        written.tables,
        written.rows,
        written.csv_bytes,
        upload.bytes_written,
        len(upload.parts),
        time.monotonic() - started,
    )
