"""`tokens remind`: the grouped report, --within, --json, exit codes, that it reads no
store, and team mode (--store) from a remote store's metadata: an in-memory fake store
registered for the test, and the real OpenBao and moto servers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import CANARY
from tokenward import remind
from tokenward.inventory import TokenRecord
from tokenward.lifecycle import store_metadata
from tokenward.stores import base
from tokenward.stores.base import RemoteEntry, Written

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("TOKENWARD_TEST_KEYRING", str(tmp_path / "keyring.json"))


@pytest.fixture
def inventory(tokens, file_keyring):
    tokens.add_many([
        (["pypi-old", "--kind", "pypi", "--created", "2024-01-01", "--purpose", "publish foo"], "pypi-notreallyamacaroon1"),
        (["gh-expired", "--created", ago(10), "--expires", ago(2)], CANARY),
        (["npm-soon", "--created", ago(80)], "npm_abcdef0123456789"),
        (["gl-later", "--created", ago(60)], "glpat-abcdef0123456789"),
        (["fine", "--kind", "generic"], "fine-value-0123"),
    ])


def test_report_is_grouped_with_days_and_actions(tokens, inventory):
    result = tokens("remind")
    assert result.returncode == 1, result
    out = result.stdout
    assert out.index("Expired (1):") < out.index("Overdue for rotation (1):") < out.index("Due soon (1):")
    assert "gh-expired (github, expired 2d ago)" in out
    assert "pypi-old (pypi, overdue" in out and " - publish foo" in out
    assert "-> tokens rotate pypi-old (new token: https://pypi.org/manage/account/token/)" in out
    assert "npm-soon (npm, due-soon in 9d)" in out  # 9 whole days and some hours left, as `list` says
    assert "gl-later" not in out and "fine" not in out
    assert CANARY not in out + result.stderr


def test_within_widens_due_soon(tokens, inventory):
    result = tokens("remind", "--within", "45d", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["summary"] == {"revoked": 0, "invalid": 0, "expired": 1, "overdue": 1, "due-soon": 2}
    soon = [t for t in report["tokens"] if t["status"] == "due-soon"]
    assert [(t["name"], t["days"]) for t in soon] == [("npm-soon", 9), ("gl-later", 29)]  # whole days left
    assert report["source"] == "local"
    assert report["notifications"] == []
    for item in report["tokens"]:
        assert {"name", "kind", "status", "days", "action", "due_at", "expires_at", "stores"} <= set(item)


def test_exit_0_when_only_due_soon_or_nothing(tokens, file_keyring):
    assert tokens("remind").stdout.strip() == "All tokens are within their rotation period."
    assert tokens("add", "soon", "--created", ago(85), input="npm_abcdef0123456789\n").returncode == 0
    result = tokens("remind")
    assert result.returncode == 0
    assert "Due soon (1):" in result.stdout


def test_reads_no_store(tokens, inventory):
    """With a keyring that fails every call, remind still works: it never opens a store."""
    result = tokens("remind", env={"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.BrokenKeyring"})
    assert result.returncode == 1, result
    assert "Expired (1):" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--within", "soon"], "invalid --within period 'soon'"),
        (["--notify", "pager"], "Invalid value for '--notify'"),
        (["--store", "nowhere"], "unknown store 'nowhere'"),
        (["--store", "keyring"], "carries no metadata; team mode needs a vault or aws store"),
    ],
)
def test_bad_input_is_one_line_exit_2(tokens, args, message):
    result = tokens("remind", *args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- team mode with a fake MetadataStore, in process ---------------------------------


class FakeMetadataStore:
    """A metadata-carrying store held in memory: entries are set by the test."""

    entries: dict[str, RemoteEntry] = {}
    listed = 0

    def __init__(self, config, data_dir=None) -> None:
        self.name = config.name

    def get(self, token: str) -> str:  # pragma: no cover - remind never reads values
        raise AssertionError("team-mode remind read a value")

    def put(self, token, value, metadata) -> Written:  # pragma: no cover
        raise AssertionError("team-mode remind wrote a value")

    def delete(self, token) -> None:  # pragma: no cover
        raise AssertionError("team-mode remind deleted a value")

    def describe(self) -> str:
        return "fake"

    def list_entries(self) -> dict[str, RemoteEntry]:
        type(self).listed += 1
        return dict(self.entries)

    def entry(self, token: str) -> RemoteEntry | None:
        return self.entries.get(token)

    def conflict(self, token, expect, entry):  # pragma: no cover
        raise AssertionError("team-mode remind wrote a value")

    def keyed(self, value: str) -> str:  # pragma: no cover
        raise AssertionError("team-mode remind read a value")


def remote(name: str, *, rotated_days_ago: int, rotate_every: str = "90d", kind: str = "pypi", purpose: str = "") -> RemoteEntry:
    rotated = NOW - timedelta(days=rotated_days_ago)
    record = TokenRecord(
        name=name, kind=kind, created_at=rotated, rotated_at=rotated, stores=("team",), fingerprint="ab" * 8,
        rotate_every=rotate_every, purpose=purpose,
    )  # fmt: skip
    return RemoteEntry(name, store_metadata(record), "1")


@pytest.fixture
def fake_team_store(monkeypatch, write_config):
    monkeypatch.setitem(base.REGISTRY, "vault", base.StoreType(f"{__name__}:FakeMetadataStore", base.REGISTRY["vault"].options))
    FakeMetadataStore.entries = {}
    FakeMetadataStore.listed = 0
    write_config('[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "http://127.0.0.1:9"\n')
    return FakeMetadataStore


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from tokenward.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_team_mode_reports_from_store_metadata(fake_team_store, capsys, data_dir):
    fake_team_store.entries = {
        "pypi-team": remote("pypi-team", rotated_days_ago=120, purpose="publish team lib"),
        "gh-team": remote("gh-team", rotated_days_ago=80, kind="github"),
        "fresh": remote("fresh", rotated_days_ago=1),
    }
    code, out, err = run_cli(capsys, "remind", "--store", "team", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["source"] == "store:team"
    assert [(t["name"], t["status"]) for t in report["tokens"]] == [("pypi-team", "overdue"), ("gh-team", "due-soon")]
    assert report["tokens"][0]["purpose"] == "publish team lib"
    assert report["tokens"][0]["stores"] == ["team"]
    assert report["tokens"][0]["action"] == "tokens rotate pypi-team (new token: https://pypi.org/manage/account/token/)"
    assert fake_team_store.listed == 1
    # The local inventory was not needed.
    assert not (data_dir / "inventory.sqlite3").exists()


def test_team_mode_skips_unreadable_metadata(fake_team_store, capsys):
    bad = remote("broken", rotated_days_ago=400)
    bad.metadata["rotate_every"] = "often"
    fake_team_store.entries = {"broken": bad, "ok-old": remote("ok-old", rotated_days_ago=100)}
    code, out, err = run_cli(capsys, "remind", "--store", "team")
    assert code == 1
    assert "ok-old" in out and "broken" not in out
    assert "Warning: store 'team': skipping 'broken', its tokenward metadata is unreadable" in err


def test_team_mode_notifies_with_its_own_memory(fake_team_store, capsys, write_config, data_dir):
    from tests.notify_servers import WebhookReceiver

    receiver = WebhookReceiver()
    try:
        write_config(
            '[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "http://127.0.0.1:9"\n'
            f'[notify.webhook]\nurl = "{receiver.url}"\n'
        )
        fake_team_store.entries = {"pypi-team": remote("pypi-team", rotated_days_ago=120)}
        assert run_cli(capsys, "remind", "--store", "team", "--notify", "webhook")[0] == 1
        assert run_cli(capsys, "remind", "--store", "team", "--notify", "webhook")[0] == 1
        assert len(receiver.requests) == 1
        doc = receiver.documents[0]
        assert doc["source"] == "store:team" and doc["tokens"][0]["source"] == "store:team"
    finally:
        receiver.stop()


def test_records_from_entries_round_trips_store_metadata():
    rotated = NOW - timedelta(days=3)
    record = TokenRecord(
        name="x", kind="npm", created_at=rotated - timedelta(days=9), rotated_at=rotated, stores=("keyring",),
        fingerprint="cd" * 8, purpose="p", scope="s", repository="https://registry.npmjs.org/", rotate_every="30d",
        expires_at=NOW + timedelta(days=100),
    )  # fmt: skip
    records, warnings = remind.records_from_entries({"x": RemoteEntry("x", store_metadata(record), "7")}, "team")
    assert warnings == []
    assert records == [record.with_(stores=("team",))]


# -- team mode against the real stores ----------------------------------------------


def _team_config(kind: str, server) -> str:
    prefix = f"remind-{uuid.uuid4().hex[:8]}/"
    if kind == "vault":
        return f'[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "{server.url}"\nprefix = "{prefix}"\n'
    return (
        f'[stores.keyring]\n[stores.team]\ntype = "aws"\nregion = "us-east-1"\nendpoint_url = "{server.url}"\n'
        f'prefix = "{prefix}"\n'
    )


@pytest.mark.parametrize("kind", ["vault", "aws"])
def test_team_mode_against_real_store(kind, request, tokens, write_config, monkeypatch, tmp_path):
    from tokenward.config import load_config
    from tokenward.stores.base import open_store

    server = request.getfixturevalue("openbao" if kind == "vault" else "moto")
    if kind == "vault":
        monkeypatch.setenv("VAULT_TOKEN", server.extra["root_token"])
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
    path = write_config(_team_config(kind, server))

    # Another machine put these in the team store, with tokenward's metadata.
    store = open_store(load_config(str(path)).store("team"))
    for name, days, kind_, purpose, value in (
        ("team-old", 700, "github", "publish from CI", CANARY),
        ("team-soon", 85, "npm", "", "npm_abcdef0123456789"),
        ("team-new", 1, "npm", "", "npm_fedcba9876543210"),
    ):
        rotated = NOW - timedelta(days=days)
        record = TokenRecord(
            name=name, kind=kind_, created_at=rotated, rotated_at=rotated, stores=("team",),
            fingerprint="ab" * 8, rotate_every="90d", purpose=purpose,
        )  # fmt: skip
        # Empty fields left out: Vault refuses empty custom_metadata values.
        store.put(name, value, {k: v for k, v in store_metadata(record).items() if v})

    # This machine has no local inventory, and no working keyring: only the team store.
    monkeypatch.setenv("TOKENS_HOME", str(tmp_path / "fresh-home"))
    result = tokens(
        "remind", "--store", "team", "--json",
        env={"PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "tests.keyring_backend.BrokenKeyring"},
    )  # fmt: skip
    assert result.returncode == 1, result
    report = json.loads(result.stdout)
    assert [(t["name"], t["status"]) for t in report["tokens"]] == [("team-old", "overdue"), ("team-soon", "due-soon")]
    assert report["tokens"][0]["purpose"] == "publish from CI"
    assert report["tokens"][0]["action"].startswith("tokens rotate team-old")
    assert CANARY not in result.stdout + result.stderr


# -- far-future dates (issue 15 follow-up, item 1) -----------------------------------


@pytest.mark.parametrize("far", ["9999-12-31T23:59:59+00:00", "9999-12-30", "9999-12-31T23:59:59-05:00"])
def test_one_far_future_date_skips_that_entry_not_the_job(fake_team_store, capsys, tmp_path, far):
    bad = remote("far-future", rotated_days_ago=1)
    bad.metadata["rotated_at"] = far
    fake_team_store.entries = {"far-future": bad, "ok-old": remote("ok-old", rotated_days_ago=100)}
    code, out, err = run_cli(capsys, "remind", "--store", "team")
    assert code == 1, err
    assert "ok-old" in out and "far-future" not in out
    assert "skipping 'far-future'" in err and "rotated_at is out of range" in err and "internal error" not in err
    feed, html = tmp_path / "team.ics", tmp_path / "team.html"
    code, _, err = run_cli(capsys, "calendar", "--store", "team", "-o", str(feed))
    assert code == 0, err
    assert "ok-old" in feed.read_text() and "far-future" not in feed.read_text()
    code, _, err = run_cli(capsys, "report", "--html", str(html), "--store", "team")
    assert code in (0, 1), err
    assert "ok-old" in html.read_text() and "internal error" not in err


def test_local_deadline_beyond_the_calendar_is_clamped_not_a_crash(tokens, file_keyring, tmp_path, data_dir):
    import sqlite3

    result = tokens("add", "far", "--rotate-every", "100y", input="far-value-0123\n")
    assert result.returncode == 0, result
    # A row synced from another machine's store, 100 years before Python's last date.
    with sqlite3.connect(data_dir / "inventory.sqlite3") as db:
        db.execute("UPDATE tokens SET rotated_at = '9999-12-31T23:59:59+00:00' WHERE name = 'far'")
    for args in (["remind"], ["list"], ["calendar", "-o", str(tmp_path / "f.ics")], ["report", "--html", str(tmp_path / "r.html")]):
        result = tokens(*args)
        assert result.returncode == 0, (args, result)
        assert "internal error" not in result.stderr


def test_period_arithmetic_never_overflows():
    from tokenward.policy import MAX_MOMENT, MIN_MOMENT, parse_period

    top = datetime(9999, 12, 31, tzinfo=timezone.utc)
    bottom = datetime(1, 1, 2, tzinfo=timezone.utc)
    for text in ("1d", "2w", "1mo", "100y"):
        assert parse_period(text).after(top) == MAX_MOMENT
        assert parse_period(text).before(bottom) == MIN_MOMENT


def test_remind_and_list_count_the_days_left_alike(tokens, file_keyring):
    # 80 days and 12 hours ago with a 90d period: 9.5 days left, "in 9d" everywhere.
    created = (NOW - timedelta(days=80, hours=12)).strftime("%Y-%m-%dT%H:%M:%S")
    assert tokens("add", "half", "--created", created, input="half-value-0123\n").returncode == 0
    listed = tokens("list").stdout
    reminded = tokens("remind").stdout
    assert "in 9d" in listed, listed
    assert "due-soon in 9d" in reminded, reminded
