"""Two machines, one team store: no machine overwrites a value it has not seen.

Each "machine" is its own data dir and its own keyring (the JSON-file test backend),
with the same config: the real OpenBao and/or moto under one prefix. They run the
real `tokens` CLI, one after the other or at the same moment (both processes made
to reach the write together with the test-only pause point `rotate.checked`, and
free-running), and every store is read directly afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests import servers
from tests.invariants import record_figure
from tests.remote_stores import aws_table, boto_client, hvac_root, remote_env, unique, vault_table
from tokenward.tokens import fingerprint

ROOT = str(Path(__file__).resolve().parent.parent)
STORE_SETS = [("keyring", "vault"), ("keyring", "aws"), ("keyring", "vault", "aws")]
IDS = ["vault", "aws", "vault+aws"]
PAUSED_TRIALS = 3
FREE_TRIALS = 2


class Team:
    """One config over OpenBao and moto; machines made from it."""

    def __init__(self, tmp_path: Path, tokens, env: dict, openbao, moto, stores: tuple[str, ...]) -> None:
        self.tmp, self.tokens, self.openbao, self.moto, self.stores = tmp_path, tokens, openbao, moto, stores
        self.prefix = unique("team/") + "/"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f"[defaults]\nstores = {json.dumps(list(stores))}\n"
            '[stores.keyring]\nservice = "tokenward"\n'
            + vault_table("vault", openbao.url, self.prefix, timeout=5)
            + aws_table("aws", moto.url, self.prefix, timeout=5)
        )
        self.env = dict(env, TOKENS_CONFIG=str(self.config), PYTHON_KEYRING_BACKEND="tests.keyring_backend.FileKeyring")
        self.env["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")

    def machine(self, label: str) -> "Machine":
        return Machine(self, label)

    def remote(self, name: str) -> dict[str, str | None]:
        """What each shared store holds, read directly."""
        found: dict[str, str | None] = {}
        if "vault" in self.stores:
            try:
                data = hvac_root(self.openbao).secrets.kv.v2.read_secret_version(
                    path=self.prefix + name, raise_on_deleted_version=True
                )
                found["vault"] = data["data"]["data"]["value"]
            except Exception:  # noqa: BLE001 - absent
                found["vault"] = None
        if "aws" in self.stores:
            try:
                found["aws"] = boto_client(self.moto).get_secret_value(SecretId=self.prefix + name)["SecretString"]
            except Exception:  # noqa: BLE001 - absent
                found["aws"] = None
        return found


class Machine:
    def __init__(self, team: Team, label: str) -> None:
        self.team, self.label = team, label
        self.home = team.tmp / f"home-{label}"
        self.keyring_file = team.tmp / f"keyring-{label}.json"
        self.env = dict(team.env, TOKENS_HOME=str(self.home), TOKENWARD_TEST_KEYRING=str(self.keyring_file))

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        result = self.team.tokens(*args, input=input, env=dict(self.env, **(env or {})))
        assert "Traceback" not in result.stderr, result
        return result

    def start(self, *args: str, input: str, env: dict | None = None) -> subprocess.Popen:
        exe = servers.find_tool("tokens")
        proc = subprocess.Popen(
            [exe, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, **self.env, **(env or {})),
        )
        proc.stdin.write(input.encode())
        proc.stdin.close()
        proc.stdin = None  # communicate() must not flush it again
        return proc

    def keyring(self, name: str) -> str | None:
        try:
            data = json.loads(self.keyring_file.read_text())
        except FileNotFoundError:
            return None
        return data.get(f"tokenward\x00{name}")

    def fingerprint(self, name: str) -> str | None:
        result = self("show", name, "--json")
        return json.loads(result.stdout)["fingerprint"] if result.returncode == 0 else None


def value(tag: str) -> str:
    return f"ghp_{tag}{unique('')}{unique('')}"


@pytest.fixture
def team(tmp_path, tokens, openbao, moto, monkeypatch, request):
    env = remote_env(monkeypatch, openbao)
    return lambda stores: Team(tmp_path, tokens, env, openbao, moto, stores)


def _show_has_fingerprint(machine: Machine, name: str) -> bool:
    return "fingerprint" in machine("show", name, "--json").stdout


@pytest.mark.parametrize("stores", STORE_SETS, ids=IDS)
def test_add_refuses_a_name_a_teammate_already_added(team, stores):
    t = team(stores)
    a, b = t.machine("a"), t.machine("b")
    theirs, mine = value("B"), value("A")
    assert b("add", "shared1", input=theirs + "\n").returncode == 0
    result = a("add", "shared1", input=mine + "\n")
    assert result.returncode == 2, result
    assert "already exists in store" in result.stderr and "tokens sync --discover" in result.stderr
    assert "tokens rotate shared1" in result.stderr
    assert mine not in result.stdout + result.stderr
    # Nothing written anywhere: the teammate's value stays, this machine has no trace.
    assert set(t.remote("shared1").values()) == {theirs}
    assert a.keyring("shared1") is None
    assert a("show", "shared1").returncode == 2
    # The hint works: discover brings the teammate's token in, with its value.
    assert a("sync", "--discover").returncode == 0
    assert a.keyring("shared1") == theirs


@pytest.mark.parametrize("stores", STORE_SETS, ids=IDS)
def test_rotate_without_syncing_after_a_teammate_rotated_is_refused(team, stores):
    t = team(stores)
    a, b = t.machine("a"), t.machine("b")
    first = value("FIRST")
    assert b("add", "ci", input=first + "\n").returncode == 0
    assert a("sync", "--discover").returncode == 0
    a_value, b_value = value("A"), value("B")
    assert a("rotate", "ci", input=a_value + "\n").returncode == 0
    before = b.fingerprint("ci")

    result = b("rotate", "ci", input=b_value + "\n")
    assert result.returncode == 3, result
    label = "Vault" if stores[1] == "vault" else "AWS"
    assert f"{label} changed since your last sync" in result.stderr
    assert "by another machine" in result.stderr and "run `tokens sync` first" in result.stderr
    assert "when it is back" not in result.stderr  # not an outage
    assert b_value not in result.stdout + result.stderr
    # B wrote nothing: the shared stores keep A's value, B's keyring and record the old one.
    assert set(t.remote("ci").values()) == {a_value}
    assert b.keyring("ci") == first and b.fingerprint("ci") == before
    # A's next sync keeps A's value; B's sync brings A's value; then B may rotate.
    assert a("sync").returncode == 0 and a.keyring("ci") == a_value
    synced = b("sync")
    assert synced.returncode == 0, synced
    assert b.keyring("ci") == a_value
    b_again = value("B2")
    assert b("rotate", "ci", input=b_again + "\n").returncode == 0
    assert set(t.remote("ci").values()) == {b_again}


def _race(t: Team, a: Machine, b: Machine, paused: bool, tmp: Path) -> dict:
    """Both machines rotate `ci` at once; returns each one's exit status, output and value."""
    values = {"a": value("A"), "b": value("B")}
    extra: dict = {}
    if paused:
        gate = tmp / unique("gate-")
        gate.mkdir()
        extra = {"TOKENWARD_TEST_PAUSE_AT": "rotate.checked", "TOKENWARD_TEST_PAUSE_DIR": str(gate)}
    procs = {m.label: m.start("rotate", "ci", input=values[m.label] + "\n", env=extra) for m in (a, b)}
    if paused:
        # Both have checked the shared stores and seen the same version: now both write.
        deadline = time.monotonic() + 60
        while len(list(gate.glob("reached-*"))) < 2 and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs.values()):
                break
            time.sleep(0.01)
        (gate / "go").touch()
    out = {}
    for label, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[label] = (proc.returncode, stdout.decode(), stderr.decode(), values[label])
    return out


@pytest.mark.parametrize("stores", STORE_SETS, ids=IDS)
def test_simultaneous_rotations_never_overwrite_silently(team, stores, tmp_path):
    t = team(stores)
    a, b = t.machine("a"), t.machine("b")
    assert a("add", "ci", input=value("START") + "\n").returncode == 0
    assert b("sync", "--discover").returncode == 0
    outcomes: list[str] = []
    trials = [True] * PAUSED_TRIALS + [False] * FREE_TRIALS
    for paused in trials:
        out = _race(t, a, b, paused, tmp_path)
        remote = t.remote("ci")
        assert len(set(remote.values())) == 1, (remote, out)
        final = next(iter(remote.values()))
        owner = next(label for label, o in out.items() if o[3] == final)
        other = "b" if owner == "a" else "a"
        # Never both exit 0: the machine whose value is not in the shared stores was told.
        # (AWS only: when both writes land inside each other's window, both may be
        # refused; the value kept is then the first one, which one sync brings everywhere.)
        assert out[owner][0] in ((0, 1, 3) if stores == ("keyring", "aws") else (0,)), out
        assert out[other][0] != 0, out
        if out[other][0] == 3:
            told = ("changed since your last sync", "another machine wrote", "another machine rotated")
            assert any(text in out[other][2] for text in told), out
        if out[owner][0] == 1:
            assert "tell its owner to revoke" in out[owner][2], out
        for o in out.values():
            assert o[3] not in o[1] + o[2]  # no value in any output
        outcomes.append(f"{owner}:{out[owner][0]}/{other}:{out[other][0]}")
        # One sync each and every store of both machines holds the winner.
        for m in (a, b):
            synced = m("sync")
            assert synced.returncode == 0, (synced, out)
        assert a.keyring("ci") == final and b.keyring("ci") == final, out
        assert set(t.remote("ci").values()) == {final}
    record_figure(
        "team safety",
        cases=1,
        trials=len(trials),
        paused=PAUSED_TRIALS,
        stores="+".join(stores[1:]),
        outcomes=outcomes,
    )
