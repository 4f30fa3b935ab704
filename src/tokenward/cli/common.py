"""Shared pieces of the commands: the App from the context, output options."""

from __future__ import annotations

import functools

import click

from tokenward.app import App
from tokenward.output import Terminal


# Commands that change the inventory or the audit log: checked for writability before
# they do anything (a --dry-run changes nothing and is not).
WRITING_COMMANDS = {"add", "rotate", "remove", "sync", "rollback", "import", "exec", "edit", "revoke", "push", "verify"}


def pass_app(func):
    """Hand the command a loaded App and a Terminal; close the inventory afterwards."""

    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx: click.Context, *args, **kwargs):
        obj = ctx.find_root().obj or {}
        app = App.load(obj.get("config_file"))
        try:
            if ctx.info_name in WRITING_COMMANDS and not kwargs.get("dry_run"):
                app.check_writable()
            return func(app, Terminal.detect(), *args, **kwargs)
        finally:
            app.close()

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
