"""Shared fixtures: an isolated data dir and config per test, the CLI runner, and
the real servers (OpenBao, moto, pypiserver) for the integration tests."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers

CANARY = "ghp_CANARYcanary0123456789abcdefSECRET"


def pytest_sessionstart(session) -> None:
    """Servers of an earlier session that was killed before it could stop them (each
    also dies with its session by itself: see servers.die_with). Under pytest-xdist the
    controller reaps, before its workers start: a worker starting late must not reap the
    server groups a running test of another worker staged (tests/test_server_cleanup.py)."""
    if not hasattr(session.config, "workerinput"):
        servers.reap_orphans()


ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs) -> None:
    """Under pytest-xdist (scripts/test runs the whole suite with `-n auto`) inside
    scripts/with-keyring, each worker starts through scripts/with-keyring too: a private
    D-Bus and gnome-keyring of its own, so no worker's keyring entries collide with
    another's. Its session servers are its own as well (free ports, its own tmp dirs).
    A worker whose controller is killed (even with SIGKILL) sees its input end, is
    interrupted and exits (execnet); its servers die with it (servers.die_with), and its
    D-Bus and keyring with its session (tests/test_server_cleanup.py)."""
    if not os.environ.get("TOKENWARD_IN_KEYRING_SESSION"):
        return
    for spec in specs:
        if spec.popen and not spec.python:
            script = str(ROOT / "scripts" / "with-keyring")
            spec.python = shlex.join(["env", "-u", "TOKENWARD_IN_KEYRING_SESSION", script, sys.executable])


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own TOKENS_HOME and no config from the user's machine."""
    home = tmp_path / "home"
    monkeypatch.setenv("TOKENS_HOME", str(home))
    monkeypatch.setenv("TOKENS_CONFIG", str(tmp_path / "absent-config.toml"))
    monkeypatch.delenv("TOKENS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    # A CI that runs the suite may have an OIDC identity: no test mints unless it simulates one.
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "GOOGLE_SERVICE_ACCOUNT_NAME",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield home


@pytest.fixture
def data_dir(isolated) -> Path:
    return isolated


@pytest.fixture
def write_config(tmp_path, monkeypatch):
    """Write a config file and point TOKENS_CONFIG at it."""

    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text)
        monkeypatch.setenv("TOKENS_CONFIG", str(path))
        return path

    return write


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def __repr__(self) -> str:
        return f"<Result rc={self.returncode} stdout={self.stdout!r} stderr={self.stderr!r}>"


@pytest.fixture
def tokens():
    """Run the installed `tokens` entry point in a real process."""
    exe = servers.find_tool("tokens")
    if exe is None:
        pytest.fail("the `tokens` console script is not installed (pip install -e .)")

    def run(*args: str, input: str | bytes | None = None, env: dict | None = None, timeout: float = 60) -> Result:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [exe, *args], input=data if data is not None else b"", capture_output=True, env=full_env, timeout=timeout
        )
        return Result(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")))

    def add_many(entries, env: dict | None = None) -> None:
        """`tokens add ARGS` with VALUE on stdin for each (ARGS, VALUE), all in one process
        (the same `tokenward.cli.main` the entry point runs, one interpreter start instead of
        one per token): for tests that need an inventory, not tests of `add`. Each must
        exit 0."""
        full_env = dict(os.environ, **(env or {}))
        proc = subprocess.run(
            [sys.executable, "-c", ADD_MANY], input=json.dumps([[list(a), v] for a, v in entries]).encode(),
            capture_output=True, env=full_env, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        for (args, _), (code, out, err) in zip(entries, json.loads(proc.stdout), strict=True):
            assert code == 0, ("add", *args, code, out, err)

    run.add_many = add_many
    return run


ADD_MANY = """
import io, json, sys
from tokenward.cli import main
results, real = [], (sys.stdin, sys.stdout, sys.stderr)
for args, value in json.load(sys.stdin):
    sys.stdin = io.TextIOWrapper(io.BytesIO((value + "\\n").encode()))
    sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    code = 0
    try:
        main(["add", *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = []
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        out.append(stream.buffer.getvalue().decode(errors="replace"))
    results.append([code, *out])
sys.stdin, sys.stdout, sys.stderr = real
json.dump(results, sys.stdout)
"""


def _secret_service_running() -> bool:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    try:
        import secretstorage

        with secretstorage.dbus_init() as conn:  # type: ignore[attr-defined]
            return secretstorage.check_service_availability(conn)
    except Exception:  # noqa: BLE001
        try:
            conn = secretstorage.dbus_init()
            ok = secretstorage.check_service_availability(conn)
            conn.close()
            return ok
        except Exception:  # noqa: BLE001
            return False


@pytest.fixture(scope="session")
def secret_service() -> None:
    """The real Secret Service (gnome-keyring on a private D-Bus, started by scripts/test)."""
    if not _secret_service_running():
        servers.unavailable("no Secret Service on D-Bus; run the tests through scripts/test (scripts/with-keyring)")


@pytest.fixture
def real_keyring(secret_service, monkeypatch):
    """The real Secret Service, for this process (keyring's global) and for `tokens`."""
    import keyring.core

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    keyring.core.init_backend()
    yield
    keyring.core.init_backend()


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def openbao(server_dir):
    server = servers.start_openbao(server_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto(server_dir):
    server = servers.start_moto(server_dir)
    yield server
    server.stop()


@pytest.fixture
def file_keyring(tmp_path, monkeypatch) -> Path:
    """A test keyring (JSON file) chosen explicitly with PYTHON_KEYRING_BACKEND."""
    path = tmp_path / "test-keyring.json"
    root = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("TOKENWARD_TEST_KEYRING", str(path))
    if root not in sys.path:
        sys.path.insert(0, root)
    return path


@pytest.fixture(scope="session")
def verdaccio(server_dir):
    server = servers.start_verdaccio(server_dir)
    yield server
    server.stop()
