import stat

import keyring
import pytest

from tokenward.config import StoreConfig
from tokenward.errors import SecretNotFound, StoreUnavailable
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
