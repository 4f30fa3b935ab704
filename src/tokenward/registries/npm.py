"""npm registries (registry.npmjs.org or any other: the repository URL, path kept).

Live: `GET /-/whoami` names the user. The token list (`GET /-/npm/v1/tokens`, masked values:
first and last five characters) gives the token's `key`, by which it is revoked
(`DELETE /-/npm/v1/tokens/token/{key}` -> 200). A registry that answers whoami with 200 but
no username (verdaccio does for a token it does not know) treats us as anonymous: invalid.

Revoke never trusts a key it was told (the inventory's, a teammate's metadata): it reads
the whole token list with the value and revokes the one entry whose masked token is this
value's; none or several such entries, and it refuses, pointing at the token page. A key
is hex/uuid-like (KEY_RE) and always sent as one quoted path segment.

Create (`rotate --api`): `POST /-/npm/v1/tokens {"password", "readonly", "cidr_whitelist"}`
with the old token's settings, `npm-otp: CODE` with 2FA; the answer's `key` is kept (it is
how the new token is revoked should no store take it). The registry asks for a one-time
password the way the npm CLI recognises it (npm-registry-fetch): 401 with `otp` among the
`WWW-Authenticate` challenges, or a body saying "one-time pass".
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from tokenward.errors import OtpRequired, RegistryError, RegistryRefused, RegistryUnreachable
from tokenward.registries.base import Created, Verdict, created_value, clean_text, read_date, rejected, root_of, unexpected
from tokenward.registries.http import ApiRegistry, HttpClient, origin
from tokenward.registries.kinds import TOKEN_PAGE

PUBLIC = "https://registry.npmjs.org"
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")  # no `.`, `..`, `/`, `%`, `:`
MAX_PAGES = 20


def api_base(repository: str) -> str:
    root = root_of(repository, PUBLIC + "/")
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


class Npm(ApiRegistry):
    kind = "npm"
    api_base = staticmethod(api_base)

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        super().__init__(record, client, now)
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
        try:
            found, _why = self._find(value, pages=1)
        except RegistryError:
            found = None  # the token list is optional for verify
        if found is None:
            return Verdict("live", owner=user)
        scopes = ["read-only" if found.get("readonly") is True else "read-write"]
        cidr = found.get("cidr")
        if isinstance(cidr, list):
            scopes.extend(f"cidr:{clean_text(c, 50)}" for c in cidr[:10] if clean_text(c, 50))
        key = found.get("key")
        expires_at, notes = read_date(found.get("expires"), "the token list's `expires`")
        return Verdict(
            "live",
            owner=user,
            expires_at=expires_at,
            scopes=tuple(scopes),
            key=key if isinstance(key, str) and KEY_RE.fullmatch(key) else None,
            notes=notes,
        )

    def _find(self, value: str, pages: int) -> tuple[dict | None, str]:
        """(the one token-list entry whose masked token is this value's, "") or (None, why).
        Every page is read before deciding: a second match on a later page is ambiguity.
        Raises RegistryUnreachable when the list cannot be read."""
        url = f"{self.base}/-/npm/v1/tokens"
        start = origin(self.base)
        matches: list[dict] = []
        for _ in range(pages):
            reply = self.client.request("GET", url, headers=self._auth(value))
            if reply.status != 200:
                return None, f"the token list answers HTTP {reply.status}"
            data = reply.json_object()
            objects = data.get("objects")
            if not isinstance(objects, list):
                raise RegistryUnreachable(self.host, "a token list without `objects`: not the documented answer")
            matches.extend(o for o in objects if isinstance(o, dict) and masked_match(o.get("token"), value))
            urls = data.get("urls")
            following = urls.get("next") if isinstance(urls, dict) else None
            if not isinstance(following, str) or not following:
                break
            url = urljoin(url, following)
            if origin(url) != start:
                return None, "the token list's next page is on another host"  # the token never goes there
        else:
            return None, f"the token list is longer than {pages} page(s)"
        if not matches:
            return None, "this value is not in the registry's token list (a login session token?)"
        if len(matches) > 1:
            return None, f"{len(matches)} entries of the token list match this value's masked form"
        key = matches[0].get("key")
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            return None, "its entry in the token list has no usable key"
        return matches[0], ""

    def revoke(self, value: str) -> str:
        who = self.client.request("GET", f"{self.base}/-/whoami", headers=self._auth(value))
        if who.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {who.status}: the token is already refused there")
        found, why = self._find(value, pages=MAX_PAGES)
        if found is None:
            raise RegistryError(
                self.host, f"not revoked: {why}; revoke it yourself at {self.token_page}"
            )
        key = found["key"]
        reply = self.client.request(
            "DELETE", f"{self.base}/-/npm/v1/tokens/token/{quote(key, safe='')}", headers=self._auth(value)
        )
        if reply.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {reply.status}: the token is already refused there")
        if reply.status != 200:  # the documented answer; anything else did not revoke it
            raise unexpected(reply, self.host)
        return f"revoked at {self.label} (DELETE /-/npm/v1/tokens/token/{key})"

    # -- Creator: a new token, then the old one revoked by its key ---------------------------

    needs_password = True
    revokes_old = False

    def prepare(self, old_value: str) -> dict[str, Any]:
        found, why = self._find(old_value, pages=MAX_PAGES)
        if found is None:
            raise RegistryRefused(self.host, f"cannot rotate by API: {why}; it could not be revoked afterwards")
        cidr = found.get("cidr")
        cidr = [c for c in cidr if isinstance(c, str) and clean_text(c, 50) == c][:10] if isinstance(cidr, list) else []
        return {"key": found["key"], "readonly": found.get("readonly") is True, "cidr": cidr}

    def create(self, old_value: str, prepared: dict[str, Any], *, expires_on: date | None,
               password: str | None, otp: str | None) -> Created:  # fmt: skip
        if not password:
            raise RegistryRefused(self.host, "creating a token needs the account password")
        headers = self._auth(old_value)
        if otp:
            headers["npm-otp"] = otp
        body = {"password": password, "readonly": bool(prepared.get("readonly")), "cidr_whitelist": list(prepared.get("cidr") or [])}
        reply = self.client.request("POST", f"{self.base}/-/npm/v1/tokens", headers=headers, json_body=body)
        if reply.status == 401 and _asks_for_otp(reply):
            if otp:
                raise OtpRequired(self.host, "HTTP 401: the one-time password was not accepted; nothing was created")
            raise OtpRequired(self.host, "the registry asks for a one-time password (2FA); nothing was created")
        if reply.status in (401, 403):
            raise RegistryRefused(
                self.host, f"HTTP {reply.status}: the registry refused to create a token (a wrong password?); nothing was created"
            )
        if reply.status not in (200, 201):
            raise unexpected(reply, self.host)
        data = reply.json_object()
        value = created_value(data, "token", self.host, old_value)
        key = data.get("key")
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            # Without its key the new token could not be revoked should no store take it.
            self._delete_matching(value)
            raise RegistryUnreachable(self.host, "the created token came without a usable `key`; it was revoked again")
        expires_at, _notes = read_date(data.get("expires"), "expires")
        return Created(value, key, expires_at)

    def _delete(self, auth_value: str, key: str, *, gone_ok: bool = False) -> str:
        if not KEY_RE.fullmatch(key or ""):
            raise RegistryError(self.host, "no usable key to revoke by")
        reply = self.client.request(
            "DELETE", f"{self.base}/-/npm/v1/tokens/token/{quote(key, safe='')}", headers=self._auth(auth_value)
        )
        if reply.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {reply.status}: the registry refused to revoke token {key}")
        if reply.status == 404 and gone_ok:
            return f"already gone at {self.label} (no token {key} there)"
        if reply.status not in (200, 204):
            raise unexpected(reply, self.host)
        return f"revoked at {self.label} (DELETE /-/npm/v1/tokens/token/{key})"

    def _delete_matching(self, value: str) -> None:
        try:
            found, _why = self._find(value, pages=MAX_PAGES)
            if found is not None:
                self._delete(value, found["key"])
        except RegistryError:
            pass

    def revoke_old(self, new_value: str, prepared: dict[str, Any]) -> str:
        # 404 (not documented): the key is unknown there, i.e. revoked already (by hand, or by
        # a run that died before its journal said so); anything else is retried next time.
        return self._delete(new_value, str(prepared.get("key") or ""), gone_ok=True)

    def discard(self, created: Created, old_value: str | None) -> str:
        return self._delete(created.value, created.key or "")

    def discard_lost(self, old_value: str, key: str | None) -> str:
        # 404: the key is unknown there -- revoked already; the rotation is settled.
        return self._delete(old_value, key or "", gone_ok=True)

    # -- a creation whose answer was lost (kill -9 mid POST, Ctrl-C, the deadline) ------------

    def _objects(self, auth_value: str) -> list[dict]:
        """The whole token list (every page), read with a live value of the account."""
        url = f"{self.base}/-/npm/v1/tokens"
        start = origin(self.base)
        found: list[dict] = []
        for _ in range(MAX_PAGES):
            reply = self.client.request("GET", url, headers=self._auth(auth_value))
            if reply.status in (401, 403):
                raise RegistryRefused(self.host, f"HTTP {reply.status}: the token list refuses this value")
            if reply.status != 200:
                raise unexpected(reply, self.host)
            objects = reply.json_object().get("objects")
            if not isinstance(objects, list):
                raise RegistryUnreachable(self.host, "a token list without `objects`: not the documented answer")
            found.extend(o for o in objects if isinstance(o, dict))
            urls = reply.json_object().get("urls")
            following = urls.get("next") if isinstance(urls, dict) else None
            if not isinstance(following, str) or not following:
                return found
            url = urljoin(url, following)
            if origin(url) != start:
                raise RegistryUnreachable(self.host, "the token list's next page is on another host")
        raise RegistryUnreachable(self.host, f"the token list is longer than {MAX_PAGES} pages")

    def lost_creations(self, auth_value: str, since: datetime, until: datetime, known: set[str],
                       readonly: bool | None = None) -> list[tuple[str, datetime]]:  # fmt: skip
        """(key, created) of each listed token created in [since, until] whose key is none of
        `known` (the old token's, the stored value's) and, where the list says, with the
        `readonly` flag the creation asked for: what a lost POST may have created."""
        from tokenward.registries.base import parse_time

        found = []
        for item in self._objects(auth_value):
            key, created = item.get("key"), parse_time(item.get("created"))
            if readonly is not None and isinstance(item.get("readonly"), bool) and item["readonly"] != readonly:
                continue  # not made with the settings tokenward asked for
            if isinstance(key, str) and KEY_RE.fullmatch(key) and key not in known and created is not None:
                if since <= created <= until:
                    found.append((key, created))
        return found

    def key_of(self, value: str) -> str | None:
        """The token-list key of this value, when the list names exactly one entry for it."""
        found, _why = self._find(value, pages=MAX_PAGES)
        return found["key"] if found is not None else None

    def revoke_key(self, auth_value: str, key: str) -> str:
        return self._delete(auth_value, key, gone_ok=True)


def _asks_for_otp(reply) -> bool:
    challenges = [c.strip().lower() for c in (reply.headers.get("WWW-Authenticate") or "").split(",")]
    if "otp" in challenges:
        return True
    return b"one-time pass" in reply.body[:4096]
