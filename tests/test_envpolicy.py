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
