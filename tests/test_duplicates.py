"""One value under two inventory names (issue 9 item 8): `add` warns, and the leak
response lists the other name, which `tokens exec` would otherwise keep using."""

from __future__ import annotations

VALUE = "ghp_DUPLICATEdup0123456789abcdefXYZ"
NEW = "ghp_REPLACEDrep0123456789abcdefXYZ"


def test_add_warns_when_the_value_is_already_in_the_inventory(tokens, file_keyring):
    assert tokens("add", "gh-one", input=VALUE + "\n").returncode == 0
    result = tokens("add", "gh-two", input=VALUE + "\n")
    assert result.returncode == 0, result
    assert "Warning: this value is already in the inventory as gh-one" in result.stderr
    assert VALUE not in result.stdout + result.stderr
    other = tokens("add", "gh-three", input=NEW + "\n")
    assert "already in the inventory" not in other.stderr


def test_leaked_lists_other_inventory_entries_with_the_same_value(tokens, file_keyring):
    assert tokens("add", "gh-one", input=VALUE + "\n").returncode == 0
    assert tokens("add", "gh-two", input=VALUE + "\n").returncode == 0
    result = tokens("rotate", "--leaked", "gh-one", input=NEW + "\n")
    assert result.returncode == 0, result
    assert "   - inventory token gh-two (the same value under another name)" in result.stderr
    assert "token gh-two holds the same leaked value and `tokens exec` still uses it" in result.stderr
    assert "`tokens rotate gh-two`" in result.stderr
    assert VALUE not in result.stdout + result.stderr and NEW not in result.stdout + result.stderr
