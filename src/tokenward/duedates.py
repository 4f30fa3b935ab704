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

from tokenward.errors import UnsafeDataDir, UsageError
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


OUTPUT_FIX = "write it into a directory of your own"


def write_output(path_text: str, data: bytes) -> Path:
    """Write `data` to the file atomically (a temporary file beside it, then a rename).

    Where it goes is checked as the config is (`paths.check_file_place`): every symbolic
    link on the way must be ours (or root's), the final directory writable by nobody else
    (else the file could be swapped before the rename), and an existing file must be a
    regular file of ours: another user's file is never replaced. A new file is created
    0600 (token names and purposes are nobody else's business); our existing file keeps
    its mode, so a feed made readable to a web server stays so, minus any group/world
    write bit."""
    from tokenward.paths import check_file_place, who

    path = Path(path_text).expanduser()
    try:
        target = check_file_place(path, "refusing to write", OUTPUT_FIX)
    except UnsafeDataDir as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot write {path}: not a regular file")
    if info is not None and info.st_uid != os.geteuid():
        raise UsageError(f"cannot write {path}: {target} belongs to {who(info.st_uid)}; refusing to replace another user's file")
    mode = stat.S_IMODE(info.st_mode) & 0o755 if info is not None else FILE_MODE
    if info is not None and info.st_size == len(data) and stat.S_IMODE(info.st_mode) == mode:
        try:
            if target.read_bytes() == data:  # unchanged: leave the file (and its mtime) alone
                return target
        except OSError:
            pass
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror} ({directory})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    return target
