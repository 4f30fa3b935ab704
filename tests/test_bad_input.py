"""Bad input, many shapes of it: each is one line on stderr, exit 2, and the
inventory byte-for-byte unchanged."""

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenward.tokens import KINDS

GOOD = "ghp_goodValue0123456789"


@pytest.fixture
def seeded(tokens, file_keyring, data_dir):
    assert tokens("add", "seed", "--purpose", "seed", input=GOOD).returncode == 0
    return data_dir


def snapshot(data_dir):
    return hashlib.sha256((data_dir / "inventory.sqlite3").read_bytes()).hexdigest()


def assert_refused(result, *, code: int = 2):
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr


CLI_CASES = [
    # names
    (["add", ""], GOOD),
    (["add", "UPPER"], GOOD),
    (["add", "-dash-first"], GOOD),
    (["add", "has space"], GOOD),
    (["add", "slash/name"], GOOD),
    (["add", "x" * 65], GOOD),
    (["add", "émoji"], GOOD),
    (["add", "../../etc/passwd"], GOOD),
    (["add", "nl\nname"], GOOD),
    (["show", "Nope"], None),
    (["get", "missing"], None),
    # dates
    (["add", "d1", "--created", "yesterday-ish"], GOOD),
    (["add", "d2", "--created", "2030-01-01"], GOOD),
    (["add", "d3", "--created", ""], GOOD),
    (["add", "d4", "--expires", "31/31/2026"], GOOD),
    (["add", "d5", "--expires", "99999999999999999999"], GOOD),
    (["add", "d6", "--created", "2026-02-30"], GOOD),
    # durations
    (["add", "p1", "--rotate-every", "0d"], GOOD),
    (["add", "p2", "--rotate-every", "-5d"], GOOD),
    (["add", "p3", "--rotate-every", "ninety days"], GOOD),
    (["add", "p4", "--rotate-every", "1.5y"], GOOD),
    (["add", "p5", "--rotate-every", "500y"], GOOD),
    (["add", "p6", "--rotate-every", ""], GOOD),
    # values
    (["add", "v1"], ""),
    (["add", "v2"], "\n"),
    (["add", "v3"], "   \n"),
    (["add", "v4"], "two\nlines\n"),
    (["add", "v5"], "nul\x00byte"),
    (["add", "v6"], b"\xff\xfe\xfd"),
    (["add", "v7"], "x" * 70_000),
    (["add", "v8"], " padded "),
    (["add", "v9"], "esc\x1bape"),
    (["rotate", "seed"], ""),
    (["rotate", "seed"], GOOD),  # same value
    # malformed PyPI tokens
    (["add", "m1"], "pypi-"),
    (["add", "m2"], "pypi-AgEIcHlwaS5vcmc"),
    (["add", "m3"], "pypi-!!!!"),
    (["add", "m4"], "pypi-" + "A" * 200),
    # stores, kinds, options
    (["add", "s1", "--store", "nowhere"], GOOD),
    (["add", "s2", "--store", "keyring", "--store", "vault"], GOOD),
    (["get", "seed", "--store", "nowhere"], None),
    (["add", "k1", "--kind", "martian"], GOOD),
    (["list", "--status", "late"], None),
    (["exec", "--token", "seed"], None),  # no command
    (["exec", "--token", "seed", "--", "definitely-not-a-command-xyz"], None),
    (["exec", "--", "true", "--token", "seed"], None),  # options after -- belong to the command
    (["remove", "seed"], None),  # no --yes and no terminal
    (["add", "seed"], GOOD),  # exists
    (["nosuchcommand"], None),
    (["list", "--bogus"], None),
    (["add"], GOOD),
]


def test_at_least_fifty_cases():
    assert len(CLI_CASES) + len(CONFIG_CASES) >= 50


@pytest.mark.parametrize("args, stdin", CLI_CASES, ids=[" ".join(map(str, a))[:40] for a, _ in CLI_CASES])
def test_bad_cli_input(tokens, seeded, args, stdin):
    before = snapshot(seeded)
    assert_refused(tokens(*args, input=stdin))
    assert snapshot(seeded) == before


CONFIG_CASES = [
    "[defaults\n",
    "[defaults]\nstores = 'keyring'\n",
    "[defaults]\nrotate_every = '0d'\n",
    "[defaults]\nwarn_before = 'never'\n",
    "[stores.keyring]\nservice = 42\n",
    "[stores.keyring]\nbakend = 'x'\n",
    "[stores.x]\ntype = 'gcp'\n",
    "[stores.vault]\nauth = 'kerberos'\n",
    "[notify.sms]\nto = '1'\n",
    "[defaults]\nstores = ['missing']\n",
    "top = 1\n",
    "\xff\xfe",
]


@pytest.mark.parametrize("text", CONFIG_CASES)
def test_bad_config(tokens, seeded, write_config, text):
    before = snapshot(seeded)
    path = write_config("")
    path.write_bytes(text.encode("latin-1"))
    for args in (["list"], ["add", "c1"], ["remind"]):
        result = tokens(*args, input=GOOD)
        assert_refused(result)
        assert str(path) in result.stderr
    assert snapshot(seeded) == before


def test_missing_explicit_config(tokens, seeded, tmp_path):
    result = tokens("--config", str(tmp_path / "nope.toml"), "list")
    assert_refused(result)
    assert "config file not found" in result.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=70).filter(lambda n: not n.startswith("-") and "\x00" not in n))
def test_any_name_is_accepted_or_refused_cleanly(tokens, seeded, name):
    import re

    result = tokens("show", name)
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name) and name != "seed":
        assert result.returncode == 2 and "no token named" in result.stderr
    elif name != "seed":
        assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_kinds_choice_lists_all():
    assert "pypi" in KINDS and "generic" in KINDS
