"""The target interface, and the registry that opens a target from its config.

A target is a CI secret that holds a token: written with `push`, checked with `check`
(access only: nothing is written). CI APIs never give a secret's value back, so there is
no `get`: what a target holds is known only from the inventory (what this machine last
pushed, targets/push.py). Same shape as stores/ and registries/: one small Protocol, one
module per CI system, an explicit registry of type -> "module:Class" imported when used.

Every failure is a TargetError naming the target and the host, never the value nor the
auth token (`scrubbed` drops any text from the CI system that echoes either).
"""

from __future__ import annotations

import importlib
from urllib.parse import quote
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tokenward.errors import ExitStatus, RegistryError, TokenwardError

if TYPE_CHECKING:
    from tokenward.config_targets import TargetConfig
    from tokenward.registries.http import HttpClient, Reply


class TargetError(TokenwardError):
    """A CI system refused or could not be reached: exit 3 (as a store would)."""

    exit_status = ExitStatus.STORE

    def __init__(self, target: str, message: str) -> None:
        super().__init__(f"target {target}: {message}")
        self.target = target


class TargetValueRefused(TargetError):
    """The value is one the CI system would refuse (a masked GitLab variable under 8
    characters or on several lines): known before any write, so bad input (exit 2)."""

    exit_status = ExitStatus.BAD_INPUT


@runtime_checkable
class Target(Protocol):
    name: str

    def describe(self) -> str:
        """Where the secret lives, e.g. `github-actions owner/name secret PYPI_TOKEN` (no network)."""

    def check_value(self, value: str) -> None:
        """Raise TargetValueRefused when the CI system would refuse this value (no network)."""

    def check(self) -> str:
        """Ask the CI system whether the auth token may reach the secret's place, writing
        nothing; one line for `tokens doctor`. Raises TargetError."""

    def push(self, value: str) -> str:
        """Write the value to the secret (at most 3 requests); returns "created" or "updated".
        Raises TargetError."""


# An explicit registry: type name -> "module:Class", imported only when used.
REGISTRY: dict[str, str] = {
    "github-actions": "tokenward.targets.github_actions:GitHubActions",
    "gitlab-ci": "tokenward.targets.gitlab_ci:GitLabCI",
}


def open_target(config: "TargetConfig", client: "HttpClient", auth: str) -> Target:
    module_name, _, class_name = REGISTRY[config.type].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config, client, auth)


def where(config: "TargetConfig") -> str:
    """The secret's place in one line, from the config alone (`tokens targets`)."""
    if config.type == "github-actions":
        env = config.get("environment")
        place = f"{config.get('repo')} environment {env}" if env else config.get("repo")
        return f"{place} secret {config.get('secret')}"
    scope = config.get("environment_scope")
    suffix = "" if scope == "*" else f" (scope {scope})"
    return f"{config.get('project')} variable {config.get('variable')}{suffix}"


# What says where a target's value goes: pointed elsewhere, it holds nothing there yet.
DESTINATION_KEYS = {"github-actions": ("repo", "environment", "secret"), "gitlab-ci": ("project", "variable", "environment_scope")}


def destination(config: "TargetConfig") -> str:
    """The secret's place as one comparable string (recorded with each push; no value)."""
    import json

    keys = DESTINATION_KEYS[config.type]
    return json.dumps([config.type, str(config.get("api_url")).rstrip("/"), *(str(config.get(k) or "") for k in keys)])


def not_in_inventory(inventory, config: "TargetConfig") -> list[tuple[str, str]]:
    """(role, name) of the target's token and auth token that the inventory does not hold:
    "names ROLE 'NAME', which is not in the inventory" (push, doctor, `tokens targets`)."""
    return [(role, name) for role, name in (("token", config.token), ("auth token", config.auth)) if inventory.find(name) is None]


# The kind of token each target type's API takes as `auth`.
AUTH_KIND = {"github-actions": "github", "gitlab-ci": "gitlab"}


def auth_problem(config: "TargetConfig", record) -> str | None:
    """Why the inventory token `record` must not be sent as this target's auth token
    (a token of another kind, or one issued by another host than api_url's), or None."""
    from importlib import import_module

    from tokenward.registries.http import host_of, origin

    kind = AUTH_KIND[config.type]
    if record.kind != kind:
        return f"the auth token {config.auth} is a {record.kind} token; a {config.type} target takes a {kind} token"
    if record.repository:
        issued = import_module(f"tokenward.registries.{kind}").api_base(record.repository)
        if origin(issued) != origin(config.get("api_url")):
            return (
                f"the auth token {config.auth} is for {host_of(issued)} (its repository {record.repository}), "
                f"not {host_of(config.get('api_url'))} (api_url): it is not sent there "
                f"(if it is issued there: `tokens edit {config.auth} --repository URL`)"
            )
    return None


def cleartext(config: "TargetConfig") -> str | None:
    """The warning for an api_url that is plain http:// to a host other than this machine
    (allowed, since api_url says so, but said each time), else None."""
    from urllib.parse import urlsplit

    from tokenward.senders import is_loopback

    parts = urlsplit(config.get("api_url"))
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() != "http" or host.endswith(".localhost") or is_loopback(host):
        return None
    return (
        f"target {config.name}: api_url is plain http://: the value and the auth token {config.auth} "
        f"travel unencrypted to {host_of_url(config.get('api_url'))}"
    )


def host_of_url(url: str) -> str:
    from tokenward.registries.http import host_of
    from tokenward.sanitize import safe

    return safe(host_of(url))


def segment(target: str, value: str, *, path: bool = False) -> str:
    """One URL path segment, quoted whole (safe="", so a GitLab path's / is %2F): never a
    segment a URL client or a server resolves ("", ".", ".."), also after a server decodes
    %2F (`path`); config_targets.py refuses such names at load, this is the last guard."""
    from tokenward.config_targets import url_segments_safe

    if not url_segments_safe(value, several=path):
        raise TargetError(target, f"{value!r} cannot be a URL path segment; nothing was sent")
    return quote(value, safe="")


def scrubbed(text: str, *secrets: str) -> str:
    from tokenward.registries.base import echoes

    return "(an answer that echoed a secret; not shown)" if any(echoes(text, s) for s in secrets if s) else text


def api_message(reply: "Reply", *secrets: str) -> str:
    """The CI system's own short reason (`message`), cleaned and scrubbed, or ""."""
    import json

    from tokenward.registries.base import clean_text

    try:
        data = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    if isinstance(message, (dict, list)):
        message = json.dumps(message, sort_keys=True)
    text = clean_text(message, 160)
    return f": {scrubbed(text, *secrets)}" if text else ""


class HttpTarget:
    """What both CI targets start from: the config, the shared client, the auth token."""

    def __init__(self, config: "TargetConfig", client: "HttpClient", auth: str) -> None:
        self.config = config
        self.name = config.name
        self.client = client.for_token() if hasattr(client, "for_token") else client
        self._auth = auth

    def describe(self) -> str:
        return f"{self.config.type} {where(self.config)}"

    def check_value(self, value: str) -> None:
        if not value:
            raise TargetValueRefused(self.name, "the value is empty")

    def request(self, method: str, url: str, *, headers: dict[str, str], json_body=None, value: str = "") -> "Reply":
        """One request; a network failure, timeout, 5xx or rate limit becomes a TargetError."""
        try:
            return self.client.request(method, url, headers=headers, json_body=json_body)
        except RegistryError as exc:
            raise TargetError(self.name, scrubbed(f"{exc.registry}: {exc.reason}", value, self._auth)) from None

    def refused(self, reply: "Reply", host: str, doing: str, value: str = "") -> TargetError:
        """The one line for an answer that is not the documented success."""
        status = reply.status
        reason = {
            401: f"the auth token {self.config.auth} is refused (HTTP 401: invalid, expired or revoked)",
            403: f"the auth token {self.config.auth} may not {doing} (HTTP 403)",
        }.get(status, f"HTTP {status} while trying to {doing}")
        return TargetError(self.name, f"{host}: {reason}{api_message(reply, value, self._auth)}")
