"""Hostile target configs (the issue 11 try-out): names that a URL client or server resolves
to another place, two targets writing one CI secret, an auth token sent where it was not
issued, plain http:// to another machine. The GitHub/GitLab stand-ins of
tests/registry_standins.py (built only from REFERENCE.md) record every request, so a test
sees that nothing was sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_two_machines import team  # noqa: F401 - fixture
from tests.test_targets import GH_AUTH, GL_AUTH, NEW, OLD, _toml, ci, hub, make_app, targets_config  # noqa: F401 - fixtures
from tokenward import lifecycle
from tokenward.config import parse_config
from tokenward.config_targets import TargetConfig
from tokenward.errors import ConfigError, UsageError
from tokenward.targets.push import push_targets, push_token, select

GOOD = {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": "acme/widgets", "secret": "PYPI"}
GOOD_LAB = {"type": "gitlab-ci", "token": "pypi-main", "auth": "gl", "project": "g/n", "variable": "PYPI"}


def _load(targets: dict):
    return parse_config({"targets": targets}, Path("config.toml"))


# -- item 4: dot segments --------------------------------------------------------------


@pytest.mark.parametrize(
    "table, key",
    [
        ({**GOOD, "environment": "%2e%2E"}, "environment"),
        ({**GOOD, "environment": "%252E%252E"}, "environment"),
        ({**GOOD, "environment": "a%2Fb"}, "environment"),
        ({**GOOD, "environment": "a%5Cb"}, "environment"),
        ({**GOOD, "environment": ".%2E"}, "environment"),
        ({**GOOD, "environment": "%2e"}, "environment"),
    ],
)
def test_a_name_a_url_would_resolve_elsewhere_is_refused_at_load(table, key):
    with pytest.raises(ConfigError) as caught:
        _load({"t": table})
    text = str(caught.value)
    assert f"targets.t.{key}" in text and "path segment" in text and "\n" not in text
    assert caught.value.exit_status == 2


def test_ordinary_names_with_dots_still_load():
    config = _load({"a": {**GOOD, "repo": "acme.io/my.widgets", "environment": "prod.eu"}, "b": {**GOOD_LAB, "project": "g.x/n.y"}})
    assert config.targets["a"].get("environment") == "prod.eu"


def test_the_client_never_sends_a_dot_segment_even_past_the_config(ci, make_app):
    """A TargetConfig built without the config loader (a future caller): the URL is never
    built with "..", so the stand-in sees no request at all, not the repository's secret."""
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None))
    for environment in ("..", "%2E%2E"):
        app.config.targets["repo"] = TargetConfig(
            "repo", "github-actions", "pypi-main", "gh-admin",
            {"repo": "o/r", "environment": environment, "secret": "PYPI_API_TOKEN", "api_url": gh.url + "api/v3"},
        )  # fmt: skip
        [result] = push_token(app, "pypi-main", NEW)
        assert not result.ok and "cannot be a URL path segment" in result.error
    assert gh.seen == [] and gh.ci.secret("o/r", "PYPI_API_TOKEN") is None


def test_dot_segment_environment_is_exit_2_on_the_command_line(tokens, write_config):
    write_config(_toml({"t": {**GOOD, "environment": "%2E%2E"}}))
    result = tokens("push", "--dry-run")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "targets.t.environment" in result.stderr


# -- item 7: two targets, one CI secret -------------------------------------------------


@pytest.mark.parametrize(
    "first, second",
    [
        (GOOD, {**GOOD, "token": "other"}),
        (GOOD, {**GOOD, "repo": "ACME/Widgets", "secret": "pypi", "auth": "gh-2"}),
        ({**GOOD, "environment": "Prod"}, {**GOOD, "environment": "prod"}),
        (GOOD, {**GOOD, "api_url": "https://API.github.com/"}),
        (GOOD_LAB, {**GOOD_LAB, "token": "other"}),
        (GOOD_LAB, {**GOOD_LAB, "api_url": "https://gitlab.com/api/v4"}),
        ({**GOOD_LAB, "environment_scope": "prod"}, {**GOOD_LAB, "environment_scope": "prod", "masked": False}),
    ],
)
def test_two_targets_writing_one_secret_are_refused_naming_both(first, second):
    with pytest.raises(ConfigError) as caught:
        _load({"one": first, "two": second})
    text = str(caught.value)
    assert "targets.one and targets.two name the same CI secret" in text and "\n" not in text
    assert caught.value.exit_status == 2


@pytest.mark.parametrize(
    "second",
    [
        {**GOOD, "secret": "PYPI_2"},
        {**GOOD, "environment": "prod"},
        {**GOOD, "repo": "acme/gadgets"},
        {**GOOD, "api_url": "https://ghe.example.com/api/v3"},
        {**GOOD_LAB, "environment_scope": "prod"},
        {**GOOD_LAB, "variable": "pypi"},  # GitLab variable keys are case-sensitive
    ],
)
def test_different_secrets_are_not_duplicates(second):
    first = GOOD_LAB if second["type"] == "gitlab-ci" else GOOD
    assert set(_load({"one": first, "two": second}).targets) == {"one", "two"}


def test_duplicate_targets_are_exit_2_on_the_command_line(tokens, write_config):
    write_config(_toml({"one": GOOD, "two": {**GOOD, "repo": "Acme/Widgets", "token": "x"}}))
    result = tokens("targets")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "targets.one and targets.two" in result.stderr


# -- item 8: the auth token fits the target ---------------------------------------------


def test_an_auth_token_of_another_kind_is_never_sent(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None, repo={"auth": "npm-password"}))
    lifecycle.add_token(app, "npm-password", "Xq7Lm2Rt9Zp4Kw8Vb3", kind="generic")
    with pytest.raises(UsageError) as caught:
        push_targets(app, select(app, []))
    assert caught.value.exit_status == 2
    assert "the auth token npm-password is a generic token; a github-actions target takes a github token" in str(caught.value)
    # The rotation path (push_token) refuses it as that target's failure, sending nothing.
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and "generic token" in result.error
    assert gh.seen == [] and not gh.received_anywhere("Xq7Lm2Rt9Zp4Kw8Vb3")


def test_a_gitlab_token_on_a_github_target_is_refused(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None, repo={"auth": "gl-maint"}))
    with pytest.raises(UsageError, match="is a gitlab token; a github-actions target takes a github token"):
        select(app, [])
    assert gh.seen == []


def test_an_auth_token_issued_by_another_host_is_never_sent(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None, repo={"auth": "gh-public"}))
    # Issued by github.com (its default repository): the stand-in is another host.
    lifecycle.add_token(app, "gh-public", "ghp_" + "Z9" * 18, kind="github")
    with pytest.raises(UsageError) as caught:
        select(app, [])
    text = str(caught.value)
    assert "the auth token gh-public is for api.github.com" in text and gh.url.split("//")[1].rstrip("/") in text
    assert "`tokens edit gh-public --repository URL`" in text
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and "api.github.com" in result.error
    assert gh.seen == []


def test_auth_mismatch_is_exit_2_for_push_and_a_failure_in_doctor(ci, tokens, file_keyring, write_config):
    gh, gl = ci
    write_config(_toml(targets_config(gh, gl, env=None, repo=None)))
    assert tokens("add", "pypi-main", "--kind", "generic", input=OLD).returncode == 0
    assert tokens("add", "gl-maint", "--kind", "gitlab", "--repository", "https://gitlab.example.com/", input=GL_AUTH).returncode == 0
    pushed = tokens("push")
    assert pushed.returncode == 2 and pushed.stderr.count("\n") == 1, pushed
    assert "the auth token gl-maint is for gitlab.example.com" in pushed.stderr
    doctor = tokens("doctor", "--json")
    checks = {c["subject"]: c for c in json.loads(doctor.stdout)}
    assert checks["target lab"]["state"] == "fail" and "gitlab.example.com" in checks["target lab"]["detail"]
    assert gl.seen == []


# -- item 11: plain http:// to another machine ------------------------------------------


def test_plain_http_to_another_host_is_allowed_but_said(tokens, file_keyring, write_config):
    write_config(_toml({"lab": {**GOOD_LAB, "auth": "gl-maint", "api_url": "http://gitlab.example.invalid"}}))
    assert tokens("add", "pypi-main", "--kind", "generic", input=OLD).returncode == 0
    added = tokens("add", "gl-maint", "--kind", "gitlab", "--repository", "http://gitlab.example.invalid/", input=GL_AUTH)
    assert added.returncode == 0
    dry = tokens("push", "--dry-run")
    assert dry.returncode == 0, dry
    warnings = [line for line in dry.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: target lab: api_url is plain http://: the value and the auth token gl-maint travel unencrypted to gitlab.example.invalid"
    ]
    doctor = [line for line in tokens("doctor").stdout.splitlines() if "target lab" in line]
    assert len(doctor) == 2 and doctor[0].startswith("[FAIL] target lab: ")  # unreachable from here
    assert doctor[1] == (
        "[warn] target lab: api_url is plain http://: the value and the auth token gl-maint travel unencrypted to gitlab.example.invalid"
    )


def test_plain_http_to_this_machine_is_not_warned(ci, tokens, file_keyring, write_config):
    gh, gl = ci
    write_config(_toml(targets_config(gh, gl, env=None, repo=None)))
    assert tokens("add", "pypi-main", "--kind", "generic", input=OLD).returncode == 0
    assert tokens("add", "gl-maint", "--kind", "gitlab", "--repository", gl.url, input=GL_AUTH).returncode == 0
    dry = tokens("push", "--dry-run")
    assert dry.returncode == 0 and "Warning" not in dry.stderr, dry


# -- item 2: a machine that has not synced never pushes an old value ------------------


@pytest.mark.parametrize("store", ["vault", "aws"])
def test_a_stale_machine_cannot_push_an_old_value_over_a_teammates_rotation(hub, team, store):  # noqa: F811
    """A and B share a token in Vault (or AWS) with one GitHub Actions target. A rotates it
    and pushes the new value; B, not synced, runs `tokens push`: refused with rotate's
    wording, exit 3, and CI keeps A's value. B's `tokens targets` does not call the target
    current; after `tokens sync` B agrees with A and CI still holds A's value."""
    gh, _ = hub
    gh.reset()
    gh.tokens[GH_AUTH] = {"login": "octo"}
    gh.ci.add_repo("o/r")
    gh.ci.grants[GH_AUTH] = {"o/r"}
    t = team(("keyring", store))
    with t.config.open("a") as config:
        config.write(_toml({"ci": {"type": "github-actions", "token": "shared", "auth": "gh-admin", "repo": "o/r",
                                   "secret": "SHARED", "api_url": gh.url + "api/v3"}}))  # fmt: skip
    a, b = t.machine("a"), t.machine("b")
    first, second = "shared-v1-" + "1" * 24, "shared-v2-" + "2" * 24
    assert a("add", "shared", "--kind", "generic", input=first + "\n").returncode == 0
    assert a("add", "gh-admin", "--kind", "github", "--repository", gh.url, input=GH_AUTH + "\n").returncode == 0
    assert b("sync", "--discover").returncode == 0
    assert b("push").returncode == 0 and gh.ci.secret("o/r", "SHARED") == first
    assert a("rotate", "shared", input=second + "\n").returncode == 0
    assert gh.ci.secret("o/r", "SHARED") == second

    puts = len(gh.requests_for("SHARED"))
    stale = b("push")
    assert stale.returncode == 3, stale
    assert stale.stderr.count("\n") == 1 and stale.stderr.startswith("Error: ")
    label = "Vault" if store == "vault" else "AWS"
    assert f"{label} changed since your last sync" in stale.stderr and "run `tokens sync` first" in stale.stderr
    assert "not pushed to ci" in stale.stderr
    assert gh.ci.secret("o/r", "SHARED") == second and len(gh.requests_for("SHARED")) == puts
    assert first not in stale.stderr + stale.stdout

    rows = json.loads(b("targets", "--json").stdout)
    assert [(r["name"], r["state"]) for r in rows] == [("ci", "stale")]
    assert f"{label} changed since your last sync" in rows[0]["error"]

    # The try-out's machine B: its sync brings A's rotation, then pushes the target it had
    # left stale (item 1: sync pushes stale targets), A's value again.
    puts = len(gh.requests_for("SHARED"))
    synced = b("sync")
    assert synced.returncode == 0, synced
    assert len(gh.requests_for("SHARED")) == puts + 1 and gh.ci.secret("o/r", "SHARED") == second
    assert [r["state"] for r in json.loads(b("targets", "--json").stdout)] == ["current"]
    assert b("push").returncode == 0 and gh.ci.secret("o/r", "SHARED") == second


# -- item 10: Ctrl-C during `tokens push` -------------------------------------------------


def test_ctrl_c_during_push_starts_nothing_more_and_records_what_was_pushed(ci, tokens, file_keyring, write_config, monkeypatch):
    """Ten targets, eight pushed at once: `quick` is done, eight HANG_* PUTs are held by
    the stand-in (the eighth on quick's worker), `waiting` waits for a worker. Ctrl-C:
    `waiting` is never sent a request, the held ones are cut off (failed: pushed again
    later) without waiting for their deadline, and `quick`'s push is recorded; exit 130."""
    import os
    import signal
    import subprocess
    import threading
    import time

    from tests import registry_standins, servers

    gh, gl = ci
    release = threading.Event()
    original = registry_standins._Handler.do_PUT

    held: list[str] = []

    def held_put(self):
        if "HANG" in self.path:
            held.append(self.path)
            release.wait(60)  # released at the end of the test, never before the push is over
        return original(self)

    monkeypatch.setattr(registry_standins._Handler, "do_PUT", held_put)
    base = {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": "o/r", "api_url": gh.url + "api/v3"}
    targets = {"quick": {**base, "secret": "QUICK"}}
    targets.update({f"held{i}": {**base, "secret": f"HANG_{i}"} for i in range(8)})
    targets["waiting"] = {**base, "secret": "HANG_WAITING"}
    write_config(_toml(targets))
    tokens.add_many([(("pypi-main", "--kind", "generic"), OLD), (("gh-admin", "--kind", "github", "--repository", gh.url), GH_AUTH)])
    gh.seen.clear()
    proc = subprocess.Popen([servers.find_tool("tokens"), "push"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        while not (gh.ci.secret("o/r", "QUICK") == OLD and len(held) == 8):
            assert proc.poll() is None and not release.is_set()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.count("Error:") == 1
    assert "interrupted: pushed to quick; not pushed: held0" in err
    assert [r for r in gh.seen if "WAITING" in r.path] == [] and len(held) == 8  # nothing more was started
    rows = {r["name"]: r["state"] for r in json.loads(tokens("targets", "--json").stdout)}
    assert rows["quick"] == "current"
    assert {rows[f"held{i}"] for i in range(8)} == {"failed"} and rows["waiting"] == "never"
