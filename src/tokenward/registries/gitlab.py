"""GitLab (gitlab.com or self-managed: the repository's root, `/api/v4`).

`GET /personal_access_tokens/self` describes the token used; `DELETE` on the same path
revokes it (204). `POST /personal_access_tokens/self/rotate` (`expires_at` YYYY-MM-DD) answers
200 with the new token object, `"token"` included, and revokes the old one at once; it needs
scope `api` or `self_rotate` (403 otherwise). Rotating an already rotated token revokes its
whole family: that is how a new value lost in a crash is revoked (`discard_lost`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from tokenward.errors import RegistryRefused, RegistryUnreachable
from tokenward.registries.base import Created, Verdict, created_value, clean_list, clean_text, parse_time, read_date, rejected, root_of, unexpected
from tokenward.registries.http import ApiRegistry, HttpClient
from tokenward.registries.kinds import TOKEN_PAGE


def api_base(repository: str) -> str:
    root = root_of(repository, "https://gitlab.com/")
    path = urlsplit(repository or "").path
    if "/api/v4" in path:
        return root + path[: path.index("/api/v4") + len("/api/v4")]
    return root + "/api/v4"


class GitLab(ApiRegistry):
    kind = "gitlab"
    api_base = staticmethod(api_base)

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        super().__init__(record, client, now)
        self.label = "GitLab" if self.host == "gitlab.com" else f"GitLab {self.host}"
        root = self.base[: -len("/api/v4")]
        self.token_page = TOKEN_PAGE["gitlab"] if self.host == "gitlab.com" else f"{root}/-/user_settings/personal_access_tokens"

    def _self(self, method: str, value: str):
        return self.client.request(method, f"{self.base}/personal_access_tokens/self", headers={"PRIVATE-TOKEN": value})

    def verify(self, value: str | None) -> Verdict:
        reply = self._self("GET", value)
        if reply.status == 401:
            return rejected(self.record, self.now, "GitLab answers 401 for an invalid, expired or revoked token")
        if reply.status != 200:
            raise unexpected(reply, self.host)
        data = reply.json_object()
        revoked, active = data.get("revoked"), data.get("active")
        if not isinstance(revoked, bool) or not isinstance(active, bool):
            raise RegistryUnreachable(self.host, "HTTP 200 without `revoked`/`active` booleans: not the documented answer")
        expires_at, notes = read_date(data.get("expires_at"), "expires_at")
        user = data.get("user_id")
        verdict = dict(
            owner=f"user {user}" if isinstance(user, int) and not isinstance(user, bool) else clean_text(data.get("name")),
            expires_at=expires_at,
            scopes=clean_list(data.get("scopes")),
            last_used_at=parse_time(data.get("last_used_at")),
            notes=notes,
        )
        if revoked:
            return Verdict("revoked", **verdict)
        if not active or (expires_at is not None and expires_at <= self.now):
            state = "expired" if expires_at is not None and expires_at <= self.now else "invalid"
            return Verdict(state, reason="GitLab says the token is not active", **verdict)
        return Verdict("live", **verdict)

    def revoke(self, value: str) -> str:
        reply = self._self("DELETE", value)
        if reply.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {reply.status}: the token is already refused there")
        if reply.status != 204:  # the documented answer; anything else did not revoke it
            raise unexpected(reply, self.host)
        return f"revoked at {self.label} (DELETE /personal_access_tokens/self)"

    # -- Creator: self-rotate --------------------------------------------------------------

    needs_password = False
    revokes_old = True
    MAX_DAYS = 365  # the longest lifetime GitLab gives a personal access token

    def prepare(self, old_value: str) -> dict[str, Any]:
        # Rotating a token that was rotated already revokes its whole family -- the value a
        # teammate (or another machine) rotated to included: only a live value is rotated.
        verdict = self.verify(old_value)
        if verdict.result != "live":
            raise RegistryRefused(
                self.host,
                f"the current value is {verdict.result} there; rotating it could revoke its whole token family "
                "(a rotation elsewhere?): run `tokens sync`, or rotate it the guided way; nothing was created",
            )
        return {}

    def create(self, old_value: str, prepared: dict[str, Any], *, expires_on: date | None,
               password: str | None = None, otp: str | None = None) -> Created:  # fmt: skip
        body = {"expires_at": expires_on.isoformat()} if expires_on is not None else {}
        reply = self.client.request(
            "POST", f"{self.base}/personal_access_tokens/self/rotate", headers={"PRIVATE-TOKEN": old_value}, json_body=body
        )
        if reply.status == 401:
            raise RegistryRefused(self.host, "HTTP 401: the current value is not accepted (invalid, expired or revoked)")
        if reply.status == 403:
            raise RegistryRefused(self.host, "HTTP 403: rotating needs the scope `api` or `self_rotate` on this token")
        if reply.status == 400:
            raise RegistryRefused(self.host, f"HTTP 400: GitLab refused expires_at {body.get('expires_at', '(none)')}")
        if reply.status != 200:
            raise unexpected(reply, self.host)
        data = reply.json_object()
        value = created_value(data, "token", self.host, old_value)
        # GitLab has revoked the old value by now: whatever else is wrong with the answer, the
        # new value is kept (its problems are told, not acted on by throwing it away).
        raw = data.get("expires_at")
        expires_at, notes = read_date(raw, "expires_at")
        problems: tuple[str, ...] = ()
        if notes:
            problems = (f"{self.label} answered an unreadable expires_at for the new value; check its expiry there",)
        elif expires_at is not None and expires_at.date() < self.now.date():
            problems = (f"{self.label} says the new value expired on {expires_at.date().isoformat()}",)
        return Created(value, None, expires_at, problems)

    def revoke_old(self, new_value: str, prepared: dict[str, Any]) -> str:
        return f"revoked by {self.label} when it rotated"

    def discard(self, created: Created, old_value: str | None) -> str:
        # 204 is documented; 200 is a success too. 401/404: the value is refused or unknown
        # there, i.e. already gone -- done, not a step to retry for ever.
        reply = self._self("DELETE", created.value)
        if reply.status in (200, 204):
            return f"revoked at {self.label} (DELETE /personal_access_tokens/self)"
        if reply.status in (401, 404):
            return f"already gone at {self.label} (HTTP {reply.status})"
        raise unexpected(reply, self.host)

    def discard_lost(self, old_value: str, key: str | None) -> str:
        if self.verify(old_value).result == "live":
            return ""  # the old value is still live: GitLab created no new one
        reply = self.client.request(
            "POST", f"{self.base}/personal_access_tokens/self/rotate", headers={"PRIVATE-TOKEN": old_value}, json_body={}
        )
        if reply.status >= 500:
            raise unexpected(reply, self.host)
        # Rotating an already rotated token revokes its whole family, the lost value with it;
        # GitLab refuses the request itself (the old value is revoked), whatever its status.
        return f"revoked at {self.label} (the whole token family, by rotating the old value again)"
