"""The `tokens` command line. Thin commands over plain functions; the only place that
imports click. Subcommands are imported when used, so `tokens list` stays fast."""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from tokenward import __version__
from tokenward.errors import ExitStatus, InventoryError, LocalDataError, OutputError, TokenwardError, take_deferred
from tokenward.output import keep_standard_fds

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
    "completion": "tokenward.cli.completion_cmd:completion",
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
    "completion": "Print the shell completion script for bash, zsh or fish.",
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


def _one_line(text: str) -> str:
    from tokenward.sanitize import safe

    return safe(" ".join(text.split()))


class _ClosedOutput:
    """Stands in for a standard output that was closed before we started (`>&-`), so
    a command that prints its result fails with one clear line instead of a crash."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, data) -> int:
        raise OutputError("standard output is closed: nowhere to print the result (do not close it with >&-)")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    @property
    def buffer(self) -> "_ClosedOutput":
        return self


class _GuardedOutput:
    """Standard output whose write failures (a full disk, `> /dev/full`, an I/O error)
    become one OutputError instead of an OSError from deep inside a command."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, data):
        try:
            return self._stream.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _output_error(exc: OSError) -> OutputError:
    return OutputError(f"cannot write the output: {exc.strerror or exc}")


def _silence_stdout() -> None:
    """After an output failure: let the interpreter's final flush go nowhere, quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    if isinstance(sys.stdout, _GuardedOutput):
        sys.stdout = sys.stdout._stream


def _environment_error(exc: OSError) -> TokenwardError:
    """An OSError that escaped a command: the machine's problem (permissions, space,
    a missing path), reported as such, never as an internal error."""
    where = f" ({exc.filename})" if exc.filename else ""
    error = LocalDataError(f"{exc.strerror or type(exc).__name__}{where}")
    return error


def _report(error: TokenwardError) -> None:
    click.echo(f"Error: {_one_line(str(error))}", err=True)


def main(argv: list[str] | None = None, prog_name: str = "tokens") -> None:
    keep_standard_fds()
    args = sys.argv[1:] if argv is None else argv
    head = args[: args.index("--")] if "--" in args else args
    debug = "--debug" in head or os.environ.get("TOKENS_DEBUG") == "1"
    take_deferred()
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()  # type: ignore[assignment]
    elif not isinstance(sys.stdout, _GuardedOutput):
        sys.stdout = _GuardedOutput(sys.stdout)  # type: ignore[assignment]
    try:
        result = cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except TokenwardError as exc:
        _exit_with(exc)
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
        for error in take_deferred():
            _report(error)
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitStatus.INTERRUPTED))
    except BrokenPipeError:
        # `tokens list | head`: not an error.
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            os._exit(0)
    except OSError as exc:
        if debug:
            raise
        _exit_with(_environment_error(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            raise
        if type(exc).__module__ == "sqlite3":
            _exit_with(InventoryError(f"inventory: {exc}"))
        click.echo(
            f"Error: internal error ({type(exc).__name__}); rerun with --debug for a traceback and report it",
            err=True,
        )
        sys.exit(70)
    status = result if isinstance(result, int) else 0
    try:
        sys.stdout.flush()
    except OutputError as exc:
        _exit_with(exc)
    except BrokenPipeError:
        _silence_stdout()
    deferred = take_deferred()
    for error in deferred:
        _report(error)
    if deferred and _invoked.get("name") != "exec":
        # `exec` keeps the command's own status: its work (an upload) is done either way.
        status = max(status, *(int(e.exit_status) for e in deferred))
    sys.exit(status)


def _exit_with(error: TokenwardError) -> None:
    if isinstance(error, OutputError):
        _silence_stdout()
    for earlier in take_deferred():
        _report(earlier)
    _report(error)
    sys.exit(int(error.exit_status))
