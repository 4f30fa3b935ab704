"""Durations, dates and token status. Pure functions: `now` is always passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from tokenward.errors import UsageError

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta

STATUSES = ("expired", "overdue", "due-soon", "ok")

_DURATION = re.compile(r"^\s*(\d{1,4})\s*(d|w|mo|m|y)\s*$", re.IGNORECASE)
_UNIT_WORDS = {"d": "days", "w": "weeks", "mo": "months", "m": "months", "y": "years"}
_LIMITS = {"d": 36600, "w": 5220, "mo": 1200, "y": 100}  # a century at most


@dataclass(frozen=True)
class Period:
    """A calendar-aware period such as 90d, 12w, 6mo or 1y."""

    amount: int
    unit: str  # one of d, w, mo, y

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @cached_property
    def delta(self) -> "relativedelta | timedelta":
        # Days and weeks are exact; months and years follow the calendar (Jan 31 + 1mo = Feb 28).
        if self.unit in ("d", "w"):
            return timedelta(**{_UNIT_WORDS[self.unit]: self.amount})
        from dateutil.relativedelta import relativedelta  # ~2 ms: only for month/year periods

        return relativedelta(**{_UNIT_WORDS[self.unit]: self.amount})

    def after(self, moment: datetime) -> datetime:
        return moment + self.delta

    def before(self, moment: datetime) -> datetime:
        return moment - self.delta


@lru_cache(maxsize=256)
def parse_period(text: str, *, what: str = "period") -> Period:
    """Parse `90d`, `12w`, `6mo` (or `6m`), `1y`. Zero is refused."""
    match = _DURATION.match(text or "")
    if not match:
        raise UsageError(f"invalid {what} {text!r}: use a number and a unit, e.g. 90d, 12w, 6mo, 1y")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if unit == "m":
        unit = "mo"
    if amount == 0:
        raise UsageError(f"invalid {what} {text!r}: it must be longer than zero")
    if amount > _LIMITS[unit]:
        raise UsageError(f"invalid {what} {text!r}: at most 100 years")
    return Period(amount, unit)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def parse_date(text: str, *, what: str = "date") -> datetime:
    """Parse any date dateutil reads; naive dates are taken as UTC."""
    from dateutil import parser  # costs ~15 ms; only commands that take dates need it

    if not text or not text.strip():
        raise UsageError(f"invalid {what}: empty")
    try:
        moment = parser.parse(text)
    except (ValueError, OverflowError, parser.ParserError):
        raise UsageError(f"invalid {what} {text!r}: not a date dateutil can read (try 2026-01-31)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def to_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


def from_iso(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def due_at(rotated_at: datetime, rotate_every: str | None) -> datetime | None:
    if not rotate_every:
        return None
    return parse_period(rotate_every).after(rotated_at)


def status(
    *,
    now: datetime,
    rotated_at: datetime,
    rotate_every: str | None,
    expires_at: datetime | None,
    warn_before: Period,
    due: datetime | None = None,
) -> str:
    """expired > overdue > due-soon > ok. `due` may be passed when already computed."""
    if expires_at is not None and expires_at <= now:
        return "expired"
    if due is None:
        due = due_at(rotated_at, rotate_every)
    if due is not None and due <= now:
        return "overdue"
    soon = _soon(now, warn_before)
    if (due is not None and due <= soon) or (expires_at is not None and expires_at <= soon):
        return "due-soon"
    return "ok"


@lru_cache(maxsize=8)
def _soon(now: datetime, warn_before: Period) -> datetime:
    return warn_before.after(now)


def humanize_delta(now: datetime, then: datetime) -> str:
    """'3d ago' / 'in 5d' style, at day resolution beyond a day."""
    seconds = (then - now).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    if seconds < 3600:
        text = f"{int(seconds // 60)}m"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)}h"
    else:
        text = f"{int(seconds // 86400)}d"
    return f"in {text}" if future else f"{text} ago"


def age_text(now: datetime, since: datetime) -> str:
    days = int((now - since).total_seconds() // 86400)
    return f"{days}d"
