import multiprocessing
import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenward.errors import InventoryError, TokenExists, TokenNotFound, UsageError
from tokenward.inventory import DB_NAME, SCHEMA_VERSION, Inventory, TokenRecord, check_name

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(name="tok", **changes) -> TokenRecord:
    base = TokenRecord(name=name, kind="pypi", created_at=T0, rotated_at=T0, stores=("keyring",), fingerprint="0" * 16,
                       purpose="publish", rotate_every="90d")  # fmt: skip
    return base.with_(**changes)


def test_round_trip(data_dir):
    with Inventory.open(data_dir) as inv:
        rec = record(expires_at=T0 + timedelta(days=30), env={"X": "{value}"}, store_versions={"vault": "3"})
        inv.insert(rec)
        assert inv.get("tok") == rec
        assert [r.name for r in inv.all()] == ["tok"]
        assert len(inv) == 1


def test_insert_twice_and_missing(data_dir):
    with Inventory.open(data_dir) as inv:
        inv.insert(record())
        with pytest.raises(TokenExists):
            inv.insert(record())
        with pytest.raises(TokenNotFound):
            inv.get("other")
        with pytest.raises(TokenNotFound):
            inv.delete("other")
        with pytest.raises(TokenNotFound):
            inv.update("other", purpose="x")


def test_update_and_delete(data_dir):
    with Inventory.open(data_dir) as inv:
        inv.insert(record())
        inv.update("tok", purpose="new", last_used_at=T0)
        assert inv.get("tok").purpose == "new"
        assert inv.get("tok").last_used_at == T0
        inv.delete("tok")
        assert inv.find("tok") is None


def test_permissions(data_dir):
    with Inventory.open(data_dir) as inv:
        inv.insert(record())
        assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
        for path in data_dir.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_loose_existing_dir_is_tightened(data_dir):
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    Inventory.open(data_dir).close()
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_schema_version_recorded_and_newer_refused(data_dir):
    Inventory.open(data_dir).close()
    conn = sqlite3.connect(data_dir / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(InventoryError, match="newer than this tokenward knows"):
        Inventory.open(data_dir)


@pytest.mark.parametrize(
    "content, why",
    [
        (b"this is not sqlite" * 100, "not an SQLite database"),
        (b"", "the file is empty"),  # issue 9 item 12: never taken as an empty inventory
        (b"SQLite format 3\x00" + b"\xff" * 200, "damaged"),
    ],
)
def test_damaged_file_is_a_clear_error_naming_the_recovery(data_dir, content, why):
    data_dir.mkdir(mode=0o700)
    (data_dir / DB_NAME).write_bytes(content)
    with pytest.raises(InventoryError, match=why) as info:
        Inventory.open(data_dir)
    assert info.value.exit_status == 3
    assert str(data_dir / DB_NAME) in str(info.value) and "tokens sync --discover" in str(info.value)
    assert (data_dir / DB_NAME).read_bytes() == content  # left as it was


def test_a_new_inventory_is_created_only_when_the_file_does_not_exist(data_dir):
    with Inventory.open(data_dir) as inv:
        inv.insert(record())
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left
    with Inventory.open(data_dir) as inv:
        assert inv.find("tok") is not None


def test_journal(data_dir):
    with Inventory.open(data_dir) as inv:
        entry = inv.journal_begin("tok", "rotate", "f" * 16, T0, ["keyring", "vault"])
        inv.journal_mark(entry, "keyring")
        pending = inv.journal_pending("tok")
        assert [(p.stores, p.done) for p in pending] == [(["keyring", "vault"], ["keyring"])]
        inv.journal_end(entry)
        assert inv.journal_pending() == []


@pytest.mark.parametrize("name", ["a", "pypi-foo", "x.y_z-1", "0" * 64])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", ".a", "A", "a b", "a/b", "a" * 65, "é", "../x", "a\n"])
def test_bad_names(name):
    with pytest.raises(UsageError, match="invalid token name"):
        check_name(name)


@given(st.text(max_size=70))
def test_name_rule_matches_spec(name):
    import re

    expected = re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name) is not None
    try:
        check_name(name)
        accepted = True
    except UsageError:
        accepted = False
    assert accepted == expected


def _hammer(directory: str, worker: int, rounds: int) -> None:
    from pathlib import Path

    with Inventory.open(Path(directory)) as inv:
        for i in range(rounds):
            inv.insert(record(f"w{worker}-{i}"))
            # Everyone bumps the shared counter with a read-modify-write.
            with inv.transaction() as conn:
                (value,) = conn.execute("SELECT purpose FROM tokens WHERE name = 'shared'").fetchone()
                conn.execute("UPDATE tokens SET purpose = ? WHERE name = 'shared'", (str(int(value) + 1),))
            inv.all()


def test_concurrent_processes_lose_nothing(data_dir):
    with Inventory.open(data_dir) as inv:
        inv.insert(record("shared", purpose="0"))
    workers, rounds = 8, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(data_dir), w, rounds)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0] * workers
    with Inventory.open(data_dir) as inv:
        assert inv.get("shared").purpose == str(workers * rounds)
        assert len(inv) == workers * rounds + 1
        assert inv.integrity_ok()
