"""Step 1 of nald-import: fetch the extract if it changed, load it, swap it in.

The ETag of ``<prefix>/nald_enc.zip`` is compared with the one recorded in
``water.application_state`` (key ``nald-import``) when the last import was
swapped in; unchanged, the run ends "no change" unless ``force`` is given.
Otherwise: download to a private temporary folder, decrypt ``NALD.zip`` out
of it, stream every CSV into ``import_temp``, index, verify the row counts,
and swap ``import_temp`` for ``import`` together with the new ETag. Any bad
input fails the step with the file (and line) named and ``import`` as it was.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from ...config import config
from ...object_store import nald_store
from ...runtime import PermanentError, StepContext
from .archive import InnerArchive, unpack_outer
from .load import index_and_analyse, load_all, verify
from .swap import read_state, swap_in

# Held for the whole load: import_temp is one folder, so two loads must never share it.
LOAD_LOCK = "nald-import:import_temp"


def is_forced(params) -> bool:
    value = params.get("force", False)
    return value is True or str(value).lower() in ("true", "1", "yes")


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
    if cfg.work_dir is not None:
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
    with ctx.engine.connect() as lock, tempfile.TemporaryDirectory(prefix="nald-", dir=cfg.work_dir) as folder:
        if not lock.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": LOAD_LOCK}).scalar_one():
            raise RuntimeError("another NALD import is loading import_temp; this one will retry")
        try:
            _import(ctx, store, key, etag, cfg, folder)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": LOAD_LOCK})
            lock.commit()


def _import(ctx: StepContext, store, key: str, etag: str, cfg, folder: str) -> None:
    timings = {}
    started = time.monotonic()
    archive = Path(folder) / "nald_enc.zip"
    size = store.download(key, etag, archive)
    timings["download"] = time.monotonic() - started
    ctx.count("extract_bytes", size)

    started = time.monotonic()
    inner = unpack_outer(archive, cfg.nald_zip_password, Path(folder), cfg.nald_max_member_bytes, cfg.nald_max_ratio)
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
        swap_in(connection, etag)
    timings["swap"] = time.monotonic() - started

    rows = sum(t.rows for t in tables)
    ctx.count("tables_loaded", len(tables))
    ctx.count("rows_loaded", rows)
    for name, seconds in timings.items():
        ctx.count(f"{name}_ms", round(seconds * 1000))
    ctx.logger.info("imported %s (ETag %s): %d tables, %d rows; %s", store.describe(key), etag, len(tables), rows,
                    ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()))
