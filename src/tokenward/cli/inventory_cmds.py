"""add, list, show, get, remove."""

from __future__ import annotations

import click

from tokenward import lifecycle
from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ExitStatus, UsageError
from tokenward.fastpath import get_command
from tokenward.policy import STATUSES, humanize_delta
from tokenward.report import summarize, views
from tokenward.sanitize import safe
from tokenward.tokens import KINDS, SCOPE_NONE
from tokenward.values import read_value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--purpose", default="", help="What the token is for, e.g. \"publish foo from CI\".")
@click.option("--scope", default=None, help="What it may touch: `user` or `project:foo,bar` [default: read from a PyPI token].")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Token kind [default: detected from the value's prefix].")
@click.option("--repository", metavar="URL", default=None, help="Upload endpoint it is for [default: by kind].")
@click.option("--created", metavar="DATE", default=None, help="When it was created [default: now].")
@click.option("--rotate-every", metavar="PERIOD", default=None, help="Rotation period: 90d, 12w, 6mo, 1y [default: from config].")
@click.option("--expires", metavar="DATE", default=None, help="Hard expiry [default: read from a PyPI token].")
@click.option("--store", "stores", multiple=True, metavar="STORE", help="Store to keep the value in (repeatable) [default: defaults.stores].")
@click.option("--env", "env", multiple=True, metavar="VAR=TEMPLATE", help="Variable `tokens exec` sets instead of the tool's; {value} is the token (repeatable).")
@click.option("--allow-env", "allow_env", multiple=True, metavar="VAR", help="Let --env set VAR although it is not a variable carrying {value} or a publish tool's username (code-running, destination, proxy, CA, config variables, constants); repeatable; exec needs it too.")
@pass_app
def add(app, term, name, purpose, scope, kind, repository, created, rotate_every, expires, stores, env, allow_env):
    """Add a token. The value is read from stdin, or a hidden prompt on a terminal.

    \b
    Example:
      echo "$TOKEN" | tokens add pypi-foo --purpose "publish foo" --rotate-every 90d

    \b
    DATE: an ISO 8601 date or date-time (2026-01-31, 2026-01-31T09:30,
      2026-01-31T09:30+02:00; without an offset it is UTC), now, today,
      yesterday, tomorrow, or a period from now (+30d, -6mo). Guesses such
      as 01/02/2025, 2025 or 5 are refused.
    PERIOD: a number and d, w, mo or y (90d, 12w, 6mo, 1y); `m` (months or
      minutes?) is refused.
    """
    # Validate the cheap things before asking for a value.
    lifecycle.check_name_and_stores(app, name, stores)
    from tokenward import metadata

    metadata.check_purpose(purpose)
    metadata.check_repository(repository)
    if scope is not None and kind is not None:
        metadata.check_scope(scope, kind)
    from tokenward.publishers import parse_env_templates

    templates = parse_env_templates(env)
    from tokenward.envpolicy import check_allow_names, check_templates

    check_templates(templates, check_allow_names(allow_env))
    value = read_value(f"Value for {name}")
    outcome = lifecycle.add_token(
        app,
        name,
        value,
        kind=kind,
        purpose=purpose,
        scope=scope,
        repository=repository,
        created=created,
        rotate_every=rotate_every,
        expires=expires,
        stores=stores or None,
        env=templates,
    )
    for warning in outcome.warnings:
        term.warn(warning)
    r = outcome.record
    if r.scope == SCOPE_NONE:
        term.warn(f"{r.name}'s caveats allow no project at all: it can upload nothing, and `tokens exec` never chooses it")
    scope_text = f", scope {r.scope}" if r.scope else ""
    term.note(f"Added {r.name} ({r.kind}{scope_text}) to {', '.join(outcome.written)}.")


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only tokens with this status (repeatable).",
)
@json_option
@pass_app
def list_(app, term, statuses, as_json):
    """List the inventory with age, due date and status. Reads no store.

    \b
    Example:
      tokens list --status overdue --status expired
    """
    if as_json:
        rows = views(app.inventory.all(), app.now, app.config.warn_before)
        term.json([v.as_json() for v in rows if not statuses or v.status in statuses])
        return 0
    summaries = summarize(app.inventory.summaries(), app.now, app.config.warn_before)
    if statuses:
        summaries = [s for s in summaries if s.status in statuses]
    if not summaries:
        term.note("No tokens." if not statuses else "No tokens with that status.")
        return 0
    from tokenward.output import table

    now = app.now
    lines = []
    shown_stores: dict[tuple[str, ...], str] = {}  # a few distinct ones (summarize shares the tuples)
    for s in summaries:
        deadline = s.deadline
        stores = shown_stores.get(s.stores)
        if stores is None:
            stores = shown_stores[s.stores] = ",".join(s.stores)
        lines.append([
            s.name,
            s.kind,
            f"{int((now - s.rotated_at).total_seconds() // 86400)}d",  # age_text, inline: per row
            f"{deadline.date().isoformat()} ({humanize_delta(now, deadline)})" if deadline else "-",
            s.status,
            stores,
            s.purpose,
        ])  # fmt: skip
    headers = ["NAME", "KIND", "AGE", "DUE", "STATUS", "STORES", "PURPOSE"]
    painter = term.paint if term.colour else None
    term.echo(table(lines, headers, painter=painter, status_col=4))
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@json_option
@pass_app
def show(app, term, name, as_json):
    """Show one token's record and where it is stored (never its value).

    \b
    Example:
      tokens show pypi-foo --json
    """
    from tokenward.report import view

    record = app.inventory.get(name)
    v = view(record, app.now, app.config.warn_before)
    data = v.as_json()
    # What `tokens exec` will set in the child: visible, since it may come from someone else.
    data["env"] = dict(sorted((record.env or {}).items()))
    pending = app.inventory.journal_pending(name)
    data["pending_sync"] = sorted({s for e in pending for s in e.stores if s not in e.done})
    from tokenward.rotation import api_journal

    entry = api_journal.load(app.data_dir, name)[0] if name in api_journal.pending(app.data_dir) else None
    # An interrupted `rotate --api`: the step it reached; `tokens rotate NAME` or `tokens sync` finishes it.
    data["pending_rotation"] = entry.step if entry is not None else None
    if app.config.targets:  # not on the hot path of configs without targets
        from tokenward.targets.status import target_rows

        rows = target_rows(app, name)
    else:
        rows = []
    if as_json:
        data["targets"] = [r.as_json() for r in rows]
        term.json(data)
        return 0
    data["targets"] = [f"{r.name} ({r.type} {r.where}: {r.state})" for r in rows]
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        if isinstance(value, dict):
            value = ", ".join(f"{k}={t}" for k, t in value.items()) or "-"
        text = "-" if value in (None, "") else safe(value)
        if key == "scope" and value == SCOPE_NONE:
            text += " (its caveats allow no project: it covers nothing)"
        if key == "status":
            text = term.paint(text, text)
        term.echo(f"{key.ljust(width)}  {text}")
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--store", default=None, metavar="STORE", help="Read from this store only [default: the first that has it].")
@pass_app
def get(app, term, name, store):
    """Print a token's value on stdout, for pipes.

    \b
    Example:
      tokens get pypi-foo | wl-copy
    """
    return get_command(app, term, name, store)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def remove(app, term, name, yes):
    """Remove a token from the inventory and delete its value from its stores.

    Refused (exit 2) while an API rotation of the token is unfinished (`tokens
    rotate NAME` finishes it). A warning names the CI targets, the npm login or
    the email password that name the token: they fail without it.

    \b
    Example:
      tokens remove old-token --yes
    """
    record = app.inventory.get(name)
    lifecycle.check_removable(app, name)
    uses = lifecycle.named_by(app, name)
    if uses:
        where = app.config.path or "the config"
        term.warn(f"{name} is named by {', '.join(uses)}: they fail without it until you change {where}")
    if not yes:
        import sys

        if not sys.stdin.isatty():
            raise UsageError(f"removing {name} needs confirmation: pass --yes")
        if not click.confirm(f"Remove {name} from the inventory and from {', '.join(record.stores)}?", err=True):
            term.note(f"Not removed: {name} is unchanged.")
            return int(ExitStatus.FINDINGS)
    outcome = lifecycle.remove_token(app, name)
    term.note(f"Removed {name} from {', '.join(outcome.written) or 'the inventory'}.")
    term.note(f"Remember to {lifecycle.revoke_hint(record)}.")
    return 0
