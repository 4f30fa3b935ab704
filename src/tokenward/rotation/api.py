"""`tokens rotate NAME --api`: the registry creates the new value (GitLab: self-rotate; npm:
a new token with the old one's settings, authorised by the account password).

The order is AWS Secrets Manager's: create -> write to every store -> push to every
target -> verify the new value is live -> revoke the old value (npm; GitLab revokes it when
it rotates). `rotate_by_api` runs it; `resume` finishes one that was interrupted.

Journalled (api_journal.py) so a crash at any step converges, with no created value left
unrevoked or unstored:
- the created value is written to a store before anything else; if no store accepts it,
  it is revoked at the registry and the old value stays in use (exit 3);
- killed after the registry created it but before any store held it, the value is lost:
  the journal's `key` revokes it (npm), or rotating the old value again revokes the whole
  family (GitLab);
- killed later, the next `tokens rotate NAME` or `tokens sync` carries the new value to
  every store, pushes it to every target, verifies it, and revokes the old one.
The old value is revoked only once every store and target holds the new one and the
registry says it is live. A step that fails stops there (exit 3) and is retried next time.

Neither value, nor the npm password or one-time password, is ever printed, logged or
journalled.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from typing import Iterator

from tokenward import audit, lifecycle
from tokenward.config import API_KINDS
from tokenward.errors import (
    ExitStatus,
    LocalDataError,
    OtpRequired,
    RegistryError,
    RegistryRefused,
    SecretNotFound,
    StoreError,
    TokenNotFound,
    TokenwardError,
    UsageError,
)
from tokenward.inventory import TokenRecord
from tokenward.policy import parse_period, to_iso
from tokenward.registries.base import Created, Creator, open_registry, scrub_text
from tokenward.registries.http import HttpClient
from tokenward.rotation import api_journal as journal
from tokenward.rotation.api_journal import Entry
from tokenward.rotation.workflows import Dialog, push_targets, tell_outcome
from tokenward.testhooks import crash_point
from tokenward.tokens import fingerprint

GUIDED_WHY = {
    "pypi": "PyPI has no API to create tokens",
    "testpypi": "TestPyPI has no API to create tokens",
    "github": "GitHub has no API to create a personal access token",
    "crates": "crates.io has no API to create a token with a token",
    "dockerhub": "Docker Hub has no API to create a token",
}


def check_kind(record: TokenRecord) -> None:
    """Exit 2, before anything is read, for a kind whose registry creates no values."""
    if record.kind not in API_KINDS:
        why = GUIDED_WHY.get(record.kind, f"no API is known that creates {record.kind} tokens")
        raise UsageError(
            f"--api: {why} ({', '.join(API_KINDS)} only); rotate {record.name} the guided way: `tokens rotate {record.name}`"
        )


@contextmanager
def _locked(app, name: str) -> Iterator[None]:
    """One API rotation (or its resumption) of a token at a time, across processes."""
    from tokenward.locks import file_lock
    from tokenward.paths import ensure_private_dir

    directory = ensure_private_dir(app.data_dir / journal.DIRECTORY)
    with file_lock(directory / f".{name}.lock", timeout=60, busy=f"another `tokens` is rotating {name}"):
        yield


def pending(app) -> list[str]:
    return journal.pending(app.data_dir)


def rotate_by_api(app, ui: Dialog, name: str, *, otp: str | None = None, unattended: bool = False,
                  client: HttpClient | None = None) -> int:  # fmt: skip
    """Rotate NAME by its registry's API; an interrupted earlier one is finished instead."""
    record = app.inventory.get(name)
    check_kind(record)
    client = client or HttpClient()
    with _locked(app, name):
        entry, warning = journal.load(app.data_dir, name)
        if warning:
            ui.warn(warning)
        if entry is not None:
            return _resume(app, ui, entry, client)
        return _start(app, ui, record, otp, unattended, client)


def resume(app, ui: Dialog, name: str, client: HttpClient | None = None) -> int | None:
    """Finish the interrupted API rotation of NAME, if there is one (None when there is
    none): what `tokens rotate NAME` and `tokens sync` do first."""
    if name not in journal.pending(app.data_dir):
        return None
    with _locked(app, name):
        entry, warning = journal.load(app.data_dir, name)
        if warning:
            ui.warn(warning)
        if entry is None:
            return None
        return _resume(app, ui, entry, client or HttpClient())


# -- the steps ---------------------------------------------------------------------------------


def _start(app, ui: Dialog, record: TokenRecord, otp: str | None, unattended: bool, client: HttpClient) -> int:
    name = record.name
    registry = open_registry(record, client, app.now)
    if not isinstance(registry, Creator):
        check_kind(record)
    from tokenward.targets.push import check_names, targets_of

    check_names(app, targets_of(app, name))  # a target naming an unknown token: exit 2 before anything
    password = _password(app, ui, record, unattended) if registry.needs_password else None
    old_value, _from, warnings = lifecycle.get_value(app, name)
    for warning in warnings:
        ui.warn(warning)
    if fingerprint(old_value) != record.fingerprint:
        raise UsageError(f"no store holds {name}'s recorded value; run `tokens sync {name}` first; nothing changed")
    prepared = registry.prepare(old_value)  # npm: the old token's key, or a refusal; nothing created yet
    expires_on = _expiry(app, record) if record.kind == "gitlab" else None
    entry = Entry(
        name=name, kind=record.kind, step="creating", started_at=to_iso(app.now), old_fingerprint=record.fingerprint,
        prepared=prepared, expires_on=expires_on.isoformat() if expires_on else None,
    )  # fmt: skip
    journal.save(app.data_dir, entry)
    crash_point("rotate-api.creating")
    try:
        created = _create(registry, ui, old_value, entry, expires_on, password, otp, unattended)
    except (RegistryRefused, UsageError):
        journal.remove(app.data_dir, name)  # refused (a wrong password, no OTP): nothing was created
        raise
    except BaseException:
        _settle_creating(app, ui, registry, entry, old_value)
        raise
    entry.step = "created"
    entry.new_fingerprint = fingerprint(created.value)
    entry.new_key = created.key
    try:
        journal.save(app.data_dir, entry)
    except LocalDataError:
        _discard(app, ui, registry, created, old_value, entry)
        raise
    crash_point("rotate-api.created")
    ui.note(f"Created a new value for {name} at {registry.label}.")
    return _store(app, ui, registry, entry, created, old_value)


def _create(registry, ui: Dialog, old_value: str, entry: Entry, expires_on: date | None, password: str | None,
            otp: str | None, unattended: bool) -> Created:  # fmt: skip
    try:
        return registry.create(old_value, entry.prepared, expires_on=expires_on, password=password, otp=otp)
    except OtpRequired:
        if otp:
            raise
        if unattended or not ui.interactive:
            raise UsageError(
                f"{registry.label} asks for a one-time password (2FA) to create a token: "
                f"run `tokens rotate {entry.name} --api --otp CODE`; nothing was created"
            ) from None
    code = ui.read_secret("One-time password (2FA) from your authenticator")
    try:
        return registry.create(old_value, entry.prepared, expires_on=expires_on, password=password, otp=code)
    finally:
        code = None


def _settle_creating(app, ui: Dialog, registry, entry: Entry, old_value: str) -> bool:
    """Creating failed without a clear refusal (a timeout, a 5xx, an interrupt): the registry
    may have created a value this machine never saw. GitLab: if the old value is no longer
    live, it rotated, and rotating the old value again revokes the lost one. npm: without the
    answer there is no key to revoke by; say where to look. True when settled (the journal
    is closed); False when the registry could not be asked (the next run asks again)."""
    try:
        if entry.kind == "gitlab":
            message = registry.discard_lost(old_value, None)
            if message:
                ui.warn(f"{entry.name}: the registry's answer was lost; {message}")
        else:
            ui.warn(
                f"{entry.name}: the registry's answer to the creation was lost; if it created a token anyway, it "
                f"is in the registry's token list (created at {entry.started_at} or later): revoke it there"
            )
    except TokenwardError as exc:
        ui.warn(f"{entry.name}: could not check whether the registry created a value ({exc}); the next "
                f"`tokens rotate {entry.name}` or `tokens sync` checks again")  # fmt: skip
        return False
    journal.remove(app.data_dir, entry.name)
    return True


def _store(app, ui: Dialog, registry, entry: Entry, created: Created, old_value: str | None) -> int:
    name = entry.name
    try:
        outcome = lifecycle.rotate_token(app, name, created.value)
    except TokenwardError as exc:
        if _stored_somewhere(app, name, entry.new_fingerprint):
            raise  # interrupted after a store took it: the journal says "created"; resume finishes it
        message = _discard(app, ui, registry, created, old_value, entry)
        old = (
            "the old value stays in use"
            if not registry.revokes_old
            else f"{registry.label} revoked the old value when it rotated: create a new token by hand (`tokens rotate {name}`)"
        )
        raise StoreError(getattr(exc, "store", "stores"), f"no store took the new value of {name} ({exc}); it was {message}; {old}") from None
    entry.step = "stored"
    journal.save(app.data_dir, entry)
    crash_point("rotate-api.stored")
    if created.expires_at is not None:
        app.inventory.update(name, expires_at=created.expires_at)
    status = tell_outcome(ui, name, outcome, f"Rotated {name} in {', '.join(outcome.written)}.")
    return max(status, _finish(app, ui, registry, entry, created.value))


def _finish(app, ui: Dialog, registry, entry: Entry, value: str) -> int:
    """Targets, verify, revoke the old value: each step journalled, each retried next time."""
    name = entry.name
    if app.inventory.journal_pending(name):
        ui.note(f"The old value of {name} is revoked once every store holds the new one: `tokens sync {name}` finishes it.")
        return int(ExitStatus.STORE)
    if not entry.at_least("pushed"):
        if not push_targets(app, ui, name, value):
            ui.note(f"The old value of {name} is kept until every target holds the new one: then `tokens sync` revokes it.")
            return int(ExitStatus.STORE)
        entry.step = "pushed"
        journal.save(app.data_dir, entry)
    if not entry.at_least("verified"):
        from tokenward.registries.checks import verify_tokens

        run = verify_tokens(app, [name])
        verdict = run.checks[0].verdict if run.checks else None
        if verdict is None or verdict.result != "live" or run.checks[0].record.fingerprint != entry.new_fingerprint:
            why = verdict.reason or verdict.result if verdict else "not checked"
            ui.note(f"Error: the new value of {name} is not live at {registry.label} ({why}); the old value is kept: "
                    f"`tokens rotate {name}` checks again")  # fmt: skip
            return int(ExitStatus.STORE)
        ui.note(f"The new value of {name} is live at {registry.label}.")
        entry.step = "verified"
        journal.save(app.data_dir, entry)
        crash_point("rotate-api.verified")
    if registry.revokes_old:
        message = registry.revoke_old(value, entry.prepared)
    else:
        try:
            message = scrub_text(registry.revoke_old(value, entry.prepared), value)
        except RegistryError as exc:
            ui.note(f"Error: the old value of {name} was not revoked: {scrub_text(str(exc), value)}; "
                    f"`tokens rotate {name}` tries again")  # fmt: skip
            return int(ExitStatus.STORE)
        audit.append(app.data_dir, "revoke-old", name, registry=registry.label, fingerprint=entry.old_fingerprint)
    journal.remove(app.data_dir, name)
    ui.note(f"The old value of {name}: {message}.")
    return 0


def _resume(app, ui: Dialog, entry: Entry, client: HttpClient) -> int:
    name = entry.name
    ui.note(f"Finishing the interrupted API rotation of {name} (it had reached: {entry.step}).")
    try:
        record = app.inventory.get(name)
    except TokenNotFound:
        journal.remove(app.data_dir, name)
        ui.warn(f"{name} is no longer in the inventory; its API rotation is dropped (revoke any value left at its registry)")
        return int(ExitStatus.STORE)
    registry = open_registry(record, client, app.now)
    if not isinstance(registry, Creator) or record.kind != entry.kind:
        journal.remove(app.data_dir, name)
        ui.warn(f"{name} is no longer a {entry.kind} token; its API rotation is dropped")
        return int(ExitStatus.STORE)
    if entry.step == "creating":
        old_value = _value_with(app, name, entry.old_fingerprint)
        if old_value is None:
            raise StoreError("stores", f"no store holds the old value of {name} to settle its API rotation; `tokens sync {name}` first")
        if not _settle_creating(app, ui, registry, entry, old_value):
            return int(ExitStatus.STORE)
        ui.note(f"{name} was not rotated; its value is unchanged.")
        return 0
    if entry.step == "created" and not _stored_somewhere(app, name, entry.new_fingerprint):
        # The value existed only in the killed process: revoke it by what the journal kept.
        old_value = _value_with(app, name, entry.old_fingerprint)
        if old_value is None:
            raise StoreError("stores", f"no store holds the old value of {name} to revoke the lost new one; `tokens sync {name}` first")
        message = registry.discard_lost(old_value, entry.new_key)
        journal.remove(app.data_dir, name)
        audit.append(app.data_dir, "revoke-lost", name, registry=registry.label, fingerprint=entry.new_fingerprint)
        old = "the old value stays in use" if not registry.revokes_old else f"create a new token for {name} by hand (`tokens rotate {name}`)"
        ui.note(f"Error: {name}'s new value was lost before any store held it; it was {message}; {old}.")
        return int(ExitStatus.STORE)
    if entry.step == "created":
        entry.step = "stored"
        journal.save(app.data_dir, entry)
    record = app.inventory.get(name)
    if record.fingerprint != entry.new_fingerprint or app.inventory.journal_pending(name):
        _sync_one(app, ui, name)
    value = _value_with(app, name, entry.new_fingerprint)
    if value is None:
        raise StoreError("stores", f"no store could be read for {name}'s new value; its rotation is finished by the next `tokens sync`")
    return _finish(app, ui, registry, entry, value)


# -- helpers -------------------------------------------------------------------------------------


def _password(app, ui: Dialog, record: TokenRecord, unattended: bool) -> str:
    """The npm account password: the inventory token `[rotate.npm] login` names, else a
    hidden prompt on a terminal."""
    login = app.config.rotate.npm_login
    where = app.config.path or "the config"
    if login:
        if login == record.name:
            raise UsageError(f"[rotate.npm] login names {login} itself; it must name the token holding the account password ({where})")
        if app.inventory.find(login) is None:
            raise UsageError(
                f"[rotate.npm] login names {login!r}, which is not in the inventory: add the npm account password "
                f"(`tokens add {login} --kind generic`) or fix {where}; nothing changed"
            )
        return lifecycle.get_value(app, login)[0]
    if unattended or not ui.interactive:
        raise UsageError(
            f"npm needs the account password to create a token: set [rotate.npm] login = \"TOKEN\" in {where} "
            "(an inventory token holding it), or run on a terminal to be asked; nothing changed"
        )
    return ui.read_secret(f"Password of the npm account of {record.name}")


def _expiry(app, record: TokenRecord) -> date:
    """Today + the token's rotation period, at most what GitLab allows (365 days)."""
    period = parse_period(record.rotate_every or app.config.rotate_every)
    today = app.now.date()
    wanted = period.after(app.now).date()
    return min(max(wanted, today + timedelta(days=1)), today + timedelta(days=365))


def _discard(app, ui: Dialog, registry, created: Created, old_value: str | None, entry: Entry) -> str:
    """Revoke a created value no store took; the journal is closed once it is revoked."""
    try:
        message = registry.discard(created, old_value)
    except RegistryError as exc:
        ui.warn(f"the new value of {entry.name} could not be revoked ({scrub_text(str(exc), created.value)}); "
                f"the next `tokens rotate {entry.name}` tries again")  # fmt: skip
        return "not revoked yet"
    journal.remove(app.data_dir, entry.name)
    audit.append(app.data_dir, "revoke-unstored", entry.name, registry=registry.label, fingerprint=entry.new_fingerprint)
    return message


def _value_with(app, name: str, wanted: str) -> str | None:
    """The value of NAME whose fingerprint is `wanted`, from the first store holding it."""
    record = app.inventory.get(name)
    for store_name in record.stores:
        try:
            value = app.store(store_name).get(name)
        except (SecretNotFound, StoreError):
            continue
        if fingerprint(value) == wanted:
            return value
    return None


def _stored_somewhere(app, name: str, wanted: str) -> bool:
    try:
        if app.inventory.get(name).fingerprint == wanted:
            return True
    except TokenNotFound:
        return False
    return _value_with(app, name, wanted) is not None


def _sync_one(app, ui: Dialog, name: str) -> None:
    """Carry the new value to every store of NAME (the rotation was killed mid-write)."""
    from tokenward.sync import Sync

    report = Sync(app, [name]).run()
    for plan in report.plans:
        for store, error in plan.write_errors.items():
            ui.note(f"Error: {name}: not written to {store}: {error}")
