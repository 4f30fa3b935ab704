"""tokens rotate: piped, guided on a terminal, by rotate_command, --due, --leaked."""

from __future__ import annotations

import sys

import click

from tokenward import lifecycle
from tokenward.cli.common import pass_app
from tokenward.errors import ExitStatus, TokenwardError, UsageError
from tokenward.policy import Status
from tokenward.values import read_value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", required=False)
@click.option("--due", is_flag=True, help="Rotate every overdue or expired token that has a rotate_command; list the rest.")
@click.option("--leaked", is_flag=True, help="Leak response for NAME: list every copy, rotate it everywhere, then the revoke step.")
@click.option("--no-command", is_flag=True, help="Ignore a configured rotate_command: read the value from stdin or a prompt.")
@click.option("--open", "open_page", is_flag=True, help="Open the registry's token page in a browser (guided mode).")
@click.option("--yes", "-y", is_flag=True, help="Accept a new token whose scope differs from the old one's without asking (needed when piped).")
@pass_app
def rotate(app, term, name, due, leaked, no_command, open_page, yes):
    """Replace a token's value in every store it lives in.

    The new value comes from the token's rotate_command (config [rotate]), else
    from stdin when piped, else a guided walk-through on a terminal: where the
    token is used, the registry page to create the new one, a hidden prompt,
    checks (same kind and registry; a wider scope is flagged), then the exact
    step to revoke the old token. Stores that keep versions keep the previous one.

    \b
    Examples:
      echo "$NEW_TOKEN" | tokens rotate pypi-foo
      tokens rotate pypi-foo            # guided, on a terminal
      tokens rotate --due               # every overdue token with a rotate_command
      tokens rotate --leaked pypi-foo   # a leaked token: rotate everywhere, then revoke

    \b
    rotate_command in the config (stdout = the new value; TOKENS_NAME, TOKENS_KIND,
    TOKENS_SCOPE, TOKENS_REPOSITORY, TOKENS_PURPOSE are set; a token's own wins):
      [rotate]
      timeout = 120
      [rotate.kind]
      github = "company-mint-token --github"
      [rotate.token]
      npm-ci = ["op", "read", "op://ci/npm-ci/credential"]
    """
    if due:
        if name or leaked:
            raise UsageError("--due rotates every overdue token: give no NAME and no --leaked")
        return _rotate_due(app, term)
    if not name:
        raise UsageError("missing NAME (or --due)")
    record = app.inventory.get(name)  # unknown names fail before a value is asked for
    command = None if no_command else app.config.rotate.command_for(name, record.kind)
    if leaked:
        return _leaked(app, term, record, command, open_page, yes)
    if command:
        value = _from_command(app, term, record, command)
        return _write(app, term, name, value)
    if not _interactive():
        value = read_value(f"New value for {name}")
        _check_piped(app, term, record, value, yes)
        return _write(app, term, name, value)
    return _guided(app, term, record, open_page, yes)


def _check_piped(app, term, record, value: str, yes: bool) -> None:
    """The guided checks without a terminal to ask on: another kind or registry is
    refused; a changed scope (user-wide for a project token) needs --yes."""
    from tokenward import rotation

    fit = rotation.check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"{fit.errors[0]}; nothing changed")
    if fit.warnings and not yes:
        raise UsageError(f"{fit.warnings[0]}; nothing changed (no terminal to ask on: pass --yes to accept it)")
    for warning in fit.warnings:
        term.warn(warning)


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _write(app, term, name: str, value: str) -> int:
    """The plain rotation (and its output) that scripts rely on."""
    outcome = lifecycle.rotate_token(app, name, value)
    for warning in outcome.warnings:
        term.warn(warning)
    term.note(f"Rotated {name} in {', '.join(outcome.written)}.")
    if outcome.failed:
        for store_name, message in outcome.failed.items():
            term.note(f"Error: {message}")
        term.note(f"Not yet written to {', '.join(outcome.failed)}: `tokens sync {name}` finishes it.")
        return int(ExitStatus.STORE)
    term.note(f"Next: {lifecycle.revoke_hint(outcome.record)}.")
    return int(ExitStatus.FINDINGS) if outcome.overwrote else 0


def _from_command(app, term, record, command) -> str:
    from tokenward import rotation

    term.note(f"Getting a new value for {record.name} from its rotate_command ({command[0]}).")
    # The old value is read only if the command wrote to stderr, to mask it there.
    old_values = lambda: [lifecycle.get_value(app, record.name)[0]]  # noqa: E731
    value = rotation.run_rotate_command(command, record, app.config.rotate.timeout, old_values)
    fit = rotation.check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"rotate_command for {record.name}: {fit.errors[0]}; nothing changed")
    for warning in fit.warnings:
        term.warn(warning)
    return value


def _ask_value(app, term, record, open_page: bool, yes: bool, step: int) -> str:
    """Steps: the page to create the new token, the hidden prompt, the checks."""
    from tokenward import rotation
    from tokenward.tokens import TOKEN_PAGE

    page = TOKEN_PAGE.get(record.kind)
    if page:
        term.note(f"{step}. Create a new {record.kind} token at {page}")
    else:
        term.note(f"{step}. Create a new {record.kind} token where this one was issued.")
    advice = rotation.scope_advice(record)
    if advice:
        term.note(f"   {advice}")
    if open_page and page:
        import webbrowser

        if not webbrowser.open(page):
            term.note("   (no browser could be opened here; open the address above yourself)")
    value = read_value(f"{step + 1}. Paste the new token for {record.name}", interactive=True)
    fit = rotation.check_new_value(record, value, app.now)
    if fit.errors:
        raise UsageError(f"{fit.errors[0]}; nothing changed")
    for warning in fit.warnings:
        term.warn(warning)
    if fit.warnings and not yes:
        if not click.confirm("Use this token anyway?", default=False, err=True):
            raise UsageError(f"rotation of {record.name} cancelled; nothing changed")
    return value


def _guided(app, term, record, open_page: bool, yes: bool) -> int:
    from tokenward import rotation
    from tokenward.report import view

    v = view(record, app.now, app.config.warn_before)
    from tokenward.sanitize import safe

    scope = f", scope {safe(record.scope)}" if record.scope else ""
    since = record.rotated_at.date().isoformat()
    term.note(f"Rotating {record.name} ({record.kind}{scope}): last rotated {since}, status {v.status}.")
    for line in rotation.usage_lines(app, record):
        term.note(f"   {safe(line)}")
    value = _ask_value(app, term, record, open_page, yes, step=1)
    outcome = lifecycle.rotate_token(app, record.name, value)
    for warning in outcome.warnings:
        term.warn(warning)
    term.note(f"3. Written to {', '.join(outcome.written)}.")
    status = 0
    if outcome.failed:
        for message in outcome.failed.values():
            term.note(f"Error: {message}")
        term.note(f"   Not yet written to {', '.join(outcome.failed)}: `tokens sync {record.name}` finishes it.")
        status = int(ExitStatus.STORE)
    term.note(f"4. Now {rotation.revoke_step(record)}.")
    return status


def _rotate_due(app, term) -> int:
    from tokenward import rotation
    from tokenward.report import views
    from tokenward.tokens import TOKEN_PAGE

    due = [v for v in views(app.inventory.all(), app.now, app.config.warn_before) if v.status in (Status.EXPIRED, Status.OVERDUE)]
    if not due:
        term.note("No token is overdue or expired.")
        return 0
    rest = []
    failed = False
    for v in due:
        record = v.record
        command = app.config.rotate.command_for(record.name, record.kind)
        if command is None:
            rest.append(v)
            continue
        try:
            value = _from_command(app, term, record, command)
            outcome = lifecycle.rotate_token(app, record.name, value)
        except TokenwardError as exc:
            failed = True
            term.warn(f"{record.name} was not rotated: {exc}")
            continue
        for warning in outcome.warnings:
            term.warn(warning)
        term.note(f"Rotated {record.name} in {', '.join(outcome.written)}. Next: {rotation.revoke_step(record)}.")
        if outcome.failed:
            failed = True
            term.warn(f"{record.name}: not yet written to {', '.join(outcome.failed)}; run `tokens sync {record.name}`")
    if rest:
        term.echo(f"Overdue without a rotate_command ({len(rest)}), rotate by hand:")
        for v in rest:
            page = TOKEN_PAGE.get(v.record.kind)
            where = f" (new token: {page})" if page else ""
            term.echo(f"  {v.record.name} ({v.record.kind}, {v.status}): tokens rotate {v.record.name}{where}")
    if failed:
        return int(ExitStatus.STORE)
    return int(ExitStatus.FINDINGS) if rest else 0


def _leaked(app, term, record, command, open_page: bool, yes: bool) -> int:
    from tokenward import audit, rotation
    from tokenward.errors import StoreError
    from tokenward.registries.kinds import revoke_where

    name = record.name
    term.note(f"Leak response for {name} ({record.kind}).")
    term.note("1. Copies of the leaked value:")
    copies = rotation.find_copies(app, record, record.fingerprint)
    for copy in copies:
        term.note(f"   - {copy.where}")
    if not copies:
        term.note("   (none found in the configured stores or on this machine)")
    leaked_value = _old_value_to_revoke(app, term, record)

    if command:
        value = _from_command(app, term, record, command)
    elif _interactive():
        value = _ask_value(app, term, record, open_page, yes, step=2)
    else:
        value = read_value(f"New value for {name}")
        _check_piped(app, term, record, value, yes)
    outcome = lifecycle.rotate_token(app, name, value)
    for warning in outcome.warnings:
        term.warn(warning)
    term.note(f"Rotated {name} in {', '.join(outcome.written)}.")

    from tokenward.lifecycle import store_metadata

    for copy in copies:
        if copy.kind == "extra-store":
            try:
                app.store(copy.store).put(name, value, store_metadata(outcome.record))
                term.note(f"   Replaced the leaked copy in store {copy.store} too.")
            except StoreError as exc:
                term.warn(f"store {copy.store} still holds the leaked value: {exc}")
        elif copy.kind == "twine-keyring":
            if rotation.replace_twine_keyring(app, record, value):
                term.note("   Replaced twine's keyring entry too.")
            else:
                term.warn(f"twine's keyring entry for {record.repository} still holds the leaked value")
        elif copy.kind == "pypirc":
            path = rotation.pypirc_path()
            term.warn(f"{path} [{copy.section}] still holds the leaked value in plaintext: remove it (`tokens import {path} --scrub`)")
        elif copy.kind == "inventory":
            term.warn(
                f"token {copy.section} holds the same leaked value and `tokens exec` still uses it: "
                f"rotate it too (`tokens rotate {copy.section}`) or remove it (`tokens remove {copy.section}`)"
            )
        elif copy.kind == "env":
            term.warn(f"${copy.section} still holds the leaked value in this shell: unset {copy.section}")
    audit.append(app.data_dir, "leak", name, copies=[c.kind for c in copies], stores=outcome.written)

    where = " " + revoke_where(record.kind)
    if leaked_value is None or not _revoke_leaked(app, term, record, leaked_value, yes):
        term.note(f"NOW: revoke the leaked token{where}. Until you do, it works for whoever has it.")
    if outcome.failed:
        term.note(f"Not yet written to {', '.join(outcome.failed)}: `tokens sync {name}` finishes it.")
        return int(ExitStatus.STORE)
    return 0


def _old_value_to_revoke(app, term, record):
    """The leaked value, read before it is replaced, when its registry can revoke it by API."""
    from tokenward.errors import StoreError
    from tokenward.registries.checks import can_revoke_by_api

    if not can_revoke_by_api(record, app.now):
        return None
    try:
        return lifecycle.get_value(app, record.name)[0]
    except StoreError as exc:
        term.warn(f"cannot read the leaked value to revoke it by API ({exc})")
        return None


def _revoke_leaked(app, term, record, value: str, yes: bool) -> bool:
    """Offer `revoke` of the leaked value at its registry; True when it was revoked."""
    from tokenward.errors import RegistryError
    from tokenward.registries.checks import revoke_old_value

    if not yes:
        if not _interactive():
            term.note("The registry can revoke the leaked value by API: rerun with --yes, or revoke it at its page.")
            return False
        if not click.confirm("Revoke the leaked value at its registry now?", default=True, err=True):
            return False
    try:
        message = revoke_old_value(app, record, value)
    except RegistryError as exc:
        term.warn(f"the leaked value was not revoked: {exc}")
        return False
    term.note(f"The leaked value of {record.name}: {message}.")
    return True
