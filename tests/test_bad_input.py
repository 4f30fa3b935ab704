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
    # guesses refused (issue 9 item 15)
    (["add", "d7", "--created", "2025"], GOOD),
    (["add", "d8", "--created", "5"], GOOD),
    (["add", "d9", "--created", "01/02/2025"], GOOD),
    (["add", "d10", "--created", "1/1/1"], GOOD),
    (["add", "d11", "--expires", "+5m"], GOOD),
    (["add", "d12", "--created", "2025-06-01", "--expires", "2025-01-01"], GOOD),
    (["add", "p7", "--rotate-every", "5m"], GOOD),
    (["add", "p8", "--rotate-every", "30min"], GOOD),
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
    (["add", "v10"], "ghp_next\u0085line"),  # issue 9 item 16
    (["add", "v11"], "ghp_line\u2028sep"),
    (["add", "v12"], "ghp_zero\u200bwidth"),
    (["add", "v13"], "ghp_rtl\u202eoverride"),
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
    # metadata checked on the way in (issue 9 items 10, 17)
    (["add", "k2", "--kind", "pypi"], GOOD),  # a ghp_ value is not a PyPI token
    (["add", "k3", "--kind", "npm"], "pypi-local-index-token"),
    (["add", "sc1", "--scope", "everything"], GOOD),
    (["add", "sc2", "--scope", "project:"], GOOD),
    (["add", "sc3", "--scope", "project:a,,b"], GOOD),
    (["add", "sc4", "--scope", "project:-dash", "--kind", "pypi"], "pypi-private-index"),
    (["add", "sc5", "--scope", "user\x1b[31m"], GOOD),
    (["add", "r1", "--repository", "not a url"], GOOD),
    (["add", "r2", "--repository", "ftp://x"], GOOD),
    (["add", "r3", "--repository", "https://"], GOOD),
    (["add", "u1", "--purpose", "two\nlines"], GOOD),
    (["add", "u2", "--purpose", "esc\x1b[2Jape"], GOOD),
    (["add", "u3", "--purpose", "bidi\u202eoverride"], GOOD),
    (["add", "u4", "--purpose", "x" * 201], GOOD),
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
    # values checked at load (issue 9 item 14)
    "[stores.vault]\ntimeout = -1\n",
    "[stores.aws]\ntimeout = -5\n",
    "[stores.vault]\nurl = 'not a url'\n",
    "[defaults]\nrotate_every = '6m'\n",
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


# -- commands that came later: import, sync, exec with dist files, schedule, rollback ---
LATER_CASES = [
    (["sync", "nowhere"], None),  # unknown token
    (["sync", "BAD/name"], None),
    (["sync", "--prefer", "nowhere"], None),  # unknown store
    (["sync", "seed", "--prefer", "nowhere"], None),
    (["sync", "--prefer"], None),
    (["rollback", "nosuch"], None),
    (["rollback", "BAD/name"], None),
    (["rollback", "seed"], None),  # the keyring keeps no previous versions
    (["schedule", "install", "--at", "25:00"], None),
    (["schedule", "install", "--at", "9"], None),
    (["schedule", "print", "--at", "noon"], None),
    (["schedule", "print", "--notify", "sms"], None),
    (["schedule", "print", "--store", "nowhere"], None),
    (["schedule", "print", "--store", "keyring"], None),  # a keyring carries no metadata
    (["exec", "--", "twine", "upload", "dist/notadist.txt"], None),
    (["exec", "--", "twine", "upload", "dist/foo-.tar.gz"], None),
    (["exec", "--", "twine", "upload", "dist/foo.whl"], None),
    (["exec", "--", "uv", "publish", "dist/x-1.0-py3-none-any.whl.zip"], None),
    (["history", "nosuch"], None),
    (["import"], None),
    (["import", "--from-keyring", "somefile"], None),
    (["import", "--format", "yaml", "x.yaml"], None),
    (["rotate"], None),
    (["rotate", "--due", "seed"], None),
    (["remind", "--notify", "sms"], None),
    (["remind", "--within", "2m"], None),
    # tokens edit: checked like add (issue 9 item 18)
    (["edit", "seed"], None),  # nothing to change
    (["edit", "seed", "--scope", "everything"], None),
    (["edit", "seed", "--purpose", "two\nlines"], None),
    (["edit", "seed", "--purpose", "esc\x1b[2J"], None),
    (["edit", "seed", "--repository", "ftp://x"], None),
    (["edit", "seed", "--rotate-every", "5m"], None),
    (["edit", "seed", "--expires", "2025"], None),
    (["edit", "seed", "--expires", "2001-01-01"], None),  # before it was created
    (["edit", "nosuch", "--purpose", "x"], None),
    (["edit", "seed", "--env", "NOEQUALS"], None),
]


@pytest.mark.parametrize("args, stdin", LATER_CASES, ids=[" ".join(a)[:40] for a, _ in LATER_CASES])
def test_bad_input_to_later_commands(tokens, seeded, args, stdin, tmp_path):
    before = snapshot(seeded)
    assert_refused(tokens(*args, input=stdin))
    assert snapshot(seeded) == before


IMPORT_CASES = [
    # malformed .pypirc
    ("a.pypirc", b"[pypi\nusername = __token__\npassword = pypi-x\n", "pypirc"),
    ("b.pypirc", b"[pypi]\nusername = __token__\npassword\n  = \n[pypi]\n", "pypirc"),
    ("c.pypirc", b"[pypi]\nusername = __token__\npassword = pypi-!!!!\n", "pypirc"),
    ("d.pypirc", b"[pypi]\nusername = __token__\npassword = \xff\xfe\n", "pypirc"),
    ("e.pypirc", b"[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc\n", "pypirc"),
    # malformed .env
    ("a.env", b"GH_TOKEN='unterminated\n", "dotenv"),
    ("b.env", b"this is not a key value line\n", "dotenv"),
    ("c.env", b'GH_TOKEN="ghp_goodValue0123456789zz" trailing\n', "dotenv"),
    ("d.env", b"GH_TOKEN=\xff\xfe\xfd\n", "dotenv"),
    ("e.env", b"GH_TOKEN=two\\nlines\x00\n", "dotenv"),
    # malformed JSON
    ("a.json", b"{not json", "json"),
    ("b.json", b'[{"name": "j1"}]', "json"),
    ("c.json", b'[{"name": "BAD NAME", "value": "ghp_goodValue0123456789zz"}]', "json"),
    ("d.json", b'{"name": 1, "value": "ghp_goodValue0123456789zz"}\n', "json"),
    ("e.json", b"[1, 2]", "json"),
    ("f.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "stores": "keyring"}]', "json"),
    ("g.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "created": "not a date"}]', "json"),
    ("h.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "rotate_every": "ninety"}]', "json"),
    ("i.json", b'[{"name": "j1", "value": "ghp_a0123456789zz"}, {"name": "j1", "value": "ghp_b0123456789zz"}]', "json"),
    ("j.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "stores": ["nowhere"]}]', "json"),
    ("k.json", b'\xef\xbb\xbf\xff[{"name": "j1"}]', "json"),
    ("l.json", b'[{"name": "j1", "value": "pypi-!!!!"}]', "json"),
    ("m.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "purpose": "a\\u001b[2Jb"}]', "json"),
    ("n.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "scope": "everything"}]', "json"),
    ("o.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "repository": "ftp://x"}]', "json"),
    ("p.json", b'[{"name": "j1", "value": "ghp_goodValue0123456789zz", "kind": "pypi"}]', "json"),
    # not a file at all
    ("missing.env", None, "dotenv"),
    ("adir", "DIR", "dotenv"),
]


@pytest.mark.parametrize("filename, content, fmt", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_malformed_import_files(tokens, seeded, tmp_path, filename, content, fmt):
    path = tmp_path / filename
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
        path.chmod(0o600)
    before = snapshot(seeded)
    for extra in ([], ["--format", fmt]):
        result = tokens("import", str(path), *extra)
        assert_refused(result)
        assert "ghp_goodValue" not in result.stderr
    assert snapshot(seeded) == before
    if content not in (None, "DIR"):
        assert path.read_bytes() == content  # the source is left alone too


def test_bad_input_figures():
    from tests.invariants import record_figure

    record_figure("bad-input", cases=len(CLI_CASES) + len(CONFIG_CASES) + len(LATER_CASES) + len(IMPORT_CASES) + 1, hypothesis_examples=25)
