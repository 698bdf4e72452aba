"""The last step of export: which schemas this run wrote, read back from the object store.

Each object carries the id of the run that wrote it, so a schema whose child
failed (its previous object kept, or none) is named in the run's note, beside
the ledger's count of failed children.
"""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .store import RUN_ID, SCHEMAS, export_store, key_of


def report(ctx: StepContext) -> None:
    store = export_store(config())
    exported: list[str] = []
    failed: list[str] = []
    for schema in SCHEMAS:
        (exported if _written_by(store, key_of(schema)) == str(ctx.run_id) else failed).append(schema)
    ctx.count("schemas_exported", len(exported))
    note = f"exported {', '.join(exported) or 'nothing'}"
    if failed:
        note += f"; FAILED {', '.join(failed)} (their previous objects, if any, are kept)"
        ctx.logger.warning("export: %s", note)
    else:
        ctx.logger.info("export: %s", note)
    ctx.end_run(note)


def _written_by(store, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        head = store.client.head_object(Bucket=store.bucket, Key=key)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("Metadata", {}).get(RUN_ID)
