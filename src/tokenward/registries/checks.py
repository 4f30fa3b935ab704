"""`tokens verify` and `tokens revoke` as plain functions over an App.

verify: each value is read once, in this thread, through lifecycle.get_value (stores may
not be thread-safe); the registry requests run in a bounded pool while the next values
are read. What a registry says is kept in the inventory only for a token whose value did
not change meanwhile, and never for an unreachable registry; then it is carried to the
token's metadata stores, so a teammate's `sync --discover` sees it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from tokenward import audit
from tokenward.app import App
from tokenward.errors import RegistryError, RegistryRefused, RegistryUnreachable, StoreError, TokenwardError
from tokenward.inventory import TokenRecord, check_name
from tokenward.lifecycle import get_value, store_metadata
from tokenward.policy import to_iso
from tokenward.registries.base import LeakReporter, Revoker, Verdict, Verifier, open_registry, scrub, scrub_text
from tokenward.registries.http import HttpClient, host_of
from tokenward.tokens import fingerprint

DEFAULT_JOBS = 16
FAILING = ("invalid", "revoked", "expired")


@dataclass
class Check:
    record: TokenRecord
    verdict: Verdict
    checked_at: datetime
    registry: str = ""
    saved: bool = False

    def as_json(self) -> dict:
        v = self.verdict
        return {
            "name": self.record.name,
            "result": v.result,
            "owner": v.owner,
            "expires_at": to_iso(v.expires_at),
            "scopes": None if v.scopes is None else list(v.scopes),
            "last_used_at": to_iso(v.last_used_at),
            "checked_at": to_iso(self.checked_at),
        }


@dataclass
class VerifyRun:
    checks: list[Check]
    warnings: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def exit_status(self) -> int:
        results = {c.verdict.result for c in self.checks}
        if "unreachable" in results:
            return 3
        return 1 if results & set(FAILING) else 0


def _ask(registry, value: str | None, now: datetime) -> Verdict:
    """The registry's verdict, with nothing in it that echoes the value, and one rule for
    every registry: a live token whose registry expiry has passed is `expired`."""
    try:
        verdict = registry.verify(value)
    except RegistryError as exc:
        verdict = Verdict("unreachable", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - a registry's answer must never crash the run
        verdict = Verdict("unreachable", reason=f"{getattr(registry, 'label', 'registry')}: unreadable answer ({type(exc).__name__})")
    verdict = scrub(verdict, value)
    if verdict.result == "live" and verdict.expires_at is not None and verdict.expires_at <= now:
        from dataclasses import replace

        verdict = replace(verdict, result="expired", reason=f"the registry's expiry {verdict.expires_at.date()} has passed")
    return verdict


def _done(verdict: Verdict) -> Future:
    future: Future = Future()
    future.set_result(verdict)
    return future


def verify_tokens(app: App, names: list[str] | tuple[str, ...] = (), *, jobs: int = DEFAULT_JOBS, client: HttpClient | None = None) -> VerifyRun:
    if names:
        for name in names:
            check_name(name)
        records = [app.inventory.get(name) for name in dict.fromkeys(names)]
    else:
        records = app.inventory.all()
    own_client = client is None
    client = client or HttpClient(pool=max(jobs, 1))
    run = VerifyRun([])
    pending: list[tuple[TokenRecord, str, str | None, Future]] = []
    try:
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            for record in records:
                try:
                    registry = open_registry(record, client, app.now)
                except RegistryError as exc:
                    pending.append((record, "", None, _done(Verdict("unreachable", reason=str(exc)))))
                    continue
                label = getattr(registry, "label", record.kind)
                if not getattr(registry, "needs_value", True):
                    pending.append((record, label, None, _done(_ask(registry, None, app.now))))
                    continue
                try:
                    value, _store, warnings = get_value(app, record.name)
                except StoreError as exc:
                    pending.append((record, label, None, _done(Verdict("unreachable", reason=str(exc)))))
                    continue
                run.warnings.extend(warnings)
                pending.append((record, label, fingerprint(value), pool.submit(_ask, registry, value, app.now)))
                del value
            for record, label, print_, future in pending:
                run.checks.append(Check(record, future.result(), app.now, label))
                run.warnings.extend(f"{record.name}: {note}" for note in run.checks[-1].verdict.notes)
    finally:
        run.requests = client.requests
        if own_client:
            client.close()
    _save(app, [(check, print_) for check, (_r, _l, print_, _f) in zip(run.checks, pending)])
    return run


def _save(app: App, checks: list[tuple[Check, str | None]]) -> None:
    """Keep what was learnt, in one transaction: never for an unreachable registry (nothing
    was learnt), nor when a store held another value than the inventory records."""
    updates: list[tuple[str, str, dict]] = []
    kept: list[Check] = []
    for check, value_fingerprint in checks:
        v = check.verdict
        record = check.record
        audit.append(app.data_dir, "verify", record.name, result=v.result, registry=check.registry)
        if v.result == "unreachable":
            continue
        if value_fingerprint is not None and value_fingerprint != record.fingerprint:
            continue
        changes = dict(
            verified_at=check.checked_at,
            verify_result=v.result,
            registry_expires_at=v.expires_at,
            registry_scopes=v.scopes,
        )
        if v.key is not None:
            changes["registry_key"] = v.key
        updates.append((record.name, record.fingerprint, changes))
        kept.append(check)
    if not updates:
        return
    for check, updated in zip(kept, app.inventory.update_many_if_value(updates)):
        if updated is not None:
            check.record = updated
            check.saved = True


def carry_to_stores(app: App, checks: list[Check]) -> list[str]:
    """Write the new metadata to each metadata store of each saved token (no new value
    version). Returns warnings for stores that failed: the next verify or sync retries."""
    from tokenward.stores.base import MetadataWriter

    warnings: list[str] = []
    for check in checks:
        if not check.saved:
            continue
        record = check.record
        for store_name in record.stores:
            try:
                store = app.store(store_name)
                if not isinstance(store, MetadataWriter):
                    continue
                version = record.store_versions.get(store_name)
                if version is None:
                    continue  # unknown version: its metadata cannot vouch for the value
                store.put_metadata(record.name, store_metadata(record), version)
            except StoreError as exc:
                warnings.append(f"{record.name}: the verify result was not carried to {store_name} ({exc})")
    return warnings


# -- revoke ---------------------------------------------------------------------------


@dataclass
class RevokePlan:
    record: TokenRecord
    registry: object
    by_api: bool  # the registry revokes it (else the guided steps)
    how: str  # what will be done, for the confirmation
    where: str = ""  # guided: "at PAGE" or "where it was issued (HOST)", as `tokens audit` says it


def _revoke_place(app: App, record: TokenRecord, registry: object) -> str:
    """Where the user revokes it: the token page of the token's own index/registry, else
    `where it was issued (HOST)` (the wording of `tokens audit`'s retire step): never
    pypi.org's page for a token of another index."""
    from urllib.parse import urlsplit

    from tokenward.obsolete import PYPI_KINDS, WHERE_ISSUED, retire_step

    if record.kind in PYPI_KINDS:
        step = retire_step(record.name, record.kind, record.repository, app.config.trusted_publishing.index)
        return step.replace(WHERE_ISSUED, "where it was issued", 1) if step.startswith(WHERE_ISSUED) else f"at {step}"
    page = getattr(registry, "token_page", "")
    if page:
        return f"at {page}"
    host = urlsplit(record.repository).hostname if record.repository else None
    return f"where it was issued ({host_of(record.repository)[:100]})" if host else "where it was issued"


def plan_revoke(app: App, name: str, *, leaked: bool = False, client: HttpClient | None = None) -> RevokePlan:
    record = app.inventory.get(name)
    registry = open_registry(record, client or HttpClient(), app.now)
    label = getattr(registry, "label", record.kind)
    if isinstance(registry, Revoker):
        return RevokePlan(record, registry, True, f"revoke the current value of {name} at {label}")
    if leaked and isinstance(registry, LeakReporter):
        return RevokePlan(record, registry, True, f"report the value of {name} as leaked to {label}, which revokes it")
    where = _revoke_place(app, record, registry)
    return RevokePlan(record, registry, False, f"revoke {name} yourself {where}", where)


def guided_steps(plan: RevokePlan) -> list[str]:
    registry = plan.registry
    label = getattr(registry, "label", plan.record.kind)
    where = plan.where or f"at {registry.token_page or label}"
    page = where[3:] if where.startswith("at ") else f"the site {where}"
    why = {
        "pypi": "PyPI has no API to revoke a token",
        "testpypi": "TestPyPI has no API to revoke a token",
        "github": "GitHub has no API to revoke your own token (only leaked values: --leaked)",
        "dockerhub": "Docker Hub has no API to revoke a token",
    }.get(plan.record.kind, f"no revoke API is known for {plan.record.kind} tokens")
    return [
        f"{why}. To revoke {plan.record.name}:",
        f"  1. open {page}",
        f"  2. find the token (created {plan.record.created_at.date().isoformat()}, purpose: {plan.record.purpose or '-'}) and delete it",
        "  3. confirm here; tokenward then records it as revoked",
    ]


def revoke_token(app: App, plan: RevokePlan) -> tuple[str, list[str]]:
    """Revoke by API (or record the guided revocation); mark the token revoked.
    Returns (what happened, warnings)."""
    record = plan.record
    warnings: list[str] = []
    if plan.by_api:
        value, _store, read_warnings = get_value(app, record.name)
        warnings.extend(read_warnings)
        try:
            if isinstance(plan.registry, Revoker):
                message = plan.registry.revoke(value)
            else:
                message = plan.registry.report_leak(value)
        except RegistryRefused as exc:
            message = f"{exc.reason}; recorded as revoked"
        except RegistryError as exc:
            raise _scrubbed(exc, value) from None
        message = scrub_text(message, value)
        del value
    else:
        message = f"recorded as revoked {plan.where or 'at ' + (plan.registry.token_page or record.kind)}"
    updated = app.inventory.update(record.name, verified_at=max(app.now, record.rotated_at), verify_result="revoked")
    audit.append(app.data_dir, "revoke", record.name, by_api=plan.by_api, fingerprint=record.fingerprint)
    check = Check(updated, Verdict("revoked"), app.now, saved=True)
    warnings.extend(carry_to_stores(app, [check]))
    return message, warnings


__all__ = [
    "Check",
    "RegistryUnreachable",
    "TokenwardError",
    "VerifyRun",
    "carry_to_stores",
    "guided_steps",
    "plan_revoke",
    "revoke_token",
    "verify_tokens",
]


def _scrubbed(exc: RegistryError, value: str) -> RegistryError:
    """The same error, its registry-supplied text dropped if it echoes the value."""
    if scrub_text(exc.reason, value) == exc.reason and scrub_text(exc.registry, value) == exc.registry:
        return exc
    return type(exc)(scrub_text(exc.registry, value), scrub_text(exc.reason, value))


def can_revoke_by_api(record: TokenRecord, now: datetime) -> bool:
    """Whether the registry revokes this kind of token by API (a leaked GitHub value counts)."""
    try:
        registry = open_registry(record, HttpClient(), now)
    except RegistryError:
        return False
    return isinstance(registry, (Revoker, LeakReporter))


def revoke_old_value(app: App, record: TokenRecord, value: str) -> str:
    """Revoke a value the token no longer holds (`rotate --leaked`): the record is not
    marked revoked, its new value is live. Raises RegistryError."""
    registry = open_registry(record, HttpClient(), app.now)
    try:
        if isinstance(registry, Revoker):
            message = registry.revoke(value)
        elif isinstance(registry, LeakReporter):
            message = registry.report_leak(value)
        else:
            raise RegistryError(record.kind, "no revoke API")
    except RegistryRefused as exc:
        message = f"{exc.reason} (nothing left to revoke)"
    except RegistryError as exc:
        raise _scrubbed(exc, value) from None
    message = scrub_text(message, value)
    audit.append(app.data_dir, "revoke-old", record.name, registry=getattr(registry, "label", record.kind))
    return message
