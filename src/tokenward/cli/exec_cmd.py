"""tokens exec."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app
from tokenward.execute import plan_exec, run_exec


@click.command(
    "exec",
    context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--token", "token", metavar="NAME", default=None, help="The token to use.")
@click.option("--no-mask", is_flag=True, help="Do not mask the value in the command's output.")
@click.option("--strict", is_flag=True, help="Refuse an overdue token instead of warning.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")
@pass_app
def exec_(app, term, token, no_mask, strict, command):
    """Run COMMAND with a token in its environment, and nowhere else.

    PyPI tokens are handed over as TWINE_USERNAME=__token__ and TWINE_PASSWORD.
    The value is masked as **** in the command's output unless --no-mask.
    Exits with the command's exit status.

    \b
    Example:
      tokens exec --token pypi-foo -- twine upload dist/*
    """
    argv = list(command)
    plan = plan_exec(app, token, argv, strict=strict)
    return run_exec(app, plan, argv, mask=not no_mask, warn=term.warn)
