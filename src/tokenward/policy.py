"""Durations, dates and token status. Pure functions: `now` is always passed in."""

from __future__ import annotations

import re
from enum import StrEnum
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from tokenward.errors import UsageError

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta



class Status(StrEnum):
    """A token's status, worst first. Members are plain strings ("due-soon" == Status.DUE_SOON),
    so they read, print and serialize as before."""

    REVOKED = "revoked"
    INVALID = "invalid"
    EXPIRED = "expired"
    OVERDUE = "overdue"
    DUE_SOON = "due-soon"
    OK = "ok"

    @property
    def words(self) -> str:
        """For prose: "due soon"."""
        return self.value.replace("-", " ")


STATUSES = tuple(s.value for s in Status)  # worst first
# The registry said so (`tokens verify`); no date to count from.
AT_REGISTRY = (Status.REVOKED, Status.INVALID)
# The value no longer works: reported like expired tokens (remind exits 1).
DEAD = (*AT_REGISTRY, Status.EXPIRED)
# Something to do now (remind exits 1; desktop notifications are urgent).
NEEDS_ACTION = (*DEAD, Status.OVERDUE)
# Everything a reminder lists, worst first.
REMINDED = (*NEEDS_ACTION, Status.DUE_SOON)
# ok 0 ... revoked 5: higher is worse.
SEVERITY: dict[str, int] = {s.value: len(Status) - 1 - i for i, s in enumerate(Status)}

_DURATION = re.compile(r"^\s*(\d{1,64})\s*([a-z]+)\s*$", re.IGNORECASE)  # too many digits: "at most 100 years"
_UNIT_WORDS = {"d": "days", "w": "weeks", "mo": "months", "y": "years"}
_LIMITS = {"d": 36600, "w": 5220, "mo": 1200, "y": 100}  # a century at most
# The latest and earliest moments date arithmetic gives: a deadline beyond the calendar
# is "never" for every purpose here, and must not stop a report (OverflowError).
MAX_MOMENT = datetime.max.replace(tzinfo=timezone.utc)
MIN_MOMENT = datetime.min.replace(tzinfo=timezone.utc)
PERIOD_FORMS = "a number and a unit: d (days), w (weeks), mo (months), y (years), e.g. 90d, 12w, 6mo, 1y"


class Period:
    """A calendar-aware period such as 90d, 12w, 6mo or 1y. Immutable; equal periods
    hash alike (lru_cache keys). A plain class: see plain.py."""

    __slots__ = ("amount", "unit", "_delta")

    def __init__(self, amount: int, unit: str) -> None:
        self.amount = amount
        self.unit = unit  # one of d, w, mo, y
        self._delta: relativedelta | timedelta | None = None

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Period:
            return NotImplemented
        return (self.amount, self.unit) == (other.amount, other.unit)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.amount, self.unit))

    def __repr__(self) -> str:
        return f"Period(amount={self.amount!r}, unit={self.unit!r})"

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def delta(self) -> "relativedelta | timedelta":
        if self._delta is None:
            # Days and weeks are exact; months and years follow the calendar (Jan 31 + 1mo = Feb 28).
            if self.unit in ("d", "w"):
                self._delta = timedelta(**{_UNIT_WORDS[self.unit]: self.amount})
            else:
                from dateutil.relativedelta import relativedelta  # ~2 ms: only for month/year periods

                self._delta = relativedelta(**{_UNIT_WORDS[self.unit]: self.amount})
        return self._delta

    def after(self, moment: datetime) -> datetime:
        """`moment` plus the period, clamped to MAX_MOMENT (never OverflowError)."""
        try:
            return moment + self.delta
        except (OverflowError, ValueError):  # timedelta: OverflowError; relativedelta: ValueError
            return MAX_MOMENT

    def before(self, moment: datetime) -> datetime:
        """`moment` minus the period, clamped to MIN_MOMENT."""
        try:
            return moment - self.delta
        except (OverflowError, ValueError):
            return MIN_MOMENT


@lru_cache(maxsize=256)
def parse_period(text: str, *, what: str = "period") -> Period:
    """Parse `90d`, `12w`, `6mo`, `1y`. Zero is refused, and so is `m`: months or minutes?"""
    match = _DURATION.match(text if isinstance(text, str) else "")
    if not match:
        raise UsageError(f"invalid {what} {text!r}: use {PERIOD_FORMS}")
    digits, unit = match.group(1).lstrip("0") or "0", match.group(2).lower()
    amount = int(digits) if len(digits) <= 9 else 10**9  # beyond every limit: the number itself is not needed
    if unit == "m":
        raise UsageError(f"invalid {what} {text!r}: 'm' could mean months or minutes; write {amount}mo for months")
    if unit not in _UNIT_WORDS:
        raise UsageError(f"invalid {what} {text!r}: unknown unit {unit!r}; use {PERIOD_FORMS}")
    if amount == 0:
        raise UsageError(f"invalid {what} {text!r}: it must be longer than zero")
    if amount > _LIMITS[unit]:
        raise UsageError(f"invalid {what} {text!r}: at most 100 years")
    return Period(amount, unit)


@lru_cache(maxsize=256)
def stored_period(text: str) -> Period:
    """A period read back from the inventory or a store's metadata. Earlier versions
    recorded `6m` for six months; it keeps that meaning there (never on input)."""
    match = _DURATION.match(text or "")
    if match and match.group(2).lower() == "m":
        return parse_period(f"{match.group(1)}mo")
    return parse_period(text)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


# ISO 8601 in its extended form: a date, or a date and time with an optional UTC offset.
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_RELATIVE = re.compile(r"([+-])\s*(\d{1,4})\s*([a-z]+)", re.IGNORECASE)
_DAY_WORDS = {"today": 0, "yesterday": -1, "tomorrow": 1}
DATE_FORMS = (
    "an ISO 8601 date or date-time (2026-01-31, 2026-01-31T09:30, 2026-01-31T09:30:00+02:00), "
    "now, today, yesterday, tomorrow, or a period from now (+30d, -6mo)"
)


def parse_date(text: str, *, what: str = "date", now: datetime | None = None) -> datetime:
    """An unambiguous date: ISO 8601 (naive is UTC), `now`, `today` (00:00 UTC),
    `yesterday`, `tomorrow`, or `+PERIOD` / `-PERIOD` from now. `01/02/2025`, `2025`
    and `5` are refused: they would be guesses."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"invalid {what}: empty; use {DATE_FORMS}")
    raw = text.strip()
    word = raw.lower()
    now = now or utcnow()
    if word == "now":
        return now.astimezone(timezone.utc).replace(microsecond=0)
    if word in _DAY_WORDS:
        midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + timedelta(days=_DAY_WORDS[word])
    relative = _RELATIVE.fullmatch(raw)
    if relative:
        sign, amount, unit = relative.groups()
        try:
            period = parse_period(f"{amount}{unit}")
        except UsageError as exc:
            reason = str(exc).split(": ", 1)[1]  # amount and unit are alphanumeric: one ": "
            raise UsageError(f"invalid {what} {text!r}: {reason}") from None
        moment = period.after(now) if sign == "+" else period.before(now)
        return moment.astimezone(timezone.utc).replace(microsecond=0)
    if not _ISO_DATE.fullmatch(raw):
        raise UsageError(f"invalid {what} {text!r}: use {DATE_FORMS}")
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: no such day or time (e.g. 2026-01-31 or 2026-01-31T09:30)") from None
    if not 1900 <= moment.year <= 9998:
        raise UsageError(f"invalid {what} {text!r}: the year must be between 1900 and 9998")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def to_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


def from_iso(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def stored_moment(text: object, *, what: str = "date") -> datetime | None:
    """A date read from a store's metadata or another machine: ISO 8601 (naive or
    date-only is UTC), in UTC, with the year between 1900 and 9998 like local input.
    None for empty; ValueError (naming `what`, never echoing the text) otherwise."""
    if text is None or text == "":
        return None
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError(f"{what} is not a date")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:
        moment = MAX_MOMENT if moment.year > 1900 else MIN_MOMENT
    if not 1900 <= moment.year <= 9998:
        raise ValueError(f"{what} is out of range (the year must be between 1900 and 9998)")
    return moment


def due_at(rotated_at: datetime, rotate_every: str | None) -> datetime | None:
    if not rotate_every:
        return None
    return stored_period(rotate_every).after(rotated_at)


def status(
    *,
    now: datetime,
    rotated_at: datetime,
    rotate_every: str | None,
    expires_at: datetime | None,
    warn_before: Period,
    due: datetime | None = None,
    verify_result: str | None = None,
    registry_expires_at: datetime | None = None,
) -> str:
    """revoked > invalid > expired > overdue > due-soon > ok. `due` may be passed when
    already computed. The registry's facts (`verify_result`, `registry_expires_at`) must be
    about the current value: pass them through `registry_state` first."""
    if verify_result in DEAD:
        return Status(verify_result)
    expires_at = earliest(expires_at, registry_expires_at)
    if expires_at is not None and expires_at <= now:
        return Status.EXPIRED
    if due is None:
        due = due_at(rotated_at, rotate_every)
    return status_at(now, _soon(now, warn_before), due, expires_at)


def status_at(now: datetime, soon: datetime, due: datetime | None, expires_at: datetime | None, verify_result: str | None = None) -> str:
    """`status` once its inputs are known: `soon` is now + warn_before, `expires_at` already the
    earlier of expires_at and the registry's expiry. The per-row test of `list` and `remind`."""
    if verify_result in DEAD:
        return Status(verify_result)
    if expires_at is not None and expires_at <= now:
        return Status.EXPIRED
    if due is not None and due <= now:
        return Status.OVERDUE
    if (due is not None and due <= soon) or (expires_at is not None and expires_at <= soon):
        return Status.DUE_SOON
    return Status.OK


def registry_state(
    rotated_at: datetime, verified_at: datetime | None, verify_result: str | None, registry_expires_at: datetime | None
) -> tuple[str | None, datetime | None]:
    """(verify_result, registry_expires_at) when they describe the current value (verified
    at or after its last rotation), else (None, None)."""
    if verified_at is None or verified_at < rotated_at:
        return None, None
    return verify_result, registry_expires_at


def earliest(*moments: datetime | None) -> datetime | None:
    """The earliest of the given deadlines (None: no deadline)."""
    known = [m for m in moments if m is not None]
    return min(known) if known else None


@lru_cache(maxsize=8)
def _soon(now: datetime, warn_before: Period) -> datetime:
    return warn_before.after(now)


def whole_days(now: datetime, then: datetime) -> int:
    """Whole days between two moments, either way round (what `list`, the report and
    `remind` all show: "in 3d", "3d ago")."""
    return int(abs((then - now).total_seconds()) // 86400)


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
        text = f"{int(seconds // 86400)}d"  # whole_days(now, then), from the seconds at hand
    return f"in {text}" if future else f"{text} ago"


def age_text(now: datetime, since: datetime) -> str:
    days = int((now - since).total_seconds() // 86400)
    return f"{days}d"
