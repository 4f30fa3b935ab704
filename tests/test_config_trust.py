"""Config-file trust (issue 15 item 4, follow-up): the config chooses `rotate_command`s
(code we run) and the Vault URL a token is sent to, so it is trusted only as the data
dir is (src/tokenward/paths.py, OpenSSH's rule for ~/.ssh): owned by us or root,
writable by nobody else, in a directory chain nobody else can change, reached through no
symbolic link another user owns. And reading it never blocks: a FIFO or /dev/zero as the
config is refused at once, in every command and in shell completion.

The "another user's" cases need root (to give a file to `nobody`) and skip without it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.test_completion import complete
from tests.test_schedule import crontab, home  # noqa: F401 - fixtures

NOBODY = 65534
GOOD = '[stores.keyring]\n\n[rotate.token]\nt1 = ["/bin/echo", "new"]\n'


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: a file owned by another user cannot be made without it")


def one_error_line(result, *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], result


def config_at(path: Path, monkeypatch, mode: int = 0o600, text: str = GOOD) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    monkeypatch.setenv("TOKENS_CONFIG", str(path))
    return path


@pytest.fixture
def evil(tmp_path, monkeypatch) -> Path:
    """The try-out's `$T/shared/evilcfg.toml`: nobody's, mode 0666, in a shared sticky dir."""
    needs_root()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    os.chown(shared, NOBODY, NOBODY)
    path = config_at(shared / "evilcfg.toml", monkeypatch, 0o666)
    os.chown(path, NOBODY, NOBODY)
    return path


def test_a_config_another_user_may_write_is_refused_by_every_command(tokens, evil):
    for args in (["list"], ["rotate", "t1"], ["add", "t2"]):
        result = tokens(*args, input="ghp_configTrust0123456789\n")
        assert result.returncode == 2, (args, result)
        one_error_line(result, str(evil))


def test_doctor_fails_on_a_config_another_user_may_write(tokens, evil):
    result = tokens("doctor")
    assert result.returncode == 2, result
    assert f"[FAIL] config: config file {evil}: directory {evil.parent} belongs to nobody" in result.stdout
    assert "[  ok] config" not in result.stdout
    checks = json.loads(tokens("doctor", "--json").stdout)
    config = next(c for c in checks if c["subject"] == "config")
    assert config["state"] == "fail" and str(evil.parent) in config["detail"]


def test_schedule_install_does_not_put_an_untrusted_config_into_the_crontab(tokens, evil, home, crontab):
    result = tokens("--config", str(evil), "schedule", "install", "--cron")
    assert result.returncode == 2, result
    one_error_line(result, str(evil))
    assert not crontab.exists() or "evilcfg" not in crontab.read_text()


def test_a_config_owned_by_another_user_is_refused_even_unwritable(tokens, tmp_path, monkeypatch):
    needs_root()
    path = config_at(tmp_path / "config.toml", monkeypatch, 0o644)
    os.chown(path, NOBODY, NOBODY)
    result = tokens("list")
    assert result.returncode == 2
    one_error_line(result, str(path), "belongs to nobody")


def test_a_symlink_of_another_user_on_the_way_to_the_config_is_refused(tokens, tmp_path, monkeypatch):
    """A dotfiles-style link is fine when it is ours; one nobody owns could be re-pointed."""
    needs_root()
    real = tmp_path / "dotfiles"
    real.mkdir()
    config_at(real / "config.toml", monkeypatch)
    link = tmp_path / "cfgdir"
    link.symlink_to(real)
    monkeypatch.setenv("TOKENS_CONFIG", str(link / "config.toml"))
    assert tokens("list").returncode == 0
    os.lchown(link, NOBODY, NOBODY)
    result = tokens("list")
    assert result.returncode == 2
    one_error_line(result, str(link), "belongs to nobody")


@pytest.mark.parametrize(
    "where, mode, refused",
    [
        ("file", 0o666, True),
        ("file", 0o646, True),
        ("file", 0o644, False),
        ("dir", 0o777, True),
        ("dir", 0o1777, True),  # the file's own dir: another user could have planted it
        ("dir", 0o755, False),
        ("grandparent", 0o777, True),
        ("grandparent", 0o1777, False),  # sticky, like /tmp: our entry cannot be replaced
    ],
)
def test_modes_on_the_config_and_its_directory_chain(tokens, tmp_path, monkeypatch, where, mode, refused):
    directory = tmp_path / "top" / "tokenward"
    directory.mkdir(parents=True)
    path = config_at(directory / "config.toml", monkeypatch)
    target = {"file": path, "dir": directory, "grandparent": directory.parent}[where]
    os.chmod(target, mode)
    result = tokens("list")
    if refused:
        assert result.returncode == 2, result
        one_error_line(result, str(target), "writable by other users")
    else:
        assert result.returncode == 0, result


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_without_blocking(tokens, tmp_path, kind):
    if kind == "/dev/zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "config.toml"
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path = tmp_path / "config.toml"
        path.mkdir(mode=0o700)
    else:
        path = tmp_path / "config.toml"
        path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    result = tokens("--config", str(path), "list", timeout=60)  # blocking would raise TimeoutExpired
    assert result.returncode == 2, result
    one_error_line(result, str(path))
    if kind != "huge":
        assert "not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_completion_never_blocks_on_a_config_that_is_a_device_or_fifo(tmp_path, kind):
    path = "/dev/zero"
    if kind == "fifo":
        path = str(tmp_path / "cfg.fifo")
        os.mkfifo(path, 0o600)
    proc = complete(f"tokens --config {path} add x --store ")  # complete() fails on a 60 s timeout
    assert proc.returncode == 0 and proc.stderr == "", proc
    assert proc.stdout.strip() == ""


def test_completion_ignores_a_config_another_user_may_write(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[stores.planted]\ntype = "vault"\nurl = "http://127.0.0.1:9"\n')
    os.chmod(path, 0o666)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666
    proc = complete(f"tokens --config {path} add x --store ")
    assert proc.returncode == 0 and proc.stderr == "", proc
    assert "planted" not in proc.stdout
