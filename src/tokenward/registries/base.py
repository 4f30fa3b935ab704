"""The registry interface, and the table that opens a token's registry by its kind.

A registry issued a token and is the only one that knows whether it is still live.
Every registry has a kind, a label, a token page and an API base (from the token's
`repository`, else the kind's default). What a registry can do beyond that is a
separate protocol, the way stores/ does it: `Verifier` (is this value live?),
`Revoker` (revoke the value used), `LeakReporter` (GitHub: revoke a leaked value),
`Creator` (a new value by API: GitLab's self-rotate, npm's token create; `rotate --api`).

Whatever a registry answers is hostile input: `clean_text` and `parse_time` turn it into
short printable text and plausible dates (EARLIEST..LATEST), or nothing; `read_date` also
says why a date was ignored; `scrub` drops any field that echoes the token's value.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable
from urllib.parse import urlsplit

from tokenward.errors import RegistryUnreachable
from tokenward.registries.facts import KindFacts, env_of  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from tokenward.inventory import TokenRecord
    from tokenward.registries.http import HttpClient, Reply

RESULTS = ("live", "invalid", "revoked", "expired", "unknown", "unreachable")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Verdict:
    """What a registry says about one value."""

    result: str  # one of RESULTS
    owner: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] | None = None
    last_used_at: datetime | None = None
    reason: str = ""  # why, when not plainly live (shown in text output, never a value)
    key: str | None = None  # the registry's id of the token (npm), not a secret
    notes: tuple[str, ...] = ()  # what was ignored in the answer, and why (never a value)


@runtime_checkable
class Registry(Protocol):
    kind: str
    label: str  # "GitHub", "npm registry.npmjs.org", ...
    base: str  # API base URL
    token_page: str


@runtime_checkable
class Verifier(Protocol):
    needs_value: bool  # False: answers from the record alone (no store read)

    def verify(self, value: str | None) -> Verdict:
        """Ask the registry; raises RegistryUnreachable, never returns for a failed request."""


@runtime_checkable
class Revoker(Protocol):
    def revoke(self, value: str) -> str:
        """Revoke this value at the registry; returns what was done. RegistryRefused when
        the registry already rejects the value, RegistryUnreachable when it cannot be asked."""


@runtime_checkable
class LeakReporter(Protocol):
    def report_leak(self, value: str) -> str:
        """Hand a leaked value to the registry's revocation service."""


@dataclass(frozen=True)
class Created:
    """A value a registry created. `key` (npm) is the registry's id of the new token, not a
    secret: the journal keeps it so a value lost in a crash can still be revoked."""

    value: str = field(repr=False)
    key: str | None = None
    expires_at: datetime | None = None
    # What is wrong with the answer beside the value (GitLab: an `expires_at` in the past or
    # unreadable): told to the user; never a reason to throw a value away that replaced a dead one.
    problems: tuple[str, ...] = ()


@runtime_checkable
class Creator(Protocol):
    """A registry that creates a token's new value (`tokens rotate --api`)."""

    needs_password: bool  # npm: the account password authorises the creation
    revokes_old: bool  # GitLab: creating the new value revokes the old one at once

    def prepare(self, old_value: str) -> dict[str, Any]:
        """What creating and revoking later need to know about the old token (npm: its key
        and settings) -- ids and flags only, kept in the journal. RegistryError when the
        token cannot be rotated this way; nothing is created."""

    def create(self, old_value: str, prepared: dict[str, Any], *, expires_on: date | None,
               password: str | None, otp: str | None) -> Created:  # fmt: skip
        """The new value. OtpRequired when the registry asks for a one-time password;
        RegistryRefused for a wrong password or a token not allowed to do it."""

    def revoke_old(self, new_value: str, prepared: dict[str, Any]) -> str:
        """Revoke the old value once the new one is live (npm: by its key)."""

    def discard(self, created: Created, old_value: str | None) -> str:
        """Revoke a created value that no store accepted (the value is at hand)."""

    def discard_lost(self, old_value: str, key: str | None) -> str:
        """Revoke a created value whose value was lost (a crash before any store had it):
        npm by its key; GitLab by rotating the old, already rotated value again, which
        revokes the whole family. "" when nothing had been created."""


# An explicit registry: kind -> "module:Class", imported only when used.
REGISTRY: dict[str, str] = {
    "pypi": "tokenward.registries.pypi:PyPI",
    "testpypi": "tokenward.registries.pypi:PyPI",
    "github": "tokenward.registries.github:GitHub",
    "gitlab": "tokenward.registries.gitlab:GitLab",
    "npm": "tokenward.registries.npm:Npm",
    "crates": "tokenward.registries.crates:Crates",
    "dockerhub": "tokenward.registries.dockerhub:DockerHub",
}


class NoRegistry:
    """A kind without a known registry API (aws, slack, generic)."""

    needs_value = False

    def __init__(self, record: "TokenRecord", client: "HttpClient", now: datetime) -> None:
        self.kind = record.kind
        self.label = record.kind
        self.base = ""
        from tokenward.registries.kinds import TOKEN_PAGE

        self.token_page = TOKEN_PAGE.get(record.kind, "")

    def verify(self, value: str | None) -> Verdict:
        return Verdict("unknown", reason=f"no registry API is known for {self.kind} tokens")


def open_registry(record: "TokenRecord", client: "HttpClient", now: datetime) -> Registry:
    """The registry of this token; raises RegistryUnreachable for a repository that is no URL."""
    spec = REGISTRY.get(record.kind)
    if spec is None:
        return NoRegistry(record, client, now)
    module_name, _, class_name = spec.partition(":")
    scoped = client.for_token() if hasattr(client, "for_token") else client  # its own budget of waits
    return getattr(importlib.import_module(module_name), class_name)(record, scoped, now)


# -- helpers for the registry modules --------------------------------------------------


def root_of(repository: str, default: str) -> str:
    """scheme://host[:port] of the repository (no user info, no path), else the default."""
    url = (repository or "").strip() or default
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in ("https", "http") or not parts.hostname or port == -1:
        raise RegistryUnreachable(url[:100], "the repository is not an http(s) URL; fix it with --repository")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def user_of(repository: str) -> str | None:
    """The user name in https://USER@host/ (an account name, never a password)."""
    parts = urlsplit(repository or "")
    return parts.username or None


def clean_text(value: Any, limit: int = 200) -> str | None:
    """Printable, one line, at most `limit` characters; None for what is not a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = _CONTROL.sub("?", str(value)).strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text or None


def clean_list(values: Any, limit: int = 50) -> tuple[str, ...] | None:
    if not isinstance(values, list):
        return None
    out = [t for t in (clean_text(v, 100) for v in values[:limit]) if t]
    return tuple(out)


# Dates a registry may plausibly name; anything else (year 1, year 9999) is treated as absent.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 / YYYY-MM-DD / GitHub's `2026-03-01 12:00:00 UTC`, as UTC; None if
    unreadable or outside EARLIEST..LATEST."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        moment = moment.astimezone(timezone.utc).replace(microsecond=0)
    except (OverflowError, ValueError):
        return None
    return moment if EARLIEST <= moment < LATEST else None


def read_date(value: Any, what: str) -> tuple[datetime | None, tuple[str, ...]]:
    """A registry's date and, when one was given but cannot be used, a note saying so."""
    if value is None or value == "":
        return None, ()
    moment = parse_time(value)
    if moment is not None:
        return moment, ()
    return None, (
        f"ignored {what}: not a plausible date (readable, between {EARLIEST.year} and {LATEST.year})",
    )


_NOT_ALNUM = re.compile(r"[^0-9a-z]")
ECHO = 8  # a registry field sharing this many characters with the value is an echo of it


def echoes(text: Any, value: str | None) -> bool:
    """Whether text holds the value or any ECHO-character piece of it (also with case or
    separators changed: `?`-broken or upper-cased echoes count)."""
    if not isinstance(text, str) or not text or not value:
        return False
    if len(value) < ECHO:
        return value in text
    if any(value[i : i + ECHO] in text for i in range(len(value) - ECHO + 1)):
        return True
    hay, needle = _NOT_ALNUM.sub("", text.lower()), _NOT_ALNUM.sub("", value.lower())
    return len(needle) >= ECHO and any(needle[i : i + ECHO] in hay for i in range(len(needle) - ECHO + 1))


def scrub(verdict: Verdict, value: str | None) -> Verdict:
    """The verdict without any registry-supplied field that echoes the value."""
    if not value:
        return verdict
    from dataclasses import replace

    notes = list(verdict.notes)
    changes: dict[str, Any] = {}
    if echoes(verdict.owner, value):
        changes["owner"] = None
        notes.append("the registry echoed the token's value as its owner; not shown or kept")
    if verdict.scopes and any(echoes(s, value) for s in verdict.scopes):
        changes["scopes"] = tuple(s for s in verdict.scopes if not echoes(s, value))
        notes.append("the registry echoed the token's value in its scopes; dropped")
    if echoes(verdict.key, value):
        changes["key"] = None
    if echoes(verdict.reason, value):
        changes["reason"] = "the registry's answer echoed the token's value; not shown"
    kept = [n for n in notes if not echoes(n, value)]
    if changes or len(kept) != len(verdict.notes):
        changes["notes"] = tuple(kept)
        return replace(verdict, **changes)
    return verdict


def scrub_text(text: str, value: str | None) -> str:
    return "(an answer that echoed the token's value; not shown)" if echoes(text, value) else text


def rejected(record: "TokenRecord", now: datetime, reason: str) -> Verdict:
    """A 401: `expired` when a known expiry has passed, else `invalid` (GitHub and GitLab
    give one answer for invalid, expired and revoked)."""
    known = [m for m in (record.expires_at, getattr(record, "registry_expires_at", None)) if m is not None]
    if known and min(known) <= now:
        return Verdict("expired", reason=reason, expires_at=min(known))
    return Verdict("invalid", reason=reason)


def unexpected(reply: "Reply", host: str) -> RegistryUnreachable:
    return RegistryUnreachable(host, f"unexpected HTTP {reply.status}")


def facts_from_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """TokenRecord fields from a metadata store's verify keys (see lifecycle.store_metadata),
    each checked: a teammate's store is input like any other."""
    import json

    verified_at = parse_time(meta.get("verified_at"))
    result = meta.get("verify_result")
    if verified_at is None or result not in RESULTS or result == "unreachable":
        return {}
    scopes = None
    try:
        scopes = clean_list(json.loads(meta.get("registry_scopes") or "null"))
    except ValueError:
        pass
    # No registry_key: the id by which a token is revoked is re-derived from the registry
    # by the machine holding the value, never taken from a teammate's metadata.
    return {
        "verified_at": verified_at,
        "verify_result": result,
        "registry_expires_at": parse_time(meta.get("registry_expires_at")),
        "registry_scopes": scopes,
    }


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/=:-]{8,1024}")


def created_value(data: dict, field_name: str, host: str, old_value: str) -> str:
    """The new token a registry answered with: printable token characters only, 8..1024 of
    them, not the old value. Anything else is no usable answer (the error never holds it)."""
    value = data.get(field_name)
    if not isinstance(value, str) or not _TOKEN_CHARS.fullmatch(value):
        raise RegistryUnreachable(host, f"the answer holds no usable `{field_name}` (a token of 8 to 1024 printable characters)")
    if value == old_value:
        raise RegistryUnreachable(host, "the answer's new token is the old one")
    return value
