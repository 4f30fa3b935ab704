"""Which token a publish command gets: a pure function of the inventory and the target.

Candidates are the tokens for the target's repository whose scope covers every project
it uploads. The narrowest wins: a token scoped to fewer projects beats one scoped to
more, and any project-scoped token beats a user-wide one. No candidate, or two equally
narrow ones, is an error that lists every token considered and why it was rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenward.errors import UsageError
from tokenward.policy import DEAD, registry_state
from tokenward.inventory import TokenRecord
from tokenward.publishers import TOOLS, Target, normalize_url
from tokenward.registries.kinds import DEFAULT_REPOSITORY
from tokenward.tokens import parse_scope

WIDE = 1 << 30  # the width of a user-wide (or unscoped) token


class NoTokenFits(UsageError):
    """No token, or more than one equally narrow token, fits the command."""


@dataclass(frozen=True)
class Considered:
    name: str
    reason: str  # why it was rejected; "" for a candidate


@dataclass(frozen=True)
class Choice:
    record: TokenRecord
    considered: tuple[Considered, ...]


def record_repository(record: TokenRecord) -> str:
    return record.repository or DEFAULT_REPOSITORY.get(record.kind, "")


def scope_of(record: TokenRecord) -> tuple[str, tuple[str, ...]]:
    """("user", ()), ("project", names), ("project-id", ids) or ("", ()) for no recorded scope."""
    scope = (record.scope or "").strip()
    if scope.startswith("project-id:"):
        return "project-id", tuple(i for i in scope[11:].split(",") if i)
    kind, names = parse_scope(scope)
    if kind == "project" and record.kind in ("npm", "crates", "github", "gitlab"):
        # Not PyPI names: npm scopes (@a/b), crate names and OWNER/REPO keep their spelling, case-folded.
        names = tuple(sorted({n.strip().lower() for n in scope[8:].split(",") if n.strip()}))
    return kind, names


def fit(record: TokenRecord, target: Target, now: datetime) -> tuple[int, str]:
    """(width, "") when the token fits the target, else (0, reason)."""
    if record.expires_at is not None and record.expires_at <= now:
        return 0, f"expired {record.expires_at.date().isoformat()}"
    said, registry_expires = registry_state(record.rotated_at, record.verified_at, record.verify_result, record.registry_expires_at)
    if said in DEAD:
        return 0, f"{said} at its registry (tokens verify)"
    if registry_expires is not None and registry_expires <= now:
        return 0, f"expired {registry_expires.date().isoformat()} at its registry"
    repository = record_repository(record)
    if not repository:
        return 0, "no repository recorded (add it with --repository URL)"
    if normalize_url(repository) != normalize_url(target.repository or ""):
        return 0, f"for {repository}"
    kind, names = scope_of(record)
    wanted = {p.lower() for p in target.projects}
    if kind == "project":
        if not wanted:
            why = target.problem or "the projects are unknown"
            return 0, f"scoped to {', '.join(names)}, and the projects uploaded are not known ({why})"
        missing = sorted(wanted - set(names))
        if missing:
            return 0, f"scoped to {', '.join(names)}, not {', '.join(missing)}"
        return len(names), ""
    if kind == "project-id":
        return 0, "scoped by project id only, so which projects it covers is unknown (use --token, or record --scope project:NAME)"
    if kind == "none":
        return 0, "its caveats allow no project at all: it covers nothing"
    if kind == "" and (record.scope or "").strip():
        return 0, f"its scope {record.scope!r} is not one tokens exec reads (user, project:NAME)"
    return WIDE, ""


def describe_target(target: Target) -> str:
    text = f"`{target.command}` to {target.repository}"
    if target.projects:
        text += f" for {', '.join(target.projects)}"
    return text


def choose(records: list[TokenRecord], target: Target, now: datetime) -> Choice:
    """The one narrowest token that fits, or NoTokenFits naming every token considered."""
    if not target.tool:
        raise NoTokenFits(
            "tokens exec cannot tell which token this command needs (it recognises "
            f"{', '.join(TOOLS)}); name one with --token NAME"
        )
    if not target.publishes:
        raise NoTokenFits(
            f"`{target.command}` is not a command that uploads, so tokens exec cannot pick a token for it; "
            "name one with --token NAME"
        )
    if not target.repository:
        raise NoTokenFits(
            f"cannot tell for certain where `{target.command}` would send the token: {target.problem}; "
            "name the token to use with --token NAME"
        )
    considered: list[Considered] = []
    fitting: list[tuple[int, TokenRecord]] = []
    for record in sorted(records, key=lambda r: r.name):
        width, reason = fit(record, target, now)
        considered.append(Considered(record.name, reason))
        if not reason:
            fitting.append((width, record))
    if not fitting:
        if not records:
            detail = "the inventory is empty"
        else:
            detail = "considered " + "; ".join(f"{c.name} ({c.reason})" for c in considered)
        raise NoTokenFits(
            f"no token fits {describe_target(target)}: {detail}. Add one with `tokens add NAME --repository URL "
            "--scope project:NAME`, or name one with --token NAME"
        )
    fitting.sort(key=lambda pair: pair[0])
    best = fitting[0][0]
    tied = [r.name for w, r in fitting if w == best]
    if len(tied) > 1:
        how = "user-wide" if best == WIDE else f"scoped to {best} project{'s' if best > 1 else ''}"
        raise NoTokenFits(
            f"{len(tied)} tokens fit {describe_target(target)} equally ({how}): {', '.join(tied)}; "
            "name one with --token NAME, or narrow their --scope"
        )
    chosen = fitting[0][1]
    return Choice(chosen, tuple(considered))
