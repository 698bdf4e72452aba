"""The Charging Module API, with its errors sorted into "retry" and "retrying cannot help".

Bearer tokens come from an OAuth2 client-credentials endpoint (Cognito in the
legacy, ``src/lib/connectors/charge-module/``). A token is cached per process
until shortly before it expires; a 401 from the API drops it and the request
is tried once more with a fresh one. A 5xx, a time-out or no answer raises
``ChargingModuleUnavailable``, which the step's retries cover; any other
refusal is a ``PermanentError`` carrying the Charging Module's own message.
The client secret is sent only in the token request's Basic header and never
appears in a message or a log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from ..config import Config
from ..runtime import PermanentError
from .errors import ServiceUnavailable

# A token is renewed this long before the expiry its endpoint announced, so it
# does not run out between the check and the API's answer.
EXPIRY_MARGIN_S = 60


class ChargingModuleUnavailable(ServiceUnavailable):
    """The Charging Module (or its token endpoint) did not answer usefully this time: worth retrying."""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()


class ChargingModule:
    def __init__(self, config: Config) -> None:
        url, token_url = config.charging_module_url, config.charging_module_token_url
        client_id, secret = config.charging_module_client_id, config.charging_module_client_secret
        if not (url and token_url and client_id and secret):
            missing = [
                name
                for name, value in (
                    ("WRLS_CHARGING_MODULE_URL", url),
                    ("WRLS_CHARGING_MODULE_TOKEN_URL", token_url),
                    ("WRLS_CHARGING_MODULE_CLIENT_ID", client_id),
                    ("WRLS_CHARGING_MODULE_CLIENT_SECRET", secret),
                )
                if not value
            ]
            raise PermanentError(f"{', '.join(missing)} not set: the Charging Module cannot be called")
        self._url, self._token_url, self._client_id, self._secret = url, token_url, client_id, secret
        self._timeout = config.charging_module_timeout_s
        self._session = requests.Session()

    def get(self, path: str) -> Any:
        """GET ``<url>/<path>``: the decoded JSON answer."""
        response = self._send("GET", path)
        _check(response, f"GET {path}")
        try:
            return response.json()
        except ValueError:
            raise ChargingModuleUnavailable(
                f"Charging Module GET {path} answered {response.status_code} with a body that is not JSON"
            ) from None

    def delete(self, path: str) -> bool:
        """DELETE ``<url>/<path>``: True if deleted, False if the Charging Module does not have it (404).

        A 404 is not an error: a retried delete whose first answer was lost
        finds the thing gone.
        """
        response = self._send("DELETE", path)
        if response.status_code == 404:
            return False
        _check(response, f"DELETE {path}")
        return True

    def _send(self, method: str, path: str) -> requests.Response:
        url = f"{self._url}/{path.lstrip('/')}"
        response = self._request(method, url, self._token())
        if response.status_code == 401:
            # The token was revoked or expired early: one more try with a new one.
            self._forget_token()
            response = self._request(method, url, self._token())
        return response

    # -- tokens -----------------------------------------------------------------

    def _key(self) -> tuple[str, str]:
        return self._token_url, self._client_id

    def _token(self) -> str:
        with _tokens_lock:
            cached = _tokens.get(self._key())
            if cached is not None and cached.expires_at > time.monotonic():
                return cached.value
        token = self._fetch_token()
        with _tokens_lock:
            _tokens[self._key()] = token
        return token.value

    def _forget_token(self) -> None:
        with _tokens_lock:
            _tokens.pop(self._key(), None)

    def _fetch_token(self) -> _Token:
        response = self._request(
            "POST",
            self._token_url,
            None,
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._secret),
        )
        if response.status_code in (400, 401):
            # OAuth2's invalid_client / unauthorized_client: the credentials, not the moment.
            raise PermanentError(
                f"Charging Module token endpoint refused client {self._client_id!r}: "
                f"{response.status_code} {_excerpt(response)}"
            )
        _check(response, "token request")
        try:
            body = response.json()
            value = body["access_token"]
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise ChargingModuleUnavailable("Charging Module token endpoint answered without an access_token") from None
        return _Token(value, time.monotonic() + max(lifetime - EXPIRY_MARGIN_S, 0))

    # -- HTTP -------------------------------------------------------------------

    def _request(self, method: str, url: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)
        except requests.Timeout:
            raise ChargingModuleUnavailable(
                f"Charging Module {method} {url}: no answer within {self._timeout:g} s"
            ) from None
        except requests.ConnectionError as e:
            raise ChargingModuleUnavailable(
                f"Charging Module {method} {url}: cannot connect ({str(e)[:300]})"
            ) from None


def _excerpt(response: requests.Response) -> str:
    return response.text[:300].strip()


def _check(response: requests.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"Charging Module {what} answered {status}: {_excerpt(response)}"
    if status >= 500 or status == 429:
        raise ChargingModuleUnavailable(message)
    raise PermanentError(message)
