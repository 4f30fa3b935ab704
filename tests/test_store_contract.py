"""One store contract, run against every store type on a real server:
the OS keyring (gnome-keyring's Secret Service), OpenBao (Vault KV v2) and moto
(AWS Secrets Manager). Optional abilities (metadata, versions) are tested where the
store declares them."""

from __future__ import annotations

from tokenward.tokens import fingerprint

import pytest

from tests.remote_stores import remote_env, unique
from tokenward.config import StoreConfig
from tokenward.errors import SecretNotFound, StoreError
from tokenward.stores.base import BulkReader, MetadataStore, MetadataWriter, Store, VersionedStore, Written, open_store

VALUE_1 = "pypi-CONTRACTvalueONE0123456789"
VALUE_2 = "pypi-CONTRACTvalueTWO0123456789"
META = {
    "tokenward": "1",
    "name": "tok",
    "kind": "pypi",
    "purpose": "publish foo (from CI), v2 & friends",
    "scope": "project:foo,bar",
    "repository": "https://upload.pypi.org/legacy/",
    "created_at": "2026-01-01T00:00:00+00:00",
    "rotated_at": "2026-02-01T00:00:00+00:00",
    "rotate_every": "90d",
    "expires_at": "",
    "fingerprint": "0123456789abcdef",
}


def open_kind(kind: str, request, data_dir, monkeypatch) -> Store:
    data_dir.mkdir(mode=0o700, exist_ok=True)
    if kind == "keyring":
        request.getfixturevalue("real_keyring")
        config = StoreConfig("kr", "keyring", {"service": unique("tokenward-contract-")})
    elif kind == "vault":
        openbao = request.getfixturevalue("openbao")
        remote_env(monkeypatch, openbao)
        config = StoreConfig("team-vault", "vault", {"url": openbao.url, "prefix": unique("contract/") + "/"})
    else:
        moto = request.getfixturevalue("moto")
        remote_env(monkeypatch)
        config = StoreConfig("team-aws", "aws", {"region": "us-east-1", "endpoint_url": moto.url, "prefix": unique("contract/") + "/"})
    return open_store(config, data_dir=data_dir)


@pytest.fixture(params=["keyring", "vault", "aws"])
def store(request, data_dir, monkeypatch) -> Store:
    """Every store type."""
    return open_kind(request.param, request, data_dir, monkeypatch)


@pytest.fixture(params=["vault", "aws"])
def remote(request, data_dir, monkeypatch):
    """The stores that also carry metadata, keep versions and read in bulk."""
    opened = open_kind(request.param, request, data_dir, monkeypatch)
    for ability in (MetadataStore, MetadataWriter, VersionedStore, BulkReader):
        assert isinstance(opened, ability), ability.__name__
    return opened


def test_keyring_declares_no_optional_abilities(data_dir):
    kr = open_store(StoreConfig("kr", "keyring", {}), data_dir=data_dir)
    assert not isinstance(kr, MetadataStore) and not isinstance(kr, VersionedStore)


def no_value_in(text: str) -> None:
    assert VALUE_1 not in text and VALUE_2 not in text


def test_is_a_store(store):
    assert isinstance(store, Store)
    assert store.describe()


def test_put_then_get(store):
    written = store.put("tok", VALUE_1, META)
    assert isinstance(written, Written)
    assert store.get("tok") == VALUE_1


def test_overwrite(store):
    first = store.put("tok", VALUE_1, META)
    second = store.put("tok", VALUE_2, META)
    assert store.get("tok") == VALUE_2
    if isinstance(store, VersionedStore):
        assert first.version and second.version and first.version != second.version
    else:
        assert first.version is None


def test_missing_is_secret_not_found_naming_the_store(store):
    with pytest.raises(SecretNotFound) as info:
        store.get("never-written")
    assert store.name in str(info.value) and "never-written" in str(info.value)


def test_delete(store):
    store.put("tok", VALUE_1, META)
    store.delete("tok")
    with pytest.raises(SecretNotFound):
        store.get("tok")
    store.delete("tok")  # absent is not an error
    store.delete("never-written")


def test_write_after_delete(store):
    store.put("tok", VALUE_1, META)
    store.delete("tok")
    store.put("tok", VALUE_2, META)
    assert store.get("tok") == VALUE_2


def test_tokens_are_independent(store):
    store.put("a", VALUE_1, META)
    store.put("b", VALUE_2, META)
    assert (store.get("a"), store.get("b")) == (VALUE_1, VALUE_2)


def test_metadata_round_trip_without_values(remote):
    written = remote.put("tok", VALUE_1, META)
    entries = remote.list_entries()
    assert set(entries) == {"tok"}
    entry = entries["tok"]
    assert entry.version == written.version
    for key, value in META.items():
        if key != "fingerprint":
            assert entry.metadata.get(key, "") == value, key
    # The fingerprint in shared metadata is keyed (issue 9 item 24): not the plain
    # SHA-256 prefix anyone reading metadata could test guesses against.
    assert entry.metadata["fingerprint"] == remote.keyed(VALUE_1)
    assert entry.metadata["fingerprint"].startswith("hmac:")
    assert fingerprint(VALUE_1) not in repr(entries)
    # The store says which version its metadata describes: the one just written.
    assert entry.metadata["version"] == written.version
    no_value_in(repr(entries))


def test_listing_some_names(remote):
    for name in ("a", "b", "c"):
        remote.put(name, VALUE_1, dict(META, name=name))
    assert set(remote.list_entries(["a", "c", "zz"])) == {"a", "c"}


def test_listing_an_empty_store(remote):
    assert remote.list_entries() == {}


def test_previous_version_kept(remote):
    remote.put("tok", VALUE_1, META)
    with pytest.raises(SecretNotFound):
        remote.get_previous("tok")
    remote.put("tok", VALUE_2, META)
    assert remote.get_previous("tok") == VALUE_1
    assert remote.get("tok") == VALUE_2


def test_bulk_read(remote):
    names = [f"bulk-{i}" for i in range(23)]  # more than one AWS batch of 20
    for i, name in enumerate(names):
        remote.put(name, f"{VALUE_1}-{i}", META)
    found = remote.get_many([*names, "absent"])
    assert {n: found[n] for n in names} == {n: f"{VALUE_1}-{i}" for i, n in enumerate(names)}
    assert isinstance(found["absent"], SecretNotFound)


def test_errors_never_carry_values(store):
    store.put("tok", VALUE_1, META)
    try:
        store.get("other")
    except StoreError as exc:
        no_value_in(str(exc))


def test_fingerprint_key_is_per_store_and_never_listed(remote):
    remote.put("tok", VALUE_1, META)
    assert set(remote.list_entries()) == {"tok"}  # the key secret is not a token
    key = remote.fingerprint_key()
    assert len(key) == 64
    # Another client of the same store finds the same key (it is kept in the store).
    twin = type(remote)(remote._config)
    assert twin.fingerprint_key() == key
