"""The audit log: JSON lines, 0600, names and outcomes only, never a value.

An entry is written after the work it records is done, so a log that cannot be
written (read-only, disk full) must not hide that work: the failure is kept as a
deferred error that the CLI prints after the command's own report (errors.defer)."""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from tokenward.errors import LocalDataError, TokenwardError, defer
from tokenward.paths import ensure_private_dir, open_private
from tokenward.policy import to_iso, utcnow

AUDIT_FILE = "audit.log"


class Entries(list):
    """The readable entries, in order; `skipped` counts lines that were not (bad JSON,
    not an object, not UTF-8, no event/token names)."""

    skipped: int = 0

    def skipped_note(self) -> str | None:
        if not self.skipped:
            return None
        lines = "line" if self.skipped == 1 else "lines"
        return f"{self.skipped} unreadable {lines} of the audit log skipped"


def writable_problem(data_dir: Path) -> LocalDataError | None:
    """Why an entry could not be appended now, if we can tell before doing any work."""
    path = data_dir / AUDIT_FILE
    if path.exists() and not os.access(path, os.W_OK):
        from tokenward.paths import not_writable

        return not_writable(path, PermissionError(13, "Permission denied"))
    return None


def append(data_dir: Path, event: str, token: str, **fields: Any) -> None:
    """Append one entry; when the log cannot be written, defer the error (see above)."""
    entry = {"time": to_iso(utcnow()), "event": event, "token": token, **fields}
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = open_private(ensure_private_dir(data_dir) / AUDIT_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)
    except TokenwardError as exc:
        defer(LocalDataError(f"the {event} of {token} is done, but not in the audit log: {exc}"))
    except OSError as exc:
        defer(LocalDataError(f"the {event} of {token} is done, but not in the audit log {data_dir / AUDIT_FILE}: {exc.strerror}"))


# The fields readers use, and the types they may have: a line with another type in
# one of them (hand-edited, damaged) is skipped like one that is not JSON.
_STR = (str,)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "time": _STR, "event": _STR, "token": _STR, "tool": _STR, "command": _STR, "repository": _STR,
    "source": _STR, "fingerprint": _STR, "exit_status": (int,), "narrowed": (bool,), "via": _STR, "index": _STR,
}  # fmt: skip
_LIST_FIELDS = ("projects", "stores", "failed", "copies")


def _entry(raw: bytes) -> dict | None:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("event"), str) or not isinstance(entry.get("token"), str):
        return None
    for key, types in _FIELD_TYPES.items():
        value = entry.get(key)
        if value is not None and not isinstance(value, types):
            return None
    for key in _LIST_FIELDS:
        value = entry.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return None
    return entry


def read(data_dir: Path, token: str | None = None) -> Entries:
    """Every readable entry (of one token); unreadable lines are skipped and counted."""
    path = ensure_private_dir(data_dir) / AUDIT_FILE
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return Entries()
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    entries = Entries()
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        entry = _entry(raw)
        if entry is None:
            entries.skipped += 1
        elif token is None or entry["token"] == token:
            entries.append(entry)
    return entries


# The token an entry names, found without parsing the line: only lines of the tokens asked
# for are parsed (and validated) at all.
_TOKEN_FIELD = re.compile(rb'"token"\s*:\s*"([a-z0-9][a-z0-9._-]{0,63})"')


MAX_USE_LINE = 64 * 1024  # bytes of one `exec` line Uses parses; a longer one is skipped unread
_CHUNK = 1 << 16


class Uses:
    """The readable `exec` entries (the uses of tokens; of `tokens` only, when given), in
    order, streamed: the log is read line by line, never whole, and a line longer than
    MAX_USE_LINE is skipped without being parsed (our own lines are a few hundred bytes; a
    crafted one must not cost its size in memory). Other lines are not parsed, so `remind`
    stays fast on a long log; unreadable lines among the rest are skipped and counted as in
    `read` (after the iteration). `window`: read only the last that many bytes of the log."""

    def __init__(self, data_dir: Path, tokens: set[str] | frozenset[str] | None = None, *, window: int | None = None) -> None:
        self.path = data_dir / AUDIT_FILE
        self.tokens = tokens
        self.window = window
        self.skipped = 0
        self.windowed = False  # the log is longer than the window: its start was not read
        self._partial = False  # the window starts mid-line
    skipped_note = Entries.skipped_note

    def _lines(self, handle):
        first = True
        while True:
            raw = handle.readline(MAX_USE_LINE + 1)
            if not raw:
                return
            if len(raw) > MAX_USE_LINE and not raw.endswith(b"\n"):
                while True:  # the rest of an overlong line, read and dropped in chunks
                    rest = handle.readline(_CHUNK)
                    if not rest or rest.endswith(b"\n"):
                        break
                if not (first and self._partial):
                    self.skipped += 1
            elif not (first and self._partial):  # a window starts mid-line: that part is no line
                yield raw
            first = False

    def __iter__(self):
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        with os.fdopen(fd, "rb", buffering=_CHUNK) as handle:
            if self.window is not None:
                size = os.fstat(handle.fileno()).st_size
                if size > self.window:
                    handle.seek(size - self.window - 1)
                    self.windowed = True
                    self._partial = handle.read(1) != b"\n"  # started exactly at a line: nothing to drop
            tokens = self.tokens
            for raw in self._lines(handle):
                if b'"exec"' not in raw:
                    continue
                if tokens is not None:
                    named = _TOKEN_FIELD.search(raw)
                    if named is None or named.group(1).decode() not in tokens:
                        continue
                entry = _entry(raw)
                if entry is None:
                    self.skipped += 1
                elif entry["event"] == "exec" and (tokens is None or entry["token"] in tokens):
                    yield entry

