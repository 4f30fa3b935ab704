"""The fast read path of the keyring store: one Secret Service read with `secretstorage`,
without importing `keyring` (whose import alone costs more than the read, see README
"Performance").

It reads exactly the item keyring's SecretService backend reads for
get_password(service, username): a search of the same collection (the default one, or
the `preferred_collection` property) by the same attributes (`service` and `username`,
or the KeePassXC scheme's `Title` and `UserName`), so values stay interchangeable with
`keyring get/set` and every other keyring user. It never writes, never prompts, and
gives up (returns MISS) on anything it is not sure of: a locked collection or item, no
D-Bus, no such item, more than one matching item, a property it does not know. The
caller then asks keyring, which handles all of those as it always has.
"""

from __future__ import annotations

import os

BACKEND = "keyring.backends.SecretService.Keyring"

# keyring.backend.SchemeSelectable.schemes: (service attribute, username attribute)
SCHEMES = {"default": ("service", "username"), "KeePassXC": ("Title", "UserName")}


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS = _Miss()


def _properties() -> dict[str, str] | None:
    """The KEYRING_PROPERTY_* settings keyring applies to a backend it creates
    (KeyringBackend.set_properties_from_env); None when one is set that this path does
    not implement."""
    props = {}
    for key, value in os.environ.items():
        _, sep, name = key.partition("KEYRING_PROPERTY_")  # keyring's own rule, prefix and all
        if sep:
            props[name.lower()] = value
    if set(props) - {"scheme", "preferred_collection"}:
        return None
    if props.get("scheme", "default") not in SCHEMES:
        return None
    return props


def read(service: str, username: str):
    """The value keyring's SecretService backend would return, or MISS."""
    props = _properties()
    if props is None:
        return MISS
    service_attr, username_attr = SCHEMES[props.get("scheme", "default")]
    try:
        from secretstorage import dbus_init
        from secretstorage.collection import DEFAULT_COLLECTION, Collection
    except Exception:  # noqa: BLE001 - not installed, or a broken install: keyring decides
        return MISS
    try:
        connection = dbus_init()
    except Exception:  # noqa: BLE001 - no session bus
        return MISS
    try:
        collection = Collection(connection, props.get("preferred_collection") or DEFAULT_COLLECTION)
        items = list(collection.search_items({username_attr: username, service_attr: service}))
        if len(items) != 1:
            return MISS
        # The items of a locked collection are locked: get_secret raises LockedException
        # without prompting, and keyring prompts to unlock or reports the locked keyring.
        return items[0].get_secret().decode("utf-8")
    except Exception:  # noqa: BLE001 - D-Bus and secretstorage errors vary; none may carry the value
        return MISS
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001
            pass
