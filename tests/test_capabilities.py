"""Issue 11, "Shape first" step 1: the core asks a store what it can do with
`isinstance(store, <protocol>)` (stores/base.py), never by its type name, and config
checks a [stores.NAME] table against the options its type declares in the registry.

In process, with in-memory stores registered as store types: no server, no SDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenward.app import App
from tokenward.config import Config, StoreConfig, parse_config
from tokenward.errors import ConfigError, SecretNotFound
from tokenward.inventory import TokenRecord
from tokenward.policy import utcnow
from tokenward.stores import base
from tokenward.stores.base import (
    AtomicCheckAndSet,
    BulkReader,
    MetadataStore,
    MetadataWriter,
    Option,
    PresenceCheck,
    Store,
    StoreType,
    VersionedStore,
    Written,
)
from tokenward.tokens import fingerprint

VALUE = "capability-test-value-0123456789"


class MemoryStore:
    """A local store held in memory (the keyring's abilities: no metadata, no versions)."""

    values: dict[str, str] = {}
    reads: list[str] = []

    def __init__(self, config, data_dir=None) -> None:
        self.name = config.name

    def get(self, token: str) -> str:
        type(self).reads.append(token)
        try:
            return self.values[token]
        except KeyError:
            raise SecretNotFound(self.name, token) from None

    def put(self, token, value, metadata, *, expect=base.UNCHECKED) -> Written:
        self.values[token] = value
        return Written(None)

    def exists(self, token: str) -> bool:
        return token in self.values

    def check_metadata(self, metadata) -> None:
        pass

    def delete(self, token: str) -> None:
        self.values.pop(token, None)

    def describe(self) -> str:
        return "memory"


class WriteOnly:
    """A CI secret's shape (targets/base.py `Target`): pushed, described, checked,
    never read back (no `get`), here registered as if it were a store type."""

    pushed: list[str] = []

    def __init__(self, config, data_dir=None) -> None:
        self.name = config.name

    def describe(self) -> str:
        return "write-only"

    def check_value(self, value: str) -> None:
        pass

    def check(self) -> str:
        return "reachable"

    def push(self, value: str) -> str:
        type(self).pushed.append(value)
        return "updated"


@pytest.fixture
def app(tmp_path, monkeypatch) -> App:
    monkeypatch.setitem(base.REGISTRY, "memory", StoreType(f"{__name__}:MemoryStore", {}))
    monkeypatch.setitem(base.REGISTRY, "write-only", StoreType(f"{__name__}:WriteOnly", {"repo": Option(str, "")}))
    MemoryStore.values, MemoryStore.reads, WriteOnly.pushed = {}, [], []
    config = Config(
        path=None,
        default_stores=("mem",),
        stores={"mem": StoreConfig("mem", "memory", {}), "ci": StoreConfig("ci", "write-only", {})},
    )
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    return App(config=config, data_dir=data)


def add(app: App, name: str, stores: tuple[str, ...]) -> TokenRecord:
    now = utcnow().replace(microsecond=0)
    record = TokenRecord(name=name, kind="generic", created_at=now, rotated_at=now, stores=stores, fingerprint=fingerprint(VALUE))
    app.inventory.insert(record)
    MemoryStore.values[name] = VALUE
    return record


@pytest.mark.parametrize("verify", [False, True], ids=["plain", "verify"])
def test_sync_never_reads_or_writes_something_that_is_not_a_store(app, verify):
    from tokenward.sync import Sync

    from tokenward.targets.base import Target

    assert isinstance(app.store("ci"), Target) and not isinstance(app.store("ci"), Store)
    add(app, "tok", ("mem", "ci"))
    report = Sync(app, verify=verify).run()
    (plan,) = report.plans
    assert plan.status == "in-sync", plan.message
    assert not plan.writes and not plan.failed and report.exit_status == 0
    assert WriteOnly.pushed == []
    assert MemoryStore.reads == (["tok"] if verify else [])  # --verify did read the real store


def test_discover_lists_only_stores_that_carry_metadata(app):
    from tokenward.sync import Sync

    add(app, "tok", ("mem",))
    report = Sync(app, discover=True).run()
    assert [p.name for p in report.plans] == ["tok"] and not report.store_errors


def test_the_real_stores_declare_their_abilities(tmp_path):
    expected = {
        "keyring": {PresenceCheck},
        "vault": {MetadataStore, MetadataWriter, VersionedStore, BulkReader, AtomicCheckAndSet},
        "aws": {MetadataStore, MetadataWriter, VersionedStore, BulkReader},
    }
    abilities = {MetadataStore, MetadataWriter, VersionedStore, BulkReader, AtomicCheckAndSet, PresenceCheck}
    for store_type, wanted in expected.items():
        opened = base.open_store(StoreConfig("s", store_type, {"region": "eu-west-1"} if store_type == "aws" else {}), tmp_path)
        assert isinstance(opened, Store)
        assert {a for a in abilities if isinstance(opened, a)} == wanted, store_type


def test_config_checks_a_store_table_against_its_types_declared_options(monkeypatch):
    monkeypatch.setitem(base.REGISTRY, "write-only", StoreType(f"{__name__}:WriteOnly", {"repo": Option(str, "o/r")}))
    config = parse_config({"stores": {"ci": {"type": "write-only", "repo": "me/it"}}}, Path("c.toml"))
    assert config.store("ci").get("repo") == "me/it"
    assert parse_config({"stores": {"ci": {"type": "write-only"}}}, Path("c.toml")).store("ci").get("repo") == "o/r"
    with pytest.raises(ConfigError, match=r"stores\.ci\.url is not a known key \(known: type, repo\)"):
        parse_config({"stores": {"ci": {"type": "write-only", "url": "http://x"}}}, Path("c.toml"))
    with pytest.raises(ConfigError, match=r'stores\.v\.auth must be "token" or "approle"'):
        parse_config({"stores": {"v": {"type": "vault", "auth": "ldap"}}}, Path("c.toml"))
    with pytest.raises(ConfigError, match=r"unknown type of type list"):
        parse_config({"stores": {"v": {"type": ["vault"]}}}, Path("c.toml"))
