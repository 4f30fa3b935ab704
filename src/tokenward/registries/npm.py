"""npm registries (registry.npmjs.org or any other: the repository URL, path kept).

Live: `GET /-/whoami` names the user. The token list (`GET /-/npm/v1/tokens`, masked values:
first and last five characters) gives the token's `key`, by which it is revoked
(`DELETE /-/npm/v1/tokens/token/{key}`). A registry that answers whoami with 200 but no
username (verdaccio does for a token it does not know) treats us as anonymous: invalid.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from tokenward.errors import RegistryError, RegistryRefused, RegistryUnreachable
from tokenward.registries.base import Verdict, clean_text, parse_time, rejected, root_of, unexpected
from tokenward.registries.http import HttpClient, host_of, origin
from tokenward.tokens import TOKEN_PAGE

PUBLIC = "https://registry.npmjs.org"
KEY_RE = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
MAX_PAGES = 20


def api_base(repository: str) -> str:
    root = root_of(repository, PUBLIC + "/")
    from urllib.parse import urlsplit

    path = urlsplit(repository or "").path.rstrip("/")
    return root + path


def masked_match(masked: object, value: str) -> bool:
    return (
        isinstance(masked, str)
        and len(value) > 10
        and masked.startswith(value[:5])
        and masked.endswith(value[-5:])
        and len(masked) < len(value)
    )


class Npm:
    kind = "npm"
    needs_value = True

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        self.record = record
        self.client = client
        self.now = now
        self.base = api_base(record.repository)
        self.host = host_of(self.base)
        self.label = f"npm {self.host}"
        self.token_page = TOKEN_PAGE["npm"] if self.base == PUBLIC else f"{self.base}/ (npm token list / npm token revoke)"

    def _auth(self, value: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {value}", "Accept": "application/json"}

    def verify(self, value: str | None) -> Verdict:
        reply = self.client.request("GET", f"{self.base}/-/whoami", headers=self._auth(value))
        if reply.status in (401, 403):
            return rejected(self.record, self.now, f"the registry answers {reply.status}")
        if reply.status != 200:
            raise unexpected(reply, self.host)
        data = reply.json_object()
        user = clean_text(data.get("username"))
        if user is None:
            return rejected(self.record, self.now, "the registry answers as for an anonymous user")
        found = self._listed(value, pages=1)
        if found is None:
            return Verdict("live", owner=user)
        scopes = ["read-only" if found.get("readonly") is True else "read-write"]
        cidr = found.get("cidr")
        if isinstance(cidr, list):
            scopes.extend(f"cidr:{clean_text(c, 50)}" for c in cidr[:10] if clean_text(c, 50))
        key = found.get("key")
        return Verdict(
            "live",
            owner=user,
            expires_at=parse_time(found.get("expires")),
            scopes=tuple(scopes),
            key=key if isinstance(key, str) and KEY_RE.fullmatch(key) else None,
        )

    def _listed(self, value: str, pages: int) -> dict | None:
        """The token list's entry for this value, or None (not listed, or no token list here)."""
        url = f"{self.base}/-/npm/v1/tokens"
        start = origin(self.base)
        for _ in range(pages):
            try:
                reply = self.client.request("GET", url, headers=self._auth(value))
            except RegistryUnreachable:
                return None
            if reply.status != 200:
                return None
            try:
                data = reply.json_object()
            except RegistryError:
                return None
            objects = data.get("objects")
            if not isinstance(objects, list):
                return None
            matches = [o for o in objects if isinstance(o, dict) and masked_match(o.get("token"), value)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                return None  # ambiguous: never guess which token to revoke
            urls = data.get("urls")
            following = urls.get("next") if isinstance(urls, dict) else None
            if not isinstance(following, str) or not following:
                return None
            from urllib.parse import urljoin

            url = urljoin(url, following)
            if origin(url) != start:
                return None  # the token never goes to another host
        return None

    def revoke(self, value: str) -> str:
        key = self.record.registry_key if KEY_RE.fullmatch(self.record.registry_key or "") else None
        if key is None:
            who = self.client.request("GET", f"{self.base}/-/whoami", headers=self._auth(value))
            if who.status in (401, 403):
                raise RegistryRefused(self.host, f"HTTP {who.status}: the token is already refused there")
            found = self._listed(value, pages=MAX_PAGES)
            key = found.get("key") if found else None
            if not isinstance(key, str) or not KEY_RE.fullmatch(key):
                raise RegistryError(self.host, "this token is not in the registry's token list (a login session token?)")
        reply = self.client.request("DELETE", f"{self.base}/-/npm/v1/tokens/token/{quote(key, safe='')}", headers=self._auth(value))
        if reply.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {reply.status}: the token is already refused there")
        if reply.status not in (200, 204):
            raise unexpected(reply, self.host)
        return f"revoked at {self.label} (DELETE /-/npm/v1/tokens/token/{key})"
