"""`tokens sync` and `tokens rollback`: the pure planner, then the issue's scenarios
through the real `tokens` CLI against the real keyring, OpenBao and moto."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.remote_stores import aws_table, boto_client, dead_url, hvac_root, keyring_table, remote_env, unique, vault_table
from tokenward.config import StoreConfig
from tokenward.inventory import Inventory, JournalEntry, TokenRecord
from tokenward.stores.base import open_store
from tokenward.sync import Seen, TokenState, plan_token
from tokenward.tokens import fingerprint

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


# -- the pure planner -----------------------------------------------------------
def record(fp="f-old", rotated=T0, stores=("keyring", "vault", "aws"), **extra) -> TokenRecord:
    return TokenRecord(name="tok", kind="pypi", created_at=T0, rotated_at=rotated, stores=stores, fingerprint=fp, **extra)


def assumed(fp="f-old", rotated=T0) -> Seen:
    return Seen("present", fingerprint=fp, rotated_at=rotated, assumed=True)


def vouched(fp="f-old", rotated=T0, version="1") -> Seen:
    meta = {"tokenward": "1", "fingerprint": fp, "rotated_at": rotated.isoformat(), "version": version, "scope": "user"}
    return Seen("present", fingerprint=fp, rotated_at=rotated, version=version, vouched=True, metadata=meta)


def outside(fp="f-hand", version="2") -> Seen:
    return Seen("present", fingerprint=fp, version=version, outside=True, metadata={"tokenward": "1", "version": "1"})


def plan(seen, rec=None, prefer=None, journal=(), discovered=False):
    state = TokenState("tok", rec or record(), seen, tuple(journal), discovered=discovered)
    return plan_token(state, prefer=prefer, now=NOW, source_rank={"aws": 0, "vault": 1, "keyring": 2})


def writes(p) -> dict[str, str]:
    return {w.store: w.reason for w in p.writes}


def test_plan_all_equal_is_in_sync():
    p = plan({"keyring": assumed(), "vault": vouched(), "aws": vouched()})
    assert p.status == "in-sync" and not p.writes


def test_plan_newest_rotated_at_wins():
    later = T0 + timedelta(days=10)
    p = plan({"keyring": assumed(), "vault": vouched("f-new", later, "2"), "aws": vouched()})
    assert p.status == "update" and p.source == "vault"
    assert writes(p) == {"keyring": "older", "aws": "older"}
    assert p.record.fingerprint == "f-new" and p.record.rotated_at == later
    assert p.record.store_versions["vault"] == "2"


def test_plan_writes_where_missing_and_reads_from_the_cheapest_store():
    p = plan({"keyring": assumed(), "vault": Seen("missing"), "aws": vouched()})
    assert writes(p) == {"vault": "missing"} and p.source == "aws"


def test_plan_value_changed_outside_is_a_conflict():
    p = plan({"keyring": assumed(), "vault": vouched(), "aws": outside()})
    assert p.status == "conflict" and not p.writes
    assert "aws (changed outside tokenward)" in p.message and "--prefer" in p.message


@pytest.mark.parametrize("prefer, winner, expected", [
    ("aws", "f-hand", {"keyring": "preferred", "vault": "preferred", "aws": "metadata"}),
    ("vault", "f-old", {"aws": "preferred"}),
])  # fmt: skip
def test_plan_prefer_settles_a_conflict(prefer, winner, expected):
    p = plan({"keyring": assumed(), "vault": vouched(), "aws": outside()}, prefer=prefer)
    assert p.status == "update" and p.winner == winner and writes(p) == expected
    if winner == "f-hand":
        assert p.record.rotated_at == NOW  # a value of unknown age becomes the newest


def test_plan_prefer_does_not_override_a_clear_order():
    later = T0 + timedelta(days=1)
    p = plan({"keyring": assumed(), "vault": vouched("f-new", later), "aws": vouched()}, prefer="aws")
    assert p.winner == "f-new"


def test_plan_outside_change_to_the_same_value_only_rewrites_metadata():
    p = plan({"keyring": assumed(), "vault": vouched(), "aws": outside(fp="f-old")})
    assert p.status == "update" and writes(p) == {"aws": "metadata"}


def test_plan_equal_ages_different_values_is_a_conflict():
    p = plan({"keyring": assumed(), "vault": vouched("f-other", T0), "aws": vouched()})
    assert p.status == "conflict"


def test_plan_one_failed_store_does_not_stop_the_others():
    later = T0 + timedelta(days=1)
    p = plan({"keyring": assumed(), "vault": vouched("f-new", later), "aws": Seen("failed", error="down")})
    assert writes(p) == {"keyring": "older"} and p.failed == {"aws": "down"}
    assert not p.close_journal


def test_plan_interrupted_rotation_wins_through_its_journal_entry():
    later = T0 + timedelta(days=2)
    entry = JournalEntry(1, "tok", "rotate", "f-new", later, ["keyring", "vault", "aws"], ["keyring"], later)
    # The crash came before the inventory was saved: only the journal knows f-new's age.
    seen = {"keyring": Seen("present", fingerprint="f-new"), "vault": vouched(), "aws": vouched()}
    p = plan(seen, journal=[entry])
    assert p.winner == "f-new" and writes(p) == {"vault": "older", "aws": "older"} and p.close_journal


def test_plan_rotation_that_never_reached_a_store_is_reported():
    later = T0 + timedelta(days=2)
    entry = JournalEntry(1, "tok", "rotate", "f-lost", later, ["keyring", "vault"], [], later)
    p = plan({"keyring": assumed(), "vault": vouched()}, rec=record(stores=("keyring", "vault")), journal=[entry])
    assert p.status == "in-sync" and p.close_journal and "never reached a store" in p.lost_rotations[0]


def test_plan_no_value_anywhere_is_lost():
    p = plan({"keyring": Seen("missing"), "vault": Seen("missing"), "aws": Seen("missing")})
    assert p.status == "lost"


def test_plan_discovered_token_is_added():
    rec = record(stores=("keyring", "vault"))
    p = plan({"keyring": Seen("missing"), "vault": vouched()}, rec=rec, discovered=True)
    assert p.status == "update" and p.discovered and writes(p) == {"keyring": "missing"}


def test_plan_adopts_scope_and_expiry_of_a_teammates_rotation():
    later = T0 + timedelta(days=1)
    p = plan({"keyring": assumed(), "vault": vouched("f-new", later), "aws": vouched()}, rec=record(scope="project:foo"))
    assert p.record.scope == "user" and p.record.expires_at is None


# -- scenarios through the CLI --------------------------------------------------
def new_value(kind: str = "github") -> str:
    prefix = {"pypi": "pypi-", "github": "ghp_", "npm": "npm_"}[kind]
    return prefix + "SYNC" + secrets.token_hex(16)


class Machine:
    """One machine: its own data dir, keyring service and config; shared Vault and AWS."""

    def __init__(self, team: "Team", name: str, stores: tuple[str, ...]) -> None:
        self.team = team
        self.name = name
        self.home = team.root / name / "home"
        self.config = team.root / name / "config.toml"
        self.service = unique(f"tokenward-{name}-")
        self.stores = stores
        self.config.parent.mkdir(parents=True)
        self.configure()

    def configure(self, *, aws_url: str | None = None, vault_url: str | None = None) -> None:
        text = f"[defaults]\nstores = {json.dumps(list(self.stores))}\n" + keyring_table(self.service)
        if "vault" in self.stores or True:
            text += vault_table("vault", vault_url or self.team.openbao.url, self.team.prefix)
        if "aws" in self.stores:
            text += aws_table("aws", aws_url or self.team.moto.url, self.team.prefix, timeout=2)
        self.config.write_text(text)

    def __call__(self, *args: str, input: str | None = None):
        env = dict(self.team.env, TOKENS_HOME=str(self.home), TOKENS_CONFIG=str(self.config))
        result = self.team.tokens(*args, input=input, env=env)
        for value in self.team.values:
            assert value not in result.stderr, (args, result)
            if args[0] != "get":
                assert value not in result.stdout, (args, result)
        return result

    def store(self, name: str):
        if name == "keyring":
            config = StoreConfig("keyring", "keyring", {"service": self.service})
        elif name == "vault":
            config = StoreConfig("vault", "vault", {"url": self.team.openbao.url, "prefix": self.team.prefix})
        else:
            config = StoreConfig("aws", "aws", {"region": "us-east-1", "endpoint_url": self.team.moto.url, "prefix": self.team.prefix})
        return open_store(config)

    def value_in(self, store: str, token: str) -> str:
        return self.store(store).get(token)

    def inventory(self) -> Inventory:
        return Inventory.open(self.home)


class Team:
    def __init__(self, root: Path, openbao, moto, env, tokens) -> None:
        self.root, self.openbao, self.moto, self.env, self.tokens = root, openbao, moto, env, tokens
        self.prefix = unique("sync/") + "/"
        self.values: set[str] = set()

    def value(self, kind: str = "github") -> str:
        value = new_value(kind)
        self.values.add(value)
        return value

    def machine(self, name: str, stores=("keyring", "vault", "aws")) -> Machine:
        return Machine(self, name, tuple(stores))


@pytest.fixture
def team(tmp_path, openbao, moto, real_keyring, monkeypatch, tokens) -> Team:
    env = remote_env(monkeypatch, openbao)
    return Team(tmp_path, openbao, moto, env, tokens)


def test_add_and_rotate_reach_every_store_and_keep_versions(team):
    me = team.machine("laptop")
    first, second = team.value(), team.value()
    assert me("add", "pypi-foo", "--purpose", "publish foo", input=first).returncode == 0
    assert me("rotate", "pypi-foo", input=second).returncode == 0
    for store in ("keyring", "vault", "aws"):
        assert me.value_in(store, "pypi-foo") == second
    assert me.store("vault").get_previous("pypi-foo") == first
    assert me.store("aws").get_previous("pypi-foo") == first
    sync = me("sync")
    assert sync.returncode == 0 and "Nothing to do" in sync.stdout


def test_teammate_rotates_in_vault_and_my_sync_pulls_it(team):
    me = team.machine("laptop")
    mate = team.machine("teammate", stores=("keyring", "vault"))
    old, new = team.value("github"), team.value("github")
    assert me("add", "gh-release", "--purpose", "release bot", input=old).returncode == 0
    joined = mate("sync", "--discover")
    assert joined.returncode == 0, joined
    assert mate.value_in("keyring", "gh-release") == old
    assert mate("rotate", "gh-release", input=new).returncode == 0  # keyring + vault only

    plan = me("sync", "--dry-run")
    assert plan.returncode == 0 and "gh-release" in plan.stdout and "write to keyring, aws" in plan.stdout
    assert me.value_in("keyring", "gh-release") == old  # --dry-run changed nothing

    result = me("sync")
    assert result.returncode == 0, result
    assert "wrote aws, keyring" in result.stdout
    assert me.value_in("keyring", "gh-release") == new and me.value_in("aws", "gh-release") == new
    shown = json.loads(me("show", "gh-release", "--json").stdout)
    assert shown["rotated_at"] > shown["created_at"]
    assert "Nothing to do" in me("sync").stdout


def test_fresh_machine_discovers_the_team_inventory(team):
    me = team.machine("laptop")
    values = {}
    for name, kind in (("gh-foo", "github"), ("npm-bar", "npm")):
        values[name] = team.value(kind)
        assert me("add", name, "--purpose", f"publish {name}", "--rotate-every", "30d", input=values[name]).returncode == 0
    fresh = team.machine("new-laptop")
    assert fresh("list", "--json").stdout.strip() == "[]"
    dry = fresh("sync", "--discover", "--dry-run", "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["summary"]["discovered"] == 2
    assert fresh("list", "--json").stdout.strip() == "[]"

    result = fresh("sync", "--discover")
    assert result.returncode == 0, result
    listed = {r["name"]: r for r in json.loads(fresh("list", "--json").stdout)}
    mine = {r["name"]: r for r in json.loads(me("list", "--json").stdout)}
    assert set(listed) == {"gh-foo", "npm-bar"}
    for name in listed:
        for key in ("kind", "purpose", "rotate_every", "created_at", "rotated_at", "repository"):
            assert listed[name][key] == mine[name][key], (name, key)
        assert listed[name]["stores"] == ["keyring", "vault", "aws"]
        # The value now works from this machine's own keyring.
        assert fresh.value_in("keyring", name) == values[name]
        assert fresh("get", name, "--store", "keyring").stdout.strip() == values[name]
    again = fresh("sync")
    assert again.returncode == 0 and "Nothing to do" in again.stdout


def test_sync_without_discover_mentions_remote_tokens(team):
    me = team.machine("laptop")
    assert me("add", "pypi-foo", input=team.value()).returncode == 0
    other = team.machine("other")
    result = other("sync")
    assert result.returncode == 0 and "--discover" in result.stderr


def test_value_changed_by_hand_in_aws_is_a_conflict_until_prefer(team):
    me = team.machine("laptop")
    mine, by_hand = team.value(), team.value()
    assert me("add", "pypi-foo", input=mine).returncode == 0
    boto_client(team.moto).put_secret_value(SecretId=team.prefix + "pypi-foo", SecretString=by_hand)

    conflict = me("sync")
    assert conflict.returncode == 1, conflict
    assert "conflict" in conflict.stdout and "aws (changed outside tokenward)" in conflict.stdout
    assert me.value_in("vault", "pypi-foo") == mine and me.value_in("aws", "pypi-foo") == by_hand  # untouched
    data = json.loads(me("sync", "--json").stdout)
    assert data["tokens"][0]["status"] == "conflict" and data["summary"]["conflicts"] == 1

    assert me("sync", "--prefer", "nosuch").returncode == 2
    settled = me("sync", "--prefer", "aws")
    assert settled.returncode == 0, settled
    for store in ("keyring", "vault", "aws"):
        assert me.value_in(store, "pypi-foo") == by_hand
    assert me("get", "pypi-foo").stdout.strip() == by_hand
    assert "Nothing to do" in me("sync").stdout


def test_value_changed_by_hand_in_vault_can_be_overruled(team):
    me = team.machine("laptop")
    mine = team.value()
    assert me("add", "pypi-foo", input=mine).returncode == 0
    hvac_root(team.openbao).secrets.kv.v2.create_or_update_secret(path=team.prefix + "pypi-foo", secret={"value": "x"})
    assert me("sync").returncode == 1
    assert me("sync", "pypi-foo", "--prefer", "keyring").returncode == 0
    assert me.value_in("vault", "pypi-foo") == mine


def test_aws_down_during_rotate_loses_nothing_and_sync_repairs(team):
    me = team.machine("laptop")
    old, new = team.value(), team.value()
    assert me("add", "pypi-foo", input=old).returncode == 0
    me.configure(aws_url=dead_url())  # AWS goes away
    rotated = me("rotate", "pypi-foo", input=new)
    assert rotated.returncode == 3, rotated
    assert "cannot reach AWS Secrets Manager" in rotated.stderr and "tokens sync pypi-foo" in rotated.stderr
    assert "Traceback" not in rotated.stderr
    assert me("get", "pypi-foo").stdout.strip() == new  # the newest value is safe
    assert json.loads(me("show", "pypi-foo", "--json").stdout)["pending_sync"] == ["aws"]

    down = me("sync")
    assert down.returncode == 3 and "cannot reach AWS" in down.stderr

    me.configure()  # AWS is back
    repaired = me("sync")
    assert repaired.returncode == 0, repaired
    assert "wrote aws" in repaired.stdout
    assert me.value_in("aws", "pypi-foo") == new and me.store("aws").get_previous("pypi-foo") == old
    assert json.loads(me("show", "pypi-foo", "--json").stdout)["pending_sync"] == []


def test_vault_down_during_sync_does_not_stop_aws(team):
    me = team.machine("laptop")
    old, new = team.value(), team.value()
    assert me("add", "pypi-foo", input=old).returncode == 0
    me.configure(aws_url=dead_url())
    assert me("rotate", "pypi-foo", input=new).returncode == 3
    me.configure(vault_url=dead_url())
    result = me("sync")
    assert result.returncode == 3, result
    assert "cannot reach Vault" in result.stderr and "wrote aws" in result.stdout
    assert me.value_in("aws", "pypi-foo") == new


def test_interrupted_rotation_converges(team):
    """A rotate killed after its first store write: the journal lets sync finish it."""
    me = team.machine("laptop")
    old, new = team.value(), team.value()
    assert me("add", "pypi-foo", input=old).returncode == 0
    with me.inventory() as inventory:
        entry = inventory.journal_begin("pypi-foo", "rotate", fingerprint(new), datetime.now(timezone.utc), ["keyring", "vault", "aws"])
        me.store("keyring").put("pypi-foo", new, {})
        inventory.journal_mark(entry, "keyring")
        # kill -9 here: vault and aws not written, the inventory still names the old value.
    result = me("sync")
    assert result.returncode == 0, result
    for store in ("keyring", "vault", "aws"):
        assert me.value_in(store, "pypi-foo") == new
    with me.inventory() as inventory:
        assert inventory.get("pypi-foo").fingerprint == fingerprint(new)
        assert inventory.journal_pending() == []


def test_rollback_restores_the_previous_value_everywhere(team):
    me = team.machine("laptop")
    old, new = team.value(), team.value()
    assert me("add", "pypi-foo", input=old).returncode == 0
    assert me("rotate", "pypi-foo", input=new).returncode == 0
    result = me("rollback", "pypi-foo")
    assert result.returncode == 0, result
    for store in ("keyring", "vault", "aws"):
        assert me.value_in(store, "pypi-foo") == old


def test_rollback_needs_a_versioned_store(team):
    me = team.machine("laptop", stores=("keyring",))
    assert me("add", "pypi-foo", input=team.value()).returncode == 0
    result = me("rollback", "pypi-foo")
    assert result.returncode == 2 and "keeps previous versions" in result.stderr


def test_bad_input_is_one_line_and_exit_2(team):
    me = team.machine("laptop")
    for args in (("sync", "nosuch"), ("sync", "Bad Name"), ("sync", "--prefer", "nosuch"), ("rollback", "nosuch")):
        result = me(*args)
        assert result.returncode == 2, (args, result)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")


def test_plain_sync_notices_a_keyring_entry_deleted_by_hand(team):
    """Issue 9 item 25: the keyring carries no metadata, but plain `sync` confirms its
    entries exist (one search on the Secret Service, no value read) and repairs a gap."""
    me = team.machine("laptop")
    value = team.value()
    assert me("add", "gh-foo", input=value).returncode == 0
    me.store("keyring").delete("gh-foo")  # removed behind tokenward's back
    result = me("sync")
    assert result.returncode == 0, result
    assert "Nothing to do" not in result.stdout and "wrote keyring" in result.stdout
    assert me.value_in("keyring", "gh-foo") == value
    assert "Nothing to do" in me("sync").stdout
    # --verify still reads every value.
    checked = me("sync", "--verify")
    assert checked.returncode == 0 and "Nothing to do" in checked.stdout


def test_plan_a_store_not_checked_is_not_in_sync():
    p = plan({"keyring": assumed(), "vault": vouched(), "aws": Seen("failed", error="down")})
    assert p.status == "unchecked" and "not checked: aws" in p.message


def test_a_token_not_checked_everywhere_is_not_reported_in_sync(team):
    """Issue 15 item 24."""
    me = team.machine("laptop", stores=("keyring", "vault"))
    assert me("add", "gh-foo", input=team.value()).returncode == 0
    me.configure(vault_url=dead_url())
    data = json.loads(me("sync", "--json").stdout)
    (item,) = data["tokens"]
    assert item["status"] == "unchecked" and "vault" in item["unreachable"]
    assert data["summary"]["in_sync"] == 0 and data["summary"]["unchecked"] == 1
    result = me("sync")
    assert result.returncode != 0
    assert "0 in sync" in result.stdout and "1 not checked in every store" in result.stdout
    assert "gh-foo  not checked:" in result.stdout


def test_sync_json_reports_writes(team):
    me = team.machine("laptop", stores=("keyring", "vault"))
    value = team.value()
    assert me("add", "gh-foo", input=value).returncode == 0
    hvac_root(team.openbao).secrets.kv.v2.delete_metadata_and_all_versions(path=team.prefix + "gh-foo")
    data = json.loads(me("sync", "--json").stdout)
    (item,) = data["tokens"]
    assert item["status"] == "update" and item["writes"] == [{"store": "vault", "reason": "missing", "result": "written"}]
    assert data["summary"]["writes"] == 1 and me.value_in("vault", "gh-foo") == value


def test_unkeyed_fingerprints_are_keyed_in_place_without_a_new_version(team):
    """Issue 9 item 24: metadata from before keyed fingerprints carries the plain SHA-256
    prefix. Sync rewrites it as the store's HMAC, in place (same version, no new value
    version), and a metadata reader no longer sees the plain fingerprint."""
    me = team.machine("laptop", stores=("keyring", "vault", "aws"))
    value = team.value()
    assert me("add", "gh-foo", input=value).returncode == 0
    root = hvac_root(team.openbao)
    meta = root.secrets.kv.v2.read_secret_metadata(path=team.prefix + "gh-foo")["data"]
    assert meta["custom_metadata"]["fingerprint"].startswith("hmac:")
    assert fingerprint(value) not in json.dumps(meta)
    # Make it look like an entry an older tokenward wrote.
    legacy = dict(meta["custom_metadata"], fingerprint=fingerprint(value))
    root.secrets.kv.v2.update_metadata(path=team.prefix + "gh-foo", custom_metadata=legacy)
    aws = boto_client(team.moto)
    described = aws.describe_secret(SecretId=team.prefix + "gh-foo")
    head, _, body = described["Description"].partition(": ")
    old = json.loads(body)
    aws.update_secret(SecretId=team.prefix + "gh-foo", Description=head + ": " + json.dumps(dict(old, fingerprint=fingerprint(value))))

    result = me("sync")
    assert result.returncode == 0, result
    assert "key the fingerprint in" in result.stdout
    after = root.secrets.kv.v2.read_secret_metadata(path=team.prefix + "gh-foo")["data"]
    assert after["current_version"] == meta["current_version"]  # no new value version
    assert after["custom_metadata"]["fingerprint"].startswith("hmac:")
    described = aws.describe_secret(SecretId=team.prefix + "gh-foo")
    assert fingerprint(value) not in described["Description"] and "hmac:" in described["Description"]
    assert "Nothing to do" in me("sync").stdout
    assert me.value_in("vault", "gh-foo") == value and me.value_in("aws", "gh-foo") == value


def test_a_teammates_rotation_with_keyed_fingerprints_is_pulled(team):
    """Keyed fingerprints cannot be compared with the inventory's: a teammate's new value
    is read once (from the cheapest store) and the other store matched by its own key."""
    me, mate = team.machine("laptop"), team.machine("ci")
    first, second = team.value(), team.value()
    assert me("add", "gh-foo", input=first).returncode == 0
    assert mate("sync", "--discover").returncode == 0
    assert mate("rotate", "gh-foo", input=second).returncode == 0
    result = me("sync")
    assert result.returncode == 0, result
    assert "wrote keyring" in result.stdout and "0 conflicts" in result.stdout
    assert me.value_in("keyring", "gh-foo") == second
    assert "Nothing to do" in me("sync").stdout
