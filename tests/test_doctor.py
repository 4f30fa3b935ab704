"""`tokens doctor` against real stores: keyring, OpenBao, moto, and one that is down."""

import json

import pytest

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


BAD_CONFIGS = [
    ("[stores.keyring\n", "invalid TOML"),
    ("[defaults]\nstorez = []\n", "is not a known key"),
    ('[stores.v]\ntype = "nope"\n', "stores.v"),
    (b"\xff\xfe[defaults]\n", "not UTF-8"),
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS, ids=["toml", "unknown-key", "store-type", "not-utf8"])
def test_doctor_reports_a_bad_config_as_a_finding_in_json_too(tokens, tmp_path, monkeypatch, data_dir, text, message):
    config = tmp_path / "bad-config.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.setenv("TOKENS_CONFIG", str(config))
    result = tokens("doctor", "--json")
    assert result.returncode == 2, result
    checks = {c["subject"]: c for c in json.loads(result.stdout)}
    assert checks["config"]["state"] == "fail" and message in checks["config"]["detail"]
    assert str(config) in checks["config"]["detail"]
    assert checks["inventory"]["state"] == "ok"  # the rest is still checked
    assert checks["stores"]["state"] == "warn"
    assert result.stderr == ""

    text_result = tokens("doctor")
    assert text_result.returncode == 2, text_result
    assert text_result.stdout.splitlines()[0].startswith(f"[FAIL] config: {config}")


def test_doctor_reports_a_missing_named_config(tokens, tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENS_CONFIG", str(tmp_path / "nowhere.toml"))
    result = tokens("doctor", "--json")
    assert result.returncode == 2, result
    config = json.loads(result.stdout)[0]
    assert config == {"subject": "config", "state": "fail", "detail": f"{tmp_path / 'nowhere.toml'}: config file not found"}


def test_doctor_text_output_shows_a_hostile_config_key_escaped(tokens, tmp_path, monkeypatch, data_dir):
    """A config key (the config file may come from a repository) holding an OSC title
    sequence, BEL, a bidi override and a newline is shown escaped on one line, as `list` shows it."""
    config = tmp_path / "hostile.toml"
    config.write_text('[defaults]\n"\\u001b]0;PWNED\\u0007x\\u202ey\\nFAKE" = 1\n')
    monkeypatch.setenv("TOKENS_CONFIG", str(config))
    result = tokens("doctor")
    assert result.returncode == 2, result
    assert not any(ch in result.stdout for ch in "\x1b\x07\u202e"), result.stdout
    first = result.stdout.splitlines()[0]
    assert first.startswith("[FAIL] config: ") and "\\x1b]0;PWNED\\x07" in first and "FAKE" in first
