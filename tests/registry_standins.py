"""Stand-ins for the registries that cannot run here: GitHub (Enterprise paths), GitLab,
crates.io and Docker Hub; and a hostile npm registry (verdaccio is the honest one) whose token
list a test can write.

Built only from the documented facts in /work/shared/REFERENCE.md "Registry APIs" (paths,
status codes, headers, JSON fields) and nothing else:
- GitHub: `GET /user` (Bearer) -> 200 {"login"} with `GitHub-Authentication-Token-Expiration`
  (`2026-03-01 12:00:00 UTC`) when the token expires and `X-OAuth-Scopes` for classic tokens;
  401 for invalid/expired/revoked; rate limits as 403/429 with `X-RateLimit-Remaining: 0`,
  `X-RateLimit-Reset` or `Retry-After`. `POST /credentials/revoke {"credentials": [...]}` -> 202.
  Served under `/api/v3` (a GitHub Enterprise Server base, as `--repository http://HOST/` gives).
- GitLab: `GET /api/v4/personal_access_tokens/self` (PRIVATE-TOKEN) -> the token object
  ({"id", "name", "revoked", "created_at", "scopes", "user_id", "last_used_at", "active",
  "expires_at": "YYYY-MM-DD"}); 401 when invalid/expired/revoked; `DELETE` same path -> 204.
- crates.io: `DELETE /api/v1/tokens/current` (Authorization: T) -> 204. (Its answer for an
  unknown token is not documented: this stand-in answers 403.)
- Docker Hub: `POST /v2/auth/token {"identifier", "secret"}` -> 200 {"access_token"}, 401 when not.
- npm: `GET /-/whoami` (Bearer) -> 200 {"username"}, 401 invalid; `GET /-/npm/v1/tokens` ->
  {"objects": [{"token": first and last 5 characters, "key", "readonly", "cidr", "created"}],
  "urls": {"next": ""}} (or `npm_list`, what a test wants the registry to answer);
  `DELETE /-/npm/v1/tokens/token/{key}` -> `delete_status` (200, as documented; an unknown key
  is not documented: like verdaccio, 200 too).

Faults any test can switch on (`server.fault = ...`): "5xx" (503), "ratelimit" (one 429 with
`Retry-After: 1`, then normal), "github-ratelimit" (one 403 with `X-RateLimit-Remaining: 0`
and a reset one second ahead), "ratelimit-long" (429, `Retry-After: 3600`), "malformed"
(200 with a body that is not JSON), "wrong-types" (200 with JSON of the wrong types and
control characters), "huge" (a 2 MiB body), "redirect" (302 to the same path on another host
name, `localhost`), "slow" (answers after `slow_seconds`), "trickle" (200 headers, then a
30-byte body one byte per `trickle_seconds`), "trickle-headers" (the status line and headers one
byte per `trickle_seconds`), "5xx-long" (503 with `Retry-After: 86400`). `delay` adds latency to
every answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    host: str
    credential: str  # the credential header's value, to prove where values went


@dataclass
class StandIn:
    kind: str
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    fault: str | None = None
    delay: float = 0.0
    slow_seconds: float = 3.0
    trickle_seconds: float = 0.2
    npm_list: list | None = None
    delete_status: int = 200
    seen: list[Seen] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "StandIn":
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        self.tokens.clear()
        self.revoked.clear()
        self.seen.clear()
        self.fault = None
        self.delay = 0.0
        self.npm_list = None
        self.delete_status = 200


class _Handler(BaseHTTPRequestHandler):
    owner: StandIn
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one segment: no delayed-ACK stall per request

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _handle(self, method: str) -> None:
        s = self.owner
        credential = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN") or ""
        body = self._body() if method == "POST" else None
        if isinstance(body, dict) and isinstance(body.get("secret"), str):
            credential = body["secret"]
        s.seen.append(Seen(method, self.path, self.headers.get("Host", ""), credential))
        if s.delay:
            time.sleep(s.delay)
        fault = s.fault
        if fault == "5xx":
            return self._reply(503, {"message": "Service Unavailable"})
        if fault == "5xx-long":
            return self._reply(503, {"message": "Service Unavailable"}, {"Retry-After": "86400"})
        if fault in ("trickle", "trickle-headers"):
            return self._trickle(fault == "trickle-headers")
        if fault in ("ratelimit", "github-ratelimit"):
            s.fault = None  # once
            if fault == "ratelimit":
                return self._reply(429, {"message": "slow down"}, {"Retry-After": "1"})
            reset = str(int(time.time()) + 1)
            return self._reply(403, {"message": "API rate limit exceeded"}, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        if fault == "ratelimit-long":
            return self._reply(429, {"message": "slow down"}, {"Retry-After": "3600"})
        if fault == "malformed":
            return self._reply(200, raw=b"<html>Sign in</html>")
        if fault == "huge":
            return self._reply(200, raw=b"[" + b"0," * (1024 * 1024) + b"0]")
        if fault == "redirect" and not self.headers.get("Host", "").startswith("localhost"):
            return self._reply(302, headers={"Location": f"http://localhost:{s.port}{self.path}"})
        if fault == "slow":
            time.sleep(s.slow_seconds)
        getattr(self, f"_{s.kind}")(method, credential, body)

    def _trickle(self, headers_too: bool) -> None:
        body = b'{"login": "octo", "pad": "xx"}'
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        try:
            if not headers_too:
                self.wfile.write(head)
                self.wfile.flush()
            for byte in (head if headers_too else b"") + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(self.owner.trickle_seconds)
        except OSError:
            pass  # the client gave up: what the deadline is for
        self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- GitHub (GHES base /api/v3) ---------------------------------------------------
    def _github(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        if method == "POST" and self.path == "/api/v3/credentials/revoke":
            for value in (body or {}).get("credentials", []):
                s.revoked.add(value)
            return self._reply(202, {})
        if method == "GET" and self.path == "/api/v3/user":
            value = credential.removeprefix("Bearer ")
            info = s.tokens.get(value)
            if info is None or value in s.revoked:
                return self._reply(401, {"message": "Bad credentials"})
            if s.fault == "wrong-types":
                return self._reply(200, {"login": ["not", "a", "string"]})
            headers = {}
            if info.get("expires"):
                headers["GitHub-Authentication-Token-Expiration"] = info["expires"]
            if info.get("scopes") is not None:
                headers["X-OAuth-Scopes"] = info["scopes"]
            return self._reply(200, {"login": info["login"]}, headers)
        return self._reply(404, {"message": "Not Found"})

    # -- GitLab ----------------------------------------------------------------------
    def _gitlab(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        if self.path != "/api/v4/personal_access_tokens/self":
            return self._reply(404, {"message": "404 Not Found"})
        info = s.tokens.get(credential)
        if info is None or credential in s.revoked:
            return self._reply(401, {"message": "401 Unauthorized"})
        if method == "DELETE":
            s.revoked.add(credential)
            return self._reply(204)
        if s.fault == "wrong-types":
            return self._reply(200, {"revoked": "no", "active": 1, "scopes": "api", "user_id": "\x1b[31mroot"})
        token = {
            "id": 1,
            "name": info.get("name", "release"),
            "revoked": False,
            "created_at": "2026-01-01T00:00:00.000Z",
            "scopes": info.get("scopes", ["api"]),
            "user_id": info.get("user_id", 7),
            "last_used_at": info.get("last_used_at"),
            "active": info.get("active", True),
            "expires_at": info.get("expires_at"),
        }
        return self._reply(200, token)

    # -- crates.io -------------------------------------------------------------------
    def _crates(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        if method == "DELETE" and self.path == "/api/v1/tokens/current":
            if credential not in s.tokens or credential in s.revoked:
                return self._reply(403, {"errors": [{"detail": "authentication failed"}]})
            s.revoked.add(credential)
            return self._reply(204)
        return self._reply(404, {"errors": [{"detail": "Not Found"}]})

    # -- Docker Hub ------------------------------------------------------------------
    def _dockerhub(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        if method == "POST" and self.path == "/v2/auth/token":
            ok = isinstance(body, dict) and s.tokens.get(body.get("secret"), {}).get("user") == body.get("identifier")
            if not ok or body.get("secret") in s.revoked:
                return self._reply(401, {"message": "invalid credentials"})
            if s.fault == "wrong-types":
                return self._reply(200, {"access_token": 12})
            return self._reply(200, {"access_token": "eyJstandin"})
        return self._reply(404, {"message": "not found"})


    # -- npm (hostile: what a test puts in npm_list) -----------------------------------
    def _npm(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        value = credential.removeprefix("Bearer ")
        info = s.tokens.get(value)
        if info is None or value in s.revoked:
            return self._reply(401, {"error": "unauthorized"})
        if method == "GET" and self.path == "/-/whoami":
            return self._reply(200, {"username": info["user"]})
        if method == "GET" and self.path == "/-/npm/v1/tokens":
            objects = s.npm_list
            if objects is None:
                objects = [
                    {"token": f"{v[:5]}...{v[-5:]}", "key": i["key"], "readonly": False, "cidr": [],
                     "created": "2026-01-01T00:00:00.000Z"}
                    for v, i in s.tokens.items() if i.get("user") == info["user"] and v not in s.revoked
                ]  # fmt: skip
            return self._reply(200, {"objects": objects, "urls": {"next": ""}})
        prefix = "/-/npm/v1/tokens/token/"
        if method == "DELETE" and self.path.startswith("/-/npm/v1/tokens"):
            from urllib.parse import unquote

            key = unquote(self.path[len(prefix):]) if self.path.startswith(prefix) else None
            for v, i in s.tokens.items():
                if key is not None and i.get("key") == key and i.get("user") == info["user"]:
                    s.revoked.add(v)
            return self._reply(s.delete_status, {})
        return self._reply(404, {"error": "not found"})


def start_all() -> dict[str, StandIn]:
    return {kind: StandIn(kind).start() for kind in ("github", "gitlab", "crates", "dockerhub")}
