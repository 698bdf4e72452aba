"""Step 1 of export: one child per schema, so a schema that fails is retried and reported alone."""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .store import SCHEMAS, export_store


def queue_schemas(ctx: StepContext) -> list[str]:
    export_store(config())  # no bucket: the run fails here, once, rather than in every child
    return list(SCHEMAS)
