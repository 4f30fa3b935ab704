"""The store interface, and the registry that opens a store from its config.

A store holds values. Remote stores (Vault, AWS) also carry tokenward's metadata and
may keep previous versions: those abilities are separate protocols, so the keyring
store needs no "not implemented" stubs.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from tokenward.config import StoreConfig
from tokenward.errors import StoreConflict
from tokenward.plain import Plain


class Written(Plain):
    """What a store says after a write: its own version id where it keeps one, and
    (AWS only, see aws.py) the version of another writer that this write replaced
    although it was not the expected one."""

    __slots__ = ("version", "overwrote")

    def __init__(self, version: str | None = None, overwrote: str | None = None) -> None:
        self.version = version
        self.overwrote = overwrote


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


# `put(..., expect=...)`: the version the writer last saw. A version id: the store must
# still be at that version; None: the secret must not exist yet (create only);
# UNCHECKED: write whatever is there (local stores, which keep no versions).
UNCHECKED = _Unchecked()


@runtime_checkable
class Store(Protocol):
    name: str

    def get(self, token: str) -> str:
        """The value; raises SecretNotFound when absent, StoreError when the store fails."""

    def put(self, token: str, value: str, metadata: dict[str, str], *, expect=UNCHECKED) -> Written:
        """Create or replace the value (keeping the previous version where the store can).

        Raises StoreConflict when `expect` does not match what the store holds."""

    # Every store also has `exists(token) -> bool` (anything under this name: `add`
    # creates only) and `check_metadata(metadata)` (UsageError when the store would
    # refuse it; writes nothing). Not part of the runtime-checked protocol, so a
    # test double need not grow them.

    def delete(self, token: str) -> None:
        """Remove the value; absent is not an error."""

    def describe(self) -> str:
        """One line for `tokens doctor`: backend and location; raises StoreError when unusable."""


class RemoteEntry(Plain):
    """A token as a metadata-carrying store sees it, without its value."""

    __slots__ = ("name", "metadata", "version", "changed_at")

    def __init__(self, name: str, metadata: dict[str, str], version: str | None, changed_at: datetime | None = None) -> None:
        self.name = name
        self.metadata = metadata
        self.version = version
        # When the store made its current version (Vault's created_time, AWS's CreatedDate);
        # None where the listing does not say (AWS: `version_created` asks).
        self.changed_at = changed_at


def changed_since_sync(store: str, label: str, where: str, expect: str | None, entry: RemoteEntry | None) -> StoreConflict:
    """One wording for every refused compare-and-write; names what the store holds now."""
    if expect is None:
        conflict = StoreConflict(
            store,
            f"{where} already exists (another machine added it?); nothing was written: "
            "`tokens sync --discover` brings it into this inventory",
        )
    else:
        now = entry.version if entry is not None else None
        meta = entry.metadata if entry is not None else {}
        if now is None:
            held = f"{where} is gone"
        else:
            held = f"{where} is at version {now}"
            if meta.get("rotated_at") and meta.get("version") == now:
                held += f" (rotated {meta['rotated_at']}, by another machine)"
            else:
                held += ", changed outside tokenward"
        conflict = StoreConflict(
            store,
            f"{label} changed since your last sync: {held}, this machine last saw version {expect}; "
            "nothing was written there: run `tokens sync` first",
        )
    conflict.current = entry
    return conflict


@runtime_checkable
class MetadataStore(Protocol):
    def list_entries(self) -> dict[str, RemoteEntry]:
        """Every tokenward secret in the store with its metadata; reads no values."""

    # Vault and AWS also have `entry(token) -> RemoteEntry | None` (one secret's
    # metadata and current version, no value) and `conflict(...)`: used by rotate.


@runtime_checkable
class MetadataWriter(Protocol):
    def put_metadata(self, token: str, metadata: dict[str, str], version: str) -> None:
        """Replace tokenward's metadata of the value `version` without writing a new
        version; does nothing when the store's current version is another one."""


@runtime_checkable
class VersionedStore(Protocol):
    def get_previous(self, token: str) -> str:
        """The value before the current one; raises SecretNotFound when there is none."""


# -- keyed fingerprints in shared metadata ----------------------------------------
# Anyone who may read a secret's metadata (Vault metadata read, DescribeSecret) but not
# its value must not be able to test guesses of a low-entropy value. So the fingerprint
# a shared store carries is HMAC-SHA256 under a key kept *as a secret value* in that
# store, at a name no token can have (token names start with a letter or digit): only
# those who may read values may read the key. One key per store (created by the first
# writer, create-only, so concurrent first writers agree), read once per run.
# The local inventory keeps the plain SHA-256 prefix (it is this user's own 0600 file).
KEY_SECRET = "_tokenward-fingerprint-key"
KEYED_PREFIX = "hmac:"


def keyed_fingerprint(key: str, value: str) -> str:
    import hashlib
    import hmac

    return KEYED_PREFIX + hmac.new(key.encode(), value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def is_keyed(fp: str | None) -> bool:
    return bool(fp) and fp.startswith(KEYED_PREFIX)  # type: ignore[union-attr]


class FingerprintKey:
    """For remote stores: `keyed(value)` with the store's own key (see above).
    Needs `get`, `put` and `_lock` from the store."""

    _fp_key: str | None = None

    def fingerprint_key(self) -> str:
        if self._fp_key is not None:
            return self._fp_key
        from tokenward.errors import SecretNotFound

        try:
            key = self.get(KEY_SECRET)  # type: ignore[attr-defined]
        except SecretNotFound:
            try:
                import secrets

                self.put(KEY_SECRET, secrets.token_hex(32), {}, expect=None)  # type: ignore[attr-defined]
            except StoreConflict:
                pass  # another machine created it a moment ago: use theirs
            key = self.get(KEY_SECRET)  # type: ignore[attr-defined]
        self._fp_key = key
        return key

    def keyed(self, value: str) -> str:
        return keyed_fingerprint(self.fingerprint_key(), value)

    def _keyed_metadata(self, metadata: dict[str, str], value: str) -> dict[str, str]:
        if not metadata.get("fingerprint"):
            return metadata
        return {**metadata, "fingerprint": self.keyed(value)}


# An explicit registry: type name -> "module:Class", imported only when used.
REGISTRY: dict[str, str] = {
    "keyring": "tokenward.stores.keyring_store:KeyringStore",
    "vault": "tokenward.stores.vault:VaultStore",
    "aws": "tokenward.stores.aws:AwsStore",
}


def open_store(config: StoreConfig, data_dir: Path | None = None) -> Store:
    module_name, _, class_name = REGISTRY[config.type].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(config, data_dir=data_dir)
