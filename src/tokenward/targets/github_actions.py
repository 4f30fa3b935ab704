"""GitHub Actions secrets: a repository's, or one of its environments'.

Per push (REFERENCE.md "Registry APIs"): `GET .../actions/secrets/public-key` -> {"key_id",
"key"} (base64 of a 32-byte X25519 public key), then `PUT .../actions/secrets/{NAME}`
{"encrypted_value": base64(sealed box of the UTF-8 value), "key_id"} -> 201 created / 204
updated. Environment secrets: the same under `/repos/{owner}/{repo}/environments/{ENV}/`.
The public key is fetched on every push, never kept: GitHub may replace it, and a value
sealed to an old key would be unreadable to the workflow. Two requests per push.
"""

from __future__ import annotations

import base64
import binascii
from tokenward.errors import RegistryError
from tokenward.registries.base import clean_text
from tokenward.registries.http import host_of
from tokenward.targets.base import HttpTarget, TargetError, segment

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubActions(HttpTarget):
    def __init__(self, config, client, auth: str) -> None:
        super().__init__(config, client, auth)
        base = config.get("api_url").rstrip("/")
        owner, _, repo = config.get("repo").partition("/")
        place = f"{base}/repos/{segment(self.name, owner)}/{segment(self.name, repo)}"
        environment = config.get("environment")
        if environment:
            place += f"/environments/{segment(self.name, environment)}"
        self.secrets_url = f"{place}/actions/secrets"
        self.host = host_of(base)
        self.headers = {**HEADERS, "Authorization": f"Bearer {auth}"}
        self.place = f"environment {environment} of {config.get('repo')}" if environment else config.get("repo")

    def _public_key(self, doing: str) -> tuple[str, bytes]:
        reply = self.request("GET", f"{self.secrets_url}/public-key", headers=self.headers)
        if reply.status == 404:
            raise TargetError(
                self.name,
                f"{self.host}: {self.place} not found (HTTP 404: no such repository or environment, "
                f"or the auth token {self.config.auth} cannot see it)",
            )
        if reply.status != 200:
            raise self.refused(reply, self.host, doing)
        try:
            data = reply.json_object()
        except RegistryError as exc:
            raise TargetError(self.name, f"{self.host}: the public key: {exc.reason}") from None
        key_id, key = data.get("key_id"), data.get("key")
        if isinstance(key_id, bool) or not isinstance(key_id, (str, int)) or clean_text(key_id) != str(key_id):
            raise TargetError(self.name, f"{self.host}: the public key has no usable key_id: not the documented answer")
        try:
            raw = base64.b64decode(key if isinstance(key, str) else "", validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise TargetError(self.name, f"{self.host}: the public key is not 32 bytes of base64: not the documented answer")
        return str(key_id), raw

    def check(self) -> str:
        key_id, _ = self._public_key(f"read the secrets of {self.place}")
        return f"{self.describe()}: the auth token {self.config.auth} can read the public key (key_id {key_id})"

    def push(self, value: str) -> str:
        from nacl.public import PublicKey, SealedBox

        self.check_value(value)
        secret = self.config.get("secret")
        key_id, raw = self._public_key(f"write the secrets of {self.place}")
        sealed = base64.b64encode(SealedBox(PublicKey(raw)).encrypt(value.encode("utf-8"))).decode("ascii")
        reply = self.request(
            "PUT",
            f"{self.secrets_url}/{segment(self.name, secret)}",
            headers=self.headers,
            json_body={"encrypted_value": sealed, "key_id": key_id},
            value=value,
        )
        if reply.status == 201:
            return "created"
        if reply.status == 204:
            return "updated"
        if reply.status == 404:
            raise TargetError(self.name, f"{self.host}: {self.place} not found when writing secret {secret} (HTTP 404)")
        raise self.refused(reply, self.host, f"write secret {secret} of {self.place}", value)
