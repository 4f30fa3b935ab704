"""`tokens exec` end to end: real keyring, real twine and uv against a real pypiserver,
masking, pseudo-terminal, signals, exit status, npm userconfig, audit log and history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import servers
from tests.fixtures_pypiserver import mint, upload_server, write_sdist, write_wheel  # noqa: F401 - fixture

pytestmark = [pytest.mark.keyring_real]

VALUE = "ghp_E2Eexec0123456789abcdefSECRETvalue"
PY = sys.executable


@pytest.fixture
def kr(real_keyring, write_config):
    """A keyring service of its own, so tests never see each other's values."""
    write_config(f'[stores.keyring]\nservice = "tokenward-test-{uuid.uuid4().hex[:8]}"\n')


@pytest.fixture
def work(tmp_path, monkeypatch):
    directory = tmp_path / "work"
    (directory / "dist").mkdir(parents=True)
    monkeypatch.chdir(directory)
    return directory


def add(tokens, name, value, *args):
    result = tokens("add", name, *args, input=value)
    assert result.returncode == 0, result
    return result


def audit(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]


def no_values(result, *values):
    for value in values:
        assert value not in result.stdout and value not in result.stderr


# -- the real upload server ------------------------------------------------------------


def twine_env(tmp_path) -> dict:
    # No ~/.pypirc from the machine. (twine skips keyring: TWINE_USERNAME/PASSWORD are set.)
    return {"HOME": str(tmp_path)}


def test_twine_upload_with_named_token(tokens, kr, work, upload_server, tmp_path, data_dir):
    add(tokens, "right", upload_server.token, "--repository", upload_server.url)
    wheel = write_wheel(work / "dist", "tw-right", "1.0")
    result = tokens("exec", "--token", "right", "--", "twine", "upload", "--non-interactive", "--repository-url",
                    upload_server.url, "dist/*", env=twine_env(tmp_path))  # fmt: skip
    assert result.returncode == 0, result
    assert upload_server.has(wheel.name)
    no_values(result, upload_server.token)
    entry = audit(data_dir)[-1]
    assert entry["event"] == "exec" and entry["token"] == "right" and entry["exit_status"] == 0
    assert entry["tool"] == "twine" and entry["projects"] == ["tw-right"] and entry["narrowed"] is False
    assert upload_server.token not in (data_dir / "audit.log").read_text()


def test_wrong_token_fails_with_twines_exit_status(tokens, kr, work, upload_server, tmp_path):
    wrong = mint(["tw-right"], identifier="the-wrong-one")
    add(tokens, "wrong", wrong, "--repository", upload_server.url)
    write_sdist(work / "dist", "tw-right", "1.1")
    argv = ["twine", "upload", "--non-interactive", "--repository-url", upload_server.url, "dist/*"]
    direct = subprocess.run(
        [servers.find_tool("twine"), *argv[1:]], cwd=work, capture_output=True,
        env={**os.environ, **twine_env(tmp_path), "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": wrong},
    )  # fmt: skip
    assert direct.returncode != 0
    result = tokens("exec", "--token", "wrong", "--", *argv, env=twine_env(tmp_path))
    assert result.returncode == direct.returncode, result
    assert not upload_server.has("tw_right-1.1.tar.gz")
    no_values(result, wrong)


def test_the_narrowest_of_three_tokens_is_chosen(tokens, kr, work, upload_server, tmp_path, data_dir):
    # Scopes come from the tokens' own caveats: user-wide, three projects, two projects.
    add(tokens, "wide", mint(identifier="wide"), "--repository", upload_server.url)
    add(tokens, "three", mint(["tw-right", "tw-other", "tw-third"], identifier="three"), "--repository", upload_server.url)
    add(tokens, "two", upload_server.token, "--repository", upload_server.url)
    add(tokens, "elsewhere", mint(["tw-right"], identifier="pypi"))  # for PyPI itself
    wheel = write_wheel(work / "dist", "tw_right", "2.0")
    sdist = write_sdist(work / "dist", "tw-right", "2.0")
    result = tokens("exec", "--", "twine", "upload", "--non-interactive", "--repository-url", upload_server.url,
                    str(wheel), str(sdist), env=twine_env(tmp_path))  # fmt: skip
    assert result.returncode == 0, result
    assert "using two" in result.stderr
    assert upload_server.has(wheel.name) and upload_server.has(sdist.name)
    assert audit(data_dir)[-1]["token"] == "two"


def test_no_token_fits_runs_nothing(tokens, kr, work, upload_server, tmp_path, data_dir):
    add(tokens, "other", mint(["tw-other"]), "--repository", upload_server.url)
    add(tokens, "prod", mint(["tw-right"]))
    marker = tmp_path / "ran"
    fake = tmp_path / "bin" / "twine"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    write_wheel(work / "dist", "tw-right", "3.0")
    result = tokens("exec", "--", "twine", "upload", "--repository-url", upload_server.url, "dist/*",
                    env={"PATH": f"{fake.parent}:{os.environ['PATH']}"})  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("Error: no token fits `twine upload`")
    assert "other (scoped to tw-other, not tw-right)" in result.stderr and "prod (for https://upload.pypi.org/legacy/)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not marker.exists()
    assert not any(e["event"] == "exec" for e in audit(data_dir))


def test_uv_publish(tokens, kr, work, upload_server, tmp_path):
    uv = servers.find_tool("uv")
    if uv is None:
        servers.unavailable("uv is not installed")
    add(tokens, "right", upload_server.token, "--repository", upload_server.url)
    wheel = write_wheel(work / "dist", "tw-right", "4.0")
    result = tokens("exec", "--", uv, "publish", "--publish-url", upload_server.url, "dist/*",
                    env={"UV_CACHE_DIR": str(tmp_path / "uv-cache"), "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result
    assert upload_server.has(wheel.name)
    no_values(result, upload_server.token)


# -- running the child ---------------------------------------------------------------------


def test_masking_no_mask_and_exit_status(tokens, kr, data_dir):
    add(tokens, "gh", VALUE)
    code = "import os,sys; v=os.environ['GH_TOKEN']; print('out', v); print('err', v, file=sys.stderr); sys.exit(7)"
    result = tokens("exec", "--token", "gh", "--", PY, "-c", code)
    assert result.returncode == 7
    assert result.stdout == "out ****\n" and result.stderr.endswith("err ****\n")
    unmasked = tokens("exec", "--token", "gh", "--no-mask", "--", PY, "-c", code)
    assert VALUE in unmasked.stdout and unmasked.returncode == 7
    assert VALUE not in (data_dir / "audit.log").read_text()
    history = tokens("history", "gh", "--json")
    assert [e["exit_status"] for e in json.loads(history.stdout) if e["event"] == "exec"] == [7, 7]
    text = tokens("history", "gh")
    assert text.returncode == 0 and "exec" in text.stdout and VALUE not in text.stdout


def test_value_split_across_writes_is_masked(tokens, kr):
    add(tokens, "gh", VALUE)
    code = (
        "import os,sys,time; v=os.environ['GH_TOKEN']\n"
        "for i in range(0, len(v), 3):\n"
        "    sys.stdout.write(v[i:i+3]); sys.stdout.flush(); time.sleep(0.01)\n"
        "print()"
    )
    result = tokens("exec", "--token", "gh", "--", PY, "-c", code)
    assert result.stdout == "****\n", result


def test_stdin_passes_through(tokens, kr):
    add(tokens, "gh", VALUE)
    result = tokens("exec", "--token", "gh", "--", PY, "-c", "import sys; print(sys.stdin.read().upper())", input="hello")
    assert result.stdout == "HELLO\n"


def test_child_killed_by_signal(tokens, kr):
    add(tokens, "gh", VALUE)
    result = tokens("exec", "--token", "gh", "--", PY, "-c", "import os,signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert result.returncode == 128 + signal.SIGKILL


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded(kr, tokens, signum):
    add(tokens, "gh", VALUE)
    code = (
        "import signal,sys,time\n"
        "def h(s, f):\n    print('got', s, flush=True); sys.exit(40)\n"
        f"signal.signal({int(signum)}, h)\nprint('ready', flush=True)\ntime.sleep(30)\n"
    )
    proc = subprocess.Popen([servers.find_tool("tokens"), "exec", "--token", "gh", "--", PY, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signum)
    out, _err = proc.communicate(timeout=20)
    assert out == f"got {int(signum)}\n".encode()
    assert proc.returncode == 40


def test_pseudo_terminal_when_stdout_is_a_terminal(kr, tokens):
    pexpect = pytest.importorskip("pexpect")
    add(tokens, "gh", VALUE)
    code = "import os,sys; print('tty', sys.stdout.isatty(), sys.stderr.isatty(), os.environ['GH_TOKEN'])"
    child = pexpect.spawn(servers.find_tool("tokens"), ["exec", "--token", "gh", "--", PY, "-c", code], env=dict(os.environ), timeout=20)
    child.expect(pexpect.EOF)
    output = child.before.decode()
    child.close()
    assert "tty True True ****" in output, output
    assert VALUE not in output
    assert child.exitstatus == 0


def test_expired_refused_overdue_warned_strict_refused(tokens, kr, data_dir):
    past = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    add(tokens, "old", VALUE, "--expires", past)
    result = tokens("exec", "--token", "old", "--", "true")
    assert result.returncode == 2 and "expired" in result.stderr
    long_ago = (datetime.now(timezone.utc) - timedelta(days=200)).date().isoformat()
    add(tokens, "due", VALUE + "x", "--created", long_ago, "--rotate-every", "90d")
    warned = tokens("exec", "--token", "due", "--", "true")
    assert warned.returncode == 0 and "overdue" in warned.stderr
    strict = tokens("exec", "--strict", "--token", "due", "--", "true")
    assert strict.returncode == 2 and "--strict" in strict.stderr


def test_env_templates_and_shadow_warning(tokens, kr):
    # A constant outside the publish tools' usernames is allowed by name (issue 15 follow-up item 2).
    add(tokens, "custom", VALUE, "--env", "MY_TOKEN=Bearer {value}", "--env", "MY_USER=bot", "--allow-env", "MY_USER")
    code = "import os; print(os.environ['MY_TOKEN'] == 'Bearer ' + os.environ['X'], os.environ['MY_USER'])"
    result = tokens("exec", "--token", "custom", "--allow-env", "MY_USER", "--", PY, "-c", code, env={"X": VALUE, "MY_USER": "me"})
    assert result.stdout == "True bot\n", result
    assert "MY_USER is set in your environment" in result.stderr
    bad = tokens("add", "bad", "--env", "NOVALUE=x", input=VALUE)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --env")


def test_npm_gets_a_temporary_userconfig(tokens, kr, tmp_path, work):
    add(tokens, "npm-tok", "npm_" + "A" * 36, "--scope", "project:my-pkg")
    (work / "package.json").write_text(json.dumps({"name": "my-pkg", "version": "1.0.0"}))
    report = tmp_path / "report.json"
    fake = tmp_path / "bin" / "npm"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{PY}\nimport json, os, stat\np = os.environ['NPM_CONFIG_USERCONFIG']\n"
        f"json.dump({{'path': p, 'text': open(p).read(), 'mode': stat.S_IMODE(os.stat(p).st_mode),"
        f" 'set': os.environ['NODE_AUTH_TOKEN'].startswith('npm_')}}, open({str(report)!r}, 'w'))\n"
    )
    fake.chmod(0o755)
    result = tokens("exec", "--", "npm", "publish", env={"PATH": f"{fake.parent}:{os.environ['PATH']}", "HOME": str(tmp_path)})
    assert result.returncode == 0, result
    seen = json.loads(report.read_text())
    assert seen["text"].strip().endswith("//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}")
    assert seen["mode"] == 0o600 and seen["set"]
    assert not Path(seen["path"]).exists()


def test_unknown_command_without_token_is_one_line(tokens, kr):
    add(tokens, "gh", VALUE)
    result = tokens("exec", "--", "make", "release")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--token" in result.stderr


def test_missing_command_does_not_mark_use(tokens, kr, data_dir):
    add(tokens, "gh", VALUE)
    result = tokens("exec", "--token", "gh", "--", "no-such-command-xyz")
    assert result.returncode == 2 and "command not found" in result.stderr
    assert not any(e["event"] == "exec" for e in audit(data_dir))


def test_history_of_unknown_token(tokens):
    result = tokens("history", "nobody")
    assert result.returncode == 2 and "no token named" in result.stderr


def test_pypi_upload_gets_a_narrowed_copy(tokens, kr, work, tmp_path, data_dir):
    import pypitoken

    stored = mint(identifier="user-wide")
    add(tokens, "pypi-wide", stored)
    write_wheel(work / "dist", "tw-right", "9.0")
    seen = tmp_path / "seen"
    fake = tmp_path / "bin" / "twine"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nprintf %s \"$TWINE_PASSWORD\" > {seen}\necho \"password: $TWINE_PASSWORD\"\necho 'HTTPError: 403 Forbidden from https://upload.pypi.org/legacy/' >&2\nexit 1\n")
    fake.chmod(0o755)
    path = {"PATH": f"{fake.parent}:{os.environ['PATH']}"}
    result = tokens("exec", "--", "twine", "upload", "dist/*", env=path)
    assert result.returncode == 1
    handed = seen.read_text()
    assert handed != stored and result.stdout == "password: ****\n"  # (the 403 line: the hint below)
    assert "narrowed to tw-right" in result.stderr and "--no-narrow" in result.stderr
    token = pypitoken.Token.load(handed)
    token.check(key="tokenward-test-key", project_name="tw-right")
    with pytest.raises((pypitoken.ValidationError, ValueError)):
        pypitoken.Token.load(handed).check(key="tokenward-test-key", project_name="other")
    with pytest.raises((pypitoken.ValidationError, ValueError)):
        pypitoken.Token.load(handed).check(key="tokenward-test-key", project_name="tw-right", now=int(time.time()) + 16 * 60)
    assert audit(data_dir)[-1]["narrowed"] is True
    assert handed not in (data_dir / "audit.log").read_text()
    as_stored = tokens("exec", "--no-narrow", "--", "twine", "upload", "dist/*", env=path)
    assert as_stored.returncode == 1 and seen.read_text() == stored


# -- the command is found first; the child's output is never dropped silently ------------------


def test_missing_program_is_found_before_any_value_is_read(tokens, file_keyring, work, tmp_path, data_dir):
    """Issue 9 item 23: no value read, no "using ..." line, for a command that cannot run."""
    stored = mint(identifier="user-wide")
    add(tokens, "pypi-wide", stored)
    write_wheel(work / "dist", "tw-right", "9.1")
    file_keyring.unlink()  # reading the value now fails: the command must be refused before that
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = tokens("exec", "--", "twine", "upload", "dist/*", env={"PATH": str(empty)})
    assert result.returncode == 2, result
    assert result.stderr == "Error: command not found: 'twine'\n"
    assert not any(e["event"] == "exec" for e in audit(data_dir))


def shell(tokens_args: str, redirect: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`tokens ARGS REDIRECT` through sh, so the shell can close or redirect our streams."""
    exe = servers.find_tool("tokens")
    return subprocess.run(["sh", "-c", f"{exe} {tokens_args} {redirect}"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)  # fmt: skip


def test_output_to_a_full_disk_is_an_error_not_silence(tokens, kr, data_dir):
    """Issue 9 item 22: `exec ... > /dev/full` said nothing and exited 0."""
    add(tokens, "gh", VALUE)
    result = shell("exec --token gh -- echo hello", "> /dev/full")
    assert result.returncode == 3, result
    assert result.stderr == "Error: cannot write the command's stdout: No space left on device\n"
    entry = audit(data_dir)[-1]
    assert entry["exit_status"] == 0 and entry["output_lost"] == ["stdout"]
    failing = shell("exec --token gh -- sh -c 'echo hello; exit 5'", "> /dev/full")
    assert failing.returncode == 5  # the child's own failure is kept


def test_closed_stderr_keeps_the_childs_status(tokens, kr, data_dir):
    add(tokens, "gh", VALUE)
    result = shell("exec --token gh -- sh -c 'echo out; echo err >&2; exit 3'", "2>&-")
    assert result.returncode == 3 and result.stdout == "out\n", result
    assert audit(data_dir)[-1]["exit_status"] == 3


def test_closed_stdout_runs_the_child_and_reports_lost_output(tokens, kr, data_dir):
    add(tokens, "gh", VALUE)
    quiet = shell("exec --token gh -- sh -c 'exit 4'", ">&-")
    assert quiet.returncode == 4 and quiet.stderr == "", quiet
    loud = shell("exec --token gh -- echo hello", ">&-")
    assert loud.returncode == 3 and loud.stderr == "Error: cannot write the command's stdout: standard output is closed\n", loud
    assert [e["exit_status"] for e in audit(data_dir) if e["event"] == "exec"] == [4, 0]
    inventory = data_dir / "inventory.sqlite3"
    unmasked = shell("exec --no-mask --token gh -- echo hello", ">&-")  # the child sees the closed stream itself
    assert unmasked.returncode != 0 and b"hello" not in inventory.read_bytes()


@pytest.mark.parametrize("mask", ["", "--no-mask"])
def test_the_child_is_started_as_popen_started_it(tokens, kr, tmp_path, mask):
    """The child is spawned with os.posix_spawn (issue 13): as with subprocess.Popen before,
    a descriptor our caller left open without close-on-exec (fd 7 here) does not reach it,
    and SIGPIPE, which Python ignores, is back to its default (`yes | head` ends)."""
    add(tokens, "gh", VALUE)
    probe = tmp_path / "probe.sh"
    probe.write_text("ls /proc/$$/fd | sort -n | tr '\\n' ' '\ngrep SigIgn /proc/$$/status\n")
    result = shell(f"exec --token gh {mask} -- sh {probe}", "7</dev/null")
    assert result.returncode == 0, result
    fds, ignored = result.stdout.split("SigIgn:")
    assert "7" not in fds.split(), result.stdout  # (sh keeps the script open on a descriptor of its own)
    assert not int(ignored, 16) & (1 << (signal.SIGPIPE - 1)), ignored
    ended = shell(f"exec --token gh {mask} -- sh -c 'yes | head -n 1'", "")
    assert (ended.returncode, ended.stdout) == (0, "y\n"), ended
