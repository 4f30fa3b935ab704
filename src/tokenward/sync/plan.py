"""The pure planner: what each store of a token is to hold, from what sync saw there.

`plan_token` is a function of the observations (`TokenState`) and `now`, no I/O.
The newest rotated_at wins, equal fingerprints are in sync, different values
without an order are a conflict that only `--prefer STORE` settles. Nothing is
ever deleted. A plan that found the value every store is to hold carries a
`Decision`; a conflict, a failure or a lost token carries none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from tokenward.inventory import JournalEntry, TokenRecord
from tokenward.shared_meta import read_fields
from tokenward.stores.base import UNCHECKED


# -- what sync saw ----------------------------------------------------------------
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


# -- what to do about it ------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    store: str
    reason: str  # missing | older | preferred | metadata | rekey
    # The store version sync observed: the write is refused if the store moved on
    # since (another machine rotated meanwhile). UNCHECKED for local stores.
    expect: object = UNCHECKED


@dataclass(frozen=True)
class Decision:
    """The value every store of the token is to hold, where to read it, what to write."""

    winner: str  # its fingerprint
    source: str  # the cheapest store that holds it
    rotated_at: datetime
    record: TokenRecord  # the inventory record once applied
    writes: tuple[Write, ...] = ()
    save: bool = False  # the inventory record changes (fields or recorded versions)
    close_journal: bool = False  # every store holds the winner: interrupted rotations are done
    lost_rotations: tuple[str, ...] = ()
    edited_from: str | None = None  # the store whose newer `tokens edit` was adopted


@dataclass
class TokenPlan:
    name: str
    status: str  # in-sync | unchecked | update | conflict | failed | lost
    message: str = ""
    discovered: bool = False
    failed: dict[str, str] = field(default_factory=dict)  # store -> error, seen while observing
    warnings: list[str] = field(default_factory=list)  # shared metadata fields left out
    decision: Decision | None = None  # None: a conflict, or no store holds a value
    # filled in by apply
    written: list[str] = field(default_factory=list)
    write_errors: dict[str, str] = field(default_factory=dict)

    # What the report and the tests read; apply works on `decision` itself.
    @property
    def writes(self) -> tuple[Write, ...]:
        return self.decision.writes if self.decision else ()

    @property
    def source(self) -> str | None:
        return self.decision.source if self.decision else None

    @property
    def winner(self) -> str | None:
        return self.decision.winner if self.decision else None

    @property
    def rotated_at(self) -> datetime | None:
        return self.decision.rotated_at if self.decision else None

    @property
    def record(self) -> TokenRecord | None:
        return self.decision.record if self.decision else None

    @property
    def close_journal(self) -> bool:
        return bool(self.decision and self.decision.close_journal)

    @property
    def save(self) -> bool:
        return bool(self.decision and self.decision.save)

    @property
    def lost_rotations(self) -> tuple[str, ...]:
        return self.decision.lost_rotations if self.decision else ()


def _describe_age(moment: datetime | None) -> str:
    return f"rotated {moment.strftime('%Y-%m-%d %H:%M')} UTC" if moment else "of unknown age"


# -- the planner --------------------------------------------------------------------
def plan_token(state: TokenState, *, prefer: str | None, now: datetime, source_rank: dict[str, int] | None = None) -> TokenPlan:
    """Decide what to write where for one token. Pure: no I/O, `now` passed in."""
    record = state.record
    failed = {s: seen.error or "failed" for s, seen in state.seen.items() if seen.state == "failed"}
    plan = TokenPlan(state.name, "in-sync", discovered=state.discovered, failed=failed)
    ages = _ages(state)
    # store -> the fingerprint of the value it holds, where sync knows it
    present = {s: seen.fingerprint for s, seen in state.seen.items() if seen.state == "present" and seen.fingerprint}
    values = sorted(set(present.values()))
    held_by = {fp: [s for s in record.stores if present.get(s) == fp] for fp in values}

    if not values:
        if failed:
            plan.status = "failed"
            plan.message = "no reachable store holds a value; " + "; ".join(f"{s}: {e}" for s, e in failed.items())
        else:
            plan.status = "lost"
            plan.message = "no store holds a value for it; add it again (`tokens remove`, then `tokens add`)"
        return plan

    winner, by_prefer = _choose(values, ages, present, prefer)
    if winner is None:
        groups = []
        for fp in values:
            outside = any(state.seen[s].outside for s in held_by[fp])
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

    # A value changed outside tokenward is as old as the store says (its version's
    # time), never "now": a token overdue before stays overdue.
    made = [seen.changed_at for s, seen in state.seen.items() if present.get(s) == winner and seen.changed_at]
    rotated_at = ages.get(winner) or (max(made) if made else None) or now
    rank = source_rank or {}
    source = sorted(held_by[winner], key=lambda s: (rank.get(s, 50), record.stores.index(s)))[0]
    writes = _writes(state, winner, by_prefer)

    changes = _record_changes(state, winner, rotated_at, source, plan.warnings.append)
    adopted, edited_from = ([], None) if state.discovered else _adopt_edit(state, changes, plan.warnings.append)

    # Recorded versions catching up is bookkeeping, not an update worth reporting.
    if writes or set(changes) - {"store_versions"} or state.discovered:
        plan.status = "update"
    parts = _describe(plan.status, writes, source, by_prefer, prefer, state.discovered, _describe_age(ages.get(winner)), adopted)
    if adopted:
        parts.append(f"adopt {', '.join(adopted)} edited on another machine (from {edited_from})")
    refresh = [w.store for w in writes if w.reason == "metadata"]
    if refresh:
        parts.append(f"refresh {', '.join(refresh)}'s metadata so it describes its value (no new version)")
    rekey = [w.store for w in writes if w.reason == "rekey"]
    if rekey:
        parts.append(f"key the fingerprint in {', '.join(rekey)}'s metadata (HMAC)")
    if failed:
        parts.append("not checked: " + ", ".join(failed))
        if plan.status == "in-sync":
            # The stores that answered agree, but a token not checked everywhere is not in sync.
            plan.status = "unchecked"
    plan.message = "; ".join(parts)

    # Interrupted rotations of this token are finished when every store holds the winner.
    close_journal = bool(state.journal) and not failed
    lost = []
    if close_journal:
        for entry in state.journal:
            if entry.fingerprint not in values and entry.rotated_at > rotated_at:
                lost.append(
                    f"the rotation started {entry.started_at.strftime('%Y-%m-%d %H:%M')} UTC never reached a store; "
                    f"run `tokens rotate {state.name}` again with the new value"
                )
    plan.decision = Decision(
        winner=winner,
        source=source,
        rotated_at=rotated_at,
        record=record.with_(**changes) if changes else record,
        writes=tuple(writes),
        save=bool(changes) or state.discovered,
        close_journal=close_journal,
        lost_rotations=tuple(lost),
        edited_from=edited_from,
    )
    return plan


def plan_all(states: Iterable[TokenState], *, prefer: str | None, now: datetime, source_rank: dict[str, int]) -> list[TokenPlan]:
    return [plan_token(s, prefer=prefer, now=now, source_rank=source_rank) for s in states]


def _ages(state: TokenState) -> dict[str, datetime]:
    """What is known about the age of each value, by fingerprint."""
    ages: dict[str, datetime] = {}

    def claim(fp: str | None, moment: datetime | None) -> None:
        if fp and moment is not None and (fp not in ages or moment > ages[fp]):
            ages[fp] = moment

    if state.record.fingerprint:
        claim(state.record.fingerprint, state.record.rotated_at)
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
    return ages


def _choose(values: list[str], ages: dict[str, datetime], present: dict[str, str], prefer: str | None) -> tuple[str | None, bool]:
    """The winning fingerprint and whether --prefer chose it; (None, False) is a conflict."""
    if len(values) == 1:
        return values[0], False
    unknown = [fp for fp in values if fp not in ages]
    newest = max((ages[fp] for fp in values if fp in ages), default=None)
    tied = [fp for fp in values if fp in ages and ages[fp] == newest]
    if not unknown and len(tied) == 1:
        return tied[0], False
    if prefer and prefer in present:
        return present[prefer], True
    return None, False


def _writes(state: TokenState, winner: str, by_prefer: bool) -> list[Write]:
    writes = []
    for store in state.record.stores:
        seen = state.seen.get(store)
        if seen is None or seen.state == "failed":
            continue
        if seen.state == "missing":
            writes.append(Write(store, "missing"))
        elif seen.fingerprint != winner:
            writes.append(Write(store, "preferred" if by_prefer else "older", _expect(seen)))
        elif not seen.assumed and seen.metadata is not None and not seen.vouched:
            # Right value, metadata that does not describe it: rewrite so it does.
            writes.append(Write(store, "metadata", _expect(seen)))
    writing = {w.store for w in writes}
    for store in state.record.stores:
        seen = state.seen.get(store)
        if seen is not None and seen.legacy and seen.vouched and seen.fingerprint == winner and store not in writing:
            # Metadata from before keyed fingerprints: rewrite it in place (no new value version).
            writes.append(Write(store, "rekey", seen.version))
    return writes


def _expect(seen: Seen) -> object:
    return seen.version if seen.metadata is not None and seen.version else UNCHECKED


def _record_changes(state: TokenState, winner: str, rotated_at: datetime, source: str, warn: Callable[[str], None]) -> dict[str, Any]:
    """The fields of the inventory record that change when every store holds the winner."""
    record = state.record
    # A recorded version says "this store holds the record's value" (it lets sync trust
    # keyed fingerprints and rotate check the store moved on): when the value changes,
    # only versions seen holding the winner remain true.
    versions = dict(record.store_versions) if record.fingerprint == winner else {}
    for store, seen in state.seen.items():
        if seen.state == "present" and seen.fingerprint == winner and seen.version and (seen.vouched or not seen.outside):
            versions[store] = seen.version
    changes: dict[str, Any] = {}
    if record.fingerprint != winner or record.rotated_at != rotated_at:
        changes.update(fingerprint=winner, rotated_at=rotated_at)
        # A teammate's rotation may have narrowed the scope or moved the expiry.
        held = state.seen[source]
        source_meta = held.metadata or {}
        if held.vouched and not state.discovered:
            fields = read_fields(state.name, source_meta, warn, where=source)
            if fields.get("scope"):
                changes["scope"] = fields["scope"]
            if "expires_at" in fields or not source_meta.get("expires_at"):
                changes["expires_at"] = fields.get("expires_at")
    if versions != record.store_versions:
        changes["store_versions"] = versions
    return changes


def _describe(status: str, writes: list[Write], source: str, by_prefer: bool, prefer: str | None, discovered: bool, age: str, adopted: list[str]) -> list[str]:
    """The plan's first words: what it writes where, or why the inventory changes."""
    where = ", ".join(w.store for w in writes if w.reason not in ("metadata", "rekey"))
    reasons = {w.reason for w in writes}
    if by_prefer:
        return [f"conflict settled by --prefer {prefer}: write {where or 'nothing'}"]
    if where:
        why = "newest value" if "older" in reasons or "missing" in reasons else "value"
        return [f"write to {where} ({source} holds the {why}, {age})"]
    if discovered:
        return [f"add to the inventory (its stores hold the newest value, {age})"]
    if status == "update" and not adopted:
        return ["the inventory catches up with the stores"]
    return []


EDITABLE = ("purpose", "scope", "repository", "rotate_every", "expires_at")  # edit.META_FIELDS


def _adopt_edit(state: TokenState, changes: dict[str, Any], warn: Callable[[str], None]) -> tuple[list[str], str | None]:
    """`tokens edit` on another machine: the newest edited_at among the metadata that
    describes the current values wins over this inventory's. Returns the changed
    fields and the store they came from."""
    record = state.record
    best: tuple[datetime, str, dict] | None = None
    for store, seen in state.seen.items():
        if seen.state != "present" or not seen.vouched or not seen.metadata or not seen.metadata.get("edited_at"):
            continue
        fields = read_fields(state.name, seen.metadata, warn, where=store)
        edited = fields.get("edited_at")
        if edited is None or (record.edited_at is not None and edited <= record.edited_at):
            continue
        if best is None or edited > best[0]:
            best = (edited, store, fields)
    if best is None:
        return [], None
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
    return adopted, store
