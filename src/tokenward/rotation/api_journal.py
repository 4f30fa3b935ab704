"""The journal of `tokens rotate --api`: how far a rotation by the registry's API got, so
that a crash at any step converges (the next `tokens rotate NAME` or `tokens sync`
finishes it, rotation/api.py `resume`).

One small JSON file per token, DATA_DIR/api-rotations/NAME.json, mode 0600, written
atomically (a temporary file beside it, fsync, rename) and read as guardedly as the other
state files (statefile.py: no symlink, no FIFO, ours, at most 64 KiB). It never holds a
value: the step reached, the fingerprints of the old and the new value, and the registry's
ids (npm: the `key` of the old token and of the created one) -- ids, not secrets, and
exactly what revoking needs.

Steps, in order: `creating` (written before the registry is asked; nothing exists yet that
this machine could name), `created` (the registry answered: the new token's key is here
before anything else happens), `stored` (at least one store holds the new value),
`pushed` (every target took it), `verified` (the registry says the new value is live);
the file is removed once the old value is revoked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tokenward.errors import LocalDataError
from tokenward.inventory import NAME_RE
from tokenward.paths import ensure_private_dir
from tokenward.statefile import read_json_state, write_json_state

DIRECTORY = "api-rotations"
STEPS = ("creating", "created", "stored", "pushed", "verified")
MAX_BYTES = 64 * 1024
_ID = str  # an id or fingerprint: short, printable


@dataclass
class Entry:
    name: str
    kind: str
    step: str
    started_at: str
    old_fingerprint: str
    new_fingerprint: str = ""
    new_key: str | None = None  # npm: the created token's key
    prepared: dict[str, Any] = field(default_factory=dict)  # npm: the old token's key and settings
    expires_on: str | None = None  # GitLab: the expiry asked for
    closed_by_hand: bool = field(default=False, repr=False)  # in memory only: closed with a by-hand step


    def at_least(self, step: str) -> bool:
        return STEPS.index(self.step) >= STEPS.index(step)


def _dir(data_dir: Path) -> Path:
    return data_dir / DIRECTORY


def _path(data_dir: Path, name: str) -> Path:
    if not NAME_RE.fullmatch(name):
        raise LocalDataError(f"not a token name: {name!r}")
    return _dir(data_dir) / f"{name}.json"


def save(data_dir: Path, entry: Entry) -> None:
    """Write the entry atomically; LocalDataError when it cannot be written (then the
    caller must not go on to the step it would record)."""
    ensure_private_dir(_dir(data_dir))
    path = _path(data_dir, entry.name)
    document = {"version": 1, **{k: v for k, v in asdict(entry).items() if k != "closed_by_hand"}}
    try:
        write_json_state(path, document, indent=1, sort_keys=True)
    except OSError as exc:
        raise LocalDataError(
            f"cannot write the rotation journal {path} ({exc.strerror or type(exc).__name__})"
        ) from None


def load(data_dir: Path, name: str) -> tuple[Entry | None, str]:
    """(the pending entry of this token or None, a warning about a damaged file or "")."""
    path = _path(data_dir, name)
    data, warning = read_json_state(path, MAX_BYTES)
    if data is None:
        return None, warning
    entry = _entry(data, name)
    if entry is None:
        return None, f"{path} is not a rotation journal tokenward wrote; it is ignored (move it away)"
    return entry, ""


def pending(data_dir: Path) -> list[str]:
    """Names of the tokens with a journal entry."""
    try:
        names = sorted(p.name[: -len(".json")] for p in _dir(data_dir).iterdir() if p.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return []
    return [n for n in names if NAME_RE.fullmatch(n)]


def remove(data_dir: Path, name: str) -> None:
    try:
        _path(data_dir, name).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise LocalDataError(f"cannot remove the rotation journal of {name} ({exc.strerror or type(exc).__name__})") from None


def _text(value: Any, limit: int = 200) -> bool:
    return isinstance(value, str) and len(value) <= limit and value.isprintable()


def _entry(data: Any, name: str) -> Entry | None:
    """The entry, every field checked: a damaged or planted file is no instruction."""
    if not isinstance(data, dict) or data.get("version") != 1 or data.get("name") != name:
        return None
    if data.get("step") not in STEPS or not _text(data.get("kind"), 20) or not _text(data.get("started_at")):
        return None
    if not _text(data.get("old_fingerprint"), 64) or not _text(data.get("new_fingerprint", ""), 64):
        return None
    new_key = data.get("new_key")
    if new_key is not None and not _text(new_key):
        return None
    prepared = data.get("prepared", {})
    if not isinstance(prepared, dict) or len(json.dumps(prepared)) > 4096:
        return None
    expires_on = data.get("expires_on")
    if expires_on is not None and not _text(expires_on, 10):
        return None
    return Entry(
        name=name,
        kind=data["kind"],
        step=data["step"],
        started_at=data["started_at"],
        old_fingerprint=data["old_fingerprint"],
        new_fingerprint=data.get("new_fingerprint", ""),
        new_key=new_key,
        prepared=prepared,
        expires_on=expires_on,
    )
