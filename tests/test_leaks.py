"""A canary value goes through every command; it must surface only where asked
(`tokens get`, an unmasked child) and never in any other output or data file."""

import json
import sys

import pytest

from tests.conftest import CANARY

ROTATED = CANARY.replace("CANARY", "ROTATED")


def assert_clean(text: str, where: str) -> None:
    for secret in (CANARY, ROTATED):
        assert secret not in text, f"value leaked into {where}"
        # Also no large piece of it (e.g. a truncated repr).
        assert secret[4:24] not in text, f"part of the value leaked into {where}"


def test_canary_appears_only_where_asked(tokens, file_keyring, data_dir, tmp_path):
    argv_dump = tmp_path / "argv.txt"
    child = (
        "import os,sys;"
        f"open({str(argv_dump)!r},'w').write(open('/proc/self/cmdline').read()+open('/proc/%d/cmdline' % os.getppid()).read());"
        "print('child saw', os.environ['GH_TOKEN']); print(os.environ['GH_TOKEN'][:10], file=sys.stderr)"
    )
    runs = [
        ("add", ["add", "leak", "--purpose", "canary", "--created", "2020-01-01"], CANARY + "\n"),
        ("list", ["list"], None),
        ("list --json", ["list", "--json"], None),
        ("show", ["show", "leak"], None),
        ("show --json", ["show", "leak", "--json"], None),
        ("remind", ["remind"], None),
        ("remind --json", ["remind", "--json"], None),
        ("doctor", ["doctor"], None),
        ("doctor --json", ["doctor", "--json"], None),
        ("exec masked", ["exec", "--token", "leak", "--", sys.executable, "-c", child], None),
        ("exec --debug", ["--debug", "exec", "--token", "leak", "--", sys.executable, "-c", "raise SystemExit(3)"], None),
        ("add duplicate", ["add", "leak"], CANARY + "\n"),
        ("add bad value", ["add", "leak2"], CANARY + "\n\n"),
        ("add malformed pypi", ["add", "leak3"], "pypi-" + CANARY + "\n"),
        ("rotate same", ["rotate", "leak"], CANARY + "\n"),
        ("rotate", ["rotate", "leak"], ROTATED + "\n"),
        ("rotate --debug broken store", ["--debug", "rotate", "leak"], CANARY + "x\n"),
        ("remove", ["remove", "leak", "--yes"], None),
    ]
    for label, args, stdin in runs:
        env = None
        if label == "rotate --debug broken store":
            env = {"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.BrokenKeyring"}
        result = tokens(*args, input=stdin, env=env)
        assert "Traceback" not in result.stderr, (label, result.stderr)
        assert_clean(result.stdout, f"stdout of {label}")
        assert_clean(result.stderr, f"stderr of {label}")
        if label == "exec masked":
            assert result.stdout.strip() == "child saw ****"
            assert_clean(argv_dump.read_text(), "argv of tokens or its child")
    # `get` is the one command that prints it, and only on stdout.
    tokens("add", "leak", input=CANARY)
    got = tokens("get", "leak")
    assert got.stdout == CANARY
    assert_clean(got.stderr, "stderr of get")

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"inventory.sqlite3", "audit.log"}
    for path in files:
        assert_clean(path.read_bytes().decode("latin-1"), f"file {path.name}")
    audit = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    assert {"add", "exec", "rotate", "remove"} <= {e["event"] for e in audit}


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_internal_error_shows_no_value(tokens, file_keyring, debug, monkeypatch):
    """Even an unexpected failure mid-command prints no value, with or without --debug."""
    # A keyring backend that raises with the value in its message: we must not relay it.
    result = tokens(*debug, "add", "leak", input=CANARY, env={"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.LeakyKeyring"})
    assert result.returncode == 3
    assert "keyring write failed (RuntimeError)" in result.stderr
    assert_clean(result.stderr, "stderr")
