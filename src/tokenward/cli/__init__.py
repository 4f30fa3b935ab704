"""The `tokens` command line. Thin commands over plain functions; the only place that
imports click. Subcommands are imported when used, so `tokens list` stays fast."""

from __future__ import annotations

import importlib
import os
import sys

import click

from tokenward import __version__
from tokenward.errors import ExitStatus, TokenwardError

LAZY_COMMANDS: dict[str, str] = {
    "add": "tokenward.cli.inventory_cmds:add",
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
}

SHORT_HELP = {
    "add": "Add a token: metadata to the inventory, value to its stores.",
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
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)

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


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None, prog_name: str = "tokens") -> None:
    args = sys.argv[1:] if argv is None else argv
    head = args[: args.index("--")] if "--" in args else args
    debug = "--debug" in head or os.environ.get("TOKENS_DEBUG") == "1"
    try:
        result = cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except TokenwardError as exc:
        click.echo(f"Error: {_one_line(str(exc))}", err=True)
        sys.exit(int(exc.exit_status))
    except click.exceptions.NoArgsIsHelpError as exc:
        # `tokens` or `tokens schedule` alone: the normal help, as click shows it (exit 2).
        exc.show()
        sys.exit(int(ExitStatus.BAD_INPUT))
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"Error: {_one_line(exc.format_message())}{where}", err=True)
        sys.exit(int(ExitStatus.BAD_INPUT))
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        sys.exit(int(ExitStatus.BAD_INPUT))
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitStatus.INTERRUPTED))
    except BrokenPipeError:
        # `tokens list | head`: not an error.
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            os._exit(0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            raise
        click.echo(
            f"Error: internal error ({type(exc).__name__}); rerun with --debug for a traceback and report it",
            err=True,
        )
        sys.exit(70)
    sys.exit(result if isinstance(result, int) else 0)
