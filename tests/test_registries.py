"""Registry faults against the stand-ins: a registry down, slow, rate limiting, answering
garbage or redirecting elsewhere. Through `tokens verify` where a user would see it; the
HTTP client directly where the behaviour is its own (timeouts, TLS settings)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.registry_standins import StandIn
from tokenward.errors import RegistryUnreachable
from tokenward.registries import github, gitlab, npm
from tokenward.registries.base import clean_text, parse_time, root_of
from tokenward.registries.http import HttpClient

GH_OK = "ghp_" + "a1" * 18
GH_OTHER = "ghp_" + "b2" * 18
GL_OK = "glpat-" + "c3" * 10


@pytest.fixture(scope="module")
def gh():
    s = StandIn("github").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gl():
    s = StandIn("gitlab").start()
    yield s
    s.stop()


@pytest.fixture
def two(tokens, file_keyring, gh, gl):
    """One GitHub and one GitLab token, each on its stand-in."""
    gh.reset()
    gl.reset()
    gh.tokens[GH_OK] = {"login": "octo", "expires": "2031-03-01 12:00:00 UTC", "scopes": "repo, workflow"}
    gl.tokens[GL_OK] = {"user_id": 5, "scopes": ["api"], "expires_at": "2031-01-31", "last_used_at": "2026-11-01T10:00:00Z"}
    assert tokens("add", "gh", "--kind", "github", "--repository", gh.url, input=GH_OK).returncode == 0
    assert tokens("add", "gl", "--kind", "gitlab", "--repository", gl.url, input=GL_OK).returncode == 0
    return gh, gl


def _rows(result) -> dict:
    return {row["name"]: row for row in json.loads(result.stdout)}


def _db(data_dir):
    conn = sqlite3.connect(data_dir / "inventory.sqlite3")
    conn.row_factory = sqlite3.Row
    return {r["name"]: dict(r) for r in conn.execute("SELECT * FROM tokens")}


def test_verify_reads_fields_from_headers_and_json(tokens, two):
    result = tokens("verify", "--json")
    rows = _rows(result)
    assert result.returncode == 0, result
    assert rows["gh"] == {
        "name": "gh", "result": "live", "owner": "octo", "expires_at": "2031-03-01T12:00:00+00:00",
        "scopes": ["repo", "workflow"], "last_used_at": None, "checked_at": rows["gh"]["checked_at"],
    }  # fmt: skip
    assert rows["gl"]["owner"] == "user 5" and rows["gl"]["expires_at"] == "2031-01-31T00:00:00+00:00"
    assert rows["gl"]["scopes"] == ["api"] and rows["gl"]["last_used_at"] == "2026-11-01T10:00:00+00:00"
    text = tokens("verify")
    assert text.stdout.splitlines()[0].split() == ["NAME", "KIND", "RESULT", "OWNER", "EXPIRES", "SCOPES", "LAST", "USED"]
    shown = json.loads(tokens("show", "gh", "--json").stdout)
    assert shown["registry_expires_at"] == "2031-03-01T12:00:00+00:00" and shown["registry_scopes"] == ["repo", "workflow"]


@pytest.mark.parametrize("fault", ["5xx", "malformed", "huge", "ratelimit-long", "redirect", "wrong-types"])
def test_a_failing_registry_is_unreachable_and_changes_nothing(tokens, two, data_dir, fault):
    gh, gl = two
    before = _db(data_dir)
    gh.fault = fault
    result = tokens("verify", "--json")
    rows = _rows(result)
    assert result.returncode == 3, result
    assert rows["gh"]["result"] == "unreachable"
    assert rows["gl"]["result"] == "live"  # the rest still verified
    assert "Traceback" not in result.stderr
    after = _db(data_dir)
    assert after["gh"] == before["gh"]  # nothing changed for that token
    assert after["gl"]["verify_result"] == "live"
    text = tokens("verify", "gh")
    assert text.returncode == 3 and "gh: unreachable: registry 127.0.0.1:" in text.stderr
    if fault == "redirect":
        assert "not followed with the token" in text.stderr
        assert not any(s.host.startswith("localhost") for s in gh.seen)  # the value never left for the other host
    if fault == "ratelimit-long":
        assert "retry after 3600s" in text.stderr


@pytest.mark.parametrize("fault", ["ratelimit", "github-ratelimit"])
def test_a_short_rate_limit_is_waited_out(tokens, two, fault):
    gh, _gl = two
    gh.fault = fault
    result = tokens("verify", "gh", "--json")
    assert result.returncode == 0, result
    assert _rows(result)["gh"]["result"] == "live"
    assert len([s for s in gh.seen if s.path == "/api/v3/user"]) == 2


def test_control_characters_from_the_registry_are_neutralised(tokens, two):
    gh, _gl = two
    gh.tokens[GH_OK] = {"login": "\x1b[31mevil\nline\u202e", "scopes": "repo,\x07bell"}
    result = tokens("verify", "gh")
    assert result.returncode == 0, result
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
    assert "?[31mevil?line?" in result.stdout


def test_invalid_revoked_and_expired_exit_1(tokens, two):
    gh, gl = two
    gh.tokens.clear()  # GitHub: 401
    gl.tokens[GL_OK]["expires_at"] = "2020-01-01"
    gl.tokens[GL_OK]["active"] = False
    result = tokens("verify", "--json")
    rows = _rows(result)
    assert result.returncode == 1, result
    assert rows["gh"]["result"] == "invalid" and rows["gl"]["result"] == "expired"
    gh.fault = "5xx"
    assert tokens("verify").returncode == 3  # 3 wins over 1


def test_unknown_name_is_bad_input_and_nothing_is_asked(tokens, two):
    gh, _gl = two
    result = tokens("verify", "nosuch")
    assert result.returncode == 2 and result.stderr.startswith("Error: no token named 'nosuch'")
    assert gh.seen == []


def test_timeout_is_unreachable(gh):
    gh.reset()
    gh.tokens[GH_OK] = {"login": "octo"}
    gh.fault = "slow"
    gh.slow_seconds = 2
    client = HttpClient(timeout=(2, 0.3), retries=0)
    with pytest.raises(RegistryUnreachable, match="timed out"):
        client.request("GET", gh.url + "api/v3/user", headers={"Authorization": f"Bearer {GH_OK}"})
    gh.fault = None


def test_tls_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/custom.pem")
    assert HttpClient().verify == "/etc/ssl/custom.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/requests.pem")
    assert HttpClient().verify == "/etc/ssl/requests.pem"


def test_api_bases_follow_the_repository():
    assert github.api_base("https://github.com/") == "https://api.github.com"
    assert github.api_base("") == "https://api.github.com"
    assert github.api_base("https://ghe.example.com/") == "https://ghe.example.com/api/v3"
    assert github.api_base("https://ghe.example.com:8443/api/v3/") == "https://ghe.example.com:8443/api/v3"
    assert gitlab.api_base("https://gitlab.com/") == "https://gitlab.com/api/v4"
    assert gitlab.api_base("https://git.example.org/") == "https://git.example.org/api/v4"
    assert npm.api_base("https://registry.npmjs.org/") == "https://registry.npmjs.org"
    assert npm.api_base("https://art.example.com/api/npm/npm-local/") == "https://art.example.com/api/npm/npm-local"
    # Plain http only where the repository itself says so.
    assert github.api_base("http://127.0.0.1:9/").startswith("http://127.0.0.1:9")
    with pytest.raises(RegistryUnreachable):
        root_of("ftp://example.com/", "https://x/")


def test_hostile_values_are_cleaned():
    assert clean_text(["list"]) is None and clean_text(True) is None and clean_text({"a": 1}) is None
    assert clean_text("a" * 500).endswith("...") and len(clean_text("a" * 500)) == 200
    assert parse_time("2026-03-01 12:00:00 UTC").isoformat() == "2026-03-01T12:00:00+00:00"
    assert parse_time("not a date") is None and parse_time(12) is None and parse_time("9" * 100) is None


def test_abilities_match_the_contract_table():
    """SPEC Part 2's table: which registries verify, revoke by API, or take leaked values."""
    from datetime import datetime, timezone

    from tokenward.inventory import TokenRecord
    from tokenward.registries.base import LeakReporter, Registry, Revoker, Verifier, open_registry

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    table = {
        "pypi": set(), "testpypi": set(), "github": {"leak"}, "gitlab": {"revoke"},
        "npm": {"revoke"}, "crates": {"revoke"}, "dockerhub": set(), "generic": set(),
    }  # fmt: skip
    for kind, abilities in table.items():
        record = TokenRecord(name="t", kind=kind, created_at=now, rotated_at=now, stores=(), fingerprint="")
        registry = open_registry(record, HttpClient(), now)
        assert isinstance(registry, Registry) and isinstance(registry, Verifier), kind
        found = {"revoke"} if isinstance(registry, Revoker) else set()
        found |= {"leak"} if isinstance(registry, LeakReporter) else set()
        assert found == abilities, kind
