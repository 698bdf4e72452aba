"""Step 1 of nald-import: fetch the extract if it changed, load it, swap it in.

The ETag of ``<prefix>/nald_enc.zip`` is compared with the one recorded in
``water.application_state`` (key ``nald-import``) when the last import was
swapped in; unchanged, the run ends "no change" unless ``force`` is given.
Otherwise: download to a private temporary folder, decrypt ``NALD.zip`` out
of it, stream every CSV into ``import_temp``, index, verify the row counts,
and swap ``import_temp`` for ``import`` together with the new ETag. Any bad
input fails the step with the file (and line) named and ``import`` as it was;
so does an extract whose key tables shrank sharply (shrink.py), unless forced.
A step that fails for good drops the partial ``import_temp``; the folder of a
run that was killed is removed by the next run (work_folder.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from ...config import config
from ...object_store import nald_store
from ...runtime import PermanentError, StepContext
from ..guards import is_forced
from .archive import InnerArchive, unpack_outer
from .load import TEMP_SCHEMA, index_and_analyse, load_all, verify
from .swap import read_state, swap_in
from .work_folder import work_folder

# Held for the whole load: import_temp is one folder, so two loads must never share it.
LOAD_LOCK = "nald-import:import_temp"
# The step's retries (its Step in __init__.py): after the last, a failure is for good.
MAX_RETRIES = 2


def s3_download(ctx: StepContext) -> None:
    cfg = config()
    store = nald_store(cfg)
    key = cfg.nald_key
    etag = store.etag(key)
    with ctx.engine.connect() as connection:
        state = read_state(connection)
    if not is_forced(ctx.params) and state.get("etag") == etag and state.get("isDownloaded") is True:
        ctx.logger.info("%s unchanged (ETag %s): nothing to import", store.describe(key), etag)
        ctx.end_run(f"no change: {key} ETag {etag} already imported")
        return
    if not cfg.nald_zip_password:
        raise PermanentError("WRLS_NALD_ZIP_PASSWORD is not set: the NALD extract cannot be decrypted")
    with ctx.engine.connect() as lock:
        if not lock.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": LOAD_LOCK}).scalar_one():
            raise RuntimeError("another NALD import is loading import_temp; this one will retry")
        try:
            with work_folder(cfg.work_dir) as folder:
                _import(ctx, store, key, etag, cfg, folder)
        except BaseException as e:
            if isinstance(e, PermanentError) or ctx.attempt > MAX_RETRIES:
                _drop_temp_schema(ctx)
            raise
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": LOAD_LOCK})
            lock.commit()


def _drop_temp_schema(ctx: StepContext) -> None:
    """No retry will reload it: a partial import_temp would only hold disk until the next run."""
    try:
        with ctx.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {TEMP_SCHEMA} CASCADE")
    except Exception:  # the step's own error is the one to report; the next load drops it anyway
        ctx.logger.exception("could not drop %s after the failed import", TEMP_SCHEMA)


def _import(ctx: StepContext, store, key: str, etag: str, cfg, folder: Path) -> None:
    timings = {}
    started = time.monotonic()
    archive = folder / "nald_enc.zip"
    size = store.download(key, etag, archive)
    timings["download"] = time.monotonic() - started
    ctx.count("extract_bytes", size)

    started = time.monotonic()
    inner = unpack_outer(archive, cfg.nald_zip_password, folder, cfg.nald_max_member_bytes, cfg.nald_max_ratio)
    archive.unlink()
    timings["decrypt"] = time.monotonic() - started

    started = time.monotonic()
    with InnerArchive(inner, cfg.nald_max_member_bytes, cfg.nald_max_ratio) as files:
        tables = load_all(ctx.engine, files)
    timings["load"] = time.monotonic() - started

    started = time.monotonic()
    index_and_analyse(ctx.engine, tables)
    verify(ctx.engine, tables)
    timings["index"] = time.monotonic() - started

    started = time.monotonic()
    with ctx.engine.begin() as connection:
        swap_in(connection, etag, max_shrink_percent=None if is_forced(ctx.params) else cfg.nald_max_shrink_percent)
    timings["swap"] = time.monotonic() - started

    rows = sum(t.rows for t in tables)
    ctx.count("tables_loaded", len(tables))
    ctx.count("rows_loaded", rows)
    for name, seconds in timings.items():
        ctx.count(f"{name}_ms", round(seconds * 1000))
    ctx.logger.info(
        "imported %s (ETag %s): %d tables, %d rows; %s",
        store.describe(key),
        etag,
        len(tables),
        rows,
        ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()),
    )
