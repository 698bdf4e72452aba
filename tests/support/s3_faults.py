"""A real network fault in front of the tests' S3 server: an HTTP proxy that answers 500 to the requests a
test picks (an upload's part, say) and hands every other request to moto unchanged."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.json_http import start, stop

FAILURE = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>injected by the test</Message></Error>"
)


class FaultyS3:
    """``fails(method, path, query)`` picks the requests to fail; ``failed`` lists those it failed."""

    def __init__(self, target: str, fails: Callable[[str, str, dict], bool]) -> None:
        self.target = urlsplit(target)
        self.fails = fails
        self.failed: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self.server = start(self._handler(), "faulty-s3")
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # boto3 sends Expect: 100-continue with a part's body

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                if proxy.fails(self.command, url.path, query):
                    with proxy.lock:
                        proxy.failed.append((self.command, url.path, query))
                    self._answer(500, {"Content-Type": "application/xml"}, FAILURE)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self._answer(
                        response.status,
                        {
                            k: v
                            for k, v in response.getheaders()
                            if k.lower() not in ("transfer-encoding", "connection", "content-length")
                        },
                        data,
                    )
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, format, *args) -> None:
                pass

        return Handler

    def stop(self) -> None:
        stop(self.server)
