"""The Runs page's list as CSV: every run the filter finds, streamed a keyset page at a time."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from collections.abc import Iterator

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from ..service import Service
from . import filters
from .web import Console, Refused

BATCH = 1000
MAX_ROWS = 1_000_000
# Exports at once in this process: each reads the ledger for as long as its download lasts.
_exports = threading.BoundedSemaphore(2)
COLUMNS = (
    "run_id", "job", "trigger", "status", "started_at", "finished_at", "duration_s", "nominal_time",
    "children_failed", "children_cancelled", "error", "params", "counts",
)  # fmt: skip


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ (or a tab or CR), even after spaces,
    would be run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def router(service: Service, console: Console) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/runs.csv")
    def runs_csv(request: Request) -> Response:
        visitor = console.signed_in(request)
        chosen, _ = filters.read(request.query_params, service.jobs, service.tz)
        if not _exports.acquire(blocking=False):
            raise Refused(
                429, "Two CSV downloads are being made already: try again when one has finished.", retry_after_s=30
            )

        def rows() -> Iterator[str]:
            try:
                yield from _rows()
            finally:
                _exports.release()

        def _rows() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            cursor, written = None, 0
            while written < MAX_ROWS:
                # A connection per batch: a slow download never holds one for its whole length.
                with service.engine.connect() as connection:
                    page, cursor = chosen.page(connection, cursor, BATCH)
                for run in page:
                    writer.writerow(
                        safe_cell(v)
                        for v in (
                            run.run_id,
                            run.job,
                            run.trigger,
                            run.status,
                            run.started_at.isoformat(),
                            run.finished_at.isoformat() if run.finished_at else "",
                            run.duration_s,
                            run.nominal_time.isoformat() if run.nominal_time else "",
                            run.children_failed,
                            run.children_cancelled,
                            run.error,
                            _json(run.params),
                            _json(run.counts),
                        )  # fmt: skip
                    )
                written += len(page)
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                if cursor is None:
                    break

        # Started here, so that its `finally` (the slot's release) runs however the download ends: a generator
        # never started would not run it if the client went away before the first chunk.
        body = rows()
        first = next(body)
        name = "-".join(["runs", *(v for v in (chosen.job, chosen.status, chosen.trigger) if v)]) + ".csv"
        response = StreamingResponse(
            itertools.chain([first], body),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
        return console.finish(request, response, visitor)

    return routes


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str) if value else ""
