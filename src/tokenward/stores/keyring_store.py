"""The OS keyring through Python `keyring`: service from config, username = token name.

The backend is chosen once and remembered in the data dir, so later runs skip
keyring's entry-point discovery. A disabled or missing backend is an error that
names the fix; a plaintext backend is used only when the user asked for it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from tokenward.config import StoreConfig
from tokenward.errors import AccessDenied, SecretNotFound, StoreError, StoreUnavailable
from tokenward.paths import open_private
from tokenward.stores.base import UNCHECKED, Written

CACHE_FILE = "keyring-backend"

UNUSABLE = {
    "keyring.backends.fail.Keyring": "keyring found no usable backend",
    "keyring.backends.null.Keyring": "the keyring is disabled (the null backend stores nothing)",
}
PLAINTEXT = {"keyrings.alt.file.PlaintextKeyring", "keyrings.alt.file_base.Keyring"}

FIX = (
    "start a Secret Service (`dbus-run-session -- sh`, then "
    "`gnome-keyring-daemon --unlock --components=secrets`), choose a backend with "
    "PYTHON_KEYRING_BACKEND or `backend` in [stores.keyring], or keep tokens in a Vault/AWS store (--store)"
)


def _qualname(obj) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class KeyringStore:
    def __init__(self, config: StoreConfig, data_dir: Path | None = None) -> None:
        self.name = config.name
        self.service = config.get("service") or "tokenward"
        self._configured = config.get("backend") or ""
        self._cache = data_dir / CACHE_FILE if data_dir else None
        self._backend = None

    # -- backend selection ---------------------------------------------------
    def _explicit_choice(self) -> str:
        return self._configured or os.environ.get("PYTHON_KEYRING_BACKEND", "")

    def _load_class(self, qualname: str):
        module_name, _, class_name = qualname.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError):
            raise StoreUnavailable(self.name, f"keyring backend {qualname!r} cannot be loaded; {FIX}") from None

    def _discover(self):
        import keyring

        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # noqa: BLE001 - backends raise anything during discovery
            raise StoreUnavailable(self.name, f"keyring failed to start ({type(exc).__name__}); {FIX}") from None
        return backend

    def _cached_choice(self) -> str:
        if self._cache is None:
            return ""
        try:
            # Checked like every data file: a planted one would choose the code that runs.
            fd = open_private(self._cache, os.O_RDONLY)
        except OSError:
            return ""
        with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()

    def _remember(self, backend) -> None:
        if self._cache is None:
            return
        try:
            fd = open_private(self._cache, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "w") as handle:
                handle.write(_qualname(backend) + "\n")
        except OSError:
            pass

    def _forget(self) -> None:
        if self._cache is not None:
            try:
                self._cache.unlink()
            except OSError:
                pass

    def backend(self, *, fresh: bool = False):
        if self._backend is not None and not fresh:
            return self._backend
        explicit = self._explicit_choice()
        if explicit:
            cls = self._load_class(explicit)
            try:
                cls.priority  # noqa: B018 - viability check, raises with a reason
            except Exception as exc:  # noqa: BLE001
                raise StoreUnavailable(self.name, f"keyring backend {explicit} is not usable here ({exc}); {FIX}") from None
            backend = cls()
        else:
            cached = "" if fresh else self._cached_choice()
            if cached and cached not in UNUSABLE and cached not in PLAINTEXT:
                backend = self._load_class(cached)()
            else:
                backend = self._discover()
                name = _qualname(backend)
                if name in PLAINTEXT:
                    raise StoreUnavailable(
                        self.name,
                        f"the only keyring backend here stores plaintext ({name}); not used unless you "
                        f"choose it with PYTHON_KEYRING_BACKEND or `backend`; otherwise {FIX}",
                    )
                if name not in UNUSABLE:
                    self._remember(backend)
        name = _qualname(backend)
        if name in UNUSABLE:
            raise StoreUnavailable(self.name, f"{UNUSABLE[name]} ({name}); {FIX}")
        self._backend = backend
        return backend

    def _call(self, what: str, func, *args):
        """Run a backend call; on a remembered backend that fails, rediscover once."""
        from keyring.errors import KeyringLocked, PasswordDeleteError

        for attempt in (0, 1):
            backend = self.backend(fresh=attempt == 1)
            try:
                return func(backend, *args)
            except KeyringLocked:
                raise AccessDenied(self.name, f"the keyring is locked; unlock it and retry ({what})") from None
            except PasswordDeleteError:
                return None
            except Exception as exc:  # noqa: BLE001 - D-Bus, secretstorage and OS errors vary
                if attempt == 0 and not self._explicit_choice() and self._cached_choice():
                    self._forget()
                    continue
                raise StoreUnavailable(self.name, f"keyring {what} failed ({type(exc).__name__}); {FIX}") from None
        raise StoreError(self.name, f"keyring {what} failed")  # pragma: no cover

    def _fast_read(self, token: str):
        """The value read straight from the Secret Service when that is the backend
        keyring would use here (chosen in config or PYTHON_KEYRING_BACKEND, or remembered),
        else MISS. Anything the fast path is unsure of is left to keyring."""
        from tokenward.stores import secret_service

        if self._backend is not None:
            return secret_service.MISS
        if (self._explicit_choice() or self._cached_choice()) != secret_service.BACKEND:
            return secret_service.MISS
        return secret_service.read(self.service, token)

    # -- the Store interface -----------------------------------------------------
    def get(self, token: str) -> str:
        from tokenward.stores.secret_service import MISS

        value = self._fast_read(token)
        if value is not MISS:
            return value
        value = self._call("read", lambda b: b.get_password(self.service, token))
        if value is None:
            raise SecretNotFound(self.name, token)
        return value

    def put(self, token: str, value: str, metadata: dict[str, str], *, expect=UNCHECKED) -> Written:
        # A local store: only this machine writes it, under the token lock; `expect`
        # None (create only) is checked by `add` through exists().
        self._call("write", lambda b: b.set_password(self.service, token, value))
        return Written(None)

    def exists(self, token: str) -> bool:
        return self._call("read", lambda b: b.get_password(self.service, token)) is not None

    def check_metadata(self, metadata: dict[str, str]) -> None:
        """The keyring keeps no metadata."""

    def present(self, tokens) -> set[str]:
        """Which of these tokens the keyring holds. On the Secret Service one search by
        service lists them all without reading (or unlocking) a single secret; other
        backends have no such call and are asked token by token."""
        wanted = set(tokens)
        if not wanted:
            return set()
        backend = self.backend()
        if hasattr(backend, "get_preferred_collection") and hasattr(backend, "schemes"):

            def search(b) -> set[str]:
                from contextlib import closing

                field = b.schemes[b.scheme]["username"]
                collection = b.get_preferred_collection()
                with closing(collection.connection):
                    return {item.get_attributes().get(field) for item in collection.search_items(b._query(self.service))}

            return wanted & (self._call("list", search) or set())
        return {t for t in wanted if self._call("read", lambda b, t=t: b.get_password(self.service, t)) is not None}

    def delete(self, token: str) -> None:
        self._call("delete", lambda b: b.delete_password(self.service, token))

    def describe(self) -> str:
        backend = self.backend()
        return f"keyring backend {_qualname(backend)}, service {self.service!r}"
