"""Nothing a teammate writes can forge terminal output (issue 9 item 10).

A teammate with write access to a shared AWS store puts newlines, ANSI escape
sequences, a bidi override and Unicode line breaks into a token's metadata (moto,
the real AWS API shape; OpenBao itself refuses unprintable custom_metadata). This
machine discovers it with `tokens sync --discover`; every output that prints
metadata must show those characters escaped, never act on them.
"""

from __future__ import annotations

import json
import os
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest

from tests.notify_servers import WebhookReceiver
from tests.remote_stores import aws_table, remote_env, unique
from tokenward.sanitize import UNSAFE_CATEGORIES, safe

FORGED = "  forged-token (github, overdue 999d ago) - FORGED LINE"
HOSTILE = {
    "purpose": f"release\n{FORGED}\x1b[2J\x1b]0;pwned\x07\u202eevil",
    "scope": "user\x1b[31m\u2028project:everything",
    "repository": "https://upload.example/\x1b[8mhidden\x85next",
    "kind": "github\x1b[0m\r" + FORGED,
}
VALUE = "ghp_hostileMetadata0123456789"


def unsafe(text: str) -> list[str]:
    """Unsafe characters in `text`, ignoring the line breaks between output lines."""
    return [f"U+{ord(ch):04X}" for ch in text if ch != "\n" and unicodedata.category(ch) in UNSAFE_CATEGORIES]


def assert_neutral(text: str, where: str) -> None:
    assert unsafe(text) == [], f"{where}: {text!r}"
    assert not any(line.startswith(FORGED.strip()) or line.startswith(FORGED) for line in text.splitlines()), where


@pytest.fixture
def hostile(tokens, moto, write_config, file_keyring, data_dir, monkeypatch, tmp_path):
    """A token whose metadata a teammate filled with control characters, discovered here."""
    from tokenward.config import load_config
    from tokenward.inventory import TokenRecord
    from tokenward.lifecycle import store_metadata
    from tokenward.stores.base import open_store
    from tokenward.tokens import fingerprint

    remote_env(monkeypatch)
    hook = WebhookReceiver()
    path = write_config(
        "[stores.keyring]\n" + aws_table("team", moto.url, unique("safe") + "/")
        + f'[notify.webhook]\nurl = "{hook.url}"\n'
    )  # fmt: skip
    rotated = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=400)
    record = TokenRecord(
        name="hostile", kind="github", created_at=rotated, rotated_at=rotated, stores=("team",),
        fingerprint=fingerprint(VALUE), rotate_every="90d",
    )  # fmt: skip
    meta = store_metadata(record)
    meta.update(HOSTILE)
    open_store(load_config(str(path)).store("team")).put("hostile", VALUE, meta)
    discovered = tokens("sync", "--discover")
    assert discovered.returncode == 0
    assert_neutral(discovered.stdout + discovered.stderr, "sync --discover")
    # Discovery drops those fields (test below); an inventory filled before that rule
    # (or by hand) still holds them: every output must show them escaped.
    from tokenward.inventory import Inventory

    with Inventory.open(data_dir) as inventory:
        inventory.save(inventory.get("hostile").with_(purpose=HOSTILE["purpose"], scope=HOSTILE["scope"]))

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    desktop_log = tmp_path / "notify-send.log"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> "{desktop_log}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    # An audit entry written by `exec` for a repository a project's config chose.
    from tokenward import audit

    audit.append(data_dir, "exec", "hostile", tool="twine", repository=HOSTILE["repository"], projects=[HOSTILE["purpose"]])
    yield hook, desktop_log
    hook.stop()


def test_discovered_hostile_fields_are_dropped_and_the_rest_kept(tokens, hostile, tmp_path):
    """Shared metadata is checked like local input (shared_meta.py): each field with
    control characters is left out of the inventory, the valid ones are kept."""
    found = tokens("sync", "--discover", env={"TOKENS_HOME": str(tmp_path / "fresh")})
    assert found.returncode == 0, found
    for field in ("purpose", "scope", "repository", "kind"):
        assert f"hostile: ignored its {field} in team" in found.stderr
    shown = json.loads(tokens("show", "hostile", "--json", env={"TOKENS_HOME": str(tmp_path / "fresh")}).stdout)
    assert shown["purpose"] == "" and shown["scope"] == "" and shown["repository"] == ""
    assert shown["kind"] == "generic"
    assert shown["rotate_every"] == "90d" and shown["status"] == "overdue"


OUTPUTS = [
    ("list", ("list",)),
    ("show", ("show", "hostile")),
    ("remind", ("remind",)),
    ("remind --store", ("remind", "--store", "team")),
    ("history", ("history", "hostile")),
]


@pytest.mark.parametrize("label, args", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_terminal_output_shows_control_characters_escaped(tokens, hostile, label, args):
    result = tokens(*args)
    assert result.returncode in (0, 1), result
    output = result.stdout + result.stderr
    assert_neutral(output, label)
    # What the teammate wrote is still visible, as escapes.
    if label != "history":
        assert safe("\x1b[2J") in output or safe(HOSTILE["scope"]) in output


def test_notifications_show_control_characters_escaped(tokens, hostile):
    hook, desktop_log = hostile
    result = tokens("remind", "--notify", "webhook", "--notify", "desktop")
    assert result.returncode == 1, result
    text = hook.documents[0]["text"]
    assert_neutral(text, "webhook text")
    assert "\\n" + FORGED in text  # the teammate's newline, shown as an escape
    desktop = desktop_log.read_text()
    assert_neutral(desktop, "desktop notification")


def test_team_reminder_notification_is_escaped_too(tokens, hostile):
    hook, _ = hostile
    result = tokens("remind", "--store", "team", "--notify", "webhook")
    assert result.returncode == 1, result
    assert_neutral(hook.documents[-1]["text"], "webhook text (team)")


def test_terminal_safety_figures():
    from tests.invariants import record_figure

    record_figure("terminal-safety", fields=len(HOSTILE), outputs=len(OUTPUTS) + 3, names=3)


@pytest.mark.parametrize("name", ["evil\x1b[2J", "ok\nforged", "fine\u202e"])
def test_a_remote_name_with_control_characters_is_skipped(name):
    """Names are checked whole (a valid start followed by an escape sequence is no name)."""
    from tokenward.inventory import NAME_RE
    from tokenward.remind import records_from_entries
    from tokenward.stores.base import RemoteEntry

    meta = {"tokenward": "1", "kind": "github", "rotated_at": "2026-01-01T00:00:00+00:00", "fingerprint": "ab" * 8}
    records, warnings = records_from_entries({name: RemoteEntry(name, meta, "1")}, "team")
    assert records == [] and len(warnings) == 1
    assert not NAME_RE.fullmatch(name)
    assert all(ch.isprintable() for ch in warnings[0])
