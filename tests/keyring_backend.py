"""A keyring backend for CLI tests that need a value store but not the real Secret
Service: JSON in $TOKENWARD_TEST_KEYRING. Test-only; chosen explicitly through
PYTHON_KEYRING_BACKEND, which tokenward treats as the user's choice."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError


class _OnlyWhenChosen:
    """Viable only when PYTHON_KEYRING_BACKEND names it, so keyring's own discovery
    (which sees every imported subclass) never picks a test backend."""

    @properties.classproperty
    def priority(cls) -> float:
        if os.environ.get("PYTHON_KEYRING_BACKEND", "").endswith("." + cls.__name__):
            return 1
        raise RuntimeError("test backend: only when chosen explicitly")


class FileKeyring(_OnlyWhenChosen, KeyringBackend):
    @property
    def _path(self) -> Path:
        return Path(os.environ["TOKENWARD_TEST_KEYRING"])

    def _load(self) -> dict:
        try:
            return json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._load().get(f"{service}\x00{username}")

    def _update(self, change) -> None:
        """Read-modify-write under a lock, replaced atomically: several `tokens`
        processes (the concurrency and crash tests) share one file."""
        import fcntl

        with open(str(self._path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            change(data)
            tmp = Path(f"{self._path}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self._path)

    def set_password(self, service, username, password):
        self._update(lambda data: data.__setitem__(f"{service}\x00{username}", password))

    def delete_password(self, service, username):
        def remove(data):
            if data.pop(f"{service}\x00{username}", None) is None:
                raise PasswordDeleteError("not found")

        self._update(remove)


class BrokenKeyring(_OnlyWhenChosen, KeyringBackend):
    """Every call fails, like a Secret Service that went away."""

    def get_password(self, *args):
        raise RuntimeError("D-Bus connection lost")

    set_password = delete_password = get_password


class LeakyKeyring(_OnlyWhenChosen, KeyringBackend):
    """Fails with the value in its exception message, as careless backends do."""

    def get_password(self, service, username):
        return None

    def set_password(self, service, username, password):
        raise RuntimeError(f"could not store {password!r}")

    def delete_password(self, service, username):
        raise PasswordDeleteError("not found")


class LockableFileKeyring(FileKeyring):
    """FileKeyring that is locked while $TOKENWARD_TEST_KEYRING.locked exists, the way a
    Secret Service collection is after `collection.lock()` with no one to type the
    password: every call raises KeyringLocked."""

    def _check(self):
        from keyring.errors import KeyringLocked

        if Path(str(self._path) + ".locked").exists():
            raise KeyringLocked("the collection is locked")

    def get_password(self, service, username):
        self._check()
        return super().get_password(service, username)

    def set_password(self, service, username, password):
        self._check()
        super().set_password(service, username, password)

    def delete_password(self, service, username):
        self._check()
        super().delete_password(service, username)
