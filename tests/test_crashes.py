"""kill -9 in the middle of `rotate` and `sync`, at named points (the test-only
$TOKENWARD_TEST_CRASH_AT hook, src/tokenward/testhooks.py) and at random moments.
After every crash: the newest value is in at least one store, the inventory passes
PRAGMA integrity_check, and one `tokens sync` brings keyring, OpenBao and moto (each
read directly) to that value.

10 trials in the normal run; `scripts/test -m slow` runs 60 more."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time

import pytest

from tests import servers
from tests.invariants import Rig, record_figure
from tests.remote_stores import dead_url, remote_env

STORES = ("keyring", "vault", "aws")
ROTATE_POINTS = [
    "rotate.journalled", "rotate.store-written#1", "rotate.store-written#2", "rotate.store-written#3",
    "rotate.marked#1", "rotate.marked#2", "rotate.marked#3", "vault.value-written", "aws.value-written",
    "rotate.saved", "inventory.commit#1", "inventory.commit#2", "inventory.commit#4", "inventory.commit#5",
    "random",
]  # fmt: skip
SYNC_POINTS = [
    "sync.fetched", "sync.store-written#1", "sync.store-written#2", "sync.written", "sync.saved",
    "vault.value-written", "aws.value-written", "inventory.commit#1", "inventory.commit#2", "random",
]  # fmt: skip


@pytest.fixture
def rig(tmp_path, tokens, openbao, moto, real_keyring, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    rig = Rig(tmp_path, tokens, env, openbao, moto)
    rig.names = ("alpha", "beta")
    rig.current = {}
    for name in rig.names:
        value = rig.value("START")
        assert rig("add", name, input=value).returncode == 0
        rig.current[name] = value
    return rig


def run_killed(rig: Rig, point: str, args: list[str], stdin: str, rng: random.Random) -> int:
    """Run `tokens` and kill it with SIGKILL at `point` (or after a random delay)."""
    exe = servers.find_tool("tokens")
    env = dict(os.environ, **rig.env)
    if point != "random":
        env["TOKENWARD_TEST_CRASH_AT"] = point
        proc = subprocess.run([exe, *args], input=stdin.encode(), capture_output=True, env=env, timeout=120)
        rig.assert_clean(proc.stderr.decode(errors="replace") + proc.stdout.decode(errors="replace"), "output")
        return proc.returncode
    proc = subprocess.Popen([exe, *args], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    time.sleep(rng.uniform(0.2, 1.6))  # python start-up to the end of the command
    proc.kill()
    return proc.wait(timeout=60)


def check_after_crash(rig: Rig, name: str, before: str, new: str, context: str) -> str:
    """The invariants right after a crash, then one sync; returns the token's value now."""
    rig.inventory_check()  # opens, PRAGMA integrity_check == ok
    held = rig.held(name)
    assert set(held.values()) <= {before, new}, f"{context}: a store holds neither value"
    expected = new if new in held.values() else before
    assert expected in held.values(), f"{context}: the newest value is in no store"
    journalled = any(j["name"] == name for j in rig.journal())
    synced = rig("sync")
    if expected == before and journalled:
        # Killed after the rotation was journalled but before any store had the new
        # value: sync says so (exit 1, "findings") so the user rotates again.
        assert synced.returncode == 1 and "never reached a store" in synced.stdout, (context, synced)
        synced = rig("sync")
    assert synced.returncode == 0, (context, synced)
    rig.assert_converged(name, expected)
    for other in rig.names:
        if other != name:
            rig.assert_converged(other, rig.current[other])
    rig.current[name] = expected
    return expected


def crash_trials(rig: Rig, rotations: int, syncs: int, seed: int) -> dict:
    rng = random.Random(seed)
    killed = {"rotate": 0, "sync": 0}
    for i in range(rotations):
        name, point = rng.choice(rig.names), rng.choice(ROTATE_POINTS)
        before, new = rig.current[name], rig.value("ROT")
        rc = run_killed(rig, point, ["rotate", name], new, rng)
        killed["rotate"] += rc == -9
        assert rc in (-9, 0), (seed, i, point, rc)
        check_after_crash(rig, name, before, new, f"seed {seed}, rotate trial {i} at {point}")
    for i in range(syncs):
        name, point, broken = rng.choice(rig.names), rng.choice(SYNC_POINTS), rng.choice(STORES)
        before, new = rig.current[name], rig.value("SYN")
        # A rotation that reached two stores of three leaves work for sync.
        if broken == "keyring":
            partial = rig("rotate", name, input=new, env={"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.BrokenKeyring"})
        else:
            rig.configure(**{f"{broken}_url": dead_url()}, timeout=1)
            partial = rig("rotate", name, input=new)
            rig.configure()
        assert partial.returncode == 3, partial
        rc = run_killed(rig, point, ["sync"], "", rng)
        killed["sync"] += rc == -9
        assert rc in (-9, 0), (seed, i, point, rc)
        assert check_after_crash(rig, name, before, new, f"seed {seed}, sync trial {i} at {point} ({broken} behind)") == new
    return killed


def _seed() -> int:
    return int(os.environ.get("TOKENWARD_CRASH_SEED") or time.time_ns() % 1_000_000)


def test_crashes(rig):
    seed = _seed()
    killed = crash_trials(rig, rotations=5, syncs=5, seed=seed)
    record_figure("crashes", trials=10, rotate_trials=5, sync_trials=5, killed=sum(killed.values()), seed=seed)


@pytest.mark.slow
def test_crashes_many(rig):
    seed = _seed()
    killed = crash_trials(rig, rotations=30, syncs=30, seed=seed)
    record_figure("crashes", trials=60, rotate_trials=30, sync_trials=30, killed=sum(killed.values()), seed=seed)


def run_interrupted(rig: Rig, point: str, args: list[str], stdin: str, tmp_path) -> subprocess.CompletedProcess:
    """Run `tokens` until it reaches `point` (the test-only pause point), then Ctrl-C it."""
    import signal

    gate = tmp_path / f"gate-{time.monotonic_ns()}"
    gate.mkdir()
    env = dict(os.environ, **rig.env, TOKENWARD_TEST_PAUSE_AT=point, TOKENWARD_TEST_PAUSE_DIR=str(gate))
    exe = servers.find_tool("tokens")
    proc = subprocess.Popen([exe, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    proc.stdin = None
    deadline = time.monotonic() + 60
    while not list(gate.glob("reached-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the command ended before reaching the pause point"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, stdout.decode(), stderr.decode())


def test_ctrl_c_during_sync_after_its_writes_keeps_the_record(rig, tmp_path):
    """Issue 9 item 5: what completed is in the inventory and the history; the message says
    what did not and that `tokens sync` finishes it."""
    new = rig.value("SIGINT")
    rig.configure(aws_url=dead_url(), timeout=1)
    assert rig("rotate", "alpha", input=new).returncode == 3  # AWS left behind
    rig.configure()
    result = run_interrupted(rig, "sync.written", ["sync"], "", tmp_path)
    rig.assert_clean(result.stdout + result.stderr, "output")
    assert result.returncode == 130, result
    assert "wrote alpha -> aws" in result.stderr and "`tokens sync` finishes it" in result.stderr, result
    assert rig.read("aws", "alpha") == new
    history = rig("history", "alpha", "--json")
    events = json.loads(history.stdout)
    assert any(e["event"] == "sync" and e.get("stores") == ["aws"] for e in events), events
    again = rig("sync")
    assert again.returncode == 0 and "Nothing to do" in again.stdout, again
    rig.assert_converged("alpha", new)


def test_ctrl_c_during_rotate_names_the_stores_left_behind(rig, tmp_path):
    """Issue 9 item 25: interrupted after the first store (Vault) got the new value."""
    new = rig.value("SIGINT")
    result = run_interrupted(rig, "rotate.store-written", ["rotate", "alpha"], new, tmp_path)
    rig.assert_clean(result.stdout + result.stderr, "output")
    assert result.returncode == 130, result
    assert "new value is in vault but not yet in aws, keyring" in result.stderr, result
    assert "run `tokens sync alpha`" in result.stderr
    assert rig.read("vault", "alpha") == new and rig.read("keyring", "alpha") != new
    synced = rig("sync")
    assert synced.returncode == 0, synced
    rig.assert_converged("alpha", new)
