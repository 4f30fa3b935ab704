"""The `tokens` click command line. Thin commands over plain functions; cli/group.py and
the command modules are the only places that import click. Subcommands are imported
when used, so `tokens list` stays fast; `get` and `exec` in their plain forms do not
come here at all (tokenward.fastpath)."""

from __future__ import annotations

import importlib
import os
import sys

import click

from tokenward import __version__
from tokenward.errors import ExitStatus
from tokenward.exits import echo_err, is_debug, one_line, run

LAZY_COMMANDS: dict[str, str] = {
    "add": "tokenward.cli.inventory_cmds:add",
    "edit": "tokenward.cli.edit_cmd:edit",
    "list": "tokenward.cli.inventory_cmds:list_",
    "show": "tokenward.cli.inventory_cmds:show",
    "get": "tokenward.cli.inventory_cmds:get",
    "rotate": "tokenward.cli.rotate_cmd:rotate",
    "remove": "tokenward.cli.inventory_cmds:remove",
    "exec": "tokenward.cli.exec_cmd:exec_",
    "remind": "tokenward.cli.remind_cmd:remind",
    "doctor": "tokenward.cli.doctor_cmd:doctor",
    "sync": "tokenward.cli.sync_cmd:sync",
    "rollback": "tokenward.cli.sync_cmd:rollback",
    "import": "tokenward.cli.import_cmd:import_",
    "history": "tokenward.cli.history_cmd:history",
    "schedule": "tokenward.cli.schedule_cmd:schedule",
    "calendar": "tokenward.cli.calendar_cmd:calendar",
    "report": "tokenward.cli.report_cmd:report",
    "verify": "tokenward.cli.verify_cmd:verify",
    "revoke": "tokenward.cli.verify_cmd:revoke",
    "audit": "tokenward.cli.audit_cmd:audit",
    "completion": "tokenward.cli.completion_cmd:completion",
    "push": "tokenward.cli.targets_cmd:push",
    "targets": "tokenward.cli.targets_cmd:targets",
}

SHORT_HELP = {
    "add": "Add a token: metadata to the inventory, value to its stores.",
    "edit": "Change a token's metadata (never its value), here and in its stores.",
    "list": "List tokens with age, due date and status.",
    "show": "Show one token's record and where it is stored.",
    "get": "Print a token's value (for pipes).",
    "rotate": "Replace a token's value in every store.",
    "remove": "Remove a token from the inventory and its stores.",
    "exec": "Run a command with a token in its environment only.",
    "remind": "Report expired, overdue and due-soon tokens (for cron/CI).",
    "doctor": "Check config, stores, keyring backend and file permissions.",
    "sync": "Make every store of each token hold its newest value.",
    "rollback": "Restore a token's previous value in every store.",
    "import": "Import tokens from ~/.pypirc, a .env file or JSON lines.",
    "history": "Show the audit log of a token's uses and changes.",
    "schedule": "Install, remove or print the scheduled reminder job.",
    "calendar": "Write an iCalendar feed of every token's deadline.",
    "report": "Write one self-contained HTML page of every token's state.",
    "verify": "Ask each token's registry whether its value is live.",
    "revoke": "Revoke a token at its registry and mark it revoked.",
    "audit": "Find stored tokens that are no longer needed, and how to retire them.",
    "completion": "Print the shell completion script for bash, zsh or fish.",
    "push": "Write each CI target's token to its CI secret.",
    "targets": "List CI targets and whether each holds the current value.",
}


_invoked: dict[str, str] = {}  # the subcommand this run resolved, for main()


class LazyGroup(click.Group):
    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        _invoked["name"] = name or ""
        return name, command, rest

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, _, attr = LAZY_COMMANDS[name].partition(":")
            command = getattr(importlib.import_module(module_name), attr)
            if "_TOKENS_COMPLETE" in os.environ:  # the shell asks: names complete (see completion.py)
                from tokenward.completion import attach

                attach(name, command)
            return command
        return super().get_command(ctx, name)

    def shell_complete(self, ctx: click.Context, incomplete: str):
        # Command names with their short help, without importing every command module.
        from click.shell_completion import CompletionItem

        names = [n for n in self.list_commands(ctx) if n.startswith(incomplete)]
        items = [CompletionItem(n, help=SHORT_HELP.get(n)) for n in names]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module.
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    metavar="PATH",
    envvar="TOKENS_CONFIG",
    help="Config file [default: $TOKENS_CONFIG, else the user config dir's tokenward/config.toml].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(__version__, prog_name="tokens")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """Keep your publishing API tokens under control.

    An inventory of tokens (metadata only, local SQLite), their values in real
    secret stores (OS keyring, Vault/OpenBao, AWS Secrets Manager), rotation
    reminders, and one publish command with the right token:

        tokens exec --token pypi-foo -- twine upload dist/*

    Data lives in $TOKENS_HOME (default: the user data dir).
    """
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None, prog_name: str = "tokens") -> None:
    """The click command line, for every form the fast entry (fastpath.py) does not take."""
    args = sys.argv[1:] if argv is None else list(argv)
    run(lambda: _invoke(args, prog_name), debug=is_debug(args), keeps_status=lambda: _invoked.get("name") == "exec")


def _invoke(args: list[str], prog_name: str):
    """cli.main, with click's own exceptions turned into the same one-line errors."""
    try:
        return cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `tokens` or `tokens schedule` alone: the normal help, as click shows it (exit 2).
        exc.show()
        sys.exit(int(ExitStatus.BAD_INPUT))
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        echo_err(f"Error: {one_line(exc.format_message())}{where}")
        sys.exit(int(ExitStatus.BAD_INPUT))
    except click.ClickException as exc:
        echo_err(f"Error: {one_line(exc.format_message())}")
        sys.exit(int(ExitStatus.BAD_INPUT))
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None  # reported as "Interrupted." (130), as a Ctrl-C
