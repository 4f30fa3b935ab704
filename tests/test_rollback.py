"""`tokens rollback` (issue 9 item 21) against the real keyring, OpenBao and moto: one
mention of the store in its errors, "no previous version" is input (exit 2), the audit
log and history say `rollback`, and the revoke hint names the value rolled back from."""

from __future__ import annotations

import json
import re

from tests.test_sync import team  # noqa: F401 - the fixture: two machines' worth of stores


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    return lines[0]


def test_no_previous_version_is_input_and_names_each_store_once(team):
    me = team.machine("laptop", stores=("keyring", "vault"))
    assert me("add", "pypi-foo", input=team.value()).returncode == 0
    result = me("rollback", "pypi-foo")
    assert result.returncode == 2, result
    line = one_line(result)
    assert "no previous version" in line and "vault" in line
    assert line.count("vault") == 1 and "store 'vault'" not in line, line


def test_an_unreachable_store_is_named_once_and_exit_3(team):
    me = team.machine("laptop", stores=("keyring", "vault"))
    assert me("add", "pypi-foo", input=team.value()).returncode == 0
    assert me("rotate", "pypi-foo", input=team.value()).returncode == 0
    me.configure(vault_url="http://127.0.0.1:9")  # nothing listens there
    result = me("rollback", "pypi-foo")
    assert result.returncode == 3, result
    line = one_line(result)
    assert line.count("store 'vault'") == 1, line


def test_history_shows_a_rollback_and_the_hint_names_the_value_rolled_back_from(team):
    me = team.machine("laptop", stores=("keyring", "vault"))
    old, new = team.value(), team.value()
    assert me("add", "gh-foo", "--created", "2025-01-15", input=old).returncode == 0
    assert me("rotate", "gh-foo", input=new).returncode == 0
    with me.inventory() as inventory:
        newer_since = inventory.get("gh-foo").rotated_at.date().isoformat()
    result = me("rollback", "gh-foo")
    assert result.returncode == 0, result
    assert me.value_in("vault", "gh-foo") == old
    assert f"revoke that github token at https://github.com/settings/tokens: the one in use since {newer_since}" in result.stderr
    assert "Do not revoke the restored one" in result.stderr
    assert "revoke the old" not in result.stderr
    events = [e["event"] for e in json.loads(me("history", "gh-foo", "--json").stdout)]
    assert events == ["add", "rotate", "rollback"]
    text = me("history", "gh-foo").stdout
    assert re.search(r"\srollback\s", text), text
