"""What `verify` and `revoke` change for a user: status in list/show/remind/exec, PyPI's
offline answer, the team's view through Vault/AWS metadata, and npm end to end on a real
verdaccio (publish with the chosen token, a wrong token refused, verify, revoke)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys

import pytest
from pypitoken import Token

from tests import servers
from tests.registry_standins import StandIn
from tests.test_sync import team  # noqa: F401 - the two-machine fixture (OpenBao, moto, keyring)

GH = "ghp_" + "v3" * 18


@pytest.fixture(scope="module")
def gh():
    s = StandIn("github").start()
    yield s
    s.stop()


@pytest.fixture
def live_gh(tokens, file_keyring, gh):
    gh.reset()
    gh.tokens[GH] = {"login": "octo"}
    assert tokens("add", "gh", "--kind", "github", "--repository", gh.url, "--rotate-every", "1y", input=GH).returncode == 0
    return gh


def _status(tokens, name):
    return {r["name"]: r for r in json.loads(tokens("list", "--json").stdout)}[name]["status"]


def test_registry_expiry_is_the_effective_deadline(tokens, live_gh):
    live_gh.tokens[GH]["expires"] = "2020-01-01 00:00:00 UTC"  # the registry's word, before rotation is due
    assert tokens("verify", "gh").returncode == 1  # a past registry expiry is `expired`
    assert _status(tokens, "gh") == "expired"
    assert "expired" in tokens("list").stdout
    remind = tokens("remind")
    assert remind.returncode == 1 and "gh (github, expired" in remind.stdout


def test_revoked_wins_in_list_remind_and_exec_until_rotated(tokens, live_gh):
    live_gh.tokens.clear()
    assert tokens("verify", "gh").returncode == 1
    assert _status(tokens, "gh") == "invalid"
    remind = tokens("remind", "--json")
    assert remind.returncode == 1 and json.loads(remind.stdout)["summary"]["invalid"] == 1
    refused = tokens("exec", "--token", "gh", "--", sys.executable, "-c", "print('ran')")
    assert refused.returncode == 2 and "invalid at its registry" in refused.stderr and "ran" not in refused.stdout
    assert tokens("revoke", "gh", "--yes").returncode == 0
    assert _status(tokens, "gh") == "revoked"
    assert tokens("list", "--status", "revoked").stdout.count("gh") == 1
    # A new value: what the registry said about the old one no longer counts.
    assert tokens("rotate", "gh", input="ghp_" + "n4" * 18).returncode == 0
    assert _status(tokens, "gh") == "ok"


def test_a_rotation_in_the_same_second_as_the_revoke_clears_it(tokens, live_gh, data_dir):
    """The registry's word is about the value it saw: a rotation clears it even when the
    clock cannot order the two (revoke and rotate in one second, or a clock step back)."""
    import sqlite3

    assert tokens("revoke", "gh", "--yes").returncode == 0
    with sqlite3.connect(data_dir / "inventory.sqlite3") as db:
        db.execute("UPDATE tokens SET verified_at = '2099-01-01T00:00:00+00:00' WHERE name = 'gh'")
    assert _status(tokens, "gh") == "revoked"
    assert tokens("rotate", "gh", input="ghp_" + "s5" * 18).returncode == 0
    assert _status(tokens, "gh") == "ok"
    shown = json.loads(tokens("show", "gh", "--json").stdout)
    assert shown["verify_result"] is None and shown["verified_at"] is None


def test_revoke_needs_confirmation_without_a_terminal(tokens, live_gh):
    result = tokens("revoke", "gh")
    assert result.returncode == 2 and "pass --yes" in result.stderr
    assert _status(tokens, "gh") == "ok"


def test_pypi_is_checked_offline_from_its_caveats(tokens, file_keyring):
    token = Token.create(domain="pypi.org", identifier="x", key="k" * 32)
    token.restrict(project_names=["foo"])
    assert tokens("add", "pypi-foo", input=token.dump()).returncode == 0
    old = Token.create(domain="pypi.org", identifier="y", key="k" * 32)
    old.restrict(not_before=1_600_000_000, not_after=1_600_000_600)
    assert tokens("add", "pypi-old", input=old.dump()).returncode == 0
    result = tokens("verify")
    assert result.returncode == 1, result
    assert "PyPI offers no verification API" in result.stderr
    rows = {r["name"]: r for r in json.loads(tokens("verify", "--json").stdout)}
    assert rows["pypi-foo"]["result"] == "unknown" and rows["pypi-foo"]["scopes"] == ["project:foo"]
    assert rows["pypi-old"]["result"] == "expired"
    assert tokens("verify", "pypi-foo").returncode == 0
    guided = tokens("revoke", "pypi-foo", "--yes")
    assert guided.returncode == 0 and "PyPI has no API to revoke a token" in guided.stderr
    assert "https://pypi.org/manage/account/token/" in guided.stderr


def test_github_leaked_value_goes_to_credentials_revoke(tokens, live_gh):
    result = tokens("revoke", "gh", "--leaked", "--yes")
    assert result.returncode == 0, result
    assert GH in live_gh.revoked
    assert [s.path for s in live_gh.seen] == ["/api/v3/credentials/revoke"]


def test_a_teammate_sees_the_verify_result(team, gh):  # noqa: F811
    gh.reset()
    me = team.machine("laptop")
    mate = team.machine("teammate", stores=("keyring", "vault"))
    value = team.value("github")
    gh.tokens[value] = {"login": "octo", "expires": "2031-03-01 12:00:00 UTC"}
    assert me("add", "gh-team", "--kind", "github", "--repository", gh.url, input=value).returncode == 0
    assert me("verify", "gh-team").returncode == 0
    gh.tokens.clear()
    assert me("revoke", "gh-team", "--yes").returncode == 0
    joined = mate("sync", "--discover")
    assert joined.returncode == 0, joined
    shown = json.loads(mate("show", "gh-team", "--json").stdout)
    assert shown["verify_result"] == "revoked" and shown["status"] == "revoked"
    assert shown["registry_expires_at"] == "2031-03-01T12:00:00+00:00"
    assert me.store("vault").get("gh-team") == value  # no new version was written for metadata
    assert me("sync", "--dry-run").returncode == 0


# -- npm on a real verdaccio -----------------------------------------------------------


@pytest.fixture
def npm_account(verdaccio):
    user = "pub" + secrets.token_hex(3)
    password = "pw-" + secrets.token_hex(8)
    login = servers.npm_user(verdaccio.url, user, password)
    value, key = servers.npm_token(verdaccio.url, login, password)
    return user, value, key


def test_npm_publish_verify_and_revoke_on_verdaccio(tokens, file_keyring, verdaccio, npm_account, tmp_path):
    if shutil.which("npm") is None:
        servers.unavailable("npm is not installed")
    user, value, key = npm_account
    registry = verdaccio.url
    assert tokens("add", "npm-pub", "--kind", "npm", "--repository", registry, input=value).returncode == 0
    package = tmp_path / "pkg"
    package.mkdir()
    name = f"tokenward-e2e-{secrets.token_hex(3)}"
    (package / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    (package / "index.js").write_text("module.exports = 1;\n")
    home = tmp_path / "npm-home"
    home.mkdir()
    npm_env = {"HOME": str(home), "npm_config_cache": str(tmp_path / "npm-cache"), "CI": "true"}

    def publish(token_name):
        exe = servers.find_tool("tokens")
        return subprocess.run(
            [exe, "exec", "--token", token_name, "--", "npm", "publish", "--registry", registry],
            cwd=package, capture_output=True, text=True, timeout=180, env={**os.environ, **npm_env},
        )

    # A wrong token first: npm's own refusal, exit status passed through, nothing leaks.
    wrong = "bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtMDEyMzQ1Njc4OQ=="
    assert tokens("add", "npm-wrong", "--kind", "npm", "--repository", registry, input=wrong).returncode == 0
    refused = publish("npm-wrong")
    assert refused.returncode != 0
    assert "E401" in refused.stdout + refused.stderr or "E403" in refused.stdout + refused.stderr, refused
    assert wrong not in refused.stdout + refused.stderr

    done = publish("npm-pub")
    assert done.returncode == 0, done
    assert value not in done.stdout + done.stderr
    with servers.urllib.request.urlopen(
        servers.urllib.request.Request(f"{registry.rstrip('/')}/{name}", headers={"Authorization": f"Bearer {value}"}),
        timeout=30,
    ) as answer:
        assert json.loads(answer.read())["versions"]["1.0.0"]["name"] == name

    verified = tokens("verify", "npm-pub", "npm-wrong", "--json")
    rows = {r["name"]: r for r in json.loads(verified.stdout)}
    assert rows["npm-pub"]["result"] == "live" and rows["npm-pub"]["owner"] == user
    assert rows["npm-wrong"]["result"] == "invalid"
    assert json.loads(tokens("show", "npm-pub", "--json").stdout)["verify_result"] == "live"

    revoked = tokens("revoke", "npm-pub", "--yes")
    assert revoked.returncode == 0, revoked
    assert f"DELETE /-/npm/v1/tokens/token/{key}" in revoked.stderr
    again = tokens("verify", "npm-pub", "--json")
    assert again.returncode == 1 and json.loads(again.stdout)[0]["result"] == "invalid"
    assert tokens("get", "npm-pub").stdout.strip() == value


@pytest.mark.parametrize("fault", [None, "5xx", "malformed", "redirect", "wrong-types"])
def test_verify_and_revoke_never_show_the_value(tokens, file_keyring, gh, data_dir, fault):
    from tests.conftest import CANARY

    gh.reset()
    gh.tokens[CANARY] = {"login": "octo"}
    assert tokens("add", "leak", "--kind", "github", "--repository", gh.url, input=CANARY).returncode == 0
    gh.fault = fault
    runs = [
        tokens("verify"),
        tokens("--debug", "verify", "--json"),
        tokens("revoke", "leak", "--leaked", "--yes"),
        tokens("--debug", "verify", "leak"),
    ]
    for result in runs:
        assert CANARY not in result.stdout and CANARY not in result.stderr, result
        assert "Traceback" not in result.stderr
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_bytes().decode("latin-1"), path
    assert any(CANARY in s.credential for s in gh.seen)  # it did go to its registry


def test_remind_verify_asks_first_and_plain_remind_stays_offline(tokens, live_gh):
    live_gh.tokens.clear()  # revoked at the registry since it was added
    plain = tokens("remind")
    assert plain.returncode == 0 and live_gh.seen == []  # offline: it cannot know
    checked = tokens("remind", "--verify")
    assert checked.returncode == 1, checked
    assert "Refused by the registry (1):" in checked.stdout and "gh (github, invalid" in checked.stdout
    live_gh.fault = "5xx"
    flaky = tokens("remind", "--verify")
    assert "gh: not verified: registry 127.0.0.1:" in flaky.stderr and flaky.returncode == 1
    assert tokens("remind", "--verify", "--store", "x").returncode == 2


def test_exec_chooses_around_a_revoked_token(tokens, file_keyring, tmp_path):
    def pypi(identifier):
        return Token.create(domain="pypi.org", identifier=identifier, key="k" * 32).dump()

    assert tokens("add", "pypi-old", input=pypi("old")).returncode == 0
    assert tokens("add", "pypi-new", input=pypi("new")).returncode == 0
    fake = tmp_path / "bin" / "twine"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho uploaded\n")
    fake.chmod(0o755)
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "foo-1.0.tar.gz").write_bytes(b"")
    env = {"PATH": f"{fake.parent}:{os.environ['PATH']}"}
    argv = ("exec", "--", "twine", "upload", str(dist / "foo-1.0.tar.gz"))
    tie = tokens(*argv, env=env)
    assert tie.returncode == 2 and "uploaded" not in tie.stdout  # two user-wide tokens: a tie
    assert tokens("revoke", "pypi-old", "--yes").returncode == 0
    chosen = tokens(*argv, env=env)
    assert chosen.returncode == 0 and "uploaded" in chosen.stdout, chosen
    assert json.loads(tokens("show", "pypi-new", "--json").stdout)["last_used_at"]
    assert json.loads(tokens("show", "pypi-old", "--json").stdout)["last_used_at"] is None


def test_rotate_leaked_revokes_the_old_value_at_the_registry(tokens, file_keyring):
    gl = StandIn("gitlab").start()
    try:
        old, new = "glpat-" + "o1" * 10, "glpat-" + "n2" * 10
        gl.tokens[old] = {"user_id": 3}
        gl.tokens[new] = {"user_id": 3}
        assert tokens("add", "gl", "--kind", "gitlab", "--repository", gl.url, input=old).returncode == 0
        piped = tokens("rotate", "--leaked", "gl", input=new)
        assert piped.returncode == 0, piped
        assert "rerun with --yes" in piped.stderr and old not in gl.revoked  # asked, not done
        assert tokens("add", "gl2", "--kind", "gitlab", "--repository", gl.url, input=old).returncode == 0
        result = tokens("rotate", "--leaked", "gl2", "--yes", input="glpat-" + "m3" * 10)
        assert result.returncode == 0, result
        assert old in gl.revoked and "DELETE /personal_access_tokens/self" in result.stderr
        assert "NOW: revoke" not in result.stderr
        assert old not in result.stdout + result.stderr
        assert _status(tokens, "gl2") == "ok"  # the new value is not the revoked one
    finally:
        gl.stop()
