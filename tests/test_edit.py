"""`tokens edit` (issue 9 item 18, SPEC Part 2): metadata only, checked like `add`,
audited, and carried to the Vault (OpenBao) and AWS (moto) metadata without a new
value version, so a teammate's `tokens sync --discover` sees it."""

from __future__ import annotations

import json

import pytest

from tests.remote_stores import aws_table, boto_client, hvac_root, remote_env, unique, vault_table

VALUE = "ghp_editEditEdit0123456789abcdef"


@pytest.fixture
def team(tokens, openbao, moto, tmp_path, monkeypatch, file_keyring):
    """Two machines sharing one OpenBao and one moto; each has its own data dir."""
    env = remote_env(monkeypatch, openbao)
    prefix = unique("edit") + "/"
    config = tmp_path / "team.toml"
    config.write_text(
        '[defaults]\nstores = ["vault", "aws"]\n' + vault_table("vault", openbao.url, prefix) + aws_table("aws", moto.url, prefix)
    )

    def machine(label: str):
        def run(*args, input=None):
            return tokens(*args, input=input, env=dict(env, TOKENS_CONFIG=str(config), TOKENS_HOME=str(tmp_path / label)))

        return run

    return machine, prefix


def versions(openbao, moto, prefix: str, name: str) -> tuple:
    vault = hvac_root(openbao).secrets.kv.v2.read_secret_metadata(path=prefix + name, mount_point="secret")["data"]
    aws = boto_client(moto).describe_secret(SecretId=prefix + name)
    current = [v for v, stages in aws["VersionIdsToStages"].items() if "AWSCURRENT" in stages]
    return vault["current_version"], current, len(aws["VersionIdsToStages"])


def test_a_teammate_discovers_the_edit(team, openbao, moto):
    machine, prefix = team
    me, teammate = machine("me"), machine("teammate")
    assert me("add", "gh-release", "--purpose", "old purpose", "--created", "2026-01-15", input=VALUE).returncode == 0
    before = versions(openbao, moto, prefix, "gh-release")

    edited = me(
        "edit", "gh-release", "--purpose", "gh release from CI", "--scope", "project:owner/repo",
        "--repository", "https://ghe.example.com/api/v3", "--rotate-every", "6mo", "--expires", "2027-03-01",
    )  # fmt: skip
    assert edited.returncode == 0, edited
    assert "in the inventory, vault, aws" in edited.stderr
    assert versions(openbao, moto, prefix, "gh-release") == before  # no new value version anywhere

    assert teammate("sync", "--discover").returncode == 0
    seen = json.loads(teammate("show", "gh-release", "--json").stdout)
    assert seen["purpose"] == "gh release from CI"
    assert seen["scope"] == "project:owner/repo"
    assert seen["repository"] == "https://ghe.example.com/api/v3"
    assert seen["rotate_every"] == "6mo"
    assert seen["expires_at"] == "2027-03-01T00:00:00+00:00"
    assert teammate("get", "gh-release").stdout.strip() == VALUE

    history = me("history", "gh-release", "--json")
    edits = [e for e in json.loads(history.stdout) if e["event"] == "edit"]
    assert edits and edits[-1]["stores"] == ["vault", "aws"]
    assert "purpose" in edits[-1]["fields"] and VALUE not in history.stdout


def test_edits_of_different_fields_by_two_machines_are_both_kept(team, tmp_path):
    machine, _ = team
    me, teammate, newcomer = machine("me"), machine("teammate"), machine("newcomer")
    assert me("add", "gh-shared", "--purpose", "first", input=VALUE).returncode == 0
    assert teammate("sync", "--discover").returncode == 0
    assert me("edit", "gh-shared", "--purpose", "edited by me").returncode == 0
    assert teammate("edit", "gh-shared", "--rotate-every", "30d").returncode == 0
    assert newcomer("sync", "--discover").returncode == 0
    seen = json.loads(newcomer("show", "gh-shared", "--json").stdout)
    assert (seen["purpose"], seen["rotate_every"]) == ("edited by me", "30d")


def test_an_edit_does_not_describe_a_value_this_machine_has_not_seen(team, openbao, moto):
    machine, prefix = team
    me, teammate = machine("me"), machine("teammate")
    assert me("add", "gh-moved", "--purpose", "first", input=VALUE).returncode == 0
    assert teammate("sync", "--discover").returncode == 0
    assert teammate("rotate", "gh-moved", input="ghp_rotatedByTeammate0123456789").returncode == 0

    result = me("edit", "gh-moved", "--purpose", "stale machine")
    assert result.returncode == 3, result
    assert "its value changed since this machine last synced" in result.stderr
    # The teammate's metadata still vouches for their value.
    assert teammate("sync", "gh-moved").returncode == 0


def test_edit_of_a_keyring_token_is_local_and_audited(tokens, file_keyring):
    assert tokens("add", "gh-local", "--purpose", "old", input=VALUE).returncode == 0
    result = tokens("edit", "gh-local", "--purpose", "new", "--env", "MY_TOKEN={value}")
    assert result.returncode == 0, result
    assert result.stderr == "Changed purpose, env of gh-local in the inventory.\n"
    assert json.loads(tokens("show", "gh-local", "--json").stdout)["purpose"] == "new"
    assert "edit" in tokens("history", "gh-local").stdout
    ran = tokens("exec", "--token", "gh-local", "--no-mask", "--", "sh", "-c", 'echo "$MY_TOKEN"')
    assert ran.stdout.strip() == VALUE


def test_a_store_down_during_an_edit_gets_it_when_the_edit_is_run_again(team, openbao, tmp_path):
    from tests.remote_stores import dead_url

    machine, _ = team
    me, newcomer = machine("me"), machine("newcomer")
    assert me("add", "gh-down", "--purpose", "first", input=VALUE).returncode == 0
    config = tmp_path / "team.toml"
    good = config.read_text()
    config.write_text(good.replace(openbao.url, dead_url()))
    result = me("edit", "gh-down", "--purpose", "second")
    assert result.returncode == 3, result
    assert "Changed purpose of gh-down in the inventory, aws." in result.stderr
    assert "Error: not written to store 'vault'" in result.stderr and "store 'vault': store" not in result.stderr

    config.write_text(good)
    again = me("edit", "gh-down", "--purpose", "second")
    assert again.returncode == 0, again
    assert "written again to vault, aws" in again.stderr
    assert newcomer("sync", "--discover").returncode == 0
    assert json.loads(newcomer("show", "gh-down", "--json").stdout)["purpose"] == "second"
