"""What the calendar feed and the HTML report share: each token's effective deadline
and why, text safe to show whatever a teammate wrote into a store's metadata, and
writing an output file atomically without following someone else's symlink."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tokenward.errors import UsageError
from tokenward.inventory import TokenRecord
from tokenward.paths import FILE_MODE
from tokenward.policy import due_at, registry_state

# C0/C1 controls (tab and newline kept), DEL, lone surrogates a JSON document may carry,
# and format characters that reorder or hide what is read: bidi embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C), zero-width characters,
# line/paragraph separators and the BOM.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)

REASONS = {
    "rotation": "rotation due",
    "expiry": "expires",
    "registry": "expires at the registry",
}


def clean(text: object, *, one_line: bool = False) -> str:
    """Text from the inventory or a shared store, with control characters replaced."""
    value = text if isinstance(text, str) else str(text or "")
    if value.isprintable():  # the common case, ~10x faster than the expression
        return value
    if one_line:
        value = " ".join(value.split())
    else:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _UNPRINTABLE.sub("\N{REPLACEMENT CHARACTER}", value)


@dataclass(frozen=True)
class Deadline:
    moment: datetime
    reason: str  # a key of REASONS

    @property
    def text(self) -> str:
        return REASONS[self.reason]


def deadlines(record: TokenRecord) -> list[Deadline]:
    """Every deadline the token has: rotation, expiry and, when `tokens verify` learnt it
    about the current value, the registry's own expiry."""
    found = []
    rotation = due_at(record.rotated_at, record.rotate_every)
    if rotation is not None:
        found.append(Deadline(rotation, "rotation"))
    if record.expires_at is not None:
        found.append(Deadline(record.expires_at, "expiry"))
    registry = registry_state(record.rotated_at, record.verified_at, record.verify_result, record.registry_expires_at)[1]
    if registry is not None:
        found.append(Deadline(registry, "registry"))
    return found


_TIE_ORDER = {"registry": 0, "expiry": 1, "rotation": 2}


def earliest_of(found: list[Deadline]) -> Deadline:
    """The earliest; on a tie, a hard expiry wins over a rotation date."""
    return found[0] if len(found) == 1 else min(found, key=lambda d: (d.moment, _TIE_ORDER[d.reason]))


def effective_deadline(record: TokenRecord) -> Deadline | None:
    found = deadlines(record)
    return earliest_of(found) if found else None


def write_output(path_text: str, data: bytes) -> Path:
    """Write `data` to the file atomically (a temporary file beside it, then a rename).

    A new file is created 0600 (token names and purposes are nobody else's business);
    an existing file keeps its mode, so a feed made readable to a web server stays so.
    A symbolic link is followed only when it is ours: one planted by another user (say
    in /tmp) is refused. Anything but a regular file is refused."""
    path = Path(path_text).expanduser()
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        if info.st_uid != os.geteuid():
            raise UsageError(f"cannot write {path}: it is a symbolic link owned by another user; refusing to follow it")
        path = path.resolve()
        try:
            info = path.stat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot write {path}: not a regular file")
    mode = stat.S_IMODE(info.st_mode) if info is not None else FILE_MODE
    if info is not None and info.st_size == len(data):
        try:
            if path.read_bytes() == data:  # unchanged: leave the file (and its mtime) alone
                return path
        except OSError:
            pass
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror} ({directory})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    return path
