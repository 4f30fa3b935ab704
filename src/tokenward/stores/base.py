"""The store interface, and the registry that opens a store from its config.

A store holds values. Remote stores (Vault, AWS) also carry tokenward's metadata and
may keep previous versions: those abilities are separate protocols, so the keyring
store needs no "not implemented" stubs. The core asks a store what it can do with
`isinstance(store, Protocol)`, never by its type name: something that is not a `Store`
(a CI secret that can be written but never read back) is never read.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, runtime_checkable

from tokenward.errors import StoreConflict, StoreError
from tokenward.plain import Plain

if TYPE_CHECKING:
    from tokenward.config import StoreConfig


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

    def exists(self, token: str) -> bool:
        """Anything under this name (`add` creates only)."""

    def check_metadata(self, metadata: dict[str, str]) -> None:
        """UsageError when the store would refuse this metadata; writes nothing."""

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


# -- optional abilities: each a protocol the core checks with isinstance ---------------
@runtime_checkable
class MetadataStore(Protocol):
    """A shared store that carries tokenward's metadata (and a version) beside each
    value, so sync learns what it holds without reading values, and every write
    compares the version the writer last saw (`put(..., expect=VERSION)`)."""

    def list_entries(self, names: Iterable[str] | None = None) -> dict[str, RemoteEntry]:
        """Every tokenward secret in the store (or just `names`) with its metadata; reads no values."""

    def entry(self, token: str) -> RemoteEntry | None:
        """One secret's metadata and current version, no value; None when absent."""

    def conflict(self, token: str, expect: str | None, entry: RemoteEntry | None) -> StoreConflict:
        """The refusal when the store is not at the version `expect` (changed_since_sync)."""

    def keyed(self, value: str) -> str:
        """The keyed fingerprint this store's metadata carries for `value` (see below)."""


@runtime_checkable
class MetadataWriter(Protocol):
    def put_metadata(self, token: str, metadata: dict[str, str], version: str, *, value: str | None = None) -> None:
        """Replace tokenward's metadata of the value `version` without writing a new
        version; does nothing when the store's current version is another one.
        `value`, when given, is the value the metadata describes (for its fingerprint)."""


@runtime_checkable
class VersionedStore(Protocol):
    """A store that keeps earlier versions of a value and knows when each was made."""

    def get_previous(self, token: str) -> str:
        """The value before the current one; raises SecretNotFound when there is none."""

    def version_created(self, token: str, version: str) -> datetime | None:
        """When the store made `version`; None when it cannot tell."""


@runtime_checkable
class BulkReader(Protocol):
    """Reads many values in one call: `values_per_request` at a time (1: one request
    per value, made concurrently). Sync reads a value from the cheapest such store."""

    values_per_request: int

    def get_many(self, tokens: Iterable[str]) -> dict[str, str | StoreError]:
        """Each token's value, or the StoreError (SecretNotFound...) that stopped it."""


@runtime_checkable
class Concurrent(Protocol):
    """Takes this many requests at once: sync writes up to that many tokens in parallel."""

    concurrency: int


@runtime_checkable
class PresenceCheck(Protocol):
    def present(self, tokens: Iterable[str]) -> set[str]:
        """Which of these tokens the store holds, as cheaply as it can (no value read
        where the store allows): sync confirms a store without metadata this way."""


@runtime_checkable
class AtomicCheckAndSet(Protocol):
    """The store itself compares `expect` and writes in one step (Vault's KV cas): of
    two machines writing at once exactly one wins. A MetadataStore without it checks
    and then writes (AWS, see aws.py). Rotation writes such a store first."""

    atomic_check_and_set: bool


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


# -- the registry of store types ------------------------------------------------------
class Option(Plain):
    """One key a [stores.NAME] table may hold: its TOML type(s), the default, and the
    only values it takes when there is such a list."""

    __slots__ = ("type", "default", "choices")

    def __init__(self, type: type | tuple[type, ...], default: Any = None, choices: tuple[Any, ...] = ()) -> None:  # noqa: A002
        self.type = type
        self.default = default
        self.choices = choices


class StoreType(Plain):
    """A store type: its class as "module:Class" (imported only when a store of this
    type is opened, so reading the config never imports an SDK), the options its
    [stores.NAME] table may hold (config.py checks every key against them), and the
    environment variables that give a machine without a config file its credentials
    (the scheduled GitHub workflow passes them from the repository's secrets)."""

    __slots__ = ("cls", "options", "credential_env")

    def __init__(self, cls: str, options: Mapping[str, Option], credential_env: tuple[str, ...] = ()) -> None:
        self.cls = cls
        self.options = options
        self.credential_env = credential_env

    def default(self, key: str) -> Any:
        option = self.options.get(key)
        return option.default if option is not None else None

    def load(self) -> type:
        module_name, _, class_name = self.cls.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


TIMEOUT = Option((int, float), 10)  # seconds per request (config.py checks the range)

# An explicit registry: type name -> StoreType.
REGISTRY: dict[str, StoreType] = {
    "keyring": StoreType(
        "tokenward.stores.keyring_store:KeyringStore",
        {"service": Option(str, "tokenward"), "backend": Option(str, "")},
    ),
    "vault": StoreType(
        "tokenward.stores.vault:VaultStore",
        {
            "url": Option(str, ""),
            "mount": Option(str, "secret"),
            "prefix": Option(str, "tokenward/"),
            "namespace": Option(str, ""),
            "auth": Option(str, "token", choices=("token", "approle")),
            "token_file": Option(str, ""),
            "role_id": Option(str, ""),
            "role_id_file": Option(str, ""),
            "secret_id_file": Option(str, ""),
            "approle_mount": Option(str, "approle"),
            "cacert": Option(str, ""),
            "verify": Option(bool, True),
            "timeout": TIMEOUT,
        },
        credential_env=("VAULT_ADDR", "VAULT_TOKEN"),
    ),
    "aws": StoreType(
        "tokenward.stores.aws:AwsStore",
        {
            "region": Option(str, ""),
            "prefix": Option(str, "tokenward/"),
            "profile": Option(str, ""),
            "endpoint_url": Option(str, ""),
            "kms_key_id": Option(str, ""),
            "timeout": TIMEOUT,
        },
        credential_env=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ),
}


def open_store(config: StoreConfig, data_dir: Path | None = None) -> Store:
    return REGISTRY[config.type].load()(config, data_dir=data_dir)
