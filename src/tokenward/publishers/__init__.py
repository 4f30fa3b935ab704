"""Publish tools and their conventions: where a command line really sends the token,
and the variables that hand it to the tool. One module per tool, one table.

Parsing reads the command line (with the tool's own parsing rules) and every file and
variable the tool itself reads for its destination; it never runs the tool. When a
module cannot be certain, the Target says why (`repository` None, `problem`), and
`tokens exec` refuses unless --token names a token. Nothing here sees a value except
`Publisher.env`, which only formats the variables.
"""

from __future__ import annotations

import os
import re
from typing import Mapping
from tokenward.publishers.base import Context, Publisher, Target, Unsure, is_pypi_server, normalize_url
from tokenward.publishers.env import KIND_ENV, env_for_kind, parse_env_templates, render_env

# Each tool's module is imported when its publisher is first used, so `tokens exec`
# loads only the tool it runs (none for a command no tool module knows).
PUBLISHER_CLASSES = {
    "twine": "tokenward.publishers.twine:Twine",
    "uv": "tokenward.publishers.uv:Uv",
    "poetry": "tokenward.publishers.poetry:Poetry",
    "hatch": "tokenward.publishers.hatch:Hatch",
    "flit": "tokenward.publishers.flit:Flit",
    "pdm": "tokenward.publishers.pdm:Pdm",
    "npm": "tokenward.publishers.npm:Npm",
    "cargo": "tokenward.publishers.cargo:Cargo",
    "gh": "tokenward.publishers.gh:Gh",
}


class _Publishers(Mapping[str, Publisher]):
    """The table of publishers by tool name, each built on first use."""

    def __init__(self) -> None:
        self._made: dict[str, Publisher] = {}

    def __getitem__(self, name: str) -> Publisher:
        if name not in PUBLISHER_CLASSES:
            raise KeyError(name)
        if name not in self._made:
            module, _, attr = PUBLISHER_CLASSES[name].partition(":")
            # __import__ (not importlib.import_module) so `python -X importtime` logs the
            # module: tests/test_hot_path.py checks which tool modules a run loads.
            self._made[name] = getattr(__import__(module, fromlist=[attr]), attr)()
        return self._made[name]

    def __contains__(self, name: object) -> bool:
        return name in PUBLISHER_CLASSES

    def get(self, name: str, default: Publisher | None = None) -> Publisher | None:  # type: ignore[override]
        return self[name] if name in PUBLISHER_CLASSES else default

    def __iter__(self):
        return iter(PUBLISHER_CLASSES)

    def __len__(self) -> int:
        return len(PUBLISHER_CLASSES)


PUBLISHERS: Mapping[str, Publisher] = _Publishers()
TOOLS = tuple(PUBLISHER_CLASSES)


def __getattr__(name: str):
    if name == "project_from_filename":  # with its glob and regexes, only for who uses it
        from tokenward.publishers._dists import project_from_filename

        return project_from_filename
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "KIND_ENV", "PUBLISHERS", "TOOLS", "Context", "Publisher", "Target", "env_for_kind", "is_pypi_server",
    "normalize_url", "parse_command", "parse_env_templates", "project_from_filename", "render_env", "shadowing",
    "tool_env", "unwrap",
]  # fmt: skip


def unwrap(argv: list[str]) -> tuple[str, list[str]]:
    """(tool, its arguments), seeing through `python -m twine`, `uvx twine`, `pipx run twine`."""
    if not argv:
        return "", []
    program = os.path.basename(argv[0])
    args = list(argv[1:])
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program) and len(args) >= 2 and args[0] == "-m":
        return unwrap([args[1], *args[2:]])
    if program == "uvx" and args:
        return unwrap(_skip_runner_options(args))
    if program in ("uv", "pipx") and args[:2] in (["tool", "run"], ["run", "--"]):
        return unwrap(_skip_runner_options(args[2:]))
    if program == "pipx" and args[:1] == ["run"]:
        return unwrap(_skip_runner_options(args[1:]))
    return program, args


def _skip_runner_options(args: list[str]) -> list[str]:
    values = {"--from", "--with", "--python", "-p", "--spec", "--index-url", "--pip-args"}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in values else 1
    return args[i:]


def parse_command(argv: list[str], ctx: Context | None = None) -> Target:
    """Where this command line uploads, and what. A destination that cannot be told with
    certainty gives a publishing Target without a repository, its `problem` saying why."""
    ctx = ctx or Context.current()
    tool, args = unwrap(argv)
    publisher = PUBLISHERS.get(tool)
    if publisher is None:
        return Target()
    try:
        return publisher.parse(args, ctx)
    except Unsure as exc:
        return Target(tool=tool, action=_action(args), publishes=True, problem=str(exc))


def _action(args: list[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")


def tool_env(target: Target, value: str) -> dict[str, str]:
    """The variables that hand `target.tool` the token, exactly as the tool reads them."""
    return PUBLISHERS[target.tool].env(target, value)


def shadowing(target: Target, parent: Mapping[str, str], ctx: Context | None = None) -> list[str]:
    """Warnings for settings the tool would prefer to the token we hand it."""
    publisher = PUBLISHERS.get(target.tool)
    if publisher is None:
        return []
    return publisher.shadowing(target, parent, ctx or Context.current(parent))
