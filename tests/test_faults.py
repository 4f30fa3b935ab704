"""Faults under real conditions: OpenBao stopped, sealed or answering 403; moto stopped
or throttling; the keyring locked. Each during `add`, `rotate`, `sync` and `exec`:
a one-line error naming the store, exit 3, nothing lost, and once the fault is gone
one `tokens sync` brings every store (read directly) to the newest value.

The servers are this file's own (tests/fault_servers.py): stopping or sealing the
shared session servers would break other tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fault_servers import OwnMoto, OwnOpenBao, Throttler
from tests.invariants import Rig, record_figure
from tests.remote_stores import remote_env
from tokenward.tokens import fingerprint

STORES = ("keyring", "vault", "aws")
# The child exits 0 when it got the value whose fingerprint it is given (never the value itself).
CHILD = (
    "import hashlib,os,sys;"
    "v=os.environ.get('GH_TOKEN','');"
    "sys.exit(0 if hashlib.sha256(v.encode()).hexdigest()[:16]==sys.argv[1] else 7)"
)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-servers")
    (root / "bao").mkdir()
    (root / "moto").mkdir()
    bao, moto, throttler = OwnOpenBao(root / "bao"), OwnMoto(root / "moto"), Throttler()
    yield bao, moto, throttler
    bao.stop()
    moto.stop()
    throttler.stop()


@pytest.fixture
def rig(own, tmp_path, tokens, file_keyring, monkeypatch):
    bao, moto, _ = own
    env = remote_env(monkeypatch, bao)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.LockableFileKeyring")
    return Rig(tmp_path, tokens, env, bao, moto, keyring_backend="tests.keyring_backend.LockableFileKeyring")


class Fault:
    def __init__(self, store, begin, end):
        self.store, self.begin, self.end = store, begin, end


def faults(own, rig, file_keyring) -> dict[str, Fault]:
    bao, moto, throttler = own
    lock = Path(str(file_keyring) + ".locked")
    root_token = rig.env["VAULT_TOKEN"]

    def deny():
        rig.env["VAULT_TOKEN"] = bao.deny_token()

    def allow():
        rig.env["VAULT_TOKEN"] = root_token

    return {
        "vault-stopped": Fault("vault", bao.stop, bao.start),
        "vault-sealed": Fault("vault", bao.seal, bao.unseal),
        "vault-403": Fault("vault", deny, allow),
        "aws-stopped": Fault("aws", moto.stop, moto.start),
        "aws-throttled": Fault("aws", lambda: rig.configure(aws_url=throttler.url), rig.configure),
        "keyring-locked": Fault("keyring", lock.touch, lock.unlink),
    }


FAULTS = ["vault-stopped", "vault-sealed", "vault-403", "aws-stopped", "aws-throttled", "keyring-locked"]


def assert_store_error(result, store: str, code: int = 3) -> None:
    """Exit `code`, exactly one `Error:` line and it names the store; no traceback."""
    assert result.returncode == code, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert f"store {store!r}" in errors[0], errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fault_name", FAULTS)
def test_fault_during_add_rotate_sync_exec(own, rig, file_keyring, fault_name):
    fault = faults(own, rig, file_keyring)[fault_name]
    store = fault.store
    others = [s for s in STORES if s != store]
    old, new, fresh = rig.value("OLD"), rig.value("NEW"), rig.value("FRESH")
    only = rig.value("ONLY")
    assert rig("add", "steady", input=old).returncode == 0
    assert rig("add", "only", "--store", store, input=only).returncode == 0
    outcomes: dict[str, str] = {}

    fault.begin()
    try:
        # add: refused as a whole, and what it wrote elsewhere is taken back.
        added = rig("--debug", "add", "fresh", input=fresh)
        assert_store_error(added, store)
        assert "fresh" not in rig.inventory_check()
        assert all(rig.read(s, "fresh") is None for s in others)
        outcomes["add"] = "exit 3, nothing written"

        # rotate: the reachable stores get the new value; the rest is journalled.
        rotated = rig("--debug", "rotate", "steady", input=new)
        assert_store_error(rotated, store)
        assert f"Not yet written to {store}" in rotated.stderr
        assert {s: rig.read(s, "steady") for s in others} == {s: new for s in others}
        rows = rig.inventory_check()
        assert rows["steady"]["fingerprint"] == fingerprint(new)
        assert [j["name"] for j in rig.journal()] == ["steady"]
        outcomes["rotate"] = "exit 3, new value in the other stores"

        # sync: cannot finish, says which store, exits 3, and loses nothing.
        synced = rig("--debug", "sync")
        assert synced.returncode == 3, synced
        assert f"store {store!r}" in synced.stderr + synced.stdout
        assert {s: rig.read(s, "steady") for s in others} == {s: new for s in others}
        assert rig.journal(), "sync closed the journal of a rotation that has not reached every store"
        outcomes["sync"] = "exit 3, journal kept"

        # exec: a token with another reachable store still works, with the newest value...
        ran = rig("--debug", "exec", "--token", "steady", "--", sys.executable, "-c", CHILD, fingerprint(new))
        assert ran.returncode == 0, ran
        # ...one held only by the failing store is a clear error.
        refused = rig("--debug", "exec", "--token", "only", "--", sys.executable, "-c", CHILD, fingerprint(only))
        assert_store_error(refused, store)
        outcomes["exec"] = "newest value from another store; exit 3 when it is the only one"
    finally:
        fault.end()

    converged = rig("sync")
    assert converged.returncode == 0, converged
    rig.assert_converged("steady", new)
    rig.assert_converged("only", only, stores=(store,))
    assert all(rig.read(s, "fresh") is None for s in STORES)
    again = rig("sync")
    assert again.returncode == 0 and "Nothing to do" in again.stdout, again
    # The fault is gone: add works again.
    assert rig("add", "fresh", input=fresh).returncode == 0
    rig.assert_converged("fresh", fresh)
    record_figure("faults", fault=fault_name, cases=len(outcomes), outcomes=outcomes)


def test_planner_knows_a_store_an_interrupted_rotation_missed_is_older():
    """The finding behind the keyring-locked case: the keyring (no metadata) still held
    the value from before a journalled rotation, and sync called it a conflict."""
    from datetime import datetime, timedelta, timezone

    from tokenward.inventory import JournalEntry, TokenRecord
    from tokenward.sync import Seen, TokenState, plan_token

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t1 = t0 + timedelta(days=30)
    record = TokenRecord(name="tok", kind="github", created_at=t0, rotated_at=t1, stores=STORES, fingerprint="f-new")
    entry = JournalEntry(1, "tok", "rotate", "f-new", t1, list(STORES), ["vault", "aws"], t1)
    meta = {"tokenward": "1", "fingerprint": "f-new", "rotated_at": t1.isoformat(), "version": "2"}
    vouched = Seen("present", fingerprint="f-new", rotated_at=t1, version="2", vouched=True, metadata=meta)
    seen = {"keyring": Seen("present", fingerprint="f-old"), "vault": vouched, "aws": vouched}
    plan = plan_token(TokenState("tok", record, seen, (entry,)), prefer=None, now=t1, source_rank={})
    assert plan.status == "update" and plan.winner == "f-new"
    assert [(w.store, w.reason) for w in plan.writes] == [("keyring", "older")] and plan.close_journal
