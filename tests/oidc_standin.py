"""Stand-ins for trusted publishing, which cannot run here: GitHub Actions' OIDC provider, and
the minting side of PyPI and crates.io. Built only from their documentation
(docs/trusted-publishing.md lists each fact and where it comes from):

- GitHub Actions: a job with `permissions: id-token: write` has ACTIONS_ID_TOKEN_REQUEST_URL and
  ACTIONS_ID_TOKEN_REQUEST_TOKEN; `GET $URL&audience=AUD` with `Authorization: bearer $TOKEN`
  answers `{"value": JWT}`, a JWT signed by the provider whose `aud` is AUD and whose claims name
  the job (`repository`, `repository_owner_id`, `workflow_ref`, `job_workflow_ref`, `ref`,
  `environment`, `jti`, `iat`, `nbf`, `exp`, `iss`). Signed here with RS256, with PyJWT.
- PyPI (docs.pypi.org trusted-publishers, warehouse's oidc views): `GET /_/oidc/audience` ->
  `{"audience": "pypi"}` (here "pypi-standin"); `POST /_/oidc/mint-token {"token": JWT}` -> `{"success": true, "token",
  "expires"}` with a macaroon limited to the publisher's projects and 900 seconds; else HTTP 422
  `{"message": "Token request failed", "errors": [{"code", "description"}]}` with the codes
  `invalid-payload`, `invalid-token` (bad signature, audience, expiry), `invalid-publisher` (no
  publisher matches the claims), `invalid-reuse-token` (a `jti` seen before).
  The minted macaroon (pypitoken) is registered with a REAL pypiserver: the stand-in writes it
  as `__token__`'s password in the server's htpasswd, which pypiserver re-reads when it changes.
- crates.io (its trusted-publishing docs and API): `POST /api/v1/trusted_publishing/tokens
  {"jwt"}` -> 200 `{"token"}` (audience: the registry's host name); errors are 400
  `{"errors": [{"detail"}]}`; `DELETE` the same path with `Authorization: Bearer TOKEN` -> 204,
  revoking it.

The mint stand-ins check the JWT with the provider's public key (a real index fetches the
issuer's JWKS; the check is the same: signature, audience, expiry, issuer).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import local_http

ISSUER = "https://token.actions.githubusercontent.com"


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler calls `self.handle(method, path, headers, body)`."""

    def start(self) -> "_Server":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = owner.handle(self.command, self.path, self.headers, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = local_http.serve(Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self

    def stop(self) -> None:
        local_http.stop(self.httpd)

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, Any]:
        raise NotImplementedError


@dataclass
class OidcProvider(_Server):
    """GitHub Actions' OIDC token endpoint for one job."""

    claims: dict[str, Any] = field(default_factory=dict)
    lifetime: int = 300  # seconds; negative: the token handed out has already expired
    request_token: str = field(default_factory=lambda: "gha-request-" + secrets.token_hex(16))
    issued: list[str] = field(default_factory=list)  # every JWT handed out (to prove none leaks)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.key.public_key()

    def job(self, repository: str = "octo-org/sample", workflow: str = "release.yml", environment: str | None = "pypi",
            ref: str = "refs/tags/v1.0") -> None:  # fmt: skip
        """The job's identity, as GitHub writes it into the claims."""
        owner = repository.split("/")[0]
        workflow_ref = f"{repository}/.github/workflows/{workflow}@{ref}"
        self.claims = {
            "sub": f"repo:{repository}:" + (f"environment:{environment}" if environment else f"ref:{ref}"),
            "repository": repository, "repository_owner": owner, "repository_owner_id": "4242",
            "workflow": "Release", "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref, "ref": ref,
            "run_id": "1", "sha": "0" * 40,
        }  # fmt: skip
        if environment:
            self.claims["environment"] = environment

    def env(self) -> dict[str, str]:
        """What a GitHub Actions job with `id-token: write` has."""
        return {
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/_apis/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def handle(self, method, path, headers, body):
        parts = urlsplit(path)
        if method != "GET" or parts.path != "/_apis/token":
            return 404, {"message": "not found"}
        if (headers.get("Authorization") or "").lower() != f"bearer {self.request_token}":
            return 401, {"message": "bad request token"}
        audience = parse_qs(parts.query).get("audience", [""])[-1]
        return 200, {"value": self.token_for(audience), "count": 1}

    def token_for(self, audience: str) -> str:
        """A signed JWT for the job's claims (GitLab hands it to the job in `<AUD>_ID_TOKEN`)."""
        now = int(time.time())
        payload = {**self.claims, "aud": audience, "iss": ISSUER, "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
                   "exp": now + self.lifetime}  # fmt: skip
        if self.lifetime < 0:
            payload["iat"] = payload["nbf"] = now + 2 * self.lifetime
        token = pyjwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "standin"})
        self.issued.append(token)
        return token


def _verify(provider: OidcProvider, token: Any, audience: str) -> dict | None:
    if not isinstance(token, str):
        return None
    try:
        return pyjwt.decode(token, provider.public_key, algorithms=["RS256"], audience=audience, issuer=ISSUER,
                            options={"require": ["exp", "iat", "aud", "iss"]})  # fmt: skip
    except pyjwt.PyJWTError:
        return None


def _workflow_file(claims: dict) -> str:
    return str(claims.get("job_workflow_ref", "")).split("@", 1)[0].rsplit("/", 1)[-1]


@dataclass
class Publisher:
    repository: str
    workflow: str
    environment: str | None = None
    projects: tuple[str, ...] = ()

    def matches(self, claims: dict) -> bool:
        if claims.get("repository") != self.repository or _workflow_file(claims) != self.workflow:
            return False
        return self.environment is None or claims.get("environment") == self.environment


@dataclass
class PypiMint(_Server):
    """PyPI's audience and mint-token endpoints, registering each minted macaroon with pypiserver."""

    provider: OidcProvider = None  # type: ignore[assignment]
    htpasswd: Path = None  # type: ignore[assignment]
    # not pypi.org's own "pypi": the config refuses that audience for any other index
    audience: str = "pypi-standin"
    publishers: list[Publisher] = field(default_factory=list)
    minted: list[str] = field(default_factory=list)
    seen_jtis: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hostile: Any = None  # a test's own answer to mint-token: f(jwt) -> (status, body)

    def handle(self, method, path, headers, body):
        if method == "GET" and path == "/_/oidc/audience":
            return 200, {"audience": self.audience}
        if method != "POST" or path != "/_/oidc/mint-token":
            return 404, {"message": "not found"}
        if self.hostile is not None:
            return self.hostile(json.loads(body).get("token", ""))
        try:
            payload = json.loads(body)
            token = payload["token"]
            assert isinstance(payload, dict) and len(payload) == 1 and isinstance(token, str)
        except Exception:  # noqa: BLE001 - any other layout is refused, as documented
            return self._invalid("invalid-payload", "the payload must be {\"token\": \"...\"}")
        claims = _verify(self.provider, token, self.audience)
        if claims is None:
            return self._invalid("invalid-token", "malformed or invalid token")
        publisher = next((p for p in self.publishers if p.matches(claims)), None)
        if publisher is None:
            return self._invalid("invalid-publisher", "valid token, but no corresponding publisher (All lookup strategies exhausted)")
        with self.lock:
            if claims["jti"] in self.seen_jtis:
                return self._invalid("invalid-reuse-token", "invalid token: already used")
            self.seen_jtis.add(claims["jti"])
            value, expires = self._macaroon(publisher)
            self._register(value)
            self.minted.append(value)
        return 200, {"success": True, "token": value, "expires": expires}

    @staticmethod
    def _invalid(code: str, description: str):
        return 422, {"message": "Token request failed", "errors": [{"code": code, "description": description}]}

    @staticmethod
    def _macaroon(publisher: Publisher) -> tuple[str, int]:
        import pypitoken

        now = int(time.time())
        token = pypitoken.Token.create(domain="pypi.org", identifier=f"oidc-{uuid.uuid4().hex[:8]}", key=secrets.token_hex(16))
        token.restrict(not_before=now, not_after=now + 900, project_names=list(publisher.projects))
        return token.dump(), now + 900

    def _register(self, value: str) -> None:
        from passlib.apache import HtpasswdFile

        htpasswd = HtpasswdFile(str(self.htpasswd))
        htpasswd.set_password("__token__", value)  # sha256_crypt: bcrypt would cut it at 72 bytes
        htpasswd.save()


@dataclass
class CratesMint(_Server):
    """crates.io's trusted-publishing token exchange and revocation."""

    provider: OidcProvider = None  # type: ignore[assignment]
    publishers: list[Publisher] = field(default_factory=list)
    live: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)

    @property
    def audience(self) -> str:
        return urlsplit(self.url).netloc

    def handle(self, method, path, headers, body):
        if path != "/api/v1/trusted_publishing/tokens":
            return 404, {"errors": [{"detail": "Not Found"}]}
        if method == "DELETE":
            auth = headers.get("Authorization") or ""
            if not auth.startswith("Bearer "):
                return 401, {"errors": [{"detail": "Invalid authorization header"}]}
            value = auth[len("Bearer ") :]
            if value in self.live:
                self.live.discard(value)
                self.revoked.append(value)
            return 204, None
        if method != "POST":
            return 405, {"errors": [{"detail": "Method Not Allowed"}]}
        try:
            token = json.loads(body)["jwt"]
        except Exception:  # noqa: BLE001
            return 400, {"errors": [{"detail": "Failed to deserialize the JSON body"}]}
        claims = _verify(self.provider, token, self.audience)
        if claims is None:
            return 400, {"errors": [{"detail": "Failed to decode JWT"}]}
        if not any(p.matches(claims) for p in self.publishers):
            return 400, {"errors": [{"detail": f"No Trusted Publishing config found for repository `{claims.get('repository')}`."}]}
        value = "cio_tp_" + secrets.token_hex(16)
        self.live.add(value)
        return 200, {"token": value}
