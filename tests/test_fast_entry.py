"""The click-free fast entry (tokenward.fastpath, issue 13) behaves exactly as the click
CLI: for every argv form in the table, `tokens ...` (the console entry point, which takes
the plain `get`/`exec` forms itself) and the click command line forced for the same
argv give the same exit status, stdout and stderr, on the real Secret Service. Forms the
fast entry must not take (help, unknown or repeated options, option-like values, a
missing NAME or command) fall through to click, and the table says which is which."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tokenward.fastpath import fast_command
from tests import servers

pytestmark = pytest.mark.usefixtures("real_keyring")

VALUE = "fast-entry-value-0123456789"
SHOW = ["sh", "-c", 'echo "out:$TOKEN"; echo "err:$TOKEN" >&2; exit 3']

# (argv, taken by the fast entry)
FORMS: list[tuple[list[str], bool]] = [
    (["get", "ft"], True),
    (["get", "ft", "--store", "keyring"], True),
    (["get", "ft", "--store=keyring"], True),
    (["get", "nosuch"], True),
    (["get", "ft", "--store", "nosuch"], True),
    (["get", "ft", "--store", "-x"], False),
    (["get", "--store", "keyring", "ft"], False),
    (["get"], False),
    (["get", "-h"], False),
    (["get", "--help"], False),
    (["get", "ft", "--bogus"], False),
    (["get", "ft", "extra"], False),
    (["get", ""], False),
    (["get", "--", "ft"], False),
    (["exec", "--token", "ft", "--", "true"], True),
    (["exec", "--token=ft", "--", "true"], True),
    (["exec", "--token", "ft", "--", *SHOW], True),
    (["exec", "--token", "ft", "--no-mask", "--", *SHOW], True),
    (["exec", "--strict", "--no-narrow", "--token", "ft", "--", *SHOW], True),
    (["exec", "--token", "ft", "--", "false"], True),
    (["exec", "--token", "nosuch", "--", "true"], True),
    (["exec", "--token", "ft", "--", "no-such-program-tokenward"], True),
    (["exec", "--token", "ft", "--", "--"], True),
    (["exec", "--token", "ft", "--", "sh", "-c", "exit 0", "--token", "x"], True),
    (["exec", "--", "true"], True),
    (["exec", "--token", "ft", "--"], False),
    (["exec", "--token", "--", "true"], False),
    (["exec", "--token"], False),
    (["exec", "--token=", "--", "true"], False),
    (["exec", "--token", "ft", "--token", "ft", "--", "true"], False),
    (["exec", "--no-mask", "--no-mask", "--token", "ft", "--", "true"], False),
    (["exec", "--token", "ft", "--bogus", "--", "true"], False),
    (["exec", "--tok", "ft", "--", "true"], False),
    (["exec", "--token", "ft", "true"], False),
    (["exec", "-h"], False),
    (["exec", "--help", "--", "true"], False),
    (["exec", "--allow-env", "X", "--token", "ft", "--", "true"], False),
    (["--debug", "get", "ft"], False),
    (["--config", "/nonexistent.toml", "get", "ft"], False),
]


def run(argv: list[str], *, force_click: bool) -> tuple[int, str, str]:
    if force_click:
        code = "import sys; sys.argv[0] = 'tokens'; from tokenward.cli import click_main; click_main()"
        cmd = [sys.executable, "-c", code, *argv]
    else:
        cmd = [servers.find_tool("tokens"), *argv]
    proc = subprocess.run(cmd, input=b"", capture_output=True, env=dict(os.environ), timeout=60)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


@pytest.fixture
def stored(tokens):
    """A generic token in the real keyring, under a name of its own (the test keyring is
    shared by the whole run); the table's "ft" stands for it."""
    name = f"ft-{uuid.uuid4().hex[:8]}"
    assert tokens("add", name, "--kind", "generic", input=VALUE + "\n").returncode == 0
    yield name
    tokens("remove", name, "--yes")


def named(argv: list[str], name: str) -> list[str]:
    return [name if arg == "ft" else arg.replace("=ft", f"={name}") for arg in argv]


@pytest.mark.parametrize(("argv", "fast"), FORMS, ids=[" ".join(a) or "(none)" for a, _ in FORMS])
def test_fast_entry_and_click_give_the_same_result(stored, argv, fast):
    argv = named(argv, stored)
    assert (fast_command(argv) is not None) == fast
    through_entry = run(argv, force_click=False)
    through_click = run(argv, force_click=True)
    assert through_entry == through_click
    if "--no-mask" not in argv:
        assert VALUE not in through_entry[2]  # never on stderr, whichever path


def test_the_table_covers_success_and_failure_on_both_commands(stored):
    """The comparison above is not between two identical failures: the plain forms work."""
    assert run(["get", stored], force_click=False) == (0, VALUE, "")
    status, out, err = run(["exec", "--token", stored, "--", *SHOW], force_click=False)
    assert (status, out, err) == (3, "out:****\n", "err:****\n")
    status, out, _err = run(["exec", "--token", stored, "--no-mask", "--", *SHOW], force_click=False)
    assert (status, out) == (3, f"out:{VALUE}\n")


def test_the_config_variable_is_read_as_click_reads_it(stored, tmp_path, monkeypatch):
    """TOKENS_CONFIG is --config's variable: an empty one means none, a bad file is an error."""
    for value, text in (("", None), (str(tmp_path / "bad.toml"), "[stores\n"), (str(tmp_path / "ok.toml"), "")):
        if text is not None:
            (tmp_path / os.path.basename(value)).write_text(text)
        monkeypatch.setenv("TOKENS_CONFIG", value)
        for argv in (["get", stored], ["exec", "--token", stored, "--", "true"]):
            assert fast_command(argv) is not None
            assert run(argv, force_click=False) == run(argv, force_click=True)
