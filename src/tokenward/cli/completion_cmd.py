"""tokens completion SHELL."""

from __future__ import annotations

import click

from tokenward.completion import SHELLS


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell):
    """Print the shell completion script for bash, zsh or fish.

    It completes commands, options, token names (from the local inventory), store
    and target names (from the config) and statuses. It reads names only: no store
    is opened and no value is read.

    \b
    Examples:
      eval "$(tokens completion bash)"      # in ~/.bashrc
      eval "$(tokens completion zsh)"       # in ~/.zshrc, after compinit
      tokens completion fish > ~/.config/fish/completions/tokens.fish
    """
    from tokenward.completion import script

    click.echo(script(shell), nl=False)
    return 0
