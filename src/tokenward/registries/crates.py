"""crates.io: no documented way to check a token (verify says `unknown`); a token revokes
itself with `DELETE /api/v1/tokens/current` (204)."""

from __future__ import annotations

from datetime import datetime

from tokenward.errors import RegistryRefused
from tokenward.registries.base import Verdict, rejected, root_of, unexpected
from tokenward.registries.http import ApiRegistry, HttpClient
from tokenward.registries.kinds import TOKEN_PAGE


class Crates(ApiRegistry):
    kind = "crates"
    needs_value = False

    @staticmethod
    def api_base(repository: str) -> str:
        return root_of(repository, "https://crates.io/")

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        super().__init__(record, client, now)
        self.label = "crates.io" if self.host == "crates.io" else f"crates registry {self.host}"
        self.token_page = TOKEN_PAGE["crates"] if self.host == "crates.io" else f"{self.base}/settings/tokens"

    def verify(self, value: str | None) -> Verdict:
        known = self.record.expires_at
        if known is not None and known <= self.now:
            return rejected(self.record, self.now, "past its recorded expiry")
        return Verdict("unknown", reason="crates.io has no documented way to check a token")

    def revoke(self, value: str) -> str:
        reply = self.client.request("DELETE", f"{self.base}/api/v1/tokens/current", headers={"Authorization": value})
        if reply.status in (401, 403):
            raise RegistryRefused(self.host, f"HTTP {reply.status}: the token is already refused there")
        if reply.status != 204:  # the documented answer; anything else did not revoke it
            raise unexpected(reply, self.host)
        return f"revoked at {self.label} (DELETE /api/v1/tokens/current)"
