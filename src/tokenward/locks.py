"""Per-token advisory locks, so two rotations of one token never interleave their writes."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tokenward.paths import FILE_MODE, ensure_private_dir


@contextmanager
def token_lock(data_dir: Path, name: str) -> Iterator[None]:
    directory = ensure_private_dir(data_dir / "locks")
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
