"""The inventory as people read it: status, age, due date. Reads no store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenward.inventory import TokenRecord
from tokenward.policy import Period, due_at, status, to_iso


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
    return TokenView(
        record=record,
        status=status(
            now=now,
            rotated_at=record.rotated_at,
            rotate_every=record.rotate_every,
            expires_at=record.expires_at,
            warn_before=warn_before,
        ),
        due_at=due_at(record.rotated_at, record.rotate_every),
    )


def views(records: list[TokenRecord], now: datetime, warn_before: Period) -> list[TokenView]:
    return [view(r, now, warn_before) for r in records]


def next_deadline(v: TokenView) -> datetime | None:
    """The earlier of the rotation due date and the hard expiry."""
    dates = [d for d in (v.due_at, v.record.expires_at) if d is not None]
    return min(dates) if dates else None
