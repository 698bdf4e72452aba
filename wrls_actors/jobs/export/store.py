"""Where the export goes: ``export/<schema>.tgz`` in ``WRLS_EXPORT_BUCKET``."""

from __future__ import annotations

from ...config import Config
from ...object_store import S3Store
from ..errors import PermanentJobError

SCHEMAS = ("water", "returns", "crm", "crm_v2", "idm", "permit")
# Longest wait for the object store to answer one request (a part is a few MiB).
TIMEOUT_S = 120
# The object's metadata naming the run that wrote it: how the last step tells which schemas this run exported.
RUN_ID = "wrls-run-id"


def key_of(schema: str) -> str:
    return f"export/{schema}.tgz"


def export_store(cfg: Config) -> S3Store:
    if not cfg.export_bucket:
        raise PermanentJobError("WRLS_EXPORT_BUCKET is not set: there is nowhere to export to")
    return S3Store(cfg.export_bucket, endpoint_url=cfg.s3_endpoint_url, region=cfg.s3_region, timeout_s=TIMEOUT_S)
