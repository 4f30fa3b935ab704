"""tokens doctor."""

from __future__ import annotations

import click

from tokenward.cli.common import json_option
from tokenward.doctor import load_app, run_checks
from tokenward.errors import ExitStatus
from tokenward.output import Terminal
from tokenward.sanitize import safe


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@click.pass_context
def doctor(ctx, as_json):
    """Check the config, each store's reachability and auth, the keyring backend,
    the permissions of the data dir, and each CI target's access (GitHub: its
    public key is read; GitLab: its project; nothing is written). Exits 3 when
    a store or target fails, 2 on config problems, else 0.

    \b
    Example:
      tokens doctor
    """
    app, config_check = load_app((ctx.find_root().obj or {}).get("config_file"))
    term = Terminal.detect()
    try:
        checks = run_checks(app, config_check)
    finally:
        app.close()
    if as_json:
        term.json([c.as_json() for c in checks])
    else:
        marks = {"ok": "ok", "warn": "warn", "fail": "FAIL"}
        for check in checks:
            term.echo(f"[{marks[check.state]:>4}] {safe(check.subject)}: {safe(check.detail)}")
    worst = max((c.exit_status for c in checks), default=0)
    return int(worst) if worst else int(ExitStatus.OK)
