"""Terminal facts and rendering helpers, in one object tests can replace."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

COLOURS = {"expired": "31;1", "overdue": "31", "due-soon": "33", "ok": "32"}


@dataclass
class Terminal:
    out: TextIO
    err: TextIO
    colour: bool

    @classmethod
    def detect(cls) -> "Terminal":
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return cls(sys.stdout, sys.stderr, colour)

    def echo(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        self.err.write(f"Warning: {text}\n")
        self.err.flush()

    def note(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def paint(self, text: str, status: str) -> str:
        if not self.colour or status not in COLOURS:
            return text
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m"


def table(rows: list[list[str]], headers: list[str], painter=None, status_col: int | None = None) -> str:
    """Left-aligned columns; `painter(text, status)` colours the status column after padding."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    last = len(headers) - 1
    fmt_parts = []
    lines = ["  ".join(h.ljust(widths[i]) if i < last else h for i, h in enumerate(headers))]
    for row in rows:
        fmt_parts.clear()
        for i, cell in enumerate(row):
            text = cell.ljust(widths[i]) if i < last else cell
            if painter is not None and i == status_col:
                text = painter(text, cell)
            fmt_parts.append(text)
        lines.append("  ".join(fmt_parts))
    return "\n".join(lines)
