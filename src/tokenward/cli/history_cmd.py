"""tokens history."""

from __future__ import annotations

import click

from tokenward import audit
from tokenward.cli.common import json_option, pass_app
from tokenward.errors import TokenNotFound
from tokenward.inventory import check_name


def _describe(entry: dict) -> str:
    """The detail column: what the event did, from the fields it carries."""
    event = entry.get("event")
    if event == "exec":
        parts = [entry.get("tool") or entry.get("command") or "?"]
        if entry.get("repository"):
            parts.append(f"-> {entry['repository']}")
        if entry.get("projects"):
            parts.append(f"[{', '.join(entry['projects'])}]")
        if entry.get("narrowed"):
            parts.append("(narrowed)")
        return " ".join(parts)
    details = []
    for key in ("fields", "stores", "targets", "failed", "source"):
        value = entry.get(key)
        if value:
            details.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return "; ".join(details)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show only the last N entries.")
@json_option
@pass_app
def history(app, term, name, limit, as_json):
    """Show the audit log of one token: every use by `tokens exec` and every change.

    The log holds names and outcomes only, never a value. A removed token's history
    is still shown. NAME `(trusted-publishing)` shows the runs that used a minted
    trusted-publishing token.

    \b
    Example:
      tokens history pypi-foo --json
    """
    from tokenward.trusted import AUDIT_NAME

    if name != AUDIT_NAME:
        check_name(name)
    entries = audit.read(app.data_dir, name)
    if not entries and name != AUDIT_NAME and app.inventory.find(name) is None:
        raise TokenNotFound(name)
    skipped = entries.skipped_note()
    if skipped:
        term.warn(skipped)
    if limit:
        entries = entries[-limit:]
    if as_json:
        term.json(entries)
        return 0
    if not entries:
        term.note(f"No history for {name} yet.")
        return 0
    from tokenward.output import table

    rows = []
    for entry in entries:
        status = entry.get("exit_status")
        rows.append([
            str(entry.get("time", "")),
            str(entry.get("event", "")),
            "-" if status is None else str(status),
            _describe(entry),
        ])  # fmt: skip
    term.echo(table(rows, ["TIME", "EVENT", "STATUS", "DETAIL"]))
    return 0
