"""The copies a leaked value may still have: other inventory names, stores it is not
recorded in, twine's keyring entry, ~/.pypirc, this shell's environment. Found by
fingerprint; no value is ever named."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from tokenward.errors import SecretNotFound, StoreError
from tokenward.inventory import TokenRecord
from tokenward.tokens import fingerprint

@dataclass
class Copy:
    where: str  # human description, no value
    kind: str  # "store", "extra-store", "twine-keyring", "pypirc", "env", "unchecked", "inventory"
    store: str | None = None
    section: str | None = None


def find_copies(app, record: TokenRecord, old_fingerprint: str) -> list[Copy]:
    """Every place on this machine (and in the configured stores) holding the value."""
    copies: list[Copy] = []
    # Other inventory entries with the same value: `tokens exec` keeps handing it out
    # under those names until they are rotated too.
    for other in app.inventory.with_fingerprint(old_fingerprint):
        if other.name != record.name:
            copies.append(Copy(f"inventory token {other.name} (the same value under another name)", "inventory", section=other.name))
    for store_name, config in app.config.stores.items():
        own = store_name in record.stores
        try:
            value = app.store(store_name).get(record.name)
        except SecretNotFound:
            continue
        except StoreError as exc:
            copies.append(Copy(f"store {store_name} ({config.type}): could not be checked ({exc})", "unchecked", store_name))
            continue
        if fingerprint(value) == old_fingerprint:
            label = "" if own else " - not one of its recorded stores"
            copies.append(Copy(f"store {store_name} ({config.type}){label}", "store" if own else "extra-store", store_name))
    twine = _twine_keyring(app, record)
    if twine is not None and fingerprint(twine[1]) == old_fingerprint:
        copies.append(Copy(f"keyring entry {record.repository!r} / __token__ (read by twine)", "twine-keyring", twine[0]))
    for section in _pypirc_sections(old_fingerprint):
        copies.append(Copy(f"{pypirc_path()} [{section}] password, in plaintext", "pypirc", section=section))
    for var in sorted(os.environ):
        if fingerprint(os.environ[var]) == old_fingerprint:
            copies.append(Copy(f"${var} in this shell's environment", "env", section=var))
    return copies


def _keyring_backend(app):
    for store_name, config in app.config.stores.items():
        if config.type == "keyring":
            try:
                return store_name, app.store(store_name).backend()
            except StoreError:
                return None
    return None


def _twine_keyring(app, record: TokenRecord) -> tuple[str, str] | None:
    if not record.repository:
        return None
    found = _keyring_backend(app)
    if found is None:
        return None
    store_name, backend = found
    try:
        value = backend.get_password(record.repository, "__token__")
    except Exception:  # noqa: BLE001 - a backend that cannot answer has no copy we can see
        return None
    return (store_name, value) if value else None


def replace_twine_keyring(app, record: TokenRecord, value: str) -> bool:
    found = _keyring_backend(app)
    if found is None:
        return False
    try:
        found[1].set_password(record.repository, "__token__", value)
    except Exception:  # noqa: BLE001
        return False
    return True


def pypirc_path() -> Path:
    return Path.home() / ".pypirc"


def _pypirc_sections(old_fingerprint: str) -> list[str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(pypirc_path(), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return []
    return [
        section
        for section in parser.sections()
        if parser.has_option(section, "password") and fingerprint(parser.get(section, "password").strip()) == old_fingerprint
    ]
