"""Choosing the token from the target: narrowest covering scope wins, else one clear error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tokenward.inventory import TokenRecord
from tokenward.publishers import Target
from tokenward.selection import NoTokenFits, choose
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
PRIVATE = "http://127.0.0.1:8080/"


def rec(name, scope="", kind="pypi", repository="", expires=None) -> TokenRecord:
    return TokenRecord(
        name=name,
        kind=kind,
        created_at=NOW - timedelta(days=1),
        rotated_at=NOW - timedelta(days=1),
        stores=("keyring",),
        fingerprint="0" * 16,
        scope=scope,
        repository=repository,
        expires_at=expires,
        rotate_every="90d",
    )


def upload(projects=("foo",), repository=PYPI_UPLOAD, tool="twine", problem="") -> Target:
    return Target(tool=tool, action="upload", publishes=True, repository=repository, projects=tuple(projects), problem=problem)


def test_narrowest_of_three_wins():
    records = [rec("wide", "user"), rec("two", "project:foo,bar"), rec("one", "project:foo")]
    choice = choose(records, upload(), NOW)
    assert choice.record.name == "one"
    assert {c.name: c.reason for c in choice.considered} == {"one": "", "two": "", "wide": ""}


def test_scope_must_cover_every_project():
    records = [rec("one", "project:foo"), rec("two", "project:foo,bar"), rec("wide", "user")]
    assert choose(records, upload(("foo", "bar")), NOW).record.name == "two"
    assert choose(records, upload(("foo", "baz")), NOW).record.name == "wide"


def test_project_names_compare_normalised():
    assert choose([rec("a", "project:Foo_Bar")], upload(("foo-bar",)), NOW).record.name == "a"


def test_repository_decides():
    records = [rec("prod", "user"), rec("test", "user", kind="testpypi"), rec("local", "user", kind="generic", repository=PRIVATE)]
    assert choose(records, upload(), NOW).record.name == "prod"
    assert choose(records, upload(repository=TESTPYPI_UPLOAD), NOW).record.name == "test"
    assert choose(records, upload(repository="http://127.0.0.1:8080"), NOW).record.name == "local"


def test_wide_token_is_never_used_when_a_scoped_one_fits():
    records = [rec("wide", ""), rec("scoped", "project:foo")]
    assert choose(records, upload(), NOW).record.name == "scoped"


def test_no_candidate_lists_every_reason():
    records = [
        rec("bar-only", "project:bar"),
        rec("old", "user", expires=NOW - timedelta(days=1)),
        rec("test", "user", kind="testpypi"),
        rec("by-id", "project-id:1234"),
        rec("nowhere", "user", kind="generic"),
    ]
    with pytest.raises(NoTokenFits) as info:
        choose(records, upload(), NOW)
    message = str(info.value)
    assert "no token fits `twine upload` to https://upload.pypi.org/legacy/ for foo" in message
    assert "bar-only (scoped to bar, not foo)" in message
    assert "old (expired 2025-05-31)" in message
    assert f"test (for {TESTPYPI_UPLOAD})" in message
    assert "by-id (scoped by project id" in message
    assert "nowhere (no repository recorded" in message
    assert "--token" in message and "\n" not in message


def test_tie_is_an_error_naming_both():
    records = [rec("a", "project:foo"), rec("b", "project:foo"), rec("wide", "user")]
    with pytest.raises(NoTokenFits, match=r"2 tokens fit .* equally \(scoped to 1 project\): a, b"):
        choose(records, upload(), NOW)
    with pytest.raises(NoTokenFits, match="user-wide"):
        choose([rec("x", "user"), rec("y", "")], upload(), NOW)


def test_unknown_projects_reject_scoped_tokens():
    target = upload(projects=(), problem="no sdist or wheel files found")
    with pytest.raises(NoTokenFits, match="not known .no sdist or wheel files found"):
        choose([rec("scoped", "project:foo")], target, NOW)
    assert choose([rec("scoped", "project:foo"), rec("wide", "user")], target, NOW).record.name == "wide"


def test_empty_inventory():
    with pytest.raises(NoTokenFits, match="inventory is empty"):
        choose([], upload(), NOW)


def test_unknown_command_and_non_upload():
    with pytest.raises(NoTokenFits, match="--token"):
        choose([rec("a", "user")], Target(), NOW)
    with pytest.raises(NoTokenFits, match="`twine check` is not a command that uploads"):
        choose([rec("a", "user")], Target(tool="twine", action="check"), NOW)
    with pytest.raises(NoTokenFits, match="cannot tell for certain where `poetry publish` would send the token: no URL; name the token to use with --token NAME"):
        choose([rec("a", "user")], Target(tool="poetry", action="publish", publishes=True, repository_name="x", projects=("foo",), problem="no URL"), NOW)


def test_npm_and_github_names_keep_their_spelling():
    npm = rec("npm", "project:@scope/pkg", kind="npm")
    target = Target(tool="npm", action="publish", publishes=True, repository="https://registry.npmjs.org/", projects=("@scope/pkg",))
    assert choose([npm], target, NOW).record.name == "npm"
    gh = rec("gh", "project:owner/repo", kind="github")
    assert choose([gh], Target(tool="gh", action="release", publishes=True, repository="https://github.com/", projects=("owner/repo",)), NOW).record.name == "gh"
