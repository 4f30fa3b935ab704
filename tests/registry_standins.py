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
  `POST /api/v4/personal_access_tokens/self/rotate` (optional `expires_at`, YYYY-MM-DD; default
  about a week: 7 days here) -> 200 with the new token object incl. `"token"`; the old token is
  revoked at once; needs scope `api` or `self_rotate` (403 otherwise). Rotating an already rotated
  (revoked) token revokes its whole family (its answer is not documented: 401 here, as for any
  revoked token). `rotations` records each rotation's `expires_at` as received. Faults of the
  rotation alone: "rotate-5xx" (503, nothing rotated), "rotate-wrong-types" (rotates, then answers
  JSON of the wrong types).
- GitHub Actions secrets (same stand-in, `ci` state): `GET /repos/{owner}/{repo}/actions/secrets/public-key`
  -> {"key_id", "key"} (base64 of a 32-byte X25519 public key: a real PyNaCl key pair, so each
  sealed box is opened and the exact value is known); `PUT .../actions/secrets/{NAME}`
  {"encrypted_value", "key_id"} -> 201 created / 204 updated; `GET .../actions/secrets/{NAME}`
  -> {"name", "created_at", "updated_at"} (never the value). Environment secrets the same under
  `/repos/{owner}/{repo}/environments/{ENV}/`. Not documented, chosen here as GitHub's usual
  answers: 404 for an unknown repository/environment, 403 for an auth token without access to
  it, 422 for a `key_id` that is not the current one or a box that does not open.
- GitLab CI variables (same stand-in, `ci` state): `GET /projects/{id}/variables/{KEY}`; `PUT` same
  path (`value`, `masked`, `protected`, `environment_scope`, `filter[environment_scope]`) -> 200;
  `POST /projects/{id}/variables` -> 201; `{id}` numeric or the URL-encoded path; `raw` (create
  and update; default false: GitLab expands `$NAME` in the value; an update without it keeps the
  variable's; docs.gitlab.com/api/project_level_variables). A masked value
  must be one line of at least 8 characters (else 400 here). Not documented, chosen here: `GET
  /projects/{id}` -> {"id", "path_with_namespace"}; 401 unknown auth token, 403 no access to the
  project, 404 unknown project or variable, 400 for a POST of a variable that exists.
- crates.io: `DELETE /api/v1/tokens/current` (Authorization: T) -> 204. (Its answer for an
  unknown token is not documented: this stand-in answers 403.)
- Docker Hub: `POST /v2/auth/token {"identifier", "secret"}` -> 200 {"access_token"}, 401 when not.
- npm: `GET /-/whoami` (Bearer) -> 200 {"username"}, 401 invalid; `GET /-/npm/v1/tokens` ->
  {"objects": [{"token": first and last 5 characters, "key", "readonly", "cidr", "created"}],
  "urls": {"next": ""}} (or `npm_list`, what a test wants the registry to answer);
  `DELETE /-/npm/v1/tokens/token/{key}` -> `delete_status` (200, as documented; an unknown key
  is not documented: like verdaccio, 200 too). `POST /-/npm/v1/tokens {"password", "readonly",
  "cidr_whitelist"}` (header `npm-otp: CODE` with 2FA) -> {"token", "key", "readonly", "cidr",
  "created"} when `password` is `npm_password` and, with `npm_otp` set, the header carries it.
  How a registry asks for the OTP is not in REFERENCE.md: chosen here as the npm CLI recognises it
  (npm-registry-fetch): 401 with `WWW-Authenticate: OTP`. A wrong password: 401 without it.

Faults any test can switch on (`server.fault = ...`): "5xx" (503), "ratelimit" (one 429 with
`Retry-After: 1`, then normal), "github-ratelimit" (one 403 with `X-RateLimit-Remaining: 0`
and a reset one second ahead), "ratelimit-long" (429, `Retry-After: 3600`), "malformed"
(200 with a body that is not JSON), "wrong-types" (200 with JSON of the wrong types and
control characters), "huge" (a 2 MiB body), "redirect" (302 to the same path on another host
name, `localhost`), "slow" (answers after `slow_seconds`), "trickle" (200 headers, then a
30-byte body one byte per `trickle_seconds`), "trickle-headers" (the status line and headers one
byte per `trickle_seconds`), "5xx-long" (503 with `Retry-After: 86400`). `delay` adds latency to
every answer; `hold` (an Event) keeps the next request waiting until the test sets it
(`holding` says one is waiting).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import local_http


@dataclass
class Seen:
    method: str
    path: str
    host: str
    credential: str  # the credential header's value, to prove where values went
    raw: bytes = b""  # the request line, headers and body as received (what crossed the wire)


@dataclass
class CiState:
    """What the CI stand-ins hold: GitHub repositories (with environments), their key pairs
    and secrets (decrypted); GitLab projects and their variables; which auth token may
    write where (`grants`: auth token -> repositories / project paths)."""

    repos: dict[str, set[str]] = field(default_factory=dict)  # "owner/name" -> environments
    keys: dict[tuple, tuple[str, Any]] = field(default_factory=dict)  # (repo, env) -> (key_id, PrivateKey)
    secrets: dict[tuple, dict[str, str]] = field(default_factory=dict)  # (repo, env, NAME) -> {"value", ...}
    projects: dict[str, int] = field(default_factory=dict)  # "group/name" -> id
    variables: dict[tuple, dict[str, Any]] = field(default_factory=dict)  # (project id, KEY, scope) -> variable
    grants: dict[str, set[str]] = field(default_factory=dict)
    replace_key_after_read: bool = False  # GitHub replaces the key between a client's GET and PUT (once)
    # A repository has one key pair: concurrent first reads (pushes run in parallel) must
    # not each make their own, or boxes sealed to the first one no longer open.
    _key_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_repo(self, repo: str, *environments: str) -> None:
        self.repos.setdefault(repo, set()).update(environments)

    def add_project(self, path: str) -> int:
        return self.projects.setdefault(path, 100 + len(self.projects))

    def key(self, repo: str, env: str = "") -> tuple[str, Any]:
        from nacl.public import PrivateKey

        with self._key_lock:
            if (repo, env) not in self.keys:
                self.keys[(repo, env)] = (str(568250167242549743 + len(self.keys)), PrivateKey.generate())
            return self.keys[(repo, env)]

    def replace_key(self, repo: str, env: str = "") -> None:
        """GitHub replaced the public key: boxes sealed to the old one are refused."""
        from nacl.public import PrivateKey

        with self._key_lock:
            old = self.keys.pop((repo, env), ("0", None))[0]
            self.keys[(repo, env)] = (str(int(old) + 1), PrivateKey.generate())

    def secret(self, repo: str, name: str, env: str = "") -> str | None:
        held = self.secrets.get((repo, env, name))
        return None if held is None else held["value"]

    def variable(self, path: str, key: str, scope: str = "*") -> dict[str, Any] | None:
        return self.variables.get((self.projects.get(path), key, scope))


@dataclass
class StandIn:
    kind: str
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    fault: str | None = None
    delay: float = 0.0
    slow_seconds: float = 3.0
    trickle_seconds: float = 0.2
    npm_list: list | None = None
    npm_password: str | None = None  # POST /-/npm/v1/tokens: the account password it accepts
    npm_otp: str | None = None  # ...and the one-time password it then asks for (2FA)
    delete_status: int = 200
    gl_delete_status: int = 204  # GitLab DELETE /personal_access_tokens/self (204 documented; a test may say 200)
    created_value: str | None = None  # the next created token's value (a test's wrong answer), else a fresh one
    created_extra: dict = field(default_factory=dict)  # fields put into the next creation's answer
    ci: CiState = field(default_factory=CiState)
    seen: list[Seen] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    rotations: list[Any] = field(default_factory=list)  # GitLab: the expires_at of each self-rotate
    hold: threading.Event | None = None  # the next request waits for this event (once), after `holding` is set
    holding: threading.Event = field(default_factory=threading.Event)
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

        self._server = local_http.serve(Handler)
        return self

    def stop(self) -> None:
        local_http.stop(self._server)

    def reset(self) -> None:
        self.tokens.clear()
        self.revoked.clear()
        self.rotations.clear()
        self.seen.clear()
        self.fault = None
        self.delay = 0.0
        self.npm_list = None
        self.npm_password = None
        self.npm_otp = None
        self.delete_status = 200
        self.gl_delete_status = 204
        self.created_value = None
        self.created_extra = {}
        self.ci = CiState()
        self.hold = None
        self.holding = threading.Event()

    def requests_for(self, fragment: str) -> list[Seen]:
        return [r for r in self.seen if fragment in r.path]

    def received_anywhere(self, text: str) -> bool:
        """Whether `text` crossed the wire in any request (path, headers or body)."""
        return any(text.encode() in r.raw for r in self.seen)


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

    def _body(self) -> tuple[Any, bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null"), raw
        except ValueError:
            return None, raw

    def _handle(self, method: str) -> None:
        s = self.owner
        credential = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN") or ""
        body, raw = self._body() if method in ("POST", "PUT") else (None, b"")
        if isinstance(body, dict) and isinstance(body.get("secret"), str):
            credential = body["secret"]
        wire = self.requestline.encode("latin-1") + b"\r\n" + bytes(self.headers) + raw
        s.seen.append(Seen(method, self.path, self.headers.get("Host", ""), credential, wire))
        if s.delay:
            time.sleep(s.delay)
        hold, s.hold = s.hold, None
        if hold is not None:  # a test's "this request is under way": answered when it says so
            s.holding.set()
            hold.wait(30)
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

    def do_PUT(self) -> None:
        self._handle("PUT")

    # -- GitHub Actions secrets (under /api/v3/repos/) ---------------------------------
    def _actions(self, method: str, credential: str, body: Any) -> None:
        import base64
        import re

        from nacl.exceptions import CryptoError
        from nacl.public import SealedBox

        ci = self.owner.ci
        m = re.fullmatch(r"/api/v3/repos/([^/]+)/([^/]+)(?:/environments/([^/]+))?/actions/secrets/([^/?]+)", self.path)
        if m is None:
            return self._reply(404, {"message": "Not Found"})
        from urllib.parse import unquote

        repo = f"{unquote(m.group(1))}/{unquote(m.group(2))}"
        env = unquote(m.group(3) or "")
        name = unquote(m.group(4))
        auth = credential.removeprefix("Bearer ")
        if auth not in self.owner.tokens or auth in self.owner.revoked:
            return self._reply(401, {"message": "Bad credentials"})
        if repo not in ci.repos or (env and env not in ci.repos[repo]):
            return self._reply(404, {"message": "Not Found"})
        if repo not in ci.grants.get(auth, set()):
            return self._reply(403, {"message": "Resource not accessible by personal access token"})
        key_id, private = ci.key(repo, env)
        if method == "GET" and name == "public-key":
            if self.owner.fault == "wrong-types":
                return self._reply(200, {"key_id": ["\x1b[31m1"], "key": "c2hvcnQ="})
            key = base64.b64encode(bytes(private.public_key)).decode()
            if ci.replace_key_after_read:
                ci.replace_key_after_read = False
                ci.replace_key(repo, env)
            return self._reply(200, {"key_id": key_id, "key": key})
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        held = ci.secrets.get((repo, env, name))
        if method == "GET":
            if held is None:
                return self._reply(404, {"message": "Not Found"})
            return self._reply(200, {"name": name, "created_at": held["created_at"], "updated_at": held["updated_at"]})
        if method != "PUT":
            return self._reply(404, {"message": "Not Found"})
        if not isinstance(body, dict) or body.get("key_id") != key_id:
            return self._reply(422, {"message": "Bad request: key_id is not the repository's current public key"})
        try:
            value = SealedBox(private).decrypt(base64.b64decode(body.get("encrypted_value") or "")).decode("utf-8")
        except (CryptoError, ValueError, TypeError):
            return self._reply(422, {"message": "Bad request: encrypted_value cannot be decrypted"})
        ci.secrets[(repo, env, name)] = {
            "value": value, "created_at": held["created_at"] if held else now, "updated_at": now,
        }  # fmt: skip
        return self._reply(204 if held else 201)

    # -- GitLab CI variables (under /api/v4/projects/) ---------------------------------
    def _variables(self, method: str, credential: str, body: Any) -> None:
        import re
        from urllib.parse import parse_qs, unquote, urlsplit

        s, ci = self.owner, self.owner.ci
        parts = urlsplit(self.path)
        m = re.fullmatch(r"/api/v4/projects/([^/]+)(/variables(?:/([^/]+))?)?", parts.path)
        if m is None:
            return self._reply(404, {"message": "404 Not Found"})
        if credential not in s.tokens or credential in s.revoked:
            return self._reply(401, {"message": "401 Unauthorized"})
        ident = unquote(m.group(1))
        path = next((p for p, i in ci.projects.items() if str(i) == ident or p == ident), None)
        if path is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        if path not in ci.grants.get(credential, set()):
            return self._reply(403, {"message": "403 Forbidden"})
        pid = ci.projects[path]
        if m.group(2) is None:
            if method != "GET":
                return self._reply(404, {"message": "404 Not Found"})
            return self._reply(200, {"id": pid, "path_with_namespace": path})
        scope = parse_qs(parts.query).get("filter[environment_scope]", ["*"])[0]
        key = unquote(m.group(3) or "")
        if method == "GET" and key:
            held = ci.variables.get((pid, key, scope))
            return self._reply(200, held) if held else self._reply(404, {"message": "404 Variable Not Found"})
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return self._reply(400, {"message": {"value": ["is missing"]}})
        if method == "POST" and not key:
            key, scope = body.get("key", ""), body.get("environment_scope", "*")
            if (pid, key, scope) in ci.variables:
                return self._reply(400, {"message": {"key": [f"({key}) has already been taken"]}})
            status = 201
        elif method == "PUT" and key:
            if (pid, key, scope) not in ci.variables:
                return self._reply(404, {"message": "404 Variable Not Found"})
            held = ci.variables.pop((pid, key, scope))
            body.setdefault("raw", held["raw"])
            scope = body.get("environment_scope", scope)
            status = 200
        else:
            return self._reply(404, {"message": "404 Not Found"})
        value = body["value"]
        if body.get("masked") and ("\n" in value or len(value) < 8):
            return self._reply(400, {"message": {"value": ["is invalid"]}})
        variable = {
            "key": key, "value": value, "masked": bool(body.get("masked")),
            "protected": bool(body.get("protected")), "environment_scope": scope, "variable_type": "env_var",
            "raw": body.get("raw") is True,
        }  # fmt: skip
        ci.variables[(pid, key, scope)] = variable
        return self._reply(status, variable)

    # -- GitHub (GHES base /api/v3) ---------------------------------------------------
    def _github(self, method: str, credential: str, body: Any) -> None:
        s = self.owner
        if self.path.startswith("/api/v3/repos/"):
            return self._actions(method, credential, body)
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
        if self.path.startswith("/api/v4/projects/"):
            return self._variables(method, credential, body)
        if method == "POST" and self.path == "/api/v4/personal_access_tokens/self/rotate":
            return self._gitlab_rotate(credential, body)
        if self.path != "/api/v4/personal_access_tokens/self":
            return self._reply(404, {"message": "404 Not Found"})
        info = s.tokens.get(credential)
        if info is None or credential in s.revoked:
            return self._reply(401, {"message": "401 Unauthorized"})
        if method == "DELETE":
            s.revoked.add(credential)
            return self._reply(s.gl_delete_status, {} if s.gl_delete_status == 200 else None)
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

    def _gitlab_rotate(self, credential: str, body: Any) -> None:
        import datetime
        import secrets as random

        s = self.owner
        if s.fault == "rotate-5xx":  # the rotation itself fails, nothing rotated (GET self still answers)
            return self._reply(503, {"message": "Service Unavailable"})
        info = s.tokens.get(credential)
        if info is None:
            return self._reply(401, {"message": "401 Unauthorized"})
        family = info.setdefault("family", credential)
        if credential in s.revoked:
            if info.get("rotated"):  # an already rotated token: the whole family is revoked
                s.revoked.update(v for v, i in s.tokens.items() if i.get("family") == family)
            return self._reply(401, {"message": "401 Unauthorized"})
        if not {"api", "self_rotate"} & set(info.get("scopes", ["api"])):
            return self._reply(403, {"message": "403 Forbidden - insufficient_scope"})
        expires = (body or {}).get("expires_at") if isinstance(body, dict) else None
        s.rotations.append(expires)
        if expires is None:
            expires = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
        new = s.created_value or "glpat-" + random.token_urlsafe(15)
        s.tokens[new] = {**info, "expires_at": expires, "rotated": False, "family": family}
        info["rotated"] = True
        s.revoked.add(credential)
        if s.fault == "rotate-wrong-types":  # rotated, but the answer is no token object
            return self._reply(200, {"token": ["\x1b[31m" + new], "expires_at": 20270101, "active": "yes"})
        token = {
            "id": len(s.tokens), "name": info.get("name", "release"), "revoked": False,
            "created_at": "2026-01-01T00:00:00.000Z", "scopes": info.get("scopes", ["api"]),
            "user_id": info.get("user_id", 7), "last_used_at": None, "active": True, "expires_at": expires, "token": new,
            **s.created_extra,
        }  # fmt: skip
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
        if method == "POST" and self.path == "/-/npm/v1/tokens":
            import secrets as random

            if not isinstance(body, dict) or s.npm_password is None or body.get("password") != s.npm_password:
                return self._reply(401, {"error": "incorrect or missing password"})
            if s.npm_otp is not None and self.headers.get("npm-otp") != s.npm_otp:
                return self._reply(401, {"error": "OTP required for authentication"}, {"WWW-Authenticate": "OTP"})
            new, key = s.created_value or "npm_" + random.token_urlsafe(27), random.token_hex(16)
            s.tokens[new] = {"user": info["user"], "key": key}
            cidr = body.get("cidr_whitelist") or []
            return self._reply(200, {"token": new, "key": key, "readonly": body.get("readonly") is True, "cidr": cidr,
                                     "created": "2026-01-01T00:00:00.000Z"})  # fmt: skip
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
