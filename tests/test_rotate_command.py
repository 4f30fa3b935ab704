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


# -- issue 15 follow-up, item 2: bounded output, a total deadline, no orphans -------------


@pytest.mark.parametrize("redirect", ["", ">&2"])
def test_endless_output_is_capped_and_the_timeout_holds(tokens, keyring, write_config, tmp_path, redirect):
    import subprocess

    from tests import servers

    command = script(tmp_path, f"exec /usr/bin/yes ghp_endless {redirect}\n")
    write_config(f"[rotate]\ntimeout = 3\n[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = subprocess.run(
        ["sh", "-c", f"ulimit -v 1048576; exec {servers.find_tool('tokens')} rotate gh-bot"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 3, result
    assert "no value within 3s; nothing changed" in result.stderr and "internal error" not in result.stderr
    assert tokens("get", "gh-bot").stdout.strip() == OLD


def test_endless_stderr_is_capped_with_a_note(tokens, keyring, write_config, tmp_path):
    command = script(tmp_path, "yes 'noise' | head -c 1000000 >&2\nexit 4\n")
    write_config(f"[rotate]\ntimeout = 30\n[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot", timeout=60)
    assert result.returncode == 3, result
    assert "internal error" not in result.stderr
    assert "a further 934464 bytes of its stderr were discarded" in result.stderr
    assert len(result.stderr) < 70_000


def test_escape_sequences_and_case_variants_in_its_stderr_are_neutralised(tokens, keyring, write_config, tmp_path):
    command = script(
        tmp_path,
        "printf '\\033]0;pwned\\007\\033[2Jcleared\\n' >&2\n"
        f"echo 'upper {OLD.upper()} lower {OLD.lower()}' >&2\nexit 4\n",
    )
    write_config(f"[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot")
    assert result.returncode == 3, result
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;pwned\\x07\\x1b[2Jcleared" in result.stderr
    assert "upper **** lower ****" in result.stderr


def test_killing_tokens_kills_the_command_and_its_children(tokens, keyring, write_config, tmp_path):
    import subprocess
    import time

    from tests import servers

    pidfile = tmp_path / "bg.pid"
    command = script(tmp_path, f"sleep 300 > /dev/null 2>&1 &\necho $$ $! > {pidfile}.tmp\nmv {pidfile}.tmp {pidfile}\nsleep 300\n")
    write_config(f"[rotate]\ntimeout = 600\n[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    proc = subprocess.Popen([servers.find_tool("tokens"), "rotate", "gh-bot"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    pids: list[int] = []
    try:
        for _ in range(600):
            if pidfile.exists():
                break
            time.sleep(0.05)
        pids = [int(p) for p in pidfile.read_text().split()]
        proc.kill()
        proc.wait()
        for _ in range(200):
            if not any(alive(pid) for pid in pids):
                break
            time.sleep(0.05)
        assert [pid for pid in pids if alive(pid)] == []
    finally:
        for pid in pids:
            kill_if_alive(pid)


def test_a_command_that_closes_its_output_before_it_exits_is_not_killed(tokens, keyring, write_config, tmp_path):
    """EOF on its pipes is not the end of the command: it is waited for (within its timeout)
    before its group is killed, so its exit status is its own, not SIGKILL's."""
    command = script(tmp_path, f"echo {NEW}\nexec >&- 2>&-\nsleep 0.5\nexit 0\n")
    write_config(f"[rotate.token]\ngh-bot = [{command}]\n")
    assert tokens("add", "gh-bot", input=OLD + "\n").returncode == 0
    result = tokens("rotate", "gh-bot")
    assert result.returncode == 0, result
    assert tokens("get", "gh-bot").stdout.strip() == NEW
