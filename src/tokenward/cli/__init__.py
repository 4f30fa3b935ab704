"""The `tokens` command line: the console entry point, which imports no click.

`main` first offers argv to the click-free fast entry (tokenward.fastpath), which takes
only the plain forms of `get` and `exec`; everything else goes to the click CLI in
cli/group.py. The click objects (`cli`, LAZY_COMMANDS, SHORT_HELP) are reachable here
as before, importing click only when asked for."""

from __future__ import annotations

import sys

_CLICK_NAMES = {"cli", "LazyGroup", "LAZY_COMMANDS", "SHORT_HELP"}


def main(argv: list[str] | None = None, prog_name: str = "tokens") -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    from tokenward.fastpath import run_fast

    run_fast(args)  # exits when it took the command
    click_main(args, prog_name)


def click_main(argv: list[str] | None = None, prog_name: str = "tokens") -> None:
    """The click command line for any argv (the fast entry never)."""
    from tokenward.cli.group import main as group_main

    group_main(argv, prog_name)


def __getattr__(name: str):
    if name in _CLICK_NAMES:
        from tokenward.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
