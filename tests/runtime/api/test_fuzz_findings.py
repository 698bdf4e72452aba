"""Inputs the OpenAPI fuzz (test_openapi_fuzz.py) found answered wrongly, each checked plainly."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from wrls_actors.runtime.api.reads import encode_cursor


def test_a_bare_number_is_not_a_date_and_time(api):
    # Pydantic read `until=0.5` as Unix seconds and answered 200; the document says date-time.
    with api.client() as client:
        for name in ("since", "until"):
            for value in ("0.5", "1700000000", "-1e9"):
                response = client.get("/api/v1/runs", params={name: value})
                assert response.status_code == 422, (name, value, response.text)
                assert [f["field"] for f in response.json()["fields"]] == [f"query.{name}"]
        assert client.get("/api/v1/runs", params={"until": "2026-01-31T08:00:00Z"}).status_code == 200


def test_a_body_that_is_not_utf8_is_bad_json(api):
    # FastAPI answered 400 "There was an error parsing the body", a status the document does not give.
    with api.client() as client:
        response = client.post("/api/v1/jobs/noop/runs", content=b"\xff", headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert [f["field"] for f in response.json()["fields"]] == ["body"]


def test_a_moment_out_of_range_in_utc_is_refused_by_name(api):
    # 0001-01-01T00:00:00+01:00 is year 0 in UTC: converting it raised OverflowError, a 500.
    with api.client() as client:
        for name, value in (("since", "0001-01-01T00:00:00+01:00"), ("until", "9999-12-31T23:59:59-01:00")):
            response = client.get("/api/v1/runs", params={name: value})
            assert response.status_code == 422, (name, response.text)
            assert [f["field"] for f in response.json()["fields"]] == [f"query.{name}"]
        assert client.get("/api/v1/runs", params={"since": "0001-01-01T00:00:00Z"}).status_code == 200


def test_a_chunked_body_over_the_limit_is_413_on_v1(api):
    # No Content-Length: the guard counts the body as it arrives. FastAPI, reading /api/v1's JSON body itself,
    # turned the guard's refusal into a 400 "There was an error parsing the body".
    def chunks():
        for _ in range(3):
            yield b"x" * (700 * 1024)

    with api.client() as client:
        response = client.post("/api/v1/jobs/noop/runs", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "too-large"


def _spellings(run_id: str) -> list[str]:
    return [
        run_id.upper(),
        run_id.replace("-", ""),
        f"urn:uuid:{run_id}",
        f"{{{{{run_id}}}}}",
        run_id.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    ]


def test_a_run_id_spelled_otherwise_reads_the_same_run(api):
    # Python's UUID() takes these; PostgreSQL refused urn:uuid:…, doubled braces and non-ASCII digits (a 500).
    with api.client() as client:
        run_id = client.post("/api/v1/jobs/noop/runs", json={}).json()["run_id"]
        for spelling in _spellings(run_id):
            response = client.get(f"/api/v1/runs/{spelling}")
            assert response.status_code == 200, (spelling, response.text)
            assert (response.json()["run_id"], response.json()["job"]) == (run_id, "noop"), spelling


def test_a_cursor_with_the_run_id_spelled_otherwise_is_read(api):
    with api.client() as client:
        run_id = client.post("/api/v1/jobs/noop/runs", json={}).json()["run_id"]
        started = client.get(f"/api/v1/runs/{run_id}").json()["started_at"]
        for spelling in _spellings(run_id):
            cursor = encode_cursor(datetime.fromisoformat(started), spelling)
            response = client.get("/api/v1/runs", params={"cursor": cursor})
            assert response.status_code == 200, (spelling, response.text)
            assert response.json()["runs"] == [], spelling


def test_a_cursor_at_any_offset_is_read_in_utc(api):
    # PostgreSQL refused the offset +23:59, which Python takes (a 500); a moment before year 1 in UTC is no cursor
    # this service gave out.
    def cursor(moment: str) -> str:
        return base64.urlsafe_b64encode(f"{moment}|{uuid.uuid4()}".encode()).decode().rstrip("=")

    with api.client() as client:
        for moment in ("1969-12-31T23:59:59.999999+23:59", "2026-01-01T00:00:00-23:59"):
            response = client.get("/api/v1/runs", params={"cursor": cursor(moment)})
            assert response.status_code == 200, (moment, response.text)
        response = client.get("/api/v1/runs", params={"cursor": cursor("0001-01-01T00:00:00+01:00")})
        assert response.status_code == 422, response.text
        assert [f["field"] for f in response.json()["fields"]] == ["query.cursor"]
