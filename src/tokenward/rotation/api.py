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
- the answer to the creation lost (kill -9 mid request, Ctrl-C, the deadline): npm's token
  list shows the token created in the journal's window under a key we do not know, and it
  is revoked by that key; GitLab: the old value no longer live means it rotated;
- before anything is created, every shared store must hold the version this machine last
  saw (a stale machine is refused, as `tokens rotate` refuses it);
- a journal always ends: when nothing can finish it from here (the old value is nowhere
  and the new one is lost), one `Error:` line says what to do at the registry by hand, and
  the journal is closed;
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
    RegistryUnreachable,
    SecretNotFound,
    StoreError,
    TokenNotFound,
    TokenwardError,
    UsageError,
)
from tokenward.inventory import TokenRecord
from tokenward.policy import parse_period, to_iso, utcnow
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
        now = app.inventory.get(name)
        if (now.fingerprint, now.rotated_at) != (record.fingerprint, record.rotated_at):
            from tokenward.locks import LockBusy

            raise LockBusy(
                f"another `tokens` rotated {name} while this one waited for it; nothing changed "
                f"(`tokens rotate {name} --api` again makes another new value)"
            )
        return _start(app, ui, now, otp, unattended, client)


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
    check_shared_versions(app, record, registry.label)  # a stale machine: refused before any registry call
    password = _password(app, ui, record, unattended) if registry.needs_password else None
    old_value, _from, warnings = lifecycle.get_value(app, name)
    for warning in warnings:
        ui.warn(warning)
    if fingerprint(old_value) != record.fingerprint:
        raise UsageError(f"no store holds {name}'s recorded value; run `tokens sync {name}` first; nothing changed")
    prepared = registry.prepare(old_value)  # npm: the old token's key, or a refusal; nothing created yet
    expires_on = _expiry(app, record) if record.kind == "gitlab" else None
    entry = Entry(
        # started_at: the real clock, not the run's start (a password prompt may have taken minutes):
        # it opens the window in which a lost creation is looked for in the registry's token list.
        name=name, kind=record.kind, step="creating", started_at=to_iso(utcnow()), old_fingerprint=record.fingerprint,
        prepared=prepared, expires_on=expires_on.isoformat() if expires_on else None,
    )  # fmt: skip
    journal.save(app.data_dir, entry)
    crash_point("rotate-api.creating")
    try:
        created = _create(app.data_dir, registry, ui, old_value, entry, expires_on, password, otp, unattended)
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
    problems = _check_created(app, ui, record, registry, created, old_value, entry)
    status = _store(app, ui, registry, entry, created, old_value)
    for problem in problems:
        ui.note(f"Error: {problem}")
    return max(status, int(ExitStatus.STORE)) if problems else status


def check_shared_versions(app, record: TokenRecord, label: str) -> None:
    """Before the registry is asked for anything: every shared store (MetadataStore) still
    holds the version of the token this machine last saw, as `tokens rotate` checks before
    it writes. A stale machine would otherwise have the registry rotate a value that was
    rotated elsewhere already (GitLab: that revokes the whole token family, the teammate's
    new value included) and find the conflict only when writing the new value."""
    from tokenward.stores.base import MetadataStore

    for store_name in lifecycle.write_order(app, record.stores):
        store = app.store(store_name)
        if not isinstance(store, MetadataStore):
            continue
        try:
            entry = store.entry(record.name)
        except StoreError as exc:
            raise StoreError(
                store_name,
                f"cannot check that it holds the version of {record.name} this machine last saw ({exc}); "
                f"nothing was created at {label}: `tokens rotate {record.name} --api` again once it answers",
            ) from None
        lifecycle.expected_version(app, record, store_name, entry)  # StoreConflict: "... run `tokens sync` first"


def _check_created(app, ui: Dialog, record: TokenRecord, registry, created: Created, old_value: str, entry: Entry) -> list[str]:
    """A created value is checked like a piped one (rotation/fit.py): a value of another
    recognised kind is an error. (Control characters cannot get this far: created_value
    takes token characters only.) What happens then depends on whether the old value is
    still live:
    - npm (the old token lives until we revoke it): the created token is revoked and never
      stored; the old value stays in use -- exit 3 here, nothing else changed;
    - GitLab (the rotation revoked the old value at once): the new value is the only one
      there is, so it is stored anyway, and each problem (also an `expires_at` in the past or
      unreadable) is one `Error:` line and exit 3 -- throwing it away would leave nothing.
    A missing usual prefix alone is not a problem: the registry itself made the value.
    Returns the problems to tell after the rotation (GitLab)."""
    from tokenward.rotation.fit import check_new_value

    errors = [f"{record.name}: {registry.label} answered with a value that does not fit: {e}" for e in check_new_value(record, created.value, app.now).errors]
    if errors and not registry.revokes_old:
        message = _discard(app, ui, registry, created, old_value, entry)
        raise RegistryUnreachable(
            registry.host, f"{errors[0]}; it was not stored, it was {message}; the old value of {record.name} stays in use"
        )
    problems = errors + [f"{record.name}: {p}" for p in created.problems]
    if problems:
        problems[-1] += (
            f"; the new value is stored anyway ({registry.label} revoked the old one when it rotated, so it is the only "
            f"value there is): check it at {registry.token_page}"
        )
    return problems


def _create(data_dir, registry, ui: Dialog, old_value: str, entry: Entry, expires_on: date | None, password: str | None,
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
    entry.started_at = to_iso(utcnow())  # the second request's window (the prompt may have taken minutes)
    journal.save(data_dir, entry)
    try:
        return registry.create(old_value, entry.prepared, expires_on=expires_on, password=password, otp=code)
    finally:
        code = None


def _settle_creating(app, ui: Dialog, registry, entry: Entry, old_value: str | None, *, in_process: bool = True) -> bool:
    """Creating failed without a clear refusal (a timeout, a 5xx, an interrupt, kill -9): the
    registry may have created a value this machine never saw.
    - GitLab: if the old value is no longer live, it rotated, and rotating the old value again
      revokes the lost one;
    - npm: the token list (read with a live value: the old one, else the stored one) names
      every token with its `created` time: one created in the journal's window (started_at ..
      started_at + the request deadline) whose key is none we know (the old token's, the
      stored value's) is the lost one, and is revoked by its key. Several such tokens: they
      are named, none is revoked (another tool may have made one), the user decides.
    True when settled (the journal is closed); False when the registry could not be asked, or
    (npm, right after the failure) it may still be creating it: the next run asks again."""
    try:
        if entry.kind == "gitlab":
            if old_value is None:
                return _close_by_hand(app, ui, registry, entry, "may have created a new value, and no store holds the old value any more to check it by")
            message = registry.discard_lost(old_value, None)
            if message:
                ui.warn(f"{entry.name}: the registry's answer was lost; {message}")
        elif not _settle_npm(app, ui, registry, entry, old_value, in_process=in_process):
            return False
    except TokenwardError as exc:
        ui.warn(f"{entry.name}: could not check whether the registry created a value ({exc}); the next "
                f"`tokens rotate {entry.name}` or `tokens sync` checks again")  # fmt: skip
        return False
    journal.remove(app.data_dir, entry.name)
    return True


SKEW = timedelta(seconds=5)  # between this machine's clock and the registry's


def _settle_npm(app, ui: Dialog, registry, entry: Entry, old_value: str | None, *, in_process: bool) -> bool:
    from tokenward.policy import from_iso
    from tokenward.registries.http import DEADLINE

    name = entry.name
    started = from_iso(entry.started_at)
    auths = _live_values(app, name, old_value)
    if started is None or not auths:
        _close_by_hand(app, ui, registry, entry, "may have created a token, and no store holds a value of the account any more to look it up with")
        return True
    found: list | None = None
    known = {k for k in (entry.prepared.get("key"), entry.new_key) if isinstance(k, str)}
    for auth in auths:
        try:
            known.add(registry.key_of(auth) or "")
            window = (started - SKEW, started + timedelta(seconds=DEADLINE) + SKEW)
            found = registry.lost_creations(auth, *window, known, readonly=bool(entry.prepared.get("readonly")))
        except RegistryRefused:
            continue  # this value is dead there; the next one
        break
    if found is None:
        _close_by_hand(app, ui, registry, entry, "may have created a token, and no value in the stores is accepted there to look it up with")
        return True
    if not found:
        if in_process:
            ui.warn(f"{name}: the registry's answer to the creation was lost and its token list shows no new token yet; "
                    f"the next `tokens sync` (or `tokens rotate {name}`) looks again and revokes one if it appears")  # fmt: skip
            return False
        return True
    if len(found) > 1:
        listed = ", ".join(f"key {key} (created {created.isoformat()})" for key, created in found)
        journal.remove(app.data_dir, name)
        entry.closed_by_hand = True
        ui.note(f"Error: {name}: the registry's answer to the creation was lost and {len(found)} tokens were created "
                f"meanwhile: {listed}; one may be another tool's, so none was revoked: revoke the one tokenward created "
                f"at {registry.token_page}; this rotation is closed")  # fmt: skip
        return True
    key, created = found[0]
    message = registry.revoke_key(auth, key)
    audit.append(app.data_dir, "revoke-lost", name, registry=registry.label, key=key)
    ui.warn(f"{name}: the registry's answer to the creation was lost; the token it created (key {key}, created "
            f"{created.isoformat()}) was {message}")  # fmt: skip
    return True


def _live_values(app, name: str, old_value: str | None) -> list[str]:
    """Values that may authenticate to the account: the old one, then what the stores hold now."""
    values = [old_value] if old_value else []
    try:
        current = _value_with(app, name, app.inventory.get(name).fingerprint)
    except TokenNotFound:
        current = None
    if current and current not in values:
        values.append(current)
    return values


def _close_by_hand(app, ui: Dialog, registry, entry: Entry, what: str) -> bool:
    """The last word on a rotation that cannot be finished from here: what to do at the
    registry by hand; the journal is closed, so no later run repeats advice that cannot work."""
    journal.remove(app.data_dir, entry.name)
    entry.closed_by_hand = True
    audit.append(app.data_dir, "rotation-closed", entry.name, registry=registry.label, step=entry.step)
    ui.note(f"Error: {entry.name}: the API rotation started {entry.started_at} {what}: at {registry.token_page}, revoke "
            f"any token created then that no store holds; this rotation is closed (`tokens rotate {entry.name}` starts a new one)")  # fmt: skip
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
    # GitLab revoked the old value when it rotated: never tell the user it is "kept".
    dead = f"{registry.label} revoked the old value of {name} when it rotated"
    if app.inventory.journal_pending(name):
        if registry.revokes_old:
            ui.note(f"{dead}: a store that does not hold the new one yet holds a dead token; `tokens sync {name}` writes it there.")
        else:
            ui.note(f"The old value of {name} is revoked once every store holds the new one: `tokens sync {name}` finishes it.")
        return int(ExitStatus.STORE)
    if not entry.at_least("pushed"):
        if not push_targets(app, ui, name, value):
            if registry.revokes_old:
                ui.note(f"{dead}: the CI targets not yet pushed hold a dead token until `tokens push` (or `tokens sync`) pushes the new one.")
            else:
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
            old = f"{registry.label} revoked the old value when it rotated" if registry.revokes_old else "the old value is kept"
            ui.note(f"Error: the new value of {name} is not live at {registry.label} ({why}); {old}: "
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
        # The old value may be nowhere any more (a teammate's rotation synced here): the
        # settling then closes the journal with what to do by hand, never a loop of advice.
        old_value = _value_with(app, name, entry.old_fingerprint)
        if not _settle_creating(app, ui, registry, entry, old_value, in_process=False) or entry.closed_by_hand:
            return int(ExitStatus.STORE)
        ui.note(f"{name} was not rotated; its value is unchanged.")
        return 0
    if entry.step == "created" and not _stored_somewhere(app, name, entry.new_fingerprint):
        return _revoke_lost(app, ui, registry, entry)
    if entry.step == "created":
        entry.step = "stored"
        journal.save(app.data_dir, entry)
    record = app.inventory.get(name)
    if record.fingerprint != entry.new_fingerprint or app.inventory.journal_pending(name):
        _sync_one(app, ui, name)
    value = _value_with(app, name, entry.new_fingerprint)
    if value is None:
        record = app.inventory.get(name)
        if record.fingerprint != entry.new_fingerprint and not app.inventory.journal_pending(name):
            # Rotated again since (here or by a teammate): this rotation's value is replaced.
            old = "" if registry.revokes_old else (
                f" Its old value (the token with key {entry.prepared.get('key')}) may still be live: "
                f"revoke it at {registry.token_page}."
            )
            journal.remove(app.data_dir, name)
            ui.note(f"Error: {name} was rotated again since its API rotation stored a value; that rotation is closed.{old}")
            return int(ExitStatus.STORE)
        raise StoreError("stores", f"no store could be read for {name}'s new value; its rotation is finished by the next `tokens sync`")
    return _finish(app, ui, registry, entry, value)


def _revoke_lost(app, ui: Dialog, registry, entry: Entry) -> int:
    """The created value existed only in a process that died (or no store took it and
    revoking it failed): revoke it by what the journal kept, with the old value (GitLab:
    rotating it again revokes the family; npm: by the new token's key), else (npm) with
    what the stores hold now. When nothing can revoke it -- the old value is nowhere or
    refused -- the journal is closed with what to do at the registry by hand."""
    name = entry.name
    old_value = _value_with(app, name, entry.old_fingerprint)
    auths = [old_value] if old_value else []
    if not registry.revokes_old:
        auths = _live_values(app, name, old_value)
    message = None
    for auth in auths:
        try:
            message = registry.discard_lost(auth, entry.new_key) if auth == old_value else registry.revoke_key(auth, entry.new_key or "")
        except RegistryRefused:
            continue
        break
    if message is None:
        _close_by_hand(app, ui, registry, entry, "created a new value that was lost before any store held it, and no value in the stores can revoke it")
        return int(ExitStatus.STORE)
    journal.remove(app.data_dir, name)
    audit.append(app.data_dir, "revoke-lost", name, registry=registry.label, fingerprint=entry.new_fingerprint)
    old = "the old value stays in use" if not registry.revokes_old else f"create a new token for {name} by hand (`tokens rotate {name}`)"
    ui.note(f"Error: {name}'s new value was lost before any store held it; it was {message}; {old}.")
    return int(ExitStatus.STORE)


# -- helpers -------------------------------------------------------------------------------------


def _password(app, ui: Dialog, record: TokenRecord, unattended: bool) -> str:
    """The npm account password: the inventory token `[rotate.npm] login` names, else a
    hidden prompt on a terminal."""
    login = app.config.rotate.npm_login
    where = app.config.path or "the config"
    if login:
        if login == record.name:
            raise UsageError(f"[rotate.npm] login names {login} itself; it must name the token holding the account password ({where})")
        held = app.inventory.find(login)
        if held is None:
            raise UsageError(
                f"[rotate.npm] login names {login!r}, which is not in the inventory: add the npm account password "
                f"(`tokens add {login} --kind generic`) or fix {where}; nothing changed"
            )
        if held.kind != "generic":  # a registry's token is never sent to npm as a password
            raise UsageError(
                f"[rotate.npm] login names {login}, a {held.kind} token; it must name the npm account password, "
                f"a generic token (`tokens add NAME --kind generic`), in {where}; nothing changed"
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
