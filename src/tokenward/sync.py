"""Make every store of each token hold its newest value: observe, plan (pure), apply.

Observe reads as little as it can. Remote stores (Vault, AWS) list every secret
with its metadata in a few requests; the metadata carries the value's fingerprint
and rotated_at, and `version`: the store version it describes. When that is the
store's current version the metadata vouches for the value and nothing is read;
when it is not, someone changed the value outside tokenward and only that value is
read (its age is unknown). Local stores (the keyring) carry no metadata: they are
taken to hold what the inventory says tokenward wrote there, unless a rotation of
the token is pending in the journal, the token is new to this machine, or
`--verify` asks for every value to be read.

The plan is a pure function of those observations (`plan_token`): the newest
rotated_at wins, equal fingerprints are in sync, different values without an order
are a conflict that only `--prefer STORE` settles. Nothing is ever deleted.

Apply reads each winning value once (in bulk where the store can), writes it where
it is missing or older, then updates the inventory and closes journal entries of
interrupted rotations. One store failing does not stop the others.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable

from tokenward import audit
from tokenward.app import App
from tokenward.errors import (
    AccessDenied,
    Interrupted,
    ExitStatus,
    SecretNotFound,
    StoreError,
    StoreUnavailable,
    TokenNotFound,
    TokenwardError,
    UsageError,
)
from tokenward.inventory import NAME_RE, JournalEntry, TokenRecord
from tokenward.lifecycle import store_metadata
from tokenward.registries.base import facts_from_metadata
from tokenward.shared_meta import missing, read_fields
from tokenward.locks import token_lock
from tokenward.policy import from_iso, to_iso
from tokenward.stores.base import (
    UNCHECKED,
    BulkReader,
    Concurrent,
    MetadataStore,
    PresenceCheck,
    Store,
    VersionedStore,
    is_keyed,
)
from tokenward.testhooks import crash_point, pause_point
from tokenward.tokens import fingerprint

VERSION_KEY = "version"  # in remote metadata: the store version the metadata describes
BATCH = 200  # tokens locked and applied at a time


# -- observations ---------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """What one store holds for one token, as far as sync knows. Never the value."""

    state: str  # present | missing | failed
    fingerprint: str | None = None
    rotated_at: datetime | None = None  # only when the store's metadata vouches for the value
    version: str | None = None
    vouched: bool = False  # remote metadata describes the current value
    outside: bool = False  # remote value changed outside tokenward
    assumed: bool = False  # local store, taken from the inventory without reading
    error: str | None = None
    metadata: dict[str, str] | None = None
    keyed: str | None = None  # the keyed fingerprint the remote metadata carries (stores/base.py)
    legacy: bool = False  # remote metadata with an unkeyed fingerprint: to be re-keyed
    # Not vouched: when the store's value was made, as far as it can tell (its metadata's
    # rotated_at when that describes this version, else the store's own version time).
    changed_at: datetime | None = None


@dataclass(frozen=True)
class TokenState:
    name: str
    record: TokenRecord  # for a discovered token: built from remote metadata
    seen: dict[str, Seen]
    journal: tuple[JournalEntry, ...] = ()
    discovered: bool = False


@dataclass(frozen=True)
class Write:
    store: str
    reason: str  # missing | older | preferred | metadata | rekey
    # The store version sync observed: the write is refused if the store moved on
    # since (another machine rotated meanwhile). UNCHECKED for local stores.
    expect: object = UNCHECKED


@dataclass
class TokenPlan:
    name: str
    status: str  # in-sync | unchecked | update | conflict | failed | lost
    message: str = ""
    source: str | None = None
    winner: str | None = None  # fingerprint
    rotated_at: datetime | None = None
    writes: list[Write] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # store -> error, seen while observing
    record: TokenRecord | None = None  # the record after a successful apply
    discovered: bool = False
    lost_rotations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shared metadata fields left out
    edited_from: str | None = None  # the store whose newer `tokens edit` was adopted
    close_journal: bool = False
    save: bool = False  # the inventory record changes (fields or recorded versions)
    # filled in by apply
    written: list[str] = field(default_factory=list)
    write_errors: dict[str, str] = field(default_factory=dict)

    @property
    def changes_inventory(self) -> bool:
        return self.status == "update" or self.discovered


def _iso(text: str | None) -> datetime | None:
    try:
        return from_iso(text) if text else None
    except ValueError:
        return None


def _describe_age(moment: datetime | None) -> str:
    return f"rotated {moment.strftime('%Y-%m-%d %H:%M')} UTC" if moment else "of unknown age"


# -- the pure planner -----------------------------------------------------------
def plan_token(state: TokenState, *, prefer: str | None, now: datetime, source_rank: dict[str, int] | None = None) -> TokenPlan:
    """Decide what to write where for one token. Pure: no I/O, `now` passed in."""
    record = state.record
    rank = source_rank or {}
    plan = TokenPlan(state.name, "in-sync", discovered=state.discovered)
    plan.failed = {s: seen.error or "failed" for s, seen in state.seen.items() if seen.state == "failed"}

    # What we know about the age of each value, by fingerprint.
    ages: dict[str, datetime] = {}

    def claim(fp: str | None, moment: datetime | None) -> None:
        if fp and moment is not None and (fp not in ages or moment > ages[fp]):
            ages[fp] = moment

    if record.fingerprint:
        claim(record.fingerprint, record.rotated_at)
    for entry in state.journal:
        claim(entry.fingerprint, entry.rotated_at)
    for seen in state.seen.values():
        if seen.state == "present" and seen.vouched:
            claim(seen.fingerprint, seen.rotated_at)
    # A store without metadata (the keyring) that an interrupted rotation or sync had
    # not reached yet holds a value from before it: older, not of unknown age.
    for entry in state.journal:
        for store in entry.stores:
            seen = state.seen.get(store)
            if (
                store not in entry.done
                and seen is not None
                and seen.state == "present"
                and seen.metadata is None
                and seen.fingerprint
                and seen.fingerprint != entry.fingerprint
                and seen.fingerprint not in ages
            ):
                ages[seen.fingerprint] = entry.rotated_at - timedelta(microseconds=1)

    present = {s: seen for s, seen in state.seen.items() if seen.state == "present" and seen.fingerprint}
    values = sorted({seen.fingerprint for seen in present.values()})  # type: ignore[misc]
    held_by = {fp: [s for s in record.stores if s in present and present[s].fingerprint == fp] for fp in values}

    if not values:
        if plan.failed:
            plan.status = "failed"
            plan.message = "no reachable store holds a value; " + "; ".join(f"{s}: {e}" for s, e in plan.failed.items())
        else:
            plan.status = "lost"
            plan.message = "no store holds a value for it; add it again (`tokens remove`, then `tokens add`)"
        return plan

    winner: str | None = None
    settled_by_prefer = False
    if len(values) == 1:
        winner = values[0]
    else:
        unknown = [fp for fp in values if fp not in ages]
        newest = max((ages[fp] for fp in values if fp in ages), default=None)
        tied = [fp for fp in values if fp in ages and ages[fp] == newest]
        if not unknown and len(tied) == 1:
            winner = tied[0]
        elif prefer and prefer in present:
            winner = present[prefer].fingerprint
            settled_by_prefer = True
        else:
            groups = []
            for fp in values:
                outside = any(present[s].outside for s in held_by[fp])
                label = ", ".join(held_by[fp])
                groups.append(f"{label} ({'changed outside tokenward' if outside else _describe_age(ages.get(fp))})")
            hint = f"--prefer {prefer}: {prefer} holds no value for it; " if prefer else ""
            if state.discovered:
                hint += "not added to the inventory; "
            plan.status = "conflict"
            plan.message = (
                f"different values with no order between them: {' vs '.join(groups)}; "
                f"{hint}choose one with `tokens sync {state.name} --prefer STORE`"
            )
            return plan

    assert winner is not None
    # A value changed outside tokenward is as old as the store says (its version's
    # time), never "now": a token overdue before stays overdue.
    made = [seen.changed_at for seen in present.values() if seen.fingerprint == winner and seen.changed_at]
    rotated_at = ages.get(winner) or (max(made) if made else None) or now
    plan.winner = winner
    plan.rotated_at = rotated_at
    sources = sorted(held_by[winner], key=lambda s: (rank.get(s, 50), record.stores.index(s)))
    plan.source = sources[0]

    for store in record.stores:
        seen = state.seen.get(store)
        if seen is None or seen.state == "failed":
            continue
        if seen.state == "missing":
            plan.writes.append(Write(store, "missing"))
        elif seen.fingerprint != winner:
            plan.writes.append(Write(store, "preferred" if settled_by_prefer else "older", _expect(seen)))
        elif not seen.assumed and seen.metadata is not None and not seen.vouched:
            # Right value, metadata that does not describe it: rewrite so it does.
            plan.writes.append(Write(store, "metadata", _expect(seen)))

    writing = {w.store for w in plan.writes}
    for store in record.stores:
        seen = state.seen.get(store)
        if seen is not None and seen.legacy and seen.vouched and seen.fingerprint == winner and store not in writing:
            # Metadata from before keyed fingerprints: rewrite it in place (no new value version).
            plan.writes.append(Write(store, "rekey", seen.version))

    # A recorded version says "this store holds the record's value" (it lets sync trust
    # keyed fingerprints and rotate check the store moved on): when the value changes,
    # only versions seen holding the winner remain true.
    versions = dict(record.store_versions) if record.fingerprint == winner else {}
    for store, seen in state.seen.items():
        if seen.state == "present" and seen.fingerprint == winner and seen.version and (seen.vouched or not seen.outside):
            versions[store] = seen.version
    changes: dict = {}
    if record.fingerprint != winner or record.rotated_at != rotated_at:
        changes.update(fingerprint=winner, rotated_at=rotated_at)
        # A teammate's rotation may have narrowed the scope or moved the expiry.
        source_meta = present[plan.source].metadata or {}
        if present[plan.source].vouched and not state.discovered:
            fields = read_fields(state.name, source_meta, plan.warnings.append, where=plan.source)
            if fields.get("scope"):
                changes["scope"] = fields["scope"]
            if "expires_at" in fields or not source_meta.get("expires_at"):
                changes["expires_at"] = fields.get("expires_at")
    if versions != record.store_versions:
        changes["store_versions"] = versions
    adopted = [] if state.discovered else _adopt_edit(state, record, plan, changes)
    plan.record = record.with_(**changes) if changes else record
    plan.save = bool(changes) or state.discovered

    # Recorded versions catching up is bookkeeping, not an update worth reporting.
    if plan.writes or set(changes) - {"store_versions"} or state.discovered:
        plan.status = "update"
    reasons = {w.reason for w in plan.writes}
    where = ", ".join(w.store for w in plan.writes if w.reason not in ("metadata", "rekey"))
    refresh = [w.store for w in plan.writes if w.reason == "metadata"]
    rekey = [w.store for w in plan.writes if w.reason == "rekey"]
    if settled_by_prefer:
        plan.message = f"conflict settled by --prefer {prefer}: write {where or 'nothing'}"
    elif where:
        why = "newest value" if "older" in reasons or "missing" in reasons else "value"
        plan.message = f"write to {where} ({plan.source} holds the {why}, {_describe_age(ages.get(winner))})"
    elif state.discovered:
        plan.message = f"add to the inventory (its stores hold the newest value, {_describe_age(ages.get(winner))})"
    elif plan.status == "update" and not adopted:
        plan.message = "the inventory catches up with the stores"
    if adopted:
        edit = f"adopt {', '.join(adopted)} edited on another machine (from {plan.edited_from})"
        plan.message += ("; " if plan.message else "") + edit
    if refresh:
        plan.message += ("; " if plan.message else "") + (
            f"refresh {', '.join(refresh)}'s metadata so it describes its value (no new version)"
        )
    if rekey:
        plan.message += ("; " if plan.message else "") + f"key the fingerprint in {', '.join(rekey)}'s metadata (HMAC)"
    if plan.failed:
        plan.message += ("; " if plan.message else "") + "not checked: " + ", ".join(plan.failed)
        if plan.status == "in-sync":
            # The stores that answered agree, but a token not checked everywhere is not in sync.
            plan.status = "unchecked"

    # Interrupted rotations of this token are finished when every store holds the winner.
    if state.journal and not plan.failed:
        plan.close_journal = True
        for entry in state.journal:
            if entry.fingerprint not in values and entry.rotated_at > rotated_at:
                plan.lost_rotations.append(
                    f"the rotation started {entry.started_at.strftime('%Y-%m-%d %H:%M')} UTC never reached a store; "
                    f"run `tokens rotate {state.name}` again with the new value"
                )
    return plan


EDITABLE = ("purpose", "scope", "repository", "rotate_every", "expires_at")  # edit.META_FIELDS


def _adopt_edit(state: TokenState, record: TokenRecord, plan: TokenPlan, changes: dict) -> list[str]:
    """`tokens edit` on another machine: the newest edited_at among the metadata that
    describes the current values wins over this inventory's. Returns the changed fields."""
    best: tuple[datetime, str, dict] | None = None
    for store, seen in state.seen.items():
        if seen.state != "present" or not seen.vouched or not seen.metadata or not seen.metadata.get("edited_at"):
            continue
        fields = read_fields(state.name, seen.metadata, plan.warnings.append, where=store)
        edited = fields.get("edited_at")
        if edited is None or (record.edited_at is not None and edited <= record.edited_at):
            continue
        if best is None or edited > best[0]:
            best = (edited, store, fields)
    if best is None:
        return []
    edited, store, fields = best
    raw = state.seen[store].metadata or {}
    adopted = []
    for key in EDITABLE:
        if key in fields:
            new = fields[key]
        elif raw.get(key, "") == "":
            new = None if key == "expires_at" else ""  # cleared by the edit
        else:
            continue  # present but invalid: ours is kept (warned)
        if key == "rotate_every" and not new:
            continue
        if changes.get(key, getattr(record, key)) != new:
            changes[key] = new
            adopted.append(key)
    changes["edited_at"] = edited
    plan.edited_from = store
    return adopted


def _expect(seen: Seen) -> object:
    return seen.version if seen.metadata is not None and seen.version else UNCHECKED


def plan_all(states: Iterable[TokenState], *, prefer: str | None, now: datetime, source_rank: dict[str, int]) -> list[TokenPlan]:
    return [plan_token(s, prefer=prefer, now=now, source_rank=source_rank) for s in states]


# -- observing the stores -------------------------------------------------------
@dataclass
class Report:
    plans: list[TokenPlan]
    store_errors: dict[str, str] = field(default_factory=dict)  # store -> error that stopped it
    undiscovered: int = 0  # remote tokens not in the inventory (without --discover)
    skipped_remote: list[str] = field(default_factory=list)  # remote secrets without usable metadata
    warnings: list[str] = field(default_factory=list)  # shared metadata fields left out (shared_meta)
    dry_run: bool = False
    applied: bool = False
    worst: ExitStatus = ExitStatus.OK

    def note_error(self, exc: TokenwardError) -> None:
        if isinstance(exc, (StoreUnavailable, AccessDenied)):
            self.worst = ExitStatus.STORE
        elif self.worst == ExitStatus.OK:
            self.worst = ExitStatus.FINDINGS

    @property
    def exit_status(self) -> int:
        status = self.worst
        for plan in self.plans:
            if plan.status in ("conflict", "failed", "lost") or plan.write_errors or plan.failed or plan.lost_rotations:
                status = max(status, ExitStatus.FINDINGS)
        if self.store_errors:
            status = max(status, ExitStatus.FINDINGS)
        return int(status)

    def summary(self) -> dict[str, int]:
        counts = {
            "tokens": len(self.plans), "in_sync": 0, "unchecked": 0, "updated": 0, "writes": 0, "conflicts": 0,
            "failed": 0, "discovered": 0,
        }  # fmt: skip
        for plan in self.plans:
            if plan.status == "in-sync":
                counts["in_sync"] += 1
            elif plan.status == "unchecked":
                counts["unchecked"] += 1
            elif plan.status == "update":
                done = self.applied and not plan.write_errors
                counts["updated"] += 1 if done or not self.applied else 0
                counts["writes"] += len(plan.written) if self.applied else len(plan.writes)
            elif plan.status == "conflict":
                counts["conflicts"] += 1
            if plan.status in ("failed", "lost") or plan.write_errors or (plan.failed and plan.status != "unchecked"):
                counts["failed"] += 1
            if plan.discovered and plan.status == "update":
                counts["discovered"] += 1
        return counts


def _vouches(entry_meta: dict[str, str], version: str | None) -> bool:
    return bool(entry_meta.get("fingerprint")) and version is not None and entry_meta.get(VERSION_KEY) == version


def _remote_seen(entry, record: TokenRecord | None, store: str) -> Seen:
    if entry is None:
        return Seen("missing")
    meta = dict(entry.metadata)
    if _vouches(meta, entry.version):
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
            rotated_at=_iso(meta.get("rotated_at")),
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
    changed_at = (_iso(meta.get("rotated_at")) if described else None) or entry.changed_at
    return Seen("present", version=entry.version, outside=recorded != entry.version, metadata=meta, changed_at=changed_at)


def _record_from_metadata(
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
        where, meta = max(pool, key=lambda item: (_iso(item[1].get("rotated_at")) or app.now))
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


def source_rank(stores: dict[str, object]) -> dict[str, int]:
    """Cheapest stores to read a value from first: many values per request, then
    concurrent reads, then the rest."""
    rank = {}
    for name, store in stores.items():
        if isinstance(store, BulkReader):
            rank[name] = 0 if store.values_per_request > 1 else 1
        else:
            rank[name] = 2
    return rank


def _read_many(store, tokens: list[str]) -> dict[str, str | StoreError]:
    if not tokens:
        return {}
    if isinstance(store, BulkReader):
        return store.get_many(tokens)
    found: dict[str, str | StoreError] = {}
    for token in tokens:
        try:
            found[token] = store.get(token)
        except StoreError as exc:
            found[token] = exc
    return found


class Sync:
    """One `tokens sync` run over an App."""

    def __init__(
        self,
        app: App,
        names: Iterable[str] = (),
        *,
        prefer: str | None = None,
        discover: bool = False,
        verify: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.names = list(dict.fromkeys(names))
        self.prefer = prefer
        self.discover = discover
        self.verify = verify
        self.progress = progress
        self.values: dict[tuple[str, str], str] = {}  # (token, store) -> value, in memory only
        self._values_lock = threading.Lock()
        self._snapshots: dict[str, tuple] = {}  # name -> (fingerprint, rotated_at) when planned
        self._journal_seen: dict[str, set[int]] = {}  # name -> ids of pending journal entries when planned
        self._rank: dict[str, int] = {}  # store -> cost of reading a value from it (source_rank)
        if prefer is not None:
            app.config.store(prefer)  # unknown store: usage error
        for name in self.names:
            if not NAME_RE.fullmatch(name):
                raise UsageError(f"invalid token name {name!r}")

    # -- observe -------------------------------------------------------------
    def observe(self) -> tuple[list[TokenState], Report]:
        app = self.app
        inventory = app.inventory
        report = Report([])
        if self.names:
            records = {}
            for name in self.names:
                record = inventory.find(name)
                if record is None and not self.discover:
                    raise TokenNotFound(name)
                if record is not None:
                    records[name] = record
        else:
            records = {r.name: r for r in inventory.all()}
        self.snapshot(records.values())
        pending: dict[str, list[JournalEntry]] = {}
        for entry in inventory.journal_pending():
            if entry.name in records:
                pending.setdefault(entry.name, []).append(entry)
                self._journal_seen.setdefault(entry.name, set()).add(entry.id)

        involved = {s for r in records.values() for s in r.stores}
        if self.discover or (not records and not self.names):
            # An empty inventory still looks, to say what `--discover` would bring in.
            involved |= {s for s in app.config.stores if isinstance(app.store(s), MetadataStore)}
        unknown_stores = {s for s in involved if s not in app.config.stores}
        involved -= unknown_stores
        stores = {s: app.store(s) for s in involved | set(app.config.default_stores if self.discover else ())}
        # What each store can do decides how it is observed; something that cannot be
        # read back (not a Store: a CI secret) is neither read nor written by sync.
        readable = {s for s in stores if isinstance(stores[s], Store)}
        remote = sorted(s for s in readable if isinstance(stores[s], MetadataStore))
        self._rank = source_rank(stores)

        # 1. List the remote stores, all at once.
        listings: dict[str, dict] = {}

        def list_one(store: str):
            names = self.names if self.names else None
            return store, stores[store].list_entries(names)

        with ThreadPoolExecutor(max_workers=max(1, len(remote))) as pool:
            futures = {s: pool.submit(list_one, s) for s in remote}
            for store, future in futures.items():
                try:
                    listings[store] = future.result()[1]
                except TokenwardError as exc:
                    report.store_errors[store] = str(exc)
                    report.note_error(exc)

        # 2. Tokens found remotely that the inventory does not know.
        found: dict[str, list[str]] = {}
        for store in remote:
            for token in listings.get(store, {}):
                if token not in records:
                    found.setdefault(token, []).append(store)
        discovered: dict[str, TokenRecord] = {}
        if self.discover:
            for token, where in sorted(found.items()):
                metas = [listings[s][token].metadata for s in where]
                if not NAME_RE.fullmatch(token) or not any(m.get("tokenward") == "1" for m in metas):
                    report.skipped_remote.append(f"{where[0]}:{token}")
                    continue
                candidates = [
                    (s, listings[s][token].metadata, _vouches(listings[s][token].metadata, listings[s][token].version))
                    for s in where
                ]
                order = tuple(dict.fromkeys([*app.config.default_stores, *where]))
                discovered[token] = _record_from_metadata(token, candidates, order, app, report.warnings.append)
        else:
            report.undiscovered = len(found)

        # 3. What each store holds, reading values only where metadata cannot tell.
        to_read: dict[str, list[str]] = {}
        states: list[TokenState] = []
        assumed_names: dict[str, list[str]] = {}
        unknown: dict[str, list[str]] = {}  # token -> remote stores whose keyed fingerprint needs the value
        for name in sorted({*records, *discovered}):
            record = records.get(name) or discovered[name]
            is_new = name in discovered
            journal = tuple(pending.get(name, ()))
            seen: dict[str, Seen] = {}
            for store in record.stores:
                if store in unknown_stores:
                    seen[store] = Seen("failed", error=f"store {store!r} is not in the config ({app.config.where})")
                elif store in report.store_errors:
                    seen[store] = Seen("failed", error=report.store_errors[store])
                elif store not in readable:
                    continue
                elif store in remote:
                    entry = listings.get(store, {}).get(name)
                    seen[store] = _remote_seen(entry, None if is_new else record, store)
                    if seen[store].state == "present" and not seen[store].vouched and seen[store].changed_at is None:
                        seen[store] = replace(seen[store], changed_at=self._version_time(stores[store], name, seen[store].version))
                    if seen[store].state == "present" and (not seen[store].vouched or self.verify):
                        to_read.setdefault(store, []).append(name)
                    elif seen[store].state == "present" and seen[store].fingerprint is None:
                        unknown.setdefault(name, []).append(store)
                elif is_new or journal or self.verify:
                    seen[store] = Seen("present")  # placeholder: read below
                    to_read.setdefault(store, []).append(name)
                else:
                    seen[store] = Seen("present", fingerprint=record.fingerprint, rotated_at=record.rotated_at, assumed=True)
                    assumed_names.setdefault(store, []).append(name)
            states.append(TokenState(name, record, seen, journal, discovered=is_new))
        self._confirm_local(stores, states, assumed_names)

        # Keyed fingerprints of unknown values: read one store's value (the cheapest),
        # and compare the others' keyed fingerprints with it under their own keys.
        rank = self._rank
        deferred: dict[tuple[str, str], str] = {}  # (token, store) -> store read for it
        for name, where in unknown.items():
            where = sorted(where, key=lambda s: rank.get(s, 50))
            if not any(name in to_read.get(s, ()) for s in where):
                to_read.setdefault(where[0], []).append(name)
            first = next(s for s in where if name in to_read.get(s, ()))
            for other in where:
                if other != first and name not in to_read.get(other, ()):
                    deferred[(name, other)] = first
        reads = self._read(stores, to_read, report)
        again: dict[str, list[str]] = {}
        for (name, other), first in deferred.items():
            value = self.values.get((name, first))
            seen = next(st.seen[other] for st in states if st.name == name)
            if value is not None and stores[other].keyed(value) == seen.keyed:
                reads[(name, other)] = fingerprint(value)
                with self._values_lock:
                    self.values[(name, other)] = value
            else:
                again.setdefault(other, []).append(name)
        reads.update(self._read(stores, again, report))
        for i, state in enumerate(states):
            changed = dict(state.seen)
            for store, seen in state.seen.items():
                outcome = reads.get((state.name, store))
                if outcome is None:
                    continue
                if isinstance(outcome, SecretNotFound):
                    changed[store] = Seen("missing")
                elif isinstance(outcome, StoreError):
                    changed[store] = Seen("failed", error=str(outcome))
                else:
                    actual = outcome
                    value = self.values.get((state.name, store))
                    if seen.vouched and seen.keyed and seen.fingerprint is None:
                        lies = value is None or stores[store].keyed(value) != seen.keyed
                    else:
                        lies = seen.vouched and actual != seen.fingerprint
                    if lies:
                        # --verify found metadata that lies about the value.
                        changed[store] = replace(seen, fingerprint=actual, vouched=False, outside=True, rotated_at=None)
                    else:
                        changed[store] = replace(seen, fingerprint=actual)
            states[i] = replace(state, seen=changed)
        return states, report

    @staticmethod
    def _version_time(store, name: str, version: str | None) -> datetime | None:
        """When the store made the value someone changed outside tokenward (AWS asks)."""
        if version is None or not isinstance(store, VersionedStore):
            return None
        try:
            return store.version_created(name, version)
        except StoreError:
            return None  # unknown: the value is dated "now", as before

    def _confirm_local(self, stores: dict, states: list[TokenState], names: dict[str, list[str]]) -> None:
        """A local store (the keyring) carries no metadata, so sync takes it to hold what
        the inventory says; but an entry deleted by hand must not pass for "in sync".
        One cheap presence check per store (no value read on the Secret Service)."""
        for store, wanted in names.items():
            checker = stores[store]
            if not isinstance(checker, PresenceCheck):
                continue
            try:
                held = checker.present(wanted)
                error = None
            except StoreError as exc:
                held, error = set(), str(exc)
            for state in states:
                seen = state.seen.get(store)
                if seen is None or not seen.assumed or state.name not in wanted:
                    continue
                if error is not None:
                    state.seen[store] = Seen("failed", error=error)
                elif state.name not in held:
                    state.seen[store] = Seen("missing")

    def _read(self, stores: dict, to_read: dict[str, list[str]], report: Report) -> dict[tuple[str, str], str | StoreError]:
        """Fingerprints (or errors) of the values that must be read; values kept in memory for apply."""
        results: dict[tuple[str, str], str | StoreError] = {}

        def read_store(store: str) -> None:
            for token, outcome in _read_many(stores[store], to_read[store]).items():
                if isinstance(outcome, StoreError):
                    results[(token, store)] = outcome
                    if not isinstance(outcome, SecretNotFound):
                        report.note_error(outcome)
                else:
                    with self._values_lock:
                        self.values[(token, store)] = outcome
                    results[(token, store)] = fingerprint(outcome)

        with ThreadPoolExecutor(max_workers=max(1, len(to_read))) as pool:
            list(pool.map(read_store, list(to_read)))
        return results

    def plan(self) -> Report:
        states, report = self.observe()
        report.plans = plan_all(states, prefer=self.prefer, now=self.app.now, source_rank=self._rank)
        for plan in report.plans:
            if plan.status == "conflict" and not plan.discovered and self._raced(plan.name):
                # A rotation ran while we looked: its new value is not a conflict.
                plan.status = "failed"
                plan.message = "rotated while syncing; run `tokens sync` again"
        return report

    def _raced(self, name: str) -> bool:
        """The record or its pending rotations changed since observe() read them."""
        current = self.app.inventory.find(name)
        if current is None or (current.fingerprint, current.rotated_at) != self._snapshots.get(name):
            return True
        return {e.id for e in self.app.inventory.journal_pending(name)} != self._journal_seen.get(name, set())

    # -- apply ---------------------------------------------------------------
    def apply(self, report: Report) -> Report:
        try:
            return self._apply(report)
        except KeyboardInterrupt:
            raise Interrupted(self._interrupted_summary(report)) from None

    @staticmethod
    def _interrupted_summary(report: Report) -> str:
        done = [f"{p.name} -> {', '.join(sorted(p.written))}" for p in report.plans if p.written]
        left = sorted({p.name for p in report.plans if p.writes and set(w.store for w in p.writes) - set(p.written)})
        text = "interrupted: "
        text += f"wrote {'; '.join(done)} (recorded in the inventory and history)" if done else "nothing was written"
        if left:
            text += f"; not done: {', '.join(left)}"
        return text + "; `tokens sync` finishes it"

    def _apply(self, report: Report) -> Report:
        todo = [
            p for p in report.plans if p.status == "update" or (p.status in ("in-sync", "unchecked") and (p.close_journal or p.save))
        ]
        done = 0
        total = len(todo)
        for start in range(0, total, BATCH):
            batch = todo[start : start + BATCH]
            self._apply_batch(batch, report)
            done += len(batch)
            if self.progress:
                self.progress(done, total)
        report.applied = True
        return report

    def _apply_batch(self, batch: list[TokenPlan], report: Report) -> None:
        app = self.app
        locks = []
        try:
            for plan in sorted(batch, key=lambda p: p.name):
                lock = token_lock(app.data_dir, plan.name)
                lock.__enter__()
                locks.append(lock)
            live = [p for p in batch if self._still_current(p)]
            try:
                # Re-keying metadata needs no value from the source store.
                self._fetch_winners([p for p in live if any(w.reason != "rekey" for w in p.writes)], report)
                crash_point("sync.fetched")
                self._write([p for p in live if p.writes], report)
                crash_point("sync.written")
                pause_point("sync.written")
            except KeyboardInterrupt:
                # Keep what completed: the inventory, the history and the journal learn
                # about every write that finished; the rest is left to the next sync.
                for plan in live:
                    for write in plan.writes:
                        if write.store not in plan.written:
                            plan.write_errors.setdefault(write.store, "interrupted")
                self._save(live)
                raise
            self._save(live)
        finally:
            for lock in reversed(locks):
                lock.__exit__(None, None, None)

    def _still_current(self, plan: TokenPlan) -> bool:
        """A rotation that ran since we looked wins: leave the token to the next sync."""
        if plan.discovered:
            if self.app.inventory.find(plan.name) is not None:
                plan.write_errors["inventory"] = "added on this machine while syncing; run `tokens sync` again"
                return False
            return True
        current = self.app.inventory.find(plan.name)
        before = plan.record
        if current is None or before is None:
            plan.write_errors["inventory"] = "removed while syncing"
            return False
        snapshot = self._snapshots.get(plan.name)
        if snapshot is not None and (current.fingerprint, current.rotated_at) != snapshot:
            plan.write_errors["inventory"] = "rotated while syncing; run `tokens sync` again"
            return False
        return True

    def snapshot(self, records: Iterable[TokenRecord]) -> None:
        for record in records:
            self._snapshots[record.name] = (record.fingerprint, record.rotated_at)

    def _fetch_winners(self, plans: list[TokenPlan], report: Report) -> None:
        wanted: dict[str, list[str]] = {}
        for plan in plans:
            if (plan.name, plan.source) not in self.values:
                wanted.setdefault(plan.source, []).append(plan.name)  # type: ignore[arg-type]
        stores = {s: self.app.store(s) for s in wanted}
        fetched = self._read(stores, wanted, report)
        for plan in plans:
            value = self.values.get((plan.name, plan.source))  # type: ignore[arg-type]
            if value is None:
                error = fetched.get((plan.name, plan.source))  # type: ignore[arg-type]
                plan.write_errors[plan.source] = str(error) if error else "could not read the value"  # type: ignore[index]
            elif fingerprint(value) != plan.winner:
                plan.write_errors[plan.source] = (  # type: ignore[index]
                    f"store {plan.source!r}: its value for {plan.name} no longer matches its metadata "
                    "(changed while syncing?); nothing written, run `tokens sync` again"
                )

    def _write(self, plans: list[TokenPlan], report: Report) -> None:
        by_store: dict[str, list[TokenPlan]] = {}
        for plan in plans:
            if plan.write_errors:
                continue
            for write in plan.writes:
                by_store.setdefault(write.store, []).append(plan)
        lock = threading.Lock()

        def write_one(store_name: str, plan: TokenPlan) -> None:
            store = self.app.store(store_name)
            write = next(w for w in plan.writes if w.store == store_name)
            try:
                if write.reason in ("rekey", "metadata"):
                    # The store already holds the value: describe it without a new version.
                    value = self.values.get((plan.name, plan.source)) if write.reason == "metadata" else None  # type: ignore[arg-type]
                    extra = {"value": value} if value is not None else {}
                    store.put_metadata(plan.name, store_metadata(plan.record), write.expect, **extra)  # type: ignore[attr-defined, arg-type]
                    with lock:
                        plan.written.append(store_name)
                        if write.reason == "metadata" and isinstance(write.expect, str):
                            versions = {**plan.record.store_versions, store_name: write.expect}  # type: ignore[union-attr]
                            plan.record = plan.record.with_(store_versions=versions)  # type: ignore[union-attr]
                    return
                value = self.values[(plan.name, plan.source)]  # type: ignore[index]
                result = store.put(plan.name, value, store_metadata(plan.record), expect=write.expect)  # type: ignore[arg-type]
            except StoreError as exc:
                with lock:
                    plan.write_errors[store_name] = str(exc)
                    report.note_error(exc)
                return
            crash_point("sync.store-written")
            with lock:
                plan.written.append(store_name)
                versions = dict(plan.record.store_versions)  # type: ignore[union-attr]
                versions.pop(store_name, None)
                if result.version:
                    versions[store_name] = result.version
                plan.record = plan.record.with_(store_versions=versions)  # type: ignore[union-attr]

        def write_store(store_name: str) -> None:
            store = self.app.store(store_name)
            concurrency = store.concurrency if isinstance(store, Concurrent) else 1
            workers = max(1, min(concurrency, len(by_store[store_name])))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda p: write_one(store_name, p), by_store[store_name]))

        for name in by_store:
            self.app.store(name)  # open in this thread; App's cache is not thread-safe
        with ThreadPoolExecutor(max_workers=max(1, len(by_store))) as pool:
            list(pool.map(write_store, list(by_store)))

    def _save(self, plans: list[TokenPlan]) -> None:
        inventory = self.app.inventory
        new = [p.record for p in plans if p.discovered and p.record is not None and p.source and p.source not in p.write_errors]
        if new:
            inventory.insert_many(new)  # type: ignore[arg-type]
        for plan in plans:
            if plan.record is None or (plan.source in plan.write_errors):
                continue
            if not plan.discovered and plan.save:
                # The winner is safe in its source store, so the record may name it even
                # if some writes failed; versions only for the writes that succeeded.
                inventory.save(plan.record)
                crash_point("sync.saved")
            if plan.close_journal and not plan.write_errors:
                for entry in inventory.journal_pending(plan.name):
                    inventory.journal_end(entry.id)
            failed = sorted(s for s in plan.write_errors if s in plan.record.stores)
            if failed and not inventory.journal_pending(plan.name):
                # Remember the stores still behind: a local store is otherwise taken to
                # hold what the inventory says, and would never be repaired.
                entry_id = inventory.journal_begin(plan.name, "sync", plan.winner or "", plan.rotated_at or self.app.now, list(plan.record.stores))
                for store in plan.written:
                    inventory.journal_mark(entry_id, store)
            if plan.status == "update":
                audit.append(
                    self.app.data_dir,
                    "discover" if plan.discovered else "sync",
                    plan.name,
                    stores=sorted(plan.written),
                    failed=sorted(plan.write_errors),
                    fingerprint=plan.winner,
                )
        self.values = {k: v for k, v in self.values.items() if k[0] not in {p.name for p in plans}}

    def run(self, *, dry_run: bool = False, on_plan: Callable[[Report], None] | None = None) -> Report:
        report = self.plan()
        report.dry_run = dry_run
        if on_plan is not None:
            on_plan(report)
        if not dry_run:
            self.apply(report)
        self.values.clear()
        return report


# -- rollback -------------------------------------------------------------------
def rollback_token(app: App, name: str):
    """Restore the value before the last rotation, from a store that keeps versions.

    Returns (outcome, the store it was read from, the record as it was before): the
    value rolled back *from* is the one to revoke if it leaked."""
    from tokenward import lifecycle

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
        outcome = lifecycle.rotate_token(app, name, previous, event="rollback")
        return outcome, store_name, record
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


def to_json(report: Report) -> dict:
    tokens = []
    for plan in report.plans:
        item: dict = {
            "name": plan.name,
            "status": plan.status,
            "discovered": plan.discovered,
            "message": plan.message,
            "source": plan.source,
            "rotated_at": to_iso(plan.rotated_at),
            "writes": [],
        }
        for write in plan.writes:
            entry = {"store": write.store, "reason": write.reason}
            if report.applied:
                if write.store in plan.written:
                    entry["result"] = "written"
                elif write.store in plan.write_errors or plan.write_errors:
                    entry["result"] = "failed"
                    entry["error"] = plan.write_errors.get(write.store) or next(iter(plan.write_errors.values()))
                else:
                    entry["result"] = "skipped"
            else:
                entry["result"] = "planned"
            item["writes"].append(entry)
        if plan.failed:
            item["unreachable"] = plan.failed
        if plan.write_errors:
            item["errors"] = plan.write_errors
        if plan.lost_rotations:
            item["lost_rotations"] = plan.lost_rotations
        tokens.append(item)
    return {
        "dry_run": report.dry_run,
        "tokens": tokens,
        "store_errors": report.store_errors,
        "undiscovered": report.undiscovered,
        "skipped_remote": report.skipped_remote,
        "warnings": [*report.warnings, *(w for p in report.plans for w in p.warnings)],
        "summary": report.summary(),
    }
