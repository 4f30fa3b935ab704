"""Reading the small JSON state files of the data dir (`notify-state.json`,
`calendar-state.json`) as guardedly as the inventory: never through a symlink, never
blocking on a FIFO or reading a device without end, only a regular file of ours that
nobody else may write, at most MAX_STATE_BYTES, and a document too deeply nested for
the JSON parser counts as damaged. Anything refused is treated as absent (the worst
outcome is one reminder sent again, or every calendar event marked changed) with a
warning saying why."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from tokenward.paths import read_at_most

MAX_STATE_BYTES = 16 << 20


def read_json_state(path: Path, limit: int = MAX_STATE_BYTES) -> tuple[Any, str]:
    """(the parsed document or None, a warning or "")."""
    ignored = "; it is ignored (treated as absent)"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None, ""
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, f"{path} is a symbolic link{ignored}; move it away"
        if exc.errno == errno.EISDIR:
            return None, f"{path} is a directory{ignored}; move it away"
        return None, f"cannot read {path} ({exc.strerror or type(exc).__name__}){ignored}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{path} is not a regular file{ignored}; move it away"
        if st.st_uid != os.geteuid():
            return None, f"{path} belongs to another user{ignored}; move it away"
        if st.st_mode & 0o022:
            return None, f"{path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}){ignored}; chmod 600 it"
        if st.st_size > limit:
            return None, f"{path} is larger than {limit >> 20} MiB{ignored}"
        data = read_at_most(fd, limit)
        if data is None:
            return None, f"{path} is larger than {limit >> 20} MiB{ignored}"
    except OSError as exc:
        return None, f"cannot read {path} ({exc.strerror or type(exc).__name__}){ignored}"
    finally:
        os.close(fd)
    try:
        return json.loads(data.decode("utf-8")), ""
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, f"{path} is damaged (not a JSON document tokenward wrote){ignored}"


def write_json_state(path: Path, document: Any, **dump: Any) -> None:
    """Replace `path` with `document` as JSON, atomically: a fresh name beside it, created
    exclusively with mode 0600 and never through a link planted in the data dir, written,
    fsync-ed, renamed over `path`. Raises OSError (the caller says what was not recorded);
    the temporary file never outlives a failure."""
    from tokenward.paths import FILE_MODE

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, **dump)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
