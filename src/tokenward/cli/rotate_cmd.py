"""tokens rotate: piped, guided on a terminal, by rotate_command, --due, --leaked."""

from __future__ import annotations

import sys

import click

from tokenward.cli.common import pass_app
from tokenward.errors import UsageError
from tokenward.rotation import workflows
from tokenward.values import read_value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", required=False)
@click.option("--due", is_flag=True, help="Rotate every overdue or expired token that has a rotate_command; list the rest.")
@click.option("--leaked", is_flag=True, help="Leak response for NAME: list every copy, rotate it everywhere, then the revoke step.")
@click.option("--no-command", is_flag=True, help="Ignore a configured rotate_command: read the value from stdin or a prompt.")
@click.option("--open", "open_page", is_flag=True, help="Open the registry's token page in a browser (guided mode).")
@click.option("--yes", "-y", is_flag=True, help="Accept a new token whose scope differs from the old one's without asking (needed when piped).")
@pass_app
def rotate(app, term, name, due, leaked, no_command, open_page, yes):
    """Replace a token's value in every store it lives in, then in every CI target.

    The new value comes from the token's rotate_command (config [rotate]), else
    from stdin when piped, else a guided walk-through on a terminal: where the
    token is used, the registry page to create the new one, a hidden prompt,
    checks (same kind and registry; a wider scope is flagged), then the exact
    step to revoke the old token. Stores that keep versions keep the previous one.

    After the stores, the new value is pushed to every CI target of the token
    ([targets.NAME] in the config; see `tokens push`). A target that fails is
    one `Error:` line and exit 3; the stores keep the new value, and `tokens
    push` or `tokens sync` pushes it again.

    \b
    Examples:
      echo "$NEW_TOKEN" | tokens rotate pypi-foo
      tokens rotate pypi-foo            # guided, on a terminal
      tokens rotate --due               # every overdue token with a rotate_command
      tokens rotate --leaked pypi-foo   # a leaked token: rotate everywhere, then revoke

    \b
    rotate_command in the config (stdout = the new value; TOKENS_NAME, TOKENS_KIND,
    TOKENS_SCOPE, TOKENS_REPOSITORY, TOKENS_PURPOSE are set; a token's own wins):
      [rotate]
      timeout = 120
      [rotate.kind]
      github = "company-mint-token --github"
      [rotate.token]
      npm-ci = ["op", "read", "op://ci/npm-ci/credential"]
    """
    ui = TerminalDialog(term)
    if due:
        if name or leaked:
            raise UsageError("--due rotates every overdue token: give no NAME and no --leaked")
        return workflows.rotate_due(app, ui)
    if not name:
        raise UsageError("missing NAME (or --due)")
    if leaked:
        return workflows.leak_response(app, ui, name, no_command=no_command, open_page=open_page, yes=yes)
    return workflows.rotate(app, ui, name, no_command=no_command, open_page=open_page, yes=yes)


class TerminalDialog:
    """The workflows' questions and lines, on this terminal."""

    def __init__(self, term) -> None:
        self.term = term
        self.interactive = sys.stdin is not None and sys.stdin.isatty()

    def note(self, text: str) -> None:
        self.term.note(text)

    def warn(self, text: str) -> None:
        self.term.warn(text)

    def echo(self, text: str) -> None:
        self.term.echo(text)

    def read_value(self, prompt: str) -> str:
        return read_value(prompt, interactive=self.interactive)

    def confirm(self, question: str, default: bool) -> bool:
        return click.confirm(question, default=default, err=True)

    def open_page(self, url: str) -> bool:
        import webbrowser

        return webbrowser.open(url)
