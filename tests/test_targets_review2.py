"""The second hostile try-out of issue 11 (CI targets and `rotate --api`): each test is one
finding. The GitHub/GitLab stand-ins of tests/registry_standins.py (built only from
REFERENCE.md) record every request; most tests call the plain functions in-process."""

from __future__ import annotations

import json
from pathlib import Path
import threading
import time

import pytest

from tests.test_rotation_api_steps import Recorder, app, registry  # noqa: F401 - fixtures
from tests.test_two_machines import team  # noqa: F401 - fixture
from tests.test_targets import GH_AUTH, GL_AUTH, NEW, OLD, _toml, ci, cli_ci, hub, make_app, targets_config  # noqa: F401 - fixtures
from tokenward import locks
from tokenward.app import App
from tokenward.config import parse_config
from tokenward.rotation import workflows
from tokenward.targets.push import push_targets, push_token, select


# -- item 1: `tokens push` alongside a rotation ---------------------------------------------


def test_push_during_a_rotation_never_leaves_the_old_value_in_ci(ci, make_app, monkeypatch, tmp_path, data_dir):
    """`tokens push` reads the value and writes it under the token's lock: a rotation that
    starts while the push is under way waits for it, so CI ends with the new value (before:
    the push wrote the old, revoked value over the rotation's)."""
    gh, gl = ci
    targets = targets_config(gh, gl, repo=None, env=None)
    make_app(targets)  # the tokens in the inventory
    waiting = threading.Event()
    acquire = locks._acquire

    def noticing(fd, path, timeout, busy, on_wait=None):
        return acquire(fd, path, timeout, busy, on_wait or waiting.set)

    monkeypatch.setattr(locks, "_acquire", noticing)
    release = gl.hold = threading.Event()
    errors: list[BaseException] = []

    def run(work):
        app = App(config=parse_config({"targets": targets}, tmp_path / "config.toml"), data_dir=data_dir)
        try:
            work(app)  # as a process of its own would: its own App (SQLite connection)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            app.close()

    push = threading.Thread(target=run, args=(lambda app: push_targets(app, select(app, ["lab"])),))
    push.start()
    try:
        while push.is_alive() and not gl.holding.is_set():  # the push has read OLD; its first request is under way
            time.sleep(0.01)
        assert gl.holding.is_set(), errors
        rotate = threading.Thread(target=run, args=(lambda app: workflows.write(app, Recorder(), "pypi-main", NEW),))
        rotate.start()
        while rotate.is_alive() and not waiting.is_set():  # done, or waiting for the push's lock
            time.sleep(0.01)
    finally:
        release.set()
    push.join(60)
    rotate.join(60)
    assert not errors
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW


# -- item 2: GitLab variables are raw (no `$NAME` expansion) -------------------------------


def test_gitlab_variables_are_created_and_updated_raw(ci, make_app):
    """GitLab expands `$NAME` in a variable unless it is `raw` (create and update, default
    false): a token value with a `$` would arrive changed in the job."""
    gh, gl = ci
    app = make_app(targets_config(gh, gl, repo=None, env=None))
    dollar = "tok-$HOME-" + "d" * 20
    assert all(r.ok for r in push_targets(app, select(app, ["lab"])))
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["raw"] is True
    gl.ci.variable("g/n", "PYPI_TOKEN", "production")["raw"] = False  # made by hand, or by an older tokens
    assert all(r.ok for r in push_token(app, "pypi-main", dollar))
    variable = gl.ci.variable("g/n", "PYPI_TOKEN", "production")
    assert variable["value"] == dollar and variable["raw"] is True


# -- item 3: a target's destination changed in the config ---------------------------------


MOVES = {
    "variable": ("lab", {"variable": "OTHER"}, lambda gh, gl: gl.ci.variable("g/n", "OTHER", "production")),
    "scope": ("lab", {"environment_scope": "staging"}, lambda gh, gl: gl.ci.variable("g/n", "PYPI_TOKEN", "staging")),
    "project": ("lab", {"project": "g/m"}, lambda gh, gl: gl.ci.variable("g/m", "PYPI_TOKEN", "production")),
    "secret": ("repo", {"secret": "OTHER"}, lambda gh, gl: {"value": gh.ci.secret("o/r", "OTHER")}),
    "environment": ("env", {"environment": "staging"}, lambda gh, gl: {"value": gh.ci.secret("o/r", "PYPI_API_TOKEN", env="staging")}),
    "repo": ("repo", {"repo": "o/s"}, lambda gh, gl: {"value": gh.ci.secret("o/s", "PYPI_API_TOKEN")}),
}


@pytest.mark.parametrize("move", MOVES)
def test_a_target_pointed_elsewhere_is_never_pushed_there_and_sync_pushes_it(ci, make_app, move):
    """What was pushed is recorded with where it went: a target whose repo, environment,
    secret, project, variable or scope changed holds nothing yet (`never`, before: `current`
    and "Nothing to do"), and sync's pushes (push_pending) write it there."""
    from tokenward.targets.push import push_pending
    from tokenward.targets.status import target_rows

    gh, gl = ci
    gh.ci.add_repo("o/r", "staging")
    gh.ci.add_repo("o/s")
    gh.ci.grants[GH_AUTH] |= {"o/s"}
    gl.ci.add_project("g/m")
    gl.ci.grants[GL_AUTH] |= {"g/m"}
    before = make_app(targets_config(gh, gl))
    assert all(r.ok for r in push_token(before, "pypi-main", OLD))
    name, change, held = MOVES[move]
    after = make_app(targets_config(gh, gl, **{name: change}), add=False)
    states = {r.name: r.state for r in target_rows(after)}
    assert states == {"repo": "current", "env": "current", "lab": "current", name: "never"}
    assert [(r.target, r.ok) for r in push_pending(after)] == [(name, True)]
    assert held(gh, gl)["value"] == OLD
    assert {r.state for r in target_rows(after)} == {"current"}


# -- item 4: `tokens rollback` reaches the CI targets --------------------------------------


def test_rollback_pushes_the_restored_value_to_every_target(hub, team):  # noqa: F811
    """Rollback is a rotation back to the previous value: its CI targets get that value
    too (before: they kept the rolled-back-from one, `stale`, and nothing was said). A
    target that fails is one `Error:` line and exit 3, like rotate; `tokens push` fixes it."""
    gh, _ = hub
    gh.reset()
    gh.tokens[GH_AUTH] = {"login": "octo"}
    gh.ci.add_repo("o/r")
    gh.ci.grants[GH_AUTH] = {"o/r"}
    t = team(("keyring", "vault"))
    with t.config.open("a") as config:
        config.write(_toml({"ci": {"type": "github-actions", "token": "shared", "auth": "gh-admin", "repo": "o/r",
                                   "secret": "SHARED", "api_url": gh.url + "api/v3"}}))  # fmt: skip
    a = t.machine("a")
    first, second = "shared-v1-" + "1" * 24, "shared-v2-" + "2" * 24
    assert a("add", "shared", "--kind", "generic", input=first + "\n").returncode == 0
    assert a("add", "gh-admin", "--kind", "github", "--repository", gh.url, input=GH_AUTH + "\n").returncode == 0
    assert a("rotate", "shared", input=second + "\n").returncode == 0 and gh.ci.secret("o/r", "SHARED") == second

    back = a("rollback", "shared")
    assert back.returncode == 0, back
    assert gh.ci.secret("o/r", "SHARED") == first and "Pushed to CI targets ci." in back.stderr
    assert [r["state"] for r in json.loads(a("targets", "--json").stdout)] == ["current"]

    gh.ci.grants[GH_AUTH] = set()
    failed = a("rollback", "shared")  # back to the value before that one: `second`
    assert failed.returncode == 3, failed
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: target ci: ") and "tokens push ci" in failed.stderr
    assert first not in failed.stderr + failed.stdout and second not in failed.stderr + failed.stdout
    assert [r["state"] for r in json.loads(a("targets", "--json").stdout)] == ["failed"]
    gh.ci.grants[GH_AUTH] = {"o/r"}
    assert a("push").returncode == 0 and gh.ci.secret("o/r", "SHARED") == second


# -- item 5: `[rotate.npm] login` names the npm account password, a generic token ----------


def test_npm_login_must_be_a_generic_token(file_keyring, data_dir, tmp_path):
    """A login naming a registry token (a GitLab PAT, say) is refused, exit 2, before it is
    read or sent to npm as the account password (before: sent)."""
    from tests.registry_standins import StandIn
    from tokenward import lifecycle
    from tokenward.errors import UsageError
    from tokenward.rotation import api

    npm = StandIn("npm").start()
    try:
        old = "npm_" + "0ldLogin" * 5
        npm.tokens[old] = {"user": "dev", "key": "k0ld"}
        pat = "glpat-" + "L0gin" * 4
        npm.npm_password = pat
        app = App(config=parse_config({"rotate": {"npm": {"login": "npm-pw"}}}, tmp_path / "config.toml"), data_dir=data_dir)
        try:
            lifecycle.add_token(app, "npm-pw", pat, kind="gitlab")
            lifecycle.add_token(app, "npm-pub", old, kind="npm", repository=npm.url)
            with pytest.raises(UsageError) as refused:
                api.rotate_by_api(app, Recorder(), "npm-pub")
            assert refused.value.exit_status == 2
            assert "[rotate.npm] login names npm-pw, a gitlab token" in str(refused.value)
            assert "--kind generic" in str(refused.value) and "nothing changed" in str(refused.value)
            assert [r for r in npm.seen if r.method != "GET"] == [] and not npm.received_anywhere(pat)
        finally:
            app.close()
    finally:
        npm.stop()


# -- item 6: `tokens remove` and what names the token --------------------------------------


def test_remove_refuses_a_token_whose_api_rotation_is_not_finished(tokens, file_keyring, data_dir):
    """A journal at `created`/`stored` means a value the registry created may be live and
    only the journal knows it: removing the token would strand it (before: removed, and
    sync dropped the journal). Refused, exit 2, even with --yes; nothing changed."""
    value = "npm_" + "Pend1ng" * 5
    assert tokens("add", "npm-ci", "--kind", "npm", input=value + "\n").returncode == 0
    journal = data_dir / "api-rotations"
    journal.mkdir(mode=0o700, exist_ok=True)
    (journal / "npm-ci.json").write_text("{}")
    refused = tokens("remove", "npm-ci", "--yes")
    assert refused.returncode == 2, refused
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("Error: ")
    assert "API rotation of npm-ci is not finished" in refused.stderr and "tokens rotate npm-ci" in refused.stderr
    assert tokens("get", "npm-ci").stdout.strip() == value


def test_remove_names_the_targets_and_login_that_use_the_token_and_its_own_registrys_page(tokens, file_keyring, write_config):
    """Removing an auth token of targets or the npm login token says what now breaks;
    the revoke advice names the token's own registry (a self-managed GitLab, a private npm
    registry), not gitlab.com / npmjs.com."""
    write_config(
        '[rotate.npm]\nlogin = "npm-pw"\n'
        '[targets.one]\ntype = "gitlab-ci"\ntoken = "pypi-main"\nauth = "gl-m"\nproject = "g/n"\nvariable = "V"\n'
        'api_url = "http://127.0.0.1:39549/"\n'
        '[targets.two]\ntype = "gitlab-ci"\ntoken = "pypi-main"\nauth = "gl-m"\nproject = "g/n"\nvariable = "W"\n'
        'api_url = "http://127.0.0.1:39549/"\n'
    )
    assert tokens("add", "gl-m", "--kind", "gitlab", "--repository", "http://127.0.0.1:39549/", input=GL_AUTH + "\n").returncode == 0
    assert tokens("add", "npm-pw", "--kind", "generic", input="pw-" + "x" * 20 + "\n").returncode == 0
    removed = tokens("remove", "gl-m", "--yes")
    assert removed.returncode == 0, removed
    assert "Warning: gl-m is named by target one (auth), target two (auth)" in removed.stderr
    assert "http://127.0.0.1:39549/-/user_settings/personal_access_tokens" in removed.stderr
    assert "gitlab.com" not in removed.stderr
    login = tokens("remove", "npm-pw", "--yes")
    assert login.returncode == 0 and "Warning: npm-pw is named by rotate.npm.login" in login.stderr


def test_sync_names_a_target_whose_token_was_removed_once(ci, make_app):
    """The line sync prints for such a target says "target NAME:" once (before: "target
    tmpt: target tmpt names token ...")."""
    from tokenward import lifecycle
    from tokenward.targets.push import push_pending

    gh, gl = ci
    app = make_app(targets_config(gh, gl, repo=None, env=None))
    assert all(r.ok for r in push_token(app, "pypi-main", OLD))
    lifecycle.remove_token(app, "pypi-main")
    [result] = push_pending(app)
    assert not result.ok and result.error.startswith("target lab: names token 'pypi-main', which is not in the inventory")
    assert result.error.count("target lab") == 1


# -- item 7: GitHub secret names are case-insensitive ---------------------------------------


@pytest.mark.parametrize("secret", ["GITHUB_TOKEN", "github_token", "Github_TOKEN", "gItHuB_X"])
def test_a_github_prefixed_secret_name_is_refused_in_any_case(secret):
    """GitHub refuses secret names starting with GITHUB_ and its names are case-insensitive."""
    from tokenward.errors import ConfigError

    table = {"type": "github-actions", "token": "t", "auth": "a", "repo": "o/r", "secret": secret}
    with pytest.raises(ConfigError, match="not starting with a digit or GITHUB_"):
        parse_config({"targets": {"ci": table}}, Path("config.toml"))


# -- item 8: messages ---------------------------------------------------------------------


def test_the_loser_of_two_api_rotations_says_another_rotation_won(registry, app, monkeypatch):
    """Two `rotate --api` of one token: the second waits for the first's lock, then finds
    the token rotated under it. It says so and creates nothing (before: "no store holds
    npm-pub's recorded value; run `tokens sync npm-pub` first", exit 2)."""
    from contextlib import contextmanager

    from tokenward.rotation import api

    original = api._locked

    @contextmanager
    def contended(app_, name):
        monkeypatch.setattr(api, "_locked", original)
        assert api.rotate_by_api(app_, Recorder(), name) == 0  # the other process, while this one waits
        with original(app_, name):
            yield

    monkeypatch.setattr(api, "_locked", contended)
    with pytest.raises(locks.LockBusy) as lost:
        api.rotate_by_api(app, Recorder(), "npm-pub")
    assert lost.value.exit_status == 3
    assert "another `tokens` rotated npm-pub while this one waited" in str(lost.value) and "nothing changed" in str(lost.value)
    assert len(registry.tokens) == 2 and len(registry.revoked) == 1  # one rotation: one created, the old one revoked


def test_a_data_dir_on_a_read_only_file_system_is_said_so_not_chmod(data_dir, tmp_path, monkeypatch):
    """A read-only (bind-)mounted data dir: access(W_OK) fails although the mode allows
    writing, so "chmod u+w" would not help; the error says read-only file system."""
    import os

    from tokenward.errors import LocalDataError

    app = App(config=parse_config({}, tmp_path / "config.toml"), data_dir=data_dir)
    ours = str(data_dir)
    access, statvfs = os.access, os.statvfs

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(os, "access", lambda p, m, **k: False if str(p).startswith(ours) and m & os.W_OK else access(p, m, **k))
    monkeypatch.setattr(os, "statvfs", lambda p: ReadOnly() if str(p).startswith(ours) else statvfs(p))
    with pytest.raises(LocalDataError) as refused:
        app.check_writable()
    assert "is on a read-only file system" in str(refused.value) and "chmod" not in str(refused.value)


def test_push_sync_and_targets_json_name_a_target_the_same_way(cli_ci, tokens):
    """`targets --json` calls a target `name` (the contract); `push --json` and sync's
    `targets` entries say `name` and `result` too (before: `target`, and push `ok`)."""
    gh, gl = cli_ci
    gh.ci.grants[GH_AUTH] = set()
    pushed = tokens("push", "--json")
    assert pushed.returncode == 3
    rows = {r["name"]: r for r in json.loads(pushed.stdout)}
    assert set(rows) == {"repo", "env", "lab"} and set(rows["lab"]) == {"name", "result", "error"}
    assert rows["lab"]["result"] == "pushed" and rows["repo"]["result"] == "failed" and "(HTTP 403)" in rows["repo"]["error"]
    planned = json.loads(tokens("sync", "--dry-run", "--json").stdout)["targets"]
    assert [(r["name"], r["result"]) for r in planned] == [("repo", "planned"), ("env", "planned")]
    assert {r["name"] for r in json.loads(tokens("targets", "--json").stdout)} == {"repo", "env", "lab"}
