"""What the fakes of external services (GOV.UK Notify, the Charging Module) share: a JSON HTTP server on
127.0.0.1 that serves from a thread of its own."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops connections when many clients connect at once (bench/notifications.py:
    # the legacy's 100 sends of a tick), and a dropped SYN costs the client a 1 s retransmission.
    request_queue_size = 256


class JsonHandler(BaseHTTPRequestHandler):
    def reply(self, status: int, payload: Any) -> None:
        if status == 204:  # No Content: HTTP allows no body at all
            self.send_response(status)
            self.end_headers()
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fakes record what they saw; the tests read that


def start(handler: type[BaseHTTPRequestHandler], name: str) -> Server:
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def stop(server: Server) -> None:
    server.shutdown()
    server.server_close()
