"""One registry contract, run against every registry with an API: the stand-ins for GitHub,
GitLab, Docker Hub and crates.io (tests/registry_standins.py, from REFERENCE.md only) and a
real verdaccio for npm. Everything goes through the `tokens` command and `--repository`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Callable

import pytest

from tests import servers
from tests.registry_standins import StandIn

VERIFY_KEYS = {"name", "result", "owner", "expires_at", "scopes", "last_used_at", "checked_at"}


@dataclass
class Provider:
    kind: str
    repository: str
    live: Callable[[], tuple[str, str]]  # -> (value, owner shown by verify)
    dead_value: str
    verifies: bool = True
    revokes: bool = True
    standin: StandIn | None = None


@pytest.fixture(scope="module")
def standins():
    started = {kind: StandIn(kind).start() for kind in ("github", "gitlab", "crates", "dockerhub")}
    yield started
    for s in started.values():
        s.stop()


def _github(s: StandIn) -> Provider:
    def live():
        value = "ghp_" + secrets.token_hex(16)
        s.tokens[value] = {"login": "octo", "expires": "2031-03-01 12:00:00 UTC", "scopes": "repo, workflow"}
        return value, "octo"

    return Provider("github", s.url, live, "ghp_" + "0" * 32, revokes=False, standin=s)


def _gitlab(s: StandIn) -> Provider:
    def live():
        value = "glpat-" + secrets.token_hex(10)
        s.tokens[value] = {"user_id": 42, "scopes": ["api", "read_api"], "expires_at": "2031-05-01"}
        return value, "user 42"

    return Provider("gitlab", s.url, live, "glpat-" + "0" * 20, standin=s)


def _dockerhub(s: StandIn) -> Provider:
    def live():
        value = "dckr_pat_" + secrets.token_hex(12)
        s.tokens[value] = {"user": "whale"}
        return value, "whale"

    return Provider("dockerhub", s.url.replace("http://", "http://whale@"), live, "dckr_pat_" + "0" * 24, revokes=False, standin=s)


def _crates(s: StandIn) -> Provider:
    def live():
        value = "cio" + secrets.token_hex(16)
        s.tokens[value] = {}
        return value, None

    return Provider("crates", s.url, live, "cio" + "0" * 32, verifies=False, standin=s)


def _npm(registry: str) -> Provider:
    def live():
        user = "u" + secrets.token_hex(4)
        password = "pw-" + secrets.token_hex(8)
        login = servers.npm_user(registry, user, password)
        value, _key = servers.npm_token(registry, login, password)
        return value, user

    return Provider("npm", registry, live, "bm90LWEtdG9rZW4tYXQtYWxsLXJlYWxseQ==")


@pytest.fixture(params=["github", "gitlab", "dockerhub", "crates", "npm"])
def provider(request, standins) -> Provider:
    if request.param == "npm":
        return _npm(request.getfixturevalue("verdaccio").url)
    builder = {"github": _github, "gitlab": _gitlab, "dockerhub": _dockerhub, "crates": _crates}[request.param]
    return builder(standins[request.param])


def _add(tokens, provider: Provider, name: str, value: str) -> None:
    result = tokens("add", name, "--kind", provider.kind, "--repository", provider.repository, input=value + "\n")
    assert result.returncode == 0, result


def test_verify_live_and_invalid(tokens, file_keyring, provider):
    value, owner = provider.live()
    _add(tokens, provider, "good", value)
    _add(tokens, provider, "bad", provider.dead_value)
    result = tokens("verify", "--json")
    data = {row["name"]: row for row in json.loads(result.stdout)}
    assert all(set(row) == VERIFY_KEYS for row in data.values())
    if not provider.verifies:
        assert data["good"]["result"] == data["bad"]["result"] == "unknown"
        assert result.returncode == 0, result
        return
    assert data["good"]["result"] == "live" and data["good"]["owner"] == owner
    assert data["bad"]["result"] == "invalid"
    assert result.returncode == 1, result
    assert value not in result.stdout + result.stderr
    shown = json.loads(tokens("show", "good", "--json").stdout)
    assert shown["verify_result"] == "live" and shown["verified_at"]
    listed = {row["name"]: row for row in json.loads(tokens("list", "--json").stdout)}
    assert listed["bad"]["status"] == "invalid" and listed["good"]["status"] != "invalid"


def test_revoke_then_verify_is_invalid(tokens, file_keyring, provider):
    value, _owner = provider.live()
    _add(tokens, provider, "tok", value)
    result = tokens("revoke", "tok", "--yes")
    assert result.returncode == 0, result
    assert value not in result.stdout + result.stderr
    listed = json.loads(tokens("list", "--json").stdout)
    assert listed[0]["status"] == "revoked"
    assert tokens("get", "tok").stdout.strip() == value  # the value stays in its store
    if provider.revokes and provider.verifies:
        after = json.loads(tokens("verify", "tok", "--json").stdout)
        assert after[0]["result"] == "invalid"
    if provider.revokes and provider.standin is not None:
        assert value in provider.standin.revoked
    if not provider.revokes:
        assert "open " in result.stderr  # the guided steps: the registry's page


def test_value_only_sent_to_its_registry(tokens, file_keyring, standins):
    """A token goes to the registry its repository names, and nowhere else."""
    gh, gl = standins["github"], standins["gitlab"]
    gh.seen.clear()
    gl.seen.clear()
    value, _ = _github(gh).live()
    _add(tokens, _github(gh), "gh", value)
    assert tokens("verify").returncode == 0
    assert any(value in s.credential for s in gh.seen)
    assert not any(value in s.credential for s in gl.seen)
