"""Nine `tokens` processes at once on one inventory, for a bounded time: rotations of
the same tokens, syncs, the cron reminder, listings and exec, over the real keyring
and OpenBao. No "database is locked", no lost rotation, a consistent end state.

"No lost rotation" is checked against OpenBao's own version history of each token
(every store write happens under the token's lock, so Vault's version order is the
order the rotations took the lock in): every rotation that reported success is in
it, no value ever comes back after a newer one replaced it, and the last value
written is what every store and the inventory hold at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests import servers
from tests.invariants import Rig, record_figure
from tests.remote_stores import hvac_root, remote_env
from tokenward.tokens import fingerprint

DURATION = float(os.environ.get("TOKENWARD_CONCURRENCY_SECONDS", "20"))
TOKENS = ("alpha", "beta")
CHILD = "import os,sys; v=os.environ.get('GH_TOKEN',''); sys.exit(0 if v.startswith('ghp_') else 7)"


@pytest.fixture
def rig(tmp_path, tokens, openbao, real_keyring, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    rig = Rig(tmp_path, tokens, env, openbao, None)
    rig.configure(stores=("keyring", "vault"))
    return rig


def vault_history(rig: Rig, name: str) -> list[str]:
    client = hvac_root(rig.vault)
    path = rig.prefix + name
    meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point="secret")["data"]
    values = []
    for number in range(1, int(meta["current_version"]) + 1):
        data = client.secrets.kv.v2.read_secret_version(path=path, version=number, mount_point="secret", raise_on_deleted_version=True)
        values.append(data["data"]["data"]["value"])
    return values


def test_nine_processes_on_one_inventory(rig):
    initial = {}
    for name in TOKENS:
        initial[name] = rig.value("INIT")
        assert rig("add", name, "--rotate-every", "30d", input=initial[name]).returncode == 0
        # Keep every version, so the history shows each write.
        hvac_root(rig.vault).secrets.kv.v2.update_metadata(path=rig.prefix + name, max_versions=10000, mount_point="secret")

    exe = servers.find_tool("tokens")
    env = dict(os.environ, **rig.env)
    runs: list[dict] = []
    lock = threading.Lock()
    deadline = time.monotonic() + DURATION

    def worker(role: str, index: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            stdin = ""
            token = TOKENS[index % 2]
            if role == "rotate":
                stdin = rig.value(f"W{index}N{n}X")
                args = ["rotate", token]
            elif role == "sync":
                args = ["sync"]
            elif role == "remind":
                args = ["remind"]
            elif role == "list":
                args = ["list", "--json"]
            else:
                args = ["exec", "--token", token, "--", sys.executable, "-c", CHILD]
            proc = subprocess.run([exe, *args], input=stdin.encode(), capture_output=True, env=env, timeout=300)
            with lock:
                runs.append({
                    "role": role, "token": token, "value": stdin, "rc": proc.returncode,
                    "stdout": proc.stdout.decode(errors="replace"), "stderr": proc.stderr.decode(errors="replace"),
                })  # fmt: skip

    roles = [("rotate", 0), ("rotate", 1), ("rotate", 2), ("rotate", 3), ("sync", 0), ("sync", 1), ("remind", 0), ("list", 0), ("exec", 0)]
    threads = [threading.Thread(target=worker, args=role) for role in roles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for run in runs:
        assert "database is locked" not in run["stderr"], run
        assert "Traceback" not in run["stderr"], run
        rig.assert_clean(run["stderr"] + run["stdout"], f"output of {run['role']}")
        expected = {"rotate": (0,), "sync": (0, 1), "remind": (0, 1), "list": (0,), "exec": (0,)}[run["role"]]
        assert run["rc"] in expected, run
        if run["role"] == "sync" and run["rc"] == 1:
            # Only a rotation that ran while it was syncing may stop a sync.
            assert "while syncing" in run["stdout"], run["stdout"]
        if run["role"] == "list":
            assert {r["name"] for r in json.loads(run["stdout"])} == set(TOKENS)

    rows = rig.inventory_check()
    for name in TOKENS:
        succeeded = [r["value"] for r in runs if r["role"] == "rotate" and r["token"] == name and r["rc"] == 0]
        assert succeeded, f"no rotation of {name} finished in {DURATION}s"
        history = vault_history(rig, name)
        assert set(succeeded) <= set(history), "a successful rotation never reached OpenBao"
        distinct = [v for i, v in enumerate(history) if i == 0 or history[i - 1] != v]
        assert len(distinct) == len(set(distinct)), "an older value came back after a newer one"
        final = history[-1]
        assert final in succeeded
        # Consistent before any repair: every store and the inventory hold the last rotation.
        assert rig.read("keyring", name) == final
        assert rows[name]["fingerprint"] == fingerprint(final)
    assert not rig.journal()
    synced = rig("sync")
    assert synced.returncode == 0 and "Nothing to do" in synced.stdout, synced

    counts = {role: sum(r["role"] == role for r in runs) for role, _ in roles}
    record_figure(
        "concurrency", processes=len(roles), seconds=DURATION, invocations=len(runs),
        rotations=sum(r["role"] == "rotate" and r["rc"] == 0 for r in runs), by_command=counts,
    )  # fmt: skip
