"""Reading tokenward's metadata back from a shared store (Vault, AWS).

A teammate's store is input like a command line: each field is checked with the
same validators as `add` / `edit` (metadata.py, policy.py). A field that fails its
check is left out with one warning naming the token and the field; the other fields
are kept. Nothing here reads a value or writes anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from tokenward.errors import UsageError
from tokenward.metadata import check_purpose, check_repository, check_rotate_every, check_scope
from tokenward.policy import stored_moment
from tokenward.sanitize import safe
from tokenward.tokens import KINDS

DATES = ("created_at", "rotated_at", "expires_at", "edited_at")
# Fields a record needs; their absence is worth a word (a default is used instead).
EXPECTED = ("kind", "created_at", "rotate_every")


def _reason(exc: Exception) -> str:
    text = safe(str(exc))
    return text if len(text) <= 120 else text[:117] + "..."


def read_fields(name: str, meta: dict[str, str], warn: Callable[[str], None], *, where: str = "") -> dict:
    """The valid fields of one store's metadata for token `name`, as TokenRecord values:
    kind, purpose, scope, repository, created_at, rotated_at, expires_at, edited_at,
    rotate_every. Invalid or unreadable fields are absent, each with a warning."""
    origin = f" in {where}" if where else ""
    fields: dict = {}

    def bad(field: str, why: str) -> None:
        warn(f"{name}: ignored its {field}{origin} ({why}); the other fields are kept")

    kind = meta.get("kind")
    if kind:
        if kind in KINDS:
            fields["kind"] = kind
        else:
            bad("kind", "not a known kind")
    effective = fields.get("kind", "generic")
    checks: dict[str, Callable[[str], object]] = {
        "purpose": check_purpose,
        "repository": check_repository,
        "scope": lambda text: check_scope(text, effective),
        "rotate_every": check_rotate_every,
    }
    for field, check in checks.items():
        text = meta.get(field)
        if text is None or text == "":
            continue
        try:
            fields[field] = check(text)
        except UsageError as exc:
            bad(field, _reason(exc))
    for field in DATES:
        try:
            moment = stored_moment(meta.get(field), what=field)
        except ValueError as exc:
            bad(field, _reason(exc))
            continue
        if moment is not None:
            fields[field] = moment
    return fields


def missing(name: str, fields: dict, warn: Callable[[str], None], defaults: dict[str, str]) -> None:
    """One warning per expected field a discovered token's metadata did not give."""
    for field in EXPECTED:
        if field not in fields:
            warn(f"{name}: its shared metadata has no readable {field}; using {defaults[field]}")


def newest(moments: list[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None
