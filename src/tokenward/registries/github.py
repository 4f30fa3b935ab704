"""GitHub and GitHub Enterprise Server: `GET /user` tells whether a token is live.

API base: https://api.github.com for github.com, else `https://HOST/api/v3` (GHES), or the
repository itself when it already names `/api/v3`. No API creates, rotates or revokes a
personal access token; a leaked value goes to `POST /credentials/revoke`.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from tokenward.registries.base import Verdict, clean_list, clean_text, read_date, rejected, root_of, unexpected
from tokenward.registries.http import ApiRegistry, HttpClient
from tokenward.registries.kinds import TOKEN_PAGE
from tokenward.errors import RegistryUnreachable

PUBLIC_API = "https://api.github.com"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def api_base(repository: str) -> str:
    root = root_of(repository, "https://github.com/")
    if root in ("https://github.com", "https://www.github.com", "https://api.github.com"):
        return PUBLIC_API
    path = urlsplit(repository or "").path
    if "/api/v3" in path:
        return root + path[: path.index("/api/v3") + len("/api/v3")]
    return root + "/api/v3"


class GitHub(ApiRegistry):
    kind = "github"
    api_base = staticmethod(api_base)

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        super().__init__(record, client, now)
        self.label = "GitHub" if self.base == PUBLIC_API else f"GitHub Enterprise {self.host}"
        self.token_page = TOKEN_PAGE["github"] if self.base == PUBLIC_API else f"{root_of(self.base, '')}/settings/tokens"

    def verify(self, value: str | None) -> Verdict:
        reply = self.client.request("GET", f"{self.base}/user", headers={**HEADERS, "Authorization": f"Bearer {value}"})
        if reply.status == 401:
            return rejected(self.record, self.now, "GitHub answers 401 for an invalid, expired or revoked token")
        if reply.status != 200:
            raise unexpected(reply, self.host)
        login = clean_text(reply.json_object().get("login"))
        if login is None:
            raise RegistryUnreachable(self.host, "HTTP 200 without a login: not the documented answer")
        scopes_header = reply.headers.get("X-OAuth-Scopes")
        scopes = None
        if scopes_header is not None:
            scopes = clean_list([s.strip() for s in scopes_header.split(",") if s.strip()])
        expires_at, notes = read_date(
            reply.headers.get("GitHub-Authentication-Token-Expiration"), "GitHub-Authentication-Token-Expiration"
        )
        return Verdict("live", owner=login, expires_at=expires_at, scopes=scopes, notes=notes)

    def report_leak(self, value: str) -> str:
        reply = self.client.request("POST", f"{self.base}/credentials/revoke", headers=HEADERS, json_body={"credentials": [value]})
        if reply.status != 202:  # the documented answer; anything else did not revoke it
            raise unexpected(reply, self.host)
        return f"reported to {self.label}'s credential revocation (POST /credentials/revoke), which revokes it"
