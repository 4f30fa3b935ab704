"""Test servers die with the test process (issue 9, "Also"): a pytest killed with
SIGKILL leaves no OpenBao, moto, pypiserver or verdaccio behind, and scripts/with-keyring
leaves no dbus-daemon or gnome-keyring-daemon behind when its session is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import servers

ROOT = Path(__file__).resolve().parent.parent

INNER_TEST = '''
import json, os, time
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import moto, openbao, server_dir, verdaccio  # noqa: F401 - fixtures
from tests.fixtures_pypiserver import upload_server  # noqa: F401 - fixture


def test_hold_servers(request, openbao, moto, upload_server):
    try:
        request.getfixturevalue("verdaccio")
    except BaseException as exc:  # skipped here (no node): the others still count
        if type(exc).__name__ not in ("Skipped", "Failed"):
            raise
    mine = [json.loads(p.read_text()) for p in servers.PID_DIR.glob("*.json")]
    mine = [info for info in mine if info["owner"] == os.getpid()]
    Path(os.environ["SERVERS_OUT"]).write_text(json.dumps(mine))
    time.sleep(600)
'''


def _wait_for(path: Path, proc: subprocess.Popen, what: str, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"{what} exited with {proc.returncode} before it was ready: {out[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{what} was not ready within {limit}s")
        time.sleep(0.2)


def _survivors(pids: list[int], limit: float = 30) -> list[int]:
    """The pids still alive once they had `limit` seconds to die (death is immediate with
    a parent-death signal; the wait only absorbs scheduling on a busy machine)."""
    deadline = time.monotonic() + limit
    while True:
        alive = [pid for pid in pids if servers._alive(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _group_members(pgids: list[int]) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_pytest_leaves_no_server_behind(tmp_path):
    inner = tmp_path / "test_inner_hold.py"
    inner.write_text(textwrap.dedent(INNER_TEST))
    out = tmp_path / "servers.json"
    env = dict(os.environ, SERVERS_OUT=str(out), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(inner)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    _wait_for(out, proc, "the inner pytest")
    started = json.loads(out.read_text())
    names = sorted(os.path.basename(info["argv0"]) for info in started)
    assert {"bao", "moto_server", "pypi-server"} <= set(names), names
    pids = [info["pgid"] for info in started]
    assert _survivors(pids, limit=0) == pids  # all running

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert _survivors(pids) == [], f"still running after pytest was killed: {names}"
    assert _survivors(_group_members(pids)) == []
    assert servers.reap_orphans() == []  # nothing left for the next session to reap


PARALLEL_TEST = '''
import json, os, time
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import openbao, server_dir  # noqa: F401 - fixtures


@pytest.mark.parametrize("n", [1, 2])
def test_hold_servers(openbao, n):
    mine = [json.loads(p.read_text())["pgid"] for p in servers.PID_DIR.glob("*.json")]
    mine = [pgid for pgid in mine if json.loads((servers.PID_DIR / f"{pgid}.json").read_text())["owner"] == os.getpid()]
    held = {"worker": os.getpid(), "servers": mine, "data_home": os.environ["XDG_DATA_HOME"],
            "bus": os.environ["DBUS_SESSION_BUS_ADDRESS"], "script": os.getppid()}
    out = Path(os.environ["SERVERS_OUT"])
    (out / f"{n}.tmp").write_text(json.dumps(held))
    (out / f"{n}.tmp").rename(out / f"{n}.json")
    time.sleep(600)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_parallel_run_leaves_no_worker_server_or_keyring_behind(tmp_path):
    """scripts/test runs pytest-xdist workers, each with its own servers and its own
    scripts/with-keyring session (tests/conftest.py): a controller killed with SIGKILL
    takes every worker with it, and so their servers, D-Bus daemons and keyrings."""
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)):
            servers.unavailable(f"{tool} is not installed")
    (tmp_path / "test_inner_parallel.py").write_text(textwrap.dedent(PARALLEL_TEST))
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_xdist_setupnodes  # noqa: F401\n")
    out = tmp_path / "held"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(SERVERS_OUT=str(out), PYTHONPATH=str(ROOT), TOKENWARD_IN_KEYRING_SESSION="1")  # a keyring per worker
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "load",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner_parallel.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    _wait_for(out / "1.json", proc, "the first worker")
    _wait_for(out / "2.json", proc, "the second worker")
    held = [json.loads((out / f"{n}.json").read_text()) for n in (1, 2)]
    workers = [h["worker"] for h in held]
    assert len(set(workers)) == 2 and len({h["bus"] for h in held}) == 2, held  # two workers, two buses
    server_groups = [pgid for h in held for pgid in h["servers"]]
    assert len(server_groups) == 2, held  # an OpenBao each
    sessions = [_parent(h["script"]) for h in held]
    assert [_comm(s) for s in sessions] == ["dbus-run-sessio"] * 2
    daemons = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _comm(int(e.name)) == "dbus-daemon"]
    daemons = [pid for pid in daemons if _parent(pid) in sessions]
    keyrings = [pid for h in held for pid in _with_environ(f"XDG_DATA_HOME={h['data_home']}".encode())
                if _comm(pid).startswith("gnome-keyring")]  # fmt: skip
    assert len(daemons) == 2 and len(keyrings) == 2, (daemons, keyrings)
    everything = workers + server_groups + _group_members(server_groups) + sessions + daemons + keyrings
    assert _survivors(everything, limit=0) == everything  # all running

    os.kill(proc.pid, signal.SIGKILL)  # the controller only
    proc.wait()

    assert _survivors(everything) == [], [(_comm(p), p) for p in everything if servers._alive(p)]
    assert not any(Path(h["data_home"]).exists() for h in held)  # each keyring's directory is gone too
    assert servers.reap_orphans() == []


def test_the_next_session_reaps_a_server_group_whose_pytest_is_gone(tmp_path):
    """The second line of defence: a pid file whose owner is dead gets its group killed."""
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait()  # a test session that is gone
    forks = "import subprocess, sys, time; subprocess.Popen(['sleep', '600']); print(flush=True); time.sleep(600)"
    orphan = subprocess.Popen([sys.executable, "-c", forks], start_new_session=True, stdout=subprocess.PIPE)
    orphan.stdout.readline()  # its child is started
    servers.PID_DIR.mkdir(mode=0o700, exist_ok=True)
    record = servers.PID_DIR / f"{orphan.pid}.json"
    record.write_text(json.dumps({"owner": owner.pid, "owner_start": "0", "pgid": orphan.pid,
                                  "start": servers._start_time(orphan.pid), "argv0": "server"}))  # fmt: skip
    members = _group_members([orphan.pid])
    assert len(members) >= 2  # the server and what it forked
    assert servers.reap_orphans() == ["server"]
    orphan.wait()
    assert _survivors(members) == []
    assert not record.exists()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _with_environ(needle: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_with_keyring_leaves_no_daemon_when_its_session_is_killed(tmp_path):
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)):
            servers.unavailable(f"{tool} is not installed")
    out = tmp_path / "session"
    env = {k: v for k, v in os.environ.items() if k != "TOKENWARD_IN_KEYRING_SESSION"}
    script = f'echo "$$ $PPID $XDG_DATA_HOME" > {out}.tmp && mv {out}.tmp {out} && exec sleep 600'
    proc = subprocess.Popen([str(ROOT / "scripts" / "with-keyring"), "sh", "-c", script], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    _wait_for(out, proc, "scripts/with-keyring")
    inner, keyring_script, data_home = out.read_text().split()
    session = _parent(int(keyring_script))
    assert _comm(session) == "dbus-run-sessio"
    daemons = [pid for pid in _group_members([os.getpgid(session)]) if _comm(pid) == "dbus-daemon"]
    keyrings = [pid for pid in _with_environ(f"XDG_DATA_HOME={data_home}".encode()) if _comm(pid).startswith("gnome-keyring")]
    assert daemons and keyrings, (daemons, keyrings)

    os.kill(session, signal.SIGKILL)  # the session manager itself, not only the test process
    os.kill(int(inner), signal.SIGKILL)
    proc.wait()

    assert _survivors(daemons + keyrings) == [], [(_comm(p), p) for p in daemons + keyrings]
