"""The audit log: JSON lines, 0600, names and outcomes only, never a value."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from tokenward.paths import ensure_private_dir, open_private
from tokenward.policy import to_iso, utcnow

AUDIT_FILE = "audit.log"


def append(data_dir: Path, event: str, token: str, **fields: Any) -> None:
    ensure_private_dir(data_dir)
    entry = {"time": to_iso(utcnow()), "event": event, "token": token, **fields}
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = open_private(data_dir / AUDIT_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)


def read(data_dir: Path, token: str | None = None) -> list[dict[str, Any]]:
    path = data_dir / AUDIT_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if token is None or entry.get("token") == token:
            entries.append(entry)
    return entries
