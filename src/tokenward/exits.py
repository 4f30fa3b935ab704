"""The one mapping from what a command raised to what the user sees: one `Error: ...`
line on stderr and an exit status. Both entries use it — the click CLI (cli/group.py,
which first turns click's own exceptions into the same lines) and the click-free fast
entry for `get` and `exec` (fastpath.py) — so an error looks and exits alike on both.
Imports no click."""

from __future__ import annotations

import errno
import os
import sys
from typing import Callable, NoReturn

from tokenward.errors import ExitStatus, InventoryError, LocalDataError, OutputError, TokenwardError, take_deferred
from tokenward.output import keep_standard_fds


def one_line(text: str) -> str:
    from tokenward.sanitize import safe

    return safe(" ".join(text.split()))


def echo_err(text: str) -> None:
    """A line on stderr, as click.echo(err=True) writes it (nowhere when stderr is closed)."""
    stream = sys.stderr
    if stream is None:
        return
    stream.write(text + "\n")
    stream.flush()


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


def silence_stdout() -> None:
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
    return LocalDataError(f"{exc.strerror or type(exc).__name__}{where}")


def report(error: TokenwardError) -> None:
    echo_err(f"Error: {one_line(str(error))}")


def is_debug(args: list[str]) -> bool:
    head = args[: args.index("--")] if "--" in args else args
    return "--debug" in head or os.environ.get("TOKENS_DEBUG") == "1"


def run(invoke: Callable[[], object], *, debug: bool, keeps_status: Callable[[], bool]) -> NoReturn:
    """Run one command and exit with its status. `invoke` raises TokenwardError (and, from
    the click entry, SystemExit for click's usage errors) or returns the status;
    `keeps_status()` says whether errors found after the work (the audit log) leave the
    status alone (`exec` keeps the command's own)."""
    keep_standard_fds()
    take_deferred()
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()  # type: ignore[assignment]
    elif not isinstance(sys.stdout, _GuardedOutput):
        sys.stdout = _GuardedOutput(sys.stdout)  # type: ignore[assignment]
    try:
        result = invoke()
    except TokenwardError as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        for error in take_deferred():
            report(error)
        echo_err("Interrupted.")
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
        exit_with(_environment_error(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            raise
        if type(exc).__module__ == "sqlite3":
            exit_with(InventoryError(f"inventory: {exc}"))
        echo_err(f"Error: internal error ({type(exc).__name__}); rerun with --debug for a traceback and report it")
        sys.exit(70)
    status = result if isinstance(result, int) else 0
    try:
        sys.stdout.flush()
    except OutputError as exc:
        exit_with(exc)
    except BrokenPipeError:
        silence_stdout()
    deferred = take_deferred()
    for error in deferred:
        report(error)
    if deferred and not keeps_status():
        status = max(status, *(int(e.exit_status) for e in deferred))
    sys.exit(status)


def exit_with(error: TokenwardError) -> NoReturn:
    if isinstance(error, OutputError):
        silence_stdout()
    for earlier in take_deferred():
        report(earlier)
    report(error)
    sys.exit(int(error.exit_status))
