"""What `tokens targets`, `tokens show` and `tokens doctor` say about CI targets: the state
of each from the inventory alone (a CI secret cannot be read back), and an access check
that writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tokenward.policy import to_iso
from tokenward.targets.base import where

if TYPE_CHECKING:
    from tokenward.app import App
    from tokenward.config_targets import TargetConfig
    from tokenward.inventory import TargetState, TokenRecord

STATES = ("current", "stale", "never", "failed")


@dataclass(frozen=True)
class TargetRow:
    name: str
    type: str
    where: str
    token: str
    pushed_at: datetime | None
    state: str
    error: str | None = None

    def as_json(self) -> dict:
        return {
            "name": self.name, "type": self.type, "where": self.where, "token": self.token,
            "pushed_at": to_iso(self.pushed_at), "state": self.state, "error": self.error,
        }  # fmt: skip


def state_of(target: "TargetConfig", held: "TargetState | None", record: "TokenRecord | None") -> str:
    """failed (the last push failed) > never (also: pushed, but to where the target no
    longer points) > stale (holds another value than the token's current one: pushed
    before its last rotation) > current."""
    from tokenward.targets.base import destination

    if held is None or held.token != target.token:
        return "never"
    if held.last_error is not None:
        return "failed"
    if held.pushed_at is None or (held.destination and held.destination != destination(target)):
        return "never"
    if record is None or held.fingerprint != record.fingerprint:
        return "stale"
    return "current"


def target_rows(app: "App", token: str | None = None) -> list[TargetRow]:
    held = app.inventory.target_states()
    rows = []
    for target in app.config.targets.values():
        if token is not None and target.token != token:
            continue
        state = held.get(target.name)
        record = app.inventory.find(target.token)
        current = state if state is not None and state.token == target.token else None
        rows.append(
            TargetRow(
                target.name, target.type, where(target), target.token,
                current.pushed_at if current else None, state_of(target, state, record),
                current.last_error if current else None,
            )  # fmt: skip
        )
    return rows


def against_shared_stores(app: "App", rows: list[TargetRow]) -> tuple[list[TargetRow], list[str]]:
    """The rows, each `current` one re-checked against its token's shared stores (Vault,
    AWS: metadata only, no value read): when a store moved on since this machine last
    saw it, another machine rotated the token, so what this machine pushed is from before
    the token's last rotation: `stale`, with the store's word for it as the row's error.
    A store that cannot be asked leaves the row as it was, with a warning (the second
    list): the state is then only what this machine knew at its last sync."""
    from dataclasses import replace

    from tokenward.errors import StoreConflict, TokenwardError
    from tokenward.targets.push import check_newest

    behind: dict[str, str | None] = {}
    warnings: list[str] = []
    for token in dict.fromkeys(r.token for r in rows if r.state == "current"):
        try:
            check_newest(app, token, [app.config.targets[r.name] for r in rows if r.token == token])
            behind[token] = None
        except StoreConflict as exc:
            text = str(exc).removeprefix(f"store {exc.store!r}: ").split(" (not pushed to ")[0]
            behind[token] = f"{token}: {text}"
        except TokenwardError as exc:
            behind[token] = None
            warnings.append(f"cannot tell whether {token} was rotated elsewhere ({exc}): its targets' states are as of this machine's last sync")
    changed = [
        replace(r, state="stale", error=f"target {r.name}: not known to hold the newest value: {behind[r.token]}")
        if r.state == "current" and behind.get(r.token) else r
        for r in rows
    ]  # fmt: skip
    return changed, warnings


def check_access(app: "App") -> list[tuple[str, bool, str]]:
    """(target, ok, one line without "target NAME: ") for each target: can its auth token reach the secret's
    place? Writes nothing (GitHub: reads the public key; GitLab: reads the project)."""
    from concurrent.futures import ThreadPoolExecutor

    from tokenward.errors import TokenwardError
    from tokenward.lifecycle import get_value
    from tokenward.registries.http import HttpClient
    from tokenward.targets.base import auth_problem, not_in_inventory, open_target
    from tokenward.targets.push import WORKERS

    targets = list(app.config.targets.values())
    if not targets:
        return []
    auths: dict[str, str] = {}
    problems: dict[str, str] = {}
    for target in targets:
        for role, name in not_in_inventory(app.inventory, target):
            problems.setdefault(target.name, f"names {role} {name!r}, which is not in the inventory")
        if target.name not in problems:
            problem = auth_problem(target, app.inventory.find(target.auth))
            if problem:
                problems[target.name] = problem
        if target.name not in problems and target.auth not in auths:
            try:
                auths[target.auth] = get_value(app, target.auth)[0]
            except TokenwardError as exc:
                problems[target.name] = f"cannot read the auth token {target.auth}: {exc}"
    client = HttpClient(pool=WORKERS)

    def one(target: "TargetConfig") -> tuple[str, bool, str]:
        if target.name in problems:
            return target.name, False, problems[target.name]
        try:
            return target.name, True, open_target(target, client, auths[target.auth]).check()
        except TokenwardError as exc:
            return target.name, False, str(exc).removeprefix(f"target {target.name}: ")

    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(targets))) as pool:
            return list(pool.map(one, targets))
    finally:
        client.close()
