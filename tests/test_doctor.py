"""`tokens doctor` against real stores: keyring, OpenBao, moto, and one that is down."""

import json

from tests.remote_stores import aws_table, dead_url, keyring_table, remote_env, unique, vault_table


def test_doctor_checks_every_store(tokens, write_config, real_keyring, openbao, moto, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    prefix = unique("doc") + "/"
    write_config(
        keyring_table("tokenward-doctor")
        + vault_table("vault", openbao.url, prefix)
        + aws_table("team-aws", moto.url, prefix)
    )
    result = tokens("doctor", env=env)
    assert result.returncode == 0, result
    assert "keyring.backends.SecretService.Keyring" in result.stdout
    assert f"Vault KV v2 at {openbao.url}" in result.stdout
    checks = {c["subject"]: c for c in json.loads(tokens("doctor", "--json", env=env).stdout)}
    assert {checks[s]["state"] for s in ("store keyring", "store vault", "store team-aws", "config", "inventory")} == {"ok"}


def test_doctor_names_the_unreachable_store_and_exits_3(tokens, write_config, file_keyring, openbao, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    write_config(vault_table("vault", openbao.url, "ok/") + vault_table("far-vault", dead_url(), "x/"))
    result = tokens("doctor", env=env)
    assert result.returncode == 3, result
    failed = [line for line in result.stdout.splitlines() if line.startswith("[FAIL]")]
    assert len(failed) == 1 and "far-vault" in failed[0]
    assert "Traceback" not in result.stderr


def test_doctor_reports_bad_vault_token(tokens, write_config, file_keyring, openbao, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    env["VAULT_TOKEN"] = "not-a-real-token"
    write_config(vault_table("vault", openbao.url, "ok/"))
    result = tokens("doctor", env=env)
    assert result.returncode == 3, result
    assert "store vault" in result.stdout and "not-a-real-token" not in result.stdout + result.stderr
