"""The store interface, and the registry that opens a store from its config.

A store holds values. Remote stores (Vault, AWS) also carry tokenward's metadata and
may keep previous versions: those abilities are separate protocols, so the keyring
store needs no "not implemented" stubs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from tokenward.config import StoreConfig


@dataclass(frozen=True)
class Written:
    """What a store says after a write: its own version id where it keeps one."""

    version: str | None = None


@runtime_checkable
class Store(Protocol):
    name: str

    def get(self, token: str) -> str:
        """The value; raises SecretNotFound when absent, StoreError when the store fails."""

    def put(self, token: str, value: str, metadata: dict[str, str]) -> Written:
        """Create or replace the value (keeping the previous version where the store can)."""

    def delete(self, token: str) -> None:
        """Remove the value; absent is not an error."""

    def describe(self) -> str:
        """One line for `tokens doctor`: backend and location; raises StoreError when unusable."""


@dataclass(frozen=True)
class RemoteEntry:
    """A token as a metadata-carrying store sees it, without its value."""

    name: str
    metadata: dict[str, str]
    version: str | None


@runtime_checkable
class MetadataStore(Protocol):
    def list_entries(self) -> dict[str, RemoteEntry]:
        """Every tokenward secret in the store with its metadata; reads no values."""


@runtime_checkable
class MetadataWriter(Protocol):
    def put_metadata(self, token: str, metadata: dict[str, str], version: str) -> None:
        """Replace tokenward's metadata of the value `version` without writing a new
        version; does nothing when the store's current version is another one."""


@runtime_checkable
class VersionedStore(Protocol):
    def get_previous(self, token: str) -> str:
        """The value before the current one; raises SecretNotFound when there is none."""


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
