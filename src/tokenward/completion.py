"""Shell completion: what a parameter completes, and the script `tokens completion` prints.

Click drives completion (`_TOKENS_COMPLETE=bash_complete` etc.). The commands stay as
they are written: when the shell asks for completions, `attach` gives each parameter that
names a token, a store or a target a `shell_complete` callback, chosen from the
parameter's metavar (or an argument's name), as click loads the command. Choices (`--status`, `--kind`,
`--notify`) complete through click itself.

The callbacks read names only: token names from the inventory, opened read-only (no
store is opened, no value read, nothing created); store and target names from the
config's `[stores.*]` and `[targets.*]` tables, read without validating the rest. They
never fail loudly: any error completes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_TOKENS_COMPLETE"
PROG_NAME = "tokens"
# A name the completion protocols carry safely: one line, no separators.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
# Commands whose NAME is a new token name: nothing to complete.
NEW_NAME_COMMANDS = frozenset({"add"})


def _quietly(func: Callable[..., list[str]]) -> Callable:
    def complete(ctx, param, incomplete: str) -> list[str]:
        try:
            return [name for name in func(ctx) if name.startswith(incomplete) and _SAFE.fullmatch(name)]
        except Exception:  # noqa: BLE001 - completion must never print an error into the shell
            return []

    complete.__name__ = func.__name__
    complete.__doc__ = func.__doc__
    return complete


def _root_params(ctx) -> dict:
    root = ctx.find_root() if ctx is not None else None
    return dict(root.params) if root is not None else {}


@_quietly
def token_names(ctx) -> list[str]:
    """Names in the local inventory, read from SQLite opened read-only."""
    import sqlite3

    from tokenward.inventory import DB_NAME
    from tokenward.paths import data_dir

    path = data_dir() / DB_NAME
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1)
    try:
        rows = conn.execute("SELECT name FROM tokens ORDER BY name LIMIT 10000").fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows if isinstance(row[0], str)]


def _config_tables(ctx) -> dict:
    from tokenward.paths import config_path, read_trusted_file

    path, _ = config_path(_root_params(ctx).get("config_file") or None)
    raw = read_trusted_file(Path(path))  # never blocks (a FIFO, /dev/zero); refusals complete nothing
    if raw is None:
        return {}
    import tomllib

    data = tomllib.loads(raw.decode("utf-8"))
    return data if isinstance(data, dict) else {}


@_quietly
def store_names(ctx) -> list[str]:
    """`[stores.*]` of the config; the OS keyring when there is none."""
    stores = _config_tables(ctx).get("stores")
    if not isinstance(stores, dict) or not stores:
        return ["keyring"]
    return sorted(name for name in stores if isinstance(name, str))


@_quietly
def target_names(ctx) -> list[str]:
    """`[targets.*]` of the config, when it has any."""
    targets = _config_tables(ctx).get("targets")
    return sorted(name for name in targets if isinstance(name, str)) if isinstance(targets, dict) else []


def completer_for(command_name: str, param) -> Callable | None:
    """Which callback completes this parameter, from what it documents it takes."""
    metavar = (getattr(param, "metavar", None) or "").strip("[].")
    name = getattr(param, "name", "") or ""
    is_argument = getattr(param, "param_type_name", "") == "argument"
    if metavar == "STORE":
        return store_names
    if metavar == "TARGET" or (is_argument and name in ("target", "targets")):
        return target_names
    if metavar == "NAME" or (is_argument and name in ("name", "names")):
        return None if command_name in NEW_NAME_COMMANDS else token_names
    return None


def attach(command_name: str, command) -> None:
    """Give the command's (and its subcommands') parameters their completion callbacks,
    unless a parameter already has its own."""
    for param in getattr(command, "params", ()):
        if getattr(param, "_custom_shell_complete", "absent") is None:
            callback = completer_for(command_name, param)
            if callback is not None:
                param._custom_shell_complete = callback
    for sub_name, sub in (getattr(command, "commands", None) or {}).items():
        attach(sub_name, sub)


def script(shell: str) -> str:
    """The completion script click writes for this shell."""
    from click.shell_completion import get_completion_class

    from tokenward.cli import cli

    cls = get_completion_class(shell)
    if cls is None:
        from tokenward.errors import UsageError

        raise UsageError(f"no completion for shell {shell!r} (known: {', '.join(SHELLS)})")
    return cls(cli, {}, PROG_NAME, COMPLETE_VAR).source()
