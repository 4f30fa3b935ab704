"""`rotate_command`: a configured command that prints a fresh value. It runs in its own
process group with a total timeout, bounded output, and its stderr shown with the new
and old value masked; it never sees the old value."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Callable

from tokenward.errors import ExitStatus, TokenwardError, UsageError
from tokenward.inventory import TokenRecord
from tokenward.sanitize import safe
from tokenward.values import MAX_VALUE_BYTES, decode_stdin


class RotateCommandError(TokenwardError):
    """A configured rotate_command failed; nothing was changed."""

    exit_status = ExitStatus.STORE


# What is kept of the command's output; the rest is read and discarded, so a command
# printing without end neither fills memory nor outlives its timeout.
MAX_STDOUT = 64 * 1024  # the value is one line
MAX_STDERR = 64 * 1024

# Runs beside the command, in its own session: when tokenward dies (even by SIGKILL)
# its end of the pipe closes and the watchdog kills the command's whole process group.
_WATCHDOG = (
    "import os,signal,sys\n"
    "signal.signal(signal.SIGINT,signal.SIG_IGN)\n"
    "sys.stdin.buffer.read()\n"
    "try: os.killpg(int(sys.argv[1]),signal.SIGKILL)\n"
    "except OSError: pass\n"
)


def _die_with_parent() -> None:
    """In the command's process, before exec: SIGKILL it when tokenward dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (Linux; elsewhere the watchdog alone)
    except (OSError, AttributeError):
        pass


def _read_capped(proc: subprocess.Popen, deadline: float) -> tuple[bytes, bytes, int, int, bool]:
    """Both pipes until EOF or the deadline: (stdout kept, stderr kept, stdout bytes
    dropped, stderr bytes dropped, timed out)."""
    import selectors
    import time

    keep = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    caps = {proc.stdout: MAX_STDOUT, proc.stderr: MAX_STDERR}
    dropped = {proc.stdout: 0, proc.stderr: 0}
    with selectors.DefaultSelector() as selector:
        for pipe in keep:
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(keep[proc.stdout]), bytes(keep[proc.stderr]), dropped[proc.stdout], dropped[proc.stderr], True
            for key, _ in selector.select(timeout=left):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = keep[key.fileobj]
                room = caps[key.fileobj] - len(buffer)
                buffer += chunk[: max(0, room)]
                dropped[key.fileobj] += max(0, len(chunk) - max(0, room))
    return bytes(keep[proc.stdout]), bytes(keep[proc.stderr]), dropped[proc.stdout], dropped[proc.stderr], False


def run_rotate_command(
    argv: tuple[str, ...], record: TokenRecord, timeout: float, old_values: Callable[[], list[str]] | None = None
) -> str:
    """Run the configured command; its stdout (one line) is the new value.

    It gets the token's name, kind, scope and repository in TOKENS_* variables, never
    the old value. It runs in its own process group: at the timeout (a total bound,
    however much it prints), when it is done, and when tokenward itself is killed, the
    whole group is killed, so nothing it started in the background outlives it. At most
    64 KiB of its stdout and of its stderr are kept (the rest is discarded, with a note).
    Its stderr reaches the user once it has finished, with control and escape sequences
    shown as escapes and the new and the old value (`old_values()`, read only when there
    is stderr to show) masked; its stdout is never shown."""
    import signal
    import time

    env = dict(os.environ)
    env.update(
        TOKENS_NAME=record.name,
        TOKENS_KIND=record.kind,
        TOKENS_SCOPE=record.scope,
        TOKENS_REPOSITORY=record.repository,
        TOKENS_PURPOSE=record.purpose,
    )
    what = f"rotate_command for {safe(record.name)} ({safe(argv[0])})"
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )  # fmt: skip
    except FileNotFoundError:
        raise RotateCommandError(f"{what}: command not found; nothing changed") from None
    except PermissionError:
        raise RotateCommandError(f"{what}: not executable; nothing changed") from None
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(proc.pid)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except OSError:
        watchdog = None

    def kill_group() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already

    try:
        out, err, out_dropped, err_dropped, timed_out = _read_capped(proc, deadline)
        if timed_out:
            timed_out = proc.poll() is None  # done, while a background child holds its output open: not a timeout
        else:
            try:  # its output ended; it may not have exited yet: its own status, not SIGKILL's
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        kill_group()
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
    finally:
        kill_group()
        if watchdog is not None:
            watchdog.stdin.close()  # its read ends; the group is already gone
            watchdog.wait()
    value: str | None = None
    problem = ""
    if not timed_out and proc.returncode == 0:
        if out_dropped:
            problem = f"more than {MAX_STDOUT // 1024} KiB on stdout; the value is one line"
        else:
            try:
                value = decode_stdin(out[: MAX_VALUE_BYTES + 3])
            except UsageError as exc:
                problem = str(exc)
    if err:
        _show_masked(err, out, value, old_values)
    if err_dropped:
        sys.stderr.write(f"(a further {err_dropped} bytes of its stderr were discarded)\n")
    if timed_out:
        raise RotateCommandError(f"{what}: no value within {timeout:g}s; nothing changed")
    if proc.returncode != 0:
        raise RotateCommandError(f"{what} exited with status {proc.returncode}; nothing changed")
    if value is None:
        raise RotateCommandError(f"{what} printed no usable value ({problem}); nothing changed")
    return value


def _show_masked(err: bytes, out: bytes, value: str | None, old_values: Callable[[], list[str]] | None) -> None:
    """The command's stderr with every value it could contain masked: the new one (and
    any line of stdout, should it not have decoded), and the old one; then each line
    through `safe()`, so an escape sequence in it cannot rewrite the terminal.

    Masking is exact: a value is masked as written, lowercased and uppercased. A part
    of a value (a tool printing `ghp_abcd…`) is not masked: any 8-character prefix
    would also hide ordinary text, and a prefix alone does not authenticate."""
    from tokenward.masking import Masker

    secrets: list[str | bytes] = [value] if value else []
    secrets += [line.strip() for line in out.splitlines() if len(line.strip()) >= 6]
    if old_values is not None:
        try:
            secrets += [v for v in old_values() if v]
        except Exception:  # noqa: BLE001 - a store down: say nothing rather than risk the old value
            sys.stderr.write(f"(its stderr, {len(err)} bytes, is not shown: the old value could not be read to mask it)\n")
            return
    variants: list[str | bytes] = []
    for secret in secrets:
        variants += [secret, secret.lower(), secret.upper()]
    masker = Masker(variants)
    data = masker.feed(err) + masker.flush()
    text = data.decode("utf-8", "replace")
    lines = [safe(line) for line in text.replace("\r\n", "\n").split("\n")]
    shown = "\n".join(lines)
    sys.stderr.flush()
    sys.stderr.write(shown if shown.endswith("\n") or not shown else shown + "\n")
    sys.stderr.flush()
