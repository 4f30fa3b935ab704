"""rotation/api.py `rotate_by_api`, in-process, on the npm stand-in (tests/registry_standins.py):
the steps run in the order create -> stores -> targets -> verify -> revoke, and each failing
step stops the ones after it, with the journal left where the next run picks it up."""

from __future__ import annotations

import pytest

from tests.registry_standins import Seen, StandIn
from tokenward import lifecycle
from tokenward.app import App
from tokenward.config import parse_config
from tokenward.errors import StoreError
from tokenward.rotation import api, api_journal

OLD = "npm_" + "0ldStep" * 5


class Recorder:
    """A Dialog that keeps what it was told; it has nothing to answer."""

    interactive = False

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)

    def warn(self, text: str) -> None:
        self.lines.append(f"Warning: {text}")

    echo = note

    def read_value(self, prompt: str) -> str:
        raise AssertionError("no value is asked for")

    read_secret = read_value

    def confirm(self, question: str, default: bool) -> bool:
        raise AssertionError("nothing is asked")

    def open_page(self, url: str) -> bool:
        return False


@pytest.fixture(scope="module")
def registry():
    s = StandIn("npm").start()
    yield s
    s.stop()


@pytest.fixture
def app(registry, file_keyring, data_dir, tmp_path):
    registry.reset()
    registry.tokens[OLD] = {"user": "dev", "key": "k0ld"}
    registry.npm_password = "pw-steps"
    app = App(config=parse_config({"rotate": {"npm": {"login": "npm-pw"}}}, tmp_path / "config.toml"), data_dir=data_dir)
    lifecycle.add_token(app, "npm-pw", "pw-steps", kind="generic")
    lifecycle.add_token(app, "npm-pub", OLD, kind="npm", repository=registry.url)
    yield app
    app.close()


def _mark(registry: StandIn, step: str, monkeypatch, target: str, then=None) -> None:
    """Put `step` into the registry's request log when api.py reaches `target`."""
    real = getattr(api, target) if target != "rotate_token" else lifecycle.rotate_token

    def marked(*args, **kwargs):
        registry.seen.append(Seen("STEP", step, "", ""))
        if then is not None:
            then()
        return real(*args, **kwargs)

    if target == "rotate_token":
        monkeypatch.setattr(api.lifecycle, "rotate_token", marked)
    else:
        monkeypatch.setattr(api, target, marked)


def _timeline(registry: StandIn) -> list[str]:
    steps = []
    for seen in registry.seen:
        label = seen.path if seen.method == "STEP" else f"{seen.method} {seen.path.split('/-/')[-1]}"
        if not steps or steps[-1] != label:
            steps.append(label)
    return steps


def test_create_then_stores_then_targets_then_verify_then_revoke(app, registry, monkeypatch):
    _mark(registry, "stores", monkeypatch, "rotate_token")
    _mark(registry, "targets", monkeypatch, "push_targets")
    ui = Recorder()
    assert api.rotate_by_api(app, ui, "npm-pub") == 0
    assert _timeline(registry) == [
        "GET npm/v1/tokens",  # prepare: the old token's key and settings
        "POST npm/v1/tokens",  # create
        "stores",
        "targets",
        "GET whoami",  # verify the new value (and its token list entry)
        "GET npm/v1/tokens",
        "DELETE npm/v1/tokens/token/k0ld",  # revoke the old one, last
    ]
    [new] = [v for v in registry.tokens if v != OLD]
    assert OLD in registry.revoked and new not in registry.revoked
    assert lifecycle.get_value(app, "npm-pub")[0] == new
    assert api_journal.pending(app.data_dir) == []
    assert all(new not in line and OLD not in line for line in ui.lines)


def test_a_new_value_that_is_not_live_keeps_the_old_one(app, registry, monkeypatch):
    def revoke_the_new_one():
        registry.revoked.update(v for v in registry.tokens if v != OLD)

    _mark(registry, "targets", monkeypatch, "push_targets", then=revoke_the_new_one)
    ui = Recorder()
    assert api.rotate_by_api(app, ui, "npm-pub") == 3
    assert OLD not in registry.revoked  # never revoked before the new value is proven live
    assert not any(s.method == "DELETE" for s in registry.seen)
    assert any("is not live" in line for line in ui.lines)
    entry, _ = api_journal.load(app.data_dir, "npm-pub")
    assert entry is not None and entry.step == "pushed"  # the next run verifies again


def test_failing_targets_stop_before_verify_and_revoke(app, registry, monkeypatch):
    real = api.push_targets
    monkeypatch.setattr(api, "push_targets", lambda *a, **k: False)
    assert api.rotate_by_api(app, Recorder(), "npm-pub") == 3
    assert not any(s.method == "DELETE" or s.path == "/-/whoami" for s in registry.seen[2:])
    entry, _ = api_journal.load(app.data_dir, "npm-pub")
    assert entry is not None and entry.step == "stored"
    monkeypatch.setattr(api, "push_targets", real)  # the targets take it now
    assert api.resume(app, Recorder(), "npm-pub") == 0  # what `tokens sync` does next
    assert OLD in registry.revoked and api_journal.pending(app.data_dir) == []


def test_no_store_takes_it_then_it_is_revoked_and_nothing_else_happens(app, registry, monkeypatch):
    def refuse(*args, **kwargs):
        raise StoreError("keyring", "the keyring is locked")

    monkeypatch.setattr(api.lifecycle, "rotate_token", refuse)
    pushed = []
    monkeypatch.setattr(api, "push_targets", lambda *a, **k: pushed.append(a) or True)
    with pytest.raises(StoreError, match="no store took the new value of npm-pub .*the old value stays in use"):
        api.rotate_by_api(app, Recorder(), "npm-pub")
    [new] = [v for v in registry.tokens if v != OLD]
    assert new in registry.revoked and OLD not in registry.revoked and not pushed
    assert lifecycle.get_value(app, "npm-pub")[0] == OLD
    assert api_journal.pending(app.data_dir) == []
