"""The API served by uvicorn: as a process of its own (``api``) or as a thread of the embedded default.

The socket is bound here, before uvicorn starts, so that a port already taken
is a clear error at start rather than a thread that quietly ends.
"""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

from ..errors import ConfigurationError
from ..service import Service
from .app import build_app

logger = logging.getLogger("wrls_actors.api")

LOOPBACK = "127.0.0.1"


def address(service: Service) -> str:
    """Where the API listens; refuses a service with a broker and no token secret."""
    settings = service.settings
    if settings.api_jwt_secret is None:
        if not settings.embedded:
            raise ConfigurationError(
                f"{settings.prefix}_API_JWT_SECRET is not set: the API takes calls only with tokens signed by it "
                "(at least 32 characters, e.g. `openssl rand -hex 32`)"
            )
        return LOOPBACK
    return settings.api_host


def bind(service: Service) -> socket.socket:
    host, port = address(service), service.settings.api_port
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # a response's body, written after its headers, waits for the client's delayed ACK (40 ms a request).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigurationError(
            f"the API cannot listen on {host}:{port} ({e.strerror}); "
            f"set {service.settings.prefix}_API_PORT to a free port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _announce(service: Service, sock: socket.socket) -> None:
    settings = service.settings
    host, port = sock.getsockname()[:2]
    if settings.api_jwt_secret is None:
        logger.warning(
            "EMBEDDED DEFAULT: the API on http://%s:%d takes calls without a token, from this machine only "
            "(set %s_API_JWT_SECRET to require one)",
            host,
            port,
            settings.prefix,
        )
    else:
        logger.info("API on http://%s:%d (bearer tokens; OpenAPI at /api/v1/openapi.json)", host, port)
    if settings.api_open_job_routes and settings.api_jwt_secret is not None:
        logger.warning(
            "%s_API_OPEN_JOB_ROUTES is true: the legacy /jobs/* routes start jobs for anyone who can reach "
            "this port, without a token",
            settings.prefix,
        )


def _server(service: Service) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(service, service.http_routes),
        log_config=None,
        # Refused requests are logged by the guard, without query or body; the rest is noise.
        access_log=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
        # X-Forwarded-For and -Proto are read only from the proxies a setting names: uvicorn's default trusts
        # 127.0.0.1, so anything on this machine could choose its own address (and beat the sign-in limit).
        proxy_headers=bool(service.settings.api_trusted_proxies),
        forwarded_allow_ips=list(service.settings.api_trusted_proxies) or None,
    )
    return uvicorn.Server(config)


def serve(service: Service, stop: threading.Event | None = None, sock: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM (a process of its own) or until ``stop`` is set (a thread)."""
    sock = sock or bind(service)
    _announce(service, sock)
    server = _server(service)
    if stop is None:
        server.run(sockets=[sock])
        return
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api", daemon=True)
    thread.start()
    stop.wait()
    server.should_exit = True
    thread.join(15)
