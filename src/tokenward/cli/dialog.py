"""The rotation workflows' `Dialog` (rotation/workflows.py) on this terminal: prompts
through click and getpass, lines through the Terminal."""

from __future__ import annotations

import sys

import click

from tokenward.errors import UsageError
from tokenward.values import read_value


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

    def read_secret(self, prompt: str) -> str:
        import getpass

        try:
            text = getpass.getpass(f"{prompt} (input hidden): ")
        except EOFError:
            raise UsageError("nothing was entered; nothing changed") from None
        if not text:
            raise UsageError("nothing was entered; nothing changed")
        return text

    def confirm(self, question: str, default: bool) -> bool:
        return click.confirm(question, default=default, err=True)

    def open_page(self, url: str) -> bool:
        import webbrowser

        return webbrowser.open(url)
