"""Docker Hub: `POST /v2/auth/token {"identifier": USER, "secret": PAT}` answers 200 with an
access token when the PAT is live, 401 when not. The account name comes from the
repository's user part: `--repository https://USER@hub.docker.com/`. No revoke API."""

from __future__ import annotations

from datetime import datetime

from tokenward.errors import RegistryUnreachable
from tokenward.registries.base import Verdict, clean_text, rejected, root_of, unexpected, user_of
from tokenward.registries.http import ApiRegistry, HttpClient
from tokenward.registries.kinds import TOKEN_PAGE


class DockerHub(ApiRegistry):
    kind = "dockerhub"

    @staticmethod
    def api_base(repository: str) -> str:
        return root_of(repository, "https://hub.docker.com/")

    def __init__(self, record, client: HttpClient, now: datetime) -> None:
        super().__init__(record, client, now)
        self.user = clean_text(user_of(record.repository), 100)
        self.label = "Docker Hub" if self.host == "hub.docker.com" else f"Docker registry {self.host}"
        self.token_page = TOKEN_PAGE["dockerhub"]
        self.needs_value = self.user is not None

    def verify(self, value: str | None) -> Verdict:
        if self.user is None:
            return Verdict(
                "unknown",
                reason="Docker Hub needs the account name: set it with --repository https://USER@hub.docker.com/",
            )
        reply = self.client.request(
            "POST", f"{self.base}/v2/auth/token", json_body={"identifier": self.user, "secret": value}
        )
        if reply.status == 401:
            return rejected(self.record, self.now, "Docker Hub answers 401")
        if reply.status != 200:
            raise unexpected(reply, self.host)
        if not isinstance(reply.json_object().get("access_token"), str):
            raise RegistryUnreachable(self.host, "HTTP 200 without an access_token: not the documented answer")
        return Verdict("live", owner=self.user)
