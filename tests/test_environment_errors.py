"""The machine's problems are clear errors, never `internal error` (exit 70): a read-only
inventory or audit log (issue 9 item 6), a damaged inventory (item 12), a closed or full
standard output (item 22), unreadable audit lines (issue 15 item 14).

Permission bits do not stop root, so these run `tokens` as a real second user when the
tests run as root (tests/other_user.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pexpect
import pytest

from tests import other_user
from tests.servers import find_tool

VALUE = "ghp_environmentEnvironment0123456789"
NEW_VALUE = "ghp_rotatedRotatedRotated0123456789"
# Stage "the file became unwritable after the up-front check" (a race, a disk filling up).
SKIP_CHECK = "import tokenward.app\ntokenward.app.App.check_writable = lambda self: None"


@pytest.fixture
def user():
    runner = other_user.make_runner()
    yield runner
    shutil.rmtree(runner.base, ignore_errors=True)


def one_error_line(stderr: str, *needles: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in errors[0], stderr
    return errors[0]


def keyring(user) -> dict:
    path = user.base / "keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- issue 9 item 6: read-only inventory / audit log -----------------------------------
def test_read_only_inventory_still_lists_and_is_not_chmod_ed(user):
    assert user("add", "t1", input=VALUE).returncode == 0
    inventory = user.base / "data" / "inventory.sqlite3"
    os.chmod(inventory, 0o400)
    for command in (["list"], ["show", "t1"], ["remind"], ["list", "--json"]):
        result = user(*command)
        assert result.returncode in (0, 1), result
        assert "Error" not in result.stderr, result
    assert "t1" in user("list").stdout
    assert mode(inventory) == 0o400


def test_a_read_only_list_leaves_no_read_only_wal_or_shm(user):
    """Issue 15 follow-up item 4: SQLite made -wal/-shm 0400 like the inventory during a
    read-only `list`; after chmod 600 of the inventory every write still exited 3."""
    assert user("add", "t1", input=VALUE).returncode == 0
    inventory = user.base / "data" / "inventory.sqlite3"
    os.chmod(inventory, 0o400)
    assert user("list").returncode == 0
    for suffix in ("-wal", "-shm"):
        sidecar = user.base / "data" / f"inventory.sqlite3{suffix}"
        assert not sidecar.exists() or mode(sidecar) == 0o600, suffix
    os.chmod(inventory, 0o600)
    added = user("add", "t2", input=NEW_VALUE)
    assert added.returncode == 0, added
    assert "[FAIL]" not in user("doctor").stdout
    assert {"t1", "t2"} <= set(user("list").stdout.split())


def test_our_own_read_only_shm_is_repaired_not_refused(user):
    """A -shm left 0400 by an older version: ours, so a writer makes it 0600."""
    assert user("add", "t1", input=VALUE).returncode == 0
    data = user.base / "data"
    for suffix in ("-wal", "-shm"):
        sidecar = data / f"inventory.sqlite3{suffix}"
        if not sidecar.exists():
            sidecar.touch()
            user.chown(sidecar)
        os.chmod(sidecar, 0o400)
    added = user("add", "t2", input=NEW_VALUE)
    assert added.returncode == 0, added
    assert {"t1", "t2"} <= set(user("list").stdout.split())


@pytest.mark.parametrize("name", ["inventory.sqlite3", "audit.log"])
@pytest.mark.parametrize("command", [["add", "t2"], ["rotate", "t1"], ["remove", "t1", "--yes"], ["exec", "--token", "t1", "--", "sh", "-c", "echo ran"]])
def test_a_writing_command_checks_first_and_does_nothing(user, name, command):
    assert user("add", "t1", input=VALUE).returncode == 0
    path = user.base / "data" / name
    os.chmod(path, 0o400)
    before = keyring(user)
    result = user(*command, input=NEW_VALUE)
    assert result.returncode == 3, result
    one_error_line(result.stderr, str(path), "not writable", "nothing was done")
    assert "ran" not in result.stdout
    assert keyring(user) == before
    assert mode(path) == 0o400


def test_audit_log_failing_after_the_work_reports_the_work_then_one_error(user):
    assert user("add", "t1", input=VALUE).returncode == 0
    log = user.base / "data" / "audit.log"
    os.chmod(log, 0o400)
    result = user("rotate", "t1", input=NEW_VALUE, prelude=SKIP_CHECK)
    assert result.returncode == 3, result
    assert "t1" in result.stderr.split("Error:")[0]  # the rotation's own report comes first
    one_error_line(result.stderr, "rotate of t1 is done", str(log))
    os.chmod(log, 0o600)
    assert user("get", "t1").stdout.strip() == NEW_VALUE


@pytest.mark.parametrize("name", ["audit.log", "inventory.sqlite3"])
def test_exec_keeps_the_childs_success_when_recording_the_use_fails(user, name):
    assert user("add", "t1", input=VALUE).returncode == 0
    path = user.base / "data" / name
    os.chmod(path, 0o400)
    result = user("exec", "--token", "t1", "--", "sh", "-c", "echo published", prelude=SKIP_CHECK)
    assert result.returncode == 0, result
    assert result.stdout == "published\n"
    one_error_line(result.stderr, str(path))
    failing = user("exec", "--token", "t1", "--", "sh", "-c", "exit 7", prelude=SKIP_CHECK)
    assert failing.returncode == 7, failing


# -- issue 9 item 12: a damaged inventory ------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"not a database at all\n"])
def test_an_empty_or_foreign_inventory_is_an_error_naming_the_recovery(user, content):
    assert user("add", "t1", input=VALUE).returncode == 0
    inventory = user.base / "data" / "inventory.sqlite3"
    for suffix in ("-wal", "-shm"):
        (user.base / "data" / f"inventory.sqlite3{suffix}").unlink(missing_ok=True)
    inventory.write_bytes(content)
    before = keyring(user)
    for command in (["remind"], ["list"], ["add", "t1"]):
        result = user(*command, input="ghp_otherOtherOther0123456789")
        assert result.returncode == 3, result
        one_error_line(result.stderr, str(inventory), "damaged", "tokens sync --discover", "backup")
    assert keyring(user) == before  # `add` of an existing name did not replace its value
    assert inventory.read_bytes() == content


# -- issue 9 item 22: standard output closed or full ----------------------------------------
def test_list_with_stdout_closed_by_the_shell_is_one_error(tokens, file_keyring):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    proc = subprocess.run(["sh", "-c", f"'{find_tool('tokens')}' list >&-"], capture_output=True, text=True)
    assert proc.returncode == 3, proc
    one_error_line(proc.stderr, "standard output is closed")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("command", [["get", "t1"], ["list"], ["show", "t1", "--json"]])
def test_output_to_a_full_device_is_one_error_without_the_value(tokens, file_keyring, command):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    with open("/dev/full", "w") as full:
        proc = subprocess.run([find_tool("tokens"), *command], stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 3, proc
    one_error_line(proc.stderr, "cannot write the output", "No space left on device")
    assert VALUE not in proc.stderr


# -- issue 15 item 14: unreadable audit lines ---------------------------------------------
BAD_LINES = [b"42", b"[1, 2]", b'"just a string"', b"{not json", b"\xff\xfe not utf-8",
             b'{"event": "exec", "token": "t1", "projects": 5}', b'{"event": 7, "token": "t1"}']  # fmt: skip


def _spoil_audit_log(data_dir) -> None:
    log = data_dir / "audit.log"
    with open(log, "ab") as handle:
        handle.write(b"\n".join(BAD_LINES) + b"\n")
        handle.write(json.dumps({"time": "2026-01-01T00:00:00+00:00", "event": "exec", "token": "t1", "tool": "twine",
                                 "projects": ["foo"], "exit_status": 0}).encode() + b"\n")  # fmt: skip


def test_history_skips_and_counts_unreadable_audit_lines(tokens, file_keyring, data_dir):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    _spoil_audit_log(data_dir)
    result = tokens("history", "t1")
    assert result.returncode == 0, result
    assert "add" in result.stdout and "twine" in result.stdout
    assert f"{len(BAD_LINES)} unreadable lines of the audit log skipped" in result.stderr
    as_json = tokens("history", "t1", "--json")
    assert as_json.returncode == 0
    assert [e["event"] for e in json.loads(as_json.stdout)] == ["add", "exec"]


def test_guided_rotate_skips_and_counts_unreadable_audit_lines(tokens, file_keyring, data_dir):
    assert tokens("add", "t1", input=VALUE).returncode == 0
    _spoil_audit_log(data_dir)
    child = pexpect.spawn(find_tool("tokens"), ["rotate", "t1"], env=dict(os.environ), encoding="utf-8", timeout=30)
    child.expect_exact(f"({len(BAD_LINES)} unreadable lines of the audit log skipped)")
    child.expect_exact("(input hidden): ")
    child.sendline(NEW_VALUE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert tokens("get", "t1").stdout.strip() == NEW_VALUE


def test_a_read_only_data_dir_still_serves_reads_and_refuses_writes_first(user):
    assert user("add", "t1", input=VALUE).returncode == 0
    data = user.base / "data"
    os.chmod(data, 0o500)
    try:
        for command in (["list"], ["show", "t1"], ["remind"], ["history", "t1"]):
            result = user(*command)
            assert result.returncode == 0, result
        assert "t1" in user("list").stdout
        added = user("add", "t2", input=NEW_VALUE)
        assert added.returncode == 3, added
        one_error_line(added.stderr, str(data), "not writable", "nothing was done")
        assert mode(data) == 0o500
    finally:
        os.chmod(data, 0o700)


def test_an_inventory_refusing_the_record_takes_the_value_back_out(user):
    """The inventory refuses the new record after the value reached the keyring (made
    read-only after the up-front check): the value is removed again, exit 3, never 70."""
    assert user("add", "t1", input=VALUE).returncode == 0
    os.chmod(user.base / "data" / "inventory.sqlite3", 0o400)
    before = keyring(user)
    result = user("add", "t2", input=NEW_VALUE, prelude=SKIP_CHECK)
    assert result.returncode == 3, result
    one_error_line(result.stderr, "inventory.sqlite3", "read-only")
    assert keyring(user) == before
    assert "t2" not in user("list").stdout
