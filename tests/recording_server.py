"""A request-recording HTTP server on 127.0.0.1, for proving where a publish tool sends a token.


It is a stand-in for an upload endpoint, built only from what the tools need of one
(REFERENCE.md, "Where a publish tool really sends the token"): every request is recorded
(method, path, the credentials of its Authorization header) and answered 200, so twine's
and uv's legacy-API uploads (POST) and npm's publish (PUT) succeed; GETs (uv's --check-url) are answered with an empty
PEP 691 JSON page. A test then asserts which credentials each server received.

Usable as a fixture (`recording_servers`) or on its own (`python -m tests.recording_server`).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Request:
    method: str
    path: str
    credentials: str  # "user:password" of Basic auth, "Bearer X", or "" without Authorization


@dataclass
class RecordingServer:
    httpd: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def upload_url(self, path: str = "legacy/") -> str:
        return self.url + path

    def secrets(self) -> list[str]:
        """Every credential this server received (passwords of Basic auth, bearer values)."""
        return [r.credentials for r in self.requests if r.credentials]

    def received(self, value: str) -> bool:
        return any(value in c for c in self.secrets())

    def uploads(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT")]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            auth = self.headers.get("Authorization", "")
            credentials = ""
            if auth.startswith("Basic "):
                try:
                    credentials = base64.b64decode(auth[6:]).decode("utf-8", "replace")
                except ValueError:
                    credentials = auth
            elif auth:
                credentials = auth
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            server.requests.append(Request(self.command, self.path, credentials))

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self._record()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def do_PUT(self) -> None:  # noqa: N802 - npm publish
            self._record()
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": "x", "files": [], "versions": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler


def start() -> RecordingServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = RecordingServer(httpd)
    httpd.RequestHandlerClass = _handler(server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def recording_servers():
    """A factory of recording servers, all stopped at the end of the test."""
    started: list[RecordingServer] = []

    def make() -> RecordingServer:
        server = start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


if __name__ == "__main__":  # a manual probe: print what arrives
    import time

    probe = start()
    print(probe.url, flush=True)
    seen = 0
    while True:
        time.sleep(0.5)
        for request in probe.requests[seen:]:
            print(request, flush=True)
        seen = len(probe.requests)
