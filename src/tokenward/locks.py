"""Advisory file locks: per token, so two rotations of one token never interleave
their writes, and for any other one-at-a-time section (e.g. notification state)."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tokenward.paths import FILE_MODE, ensure_private_dir, private_file


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created 0600) for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    private_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def token_lock(data_dir: Path, name: str) -> Iterator[None]:
    with file_lock(ensure_private_dir(data_dir / "locks") / f"{name}.lock"):
        yield
