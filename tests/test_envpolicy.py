"""Env templates may not make `tokens exec`'s child run someone's code (issue 15 item 4):
`BASH_ENV`, `LD_PRELOAD`, `PYTHONPATH`, `NODE_OPTIONS`, ... are refused in `add --env`,
in imported records and in whatever the inventory holds, unless `--allow-env VAR`."""

from __future__ import annotations

import json

import pytest

from tokenward.inventory import Inventory

VALUE = "ghp_envpolicyEnvpolicy0123456789"
DANGEROUS = ["BASH_ENV", "ENV", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONSTARTUP", "PYTHONPATH", "NODE_OPTIONS",
             "PERL5OPT", "RUBYOPT", "GIT_SSH_COMMAND", "GIT_CONFIG_PARAMETERS", "PATH", "npm_config_script_shell",
             "BASH_FUNC_echo", "JAVA_TOOL_OPTIONS", "RUSTC_WRAPPER"]  # fmt: skip
HARMLESS = ["GH_TOKEN", "TWINE_PASSWORD", "NODE_AUTH_TOKEN", "MY_API_KEY"]


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    return lines[0]


@pytest.mark.parametrize("var", DANGEROUS)
def test_add_refuses_a_template_that_runs_code(tokens, file_keyring, var):
    result = tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", f"{var}=/tmp/evil", input=VALUE)
    assert result.returncode == 2, result
    line = one_error_line(result)
    assert var in line and "--allow-env" in line
    assert VALUE not in result.stderr
    assert tokens("list", "--json").stdout.strip() in ("", "[]")


@pytest.mark.parametrize("var", HARMLESS)
def test_add_accepts_a_template_that_only_carries_the_token(tokens, file_keyring, var):
    assert tokens("add", "t1", "--env", f"{var}={{value}}", input=VALUE).returncode == 0
    result = tokens("exec", "--token", "t1", "--no-mask", "--", "sh", "-c", f'test "${var}" = "{VALUE}" && echo same')
    assert result.returncode == 0 and result.stdout == "same\n", result


def _plant(data_dir, env: dict) -> None:
    """A record as a replaced inventory, an import or a shared store could bring it."""
    with Inventory.open(data_dir) as inventory:
        inventory.update("t1", env=env)


def test_exec_refuses_a_planted_bash_env_before_reading_or_running(tokens, file_keyring, data_dir, tmp_path):
    """The issue's attack: {"GH_TOKEN": "{value}", "BASH_ENV": "evil.sh"} in the inventory."""
    assert tokens("add", "t1", input=VALUE).returncode == 0
    marker = tmp_path / "stolen"
    evil = tmp_path / "evil.sh"
    evil.write_text(f'printf %s "$GH_TOKEN" > {marker}\n')
    _plant(data_dir, {"GH_TOKEN": "{value}", "BASH_ENV": str(evil)})
    result = tokens("exec", "--token", "t1", "--", "bash", "-c", "true")
    assert result.returncode == 2, result
    line = one_error_line(result)
    assert "t1's env template sets BASH_ENV" in line and "--allow-env BASH_ENV" in line
    assert not marker.exists()
    assert [e["event"] for e in json.loads(tokens("history", "t1", "--json").stdout)] == ["add"]  # not used


def test_allow_env_is_the_explicit_escape_hatch(tokens, file_keyring, tmp_path):
    marker = tmp_path / "ran"
    startup = tmp_path / "startup.sh"
    startup.write_text(f"touch {marker}\n")
    added = tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", f"BASH_ENV={startup}", "--allow-env", "BASH_ENV", input=VALUE)
    assert added.returncode == 0, added
    refused = tokens("exec", "--token", "t1", "--", "bash", "-c", "true")
    assert refused.returncode == 2 and not marker.exists()
    allowed = tokens("exec", "--token", "t1", "--allow-env", "BASH_ENV", "--", "bash", "-c", "true")
    assert allowed.returncode == 0, allowed
    assert marker.exists()
    bad = tokens("exec", "--token", "t1", "--allow-env", "BASH_ENV=x", "--", "true")
    assert bad.returncode == 2 and "give a variable name" in bad.stderr


def test_json_import_refuses_a_record_whose_env_runs_code(tokens, file_keyring, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({"name": "ci-gh", "value": VALUE, "env": {"GH_TOKEN": "{value}", "LD_PRELOAD": "/tmp/x.so"}}) + "\n")
    result = tokens("import", str(path))
    assert result.returncode == 2, result
    assert "LD_PRELOAD" in one_error_line(result)
    assert tokens("list", "--json").stdout.strip() in ("", "[]")


def test_dotenv_import_does_not_map_a_code_running_name(tokens, file_keyring, tmp_path):
    path = tmp_path / ".env"
    path.write_text(f"NODE_OPTIONS={VALUE}\n")
    result = tokens("import", str(path), "--format", "dotenv")
    assert result.returncode == 0, result
    with Inventory.open(tmp_path / "home") as inventory:
        (record,) = inventory.all()
    assert "NODE_OPTIONS" not in record.env


# -- issue 15 follow-up items 1-3: an allowlist, destination variables, import --allow-env --

from tests.fixtures_pypiserver import mint  # noqa: E402
from tests.publisher_helpers import harness, recording_servers  # noqa: E402,F401 - fixtures
from tests.test_publisher_twine import twine  # noqa: E402

PYPI_VALUE = mint(identifier="team-pypi")
# Accepted before by `tokens add` (exit 0), each sending the token elsewhere or exposing it.
DESTINATION = ["OPENSSL_CONF", "SSLKEYLOGFILE", "CARGO_HOME", "UV_CONFIG_FILE", "NODE_EXTRA_CA_CERTS", "HTTPS_PROXY",
               "https_proxy", "ALL_PROXY", "TWINE_REPOSITORY_URL", "TWINE_REPOSITORY", "UV_PUBLISH_URL",
               "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_INDEX_URL", "HATCH_INDEX_REPO",
               "POETRY_REPOSITORIES_X_URL", "CARGO_REGISTRIES_X_INDEX", "GH_HOST", "TWINE_CERT", "POETRY_CONFIG_DIR"]  # fmt: skip


def _team_pypi_record(port_url: str) -> dict:
    """Item 1's record: a username, the password, and three variables that move the token."""
    return {"name": "team-pypi", "value": PYPI_VALUE, "env": {
        "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "{value}", "TWINE_REPOSITORY_URL": port_url,
        "HTTPS_PROXY": port_url, "REQUESTS_CA_BUNDLE": "/x/evil-ca.pem"}}  # fmt: skip


@pytest.mark.parametrize("var", DESTINATION)
def test_add_refuses_a_template_that_changes_the_destination(tokens, file_keyring, var):
    for template in ("http://127.0.0.1:9/{value}", "/tmp/evil"):
        result = tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", f"{var}={template}", input=VALUE)
        assert result.returncode == 2, result
        line = one_error_line(result)
        assert f"sets {var}" in line and "where the token is sent" in line and "--allow-env cannot allow it" in line
        allowed = tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", f"{var}={template}", "--allow-env", var, input=VALUE)
        assert allowed.returncode == 2 and "where the token is sent" in one_error_line(allowed)
    assert tokens("list", "--json").stdout.strip() in ("", "[]")


def test_add_refuses_a_constant_outside_the_allowlist(tokens, file_keyring):
    result = tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", "MY_MODE=ci", input=VALUE)
    assert result.returncode == 2 and "--allow-env MY_MODE" in one_error_line(result)
    assert tokens("add", "t1", "--env", "GH_TOKEN={value}", "--env", "MY_MODE=ci", "--allow-env", "MY_MODE", input=VALUE).returncode == 0


@pytest.mark.parametrize("var", ["TWINE_USERNAME", "UV_PUBLISH_USERNAME", "HATCH_INDEX_USER", "FLIT_USERNAME",
                                 "PDM_PUBLISH_USERNAME", "POETRY_HTTP_BASIC_CORP_USERNAME"])  # fmt: skip
def test_a_username_constant_is_allowed(tokens, file_keyring, var):
    result = tokens("add", "t1", "--env", "MY_PASSWORD={value}", "--env", f"{var}=__token__", input=VALUE)
    assert result.returncode == 0, result


def test_json_import_of_a_template_that_moves_the_token_is_refused(tokens, file_keyring, tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_team_pypi_record("http://127.0.0.1:9/legacy/")))
    result = tokens("import", str(path))
    assert result.returncode == 2, result
    assert "sets HTTPS_PROXY" in one_error_line(result)  # the first, sorted
    assert PYPI_VALUE not in result.stderr + result.stdout
    assert tokens("list", "--json").stdout.strip() in ("", "[]")


def test_import_takes_allow_env(tokens, file_keyring, tmp_path):
    """Item 3: the error named --allow-env, which import did not have."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"name": "ci-gh", "value": VALUE, "env": {"GH_TOKEN": "{value}", "MY_MODE": "ci"}}))
    refused = tokens("import", str(path))
    assert refused.returncode == 2 and "--allow-env MY_MODE" in one_error_line(refused)
    imported = tokens("import", str(path), "--allow-env", "MY_MODE")
    assert imported.returncode == 0, imported
    shown = json.loads(tokens("show", "ci-gh", "--json").stdout)
    assert shown["env"] == {"GH_TOKEN": "{value}", "MY_MODE": "ci"}
    text = tokens("show", "ci-gh").stdout
    assert "GH_TOKEN={value}, MY_MODE=ci" in text


def test_show_displays_a_planted_env_mapping_neutralised(tokens, file_keyring, data_dir):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    _plant(data_dir, {"GH_TOKEN": "{value}", "X\x1b[2J": "a\nb"})
    text = tokens("show", "t1").stdout
    assert "GH_TOKEN={value}" in text and "\x1b" not in text and "a\nb" not in text


def test_edit_refuses_a_destination_template(tokens, file_keyring):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    result = tokens("edit", "t1", "--env", "GH_TOKEN={value}", "--env", "HTTPS_PROXY=http://127.0.0.1:9")
    assert result.returncode == 2 and "sets HTTPS_PROXY" in one_error_line(result)


def test_exec_refuses_a_planted_destination_template_even_with_allow_env(harness):
    """Item 1's attack with the record planted in the inventory: before, exec said "using
    pypi-main for https://upload.pypi.org/legacy/" and twine uploaded the token to B."""
    _plant_named(harness.data_dir, "pypi-main", _team_pypi_record(harness.b.upload_url())["env"])
    for extra in ((), ("--allow-env", "TWINE_REPOSITORY_URL", "--allow-env", "HTTPS_PROXY", "--allow-env", "REQUESTS_CA_BUNDLE")):
        result = harness.tokens("exec", *extra, "--", twine(), "upload", str(harness.work / "dist" / "*"), env=harness.env)
        assert result.returncode == 2, result
        line = one_error_line(result)
        assert "pypi-main's env template sets HTTPS_PROXY" in line and "where the token is sent" in line
        assert harness.a.requests == [] and harness.b.requests == []
    assert harness.execs() == []


def _plant_named(data_dir, name: str, env: dict) -> None:
    with Inventory.open(data_dir) as inventory:
        inventory.update(name, env=env)
