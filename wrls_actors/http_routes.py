"""The legacy apps' HTTP routes, kept for their callers (shared legacy notes: import.md §7, system.md §0).

Each starts its job as a start message would, and answers as the legacy did:
204 with no body for the system app's /jobs/* (Jenkins), 202 with no body for
the import app's imports, and `{"error":null}` for the bill-runs import. Unlike
the legacy, none deletes queued or running work: a job already running is not
started again, and the answer is 409 (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from .runtime.api import RouteInput, RouteInputError, TriggerRoute

LICENCE_NUMBER_CHARS = 100


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RouteInputError(field, "is required: a licence number, e.g. 03/28/61/0032")
    if len(value) > LICENCE_NUMBER_CHARS:
        raise RouteInputError(field, f"is at most {LICENCE_NUMBER_CHARS} characters")
    return value.strip()


def _whole(value: str | None, field: str, low: int, high: int | None = None) -> int:
    if value is None or not value.strip():
        raise RouteInputError(field, "is required")
    try:
        number = int(value)
    except ValueError:
        raise RouteInputError(field, "must be a whole number") from None
    if number < low or (high is not None and number > high):
        raise RouteInputError(field, f"must be from {low}" + (f" to {high}" if high is not None else " up"))
    return number


def licence_in_query(given: RouteInput) -> dict[str, Any]:
    return {"licence": _text(given.query.get("licenceNumber"), "query.licenceNumber")}


def licence_in_body(given: RouteInput) -> dict[str, Any]:
    body = given.body if isinstance(given.body, dict) else {}
    return {"licence": _text(body.get("licenceNumber"), "body.licenceNumber")}


def company_in_query(given: RouteInput) -> dict[str, Any]:
    # The legacy's own limits (Joi): region 1 to 8, party id 0 or more.
    region = _whole(given.query.get("regionCode"), "query.regionCode", 1, 8)
    party = _whole(given.query.get("partyId"), "query.partyId", 0)
    return {"party": f"{region}:{party}"}


def _system(method: str, path: str, job: str) -> TriggerRoute:
    # The system app's routes had no authentication: WRLS_API_OPEN_JOB_ROUTES may keep them open.
    return TriggerRoute(method, path, job, status=204, openable=True)


ROUTES: tuple[TriggerRoute, ...] = (
    _system("POST", "/jobs/time-limited", "time-limited"),
    _system("POST", "/jobs/licence-updates", "licence-updates"),
    _system("POST", "/jobs/clean", "clean"),
    # Folded into clean in 2025-06; its callers start the whole clean.
    _system("POST", "/jobs/session-cleanup", "clean"),
    _system("POST", "/jobs/export", "export"),
    # GET until 2024-04, when the legacy made it POST; both are kept.
    _system("GET", "/jobs/export", "export"),
    # The legacy re-imported even an unchanged extract (checkEtag false). Here the guards stay on and an
    # unchanged extract is not imported again; POST /api/v1/jobs/nald-import/runs {"params":{"force":true}} forces.
    TriggerRoute("POST", "/import/1.0/nald/licences", "nald-import"),
    TriggerRoute("POST", "/import/1.0/nald/licence", "nald-import-licence", params=licence_in_body),
    TriggerRoute("POST", "/import/licences", "licence-import"),
    TriggerRoute("POST", "/import/licence", "licence-import-licence", params=licence_in_query),
    TriggerRoute("POST", "/import/company", "licence-import-company", params=company_in_query),
    TriggerRoute("POST", "/import/charging-data", "charging-import-data", status=204),
    TriggerRoute("POST", "/import/charge-versions", "charging-import-versions", status=204),
    # hapi answered the handler's object as JSON, with status 200.
    TriggerRoute(
        "POST",
        "/import/1.0/bill-runs",
        "bill-runs-import",
        status=200,
        body=b'{"error":null}',
        content_type="application/json; charset=utf-8",
    ),
)
