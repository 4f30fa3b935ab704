"""The local token lifecycle: add, read, rotate, remove. Plain functions over an App.

Order of writes is chosen so a failure never loses the newest value:
stores first, then the inventory; rotations are journalled before any store write.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tokenward import audit
from tokenward.app import App
from tokenward.errors import (
    InventoryError,
    Interrupted,
    SecretNotFound,
    StoreConflict,
    StoreError,
    TokenExists,
    UsageError,
)
from tokenward.inventory import TokenRecord, check_name
from tokenward.locks import token_lock
from tokenward.policy import parse_date, parse_period, to_iso
from tokenward.stores.base import UNCHECKED, AtomicCheckAndSet, MetadataStore, VersionedStore, is_keyed
from tokenward.testhooks import crash_point, pause_point
from tokenward.tokens import DEFAULT_REPOSITORY, KINDS, TOKEN_PAGE, fingerprint, inspect

CLOCK_SKEW = timedelta(minutes=5)


class NameTaken(UsageError):
    """`add` creates only: the name is already held by a target store."""


class Outcome:
    def __init__(
        self, record: TokenRecord, warnings: list[str] | None = None, written: list[str] | None = None,
        failed: dict[str, str] | None = None, overwrote: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.record = record
        self.warnings = [] if warnings is None else warnings
        self.written = [] if written is None else written
        self.failed = {} if failed is None else failed
        self.overwrote = [] if overwrote is None else overwrote  # stores where another machine's rotation was replaced


def store_metadata(record: TokenRecord) -> dict[str, str]:
    """The metadata remote stores carry next to the value (never the value)."""
    meta = {
        "tokenward": "1",
        "name": record.name,
        "kind": record.kind,
        "purpose": record.purpose,
        "scope": record.scope,
        "repository": record.repository,
        "created_at": to_iso(record.created_at),
        "rotated_at": to_iso(record.rotated_at),
        "rotate_every": record.rotate_every or "",
        "expires_at": to_iso(record.expires_at) or "",
        "fingerprint": record.fingerprint,
    }
    if record.edited_at is not None:
        meta["edited_at"] = to_iso(record.edited_at)
    if record.verified_at is not None:
        # What the registry last said (tokens verify / revoke), for teammates' inventories.
        meta.update(
            verified_at=to_iso(record.verified_at),
            verify_result=record.verify_result or "",
            registry_expires_at=to_iso(record.registry_expires_at) or "",
            registry_scopes=json.dumps(list(record.registry_scopes)) if record.registry_scopes else "",
        )  # not registry_key: revoke re-derives it from the registry, never from shared metadata
    return meta


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    return kind


def resolve_stores(app: App, stores: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(stores)) if stores else app.config.default_stores
    for name in chosen:
        app.config.store(name)  # raises for an unknown store
    return chosen


def add_token(
    app: App,
    name: str,
    value: str,
    *,
    kind: str | None = None,
    purpose: str = "",
    scope: str | None = None,
    repository: str | None = None,
    created: str | None = None,
    rotate_every: str | None = None,
    expires: str | None = None,
    stores: tuple[str, ...] | None = None,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Validate everything first, then write the value to each store, then the record.

    Create only: a name that any target store already holds is refused before
    anything is written (a teammate's token is brought in by `sync --discover`)."""
    from tokenward.metadata import check_new  # not on the hot path (get, exec)

    chosen = check_name_and_stores(app, name, stores)
    checked = check_new(value, kind=kind, purpose=purpose, scope=scope, repository=repository)
    warnings: list[str] = []
    created_at = parse_date(created, what="--created date", now=app.now) if created is not None else app.now
    if created_at > app.now + CLOCK_SKEW:
        raise UsageError(f"--created {created!r} is in the future")
    period = str(parse_period(rotate_every if rotate_every is not None else app.config.rotate_every, what="--rotate-every period"))
    facts = inspect(value, kind)
    expires_at = parse_date(expires, what="--expires date", now=app.now) if expires is not None else facts.expires_at
    if created is not None and expires is not None and expires_at < created_at:
        raise UsageError(f"--expires {expires!r} is before --created {created!r}")
    if expires_at is not None and expires_at <= app.now:
        warnings.append(f"{name} expired on {expires_at.date().isoformat()}; it is recorded as expired")
    record = TokenRecord(
        name=name,
        kind=facts.kind,
        purpose=checked.purpose,
        scope=checked.scope if checked.scope is not None else facts.scope,
        repository=checked.repository or DEFAULT_REPOSITORY.get(facts.kind, ""),
        created_at=created_at,
        rotated_at=created_at,
        rotate_every=period,
        expires_at=expires_at,
        stores=chosen,
        fingerprint=fingerprint(value),
        env=dict(env or {}),
    )
    meta = store_metadata(record)
    for store_name in chosen:
        app.store(store_name).check_metadata(meta)  # refuse before anything is written
    same = [r.name for r in app.inventory.with_fingerprint(record.fingerprint) if r.name != name]
    if same:
        warnings.append(
            f"this value is already in the inventory as {', '.join(same)}: one token under two names is "
            "rotated under one name and left behind under the other"
        )
    with token_lock(app.data_dir, name):
        _refuse_existing(app, name, chosen)
        written: list[str] = []
        versions: dict[str, str] = {}
        try:
            for store_name in chosen:
                try:
                    # Remote stores create only (Vault cas=0, AWS CreateSecret): a teammate
                    # who adds the same name at the same moment makes one of us fail here.
                    expect = None if _is_remote(app, store_name) else UNCHECKED
                    result = app.store(store_name).put(name, value, meta, expect=expect)
                except StoreError as exc:
                    if not isinstance(exc, StoreConflict) and not _is_remote(app, store_name):
                        written.append(store_name)  # a half-done local write: remove it too
                    _undo_writes(app, name, written)
                    raise
                written.append(store_name)
                if result.version:
                    versions[store_name] = result.version
            record = record.with_(store_versions=versions)
            app.inventory.insert(record)
        except KeyboardInterrupt:
            _undo_writes(app, name, written)
            raise Interrupted(f"interrupted: {name} was not added; nothing was kept") from None
        except InventoryError:
            # The inventory refused the record (disk full, made read-only meanwhile): a value
            # in the stores that no record names would only be found by accident.
            _undo_writes(app, name, written)
            raise
    audit.append(app.data_dir, "add", name, stores=list(chosen), fingerprint=record.fingerprint)
    return Outcome(record, warnings, written)


def _is_remote(app: App, store_name: str) -> bool:
    """A shared store that carries metadata and versions (its writes compare versions)."""
    return isinstance(app.store(store_name), MetadataStore)


def _refuse_existing(app: App, name: str, stores: tuple[str, ...]) -> None:
    """`add` creates only: a name any target store already holds is refused (exit 2)."""
    taken = [s for s in stores if app.store(s).exists(name)]
    if not taken:
        return
    remote = [s for s in taken if _is_remote(app, s)]
    hint = (
        "`tokens sync --discover` brings a teammate's token into this inventory, then `tokens rotate "
        f"{name}` changes its value"
    )
    if not remote:
        hint = f"remove the stale entry first (`keyring del SERVICE {name}`) or choose another name"
    raise NameTaken(f"{name!r} already exists in store {', '.join(taken)}; nothing was written: {hint}")


def _undo_writes(app: App, name: str, written: list[str]) -> None:
    for store_name in written:
        try:
            app.store(store_name).delete(name)
        except StoreError:
            pass


def get_value(app: App, name: str, store: str | None = None) -> tuple[str, str, list[str]]:
    """(value, store it came from, warnings). Prefers a store holding the recorded value."""
    record = app.inventory.get(name)
    if store is not None:
        app.config.store(store)
        return app.store(store).get(name), store, []
    warnings: list[str] = []
    fallback: tuple[str, str] | None = None
    errors: list[StoreError] = []
    for store_name in record.stores:
        try:
            value = app.store(store_name).get(name)
        except StoreError as exc:
            errors.append(exc)
            continue
        if fingerprint(value) == record.fingerprint:
            return value, store_name, warnings
        fallback = fallback or (value, store_name)
    if fallback is not None:
        warnings.append(
            f"{name}: no store holds the value the inventory recorded; using {fallback[1]}'s (run `tokens sync`)"
        )
        return fallback[0], fallback[1], warnings
    if errors:
        # The most useful error: an unreachable store over a plain "not found".
        errors.sort(key=lambda e: isinstance(e, SecretNotFound))
        raise errors[0]
    raise UsageError(f"{name} has no stores")


def write_order(app: App, stores) -> list[str]:
    """Shared stores first, those whose check-and-set is atomic (Vault) before the
    others (AWS): the first one's check-and-set decides which of two machines rotating
    at once goes on; local stores last."""

    def rank(name: str) -> tuple[bool, bool]:
        store = app.store(name)
        return not isinstance(store, MetadataStore), not isinstance(store, AtomicCheckAndSet)

    order = list(stores)
    return sorted(order, key=lambda s: (rank(s), order.index(s)))


def expected_version(app: App, record: TokenRecord, store_name: str, entry) -> str | None:
    """The version a shared store must still be at for this machine to write it:
    the one the inventory last recorded (written or seen by sync). Raises
    StoreConflict when the store moved on since."""
    store = app.store(store_name)
    if entry is None:
        return None  # gone (or never written): create it
    recorded = record.store_versions.get(store_name)
    if recorded is not None:
        if entry.version == recorded:
            return recorded
        raise store.conflict(record.name, recorded, entry)
    # An inventory from before versions were recorded: the metadata must vouch for
    # the value this machine knows.
    meta = entry.metadata
    if meta.get("version") == entry.version:
        fp = meta.get("fingerprint")
        if is_keyed(fp):
            # A keyed fingerprint is compared through the value (rare: old inventories only).
            same = fingerprint(store.get(record.name)) == record.fingerprint
        else:
            same = fp == record.fingerprint
        if same:
            return entry.version
    raise store.conflict(record.name, meta.get("version") or "unknown", entry)


def rotate_token(app: App, name: str, value: str, *, event: str = "rotate") -> Outcome:
    """Write the new value everywhere; journalled so a crash or outage loses nothing.
    `event` names it in the audit log (`rollback` restores an earlier value).

    Every shared store must still hold the version this machine last saw (checked
    before anything is written, and again atomically by Vault's check-and-set);
    otherwise the rotation is refused: another machine rotated the token since."""
    with token_lock(app.data_dir, name):
        record = app.inventory.get(name)
        new_fp = fingerprint(value)
        if new_fp == record.fingerprint:
            raise UsageError(f"the new value for {name} is the same as the current one")
        facts = inspect(value, None if record.kind in ("pypi", "testpypi") else record.kind)
        warnings: list[str] = []
        if facts.kind != record.kind:
            warnings.append(f"the new value looks like a {facts.kind} token; {name} is a {record.kind} token")
        rotated_at = max(app.now, record.rotated_at + timedelta(seconds=1))
        updated = record.with_(
            fingerprint=new_fp,
            rotated_at=rotated_at,
            scope=facts.scope or record.scope,
            expires_at=facts.expires_at if record.kind in ("pypi", "testpypi") else record.expires_at,
            # What the registry said was about the old value; timestamps alone cannot tell when
            # a revoke and a rotation fall in the same second.
            verified_at=None,
            verify_result=None,
            registry_expires_at=None,
            registry_scopes=None,
        )
        order = write_order(app, record.stores)
        failed: dict[str, str] = {}
        expects: dict[str, object] = {}
        for store_name in order:
            store = app.store(store_name)
            if not isinstance(store, MetadataStore):
                continue
            try:
                entry = store.entry(name)
            except StoreError as exc:
                failed[store_name] = str(exc)  # unreachable: `tokens sync` finishes it later
                continue
            expects[store_name] = expected_version(app, record, store_name, entry)
        pause_point("rotate.checked")
        entry_id = app.inventory.journal_begin(name, "rotate", new_fp, rotated_at, list(record.stores))
        crash_point("rotate.journalled")
        meta = store_metadata(updated)
        written: list[str] = []
        overwrote: list[str] = []
        versions = dict(record.store_versions)
        try:
            for store_name in order:
                if store_name in failed:
                    continue
                try:
                    result = app.store(store_name).put(name, value, meta, expect=expects.get(store_name, UNCHECKED))
                except StoreConflict as exc:
                    if not written:
                        app.inventory.journal_end(entry_id)
                        raise
                    failed[store_name] = str(exc)
                    continue
                except StoreError as exc:
                    failed[store_name] = str(exc)
                    continue
                written.append(store_name)
                crash_point("rotate.store-written")
                pause_point("rotate.store-written")
                versions.pop(store_name, None)
                if result.version:
                    versions[store_name] = result.version
                if result.overwrote:
                    overwrote.append(store_name)
                    warnings.append(
                        f"store {store_name!r}: another machine wrote {name} between this machine's check and its "
                        f"write (version {result.overwrote}, kept as AWSPREVIOUS); its rotation was replaced by this one: "
                        "tell its owner to revoke that token"
                    )
                app.inventory.journal_mark(entry_id, store_name)
                crash_point("rotate.marked")
        except KeyboardInterrupt:
            missing = [s for s in order if s not in written]
            if written:
                for store_name in missing:
                    versions.pop(store_name, None)
                app.inventory.save(updated.with_(store_versions=versions))
                audit.append(app.data_dir, "rotate", name, stores=written, failed=missing, fingerprint=new_fp, interrupted=True)
                raise Interrupted(
                    f"interrupted: {name}'s new value is in {', '.join(written)} but not yet in {', '.join(missing)}; "
                    f"run `tokens sync {name}` to finish"
                ) from None
            app.inventory.journal_end(entry_id)
            raise Interrupted(f"interrupted: {name} was not rotated; no store was written") from None
        if not written:
            app.inventory.journal_end(entry_id)
            first = next(iter(failed.values()))
            raise StoreError(
                record.stores[0],
                f"rotation of {name} failed in every store; nothing changed, keep the new value and retry ({first})",
            )
        for store_name in failed:
            versions.pop(store_name, None)  # it still holds the old value
        updated = updated.with_(store_versions=versions)
        app.inventory.save(updated)
        crash_point("rotate.saved")
        if not failed:
            app.inventory.journal_end(entry_id)
    audit.append(app.data_dir, event, name, stores=written, failed=sorted(failed), fingerprint=new_fp)
    return Outcome(updated, warnings, written, failed, overwrote)


def rollback_token(app: App, name: str) -> tuple[Outcome, str, TokenRecord, str]:
    """Restore the value before the last rotation, from a store that keeps versions.

    Returns (outcome, the store it was read from, the record as it was before, the
    restored value: for the CI targets): the value rolled back *from* is the one to
    revoke if it leaked."""
    record = app.inventory.get(name)
    if app.inventory.journal_pending(name):
        raise UsageError(f"a rotation of {name} has not reached every store yet; run `tokens sync {name}` first")
    candidates = [s for s in record.stores if isinstance(app.store(s), VersionedStore)]
    if not candidates:
        raise UsageError(
            f"none of {name}'s stores ({', '.join(record.stores)}) keeps previous versions; "
            "rollback needs a Vault or AWS store"
        )
    unreachable: list[StoreError] = []
    behind: list[str] = []
    no_previous: list[str] = []
    for store_name in candidates:
        store = app.store(store_name)
        try:
            current = store.get(name)
        except StoreError as exc:
            unreachable.append(exc)
            continue
        if fingerprint(current) != record.fingerprint:
            behind.append(store_name)
            continue
        try:
            previous = store.get_previous(name)
        except SecretNotFound:
            no_previous.append(store_name)  # the current value was just read: no older one
            continue
        except StoreError as exc:
            unreachable.append(exc)
            continue
        if fingerprint(previous) == record.fingerprint:
            no_previous.append(store_name)
            continue
        outcome = rotate_token(app, name, previous, event="rollback")
        return outcome, store_name, record, previous
    if unreachable:
        # Each StoreError already names its store: say it once.
        first = unreachable[0]
        raise StoreError(first.store, f"cannot roll back {name}: {_bare(first)}")
    if behind:
        raise UsageError(
            f"cannot roll back {name}: {', '.join(behind)} does not hold its current value; run `tokens sync {name}` first"
        )
    raise UsageError(
        f"{name} has no previous version to roll back to in {', '.join(no_previous)} "
        "(never rotated, or the older versions were deleted)"
    )


def _bare(error: StoreError) -> str:
    """A store error's message without its leading "store 'NAME': "."""
    text = str(error)
    prefix = f"store {error.store!r}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def token_page(record: TokenRecord) -> str:
    """Where this token is revoked: its own registry's page (a self-managed GitLab, a
    private npm registry...), else the kind's; '' when not known."""
    from tokenward.errors import TokenwardError
    from tokenward.registries.base import open_registry

    if not record.repository:
        return TOKEN_PAGE.get(record.kind, "")
    try:
        return open_registry(record, None, None).token_page  # type: ignore[arg-type] - no request is made
    except TokenwardError:
        return ""


def revoke_hint(record: TokenRecord) -> str:
    page = token_page(record)
    where = f"at {page}" if page else "where it was issued"
    if record.kind in TOKEN_PAGE:
        return f"revoke the old {record.kind} token {where}"
    return f"revoke the old token {where}"


def named_by(app: App, name: str) -> list[str]:
    """What in the config names this token (and stops working without it): CI targets
    (the secret's token or the auth token), the npm login, the email password."""
    config = app.config
    uses = [f"target {t.name}" for t in config.targets.values() if t.token == name]
    uses += [f"target {t.name} (auth)" for t in config.targets.values() if t.auth == name]
    if (config.notify.get("email") or {}).get("password_token") == name:
        uses.append("notify.email")
    if config.rotate.npm_login == name:
        uses.append("rotate.npm.login")
    return uses


def check_removable(app: App, name: str) -> None:
    """Exit 2 for a token whose API rotation is not finished: a value the registry
    created may be live, known only to that rotation's journal."""
    from tokenward.rotation import api_journal

    if name in api_journal.pending(app.data_dir):
        raise UsageError(
            f"the API rotation of {name} is not finished (a value its registry created may be live): "
            f"run `tokens rotate {name}` to finish it, then remove it; nothing changed"
        )


def remove_token(app: App, name: str) -> Outcome:
    """Delete from each store, dropping each from the record as it goes, then the record."""
    check_removable(app, name)
    with token_lock(app.data_dir, name):
        record = app.inventory.get(name)
        remaining = list(record.stores)
        removed: list[str] = []
        for store_name in record.stores:
            try:
                app.store(store_name).delete(name)
            except StoreError:
                app.inventory.update(name, stores=tuple(remaining))
                raise
            remaining.remove(store_name)
            removed.append(store_name)
        app.inventory.delete(name)
    audit.append(app.data_dir, "remove", name, stores=removed)
    return Outcome(record, written=removed)


def record_use(app: App, name: str, **fields) -> None:
    app.inventory.update(name, last_used_at=app.now)
    audit.append(app.data_dir, "exec", name, **fields)


def check_name_and_stores(app: App, name: str, stores: tuple[str, ...] | None) -> tuple[str, ...]:
    """The checks `add` can make before it asks for a value; the stores to write."""
    check_name(name)
    chosen = resolve_stores(app, stores)
    if app.inventory.find(name) is not None:
        raise TokenExists(name)
    return chosen
