"""The rotation reminder: what is expired, overdue or due soon, from the inventory alone."""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import NamedTuple

from tokenward.inventory import NAME_RE, TokenRecord
from tokenward.policy import AT_REGISTRY, NEEDS_ACTION, REMINDED, Period, Status, stored_moment, stored_period, to_iso
from tokenward.report import Summary, TokenView, next_deadline, summarize, views
from tokenward.sanitize import safe
from tokenward.tokens import TOKEN_PAGE


class Reminder(NamedTuple):
    """(A NamedTuple: `remind` builds thousands of them.)"""

    view: TokenView | Summary  # a Summary is its own .record (name, kind, purpose)
    days: int  # days past (expired/overdue) or left (due-soon)
    action: str

    def as_json(self) -> dict:
        data = self.view.as_json()
        data.update(days=self.days, action=self.action)
        return data


def _action(record: TokenRecord) -> str:
    return f"tokens rotate {record.name}{_where_new(record.kind)}"


def _where_new(kind: str) -> str:
    page = TOKEN_PAGE.get(kind)
    return f" (new token: {page})" if page else ""


def build(records: list[TokenRecord], now: datetime, warn_before: Period) -> dict[str, list[Reminder]]:
    """Reminders from full records (team mode, --json)."""
    return _group(views(records, now, warn_before), now)


def build_fast(rows: list[tuple], now: datetime, warn_before: Period) -> dict[str, list[Reminder]]:
    """Reminders straight from `Inventory.summaries()` rows: no full records built."""
    return _group([s for s in summarize(rows, now, warn_before) if s.status != "ok"], now, by_name=True)


_DAYS = itemgetter(1)  # Reminder.days
_new_reminder = tuple.__new__  # Reminder(view, days, action) without its Python-level __new__: per row


def _group(items, now: datetime, *, by_name: bool = False) -> dict[str, list[Reminder]]:
    """Reminders by status, sorted by days then name (`by_name`: the items are Summaries, their
    own records, in name order as summaries() gives them; the sort is stable, so days alone
    keeps that order)."""
    groups: dict[str, list[Reminder]] = {status: [] for status in REMINDED}
    where_new: dict[str, str] = {}  # kind -> where its new token is made: a few distinct kinds
    expired, overdue = Status.EXPIRED, Status.OVERDUE  # per row below: looked up once
    for v in items:
        status = v.status
        group = groups.get(status)
        if group is None:
            continue
        if status in AT_REGISTRY:
            moment = None  # since the registry said so; `tokens show` has verified_at
        elif status == expired:
            deadline = v.deadline
            moment = deadline if deadline is not None and deadline <= now else None
        elif status == overdue:
            moment = v.due_at
        else:
            moment = next_deadline(v)
        days = int(abs((moment - now).total_seconds()) // 86400) if moment else 0  # whole_days, inline: per row
        record = v if by_name else v.record
        where = where_new.get(record.kind)
        if where is None:
            where = where_new[record.kind] = _where_new(record.kind)
        group.append(_new_reminder(Reminder, (v, days, f"tokens rotate {record.name}{where}")))
    for status, reminders in groups.items():
        if by_name:
            reminders.sort(key=_DAYS, reverse=status != Status.DUE_SOON)  # reverse=True keeps the order of equals
        elif status == Status.DUE_SOON:
            reminders.sort(key=lambda r: (r.days, r.view.record.name))
        else:
            reminders.sort(key=lambda r: (-r.days, r.view.record.name))
    return groups


def needs_action(groups: dict[str, list[Reminder]]) -> bool:
    return any(groups[status] for status in NEEDS_ACTION)


def as_json(groups: dict[str, list[Reminder]], now: datetime) -> dict:
    return {
        "generated_at": to_iso(now),
        "summary": {status: len(items) for status, items in groups.items()},
        "tokens": [r.as_json() for status in REMINDED for r in groups[status]],
    }


def as_text(groups: dict[str, list[Reminder]]) -> str:
    lines: list[str] = []
    titles = {
        "revoked": "Revoked at the registry",
        "invalid": "Refused by the registry",
        "expired": "Expired",
        "overdue": "Overdue for rotation",
        "due-soon": "Due soon",
    }
    for status in REMINDED:
        items = groups[status]
        if not items:
            continue
        lines.append(f"{titles[status]} ({len(items)}):")
        at_registry, due_soon = status in AT_REGISTRY, status == Status.DUE_SOON
        shown = str(status)  # per row below: formatted once
        for view, days, act in items:
            if at_registry:
                when = "(tokens verify)"
            else:
                when = f"in {days}d" if due_soon else f"{days}d ago"
            record = view if view.__class__ is Summary else view.record  # a Summary is its own record
            purpose = record.purpose
            raw = f"  {record.name} ({record.kind}, {shown} {when})"
            if purpose:
                raw = f"{raw} - {purpose}"
            action = f"    -> {act}"
            if not (raw.isascii() and raw.isprintable() and action.isascii() and action.isprintable()):
                # safe() per field, as printed when plain: the fields are metadata (see sanitize.py)
                purpose = f" - {safe(record.purpose)}" if record.purpose else ""
                raw = f"  {safe(record.name)} ({safe(record.kind)}, {status} {when}){purpose}"
                action = f"    -> {safe(act)}"
            lines.append(raw)
            lines.append(action)
    if not lines:
        return "All tokens are within their rotation period."
    return "\n".join(lines)


def audit_note(count: int | None) -> str:
    """The line that points at `tokens audit` (its offline findings), or nothing."""
    if not count:
        return ""
    many = "findings" if count > 1 else "finding"
    return f"\n{count} audit {many} (unused tokens, user-wide tokens used for few projects): see `tokens audit`."


def records_from_entries(entries: dict, store_name: str) -> tuple[list[TokenRecord], list[str]]:
    """Team mode: inventory records rebuilt from a remote store's metadata (see
    `lifecycle.store_metadata`). Entries whose metadata cannot be read are skipped
    with a warning naming them, so one bad secret does not hide the others."""
    from tokenward.registries.base import facts_from_metadata

    records: list[TokenRecord] = []
    warnings: list[str] = []
    for key in sorted(entries):
        entry = entries[key]
        meta = dict(entry.metadata or {})
        name = entry.name or meta.get("name", "")
        try:
            if not NAME_RE.fullmatch(name or ""):
                raise ValueError("not a valid token name")
            rotate_every = meta.get("rotate_every") or None
            if rotate_every:
                stored_period(rotate_every)
            created_at = stored_moment(meta.get("created_at") or meta.get("rotated_at"), what="created_at")
            rotated_at = stored_moment(meta.get("rotated_at"), what="rotated_at") or created_at
            if rotated_at is None:
                raise ValueError("no rotated_at")
            records.append(
                TokenRecord(
                    name=name,
                    kind=meta.get("kind") or "generic",
                    purpose=meta.get("purpose", ""),
                    scope=meta.get("scope", ""),
                    repository=meta.get("repository", ""),
                    created_at=created_at or rotated_at,
                    rotated_at=rotated_at,
                    rotate_every=rotate_every,
                    expires_at=stored_moment(meta.get("expires_at") or None, what="expires_at"),
                    stores=(store_name,),
                    fingerprint=meta.get("fingerprint", ""),
                    **facts_from_metadata(meta),
                )
            )
        except Exception as exc:  # noqa: BLE001 - UsageError, ValueError, TypeError from bad metadata
            reason = str(exc).split(":")[0] if not isinstance(exc, ValueError) else str(exc)
            warnings.append(f"store {store_name!r}: skipping {name or key!r}, its tokenward metadata is unreadable ({reason})")
    return records, warnings
