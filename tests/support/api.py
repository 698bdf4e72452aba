"""A real `wrls-actors api` process for the tests, and a client that signs its own tokens."""

from __future__ import annotations

import dataclasses

import httpx

from wrls_actors.runtime.api.auth import mint

from . import services as svc
from .helpers import free_port
from .processes import Process

# At least 32 characters, as the service requires; for the tests' own processes only.
TEST_API_SECRET = "test-api-secret-0123456789abcdef-0123456789"


def token(secret: str = TEST_API_SECRET, lifetime_s: int = 300) -> str:
    return mint(secret, "tests", lifetime_s)


@dataclasses.dataclass
class Api:
    process: Process
    base: str

    def client(self, *, authenticated: bool = True, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token()}"} if authenticated else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30, **kwargs)


def api_env(extra: dict | None = None) -> tuple[dict, int]:
    port = free_port()
    return {"WRLS_API_PORT": str(port), "WRLS_API_JWT_SECRET": TEST_API_SECRET, **(extra or {})}, port


def start_api(processes, app: str | None = None, extra_env: dict | None = None) -> Api:
    """Start `api` with ``processes`` (the conftest fixture) and wait until it answers /healthz."""
    env, port = api_env(extra_env)
    kwargs = {"app": app} if app else {}
    process = processes("api", extra_env=env, **kwargs)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if not process.alive():
            raise AssertionError(f"the api process exited:\n{process.output()[-3000:]}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    svc.wait_for(answers, 40, interval_s=0.2, what="the API to answer /healthz")
    return Api(process, base)
