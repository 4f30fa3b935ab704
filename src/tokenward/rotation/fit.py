"""Whether a new value fits the token it replaces (same kind and registry, no wider
scope), and the words the guided rotation uses: where the token is used, the scope to
give the new one, the step that revokes the old one. Values are compared by their facts
and fingerprints only; no message holds a value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tokenward import audit
from tokenward.inventory import TokenRecord
from tokenward.policy import humanize_delta
from tokenward.registries.kinds import revoke_where
from tokenward.sanitize import safe
from tokenward.tokens import TOKEN_PAGE, detect_kind, inspect, parse_scope

REGISTRY_NAMES = {"pypi": "PyPI (pypi.org)", "testpypi": "TestPyPI (test.pypi.org)"}


@dataclass
class Fit:
    """How a new value compares with the token it replaces."""

    errors: list[str] = field(default_factory=list)  # refuse: wrong kind or registry, already expired
    warnings: list[str] = field(default_factory=list)  # ask: wider scope, narrower scope


def check_new_value(record: TokenRecord, value: str, now) -> Fit:
    fit = Fit()
    name = record.name
    if record.kind in ("pypi", "testpypi"):
        if not value.startswith("pypi-"):
            fit.errors.append(f"the new value is not a PyPI token (no 'pypi-' prefix); {name} is a {record.kind} token")
            return fit
        facts = inspect(value)  # raises UsageError for a broken macaroon
        if facts.kind != record.kind:
            fit.errors.append(
                f"the new value is a {REGISTRY_NAMES[facts.kind]} token; {name} is for {REGISTRY_NAMES[record.kind]}"
            )
            return fit
        old_kind, old_projects = parse_scope(record.scope)
        new_kind, new_projects = parse_scope(facts.scope)
        if new_kind == "none":
            fit.errors.append("the new token's caveats allow no project at all: it cannot upload anything")
            return fit
        if old_kind == "project" and new_kind == "user":
            fit.warnings.append(
                f"the new token is user-wide (it can upload to all your projects); the old one was limited to "
                f"{', '.join(old_projects)}"
            )
        elif old_kind == "project" and new_kind == "project":
            extra = sorted(set(new_projects) - set(old_projects))
            missing = sorted(set(old_projects) - set(new_projects))
            if extra:
                fit.warnings.append(f"the new token also covers {', '.join(extra)}, which the old one did not")
            if missing:
                fit.warnings.append(f"the new token does not cover {', '.join(missing)}; uploads of those will fail")
        if facts.expires_at is not None and facts.expires_at <= now:
            fit.errors.append(f"the new token already expired on {facts.expires_at.date().isoformat()}")
        return fit
    detected = detect_kind(value)
    if detected != "generic" and detected != record.kind and record.kind != "generic":
        fit.errors.append(f"the new value looks like a {detected} token; {name} is a {record.kind} token")
    elif detected == "generic" and record.kind not in ("generic",) and _has_prefix(record.kind):
        fit.warnings.append(f"the new value does not look like a {record.kind} token (its usual prefix is missing)")
    return fit


def _has_prefix(kind: str) -> bool:
    from tokenward.tokens import PREFIXES

    return any(k == kind for _, k in PREFIXES)


def scope_advice(record: TokenRecord) -> str:
    kind, projects = parse_scope(record.scope)
    if record.kind in ("pypi", "testpypi"):
        if kind == "project":
            return f"Give it the same scope: project {', '.join(projects)} (not \"Entire account\")."
        return "The old token was user-wide; a project-scoped token is safer if it publishes one project."
    if record.scope:
        return f"Give it the same scope: {safe(record.scope)}."
    return ""


def usage_lines(app, record: TokenRecord) -> list[str]:
    """Where the token lives and what used it, from the config and the audit log."""
    lines = []
    if record.purpose:
        lines.append(f"Purpose:   {safe(record.purpose)}")
    stores = []
    for store_name in record.stores:
        store = app.config.stores.get(store_name)
        stores.append(f"{store_name} ({store.type})" if store else f"{store_name} (not in the config)")
    lines.append(f"Stored in: {', '.join(stores) or 'no store'}")
    entries = audit.read(app.data_dir, record.name)
    uses = [e for e in entries if e.get("event") == "exec"]
    if record.last_used_at is not None:
        tools = Counter(str(e.get("tool") or e.get("command") or "?") for e in uses)
        by = ", ".join(f"{tool} ({count}x)" for tool, count in tools.most_common(4))
        lines.append(f"Last used: {humanize_delta(app.now, record.last_used_at)}" + (f" by {by}" if by else ""))
        projects = sorted({p for e in uses for p in (e.get("projects") or [])})
        if projects:
            lines.append(f"Published: {', '.join(projects)}")
    else:
        lines.append("Last used: never through `tokens exec`")
    if entries.skipped_note():
        lines.append(f"({entries.skipped_note()})")
    return lines


def revoke_step(record: TokenRecord) -> str:
    created = record.rotated_at.date().isoformat()
    which = "the one created" if record.kind in TOKEN_PAGE else "created"
    return f"revoke the old token {revoke_where(record.kind)} ({which} on or about {created}); it still works until you do"
