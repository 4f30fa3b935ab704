"""Piped `tokens rotate` makes the guided rotation's checks (issue 9 item 4): with no
terminal to ask on, a value of another kind is refused and a changed scope (a
user-wide token replacing a project token) needs --yes. Nothing changes otherwise."""

from __future__ import annotations

import pytest
from pypitoken import Token

KEY = "k" * 32


def pypi(identifier: str, *projects: str) -> str:
    token = Token.create(domain="pypi.org", identifier=identifier, key=KEY)
    if projects:
        token.restrict(project_names=list(projects))
    return token.dump()


@pytest.fixture
def inventory(tokens, file_keyring):
    assert tokens("add", "pypi-foo", input=pypi("old", "foo")).returncode == 0
    assert tokens("add", "gh-ci", input="ghp_oldOldOld0123456789").returncode == 0
    return tokens


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("pypi-foo", "ghp_notPyPIatAll0123456789", "not a PyPI token"),
        ("gh-ci", "npm_anNpmTokenValue0123456789", "looks like a npm token"),
        ("gh-ci", pypi("x"), "looks like a pypi token"),
    ],
)
def test_a_value_of_another_kind_is_refused_even_with_yes(inventory, name, value, message):
    for extra in ([], ["--yes"]):
        before = inventory("show", name, "--json").stdout
        result = inventory("rotate", name, *extra, input=value)
        assert result.returncode == 2, result
        assert message in result.stderr and "nothing changed" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert inventory("show", name, "--json").stdout == before


def test_a_wider_scope_needs_yes_when_piped(inventory):
    before = inventory("show", "pypi-foo", "--json").stdout
    wide = pypi("wide")
    refused = inventory("rotate", "pypi-foo", input=wide)
    assert refused.returncode == 2, refused
    assert "user-wide" in refused.stderr and "pass --yes" in refused.stderr
    assert inventory("show", "pypi-foo", "--json").stdout == before
    assert inventory("get", "pypi-foo").stdout.strip() != wide

    accepted = inventory("rotate", "pypi-foo", "--yes", input=wide)
    assert accepted.returncode == 0, accepted
    assert "Warning: the new token is user-wide" in accepted.stderr
    assert inventory("get", "pypi-foo").stdout.strip() == wide


def test_same_kind_and_scope_needs_no_confirmation(inventory):
    assert inventory("rotate", "pypi-foo", input=pypi("new", "foo")).returncode == 0
    assert inventory("rotate", "gh-ci", input="ghp_newNewNew0123456789").returncode == 0
