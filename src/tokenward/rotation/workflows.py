"""The ways `tokens rotate` gets and writes a new value: piped on stdin, from a
rotate_command, the guided walk-through on a terminal, `--due` (the scheduled job) and
the leak response. The CLI hands in a `Dialog` (its prompts and its printing); every
decision is made here.

Exit statuses follow the rest of tokenward: 0 done, 1 done with findings (another
machine's rotation replaced; overdue tokens left to rotate by hand), 3 a store (or
registry, or CI target) that did not take the new value (`tokens sync NAME` finishes it).
After the stores, every CI target of the token gets the new value (targets/push.py).
"""

from __future__ import annotations

from typing import Protocol

from tokenward import audit, lifecycle
from tokenward.errors import ExitStatus, StoreError, TokenwardError, UsageError
from tokenward.inventory import TokenRecord
from tokenward.lifecycle import Outcome
from tokenward.rotation.command import run_rotate_command
from tokenward.rotation.fit import check_new_value, revoke_step, scope_advice, usage_lines
from tokenward.sanitize import safe


class Dialog(Protocol):
    """What a workflow needs from the person running it (the CLI's terminal)."""

    interactive: bool  # a person can answer prompts (stdin is a terminal)

    def note(self, text: str) -> None:
        """A line of progress on stderr."""

    def warn(self, text: str) -> None:
        """A warning on stderr."""

    def echo(self, text: str) -> None:
        """A line of the result on stdout."""

    def read_value(self, prompt: str) -> str:
        """The new value: a hidden prompt when interactive, else stdin."""

    def read_secret(self, prompt: str) -> str:
        """A hidden prompt on the terminal (a password, a one-time password)."""

    def confirm(self, question: str, default: bool) -> bool:
        """Ask yes/no on the terminal."""

    def open_page(self, url: str) -> bool:
        """Open a page in a browser; False when none could be opened."""


def tell_outcome(ui: Dialog, name: str, outcome: Outcome, headline: str, *, indent: str = "") -> int:
    """The warnings, the headline, and for each store that did not take the value an
    `Error:` line and the step that finishes it. 3 when a store failed, else 0."""
    for warning in outcome.warnings:
        ui.warn(warning)
    ui.note(headline)
    if not outcome.failed:
        return 0
    for message in outcome.failed.values():
        ui.note(f"Error: {message}")
    ui.note(f"{indent}Not yet written to {', '.join(outcome.failed)}: `tokens sync {name}` finishes it.")
    return int(ExitStatus.STORE)


def rotate(app, ui: Dialog, name: str, *, no_command: bool = False, open_page: bool = False, yes: bool = False) -> int:
    """`tokens rotate NAME`: an interrupted rotation by API is finished first; else the new
    value from the rotate_command, else stdin, else guided."""
    from tokenward.rotation import api_journal

    record = app.inventory.get(name)  # unknown names fail before a value is asked for
    if name in api_journal.pending(app.data_dir):
        from tokenward.rotation import api  # the registry client: only when there is one to finish

        resumed = api.resume(app, ui, name)
        if resumed is not None:
            ui.note(f"Nothing else was changed: run `tokens rotate {name}` again for a new value.")
            return resumed
    command = None if no_command else app.config.rotate.command_for(name, record.kind)
    if command:
        value = value_from_command(app, ui, record, command)
        return write(app, ui, name, value)
    if not ui.interactive:
        value = ui.read_value(f"New value for {name}")
        check_piped(app, ui, record, value, yes)
        return write(app, ui, name, value)
    return guided(app, ui, record, open_page, yes)


def check_piped(app, ui: Dialog, record: TokenRecord, value: str, yes: bool) -> None:
    """The guided checks without a terminal to ask on: another kind or registry is
    refused; a changed scope (user-wide for a project token) needs --yes."""
    fit = check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"{fit.errors[0]}; nothing changed")
    if fit.warnings and not yes:
        raise UsageError(f"{fit.warnings[0]}; nothing changed (no terminal to ask on: pass --yes to accept it)")
    for warning in fit.warnings:
        ui.warn(warning)


def write(app, ui: Dialog, name: str, value: str) -> int:
    """The plain rotation (and its output) that scripts rely on."""
    outcome = rotate_stores(app, name, value)
    status = tell_outcome(ui, name, outcome, f"Rotated {name} in {', '.join(outcome.written)}.")
    pushed = push_targets(app, ui, name, value)
    if status:
        return status
    ui.note(f"Next: {lifecycle.revoke_hint(outcome.record)}.")
    if not pushed:
        return int(ExitStatus.STORE)
    return int(ExitStatus.FINDINGS) if outcome.overwrote else 0


def rotate_stores(app, name: str, value: str) -> Outcome:
    """The stores' rotation, after the checks of the token's CI targets (a value a target
    would refuse, a target naming an unknown auth token: exit 2 before anything is written)."""
    from tokenward.targets.push import check_value

    check_value(app, name, value)  # no targets: checks nothing
    return lifecycle.rotate_token(app, name, value)


def push_targets(app, ui: Dialog, name: str, value: str, *, indent: str = "") -> bool:
    """After the stores: the new value to every CI target of the token. Each target that
    fails is one `Error:` line, recorded for `tokens push` / `tokens sync`; True when
    none failed (the stores keep the new value either way)."""
    from tokenward.targets.push import push_token

    results = push_token(app, name, value)  # no targets: [], nothing said
    done = [r.target for r in results if r.ok]
    failed = [r.target for r in results if not r.ok]
    if done:
        ui.note(f"{indent}Pushed to CI targets {', '.join(done)}.")
    for result in results:
        if not result.ok:
            ui.note(f"Error: {result.error}")
    if failed:
        ui.note(f"{indent}Not yet pushed to {', '.join(failed)}: `tokens push {' '.join(failed)}` (or `tokens sync`) pushes it.")
    return not failed


def value_from_command(app, ui: Dialog, record: TokenRecord, command) -> str:
    ui.note(f"Getting a new value for {record.name} from its rotate_command ({command[0]}).")
    # The old value is read only if the command wrote to stderr, to mask it there.
    old_values = lambda: [lifecycle.get_value(app, record.name)[0]]  # noqa: E731
    value = run_rotate_command(command, record, app.config.rotate.timeout, old_values)
    fit = check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"rotate_command for {record.name}: {fit.errors[0]}; nothing changed")
    for warning in fit.warnings:
        ui.warn(warning)
    return value


def ask_value(app, ui: Dialog, record: TokenRecord, open_page: bool, yes: bool, step: int) -> str:
    """Steps: the page to create the new token, the hidden prompt, the checks."""
    from tokenward.tokens import TOKEN_PAGE

    page = TOKEN_PAGE.get(record.kind)
    if page:
        ui.note(f"{step}. Create a new {record.kind} token at {page}")
    else:
        ui.note(f"{step}. Create a new {record.kind} token where this one was issued.")
    advice = scope_advice(record)
    if advice:
        ui.note(f"   {advice}")
    if open_page and page and not ui.open_page(page):
        ui.note("   (no browser could be opened here; open the address above yourself)")
    value = ui.read_value(f"{step + 1}. Paste the new token for {record.name}")
    fit = check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"{fit.errors[0]}; nothing changed")
    for warning in fit.warnings:
        ui.warn(warning)
    if fit.warnings and not yes and not ui.confirm("Use this token anyway?", False):
        raise UsageError(f"rotation of {record.name} cancelled; nothing changed")
    return value


def guided(app, ui: Dialog, record: TokenRecord, open_page: bool, yes: bool) -> int:
    from tokenward.report import view

    v = view(record, app.now, app.config.warn_before)
    scope = f", scope {safe(record.scope)}" if record.scope else ""
    since = record.rotated_at.date().isoformat()
    ui.note(f"Rotating {record.name} ({record.kind}{scope}): last rotated {since}, status {v.status}.")
    for line in usage_lines(app, record):
        ui.note(f"   {safe(line)}")
    value = ask_value(app, ui, record, open_page, yes, step=1)
    outcome = rotate_stores(app, record.name, value)
    status = tell_outcome(ui, record.name, outcome, f"3. Written to {', '.join(outcome.written)}.", indent="   ")
    if not push_targets(app, ui, record.name, value, indent="   "):
        status = int(ExitStatus.STORE)
    ui.note(f"4. Now {revoke_step(record)}.")
    return status


def rotate_due(app, ui: Dialog) -> int:
    """Every overdue or expired token that has a rotate_command or whose kind `[rotate] api`
    names (rotated by its registry's API, unattended); the rest listed on stdout with the
    command that rotates each by hand. Interrupted API rotations are finished first."""
    from tokenward.policy import Status
    from tokenward.report import views
    from tokenward.rotation import api
    from tokenward.tokens import TOKEN_PAGE

    failed = False
    for name in api.pending(app):
        try:
            failed |= bool(api.resume(app, ui, name))
        except TokenwardError as exc:
            failed = True
            ui.warn(f"the interrupted API rotation of {name} is not finished: {exc}")
    due = [v for v in views(app.inventory.all(), app.now, app.config.warn_before) if v.status in (Status.EXPIRED, Status.OVERDUE)]
    if not due:
        ui.note("No token is overdue or expired.")
        return int(ExitStatus.STORE) if failed else 0
    rest = []
    for v in due:
        record = v.record
        own = app.config.rotate.by_token.get(record.name)
        if own is None and record.kind in app.config.rotate.api:
            try:
                failed |= bool(api.rotate_by_api(app, ui, record.name, unattended=True))
            except TokenwardError as exc:
                failed = True
                ui.warn(f"{record.name} was not rotated: {exc}")
            continue
        command = app.config.rotate.command_for(record.name, record.kind)
        if command is None:
            rest.append(v)
            continue
        try:
            value = value_from_command(app, ui, record, command)
            outcome = rotate_stores(app, record.name, value)
        except TokenwardError as exc:
            failed = True
            ui.warn(f"{record.name} was not rotated: {exc}")
            continue
        for warning in outcome.warnings:
            ui.warn(warning)
        ui.note(f"Rotated {record.name} in {', '.join(outcome.written)}. Next: {revoke_step(record)}.")
        if not push_targets(app, ui, record.name, value):
            failed = True
        if outcome.failed:
            failed = True
            ui.warn(f"{record.name}: not yet written to {', '.join(outcome.failed)}; run `tokens sync {record.name}`")
    if rest:
        ui.echo(f"Overdue without a rotate_command ({len(rest)}), rotate by hand:")
        for v in rest:
            page = TOKEN_PAGE.get(v.record.kind)
            where = f" (new token: {page})" if page else ""
            api_hint = " (or --api)" if v.record.kind in ("gitlab", "npm") else ""
            ui.echo(f"  {v.record.name} ({v.record.kind}, {v.status}): tokens rotate {v.record.name}{api_hint}{where}")
    if failed:
        return int(ExitStatus.STORE)
    return int(ExitStatus.FINDINGS) if rest else 0


def leak_response(app, ui: Dialog, name: str, *, no_command: bool = False, open_page: bool = False, yes: bool = False) -> int:
    """`rotate --leaked`: every copy of the leaked value, a new value everywhere (the
    copies outside its stores too, where they can be replaced), then the revoke."""
    from tokenward.lifecycle import store_metadata
    from tokenward.registries.kinds import revoke_where
    from tokenward.rotation import leaks

    record = app.inventory.get(name)
    command = None if no_command else app.config.rotate.command_for(name, record.kind)
    ui.note(f"Leak response for {name} ({record.kind}).")
    ui.note("1. Copies of the leaked value:")
    copies = leaks.find_copies(app, record, record.fingerprint)
    for copy in copies:
        ui.note(f"   - {copy.where}")
    if not copies:
        ui.note("   (none found in the configured stores or on this machine)")
    leaked_value = _old_value_to_revoke(app, ui, record)

    if command:
        value = value_from_command(app, ui, record, command)
    elif ui.interactive:
        value = ask_value(app, ui, record, open_page, yes, step=2)
    else:
        value = ui.read_value(f"New value for {name}")
        check_piped(app, ui, record, value, yes)
    outcome = rotate_stores(app, name, value)
    for warning in outcome.warnings:
        ui.warn(warning)
    ui.note(f"Rotated {name} in {', '.join(outcome.written)}.")
    pushed = push_targets(app, ui, name, value)

    for copy in copies:
        if copy.kind == "extra-store":
            try:
                app.store(copy.store).put(name, value, store_metadata(outcome.record))
                ui.note(f"   Replaced the leaked copy in store {copy.store} too.")
            except StoreError as exc:
                ui.warn(f"store {copy.store} still holds the leaked value: {exc}")
        elif copy.kind == "twine-keyring":
            if leaks.replace_twine_keyring(app, record, value):
                ui.note("   Replaced twine's keyring entry too.")
            else:
                ui.warn(f"twine's keyring entry for {record.repository} still holds the leaked value")
        elif copy.kind == "pypirc":
            path = leaks.pypirc_path()
            ui.warn(f"{path} [{copy.section}] still holds the leaked value in plaintext: remove it (`tokens import {path} --scrub`)")
        elif copy.kind == "inventory":
            ui.warn(
                f"token {copy.section} holds the same leaked value and `tokens exec` still uses it: "
                f"rotate it too (`tokens rotate {copy.section}`) or remove it (`tokens remove {copy.section}`)"
            )
        elif copy.kind == "env":
            ui.warn(f"${copy.section} still holds the leaked value in this shell: unset {copy.section}")
    audit.append(app.data_dir, "leak", name, copies=[c.kind for c in copies], stores=outcome.written)

    where = " " + revoke_where(record.kind)
    if leaked_value is None or not _revoke_leaked(app, ui, record, leaked_value, yes):
        ui.note(f"NOW: revoke the leaked token{where}. Until you do, it works for whoever has it.")
    if outcome.failed:
        ui.note(f"Not yet written to {', '.join(outcome.failed)}: `tokens sync {name}` finishes it.")
        return int(ExitStatus.STORE)
    return 0 if pushed else int(ExitStatus.STORE)


def _old_value_to_revoke(app, ui: Dialog, record: TokenRecord):
    """The leaked value, read before it is replaced, when its registry can revoke it by API."""
    from tokenward.registries.checks import can_revoke_by_api

    if not can_revoke_by_api(record, app.now):
        return None
    try:
        return lifecycle.get_value(app, record.name)[0]
    except StoreError as exc:
        ui.warn(f"cannot read the leaked value to revoke it by API ({exc})")
        return None


def _revoke_leaked(app, ui: Dialog, record: TokenRecord, value: str, yes: bool) -> bool:
    """Offer `revoke` of the leaked value at its registry; True when it was revoked."""
    from tokenward.errors import RegistryError
    from tokenward.registries.checks import revoke_old_value

    if not yes:
        if not ui.interactive:
            ui.note("The registry can revoke the leaked value by API: rerun with --yes, or revoke it at its page.")
            return False
        if not ui.confirm("Revoke the leaked value at its registry now?", True):
            return False
    try:
        message = revoke_old_value(app, record, value)
    except RegistryError as exc:
        ui.warn(f"the leaked value was not revoked: {exc}")
        return False
    ui.note(f"The leaked value of {record.name}: {message}.")
    return True
