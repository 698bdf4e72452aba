"""Bearer tokens (runtime/api/auth.py, and Access in app.py) against a real `api` process: every /api/v1 route
refuses a request without a good token, and says why without echoing it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.support.api import TEST_API_SECRET, token
from tests.support.helpers import query
from wrls_actors.runtime.api.auth import mint

# HS512 with the service's secret is one of the refused tokens: PyJWT's warning about its key length is noise.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

ANOTHER_SECRET = "another-secret-of-the-right-length-0123456789"


def _claims(**extra) -> dict:
    now = int(time.time())
    return {"sub": "tests", "iat": now, "exp": now + 300, **extra}


BAD_TOKENS = {
    "bad signature": lambda good: f"Bearer {mint(ANOTHER_SECRET, 'tests')}",
    "expired": lambda good: f"Bearer {mint(TEST_API_SECRET, 'tests', lifetime_s=-120)}",
    "not valid yet": lambda good: f"Bearer {jwt.encode(_claims(nbf=int(time.time()) + 3600), TEST_API_SECRET)}",
    "alg none": lambda good: f"Bearer {jwt.encode(_claims(), None, algorithm='none')}",
    "alg HS512 with the right secret": lambda good: (
        f"Bearer {jwt.encode(_claims(), TEST_API_SECRET, algorithm='HS512')}"
    ),
    "signature cut off": lambda good: f"Bearer {good.rsplit('.', 1)[0]}.",
    "not a JWT": lambda good: "Bearer not-a-jwt-at-all",
    "no scheme": lambda good: good,
    "another scheme": lambda good: f"Basic {good}",
    "scheme alone": lambda good: "Bearer",
}


def bad_tokens() -> dict[str, str]:
    """Authorization header values that must all be refused, by what is wrong with them."""
    good = token()
    return {name: make(good) for name, make in BAD_TOKENS.items()}


REFUSALS = [None, *BAD_TOKENS]  # None: no Authorization header at all


def the_routes(api) -> list[tuple[str, str]]:
    """(method, path) of every /api/v1 route in the live OpenAPI document, path parameters filled in."""
    document = httpx.get(f"{api.base}/api/v1/openapi.json").json()
    routes = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/v1/")  # the document has /healthz and /readyz too: open, below
    ]
    assert {p for _, p in routes} >= {
        "/api/v1/jobs/{job}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/jobs",
        "/api/v1/schedules",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/schedules/{name}/pause",
        "/api/v1/schedules/{name}/resume",
        "/api/v1/schedules/{name}/backfill",
    }
    return routes


def fill(path: str, run_id: str) -> str:
    return path.replace("{job}", "pipeline").replace("{run_id}", run_id).replace("{name}", "pipeline")


def call(api, method: str, path: str, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    # A body each POST route takes: a refusal must come from the token, not the body.
    body = {"json": {"reason": "checking tokens"}} if method == "POST" else {}
    if path.endswith("/backfill"):
        until = datetime.now(UTC) - timedelta(minutes=1)
        body["json"] |= {"since": (until - timedelta(minutes=5)).isoformat(), "until": until.isoformat()}
    return httpx.request(method, f"{api.base}{path}", headers=headers, timeout=30, **body)


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r or "missing")
def test_every_api_v1_route_refuses_a_request_without_a_good_token_with_401_and_never_echoes_it(api, service, refusal):
    run_id = service.trigger("long-step", {"seconds": 30})
    authorization = None if refusal is None else bad_tokens()[refusal]
    routes = the_routes(api)

    for method, path in routes:
        answer = call(api, method, fill(path, run_id), authorization)

        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["error"] == "unauthorized" and answer.json()["message"]
        if authorization is not None:
            given = authorization.removeprefix("Bearer").removeprefix("Basic").strip()
            assert not given or given not in answer.text
            assert not given or given not in api.process.output()

    # Nothing any of them asked for was done.
    assert [tuple(r) for r in query(service, "SELECT run_id::text, status FROM jobs.runs")] == [(run_id, "running")]
    assert query(service, "SELECT * FROM jobs.schedule_pauses") == []


def test_the_messages_say_what_is_wrong_with_the_token(api):
    tokens = bad_tokens()
    expected = {
        None: "missing bearer token",
        "bad signature": "signature does not match",
        "expired": "expired",
        "not valid yet": "not valid yet",
        "alg none": "must be signed with HS256",
        "alg HS512 with the right secret": "must be signed with HS256",
        "not a JWT": "not a valid JWT",
        "another scheme": "must be `Bearer <JWT>`",
        "scheme alone": "must be `Bearer <JWT>`",
    }
    for refusal, says in expected.items():
        answer = call(api, "GET", "/api/v1/jobs", None if refusal is None else tokens[refusal])
        assert answer.status_code == 401
        assert says in answer.json()["message"], refusal


def test_a_good_token_passes_on_every_route_and_its_subject_is_who_acted(api, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    good = f"Bearer {mint(TEST_API_SECRET, 'ops@example.gov.uk')}"
    # A token within the leeway for clocks that differ a little is still good.
    just_expired = f"Bearer {mint(TEST_API_SECRET, 'tests', lifetime_s=-5)}"
    without_exp = f"Bearer {jwt.encode({'sub': 'legacy caller'}, TEST_API_SECRET, algorithm='HS256')}"

    for authorization in (good, just_expired, without_exp):
        for method, path in the_routes(api):
            if path.endswith(("/cancel", "/pause", "/resume")):
                continue  # acting: below, once
            answer = call(api, method, fill(path, run_id), authorization)
            assert answer.status_code not in (401, 403), (method, path, answer.text)

    cancelled = call(api, "POST", f"/api/v1/runs/{run_id}/cancel", good)
    assert cancelled.status_code == 200
    [event] = query(service, "SELECT operator FROM jobs.events WHERE kind = 'run-cancelled'")
    assert event.operator == "ops@example.gov.uk"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt-at-all"])
def test_healthz_and_readyz_need_no_token(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/healthz", "/readyz"):
        answer = httpx.get(f"{api.base}{path}", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "ok"
