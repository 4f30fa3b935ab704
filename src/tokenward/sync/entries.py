"""What a metadata store's entry tells sync, without reading the value: the `Seen`
of one token there, and the record of a token only the stores know (`--discover`)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from tokenward.app import App
from tokenward.inventory import TokenRecord
from tokenward.policy import from_iso
from tokenward.registries.base import facts_from_metadata
from tokenward.shared_meta import missing, read_fields
from tokenward.stores.base import RemoteEntry, is_keyed
from tokenward.sync.plan import Seen

VERSION_KEY = "version"  # in remote metadata: the store version the metadata describes


def iso(text: str | None) -> datetime | None:
    try:
        return from_iso(text) if text else None
    except ValueError:
        return None


def vouches(entry_meta: dict[str, str], version: str | None) -> bool:
    return bool(entry_meta.get("fingerprint")) and version is not None and entry_meta.get(VERSION_KEY) == version


def remote_seen(entry: RemoteEntry | None, record: TokenRecord | None, store: str) -> Seen:
    if entry is None:
        return Seen("missing")
    meta = dict(entry.metadata)
    if vouches(meta, entry.version):
        fp: str | None = meta["fingerprint"]
        keyed = None
        if is_keyed(fp):
            # A keyed fingerprint cannot be compared with the inventory's; the version
            # can: the one this machine recorded is the value it knows. Otherwise (a
            # teammate's rotation, a new machine) the value is read: it is needed anyway
            # to bring it to the other stores.
            keyed = fp
            recorded = record.store_versions.get(store) if record else None
            fp = record.fingerprint if record and recorded == entry.version and record.fingerprint else None
        return Seen(
            "present",
            fingerprint=fp,
            rotated_at=iso(meta.get("rotated_at")),
            version=entry.version,
            vouched=True,
            metadata=meta,
            keyed=keyed,
            legacy=keyed is None,
        )
    # Not vouched: the value must be read. Outside change unless tokenward recorded
    # writing exactly this version (then only its metadata is behind).
    recorded = record.store_versions.get(store) if record else None
    described = entry.version is not None and meta.get(VERSION_KEY) == entry.version
    changed_at = (iso(meta.get("rotated_at")) if described else None) or entry.changed_at
    return Seen("present", version=entry.version, outside=recorded != entry.version, metadata=meta, changed_at=changed_at)


def record_from_metadata(
    name: str, found: list[tuple[str, dict[str, str], bool]], stores: tuple[str, ...], app: App, warn: Callable[[str], None]
) -> TokenRecord:
    """A discovered token's record from its remote metadata: (store, metadata, vouched).

    The newest metadata that vouches for its value wins; without one, the newest that
    is tokenward's still gives every field it can (purpose, period, dates...): only
    its fingerprint and rotated_at are not taken (the value changed, sync reads it and
    dates it by the store's version time). Each field is checked (shared_meta)."""
    vouched = [(s, m) for s, m, v in found if v]
    pool = vouched or [(s, m) for s, m, _ in found if m.get("tokenward") == "1"]
    if pool:
        where, meta = max(pool, key=lambda item: (iso(item[1].get("rotated_at")) or app.now))
    else:
        where, meta = "", {}
    fields = read_fields(name, meta, warn, where=where)
    missing(name, fields, warn, {"kind": "generic", "created_at": "its rotation date", "rotate_every": app.config.rotate_every or "none"})
    rotated = fields.get("rotated_at") if vouched else None
    created = fields.get("created_at") or rotated or app.now
    return TokenRecord(
        name=name,
        kind=fields.get("kind", "generic"),
        purpose=fields.get("purpose", ""),
        scope=fields.get("scope", ""),
        repository=fields.get("repository", ""),
        created_at=created,
        rotated_at=rotated or created,
        rotate_every=fields.get("rotate_every") or app.config.rotate_every,
        expires_at=fields.get("expires_at"),
        edited_at=fields.get("edited_at"),
        stores=stores,
        fingerprint=meta.get("fingerprint", "") if rotated else "",
        **facts_from_metadata(meta),
    )
