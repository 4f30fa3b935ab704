"""The Vault/OpenBao store against a real OpenBao dev server: auth, policies, mounts,
check-and-set, outside changes, and the CLI's exit codes when Vault fails."""

from __future__ import annotations

import pytest

from tests.remote_stores import dead_url, hvac_root, keyring_table, remote_env, unique, vault_table
from tokenward.config import StoreConfig
from tokenward.errors import AccessDenied, ConfigError, StoreConflict, StoreUnavailable, UsageError
from tokenward.stores.vault import VaultStore

VALUE = "ghp_VAULTtestVALUE0123456789abcdefXYZ"
META = {"tokenward": "1", "name": "tok", "fingerprint": "0123456789abcdef", "rotated_at": "2026-01-01T00:00:00+00:00"}


@pytest.fixture
def vault(openbao, monkeypatch):
    remote_env(monkeypatch, openbao)
    return openbao


def make(url, **options) -> VaultStore:
    return VaultStore(StoreConfig("team-vault", "vault", {"url": url, "prefix": unique("v/") + "/", **options}))


def test_approle_login_works(vault, tmp_path, monkeypatch):
    root = hvac_root(vault)
    mount = unique("approle")
    prefix = unique("ar/") + "/"
    root.sys.enable_auth_method("approle", path=mount)
    root.sys.create_or_update_policy(
        "tokenward-rw", f'path "secret/data/{prefix}*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{prefix}*" {{ capabilities = ["create", "read", "update", "list", "delete"] }}\n'
    )
    root.auth.approle.create_or_update_approle("ci", token_policies=["tokenward-rw"], mount_point=mount)
    role_id = root.auth.approle.read_role_id("ci", mount_point=mount)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("ci", mount_point=mount)["data"]["secret_id"]
    (tmp_path / "role").write_text(role_id + "\n")
    (tmp_path / "secret").write_text(secret_id + "\n")
    monkeypatch.delenv("VAULT_TOKEN")
    store = VaultStore(
        StoreConfig(
            "team-vault",
            "vault",
            {
                "url": vault.url,
                "prefix": prefix,
                "auth": "approle",
                "approle_mount": mount,
                "role_id_file": str(tmp_path / "role"),
                "secret_id_file": str(tmp_path / "secret"),
            },
        )
    )
    store.put("tok", VALUE, META)
    assert store.get("tok") == VALUE
    # The same through $VAULT_ROLE_ID / $VAULT_SECRET_ID.
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    monkeypatch.setenv("VAULT_SECRET_ID", root.auth.approle.generate_secret_id("ci", mount_point=mount)["data"]["secret_id"])
    env_store = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": prefix, "auth": "approle", "approle_mount": mount}))
    assert env_store.get("tok") == VALUE
    # A wrong secret id is "access denied", naming the login path.
    monkeypatch.setenv("VAULT_SECRET_ID", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(AccessDenied, match=f"AppRole login at auth/{mount} failed"):
        VaultStore(StoreConfig("v", "vault", {"url": vault.url, "auth": "approle", "approle_mount": mount})).get("tok")


def test_approle_without_role_id_is_a_config_error(vault, monkeypatch):
    monkeypatch.delenv("VAULT_ROLE_ID", raising=False)
    with pytest.raises(ConfigError, match="role_id"):
        make(vault.url, auth="approle").get("tok")


def test_policy_denying_writes_is_access_denied_naming_the_path(vault, monkeypatch, tokens, write_config, data_dir):
    root = hvac_root(vault)
    prefix = unique("ro/") + "/"
    root.sys.create_or_update_policy(
        "tokenward-ro", f'path "secret/data/{prefix}*" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{prefix}*" {{ capabilities = ["read", "list"] }}\n'
    )
    read_only = root.auth.token.create(policies=["tokenward-ro"], ttl="10m")["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", read_only)
    store = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": prefix}))
    with pytest.raises(AccessDenied) as info:
        store.put("tok", VALUE, META)
    message = str(info.value)
    # The first write of a store creates its fingerprint key (stores/base.py): refused first.
    assert "access denied" in message and f"secret/{prefix}" in message and VALUE not in message

    write_config('[defaults]\nstores = ["team-vault"]\n' + vault_table("team-vault", vault.url, prefix))
    result = tokens("add", "tok", input=VALUE + "\n", env={"VAULT_TOKEN": read_only})
    assert result.returncode == 3, result
    assert f"access denied to write secret/{prefix}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert VALUE not in result.stdout + result.stderr


def test_kv_v1_mount_is_a_clear_error(vault):
    root = hvac_root(vault)
    mount = unique("kvone")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    store = make(vault.url, mount=mount)
    with pytest.raises(ConfigError, match="KV version 1 mount; tokenward needs KV version 2"):
        store.put("tok", VALUE, META)
    # Nothing was written through the v1 API (where a v2-style write would land as "data/...").
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v1.list_secrets(path="", mount_point=mount)


def test_missing_mount_is_a_clear_error(vault):
    with pytest.raises(AccessDenied, match="does not exist"):
        make(vault.url, mount=unique("nomount")).get("tok")


def test_no_token_names_the_ways_to_log_in(vault, monkeypatch, tmp_path):
    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(AccessDenied, match=r"\$VAULT_TOKEN.*vault-token"):
        make(vault.url).get("tok")


def test_token_file_and_home_vault_token(vault, monkeypatch, tmp_path):
    monkeypatch.delenv("VAULT_TOKEN")
    (tmp_path / "tok").write_text(vault.extra["root_token"] + "\n")
    store = make(vault.url, token_file=str(tmp_path / "tok"))
    store.put("tok", VALUE, META)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text(vault.extra["root_token"])
    assert VaultStore(StoreConfig("v", "vault", {"url": vault.url, "prefix": store.prefix})).get("tok") == VALUE


def test_vault_addr_fills_in_the_url(vault, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    store = VaultStore(StoreConfig("v", "vault", {"prefix": unique("addr/") + "/"}))
    store.put("tok", VALUE, META)
    assert store.get("tok") == VALUE


def test_check_and_set_refuses_a_concurrent_write(vault):
    mine = make(vault.url)
    theirs = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": mine.prefix}))
    mine.put("tok", VALUE, META)
    assert set(mine.list_entries()) == {"tok"}  # mine has now seen version 1
    theirs.put("tok", VALUE + "2", META)  # someone else writes version 2
    with pytest.raises(StoreConflict, match=r"Vault changed since your last sync: .* is at version 2.*run `tokens sync` first"):
        mine.put("tok", VALUE + "3", META)
    assert theirs.get("tok") == VALUE + "2"


def test_hand_change_leaves_metadata_describing_an_older_version(vault):
    store = make(vault.url)
    store.put("tok", VALUE, META)
    hvac_root(vault).secrets.kv.v2.create_or_update_secret(path=store.prefix + "tok", secret={"value": "by hand"})
    entry = store.list_entries()["tok"]
    assert entry.version == "2" and entry.metadata["version"] == "1"


def test_stopped_server_is_store_unavailable(vault):
    with pytest.raises(StoreUnavailable, match="cannot reach Vault"):
        make(dead_url()).get("tok")


def test_stopped_server_exits_3_through_the_cli(vault, tokens, write_config, real_keyring):
    write_config(
        '[defaults]\nstores = ["keyring", "team-vault"]\n'
        + keyring_table(unique("tokenward-test-"))
        + vault_table("team-vault", dead_url(), "x/")
    )
    result = tokens("add", "tok", input=VALUE + "\n")
    assert result.returncode == 3, result
    assert result.stderr.startswith("Error: store 'team-vault': cannot reach Vault at http://127.0.0.1:")
    assert VALUE not in result.stdout + result.stderr
    # Nothing half-done: the keyring write was undone and the inventory is empty.
    assert tokens("get", "tok").returncode == 2


def test_prefix_without_trailing_slash_is_a_folder(vault):
    """Issue 9 item 7: `prefix = "tw3"` once wrote secret/tw3NAME, which listing never saw."""
    folder = unique("tw")
    store = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": folder}))
    assert store.where("vn1") == f"secret/{folder}/vn1"
    store.put("vn1", VALUE, META)
    assert set(store.list_entries()) == {"vn1"}
    slashed = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": f"/{folder}/"}))
    assert slashed.get("vn1") == VALUE


def test_an_invalid_token_is_reported_as_refused_not_as_a_missing_mount(vault, monkeypatch):
    """Issue 9 item 19."""
    monkeypatch.setenv("VAULT_TOKEN", "s.not-a-real-token")
    with pytest.raises(AccessDenied) as caught:
        make(vault.url).get("tok")
    message = str(caught.value)
    assert "refused the token" in message and "does not exist" not in message


def test_metadata_vault_refuses_is_refused_before_anything_is_written(vault):
    """Issue 9 item 9: custom_metadata must be printable (Go's unicode.IsPrint)."""
    store = make(vault.url)
    for bad in ("line\nbreak", "esc\x1b[31m", "nel\x85", "sep\u2028", "tab\there"):
        with pytest.raises(UsageError, match="purpose"):
            store.check_metadata({**META, "purpose": bad})
    store.check_metadata({**META, "purpose": "publish föö from CI — ok"})


def test_a_create_whose_metadata_write_fails_leaves_nothing(vault, monkeypatch):
    """Issue 9 item 9: the value written just before a refused metadata write is removed."""
    root = hvac_root(vault)
    prefix = unique("meta/") + "/"
    root.sys.create_or_update_policy(
        "no-meta-update",
        f'path "secret/data/{prefix}*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{prefix}*" {{ capabilities = ["read", "list", "delete"] }}\n'
        'path "sys/internal/ui/mounts/*" { capabilities = ["read"] }\n',
    )
    token = root.auth.token.create(policies=["no-meta-update"])["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    store = VaultStore(StoreConfig("team-vault", "vault", {"url": vault.url, "prefix": prefix}))
    with pytest.raises(AccessDenied):
        store.put("tok", VALUE, META, expect=None)
    with pytest.raises(Exception):
        root.secrets.kv.v2.read_secret_metadata(path=prefix + "tok")


def test_add_with_metadata_vault_refuses_writes_nothing(vault, tokens, write_config, file_keyring):
    prefix = unique("add/") + "/"
    write_config(
        '[defaults]\nstores = ["keyring", "team-vault"]\n[stores.keyring]\n' + vault_table("team-vault", vault.url, prefix)
    )
    result = tokens("add", "tok", "--purpose", "two\u2028lines", input=VALUE + "\n")
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and "purpose" in result.stderr
    assert VALUE not in result.stdout + result.stderr
    assert tokens("show", "tok").returncode == 2
    assert not file_keyring.exists() or "tok" not in file_keyring.read_text()
    with pytest.raises(Exception):
        hvac_root(vault).secrets.kv.v2.read_secret_metadata(path=prefix + "tok")
