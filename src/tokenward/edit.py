"""`tokens edit`: change a token's metadata, never its value.

Checked like `add` (metadata.py), recorded in the inventory under the write lock,
audited, then carried to every metadata store that holds the token (Vault
custom_metadata, AWS tags and description) without writing a new value version,
so a teammate's `tokens sync --discover` sees the change.

Only the fields that changed are written into the store's metadata, on top of what
the store holds: a teammate's concurrent edit of another field is kept. A store whose
value changed since this machine last synced is not written (its metadata describes
a value this inventory has not seen); the user is told to sync first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokenward import audit
from tokenward.app import App
from tokenward.errors import StoreError, UsageError
from tokenward.inventory import TokenRecord
from tokenward.lifecycle import store_metadata
from tokenward.locks import token_lock
from tokenward.metadata import check_purpose, check_repository, check_rotate_every, check_scope
from tokenward.policy import parse_date
from tokenward.stores.base import MetadataStore, MetadataWriter
from tokenward.tokens import DEFAULT_REPOSITORY

CLEAR = "none"  # `--expires none` removes a recorded expiry


@dataclass
class EditOutcome:
    record: TokenRecord
    changed: list[str]  # inventory fields that changed
    carried: list[str] = field(default_factory=list)  # stores whose metadata now says so
    not_carried: dict[str, str] = field(default_factory=dict)  # store -> why not
    warnings: list[str] = field(default_factory=list)


def _changes(app: App, record: TokenRecord, *, purpose, scope, repository, rotate_every, expires, env) -> tuple[dict, list[str]]:
    """The checked new field values (only those given) and warnings."""
    changes: dict = {}
    warnings: list[str] = []
    if purpose is not None:
        changes["purpose"] = check_purpose(purpose)
    if scope is not None:
        changes["scope"] = check_scope(scope, record.kind)
        if record.kind in ("pypi", "testpypi") and changes["scope"] != record.scope:
            warnings.append(
                f"{record.name}'s caveats said {record.scope or 'nothing readable'}; the scope you record is what "
                "`tokens exec` trusts, PyPI still checks the caveats"
            )
    if repository is not None:
        changes["repository"] = check_repository(repository) or DEFAULT_REPOSITORY.get(record.kind, "")
    if rotate_every is not None:
        changes["rotate_every"] = check_rotate_every(rotate_every)
    if expires is not None:
        if expires.strip().lower() == CLEAR:
            changes["expires_at"] = None
        else:
            moment: datetime = parse_date(expires, what="--expires date", now=app.now)
            if moment < record.created_at:
                raise UsageError(
                    f"--expires {expires!r} is before {record.name} was created ({record.created_at.date().isoformat()})"
                )
            if moment <= app.now:
                warnings.append(f"{record.name} expired on {moment.date().isoformat()}; it is recorded as expired")
            changes["expires_at"] = moment
    if env is not None:
        changes["env"] = dict(env)
    return changes, warnings


def edit_token(
    app: App,
    name: str,
    *,
    purpose: str | None = None,
    scope: str | None = None,
    repository: str | None = None,
    rotate_every: str | None = None,
    expires: str | None = None,
    env: dict[str, str] | None = None,
) -> EditOutcome:
    given = dict(purpose=purpose, scope=scope, repository=repository, rotate_every=rotate_every, expires=expires, env=env)
    if all(value is None for value in given.values()):
        raise UsageError("nothing to change: give --purpose, --scope, --repository, --rotate-every, --expires or --env")
    record = app.inventory.get(name)
    changes, warnings = _changes(app, record, **given)
    stores = [s for s in record.stores if s in app.config.stores and isinstance(app.store(s), MetadataStore)]
    meta = store_metadata(record.with_(**changes))
    for store_name in stores:
        app.store(store_name).check_metadata(meta)  # refuse before anything is written
    with token_lock(app.data_dir, name):
        before = app.inventory.get(name)
        changed = [key for key, value in changes.items() if getattr(before, key) != value]
        if any(key in META_FIELDS for key in changed):
            # Teammates' `tokens sync` adopts the newest edit: a new edit is always later than the
            # one this machine has (timestamps have whole seconds; two edits may share one).
            last = before.edited_at
            changes["edited_at"] = app.now if last is None else max(app.now, last + timedelta(seconds=1))
        updated = app.inventory.update(name, **changes) if changed else before
        outcome = EditOutcome(updated, changed, warnings=warnings)
        old_meta, new_meta = store_metadata(before), store_metadata(updated)
        # Every field this edit names, changed here or not: running the same edit again
        # carries it to a store that was down the first time.
        keys = {key for key in new_meta if new_meta[key] != old_meta.get(key)} | {key for key in changes if key in META_FIELDS}
        if keys & set(META_FIELDS) and "edited_at" in new_meta:
            keys.add("edited_at")
        for store_name in stores:
            try:
                reason = _carry(app, updated, store_name, {k: new_meta[k] for k in keys if k in new_meta})
            except StoreError as exc:
                reason = str(exc).removeprefix(f"store {store_name!r}: ")
            if reason:
                outcome.not_carried[store_name] = reason
            else:
                outcome.carried.append(store_name)
    audit.append(
        app.data_dir, "edit", name, fields=sorted(changes), stores=outcome.carried, failed=sorted(outcome.not_carried)
    )
    return outcome


# Inventory fields that remote metadata carries under the same key.
META_FIELDS = ("purpose", "scope", "repository", "rotate_every", "expires_at")


def _carry(app: App, record: TokenRecord, store_name: str, fields: dict[str, str]) -> str:
    """Write `fields` into the store's metadata of the value this inventory knows.
    Returns "" when done, else why it was not written."""
    if not fields:
        return ""
    store = app.store(store_name)
    if not isinstance(store, MetadataWriter) or not isinstance(store, MetadataStore):
        return "this store cannot change metadata alone"
    version = record.store_versions.get(store_name)
    entry = store.entry(record.name)
    if entry is None:
        return f"it holds no value for {record.name}: run `tokens sync {record.name}`"
    if version is None or entry.version != version:
        return f"its value changed since this machine last synced: run `tokens sync {record.name}`, then this edit again"
    merged = {key: value for key, value in entry.metadata.items() if key not in ("version", "tokenward")}
    merged.update(fields)
    merged["tokenward"] = "1"
    store.put_metadata(record.name, merged, version)
    return ""
