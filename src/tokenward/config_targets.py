"""`[targets.NAME]` in the config: CI secrets that hold a token (targets/), each key checked
at load like every table (config.py calls this only when the config has such tables, so a
plain `get` or `exec --token` never loads this module)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tokenward.config import STORE_NAME_PATTERN, _check_keys, _where, http_url_problem, table_type
from tokenward.errors import ConfigError
from tokenward.plain import Plain

# [targets.NAME]: CI secrets that hold a token (targets/). Every key, by target type.
TARGET_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "github-actions": {
        "type": str, "token": str, "auth": str, "repo": str, "environment": str, "secret": str, "api_url": str,
    },
    "gitlab-ci": {
        "type": str, "token": str, "auth": str, "project": str, "variable": str, "environment_scope": str,
        "masked": bool, "protected": bool, "api_url": str,
    },
}  # fmt: skip
TARGET_REQUIRED = {"github-actions": ("token", "auth", "repo", "secret"), "gitlab-ci": ("token", "auth", "project", "variable")}
TARGET_DEFAULTS: dict[str, dict[str, Any]] = {
    "github-actions": {"environment": "", "api_url": "https://api.github.com"},
    # masked: a token should never show in a job log; protected is GitLab's own default.
    "gitlab-ci": {"environment_scope": "*", "masked": True, "protected": False, "api_url": "https://gitlab.com"},
}
GITHUB_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
# GitHub: letters, digits and _, not starting with a digit nor GITHUB_ (its documented naming rules).
GITHUB_SECRET = re.compile(r"(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]{0,199}", re.IGNORECASE)  # names are case-insensitive
GITHUB_ENVIRONMENT = re.compile(r"[^/\\\x00-\x1f\x7f]{1,255}")
GITLAB_PROJECT = re.compile(r"[0-9]{1,18}|[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*){1,20}")
GITLAB_VARIABLE = re.compile(r"[A-Za-z0-9_]{1,255}")


class TargetConfig(Plain):
    """One [targets.NAME] table: a CI secret that holds `token`, written with `auth`."""

    __slots__ = ("name", "type", "token", "auth", "options")

    def __init__(self, name: str, type: str, token: str, auth: str, options: dict[str, Any]) -> None:  # noqa: A002
        self.name = name
        self.type = type
        self.token = token
        self.auth = auth
        self.options = options

    def get(self, key: str) -> Any:
        value = self.options.get(key)
        return TARGET_DEFAULTS[self.type].get(key) if value is None or value == "" else value


def parse_targets(tables: dict, path: Path) -> dict[str, TargetConfig]:
    """[targets.NAME] tables, every key checked (the token names are checked against the
    inventory when a target is used: targets/push.py)."""
    from tokenward.inventory import NAME_RE

    targets: dict[str, TargetConfig] = {}
    for name, table in tables.items():
        where = f"targets.{name}"
        if not re.fullmatch(STORE_NAME_PATTERN, name):
            raise ConfigError(f"{path}: targets.{name!r} is not a valid target name (letters, digits, . _ -)")
        kind = table_type(path, where, table, name, TARGET_KEYS)
        _check_keys(path, where, table, TARGET_KEYS[kind])
        for key in TARGET_REQUIRED[kind]:
            if not table.get(key):
                raise ConfigError(f"{_where(path, f'{where}.{key}')} is missing (a {kind} target needs {', '.join(TARGET_REQUIRED[kind])})")
        for key in ("token", "auth"):
            if not NAME_RE.fullmatch(table[key]):
                raise ConfigError(f"{_where(path, f'{where}.{key}')} is not a valid token name")
        problem = _target_problem(kind, table)
        if problem:
            key, why = problem
            raise ConfigError(f"{_where(path, f'{where}.{key}')} {why}")
        options = {k: v for k, v in table.items() if k not in ("type", "token", "auth")}
        targets[name] = TargetConfig(name, kind, table["token"], table["auth"], options)
    seen: dict[tuple, str] = {}
    for name, target in targets.items():
        key = destination(target)
        if key in seen:
            raise ConfigError(
                f"{path}: targets.{seen[key]} and targets.{name} name the same CI secret "
                f"({target.type} {destination_text(target)}): one would overwrite the other; keep one"
            )
        seen[key] = name
    return targets


def destination(target: TargetConfig) -> tuple:
    """What a target writes, as the CI system tells places apart: GitHub's owner, repository,
    environment and secret names are case-insensitive; a GitLab variable is its project,
    key and environment scope (project paths are case-insensitive, keys are not)."""
    from urllib.parse import urlsplit

    parts = urlsplit(target.get("api_url"))
    base = (parts.scheme.lower(), (parts.netloc or "").lower(), parts.path.rstrip("/"))
    if target.type == "github-actions":
        names = (target.get("repo").lower(), (target.get("environment") or "").lower(), target.get("secret").upper())
    else:
        base = (*base[:2], base[2].removesuffix("/api/v4"))
        names = (target.get("project").lower(), target.get("variable"), target.get("environment_scope"))
    return (target.type, *base, *names)


def destination_text(target: TargetConfig) -> str:
    from tokenward.registries.http import host_of

    host = host_of(target.get("api_url"))
    if target.type == "github-actions":
        env = target.get("environment")
        return f"{host} {target.get('repo')}{f' environment {env}' if env else ''} secret {target.get('secret')}"
    return f"{host} {target.get('project')} variable {target.get('variable')} (scope {target.get('environment_scope')})"


def _target_problem(kind: str, table: dict) -> tuple[str, str] | None:
    """(key, why) for the first value the CI system would refuse or that is not what it names."""
    api_url = table.get("api_url", "")
    if api_url:
        from urllib.parse import urlsplit

        parts = urlsplit(api_url)
        problem = http_url_problem(api_url)
        if problem:
            return "api_url", f"must be an http(s) URL with a host ({problem})"
        if parts.username is not None or parts.password is not None:
            return "api_url", "must not carry a user name or password (the auth token is sent in a header)"
        if parts.query or parts.fragment:
            return "api_url", "must not have a query or fragment"
    if kind == "github-actions":
        if not GITHUB_REPO.fullmatch(table["repo"]) or {".", ".."} & set(table["repo"].split("/")):
            return "repo", "must be OWNER/NAME (letters, digits, . _ -)"
        if not GITHUB_SECRET.fullmatch(table["secret"]):
            return "secret", "must be letters, digits and _, not starting with a digit or GITHUB_ (GitHub's secret names)"
        environment = table.get("environment", "")
        if environment and (
            not GITHUB_ENVIRONMENT.fullmatch(environment) or environment.strip() != environment or environment in (".", "..")
        ):
            return "environment", "must be an environment name (no /, no control characters, no surrounding spaces)"
    else:
        if not GITLAB_PROJECT.fullmatch(table["project"]):
            return "project", "must be a numeric project id or its path GROUP/NAME"
        if not GITLAB_VARIABLE.fullmatch(table["variable"]):
            return "variable", "must be 1-255 letters, digits and _ (GitLab's variable keys)"
        scope = table.get("environment_scope", "*")
        if not scope or len(scope) > 255 or scope.strip() != scope:
            return "environment_scope", "must be an environment name or pattern (\"*\" for all)"
    for key in TARGET_PATH_KEYS[kind]:
        if table.get(key) and not url_segments_safe(table[key], several=key in ("repo", "project")):
            return key, DOT_SEGMENT
    return None


# The target keys that become path segments of an API URL (each quoted with safe="").
TARGET_PATH_KEYS = {"github-actions": ("repo", "environment", "secret"), "gitlab-ci": ("project", "variable")}
DOT_SEGMENT = (
    "must not be or contain an empty, \".\" or \"..\" path segment (also percent-encoded): "
    "a URL client or server would resolve it to another place"
)


def url_segments_safe(value: str, *, several: bool = False) -> bool:
    """False when `value`, percent-decoded as often as a server might, is or holds a segment
    that URL clients and servers resolve ("", ".", ".."), or (a single name) a / or \\ at all."""
    from urllib.parse import unquote

    decoded = value
    for _ in range(5):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    for text in {value, decoded}:
        pieces = re.split(r"[/\\]", text)
        if not several and len(pieces) > 1:
            return False
        if any(piece.strip() in ("", ".", "..") for piece in pieces):
            return False
    return True
