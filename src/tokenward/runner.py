"""Run a child with extra environment, mask secrets in its output, forward signals,
and return its exit status (128+N when it died of signal N).

When our stdout (or stderr) is a terminal, the child writes to a pseudo-terminal of
its own, so it still sees a terminal (colours, progress bars) while we mask what it
prints. stdin is the child's own: prompts and pipes pass straight through.

Signals are taken synchronously (sigtimedwait), which tells who sent them: a Ctrl-C
typed at the terminal already reached the child (it is in our process group), so
only signals sent to us alone (kill, a CI runner) are forwarded.

The child is started with os.posix_spawn, set up as subprocess.Popen would (no
descriptor of ours beyond 0-2 inherited, SIGPIPE and SIGXFSZ back to their defaults),
without importing subprocess, shutil and what they pull in: this is `tokens exec`'s hot
path (README "Performance").
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import sys
import termios
import threading
from typing import TYPE_CHECKING, BinaryIO

from tokenward.errors import UsageError
from tokenward.masking import Masker
from tokenward.output import keep_standard_fds

if TYPE_CHECKING:
    import re

# Every catchable signal whose default action ends a process (PIPE and XFSZ excepted: Python
# ignores them, a write then fails with an error instead). Each is forwarded to the child, so
# a stopped `exec` never leaves the child running with a token, and exec ends when the child
# does (128+N when it died of N); kill -9 of exec cannot be caught (README "exec").
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGXCPU")
    if hasattr(signal, name)
)
SI_KERNEL = 0x80  # si_code of a signal the terminal driver sent to the whole process group
READ_SIZE = 1 << 16
DRAIN_GRACE = 3.0  # seconds to wait for output after the child exits (a daemon may hold the pipe)


class Outcome:
    def __init__(self, status: int, lost: dict[str, str] | None = None, seen: bool = False) -> None:
        self.status = status  # the child's exit status (128+N when it died of signal N)
        self.lost = lost if lost is not None else {}  # "stdout"/"stderr" -> why the child's output was not written
        self.seen = seen  # the child's (masked) output matched `watch`

    def __repr__(self) -> str:
        return f"Outcome(status={self.status!r}, lost={self.lost!r}, seen={self.seen!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.status, self.lost, self.seen) == (other.status, other.lost, other.seen)


def _write(out: "_Output", data: bytes) -> None:
    """Write masked output; after a failure keep draining the child (it must not block) but record why."""
    if not data or out.failure:
        return
    if out.sink is None:
        out.failure = "standard output is closed" if out.name == "stdout" else "standard error is closed"
        return
    try:
        if isinstance(out.sink, int):  # unbuffered: nothing is left behind for a later flush to fail on
            view = memoryview(data)
            while view:
                view = view[os.write(out.sink, view) :]
        else:
            out.sink.write(data)
            out.sink.flush()
    except OSError as exc:
        out.failure = exc.strerror or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a replaced stream (tests) may raise anything
        out.failure = type(exc).__name__


WATCH_TAIL = 512  # bytes kept across chunks, so a phrase split between two reads is still seen


def _look(out: "_Output", data: bytes) -> None:
    if out.watch is None or out.seen or not data:
        return
    text = out.tail + data
    if out.watch.search(text):
        out.seen = True
    out.tail = text[-WATCH_TAIL:]


def _pump(out: "_Output", masker: Masker) -> None:
    fd = out.read_fd
    try:
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:  # EIO: the pty's other side is closed
                break
            if not chunk:
                break
            data = masker.feed(chunk)
            _look(out, data)
            _write(out, data)
    finally:
        data = masker.flush()
        _look(out, data)
        _write(out, data)
        try:
            os.close(fd)
        except OSError:
            pass


def resolve_command(argv: list[str], env: dict[str, str]) -> str:
    if not argv:
        raise UsageError("no command given: use `tokens exec [OPTIONS] -- COMMAND [ARGS]...`")
    program = argv[0]
    if os.sep in program:
        if not os.access(program, os.X_OK) or os.path.isdir(program):
            raise UsageError(f"cannot run {program!r}: not an executable file")
        return program
    found = which(program, env.get("PATH"))
    if found is None:
        raise UsageError(f"command not found: {program!r}")
    return found


def which(program: str, path: str | None) -> str | None:
    """shutil.which(program, path=path) on POSIX, for a name without a slash (shutil
    imports bz2, lzma and zlib: a few ms on every `tokens exec`)."""
    if path is None:
        path = os.environ.get("PATH")
        if path is None:
            try:
                path = os.confstr("CS_PATH")
            except (AttributeError, ValueError):
                path = os.defpath
    if not path:
        return None
    seen = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, program)
        if os.path.exists(candidate) and os.access(candidate, os.F_OK | os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def _copy_winsize(source_fd: int, target_fd: int) -> None:
    try:
        size = fcntl.ioctl(source_fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        fcntl.ioctl(target_fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Output:
    """One of the child's output streams: a pipe, or a pty when ours is a terminal."""

    def __init__(self, name: str, sink_stream, use_pty: bool, watch: "re.Pattern[bytes] | None" = None) -> None:
        self.name = name
        self.failure = ""
        self.sink: int | BinaryIO | None = None
        if sink_stream is not None:
            try:
                sink_stream.flush()  # what we printed before comes first
            except Exception:  # noqa: BLE001 - reported with the child's output below
                pass
            try:
                self.sink = sink_stream.fileno()
            except Exception:  # noqa: BLE001 - no descriptor (a test's stream): write to its buffer
                self.sink = sink_stream.buffer if hasattr(sink_stream, "buffer") else sink_stream
        self.watch = watch
        self.seen = False
        self.tail = b""
        self.pty = use_pty
        if use_pty:
            import pty

            self.read_fd, self.child_fd = pty.openpty()
            _copy_winsize(sink_stream.fileno(), self.read_fd)
            self.source_fd = sink_stream.fileno()
        else:
            self.read_fd, self.child_fd = os.pipe()
        os.set_inheritable(self.read_fd, False)

    def close_child_side(self) -> None:
        os.close(self.child_fd)


def run(argv: list[str], env: dict[str, str], secrets: list[str], *, mask: bool = True, tty: bool | None = None) -> int:
    """Run argv and return its exit status (see run_child)."""
    return run_child(argv, env, secrets, mask=mask, tty=tty).status


def run_child(
    argv: list[str], env: dict[str, str], secrets: list[str], *, mask: bool = True, tty: bool | None = None,
    watch: re.Pattern[bytes] | None = None,
) -> Outcome:
    """Run argv; `tty` forces (True) or forbids (False) a pseudo-terminal, default: when ours is one.
    `watch`: Outcome.seen tells whether the masked output matched it (never with mask=False)."""
    executable = resolve_command(argv, env)
    closed = set(keep_standard_fds())  # the shell's closed streams stay closed for the child
    outputs: list[_Output] = []
    if mask:
        for fd, name, stream in ((1, "stdout", sys.stdout), (2, "stderr", sys.stderr)):
            if fd in closed:
                stream = None
            use_pty = stream is not None and (_isatty(stream) if tty is None else tty)
            outputs.append(_Output(name, stream, use_pty, watch))
    in_main = threading.current_thread() is threading.main_thread()
    main = in_main and hasattr(signal, "sigtimedwait")
    waited = set(FORWARDED) | {signal.SIGCHLD}
    if any(o.pty for o in outputs):
        waited.add(signal.SIGWINCH)

    # Signals that arrive before we block them are recorded and forwarded after.
    early: list[int] = []
    previous = {}
    if main:
        for signum in FORWARDED:
            previous[signum] = signal.signal(signum, lambda s, _f: early.append(s))
    try:
        try:
            child = _Child.spawn(
                argv, executable, env, [(1, outputs[0].child_fd), (2, outputs[1].child_fd)] if outputs else [],
                closed if not outputs else set(),
            )
        except OSError as exc:
            for out in outputs:
                os.close(out.read_fd)
                os.close(out.child_fd)
            raise UsageError(f"cannot run {argv[0]!r}: {exc.strerror or type(exc).__name__}") from None
        for out in outputs:
            out.close_child_side()
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, waited)
        # Threads inherit the blocked mask, so every signal comes to the wait below.
        pumps = []
        for out in outputs:
            thread = threading.Thread(target=_pump, args=(out, Masker(secrets)), daemon=True)
            thread.start()
            pumps.append(thread)
        for signum in early:
            _send(child, signum)
        if main:
            returncode = _wait_with_signals(child, waited, outputs)
        else:
            if in_main:  # no sigtimedwait (macOS): forward from plain handlers
                for signum in FORWARDED:
                    previous.setdefault(signum, signal.signal(signum, lambda s, _f: _send(child, s)))
            returncode = child.wait()
        for thread in pumps:
            thread.join(DRAIN_GRACE)
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, waited)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for out in outputs:
        _write(out, b"")
    status = 128 - returncode if returncode < 0 else returncode
    return Outcome(status, {out.name: out.failure for out in outputs if out.failure}, any(o.seen for o in outputs))


class _Child:
    """The running child: what run_child needs of subprocess.Popen (poll, wait, send_signal)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def spawn(cls, argv: list[str], executable: str, env: dict[str, str], dups: list[tuple[int, int]], closed: set[int]) -> "_Child":
        """Start `executable` as Popen(argv, executable=..., env=..., close_fds=True,
        restore_signals=True) would: `dups` are (target fd, source fd) pairs, `closed`
        standard descriptors to close in the child (the shell had closed them)."""
        actions: list[tuple] = [(os.POSIX_SPAWN_DUP2, source, target) for target, source in dups]
        actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in sorted(closed)]
        # Popen's close_fds: a descriptor we inherited without close-on-exec (fd 3 from a
        # shell, a jobserver pipe) does not reach the child. Ours are all close-on-exec.
        actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd > 2]
        defaults = {signal.SIGPIPE, signal.SIGXFSZ}  # Python ignores them; Popen restores them
        return cls(os.posix_spawn(executable, argv, env, file_actions=actions, setsigdef=defaults))

    def _reaped(self, status: int) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = 0  # reaped elsewhere: as Popen.poll says
                return self.returncode
            if pid == self.pid:
                return self._reaped(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            try:
                _pid, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                status = 0  # reaped elsewhere: as Popen.wait says
            return self._reaped(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.poll()
        if self.returncode is None:  # never a pid that may already be someone else's
            os.kill(self.pid, signum)


def _inheritable_fds() -> list[int]:
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(directory)
            break
        except OSError:
            continue
    else:
        return []
    found = []
    for name in names:
        fd = int(name)
        try:
            if os.get_inheritable(fd):
                found.append(fd)
        except OSError:  # the directory's own descriptor, closed by now
            pass
    return found


def _send(child: _Child, signum: int) -> None:
    try:
        child.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass


def _wait_with_signals(child: _Child, waited: set[int], outputs: list[_Output]) -> int:
    while True:
        returncode = child.poll()
        if returncode is not None:
            return returncode
        info = signal.sigtimedwait(waited, 0.5)
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if info.si_signo == signal.SIGWINCH:
            for out in outputs:
                if out.pty:
                    _copy_winsize(out.source_fd, out.read_fd)
            _send(child, signal.SIGWINCH)
            continue
        if info.si_code == SI_KERNEL and _same_process_group(child):
            continue  # typed at the terminal: the child got it too
        _send(child, info.si_signo)


def _same_process_group(child: _Child) -> bool:
    try:
        return os.getpgid(child.pid) == os.getpgrp()
    except OSError:
        return False
