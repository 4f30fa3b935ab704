"""A teammate's shared metadata survives sync: discovery and sync never write a new
value version to fix metadata, keep every field they can read, date a value changed
outside tokenward by the store's own version time, and check each field like local
input. Two data dirs are two machines on the real OpenBao and moto (see
test_two_machines.py)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from tests.remote_stores import boto_client, hvac_root, unique
from tests.test_two_machines import Team, team  # noqa: F401 - the fixture

ADD = ("--kind", "npm", "--purpose", "team B publish", "--created", "2026-08-01", "--rotate-every", "30d")


def npm_value() -> str:
    return "npm_" + unique("") + unique("") + "abcdefABCDEF"


def _vault_meta(t: Team, name: str) -> dict:
    return hvac_root(t.openbao).secrets.kv.v2.read_secret_metadata(path=t.prefix + name)["data"]


def _aws(t: Team):
    return boto_client(t.moto)


def _store_state(t: Team, store: str, name: str) -> tuple[str, dict, datetime]:
    """(current version, tokenward metadata, when the store made that version)."""
    if store == "vault":
        data = _vault_meta(t, name)
        version = str(data["current_version"])
        made = datetime.fromisoformat(data["versions"][version]["created_time"].rstrip("Z")[:26] + "+00:00")
        return version, dict(data["custom_metadata"] or {}), made
    from tokenward.stores.aws import decode_metadata

    client = _aws(t)
    secret = client.describe_secret(SecretId=t.prefix + name)
    version = next(v for v, labels in secret["VersionIdsToStages"].items() if "AWSCURRENT" in labels)
    made = client.get_secret_value(SecretId=t.prefix + name, VersionId=version)["CreatedDate"]
    return version, decode_metadata(secret.get("Tags"), secret.get("Description")), made.astimezone(timezone.utc)


def _change_outside(t: Team, store: str, name: str, new: str) -> None:
    if store == "vault":
        hvac_root(t.openbao).secrets.kv.v2.create_or_update_secret(path=t.prefix + name, secret={"value": new})
    else:
        _aws(t).put_secret_value(SecretId=t.prefix + name, SecretString=new)


def _set_fields(t: Team, store: str, name: str, **fields: str | None) -> None:
    """Edit the shared metadata by hand, as a teammate with metadata rights could."""
    if store == "vault":
        custom = dict(_vault_meta(t, name)["custom_metadata"] or {})
        for key, val in fields.items():
            if val is None:
                custom.pop(key, None)
            else:
                custom[key] = val
        hvac_root(t.openbao).secrets.kv.v2.update_metadata(path=t.prefix + name, custom_metadata=custom)
        return
    from tokenward.stores.aws import DESCRIPTION_HEAD, TAG_PREFIX

    client = _aws(t)
    secret = client.describe_secret(SecretId=t.prefix + name)
    rest = json.loads(secret["Description"][len(DESCRIPTION_HEAD) :])
    gone = []
    for key, val in fields.items():
        if val is None:
            rest.pop(key, None)
            gone.append(TAG_PREFIX + key)
        else:
            rest[key] = val  # the description wins over tags
    client.update_secret(SecretId=t.prefix + name, Description=DESCRIPTION_HEAD + json.dumps(rest))
    if gone:
        client.untag_resource(SecretId=t.prefix + name, TagKeys=gone)


def _show(machine, name: str) -> dict:
    result = machine("show", name, "--json")
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def _status(machine, name: str) -> str:
    rows = json.loads(machine("list", "--json").stdout)
    return next(r["status"] for r in rows if r["name"] == name)


@pytest.mark.parametrize("store", ["vault", "aws"])
def test_discover_keeps_metadata_of_a_value_changed_outside_tokenward(team, store):  # noqa: F811
    t = team((store,))
    a, b = t.machine("a"), t.machine("b")
    name = unique("teamb")
    assert a("add", name, *ADD, "--store", store, input=npm_value() + "\n").returncode == 0
    _change_outside(t, store, name, npm_value())
    version_before, _, made = _store_state(t, store, name)
    time.sleep(1.1)  # "now" is then a later second than the store's version time

    result = b("sync", "--discover")
    assert result.returncode == 0, result
    assert "rewrite" not in result.stdout

    version, meta, _ = _store_state(t, store, name)
    assert version == version_before  # no new value version to fix metadata
    assert meta["purpose"] == "team B publish" and meta["kind"] == "npm" and meta["rotate_every"] == "30d"
    assert meta["created_at"].startswith("2026-08-01")
    assert meta["fingerprint"].startswith("hmac:") and meta["version"] == version
    assert datetime.fromisoformat(meta["rotated_at"]) == made
    shown = _show(b, name)
    assert shown["purpose"] == "team B publish" and shown["rotate_every"] == "30d" and shown["kind"] == "npm"
    assert shown["created_at"].startswith("2026-08-01")
    assert datetime.fromisoformat(shown["rotated_at"]) == made


@pytest.mark.parametrize("store", ["vault", "aws"])
def test_discover_with_only_the_fingerprint_missing_keeps_the_token_overdue(team, store):  # noqa: F811
    t = team((store,))
    a, b = t.machine("a"), t.machine("b")
    name = unique("teamb")
    assert a("add", name, *ADD, "--store", store, input=npm_value() + "\n").returncode == 0
    assert _status(a, name) == "overdue"
    _set_fields(t, store, name, fingerprint=None)
    version_before, _, _ = _store_state(t, store, name)

    result = b("sync", "--discover")
    assert result.returncode == 0, result
    version, meta, _ = _store_state(t, store, name)
    assert version == version_before
    assert meta["fingerprint"].startswith("hmac:") and meta["purpose"] == "team B publish"
    assert meta["rotated_at"].startswith("2026-08-01")
    assert _status(b, name) == "overdue"
    assert _show(b, name)["purpose"] == "team B publish"
    # The machine that added it still sees it overdue after its own sync.
    assert a("sync").returncode == 0
    assert _status(a, name) == "overdue"


BAD_VAULT = {
    "rotate_every": ["5m", "99999999y", "0d", "-5d"],
    "created_at": ["9999-12-31"],
    "scope": ["everything"],
}


@pytest.mark.parametrize("field,bad", [(f, v) for f, vs in BAD_VAULT.items() for v in vs])
def test_an_invalid_shared_field_is_dropped_with_a_warning_and_the_rest_kept(team, field, bad):  # noqa: F811
    t = team(("vault",))
    a, b = t.machine("a"), t.machine("b")
    name = unique("teamb")
    assert a("add", name, *ADD, "--store", "vault", input=npm_value() + "\n").returncode == 0
    _set_fields(t, "vault", name, **{field: bad})
    result = b("sync", "--discover")
    assert result.returncode == 0, result
    assert f"{name}: ignored its {field}" in result.stderr, result
    shown = _show(b, name)
    assert shown["purpose"] == "team B publish" and shown["kind"] == "npm"
    if field != "rotate_every":
        assert shown["rotate_every"] == "30d"
    if field != "created_at":
        assert shown["created_at"].startswith("2026-08-01")
    assert bad not in str(shown[field]) if field != "rotate_every" else shown[field] == "90d"  # the default


@pytest.mark.parametrize(
    "field,bad", [("purpose", "p" * 5000), ("scope", "project:evil\x1b[2Jpkg"), ("expires_at", "9999-12-31")]
)
def test_an_invalid_shared_field_in_aws_is_dropped_with_a_warning(team, field, bad):  # noqa: F811
    t = team(("aws",))
    a, b = t.machine("a"), t.machine("b")
    name = unique("teamb")
    assert a("add", name, *ADD, "--store", "aws", input=npm_value() + "\n").returncode == 0
    _set_fields(t, "aws", name, **{field: bad})
    result = b("sync", "--discover")
    assert result.returncode == 0, result
    assert f"{name}: ignored its {field}" in result.stderr, result
    assert "\x1b" not in result.stdout + result.stderr
    shown = _show(b, name)
    assert shown["rotate_every"] == "30d" and shown["kind"] == "npm"
    assert bad not in json.dumps(shown) and "\x1b" not in json.dumps(shown)
    if field != "purpose":
        assert shown["purpose"] == "team B publish"


@pytest.mark.parametrize("store", ["vault", "aws"])
def test_an_edit_on_one_machine_reaches_a_machine_that_already_has_the_token(team, store):  # noqa: F811
    t = team(("keyring", store))
    a, b = t.machine("a"), t.machine("b")
    name = unique("teamb")
    assert a("add", name, *ADD, input=npm_value() + "\n").returncode == 0
    assert b("sync", "--discover").returncode == 0
    assert _show(b, name)["rotate_every"] == "30d"

    edited = a("edit", name, "--purpose", "team C publish", "--rotate-every", "6mo")
    assert edited.returncode == 0, edited
    result = b("sync")
    assert result.returncode == 0, result
    assert "purpose" in result.stdout and "rotate_every" in result.stdout and "edited on another machine" in result.stdout
    shown = _show(b, name)
    assert shown["purpose"] == "team C publish" and shown["rotate_every"] == "6mo"
    assert shown["created_at"].startswith("2026-08-01") and shown["kind"] == "npm"
    # Adopted once: the next sync has nothing to do.
    again = b("sync")
    assert again.returncode == 0 and "edited on another machine" not in again.stdout
    # An edit on B travels back to A the same way; A's own older edit does not win.
    assert b("edit", name, "--rotate-every", "60d").returncode == 0
    assert a("sync").returncode == 0
    shown = _show(a, name)
    assert shown["rotate_every"] == "60d" and shown["purpose"] == "team C publish"
