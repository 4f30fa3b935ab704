import os
import stat
import subprocess
import uuid

import keyring
import pytest

from tests import servers
from tokenward.config import StoreConfig
from tokenward.errors import AccessDenied, SecretNotFound, StoreUnavailable
from tokenward.stores import secret_service
from tokenward.stores.keyring_store import CACHE_FILE, KeyringStore


def store(data_dir, **options) -> KeyringStore:
    data_dir.mkdir(mode=0o700, exist_ok=True)
    return KeyringStore(StoreConfig("keyring", "keyring", options), data_dir=data_dir)


def test_fail_backend_names_the_fix(data_dir, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(StoreUnavailable) as info:
        store(data_dir).get("x")
    message = str(info.value)
    assert "keyring found no usable backend" in message
    assert "gnome-keyring-daemon" in message and "PYTHON_KEYRING_BACKEND" in message and "Vault/AWS" in message


def test_null_backend_is_refused_not_silently_dropping_writes(data_dir, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(StoreUnavailable, match="null backend stores nothing"):
        store(data_dir).put("x", "value", {})


def test_unknown_backend_name(data_dir):
    with pytest.raises(StoreUnavailable, match="cannot be loaded"):
        store(data_dir, backend="no.such.Backend").get("x")


def test_plaintext_backend_is_never_chosen_silently(data_dir, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    Plain = type("PlaintextKeyring", (), {"__module__": "keyrings.alt.file"})
    monkeypatch.setattr(keyring, "get_keyring", lambda: Plain())
    with pytest.raises(StoreUnavailable, match="stores plaintext"):
        store(data_dir).put("x", "value", {})
    assert not (data_dir / CACHE_FILE).exists()


def test_discovery_failure_is_a_store_error(data_dir, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)

    def boom():
        raise RuntimeError("dbus exploded")

    monkeypatch.setattr(keyring, "get_keyring", boom)
    with pytest.raises(StoreUnavailable, match="keyring failed to start"):
        store(data_dir).get("x")


def test_broken_backend_error_has_no_value(data_dir, file_keyring, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.BrokenKeyring")
    with pytest.raises(StoreUnavailable) as info:
        store(data_dir).put("x", "SECRETvalue123", {})
    assert "SECRETvalue123" not in str(info.value)
    assert "keyring write failed (RuntimeError)" in str(info.value)


def test_remembered_backend_that_breaks_is_rediscovered(data_dir, file_keyring, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    from tests.keyring_backend import FileKeyring

    s = store(data_dir)
    (data_dir / CACHE_FILE).write_text("tests.keyring_backend.BrokenKeyring\n")
    monkeypatch.setattr(keyring, "get_keyring", lambda: FileKeyring())
    s.put("x", "v1", {})
    assert s.get("x") == "v1"
    assert (data_dir / CACHE_FILE).read_text().strip() == "tests.keyring_backend.FileKeyring"


@pytest.mark.usefixtures("real_keyring")
class TestRealSecretService:
    def test_round_trip_and_backend_is_remembered(self, data_dir):
        s = store(data_dir, service="tokenward-test")
        s.put("real-1", "ghp_realSecretService", {})
        assert s.get("real-1") == "ghp_realSecretService"
        assert "SecretService" in s.describe()
        cache = data_dir / CACHE_FILE
        assert cache.read_text().strip() == "keyring.backends.SecretService.Keyring"
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        # A second store object (a later run) uses the remembered backend.
        again = store(data_dir, service="tokenward-test")
        assert again.get("real-1") == "ghp_realSecretService"
        # And it is visible to plain keyring, e.g. secret-tool or other apps.
        assert keyring.get_password("tokenward-test", "real-1") == "ghp_realSecretService"
        s.delete("real-1")
        with pytest.raises(SecretNotFound):
            s.get("real-1")
        s.delete("real-1")  # absent is fine

    def test_cli_end_to_end_on_secret_service(self, tokens, data_dir):
        assert tokens("add", "real-cli", input="ghp_realCLIvalue\n").returncode == 0
        assert tokens("get", "real-cli").stdout == "ghp_realCLIvalue"
        doctor = tokens("doctor")
        assert "keyring.backends.SecretService.Keyring" in doctor.stdout and doctor.returncode == 0
        result = tokens("exec", "--token", "real-cli", "--", "sh", "-c", 'test "$GH_TOKEN" = ghp_realCLIvalue')
        assert result.returncode == 0
        assert tokens("remove", "real-cli", "--yes").returncode == 0
        assert keyring.get_password("tokenward", "real-cli") is None


def _keyring_cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """The `keyring` command line, a separate process with keyring's own discovery."""
    exe = servers.find_tool("keyring")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    return subprocess.run([exe, *args], input=input, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.usefixtures("real_keyring")
class TestSecretServiceFastPath:
    """The fast read path (stores/secret_service.py) reads the very items keyring's
    SecretService backend reads and writes, on the real gnome-keyring."""

    def remembered(self, data_dir, service="tokenward-fast") -> KeyringStore:
        data_dir.mkdir(mode=0o700, exist_ok=True)
        (data_dir / CACHE_FILE).write_text(secret_service.BACKEND + "\n")
        (data_dir / CACHE_FILE).chmod(0o600)
        return store(data_dir, service=service)

    def no_keyring(self, monkeypatch):
        """Any read through keyring fails the test: the value must come from the fast path."""

        def refuse(*args, **kwargs):
            raise AssertionError("read through keyring, not the fast path")

        monkeypatch.setattr(KeyringStore, "_call", refuse)

    def test_keyring_writes_fast_path_reads(self, data_dir, monkeypatch):
        assert _keyring_cli("set", "tokenward-fast", "by-cli", input="cli-Válue-1\n").returncode == 0
        keyring.set_password("tokenward-fast", "by-api", "api-value-2")
        s = self.remembered(data_dir)
        self.no_keyring(monkeypatch)
        assert s.get("by-cli") == "cli-Válue-1"
        assert s.get("by-api") == "api-value-2"
        assert secret_service.read("tokenward-fast", "by-api") == "api-value-2"
        # Another service's item of the same name is not this one.
        keyring.set_password("tokenward-other", "by-api", "other-service")
        assert s.get("by-api") == "api-value-2"

    def test_tokens_writes_keyring_reads(self, data_dir, monkeypatch):
        s = self.remembered(data_dir)
        s.put("by-tokens", "tokens-value-3", {})
        s.put("by-tokens", "tokens-value-4", {})  # replaced, not a second item
        assert _keyring_cli("get", "tokenward-fast", "by-tokens").stdout == "tokens-value-4\n"
        assert keyring.get_password("tokenward-fast", "by-tokens") == "tokens-value-4"
        self.no_keyring(monkeypatch)
        assert self.remembered(data_dir).get("by-tokens") == "tokens-value-4"  # a later run

    def test_config_backend_takes_the_fast_path(self, data_dir, monkeypatch):
        keyring.set_password("tokenward-fast", "configured", "configured-value")
        s = store(data_dir, service="tokenward-fast", backend=secret_service.BACKEND)
        self.no_keyring(monkeypatch)
        assert s.get("configured") == "configured-value"

    def test_cli_hot_commands_read_what_keyring_wrote(self, tokens, data_dir):
        name = f"cli-fast-{uuid.uuid4().hex[:8]}"  # the test keyring is shared by the whole run
        assert tokens("add", name, "--kind", "generic", input="first-value\n").returncode == 0
        assert (data_dir / CACHE_FILE).read_text().strip() == secret_service.BACKEND
        # Changed behind tokens' back by another keyring user.
        keyring.set_password("tokenward", name, "second-value")
        assert tokens("get", name).stdout == "second-value"
        ran = tokens("exec", "--token", name, "--", "sh", "-c", 'test "$TOKEN" = second-value')
        assert ran.returncode == 0, ran.stderr

    def test_missing_item_is_not_found_through_keyring(self, data_dir):
        with pytest.raises(SecretNotFound):
            self.remembered(data_dir).get("never-written")

    def test_unknown_keyring_property_leaves_the_read_to_keyring(self, data_dir, monkeypatch):
        keyring.set_password("tokenward-fast", "prop", "prop-value")
        monkeypatch.setenv("KEYRING_PROPERTY_SOMETHING", "x")
        assert secret_service.read("tokenward-fast", "prop") is secret_service.MISS
        assert self.remembered(data_dir).get("prop") == "prop-value"

    def test_locked_collection_still_reports_the_locked_keyring(self, data_dir, monkeypatch):
        """A locked collection is left to keyring, which tries to unlock it and, when no
        one does, raises KeyringLocked: the same clear error as before the fast path.
        (Really locking the test keyring would lock it for good: its password is gone,
        so the lock state is what is faked here, for both paths alike.)"""
        import secretstorage.collection
        import secretstorage.item

        keyring.set_password("tokenward-fast", "locked", "locked-value")
        monkeypatch.setattr(secretstorage.collection.Collection, "is_locked", lambda self: True)
        monkeypatch.setattr(secretstorage.item.Item, "is_locked", lambda self: True)
        monkeypatch.setattr(secretstorage.collection.Collection, "unlock", lambda self, timeout=None: True)
        assert secret_service.read("tokenward-fast", "locked") is secret_service.MISS
        with pytest.raises(AccessDenied, match="the keyring is locked; unlock it and retry"):
            self.remembered(data_dir).get("locked")
