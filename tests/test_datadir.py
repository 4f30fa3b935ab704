"""Data-dir trust (issue 15 item 4, issue 9 item 20): a data dir, inventory or audit log
that another user could have planted or may change is refused with one line, never
chmod-ed; our own is created 0700 (parents too) whatever the umask.

`tokens` runs as a real second Unix user when the tests run as root (tests/other_user.py);
"someone else's" files then belong to root."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pytest

from tests import other_user


@pytest.fixture
def user():
    runner = other_user.make_runner()
    yield runner
    shutil.rmtree(runner.base, ignore_errors=True)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def one_error_line(result, *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], result


def add(user, name="t1", value="ghp_datadirDatadir0123456789", **kw):
    return user("add", name, input=value, **kw)


# -- directories that are not ours ------------------------------------------------------
@pytest.mark.parametrize("command", [["list"], ["add", "t1"], ["remind"], ["history", "t1"]])
def test_a_data_dir_another_user_made_is_refused_and_left_alone(user, command):
    """Issue 15 item 4: another user pre-creates TOKENS_HOME (mode 777)."""
    planted = user.foreign(user.mkdir(user.base / "data", 0o777))
    result = user(*command, input="ghp_datadirDatadir0123456789")
    assert result.returncode == 2
    one_error_line(result, str(planted), "belongs to nobody")
    assert mode(planted) == 0o777 and os.stat(planted).st_uid == user.foreign_uid
    assert os.listdir(planted) == []


def test_a_shared_sticky_dir_is_not_chmod_ed_by_a_read_only_list(user):
    """Issue 9 item 20: TOKENS_HOME at a shared 1777 dir with other users' files."""
    shared = user.foreign(user.mkdir(user.base / "data", 0o1777))
    (shared / "someone-elses.txt").write_text("theirs")
    result = user("list")
    assert result.returncode == 2
    one_error_line(result, str(shared))
    assert mode(shared) == 0o1777


def test_a_parent_owned_by_another_user_is_refused(user):
    parent = user.foreign(user.mkdir(user.base / "theirs", 0o755))
    result = user("list", env={"TOKENS_HOME": str(parent / "data")})
    assert result.returncode == 2
    one_error_line(result, f"parent {parent}", "belongs to nobody")
    assert not (parent / "data").exists()


def test_a_world_writable_parent_without_sticky_bit_is_refused(user):
    parent = user.mkdir(user.base / "open", 0o777)
    result = user("list", env={"TOKENS_HOME": str(parent / "data")})
    assert result.returncode == 2
    one_error_line(result, f"parent {parent}", "writable by other users")
    assert not (parent / "data").exists() and mode(parent) == 0o777


def test_a_group_writable_parent_of_a_shared_group_is_refused(user):
    parent = user.mkdir(user.base / "group", 0o775)
    if user.foreign_uid is None:
        pytest.skip("needs root to give a directory to a shared group")
    os.chown(parent, user.uid, other_user.shared_group())
    result = user("list", env={"TOKENS_HOME": str(parent / "data")})
    assert result.returncode == 2
    one_error_line(result, f"parent {parent}", "writable by other users")


def test_a_group_writable_parent_of_the_users_own_group_is_accepted(user):
    """Debian OpenSSH's harmless group-writability: user-private groups under umask 002."""
    parent = user.mkdir(user.base / "upg", 0o775)
    os.chown(parent, user.uid, other_user.private_group_of(user.uid)) if user.foreign_uid is not None else None
    result = user("list", env={"TOKENS_HOME": str(parent / "data")})
    assert result.returncode == 0, result
    assert mode(parent / "data") == 0o700


def test_a_sticky_world_writable_parent_like_tmp_is_accepted(user):
    parent = user.mkdir(user.base / "tmp", 0o1777)
    user.give_to_root(parent)  # like /tmp: root's, sticky
    result = user("list", env={"TOKENS_HOME": str(parent / "data")})
    assert result.returncode == 0, result
    assert mode(parent / "data") == 0o700 and os.stat(parent / "data").st_uid == user.uid


# -- our own data dir ---------------------------------------------------------------------
def test_our_own_world_writable_data_dir_is_refused_not_fixed(user):
    data = user.mkdir(user.base / "data", 0o777)
    result = user("list")
    assert result.returncode == 2
    one_error_line(result, str(data), "writable by other users", f"chmod 700 {data}")
    assert mode(data) == 0o777


def test_our_own_readable_data_dir_is_tightened(user):
    data = user.mkdir(user.base / "data", 0o755)
    assert user("list").returncode == 0
    assert mode(data) == 0o700


def test_missing_parents_are_created_0700_under_umask_000(user):
    """Issue 15 item 4: under umask 000, ~/.local and ~/.local/share were created 0777."""
    result = user("list", env={"TOKENS_HOME": None, "XDG_DATA_HOME": None}, umask=0)
    assert result.returncode == 0, result
    for path in (user.base / ".local", user.base / ".local/share", user.base / ".local/share/tokenward"):
        assert mode(path) == 0o700, path
    assert mode(user.base / ".local/share/tokenward/inventory.sqlite3") == 0o600


def test_tokens_home_that_is_a_file_is_one_line(user):
    path = user.base / "data"
    path.write_text("not a directory")
    user.chown(path)
    for command in (["list"], ["add", "t1"]):
        result = user(*command, input="ghp_datadirDatadir0123456789")
        assert result.returncode == 2
        one_error_line(result, str(path), "not a directory")
    below = user("list", env={"TOKENS_HOME": str(path / "sub")})
    assert below.returncode == 2
    one_error_line(below, "not a directory")


def test_a_symlinked_tokens_home_to_our_own_dir_is_used(user):
    real = user.mkdir(user.base / "real", 0o700)
    link = user.base / "data"
    link.symlink_to(real)
    os.lchown(link, user.uid, user.gid)
    assert add(user).returncode == 0
    assert (real / "inventory.sqlite3").exists()


def test_a_symlinked_tokens_home_another_user_owns_is_refused(user):
    """Its owner could point it at a directory of theirs at any time."""
    real = user.mkdir(user.base / "real", 0o700)
    link = user.base / "data"
    link.symlink_to(real)
    user.foreign(link)
    result = add(user)
    assert result.returncode == 2
    one_error_line(result, str(link), "belongs to nobody")
    assert os.listdir(real) == []


# -- files in the data dir ----------------------------------------------------------------
def test_a_planted_inventory_is_refused_before_exec_runs_anything(user, tmp_path):
    """Issue 15 item 4: a replaced inventory whose env template sets BASH_ENV."""
    assert add(user).returncode == 0
    data = user.base / "data"
    planted = data / "inventory.sqlite3"
    user.foreign(planted)
    marker = user.base / "ran"
    result = user("exec", "--token", "t1", "--", "sh", "-c", f"touch {marker}")
    assert result.returncode == 2
    one_error_line(result, str(planted), "belongs to nobody")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["inventory.sqlite3", "audit.log"])
def test_a_data_file_writable_by_others_is_refused(user, name):
    assert add(user).returncode == 0
    path = user.base / "data" / name
    os.chmod(path, 0o666)
    result = user("history", "t1") if name == "audit.log" else user("list")
    assert result.returncode == 2
    one_error_line(result, str(path), "writable by other users")
    assert mode(path) == 0o666


@pytest.mark.parametrize("name", ["inventory.sqlite3", "audit.log"])
def test_a_data_file_that_is_a_symlink_is_refused(user, name):
    assert add(user).returncode == 0
    path = user.base / "data" / name
    elsewhere = user.base / f"elsewhere-{name}"
    shutil.move(path, elsewhere)
    path.symlink_to(elsewhere)
    os.lchown(path, user.uid, user.gid)
    result = user("history", "t1") if name == "audit.log" else user("list")
    assert result.returncode == 2
    one_error_line(result, str(path), "symlink")


def test_an_audit_log_of_another_user_is_refused_before_any_work(user):
    assert add(user).returncode == 0
    log = user.foreign(user.base / "data" / "audit.log")
    before = log.read_bytes()
    result = add(user, "t2", "ghp_secondSecond0123456789")
    assert result.returncode == 2
    one_error_line(result, str(log), "belongs to nobody")
    assert log.read_bytes() == before
    assert "t2" not in user("list").stdout


def test_doctor_reports_a_data_dir_that_is_not_ours(user):
    user.foreign(user.mkdir(user.base / "data", 0o700))
    result = user("doctor")
    assert result.returncode != 0
    assert "belongs to nobody" in result.stdout + result.stderr


def test_a_group_readable_inventory_of_ours_is_tightened_not_refused(user):
    assert add(user).returncode == 0
    path = user.base / "data" / "inventory.sqlite3"
    os.chmod(path, 0o640)
    assert user("list").returncode == 0
    assert mode(path) == 0o600


@pytest.mark.parametrize("suffix", ["-wal", "-shm"])
def test_a_planted_sqlite_side_file_is_refused(user, suffix):
    assert add(user).returncode == 0
    data = user.base / "data"
    planted = data / f"inventory.sqlite3{suffix}"
    planted.write_bytes(b"")
    user.foreign(planted)
    result = user("list")
    assert result.returncode == 2
    one_error_line(result, str(planted), "belongs to nobody")


def test_a_planted_keyring_backend_choice_is_refused(user):
    """The cached keyring backend names the code `get`/`exec` load to read values."""
    assert add(user).returncode == 0
    cache = user.base / "data" / "keyring-backend"
    cache.write_text("tests.keyring_backend.FileKeyring\n")
    user.foreign(cache)
    result = user("get", "t1", env={"PYTHON_KEYRING_BACKEND": None})
    assert result.returncode == 2, result
    one_error_line(result, str(cache), "belongs to nobody")
    assert "ghp_" not in result.stdout
