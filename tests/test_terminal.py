"""Behaviour on a real terminal (a pseudo-terminal): hidden prompt, colours, NO_COLOR."""

import json
import os
import sys

import pexpect
import pytest

TOKENS = os.path.join(os.path.dirname(sys.executable), "tokens")


def spawn(*args: str, env: dict | None = None) -> pexpect.spawn:
    full = dict(os.environ)
    full.update(env or {})
    return pexpect.spawn(TOKENS, list(args), env=full, encoding="utf-8", timeout=30, dimensions=(40, 200))


def test_hidden_prompt_does_not_echo_the_value(file_keyring, tokens):
    child = spawn("add", "typed", "--purpose", "typed at a prompt")
    child.expect(r"Value for typed \(input hidden\): ")
    child.sendline("ghp_typedAtThePrompt123")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "ghp_typedAtThePrompt123" not in child.before
    assert tokens("get", "typed").stdout == "ghp_typedAtThePrompt123"


def test_empty_prompt_answer_is_refused(file_keyring, tokens):
    child = spawn("add", "typed")
    child.expect("input hidden")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "the value is empty" in child.before
    assert json.loads(tokens("list", "--json").stdout) == []


@pytest.mark.parametrize("no_color, coloured", [(None, True), ("1", False)])
def test_list_colours_only_on_a_terminal_and_honours_no_color(file_keyring, tokens, no_color, coloured):
    tokens("add", "old", "--created", "2020-01-01", input="ghp_old")
    env = {"TERM": "xterm"}
    if no_color:
        env["NO_COLOR"] = no_color
    child = spawn("list", env=env)
    child.expect(pexpect.EOF)
    child.close()
    assert "overdue" in child.before
    assert ("\x1b[31m" in child.before) is coloured


def test_remove_asks_on_a_terminal(file_keyring, tokens):
    tokens("add", "gone", input="ghp_gone")
    child = spawn("remove", "gone")
    child.expect(r"Remove gone from the inventory and from keyring\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "Not removed: gone is unchanged." in child.before
    assert tokens("show", "gone").returncode == 0
