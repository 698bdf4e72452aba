"""What the WRLS jobs need under the embedded default (``make run`` with no
services configured), in a local folder: a NALD extract, so nald-import has
something real to import, and sample charge categories and gauging stations
files for their syncs. Nothing here is for production."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .config import PREFIX, Config
from .model.nald import NALD_TABLES

logger = logging.getLogger(__name__)

LICENCES = 500
# Only ever protects the synthetic extract generated below.
DEV_PASSWORD = "embedded-default"
# Beside the extract: the NALD tables it was generated with. An extract from before a table was added
# would fail every nald-import ("missing table"), so it is written again.
SHAPE_FILE = ".nald-tables"


def _shape() -> str:
    return hashlib.sha256("\n".join(f"{t.name}: {' '.join(t.columns)}" for t in NALD_TABLES).encode()).hexdigest()


def prepare(folder: str) -> list[str]:
    """Point nald-import, and the CSV syncs, at ``<folder>/objects`` and write what they read there once.

    Returns the jobs to start at once (``trigger`` cannot reach an in-process
    broker): the ones whose files are new, so the embedded default has real
    data without waiting for their schedules.
    """
    objects = Path(folder) / "objects"
    return _prepare_service_files(objects) + _prepare_nald(objects)


def _prepare_service_files(objects: Path) -> list[str]:
    """Sample charge categories and gauging stations files, so their syncs run instead of failing 4 times a day."""
    if os.environ.get(f"{PREFIX}_SERVICE_BUCKET") or os.environ.get(f"{PREFIX}_SERVICE_LOCAL_DIR"):
        return []
    os.environ[f"{PREFIX}_SERVICE_LOCAL_DIR"] = str(objects)
    config = Config.from_env()
    from .tools.service_files import write_service_files

    written = write_service_files(objects, config.charge_categories_key, config.gauging_stations_key)
    jobs = {
        config.charge_categories_key: "charge-categories-sync",
        config.gauging_stations_key: "gauging-stations-sync",
    }
    return [jobs[key] for key in written]


def _prepare_nald(objects: Path) -> list[str]:
    """A synthetic extract, written again when the NALD tables of the model have changed since."""
    if os.environ.get(f"{PREFIX}_NALD_BUCKET") or os.environ.get(f"{PREFIX}_NALD_LOCAL_DIR"):
        return []
    os.environ[f"{PREFIX}_NALD_LOCAL_DIR"] = str(objects)
    os.environ.setdefault(f"{PREFIX}_NALD_ZIP_PASSWORD", DEV_PASSWORD)
    config = Config.from_env()
    extract = objects / config.nald_key
    shape = objects / SHAPE_FILE
    if extract.exists() and shape.exists() and shape.read_text() == _shape():
        return []
    from .tools.nald_synth import write_synthetic_extract

    extract.parent.mkdir(parents=True, exist_ok=True)
    logger.warning("EMBEDDED DEFAULT: writing a synthetic NALD extract of %d licences to %s", LICENCES, extract)
    write_synthetic_extract(extract, config.nald_zip_password, LICENCES)
    shape.write_text(_shape())
    return ["nald-import"]
