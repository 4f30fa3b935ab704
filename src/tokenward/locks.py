"""Advisory file locks: per token, so two rotations of one token never interleave
their writes, and for any other one-at-a-time section (e.g. notification state)."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tokenward.errors import ExitStatus, LocalDataError, TokenwardError, UnsafeDataDir
from tokenward.paths import FILE_MODE, ensure_private_dir, private_file

POLL = 0.1  # seconds between tries while another process holds a lock


class LockBusy(TokenwardError):
    """Another process held the lock for longer than this one would wait."""

    exit_status = ExitStatus.STORE


@contextmanager
def file_lock(
    path: Path, *, timeout: float | None = None, busy: str = "another tokens process holds it",
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created 0600) for the block. With `timeout`,
    wait at most that many seconds, then raise LockBusy naming `busy` and the file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # like a FIFO or another user's file there: not ours to use (exit 2)
            raise UnsafeDataDir(f"{path} is not a regular file (a symlink or other): move it away") from None
        raise LocalDataError(f"cannot open the lock file {path} ({exc.strerror or type(exc).__name__})") from None
    try:
        private_file(path)
        _acquire(fd, path, timeout, busy, on_wait)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float | None, busy: str, on_wait: Callable[[], None] | None = None) -> None:
    """Take the lock; `on_wait()` is called once if another process holds it (so a
    user learns why nothing happens)."""
    if on_wait is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            on_wait()
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    end = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= end:
                raise LockBusy(f"{busy}: {path} stayed locked for {timeout:g}s; try again later") from None
            time.sleep(POLL)


@contextmanager
def token_lock(data_dir: Path, name: str) -> Iterator[None]:
    with file_lock(ensure_private_dir(data_dir / "locks") / f"{name}.lock"):
        yield
