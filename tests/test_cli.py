"""The commands as a user runs them: the installed `tokens` entry point in a process."""

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest
from pypitoken import Token

GH = "ghp_clitestVALUE0123456789abcdef"


@pytest.fixture
def added(tokens, file_keyring):
    result = tokens("add", "gh1", "--purpose", "gh cli", "--created", "2025-01-01", input=GH + "\n")
    assert result.returncode == 0, result
    return result


def test_add_list_show_get(tokens, added):
    assert "Added gh1 (github) to keyring." in added.stderr
    listing = tokens("list")
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()
    assert header.split() == ["NAME", "KIND", "AGE", "DUE", "STATUS", "STORES", "PURPOSE"]
    assert row.split()[:2] == ["gh1", "github"] and "overdue" in row and "2025-04-01" in row
    assert "\x1b[" not in listing.stdout  # no colour when not a terminal

    data = json.loads(tokens("list", "--json").stdout)
    assert data[0]["name"] == "gh1"
    for key in ("name", "kind", "purpose", "scope", "repository", "created_at", "rotated_at", "rotate_every",
                "due_at", "expires_at", "status", "stores", "last_used_at"):  # fmt: skip
        assert key in data[0]
    assert data[0]["created_at"] == "2025-01-01T00:00:00+00:00"
    assert data[0]["due_at"] == "2025-04-01T00:00:00+00:00"
    assert data[0]["status"] == "overdue"

    shown = json.loads(tokens("show", "gh1", "--json").stdout)
    assert shown["stores"] == ["keyring"] and shown["purpose"] == "gh cli"
    assert "gh1" in tokens("show", "gh1").stdout

    got = tokens("get", "gh1")
    assert (got.returncode, got.stdout) == (0, GH)


def test_list_status_filter(tokens, file_keyring):
    tokens("add", "old", "--created", "2020-01-01", input="ghp_old1")
    tokens("add", "new", input="ghp_new1")
    names = lambda *a: [t["name"] for t in json.loads(tokens("list", "--json", *a).stdout)]  # noqa: E731
    assert names("--status", "overdue") == ["old"]
    assert names("--status", "ok") == ["new"]
    assert names("--status", "ok", "--status", "overdue") == ["new", "old"]
    assert tokens("list", "--status", "bogus").returncode == 2


def test_add_refuses_duplicate_and_bad_input_changes_nothing(tokens, added, data_dir):
    before = (data_dir / "inventory.sqlite3").read_bytes()
    cases = [
        (["add", "gh1"], "already exists"),
        (["add", "Bad Name"], "invalid token name"),
        (["add", "x", "--store", "nowhere"], "unknown store 'nowhere'"),
        (["add", "x", "--rotate-every", "soon"], "invalid --rotate-every period"),
        (["add", "x", "--created", "next tuesday-ish"], "invalid --created date"),
        (["add", "x", "--created", "2999-01-01"], "in the future"),
        (["add", "x", "--kind", "martian"], "Invalid value for '--kind'"),
        (["get", "nope"], "no token named 'nope'"),
        (["rotate", "nope"], "no token named 'nope'"),
        (["remove", "nope", "--yes"], "no token named 'nope'"),
        (["exec", "--token", "nope", "--", "true"], "no token named 'nope'"),
        (["add"], "Missing argument 'NAME'"),
        (["frobnicate"], "No such command"),
        (["list", "--jsn"], "No such option"),
    ]
    for args, message in cases:
        result = tokens(*args, input="ghp_other\n")
        assert result.returncode == 2, (args, result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert message in lines[0], (args, lines[0])
        assert "Traceback" not in result.stderr
    assert (data_dir / "inventory.sqlite3").read_bytes() == before


def test_empty_value_refused(tokens, file_keyring):
    result = tokens("add", "x", input="\n")
    assert result.returncode == 2 and "the value is empty" in result.stderr
    assert json.loads(tokens("list", "--json").stdout) == []


def test_expired_date_accepted_with_warning(tokens, file_keyring):
    result = tokens("add", "gone", "--expires", "2020-01-01", input="ghp_gone")
    assert result.returncode == 0
    assert "expired on 2020-01-01" in result.stderr
    assert json.loads(tokens("show", "gone", "--json").stdout)["status"] == "expired"


def test_pypi_token_scope_and_expiry_from_caveats(tokens, file_keyring):
    token = Token.create(domain="pypi.org", identifier="x", key="k" * 32)
    token.restrict(project_names=["foo-bar"], not_before=1, not_after=4102444800)
    result = tokens("add", "pypi-foo", input=token.dump())
    assert result.returncode == 0, result
    shown = json.loads(tokens("show", "pypi-foo", "--json").stdout)
    assert shown["kind"] == "pypi"
    assert shown["scope"] == "project:foo-bar"
    assert shown["expires_at"] == "2100-01-01T00:00:00+00:00"
    assert shown["repository"] == "https://upload.pypi.org/legacy/"


def test_rotate(tokens, added):
    result = tokens("rotate", "gh1", input="ghp_rotatedVALUE\n")
    assert result.returncode == 0, result
    assert "Rotated gh1 in keyring." in result.stderr
    assert "https://github.com/settings/tokens" in result.stderr
    assert tokens("get", "gh1").stdout == "ghp_rotatedVALUE"
    shown = json.loads(tokens("show", "gh1", "--json").stdout)
    assert shown["rotated_at"] > shown["created_at"]
    assert shown["status"] == "ok"
    same = tokens("rotate", "gh1", input="ghp_rotatedVALUE\n")
    assert same.returncode == 2 and "same as the current one" in same.stderr


def test_remove(tokens, added, file_keyring):
    refused = tokens("remove", "gh1")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    result = tokens("remove", "gh1", "--yes")
    assert result.returncode == 0
    assert json.loads(tokens("list", "--json").stdout) == []
    assert "gh1" not in file_keyring.read_text()


def test_exec_passes_token_and_exit_status(tokens, added):
    script = "import os,sys; print(os.environ['GH_TOKEN'] == %r); print(os.environ['GH_TOKEN']); sys.exit(7)" % GH
    result = tokens("exec", "--token", "gh1", "--", sys.executable, "-c", script)
    assert result.returncode == 7
    assert result.stdout.splitlines() == ["True", "****"]
    assert "overdue" in result.stderr  # warned, not refused
    assert json.loads(tokens("show", "gh1", "--json").stdout)["last_used_at"] is not None


def test_exec_no_mask_and_parent_untouched(tokens, added):
    result = tokens("exec", "--token", "gh1", "--no-mask", "--", "sh", "-c", 'echo "$GH_TOKEN"')
    assert result.stdout.strip() == GH
    assert "GH_TOKEN" not in os.environ


def test_exec_pypi_sets_twine_variables(tokens, file_keyring):
    tokens("add", "idx", "--kind", "pypi", input="pypi-private-index-token")
    result = tokens("exec", "--token", "idx", "--no-mask", "--", "sh", "-c", 'echo "$TWINE_USERNAME:$TWINE_PASSWORD"')
    assert result.stdout.strip() == "__token__:pypi-private-index-token"


def test_exec_refuses_expired_and_strict_overdue(tokens, added):
    tokens("add", "gone", "--expires", "2020-01-01", input="ghp_gone")
    expired = tokens("exec", "--token", "gone", "--", "true")
    assert expired.returncode == 2 and "expired on 2020-01-01" in expired.stderr
    strict = tokens("exec", "--strict", "--token", "gh1", "--", "true")
    assert strict.returncode == 2 and "--strict" in strict.stderr


def test_exec_signal_status(tokens, added):
    result = tokens("exec", "--token", "gh1", "--", "sh", "-c", "kill -TERM $$")
    assert result.returncode == 128 + 15


def test_exec_unknown_command(tokens, added):
    result = tokens("exec", "--token", "gh1", "--", "no-such-command-xyz")
    assert result.returncode == 2 and "command not found" in result.stderr


def test_remind_exit_codes_and_json(tokens, file_keyring):
    assert tokens("remind").returncode == 0
    tokens("add", "fresh", input="ghp_fresh")
    ok = tokens("remind")
    assert ok.returncode == 0 and "within their rotation period" in ok.stdout
    tokens("add", "old", "--created", "2020-01-01", input="ghp_old")
    bad = tokens("remind")
    assert bad.returncode == 1
    assert "old" in bad.stdout and "tokens rotate old" in bad.stdout
    data = json.loads(tokens("remind", "--json").stdout)
    assert data["summary"]["overdue"] == 1
    assert [t["name"] for t in data["tokens"]] == ["old"]


def test_list_and_remind_work_without_any_keyring(tokens, file_keyring, data_dir):
    tokens("add", "t1", input="ghp_x")
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    assert tokens("list", env=env).returncode == 0
    assert tokens("show", "t1", env=env).returncode == 0
    assert tokens("remind", env=env).returncode == 0
    failed = tokens("get", "t1", env=env)
    assert failed.returncode == 3
    assert "gnome-keyring-daemon" in failed.stderr and "PYTHON_KEYRING_BACKEND" in failed.stderr


def test_help_everywhere(tokens):
    top = tokens("--help")
    assert top.returncode == 0
    for command in ("add", "list", "show", "get", "rotate", "remove", "exec", "remind", "doctor"):
        result = tokens(command, "--help")
        assert result.returncode == 0, command
        assert "Example" in result.stdout, command


def test_python_dash_m(file_keyring):
    result = subprocess.run([sys.executable, "-m", "tokenward", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "0.1.0" in result.stdout


def test_data_dir_permissions_after_commands(tokens, added, data_dir):
    tokens("exec", "--token", "gh1", "--", "true")
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for path in data_dir.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_broken_config_is_one_line_exit_2(tokens, write_config):
    path = write_config("[defaults]\nstores = ['x']\n")
    result = tokens("list")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: defaults.stores names 'x', which is not a [stores.*] table"
    ]


def test_doctor(tokens, file_keyring, data_dir):
    result = tokens("doctor")
    assert result.returncode == 0, result
    assert "tests.keyring_backend.FileKeyring" in result.stdout
    data_dir.chmod(0o755)
    loose = tokens("doctor")
    assert loose.returncode == 2 and "expected 700" in loose.stdout


def test_concurrent_cli_use(tokens, file_keyring, data_dir):
    """remind/list while rotations run: no 'database is locked', nothing lost."""
    tokens("add", "c1", input="ghp_c0")
    exe = os.path.join(os.path.dirname(sys.executable), "tokens")
    procs = []
    for i in range(1, 6):
        procs.append(subprocess.Popen([exe, "remind"], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        procs.append(subprocess.Popen([exe, "list", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    rotations = []
    for i in range(1, 4):
        proc = subprocess.Popen([exe, "rotate", "c1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write(f"ghp_c{i}".encode())
        proc.stdin.close()
        rotations.append(proc)
    for proc in procs + rotations:
        proc.wait(60)
        assert b"locked" not in proc.stderr.read()
    assert all(p.returncode == 0 for p in rotations)
    value = tokens("get", "c1").stdout
    conn = sqlite3.connect(data_dir / "inventory.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    import hashlib

    (fp,) = conn.execute("SELECT fingerprint FROM tokens WHERE name='c1'").fetchone()
    assert hashlib.sha256(value.encode()).hexdigest()[:16] == fp
