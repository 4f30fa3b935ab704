"""`tokens rotate NAME --api`: GitLab's self-rotate against the stand-in (tests/registry_standins.py,
built from REFERENCE.md), npm's create/revoke against the real verdaccio; bad input; and crashes
(kill -9 at each step) that the next `tokens sync` or `tokens rotate` converges."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from datetime import date, timedelta

import pytest

from tests import servers
from tests.registry_standins import StandIn

GL = "glpat-" + "o1d" * 7


@pytest.fixture(scope="module")
def gitlab():
    s = StandIn("gitlab").start()
    yield s
    s.stop()


@pytest.fixture
def gl(tokens, file_keyring, gitlab):
    gitlab.reset()
    gitlab.tokens[GL] = {"scopes": ["api"]}
    added = tokens("add", "gl", "--kind", "gitlab", "--repository", gitlab.url, "--rotate-every", "90d", input=GL)
    assert added.returncode == 0, added
    return gitlab


def _new_values(standin: StandIn, old: str) -> list[str]:
    return [v for v in standin.tokens if v != old]


def _private_traces(data_dir) -> str:
    """Everything tokenward wrote to its data dir, as text (inventory, audit log, journal)."""
    out = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def _journal(data_dir) -> list[str]:
    directory = data_dir / "api-rotations"
    return sorted(p.name for p in directory.glob("*.json")) if directory.exists() else []


# -- GitLab: self-rotate on the stand-in ----------------------------------------------------------


def test_gitlab_self_rotate_stores_the_new_value_and_the_old_is_revoked(tokens, gl, data_dir):
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 0, result
    [new] = _new_values(gl, GL)
    assert tokens("get", "gl").stdout.strip() == new
    assert GL in gl.revoked and new not in gl.revoked
    assert gl.rotations == [(date.today() + timedelta(days=90)).isoformat()]
    assert "Rotated gl in keyring." in result.stderr and "is live at GitLab" in result.stderr
    shown = json.loads(tokens("show", "gl", "--json").stdout)
    assert shown["verify_result"] == "live" and shown["expires_at"].startswith(gl.rotations[0])
    for text in (result.stdout, result.stderr, _private_traces(data_dir)):
        assert new not in text and GL not in text
    assert _journal(data_dir) == []


def test_gitlab_expiry_is_capped_at_what_gitlab_allows(tokens, gl):
    assert tokens("edit", "gl", "--rotate-every", "2y").returncode == 0
    assert tokens("rotate", "gl", "--api").returncode == 0
    assert gl.rotations == [(date.today() + timedelta(days=365)).isoformat()]


def test_gitlab_token_without_rotate_scope_is_refused_and_nothing_changes(tokens, gl, data_dir):
    gl.tokens[GL]["scopes"] = ["read_api"]
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "`api` or `self_rotate`" in result.stderr
    assert tokens("get", "gl").stdout.strip() == GL and GL not in gl.revoked
    assert _new_values(gl, GL) == [] and _journal(data_dir) == []


def test_no_store_takes_the_new_value_so_it_is_revoked(tokens, gl, file_keyring, data_dir):
    lock = file_keyring.parent / (file_keyring.name + ".lock")
    lock.unlink()
    lock.mkdir()  # every keyring write now fails; reads still work
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    [new] = _new_values(gl, GL)
    assert new in gl.revoked  # the created value is dead...
    assert "no store took the new value of gl" in result.stderr and "it was revoked at GitLab" in result.stderr
    assert new not in result.stderr + result.stdout
    assert tokens("get", "gl").stdout.strip() == GL  # ...and the stores hold what they held
    assert _journal(data_dir) == []


# -- bad input ----------------------------------------------------------------------------------


def test_api_on_a_kind_without_a_create_api_names_the_guided_way(tokens, file_keyring):
    from pypitoken import Token

    token = Token.create(domain="pypi.org", identifier="x", key="k" * 32)
    assert tokens("add", "pypi-foo", input=token.dump()).returncode == 0
    result = tokens("rotate", "pypi-foo", "--api")
    assert result.returncode == 2
    assert result.stderr == (
        "Error: --api: PyPI has no API to create tokens (gitlab, npm only); rotate pypi-foo the guided way: "
        "`tokens rotate pypi-foo`\n"
    )
    assert tokens("get", "pypi-foo").stdout.strip() == token.dump()


def test_otp_without_api_is_refused(tokens, gl):
    result = tokens("rotate", "gl", "--otp", "123456", input="glpat-" + "n" * 20)
    assert result.returncode == 2 and result.stderr == "Error: --otp is for --api (the registry's one-time password); nothing changed\n"
    assert "123456" not in result.stderr
    assert tokens("get", "gl").stdout.strip() == GL


def test_rotate_api_config_is_checked_at_load(tokens, write_config):
    write_config('[rotate]\napi = ["gitlab", "pypi"]\n')
    result = tokens("list")
    assert result.returncode == 2 and "rotate.api: 'pypi': no API creates its tokens" in result.stderr
    write_config('[rotate]\napi = ["gitlab", "nosuchkind"]\n')
    assert "'nosuchkind': unknown kind" in tokens("list").stderr
    write_config('[rotate.npm]\nlogin = "../etc"\n')
    result = tokens("list")
    assert result.returncode == 2 and "rotate.npm.login: not a valid token name" in result.stderr


# -- npm: create and revoke on the real verdaccio ---------------------------------------------------


def _whoami(registry: str, value: str) -> str | None:
    request = urllib.request.Request(f"{registry.rstrip('/')}/-/whoami", headers={"Authorization": f"Bearer {value}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read()).get("username")
    except urllib.error.HTTPError:
        return None


def _token_keys(registry: str, value: str) -> list[str]:
    request = urllib.request.Request(f"{registry.rstrip('/')}/-/npm/v1/tokens", headers={"Authorization": f"Bearer {value}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return sorted(o["key"] for o in json.loads(answer.read())["objects"])


@pytest.fixture
def npm(tokens, file_keyring, verdaccio, write_config):
    """An npm account on verdaccio; its password in the inventory as `npm-pw` ([rotate.npm]
    login); `npm-pub` holds a listed token of it."""
    user = "rot" + secrets.token_hex(3)
    password = "pw-" + secrets.token_hex(8)
    login = servers.npm_user(verdaccio.url, user, password)
    value, key = servers.npm_token(verdaccio.url, login, password)
    write_config('[rotate.npm]\nlogin = "npm-pw"\n')
    assert tokens("add", "npm-pw", "--kind", "generic", input=password).returncode == 0
    assert tokens("add", "npm-pub", "--kind", "npm", "--repository", verdaccio.url, input=value).returncode == 0
    return {"url": verdaccio.url, "user": user, "password": password, "login": login, "old": value, "key": key}


def _publish(tmp_path, registry: str, token_name: str) -> subprocess.CompletedProcess:
    package = tmp_path / "pkg"
    package.mkdir(exist_ok=True)
    (package / "package.json").write_text(json.dumps({"name": f"tokenward-rot-{secrets.token_hex(3)}", "version": "1.0.0"}))
    (package / "index.js").write_text("module.exports = 1;\n")
    home = tmp_path / "npm-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "npm_config_cache": str(tmp_path / "npm-cache"), "CI": "true"}
    exe = servers.find_tool("tokens")
    return subprocess.run(
        [exe, "exec", "--token", token_name, "--", "npm", "publish", "--registry", registry],
        cwd=package, capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip


def test_npm_rotate_api_on_verdaccio_old_is_invalid_new_publishes(tokens, npm, data_dir, tmp_path):
    if shutil.which("npm") is None:
        servers.unavailable("npm is not installed")
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 0, result
    new = tokens("get", "npm-pub").stdout.strip()
    assert new and new != npm["old"]
    assert _whoami(npm["url"], npm["old"]) is None  # the old token: invalid at whoami
    assert _whoami(npm["url"], new) == npm["user"]
    assert npm["key"] not in _token_keys(npm["url"], npm["login"])
    assert f"DELETE /-/npm/v1/tokens/token/{npm['key']}" in result.stderr
    published = _publish(tmp_path, npm["url"], "npm-pub")
    assert published.returncode == 0, published
    for text in (result.stdout, result.stderr, published.stdout, published.stderr, _private_traces(data_dir)):
        assert new not in text and npm["old"] not in text and npm["password"] not in text
    assert _journal(data_dir) == []


def test_npm_wrong_password_is_one_line_and_nothing_changes(tokens, npm, data_dir):
    before = _token_keys(npm["url"], npm["login"])
    assert tokens("rotate", "npm-pw", input="not-the-password").returncode == 0
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 3, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: registry 127.0.0.1:")
    assert "a wrong password?" in result.stderr and "nothing was created" in result.stderr
    assert "not-the-password" not in result.stderr
    assert _token_keys(npm["url"], npm["login"]) == before
    assert tokens("get", "npm-pub").stdout.strip() == npm["old"] and _whoami(npm["url"], npm["old"]) == npm["user"]
    assert _journal(data_dir) == []


def test_npm_without_a_password_source_and_no_terminal_is_refused(tokens, npm, write_config):
    write_config("")
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 2, result
    assert "npm needs the account password to create a token: set [rotate.npm] login" in result.stderr
    write_config('[rotate.npm]\nlogin = "nobody"\n')
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 2 and "[rotate.npm] login names 'nobody', which is not in the inventory" in result.stderr
    assert tokens("get", "npm-pub").stdout.strip() == npm["old"]


# -- crashes: kill -9 at each step, then one `tokens sync` (or rotate) converges --------------------

GL_MAINT = "glpat-" + "m41nt" * 4


def _crash(tokens, point: str, *args: str):
    killed = tokens(*args, env={"TOKENWARD_TEST_CRASH_AT": point})
    assert killed.returncode == -9, killed
    return killed


def _journal_text(data_dir) -> str:
    return "".join(p.read_text() for p in (data_dir / "api-rotations").glob("*.json"))


def test_killed_after_create_the_next_sync_revokes_the_lost_value(tokens, npm, data_dir):
    keys = _token_keys(npm["url"], npm["login"])
    _crash(tokens, "rotate-api.created", "rotate", "npm-pub", "--api")
    created = [k for k in _token_keys(npm["url"], npm["login"]) if k not in keys]
    assert len(created) == 1 and created[0] in _journal_text(data_dir)  # its key, never a value
    assert npm["old"] not in _journal_text(data_dir) and npm["password"] not in _journal_text(data_dir)
    assert (data_dir / "api-rotations").stat().st_mode & 0o777 == 0o700
    assert (data_dir / "api-rotations" / "npm-pub.json").stat().st_mode & 0o777 == 0o600
    synced = tokens("sync")
    assert synced.returncode == 3, synced
    assert "new value was lost before any store held it; it was revoked at npm" in synced.stderr
    assert "the old value stays in use" in synced.stderr
    assert _token_keys(npm["url"], npm["login"]) == keys  # the lost value is revoked
    assert tokens("get", "npm-pub").stdout.strip() == npm["old"] and _whoami(npm["url"], npm["old"]) == npm["user"]
    assert _journal(data_dir) == []
    assert tokens("sync").returncode == 0  # converged: nothing left to finish


def test_killed_after_the_stores_the_next_rotate_finishes_it(tokens, npm, data_dir):
    _crash(tokens, "rotate-api.stored", "rotate", "npm-pub", "--api")
    assert json.loads(tokens("show", "npm-pub", "--json").stdout)["pending_rotation"] == "stored"
    new = tokens("get", "npm-pub").stdout.strip()
    assert new != npm["old"] and _whoami(npm["url"], npm["old"]) == npm["user"]  # not revoked yet
    assert new not in _journal_text(data_dir)
    finished = tokens("rotate", "npm-pub", input="unused\n")
    assert finished.returncode == 0, finished
    assert "Finishing the interrupted API rotation of npm-pub (it had reached: stored)" in finished.stderr
    assert _whoami(npm["url"], npm["old"]) is None and _whoami(npm["url"], new) == npm["user"]
    assert tokens("get", "npm-pub").stdout.strip() == new and _journal(data_dir) == []
    assert json.loads(tokens("show", "npm-pub", "--json").stdout)["pending_rotation"] is None


@pytest.fixture
def npm_with_target(tokens, npm, gitlab, write_config):
    """npm-pub is also a GitLab CI variable of project g/n (the stand-in), written with gl-maint."""
    gitlab.reset()
    gitlab.tokens[GL_MAINT] = {}
    gitlab.ci.add_project("g/n")
    gitlab.ci.grants[GL_MAINT] = {"g/n"}
    write_config(
        '[rotate.npm]\nlogin = "npm-pw"\n'
        '[targets.lab]\ntype = "gitlab-ci"\ntoken = "npm-pub"\nauth = "gl-maint"\nproject = "g/n"\n'
        f'variable = "NPM_TOKEN"\napi_url = "{gitlab.url}"\n'
        '[targets.lab2]\ntype = "gitlab-ci"\ntoken = "npm-pub"\nauth = "gl-maint"\nproject = "g/n"\n'
        f'variable = "NPM_TOKEN_2"\napi_url = "{gitlab.url}"\n'
    )
    assert tokens("add", "gl-maint", "--kind", "gitlab", "--repository", gitlab.url, input=GL_MAINT).returncode == 0
    return npm, gitlab


def test_killed_after_the_first_target_the_next_sync_pushes_verifies_and_revokes(tokens, npm_with_target, data_dir):
    npm, gitlab = npm_with_target
    _crash(tokens, "push.target-pushed", "rotate", "npm-pub", "--api")
    new = tokens("get", "npm-pub").stdout.strip()
    assert _whoami(npm["url"], npm["old"]) == npm["user"]  # a target may still hold the old value
    synced = tokens("sync")
    assert synced.returncode == 0, synced
    for variable in ("NPM_TOKEN", "NPM_TOKEN_2"):
        assert gitlab.ci.variable("g/n", variable)["value"] == new
    assert _whoami(npm["url"], npm["old"]) is None and _whoami(npm["url"], new) == npm["user"]
    assert _journal(data_dir) == []
    for text in (synced.stdout, synced.stderr, _private_traces(data_dir)):
        assert new not in text and npm["old"] not in text and npm["password"] not in text


def test_a_failing_target_keeps_the_old_value_until_it_is_pushed(tokens, npm_with_target, data_dir):
    npm, gitlab = npm_with_target
    gitlab.ci.grants[GL_MAINT] = set()  # 403 for the project
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 3, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 2 and all(line.startswith("Error: target lab") for line in errors)
    new = tokens("get", "npm-pub").stdout.strip()
    assert new != npm["old"]  # the stores keep the new value
    assert _whoami(npm["url"], npm["old"]) == npm["user"]  # CI still reads the old one: not revoked
    gitlab.ci.grants[GL_MAINT] = {"g/n"}
    assert tokens("sync").returncode == 0
    assert gitlab.ci.variable("g/n", "NPM_TOKEN")["value"] == new and _whoami(npm["url"], npm["old"]) is None
    assert _journal(data_dir) == []


def test_gitlab_killed_after_create_the_family_is_revoked(tokens, gl, data_dir):
    _crash(tokens, "rotate-api.created", "rotate", "gl", "--api")
    [new] = _new_values(gl, GL)
    assert GL in gl.revoked and new not in gl.revoked  # GitLab rotated: the new value is live, but lost
    synced = tokens("sync")
    assert synced.returncode == 3, synced
    assert new in gl.revoked  # rotating the rotated token again revoked the whole family
    assert "create a new token for gl by hand (`tokens rotate gl`)" in synced.stderr
    assert _journal(data_dir) == [] and tokens("sync").returncode == 0


# -- npm with 2FA (the stand-in: verdaccio has no 2FA) ------------------------------------------------

NPM_OLD = "npm_" + "0ld" * 12


@pytest.fixture(scope="module")
def npm_standin():
    s = StandIn("npm").start()
    yield s
    s.stop()


def test_npm_2fa_needs_the_otp_and_it_never_shows(tokens, file_keyring, npm_standin, write_config, data_dir):
    s = npm_standin
    s.reset()
    s.tokens[NPM_OLD] = {"user": "dev", "key": "k0ld"}
    s.npm_password, s.npm_otp = "s3cret-pw", "246810"
    write_config('[rotate.npm]\nlogin = "npm-pw"\n')
    assert tokens("add", "npm-pw", "--kind", "generic", input="s3cret-pw").returncode == 0
    assert tokens("add", "npm-2fa", "--kind", "npm", "--repository", s.url, input=NPM_OLD).returncode == 0

    asked = tokens("rotate", "npm-2fa", "--api")
    assert asked.returncode == 2, asked
    assert asked.stderr.count("\n") == 1 and "asks for a one-time password (2FA)" in asked.stderr
    assert "`tokens rotate npm-2fa --api --otp CODE`" in asked.stderr
    wrong = tokens("rotate", "npm-2fa", "--api", "--otp", "999999")
    assert wrong.returncode == 3 and "the one-time password was not accepted; nothing was created" in wrong.stderr
    assert list(s.tokens) == [NPM_OLD] and not s.revoked and _journal(data_dir) == []

    done = tokens("rotate", "npm-2fa", "--api", "--otp", "246810")
    assert done.returncode == 0, done
    [new] = [v for v in s.tokens if v != NPM_OLD]
    assert NPM_OLD in s.revoked and new not in s.revoked
    assert tokens("get", "npm-2fa").stdout.strip() == new
    for text in (asked.stderr, wrong.stderr, done.stdout, done.stderr, _private_traces(data_dir)):
        assert "246810" not in text and "s3cret-pw" not in text and new not in text and NPM_OLD not in text


def test_rotate_due_rotates_the_api_kinds_unattended(tokens, file_keyring, gitlab, npm_standin, write_config):
    gitlab.reset()
    gitlab.tokens[GL] = {"scopes": ["api"]}
    npm_standin.reset()
    npm_standin.tokens[NPM_OLD] = {"user": "dev", "key": "k0ld"}
    write_config('[rotate]\napi = ["gitlab", "npm"]\n')
    for name, kind, url, value in (("gl", "gitlab", gitlab.url, GL), ("npm-x", "npm", npm_standin.url, NPM_OLD)):
        added = tokens("add", name, "--kind", kind, "--repository", url, "--created", "2024-01-01", "--rotate-every", "90d", input=value)
        assert added.returncode == 0, added
    result = tokens("rotate", "--due")
    assert result.returncode == 3, result  # npm-x could not be: no password without a terminal
    [new] = _new_values(gitlab, GL)
    assert tokens("get", "gl").stdout.strip() == new and GL in gitlab.revoked
    assert "Warning: npm-x was not rotated: npm needs the account password" in result.stderr
    assert tokens("get", "npm-x").stdout.strip() == NPM_OLD and list(npm_standin.tokens) == [NPM_OLD]
    assert result.stdout == ""  # nothing left to rotate by hand


# -- hostile or failing registry answers to the creation ----------------------------------------------


def test_a_5xx_to_the_rotation_is_not_repeated_and_a_killed_creation_is_settled_by_sync(tokens, gl, data_dir):
    gl.fault = "rotate-5xx"
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert [s.path for s in gl.seen if s.method == "POST"] == ["/api/v4/personal_access_tokens/self/rotate"]
    assert result.stderr.splitlines()[-1] == "Error: registry 127.0.0.1:%d: HTTP 503 (server error)" % gl.port
    assert _journal(data_dir) == []  # GitLab said the old value is still live: nothing was created
    assert "Warning" not in result.stderr and GL not in gl.revoked
    down = tokens("rotate", "gl", "--api", env={"TOKENWARD_TEST_CRASH_AT": "rotate-api.creating"})
    assert down.returncode == -9 and _journal(data_dir) == ["gl.json"]  # killed before the answer
    gl.fault = None
    settled = tokens("sync")
    assert settled.returncode == 0, settled
    assert "gl was not rotated; its value is unchanged." in settled.stderr
    assert _journal(data_dir) == [] and tokens("get", "gl").stdout.strip() == GL and GL not in gl.revoked


def test_a_rotation_answered_with_garbage_revokes_the_family(tokens, gl, data_dir):
    gl.fault = "rotate-wrong-types"
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    [new] = _new_values(gl, GL)
    assert new in gl.revoked  # GitLab rotated, the answer was useless: nothing live is left unknown
    assert "the answer holds no usable `token`" in result.stderr and "whole token family" in result.stderr
    assert "\x1b" not in result.stderr and new not in result.stderr and "Traceback" not in result.stderr
    assert _journal(data_dir) == []


@pytest.mark.parametrize("planted", ["symlink", "garbage", "other-name", "fifo"])
def test_a_planted_or_damaged_journal_is_not_followed(tokens, gl, data_dir, tmp_path, planted):
    directory = data_dir / "api-rotations"
    directory.mkdir(mode=0o700)
    path = directory / "gl.json"
    if planted == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(json.dumps({"version": 1, "name": "gl", "kind": "gitlab", "step": "created",
                                      "started_at": "x", "old_fingerprint": "0" * 16}))  # fmt: skip
        path.symlink_to(target)
    elif planted == "garbage":
        path.write_text('{"version": 1, "name": "gl", "step": "\\u001b[2J", "kind": []}')
    elif planted == "other-name":
        path.write_text(json.dumps({"version": 1, "name": "other", "kind": "gitlab", "step": "created",
                                    "started_at": "x", "old_fingerprint": "0" * 16}))  # fmt: skip
    else:
        os.mkfifo(path)
    path.chmod(0o600) if planted != "symlink" else None
    result = tokens("rotate", "gl", "--api", timeout=30)
    assert "it is ignored" in result.stderr and "\x1b" not in result.stderr
    assert result.returncode == 0, result  # the journal was ignored: a fresh rotation
    assert GL in gl.revoked and len(gl.tokens) == 2 and _journal(data_dir) == []


def test_a_refused_revoke_of_the_old_value_is_retried_by_sync(tokens, file_keyring, npm_standin, write_config, data_dir):
    s = npm_standin
    s.reset()
    s.tokens[NPM_OLD] = {"user": "dev", "key": "k0ld"}
    s.npm_password = "pw"
    write_config('[rotate.npm]\nlogin = "npm-pw"\n')
    assert tokens("add", "npm-pw", "--kind", "generic", input="pw").returncode == 0
    assert tokens("add", "npm-x", "--kind", "npm", "--repository", s.url, input=NPM_OLD).returncode == 0
    s.delete_status = 403
    result = tokens("rotate", "npm-x", "--api")
    assert result.returncode == 3, result
    assert "Error: the old value of npm-x was not revoked: registry 127.0.0.1" in result.stderr
    assert json.loads(tokens("show", "npm-x", "--json").stdout)["pending_rotation"] == "verified"
    s.delete_status = 404  # not documented; the key is unknown there: it is gone already
    synced = tokens("sync")
    assert synced.returncode == 0, synced
    assert "The old value of npm-x: already gone at npm 127.0.0.1" in synced.stderr
    assert _journal(data_dir) == []


def test_a_value_rotated_elsewhere_is_not_rotated_again(tokens, gl, data_dir):
    """GitLab revokes the whole family when a rotated token is rotated again: the value a
    teammate rotated to would die with it. A value that is not live is never sent to rotate."""
    teammates = "glpat-" + "mate" * 5
    gl.tokens[GL].update(rotated=True, family=GL)
    gl.tokens[teammates] = {"scopes": ["api"], "family": GL}
    gl.revoked.add(GL)
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert "rotating it could revoke its whole token family" in result.stderr
    assert teammates not in gl.revoked
    assert not [s for s in gl.seen if s.method == "POST"] and _journal(data_dir) == []


def test_killed_between_the_store_write_and_the_inventory_sync_converges(tokens, npm, data_dir):
    """Killed inside the stores step: the keyring holds the new value, the inventory does not
    know it yet (its own rotation journal is open). One `tokens sync` finishes both."""
    _crash(tokens, "rotate.store-written", "rotate", "npm-pub", "--api")
    synced = tokens("sync")
    assert synced.returncode == 0, synced
    new = tokens("get", "npm-pub").stdout.strip()
    assert new != npm["old"] and _whoami(npm["url"], new) == npm["user"]
    assert _whoami(npm["url"], npm["old"]) is None
    shown = json.loads(tokens("show", "npm-pub", "--json").stdout)
    assert shown["pending_sync"] == [] and shown["pending_rotation"] is None and shown["verify_result"] == "live"
    assert _journal(data_dir) == []


def test_on_a_terminal_npm_asks_for_the_password_and_the_otp_hidden(tokens, file_keyring, npm_standin, data_dir):
    """No [rotate.npm] login: a hidden prompt for the password; the registry asks for 2FA: a
    hidden prompt for the code. Neither is echoed, and neither reaches the data dir."""
    from tests.test_rotate_guided import finish, spawn

    s = npm_standin
    s.reset()
    s.tokens[NPM_OLD] = {"user": "dev", "key": "k0ld"}
    s.npm_password, s.npm_otp = "tty-pass-word", "135791"
    assert tokens("add", "npm-tty", "--kind", "npm", "--repository", s.url, input=NPM_OLD).returncode == 0
    child = spawn("rotate", "npm-tty", "--api")
    child.expect_exact("Password of the npm account of npm-tty (input hidden): ")
    child.sendline("tty-pass-word")
    child.expect_exact("One-time password (2FA) from your authenticator (input hidden): ")
    child.sendline("135791")
    assert finish(child) == 0, str(child.transcript)
    [new] = [v for v in s.tokens if v != NPM_OLD]
    assert NPM_OLD in s.revoked and tokens("get", "npm-tty").stdout.strip() == new
    for text in (str(child.transcript), _private_traces(data_dir)):
        assert "tty-pass-word" not in text and "135791" not in text and new not in text
