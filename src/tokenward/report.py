"""The inventory as people read it: status, age, due date. Reads no store."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from tokenward.inventory import TokenRecord
from tokenward.plain import Plain
from tokenward.policy import Period, due_at, earliest, registry_state, status, status_at, stored_period, to_iso


class TokenView(Plain):
    __slots__ = ("record", "status", "due_at")

    def __init__(self, record: TokenRecord, status: str, due_at: datetime | None) -> None:
        self.record = record
        self.status = status
        self.due_at = due_at

    def as_json(self) -> dict:
        r = self.record
        return {
            "name": r.name,
            "kind": r.kind,
            "purpose": r.purpose,
            "scope": r.scope,
            "repository": r.repository,
            "created_at": to_iso(r.created_at),
            "rotated_at": to_iso(r.rotated_at),
            "rotate_every": r.rotate_every,
            "due_at": to_iso(self.due_at),
            "expires_at": to_iso(r.expires_at),
            "status": self.status,
            "stores": list(r.stores),
            "last_used_at": to_iso(r.last_used_at),
            "fingerprint": r.fingerprint,
            "deadline": to_iso(self.deadline),
            "verified_at": to_iso(r.verified_at),
            "verify_result": r.verify_result,
            "registry_expires_at": to_iso(r.registry_expires_at),
            "registry_scopes": None if r.registry_scopes is None else list(r.registry_scopes),
        }

    @property
    def deadline(self) -> datetime | None:
        """The effective deadline: rotation due, expires_at, the registry's expiry."""
        return earliest(self.due_at, self.record.expires_at, self.registry_expires_at)

    @property
    def registry_expires_at(self) -> datetime | None:
        r = self.record
        return registry_state(r.rotated_at, r.verified_at, r.verify_result, r.registry_expires_at)[1]


def view(record: TokenRecord, now: datetime, warn_before: Period) -> TokenView:
    due = due_at(record.rotated_at, record.rotate_every)
    result, registry_expires = registry_state(
        record.rotated_at, record.verified_at, record.verify_result, record.registry_expires_at
    )
    return TokenView(
        record=record,
        status=status(
            now=now,
            rotated_at=record.rotated_at,
            rotate_every=record.rotate_every,
            expires_at=record.expires_at,
            warn_before=warn_before,
            due=due,
            verify_result=result,
            registry_expires_at=registry_expires,
        ),
        due_at=due,
    )


def views(records: list[TokenRecord], now: datetime, warn_before: Period) -> list[TokenView]:
    return [view(r, now, warn_before) for r in records]


def next_deadline(v: TokenView) -> datetime | None:
    return v.deadline


class Summary(NamedTuple):
    """What `list` and `remind` print of a token; built straight from inventory rows."""

    name: str
    kind: str
    purpose: str
    stores: tuple[str, ...]
    rotated_at: datetime
    due_at: datetime | None
    expires_at: datetime | None  # the earlier of expires_at and the registry's expiry
    status: str
    deadline: datetime | None  # the earlier of due_at and expires_at

    @property
    def record(self) -> "Summary":
        """Itself: what a reminder prints of a token's record (name, kind, purpose) it has."""
        return self


def summarize(rows: list[tuple], now: datetime, warn_before: Period) -> list[Summary]:
    """Status of every row without building full records (10,000 tokens in a few ms). A row
    may leave out `stores` (Inventory.summaries(stores=False)): its Summary has ()."""
    from tokenward.inventory import _stores

    parse_iso = datetime.fromisoformat
    soon = warn_before.after(now)
    periods: dict[str, Period] = {}  # rotate_every text -> its period: a few distinct ones
    stores_of: dict[str, tuple[str, ...]] = {}  # the stores column -> its tuple: a few distinct ones
    out = []
    append = out.append
    for row in rows:
        name, kind, purpose, rotated_text, every, expires_text, verified, result, registry_expires = row[:9]
        rotated = parse_iso(rotated_text)
        expires = parse_iso(expires_text) if expires_text else None
        if every:
            period = periods.get(every)
            if period is None:
                period = periods[every] = stored_period(every)
            due = period.after(rotated)
        else:
            due = None
        if verified is not None:
            result, registry_expires = registry_state(
                rotated, parse_iso(verified), result, parse_iso(registry_expires) if registry_expires else None
            )
            expires = earliest(expires, registry_expires)
            state = status_at(now, soon, due, expires, result)
        else:
            state = status_at(now, soon, due, expires)
        if len(row) > 9:
            text = row[9]
            stores = stores_of.get(text)
            if stores is None:
                stores = stores_of[text] = _stores(text)
        else:
            stores = ()
        if due is None:
            deadline = expires
        else:  # earliest(due, expires), spelled out: per row
            deadline = due if expires is None or due <= expires else expires
        append(Summary(name, kind, purpose, stores, rotated, due, expires, state, deadline))
    return out
