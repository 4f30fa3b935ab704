"""Terminal facts and rendering helpers, in one object tests can replace."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from tokenward.sanitize import safe

COLOURS = {"revoked": "31;1", "invalid": "31;1", "expired": "31;1", "overdue": "31", "due-soon": "33", "ok": "32"}

# Standard descriptors the shell had closed (`>&-`) when we started; see keep_standard_fds.
CLOSED_AT_START: set[int] = set()


def keep_standard_fds() -> set[int]:
    """Open /dev/null on standard descriptors the shell closed, before anything else opens a
    file: otherwise the inventory database could become fd 1 and a child's stdout. The
    ones that were closed are remembered (a child's output for them is reported lost)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            CLOSED_AT_START.add(fd)
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    return CLOSED_AT_START


class Terminal:
    def __init__(self, out: TextIO, err: TextIO, colour: bool) -> None:
        self.out = out
        self.err = err
        self.colour = colour

    @classmethod
    def detect(cls) -> "Terminal":
        # A stream the shell closed (`>&-`, `2>&-`) is None in Python: write nowhere instead of failing.
        out = sys.stdout or open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        err = sys.stderr or open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        colour = out.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return cls(out, err, colour)

    def echo(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        self.note(f"Warning: {text}")

    def error(self, text: str) -> None:
        self.note(f"Error: {text}")

    def note(self, text: str) -> None:
        # A diagnostic that cannot be written (stderr on a full disk) must not stop the work.
        try:
            self.err.write(_lines(text) + "\n")
            self.err.flush()
        except (OSError, ValueError):
            pass

    def json(self, data: Any) -> None:
        import json

        self.out.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def paint(self, text: str, status: str) -> str:
        if not self.colour or status not in COLOURS:
            return text
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m"


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()  # the common case, checked in C


def _lines(text: str) -> str:
    """Our own line breaks stay; anything else unsafe in a message is shown escaped."""
    return "\n".join(safe(line) for line in str(text).split("\n"))


def table(rows: list[list[str]], headers: list[str], painter=None, status_col: int | None = None) -> str:
    """Left-aligned columns; `painter(text, status)` colours the status column after padding.
    Cells are passed through `safe()`: they hold metadata a teammate may have written."""
    if not _plain("".join(map("".join, rows))):  # the common case checked at once, in C
        rows = [row if _plain("".join(row)) else [safe(cell) for cell in row] for row in rows]
    columns = list(zip(headers, *rows))
    widths = [max(map(len, column)) for column in columns]
    widths[-1] = 0  # the last column is not padded
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    if painter is None or status_col is None:
        # Each cell ljust-ed to its width, the last one as is: one format call per row.
        line = "  ".join([f"{{:<{w}}}" for w in widths[:-1]] + ["{}"]).format
        for row in rows:
            lines.append(line(*row).rstrip())
    else:
        for row in rows:
            cells = [c.ljust(w) for c, w in zip(row, widths)]
            cells[status_col] = painter(cells[status_col], row[status_col])
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
