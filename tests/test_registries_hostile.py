"""A hostile registry, or a teammate's hostile metadata, against verify and revoke: a planted
npm key, key grammar and success statuses, implausible dates, a value echoed back, a past
registry expiry, and answers that trickle or ask for day-long waits. The registries are the
stand-ins of tests/registry_standins.py (npm's token list there is what the test writes)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.registry_standins import StandIn
from tests.test_sync import team  # noqa: F401 - the two-machine fixture (OpenBao, moto, keyring)
from tokenward.errors import RegistryUnreachable
from tokenward.registries.http import HttpClient

NPM_CI = "npm_" + "Ci" * 18
NPM_OTHER = "npm_" + "Ot" * 18
GH = "ghp_" + "Xk9Qm2Lp7Rt4Vw8Zs1Yb3Nc6Hd5Jf0Ga2Ue4"


@pytest.fixture(scope="module")
def npm_standin():
    s = StandIn("npm").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gh_standin():
    s = StandIn("github").start()
    yield s
    s.stop()


@pytest.fixture
def npm(tokens, file_keyring, npm_standin):
    """Two tokens of one npm account: npm-ci (key KEY-A) and npm-other (key KEY-B)."""
    npm_standin.reset()
    npm_standin.tokens[NPM_CI] = {"user": "ci", "key": "KEY-A"}
    npm_standin.tokens[NPM_OTHER] = {"user": "ci", "key": "KEY-B"}
    for name, value in (("npm-ci", NPM_CI), ("npm-other", NPM_OTHER)):
        assert tokens("add", name, "--kind", "npm", "--repository", npm_standin.url, input=value).returncode == 0
    return npm_standin


@pytest.fixture
def gh(tokens, file_keyring, gh_standin):
    gh_standin.reset()
    gh_standin.tokens[GH] = {"login": "octo"}
    assert tokens("add", "gh", "--kind", "github", "--repository", gh_standin.url, input=GH).returncode == 0
    return gh_standin


def _deletes(standin: StandIn) -> list[str]:
    return [s.path for s in standin.seen if s.method == "DELETE"]


def _show(tokens, name: str) -> dict:
    return json.loads(tokens("show", name, "--json").stdout)


# -- item 1: revoke re-derives the key; a planted key is never used ---------------------


def test_revoke_ignores_a_planted_key_and_rederives_it(tokens, npm, data_dir):
    assert tokens("verify", "npm-ci").returncode == 0
    with sqlite3.connect(data_dir / "inventory.sqlite3") as conn:  # what sync --discover used to plant
        conn.execute("UPDATE tokens SET registry_key = 'KEY-B' WHERE name = 'npm-ci'")
    result = tokens("revoke", "npm-ci", "--yes")
    assert result.returncode == 0, result
    assert _deletes(npm) == ["/-/npm/v1/tokens/token/KEY-A"]
    assert NPM_CI in npm.revoked and NPM_OTHER not in npm.revoked


def test_a_teammates_metadata_cannot_pick_the_key(team, npm_standin):  # noqa: F811
    npm_standin.reset()
    me = team.machine("laptop", stores=("keyring", "vault"))
    mate = team.machine("teammate", stores=("keyring", "vault"))
    ci, other = team.value("npm"), team.value("npm")
    npm_standin.tokens[ci] = {"user": "ci", "key": "KEY-A"}
    npm_standin.tokens[other] = {"user": "ci", "key": "KEY-B"}
    for name, value in (("npm-ci", ci), ("npm-other", other)):
        assert me("add", name, "--kind", "npm", "--repository", npm_standin.url, input=value).returncode == 0
    assert me("verify").returncode == 0
    vault = me.store("vault")
    entry = vault.entry("npm-ci")
    assert "registry_key" not in entry.metadata  # not carried to shared metadata at all
    vault.put_metadata("npm-ci", {**entry.metadata, "registry_key": "KEY-B"}, entry.version)  # a hostile teammate
    assert mate("sync", "--discover").returncode == 0
    result = mate("revoke", "npm-ci", "--yes")
    assert result.returncode == 0, result
    assert _deletes(npm_standin) == ["/-/npm/v1/tokens/token/KEY-A"]
    assert other not in npm_standin.revoked


@pytest.mark.parametrize("listed", ["ambiguous", "absent"])
def test_revoke_refuses_when_the_list_does_not_name_one_token(tokens, npm, listed):
    masked = f"{NPM_CI[:5]}...{NPM_CI[-5:]}"
    npm.npm_list = (
        [{"token": masked, "key": "KEY-A"}, {"token": masked, "key": "KEY-C"}] if listed == "ambiguous" else []
    )
    result = tokens("revoke", "npm-ci", "--yes")
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "revoke it yourself at " + npm.url in lines[0]
    assert ("2 entries" in lines[0]) == (listed == "ambiguous")
    assert _deletes(npm) == [] and _show(tokens, "npm-ci")["status"] != "revoked"


# -- item 5: key grammar, quoted segments, the documented success status ---------------


@pytest.mark.parametrize("key", ["..", ".", "a/b", "%2e%2e", "a.b", "x:y", ""])
def test_a_key_outside_the_grammar_is_refused(tokens, npm, key):
    npm.npm_list = [{"token": f"{NPM_CI[:5]}...{NPM_CI[-5:]}", "key": key}]
    result = tokens("revoke", "npm-ci", "--yes")
    assert result.returncode == 3 and "no usable key" in result.stderr, result
    assert _deletes(npm) == [] and _show(tokens, "npm-ci")["status"] != "revoked"


def test_only_the_documented_status_counts_as_revoked(tokens, npm):
    npm.delete_status = 204  # npm documents 200
    result = tokens("revoke", "npm-ci", "--yes")
    assert result.returncode == 3 and "unexpected HTTP 204" in result.stderr, result
    assert _show(tokens, "npm-ci")["status"] != "revoked"


# -- item 2: implausible registry dates are ignored, with the reason --------------------


@pytest.mark.parametrize("header", ["0001-01-01 00:00:00 UTC", "9999-12-31 23:59:59 UTC", "1999-12-31 00:00:00 UTC"])
def test_an_implausible_registry_expiry_is_ignored(tokens, gh, header):
    gh.tokens[GH]["expires"] = header
    result = tokens("verify", "gh", "--json")
    assert result.returncode == 0, result
    assert json.loads(result.stdout)[0]["expires_at"] is None
    assert "gh: ignored GitHub-Authentication-Token-Expiration: not a plausible date" in result.stderr
    assert _show(tokens, "gh")["registry_expires_at"] is None
    calendar = tokens("calendar")
    assert calendar.returncode == 0 and "Traceback" not in calendar.stderr, calendar


# -- item 4: a value echoed by the registry is never printed or kept -------------------


@pytest.mark.parametrize("echo", ["whole", "piece", "broken", "upper"])
def test_an_echoed_value_is_dropped(tokens, gh, data_dir, echo):
    text = {
        "whole": GH,
        "piece": "user-" + GH[10:20],
        "broken": "?".join(GH[i : i + 6] for i in range(0, len(GH), 6)),
        "upper": GH.upper(),
    }[echo]
    gh.tokens[GH] = {"login": text, "scopes": f"repo, {text}"}
    runs = [tokens("verify", "gh"), tokens("verify", "gh", "--json"), tokens("list", "--json"), tokens("show", "gh", "--json")]
    rows = json.loads(runs[1].stdout)
    assert rows[0]["owner"] is None and rows[0]["scopes"] == ["repo"]
    for result in runs:
        assert result.returncode == 0, result
        for piece in (GH[i : i + 8] for i in range(len(GH) - 7)):
            assert piece not in result.stdout + result.stderr
    database = (data_dir / "inventory.sqlite3").read_bytes().decode("latin-1")
    assert GH[4:12] not in database and GH[4:12].upper() not in database
    assert "echoed the token's value" in runs[0].stderr


# -- item 6: a past registry expiry is `expired` for every registry --------------------


def test_a_past_github_expiry_is_expired(tokens, gh):
    gh.tokens[GH]["expires"] = "2020-01-01 00:00:00 UTC"
    result = tokens("verify", "gh", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)[0]["result"] == "expired", result
    assert _show(tokens, "gh")["status"] == "expired"


def test_a_past_npm_list_expiry_is_expired(tokens, npm):
    npm.npm_list = [{"token": f"{NPM_CI[:5]}...{NPM_CI[-5:]}", "key": "KEY-A", "expires": "2001-01-01T00:00:00Z"}]
    result = tokens("verify", "npm-ci", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)[0]["result"] == "expired", result


# -- item 3: a total deadline per request, a cap on waits per token --------------------


@pytest.mark.parametrize("fault", ["trickle", "trickle-headers"])
def test_a_trickling_answer_hits_the_deadline(gh_standin, fault):
    gh_standin.reset()
    gh_standin.fault = fault  # 30 bytes at 0.2 s each: 6 s, each byte well within the read timeout
    client = HttpClient(retries=0)
    client.deadline = 1.0
    try:
        with pytest.raises(RegistryUnreachable, match=r"took longer than 1s"):
            client.request("GET", gh_standin.url + "api/v3/user", headers={"Authorization": f"Bearer {GH}"})
    finally:
        client.close()
        gh_standin.fault = None


def test_retry_waits_are_capped_per_token(gh_standin):
    gh_standin.reset()
    gh_standin.fault = "5xx-long"  # 503 with Retry-After: 86400
    slept: list[float] = []
    client = HttpClient(sleep=slept.append)
    try:
        with pytest.raises(RegistryUnreachable, match=r"retry after 86400s"):
            client.for_token().request("GET", gh_standin.url + "api/v3/user")
        assert sum(slept) <= client.max_sleep
        gh_standin.fault = "5xx"  # backoff waits come out of the same budget
        token = client.for_token()
        token.sleep_left = 0.6
        with pytest.raises(RegistryUnreachable, match=r"HTTP 503"):
            token.request("GET", gh_standin.url + "api/v3/user")
        assert sum(slept) <= 0.6
    finally:
        client.close()
        gh_standin.fault = None


def test_the_time_bound_is_documented_where_users_look(tokens):
    from pathlib import Path

    from tokenward.registries.http import DEADLINE, MAX_SLEEP

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    verify_help = " ".join(tokens("verify", "--help").stdout.split())
    remind_help = " ".join(tokens("remind", "--help").stdout.split())
    for text in (readme, verify_help):
        assert f"within {DEADLINE:g} s in total" in " ".join(text.split())
        assert f"at most {MAX_SLEEP:g} s per token" in " ".join(text.split())
    assert f"ends within {DEADLINE:g} s" in remind_help
