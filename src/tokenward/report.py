"""The inventory as people read it: status, age, due date. Reads no store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from tokenward.inventory import TokenRecord
from tokenward.policy import Period, due_at, parse_period, status, to_iso


@dataclass(frozen=True)
class TokenView:
    record: TokenRecord
    status: str
    due_at: datetime | None

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
        }


def view(record: TokenRecord, now: datetime, warn_before: Period) -> TokenView:
    due = due_at(record.rotated_at, record.rotate_every)
    return TokenView(
        record=record,
        status=status(
            now=now,
            rotated_at=record.rotated_at,
            rotate_every=record.rotate_every,
            expires_at=record.expires_at,
            warn_before=warn_before,
            due=due,
        ),
        due_at=due,
    )


def views(records: list[TokenRecord], now: datetime, warn_before: Period) -> list[TokenView]:
    return [view(r, now, warn_before) for r in records]


def next_deadline(v: TokenView) -> datetime | None:
    """The earlier of the rotation due date and the hard expiry."""
    dates = [d for d in (v.due_at, v.record.expires_at) if d is not None]
    return min(dates) if dates else None


class Summary(NamedTuple):
    """What `list` and `remind` print of a token; built straight from inventory rows."""

    name: str
    kind: str
    purpose: str
    stores: tuple[str, ...]
    rotated_at: datetime
    due_at: datetime | None
    expires_at: datetime | None
    status: str

    @property
    def deadline(self) -> datetime | None:
        if self.due_at is None:
            return self.expires_at
        if self.expires_at is None:
            return self.due_at
        return min(self.due_at, self.expires_at)


def summarize(rows: list[tuple], now: datetime, warn_before: Period) -> list[Summary]:
    """Status of every row without building full records (10,000 tokens in a few ms)."""
    from tokenward.inventory import _stores

    parse_iso = datetime.fromisoformat
    soon = warn_before.after(now)
    out = []
    append = out.append
    for name, kind, purpose, rotated_text, every, expires_text, stores in rows:
        rotated = parse_iso(rotated_text)
        expires = parse_iso(expires_text) if expires_text else None
        due = parse_period(every).after(rotated) if every else None
        if expires is not None and expires <= now:
            state = "expired"
        elif due is not None and due <= now:
            state = "overdue"
        elif (due is not None and due <= soon) or (expires is not None and expires <= soon):
            state = "due-soon"
        else:
            state = "ok"
        append(Summary(name, kind, purpose, _stores(stores), rotated, due, expires, state))
    return out
