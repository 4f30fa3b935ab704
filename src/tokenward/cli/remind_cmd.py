"""tokens remind."""

from __future__ import annotations

import click

from tokenward import remind as reminder
from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ExitStatus


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@pass_app
def remind(app, term, as_json):
    """Report expired, overdue and due-soon tokens; for cron, systemd timers and CI.

    Reads the inventory only: no store, no network. Exits 1 when any token is
    overdue or expired, else 0.

    \b
    Example (crontab):
      0 9 * * 1-5  tokens remind
    """
    groups = reminder.build(app.inventory.all(), app.now, app.config.warn_before)
    if as_json:
        term.json(reminder.as_json(groups, app.now))
    else:
        term.echo(reminder.as_text(groups))
    return int(ExitStatus.FINDINGS) if reminder.needs_action(groups) else 0
