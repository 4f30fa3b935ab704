"""Command lines read with each tool's own parsing rules.

- argparse tools (twine, flit, pdm): the real `argparse`, so prefix abbreviations
  (`--repository-ur`, `--config` for `--config-file`), `--opt=value`, `-rNAME` and
  clustered short flags mean exactly what they mean to the tool.
- clap (uv, cargo), click (hatch), cleo (poetry), pflag (gh): long options are never
  abbreviated; `--opt=value`, `--opt value`, `-oVALUE`, `-o=VALUE` and `-o VALUE` work.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from tokenward.publishers.base import Unsure


@dataclass
class Parsed:
    """A command line split into options (by long name) and positionals."""

    options: dict[str, list[str]]
    positionals: list[str]
    unknown: list[str] = field(default_factory=list)

    def last(self, name: str) -> str | None:
        values = self.options.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.options


def scan(args: list[str], takes_value: set[str], aliases: Mapping[str, str], flags: Iterable[str] = ()) -> Parsed:
    """Exact-name options as clap, click, cleo and pflag read them.

    Options neither in `takes_value` nor in `flags` are kept as flags and listed in `unknown`."""
    known = set(takes_value) | set(flags)
    options: dict[str, list[str]] = {}
    positionals: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positionals.extend(args[i + 1 :])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            name = aliases.get(name, name)
            if not eq and name in takes_value:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            if name not in known:
                unknown.append(name)
            options.setdefault(name, []).append(value)
        elif arg.startswith("-") and len(arg) > 1:
            for j in range(1, len(arg)):
                short = aliases.get("-" + arg[j], "-" + arg[j])
                if short in takes_value:
                    value = arg[j + 1 :]
                    if value.startswith("="):
                        value = value[1:]
                    elif not value:
                        value = args[i + 1] if i + 1 < len(args) else ""
                        i += 1
                    options.setdefault(short, []).append(value)
                    break
                if short not in known:
                    unknown.append(short)
                options.setdefault(short, []).append("")
        else:
            positionals.append(arg)
        i += 1
    return Parsed(options, positionals, unknown)


def split_subcommand(args: list[str], global_values: set[str], aliases: Mapping[str, str]) -> tuple[str, list[str], Parsed]:
    """(subcommand, its arguments, the global options before it)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("-"):
            name = aliases.get(arg.partition("=")[0], arg.partition("=")[0])
            if "=" not in arg and name in global_values:
                i += 1
            i += 1
            continue
        return arg, args[i + 1 :], scan(args[:i], global_values, aliases)
    return "", [], scan(args, global_values, aliases)


def refuse_unknown(tool: str, parsed: Parsed) -> None:
    if parsed.unknown:
        raise Unsure(f"{tool} option {parsed.unknown[0]} is not one tokens exec knows, so it cannot tell what it changes")


# -- argparse --------------------------------------------------------------------------


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting."""

    def error(self, message: str):  # type: ignore[override]
        raise _Refused(message)

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        raise _Refused(message or "exit")

    def print_help(self, file=None) -> None:
        pass

    def print_usage(self, file=None) -> None:
        pass


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # e.g. ("-r", "--repository")
    value: bool = True  # takes a value; False: a flag

    @property
    def dest(self) -> str:
        long = next((n for n in self.names if n.startswith("--")), self.names[0])
        return long


def argparse_parse(tool: str, options: Iterable[Option], args: list[str], *, positionals: str = "*") -> tuple[dict[str, str | bool | None], list[str]]:
    """({long option: value}, positionals) exactly as an argparse parser with these options reads args.

    `-h/--help` gives {"--help": True} (the tool prints help and uploads nothing). An
    error the tool's argparse would report (ambiguous abbreviation, unknown option,
    missing value) raises Unsure with argparse's own message."""
    parser = _Parser(prog=tool, add_help=False)
    parser.add_argument("-h", "--help", action="store_true", dest="--help")
    for option in options:
        if option.value:
            parser.add_argument(*option.names, dest=option.dest, action="append", default=None)
        else:
            parser.add_argument(*option.names, dest=option.dest, action="store_true")
    parser.add_argument("positionals", nargs=positionals)
    try:
        namespace = parser.parse_args(args)
    except _Refused as exc:
        if "--help" in args or "-h" in args:
            return {"--help": True}, []
        raise Unsure(f"{tool} would reject this command line ({exc})") from None
    values = vars(namespace)
    found = values.pop("positionals") or []
    result: dict[str, str | bool | None] = {}
    for dest, value in values.items():
        result[dest] = value[-1] if isinstance(value, list) else value
    return result, list(found)
