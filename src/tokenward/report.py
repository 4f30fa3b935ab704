"""The inventory as people read it: status, age, due date. Reads no store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from tokenward.inventory import TokenRecord
from tokenward.policy import Period, due_at, status, stored_period, to_iso


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


def earliest(due: datetime | None, expires: datetime | None) -> datetime | None:
    """The earlier of the rotation due date and the hard expiry."""
    if due is None or expires is None:
        return expires if due is None else due
    return min(due, expires)


def next_deadline(v: TokenView) -> datetime | None:
    return earliest(v.due_at, v.record.expires_at)


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
        return earliest(self.due_at, self.expires_at)


def summarize(rows: list[tuple], now: datetime, warn_before: Period) -> list[Summary]:
    """Status of every row without building full records (10,000 tokens in a few ms)."""
    from tokenward.inventory import _stores

    parse_iso = datetime.fromisoformat
    out = []
    append = out.append
    for name, kind, purpose, rotated_text, every, expires_text, stores in rows:
        rotated = parse_iso(rotated_text)
        expires = parse_iso(expires_text) if expires_text else None
        due = stored_period(every).after(rotated) if every else None
        state = status(
            now=now, rotated_at=rotated, rotate_every=every, expires_at=expires, warn_before=warn_before, due=due
        )
        append(Summary(name, kind, purpose, _stores(stores), rotated, due, expires, state))
    return out
