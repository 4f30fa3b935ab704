"""CI targets (targets/): GitHub Actions secrets and GitLab CI variables on the stand-ins of
tests/registry_standins.py (built only from REFERENCE.md). The GitHub stand-in holds a real
X25519 key pair and opens every sealed box, so a test sees the exact value that arrived.

Most tests call the plain functions (push_token, push_targets, target_rows) in-process;
the CLI tests cover what a user sees: exit codes, one `Error:` line per target, and that
no value or auth token reaches output, the audit log or the inventory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.registry_standins import StandIn
from tokenward import lifecycle
from tokenward.app import App
from tokenward.config import parse_config
from tokenward.errors import ConfigError, UsageError
from tokenward.targets.base import TargetValueRefused
from tokenward.targets.push import check_value, push_targets, push_token, select
from tokenward.targets.status import target_rows

GH_AUTH = "ghp_" + "A1" * 18
GL_AUTH = "glpat-" + "B2c3" * 5
OLD = "tok-old-" + "o" * 30
NEW = "tok-new-" + "n" * 30


@pytest.fixture(scope="module")
def hub():
    gh, gl = StandIn("github").start(), StandIn("gitlab").start()
    yield gh, gl
    gh.stop()
    gl.stop()


@pytest.fixture
def ci(hub):
    """GitHub repository o/r with environment prod, GitLab project g/n; both auth tokens
    may write there."""
    gh, gl = hub
    gh.reset()
    gl.reset()
    gh.tokens[GH_AUTH] = {"login": "octo"}
    gh.ci.add_repo("o/r", "prod")
    gh.ci.grants[GH_AUTH] = {"o/r"}
    gl.tokens[GL_AUTH] = {}
    gl.ci.add_project("g/n")
    gl.ci.grants[GL_AUTH] = {"g/n"}
    return gh, gl


def targets_config(gh: StandIn, gl: StandIn, **changes) -> dict:
    targets = {
        "repo": {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": "o/r",
                 "secret": "PYPI_API_TOKEN", "api_url": gh.url + "api/v3"},
        "env": {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": "o/r",
                "environment": "prod", "secret": "PYPI_API_TOKEN", "api_url": gh.url + "api/v3"},
        "lab": {"type": "gitlab-ci", "token": "pypi-main", "auth": "gl-maint", "project": "g/n",
                "variable": "PYPI_TOKEN", "environment_scope": "production", "masked": True,
                "protected": True, "api_url": gl.url},
    }  # fmt: skip
    for name, change in changes.items():
        if change is None:
            targets.pop(name)
        else:
            targets[name] = {**targets.get(name, {}), **change}
    return targets


@pytest.fixture
def make_app(tmp_path, file_keyring, data_dir, hub):
    """An App over the test keyring with pypi-main, gh-admin and gl-maint in the inventory."""
    opened: list[App] = []

    def make(targets: dict, *, add: bool = True) -> App:
        app = App(config=parse_config({"targets": targets}, tmp_path / "config.toml"), data_dir=data_dir)
        opened.append(app)
        if add:
            lifecycle.add_token(app, "pypi-main", OLD, kind="generic")
            # Each auth token is issued by the stand-in its targets call (its repository).
            lifecycle.add_token(app, "gh-admin", GH_AUTH, kind="github", repository=hub[0].url)
            lifecycle.add_token(app, "gl-maint", GL_AUTH, kind="gitlab", repository=hub[1].url)
        return app

    yield make
    for app in opened:
        app.close()


def states(app: App) -> dict[str, str]:
    return {r.name: r.state for r in target_rows(app)}


# -- pushing ---------------------------------------------------------------------------


def test_push_reaches_repository_and_environment_secrets_and_gitlab(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl))
    results = push_token(app, "pypi-main", NEW)
    assert [(r.target, r.ok, r.error) for r in results] == [("repo", True, None), ("env", True, None), ("lab", True, None)]
    # The stand-in opened each sealed box with its private key: the exact value arrived.
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod") == NEW
    variable = gl.ci.variable("g/n", "PYPI_TOKEN", "production")
    assert variable["value"] == NEW and variable["masked"] is True and variable["protected"] is True
    # GitHub: the value never crossed the wire in clear, the auth token only in its header.
    assert not gh.received_anywhere(NEW)
    assert all(GH_AUTH not in r.path for r in gh.seen) and all(GL_AUTH not in r.path for r in gl.seen)


def test_first_push_creates_then_updates_within_three_requests(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl))
    assert all(r.ok for r in push_token(app, "pypi-main", OLD))
    created = gh.ci.secrets[("o/r", "", "PYPI_API_TOKEN")]["created_at"]
    first = {"gh": len(gh.seen), "gl": [(r.method, r.path.split("?")[0]) for r in gl.seen]}
    assert first["gl"] == [("GET", "/api/v4/projects/g%2Fn/variables/PYPI_TOKEN"), ("POST", "/api/v4/projects/g%2Fn/variables")]
    gh.seen.clear()
    gl.seen.clear()
    assert all(r.ok for r in push_token(app, "pypi-main", NEW))
    assert [r.method for r in gl.seen] == ["GET", "PUT"]
    assert "filter%5Benvironment_scope%5D=production" in gl.seen[1].path
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW
    assert len(gl.ci.variables) == 1  # updated, not a second variable
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
    assert gh.ci.secrets[("o/r", "", "PYPI_API_TOKEN")]["created_at"] == created
    # Two GitHub targets, two requests each (public key, PUT): at most 3 per target.
    assert first["gh"] == 4 and len(gh.seen) == 4


def test_public_key_is_fetched_for_every_push(ci, make_app):
    """GitHub replaced the repository's key between two pushes: the second push seals to
    the new key (the key is never kept), and the stand-in opens it."""
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None))
    assert push_token(app, "pypi-main", OLD)[0].ok
    gh.ci.replace_key("o/r")
    assert push_token(app, "pypi-main", NEW)[0].ok
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
    assert len(gh.requests_for("public-key")) == 2


def test_a_key_id_that_is_no_longer_current_is_refused_recorded_and_fixed_by_the_next_push(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None))
    gh.ci.replace_key_after_read = True  # the key changes between our GET and our PUT
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and result.error.startswith("target repo: ") and "HTTP 422" in result.error
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") is None
    assert states(app) == {"repo": "failed"}
    [row] = target_rows(app)
    assert "HTTP 422" in row.error
    assert push_token(app, "pypi-main", NEW)[0].ok
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
    [row] = target_rows(app)
    assert row.state == "stale" and row.error is None  # NEW is not the inventory's value (OLD)


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("unknown-repo", "o/gone not found (HTTP 404"),
        ("unknown-env", "environment nope of o/r not found (HTTP 404"),
        ("no-permission", "the auth token gh-admin may not write the secrets of o/r (HTTP 403)"),
        ("bad-auth", "the auth token gh-admin is refused (HTTP 401"),
        ("rate-limit", "rate limited (HTTP 429); retry after 3600s"),
        ("redirect", "redirected to localhost"),
    ],
)
def test_github_failures_are_one_line_each_and_recorded(ci, make_app, breakage, expected):
    gh, gl = ci
    change = {}
    if breakage == "unknown-repo":
        change = {"repo": "o/gone"}
    elif breakage == "unknown-env":
        change = {"environment": "nope"}
    app = make_app(targets_config(gh, gl, env=None, lab=None, repo=change))
    if breakage == "no-permission":
        gh.ci.grants[GH_AUTH] = set()
    elif breakage == "bad-auth":
        gh.tokens.clear()
    elif breakage == "rate-limit":
        gh.fault = "ratelimit-long"
    elif breakage == "redirect":
        gh.fault = "redirect"
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and result.error.startswith("target repo: ") and expected in result.error
    assert "\n" not in result.error and NEW not in result.error and GH_AUTH not in result.error
    assert states(app) == {"repo": "failed"}


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("unknown-project", "project g/gone not found (HTTP 404"),
        ("no-permission", "the auth token gl-maint may not write variable PYPI_TOKEN of project g/n (HTTP 403)"),
        ("bad-auth", "the auth token gl-maint is refused (HTTP 401"),
    ],
)
def test_gitlab_failures_are_one_line_each_and_recorded(ci, make_app, breakage, expected):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, repo=None, lab={"project": "g/gone"} if breakage == "unknown-project" else {}))
    if breakage == "no-permission":
        gl.ci.grants[GL_AUTH] = set()
    elif breakage == "bad-auth":
        gl.tokens.clear()
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and result.error.startswith("target lab: ") and expected in result.error
    assert NEW not in result.error and GL_AUTH not in result.error
    assert len(gl.seen) <= 3
    assert states(app) == {"lab": "failed"}


@pytest.mark.parametrize("value", ["short1", "two\nlines-long-enough"])
def test_a_masked_value_gitlab_would_refuse_is_refused_before_any_write(ci, make_app, value):
    gh, gl = ci
    app = make_app(targets_config(gh, gl))
    with pytest.raises(TargetValueRefused) as caught:
        check_value(app, "pypi-main", value)
    assert caught.value.exit_status == 2 and "masked" in str(caught.value)
    assert gl.seen == [] and gh.seen == []
    # push_token never raises: the refusal is that target's result, and nothing reached GitLab.
    results = {r.target: r for r in push_token(app, "pypi-main", value)}
    assert not results["lab"].ok and "masked" in results["lab"].error
    assert [r.method for r in gl.seen] == []
    # Unmasked, GitLab takes it.
    app2 = make_app(targets_config(gh, gl, repo=None, env=None, lab={"masked": False}), add=False)
    assert push_token(app2, "pypi-main", value)[0].ok


def test_unknown_target_token_or_auth_token_is_refused_before_any_write(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, lab={"auth": "gl-nobody"}))
    with pytest.raises(UsageError, match="no target named 'nope'"):
        select(app, ["nope"])
    with pytest.raises(UsageError, match="names auth token 'gl-nobody', which is not in the inventory"):
        select(app, [])
    app2 = make_app(targets_config(gh, gl, repo={"token": "ghost"}), add=False)
    with pytest.raises(UsageError, match="names token 'ghost'"):
        push_targets(app2, select(app2, ["repo"]))
    assert gh.seen == [] and gl.seen == []


def test_push_token_only_the_named_targets(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, other={**targets_config(gh, gl)["repo"], "token": "gh-admin", "secret": "GH"}))
    results = push_token(app, "pypi-main", NEW, only=["env", "other", "missing"])
    assert {r.target: r.ok for r in results} == {"env": True, "other": False, "missing": False}
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod") == NEW
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") is None and gh.ci.secret("o/r", "GH") is None


def test_states_never_current_stale_failed(ci, make_app):
    gh, gl = ci
    app = make_app(targets_config(gh, gl))
    assert states(app) == {"repo": "never", "env": "never", "lab": "never"}
    assert all(r.ok for r in push_targets(app, select(app, [])))
    assert states(app) == {"repo": "current", "env": "current", "lab": "current"}
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == OLD
    lifecycle.rotate_token(app, "pypi-main", NEW)  # the stores only: the targets hold the old value
    assert states(app) == {"repo": "stale", "env": "stale", "lab": "stale"}
    gl.ci.grants[GL_AUTH] = set()
    results = push_targets(app, select(app, []))
    assert [r.ok for r in results] == [True, True, False]
    assert states(app) == {"repo": "current", "env": "current", "lab": "failed"}
    gl.ci.grants[GL_AUTH] = {"g/n"}
    assert all(r.ok for r in push_targets(app, select(app, ["lab"])))
    assert states(app) == {"repo": "current", "env": "current", "lab": "current"}
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW


# -- config ----------------------------------------------------------------------------

GOOD = {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": "o/r", "secret": "PYPI"}
GOOD_LAB = {"type": "gitlab-ci", "token": "pypi-main", "auth": "gl", "project": "g/n", "variable": "PYPI"}


@pytest.mark.parametrize(
    "table, message",
    [
        ({**GOOD, "colour": "red"}, "targets.t.colour is not a known key"),
        ({**GOOD, "type": "jenkins"}, "targets.t has unknown type 'jenkins'"),
        ({**GOOD, "type": ["github-actions"]}, "targets.t has unknown type of type list"),
        ({**GOOD, "repo": 5}, "targets.t.repo must be a string"),
        ({**GOOD_LAB, "masked": "yes"}, "targets.t.masked must be a bool"),
        ({k: v for k, v in GOOD.items() if k != "repo"}, "targets.t.repo is missing"),
        ({k: v for k, v in GOOD.items() if k != "secret"}, "targets.t.secret is missing"),
        ({k: v for k, v in GOOD_LAB.items() if k != "project"}, "targets.t.project is missing"),
        ({k: v for k, v in GOOD_LAB.items() if k != "variable"}, "targets.t.variable is missing"),
        ({**GOOD, "token": "Bad Name"}, "targets.t.token is not a valid token name"),
        ({**GOOD, "auth": ""}, "targets.t.auth is missing"),
        ({**GOOD, "repo": "just-a-name"}, "targets.t.repo must be OWNER/NAME"),
        ({**GOOD, "repo": "o/r/../x"}, "targets.t.repo must be OWNER/NAME"),
        ({**GOOD, "repo": "../r"}, "targets.t.repo must be OWNER/NAME"),
        ({**GOOD, "repo": "o/.."}, "targets.t.repo must be OWNER/NAME"),
        ({**GOOD, "environment": ".."}, "targets.t.environment must be an environment name"),
        ({**GOOD, "secret": "GITHUB_TOKEN"}, "targets.t.secret must be letters"),
        ({**GOOD, "secret": "1ABC"}, "targets.t.secret must be letters"),
        ({**GOOD, "secret": "A-B"}, "targets.t.secret must be letters"),
        ({**GOOD, "environment": "a/b"}, "targets.t.environment must be an environment name"),
        ({**GOOD, "environment": "pro\x1bd"}, "targets.t.environment contains control characters"),
        ({**GOOD_LAB, "variable": "A B"}, "targets.t.variable must be 1-255 letters"),
        ({**GOOD_LAB, "project": "g/../n"}, "targets.t.project must be a numeric project id or its path"),
        ({**GOOD_LAB, "project": "name-only"}, "targets.t.project must be a numeric project id or its path"),
        ({**GOOD_LAB, "environment_scope": ""}, "targets.t.environment_scope must be"),
        ({**GOOD, "api_url": "ftp://example.com"}, "targets.t.api_url must be an http(s) URL"),
        ({**GOOD, "api_url": "https://user:pw@example.com"}, "must not carry a user name or password"),
        ({**GOOD, "api_url": "https://example.com/?x=1"}, "must not have a query"),
    ],
)
def test_every_target_key_is_checked_at_load(tmp_path, table, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({"targets": {"t": table}}, tmp_path / "config.toml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_defaults_are_https_and_gitlab_masked():
    config = parse_config({"targets": {"a": GOOD, "b": {**GOOD_LAB, "api_url": ""}}}, Path("config.toml"))
    assert config.targets["a"].get("api_url") == "https://api.github.com"
    assert config.targets["b"].get("api_url") == "https://gitlab.com"
    assert config.targets["b"].get("masked") is True and config.targets["b"].get("environment_scope") == "*"
    # Plain http only when api_url says so.
    config = parse_config({"targets": {"a": {**GOOD, "api_url": "http://127.0.0.1:8/api/v3"}}}, Path("config.toml"))
    assert config.targets["a"].get("api_url") == "http://127.0.0.1:8/api/v3"


# -- the command line ------------------------------------------------------------------


def _toml(targets: dict) -> str:
    lines = []
    for name, table in targets.items():
        lines.append(f"[targets.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def cli_ci(ci, tokens, file_keyring, write_config):
    gh, gl = ci
    write_config(_toml(targets_config(gh, gl)))
    for name, value, kind, url in (("pypi-main", OLD, "generic", ""), ("gh-admin", GH_AUTH, "github", gh.url), ("gl-maint", GL_AUTH, "gitlab", gl.url)):
        assert tokens("add", name, "--kind", kind, *(("--repository", url) if url else ()), input=value).returncode == 0
    return gh, gl


def _no_secret_anywhere(result, data_dir: Path, *values: str) -> None:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    for value in values:
        assert value not in result.stdout and value not in result.stderr
        for path in files:
            assert value.encode() not in path.read_bytes(), path


def test_rotate_reaches_every_target_and_a_failing_one_is_exit_3_then_push_fixes_it(cli_ci, tokens, data_dir):
    gh, gl = cli_ci
    rotated = tokens("rotate", "pypi-main", input=NEW)
    assert rotated.returncode == 0, rotated
    assert "Pushed to CI targets repo, env, lab" in rotated.stderr
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW == gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod")
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW
    _no_secret_anywhere(rotated, data_dir, NEW, OLD, GH_AUTH, GL_AUTH)

    gh.ci.grants[GH_AUTH] = set()  # the next rotation cannot reach GitHub
    newer = NEW.replace("n", "m")
    failed = tokens("rotate", "pypi-main", input=newer)
    assert failed.returncode == 3, failed
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2 and all("(HTTP 403)" in e for e in errors)
    assert errors[0].startswith("Error: target repo: ") and errors[1].startswith("Error: target env: ")
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == newer
    assert tokens("get", "pypi-main").stdout.strip() == newer  # the stores keep the new value
    listed = {r["name"]: r for r in json.loads(tokens("targets", "--json").stdout)}
    assert {n: r["state"] for n, r in listed.items()} == {"repo": "failed", "env": "failed", "lab": "current"}
    assert "(HTTP 403)" in listed["repo"]["error"] and listed["lab"]["pushed_at"]

    gh.ci.grants[GH_AUTH] = {"o/r"}
    pushed = tokens("push")
    assert pushed.returncode == 0, pushed
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == newer == gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod")
    assert {r["state"] for r in json.loads(tokens("targets", "--json").stdout)} == {"current"}
    shown = json.loads(tokens("show", "pypi-main", "--json").stdout)
    assert [t["name"] for t in shown["targets"]] == ["repo", "env", "lab"]
    assert "lab (gitlab-ci g/n variable PYPI_TOKEN (scope production): current)" in tokens("show", "pypi-main").stdout
    for result in (failed, pushed):
        _no_secret_anywhere(result, data_dir, newer, GH_AUTH, GL_AUTH)
    events = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    assert [e["failed"] for e in events if e["event"] == "push"] == [[], ["repo", "env"], []]
    history = tokens("history", "pypi-main").stdout
    assert "targets: repo, env, lab" in history and "targets: lab; failed: repo, env" in history


def test_push_refuses_bad_input_before_any_write(cli_ci, tokens, data_dir):
    gh, gl = cli_ci
    gh.seen.clear()
    gl.seen.clear()
    unknown = tokens("push", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("Error: no target named 'nope'")
    # A masked GitLab variable cannot hold a short value: the rotation is refused (exit 2),
    # nothing is written anywhere.
    short = tokens("rotate", "pypi-main", input="tok-1234")
    assert short.returncode == 0  # 8 characters: GitLab takes it
    refused = tokens("rotate", "pypi-main", input="tok-123")
    assert refused.returncode == 2 and refused.stderr.count("Error:") == 1 and "masked" in refused.stderr
    assert tokens("get", "pypi-main").stdout.strip() == "tok-1234"
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == "tok-1234"
    dry = tokens("push", "--dry-run", "--json")
    assert dry.returncode == 0 and [p["name"] for p in json.loads(dry.stdout)] == ["repo", "env", "lab"]


def test_a_target_naming_an_unknown_auth_token_stops_rotate_and_push(ci, tokens, file_keyring, write_config, data_dir):
    gh, gl = ci
    write_config(_toml(targets_config(gh, gl, lab={"auth": "gl-nobody"})))
    for name, value, kind, url in (("pypi-main", OLD, "generic", ""), ("gh-admin", GH_AUTH, "github", gh.url)):
        assert tokens("add", name, "--kind", kind, *(("--repository", url) if url else ()), input=value).returncode == 0
    for args, stdin in ((("push",), None), (("rotate", "pypi-main"), NEW)):
        result = tokens(*args, input=stdin)
        assert result.returncode == 2, result
        assert result.stderr.strip().count("\n") == 0 and "auth token 'gl-nobody'" in result.stderr
    assert tokens("get", "pypi-main").stdout.strip() == OLD
    assert gh.seen == [] and gl.seen == []
    listed = tokens("targets")
    assert listed.returncode == 0 and "Warning: target lab names auth token 'gl-nobody', which is not in the inventory" in listed.stderr


def test_bad_target_config_is_one_error_line(tokens, write_config):
    write_config('[targets.x]\ntype = "github-actions"\ntoken = "a"\nauth = "b"\nrepo = "o/r"\nsecret = "GITHUB_X"\n')
    result = tokens("targets")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "targets.x.secret" in result.stderr


def test_doctor_checks_each_targets_access(cli_ci, tokens):
    gh, gl = cli_ci
    gh.seen.clear()
    ok = tokens("doctor", "--json")
    checks = {c["subject"]: c for c in json.loads(ok.stdout)}
    assert checks["target repo"]["state"] == "ok" and checks["target lab"]["state"] == "ok", ok
    assert [r.method for r in gh.seen] == ["GET", "GET"]  # public keys only: nothing written
    gl.ci.grants[GL_AUTH] = set()
    bad = tokens("doctor", "--json")
    checks = {c["subject"]: c for c in json.loads(bad.stdout)}
    assert bad.returncode == 3 and checks["target lab"]["state"] == "fail" and "HTTP 403" in checks["target lab"]["detail"]


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("malformed", "the public key: HTTP 200 with a body that is not JSON"),
        ("wrong-types", "the public key has no usable key_id: not the documented answer"),
        ("huge", "answer larger than 1024 KiB"),
        ("5xx-long", "HTTP 503 (server error); retry after 86400s"),
    ],
)
def test_a_github_answer_not_as_documented_fails_the_target_and_writes_nothing(ci, make_app, fault, expected):
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None))
    gh.fault = fault
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and result.error.startswith("target repo: ") and expected in result.error, result
    assert "\x1b" not in result.error
    assert [r.method for r in gh.seen if r.method == "PUT"] == []
    assert states(app) == {"repo": "failed"}


def test_a_gitlab_message_echoing_the_value_is_not_repeated(ci, make_app, monkeypatch):
    """GitLab's `message` is shown (cleaned); an answer that echoes the value or the auth
    token is not."""
    gh, gl = ci
    app = make_app(targets_config(gh, gl, repo=None, env=None))
    gl.ci.grants[GL_AUTH] = set()
    from tests import registry_standins

    original = registry_standins._Handler._reply

    def echo(self, status, body=None, headers=None, raw=None):
        if status == 403:
            body = {"message": f"403 Forbidden for {GL_AUTH} writing {NEW}"}
        return original(self, status, body, headers, raw)

    monkeypatch.setattr(registry_standins._Handler, "_reply", echo)
    [result] = push_token(app, "pypi-main", NEW)
    assert not result.ok and "(HTTP 403)" in result.error and "echoed a secret" in result.error
    assert NEW not in result.error and GL_AUTH not in result.error


def test_the_scheduled_rotate_due_reaches_the_targets_too(ci, tokens, file_keyring, write_config):
    gh, gl = ci
    write_config(_toml(targets_config(gh, gl, env=None, lab=None)) + f'[rotate.token]\npypi-main = ["echo", "{NEW}"]\n')
    assert tokens("add", "pypi-main", "--kind", "generic", "--created", "2020-01-01", "--rotate-every", "30d", input=OLD).returncode == 0
    assert tokens("add", "gh-admin", "--kind", "github", "--repository", gh.url, input=GH_AUTH).returncode == 0
    due = tokens("rotate", "--due")
    assert due.returncode == 0, due
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
    assert "Pushed to CI targets repo" in due.stderr
    assert {r["state"] for r in json.loads(tokens("targets", "--json").stdout)} == {"current"}


def test_push_pending_pushes_stale_and_failed_targets_only(ci, make_app):
    """What `tokens sync` pushes: stale and failed targets, each its token's current value;
    a target never pushed from this machine is left alone."""
    from tokenward.targets.push import pending_targets, push_pending

    gh, gl = ci
    app = make_app(targets_config(gh, gl))
    assert pending_targets(app) == [] and push_pending(app) == []
    assert all(r.ok for r in push_token(app, "pypi-main", OLD, only=["repo", "lab"]))
    lifecycle.rotate_token(app, "pypi-main", NEW)  # stores only: repo and lab are stale now
    gl.ci.grants[GL_AUTH] = set()
    assert [t.name for t in pending_targets(app)] == ["repo", "lab"]
    results = {r.target: r for r in push_pending(app, ["pypi-main"])}
    assert results["repo"].ok and not results["lab"].ok and "(HTTP 403)" in results["lab"].error
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW and gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod") is None
    assert states(app) == {"repo": "current", "env": "never", "lab": "failed"}
    gl.ci.grants[GL_AUTH] = {"g/n"}
    assert [r.target for r in push_pending(app, ["gh-admin"])] == []  # another token's targets only
    assert [(r.target, r.ok) for r in push_pending(app)] == [("lab", True)]
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW
    assert states(app) == {"repo": "current", "env": "never", "lab": "current"}


def test_the_leak_response_replaces_the_leaked_value_in_ci_too(cli_ci, tokens):
    gh, gl = cli_ci
    leaked = tokens("rotate", "--leaked", "pypi-main", input=NEW)
    assert leaked.returncode == 0, leaked
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW == gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod")
    assert gl.ci.variable("g/n", "PYPI_TOKEN", "production")["value"] == NEW


def test_sync_pushes_the_targets_a_rotation_left_behind(cli_ci, tokens, data_dir):
    gh, gl = cli_ci
    gh.ci.grants[GH_AUTH] = set()
    assert tokens("rotate", "pypi-main", input=NEW).returncode == 3
    dry = tokens("sync", "--dry-run", "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["targets"] == [
        {"name": "repo", "result": "planned", "error": None}, {"name": "env", "result": "planned", "error": None},
    ]
    still = tokens("sync")
    assert still.returncode == 1, still
    assert [line for line in still.stderr.splitlines() if line.startswith("Error: target")] == [
        line for line in still.stderr.splitlines() if "(HTTP 403)" in line
    ] and still.stderr.count("Error: target") == 2
    gh.ci.grants[GH_AUTH] = {"o/r"}
    fixed = tokens("sync")
    assert fixed.returncode == 0, fixed
    assert "pushed to CI targets repo, env" in fixed.stdout and "2 CI targets pushed" in fixed.stdout
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW == gh.ci.secret("o/r", "PYPI_API_TOKEN", env="prod")
    assert {r["state"] for r in json.loads(tokens("targets", "--json").stdout)} == {"current"}
    gh.seen.clear()
    again = tokens("sync")
    assert again.returncode == 0 and gh.seen == [] and "CI targets" not in again.stdout  # nothing left to push
    _no_secret_anywhere(fixed, data_dir, NEW, GH_AUTH, GL_AUTH)


def test_a_short_github_rate_limit_is_waited_out_within_three_requests(ci, make_app):
    """403 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` a second ahead: the
    client waits for the reset, then pushes (public key, public key again, PUT)."""
    gh, gl = ci
    app = make_app(targets_config(gh, gl, env=None, lab=None))
    gh.fault = "github-ratelimit"
    [result] = push_token(app, "pypi-main", NEW)
    assert result.ok, result
    assert [r.method for r in gh.seen] == ["GET", "GET", "PUT"]
    assert gh.ci.secret("o/r", "PYPI_API_TOKEN") == NEW
