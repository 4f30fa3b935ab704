"""Write docs/cli.md from the commands' own --help (run: python scripts/cli_reference.py).

tests/test_docs.py fails when docs/cli.md is stale."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tokenward.cli import cli

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _walk(command: click.Command, path: list[str], parent: click.Context | None, out: list[str]) -> None:
    # The command's own context_settings (e.g. `-h`), as click applies them when it runs the command.
    settings = {"terminal_width": 100, "max_content_width": 100, **command.context_settings}
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    out.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`\n")
    out.append("```\n" + command.get_help(ctx).rstrip() + "\n```\n")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            _walk(command.get_command(ctx, name), [*path, name], ctx, out)


def render() -> str:
    out = [
        "# CLI reference\n",
        "Generated from the commands' `--help` by `python scripts/cli_reference.py`;",
        "a test fails when this file is stale.\n",
    ]
    _walk(cli, ["tokens"], None, out)
    return "\n".join(out)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if OUT.exists() and OUT.read_text() == text else 1
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
