"""tokens rotate."""

from __future__ import annotations

import click

from tokenward import lifecycle
from tokenward.cli.common import pass_app
from tokenward.errors import ExitStatus
from tokenward.values import read_value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@pass_app
def rotate(app, term, name):
    """Replace a token's value in every store it lives in.

    The new value is read from stdin, or a hidden prompt on a terminal.
    Stores that keep versions (Vault, AWS) keep the previous one.

    \b
    Example:
      echo "$NEW_TOKEN" | tokens rotate pypi-foo
    """
    app.inventory.get(name)  # unknown names fail before a value is asked for
    value = read_value(f"New value for {name}")
    outcome = lifecycle.rotate_token(app, name, value)
    for warning in outcome.warnings:
        term.warn(warning)
    term.note(f"Rotated {name} in {', '.join(outcome.written)}.")
    if outcome.failed:
        for store_name, message in outcome.failed.items():
            term.note(f"Error: {message}")
        term.note(f"Not yet written to {', '.join(outcome.failed)}: run `tokens sync {name}` when it is back.")
        return int(ExitStatus.STORE)
    term.note(f"Next: {lifecycle.revoke_hint(outcome.record)}.")
    return 0
