"""The rotate_command runner (issue 15 item 21): what the command writes to stderr
reaches the user with the old and the new value masked, and nothing the command
starts in the background outlives it, at its timeout or after it is done."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

OLD = "ghp_OLDoldOLDold0123456789abcdef"
NEW = "ghp_NEWnewNEWnew0123456789abcdef"


@pytest.fixture
def keyring(file_keyring):
    return file_keyring


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def background_pid(path: Path) -> int:
    return int(path.read_text().strip())


def kill_if_alive(pid: int) -> None:
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "rotate.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return json.dumps(str(path))


def test_old_and_new_values_are_masked_in_its_stderr(tokens, keyring, write_config, tmp_path):
    command = script(
        tmp_path,
        f"echo 'calling the API with {OLD}' >&2\n"
        f"printf 'debug: minted %s (was %s)' {NEW} {OLD} >&2\n"
        f"echo {NEW}\n",
    )
    write_config(f"[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot")
    assert result.returncode == 0, result
    assert "calling the API with ****" in result.stderr
    assert "debug: minted **** (was ****)" in result.stderr
    assert OLD not in result.stderr + result.stdout and NEW not in result.stderr + result.stdout
    assert tokens("get", "gh-bot").stdout.strip() == NEW


def test_a_failing_command_has_the_old_value_masked_too(tokens, keyring, write_config, tmp_path):
    command = script(tmp_path, f"echo 'token {OLD} refused by the API' >&2\nexit 4\n")
    write_config(f"[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot")
    assert result.returncode == 3, result
    assert "token **** refused by the API" in result.stderr and OLD not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: rotate_command for gh-bot")


def test_its_background_children_die_at_the_timeout(tokens, keyring, write_config, tmp_path):
    pidfile = tmp_path / "bg.pid"
    command = script(tmp_path, f"sleep 300 > /dev/null 2>&1 &\necho $! > {pidfile}\nsleep 300\n")
    write_config(f"[rotate]\ntimeout = 1\n[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot", timeout=30)
    pid = background_pid(pidfile)
    try:
        assert result.returncode == 3, result
        assert "no value within 1s; nothing changed" in result.stderr
        assert not alive(pid)
    finally:
        kill_if_alive(pid)
    assert tokens("get", "gh-bot").stdout.strip() == OLD


def test_a_child_holding_its_output_open_does_not_outlive_it(tokens, keyring, write_config, tmp_path):
    pidfile = tmp_path / "bg.pid"
    command = script(tmp_path, f"sleep 300 &\necho $! > {pidfile}\necho {NEW}\n")
    write_config(f"[rotate]\ntimeout = 1\n[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot", timeout=30)
    pid = background_pid(pidfile)
    try:
        assert result.returncode == 0, result  # the command itself gave its value and exited 0
        assert not alive(pid)
    finally:
        kill_if_alive(pid)
    assert tokens("get", "gh-bot").stdout.strip() == NEW
