"""Per-run narrowed PyPI tokens, proven with tokens we mint ourselves and pypitoken's verifier."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pypitoken
import pytest

from tokenward.errors import UsageError
from tokenward.execute import CLOCK_SLACK, NARROW_LIFETIME, narrow_pypi_token
from tokenward.tokens import pypi_facts

KEY = "test-key-for-tokenward-narrowing"
USER = str(uuid.uuid4())
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def mint(*, project_names=None) -> str:
    token = pypitoken.Token.create(domain="pypi.org", identifier="user-1234", key=KEY)
    token.restrict(user_id=USER)
    if project_names:
        token.restrict(project_names=project_names)
    return token.dump()


def check(raw: str, project: str, when: datetime) -> bool:
    try:
        pypitoken.Token.load(raw).check(key=KEY, project_name=project, user_id=USER, now=int(when.timestamp()))
    except (pypitoken.ValidationError, ValueError):  # pypitoken 7.1 raises ValueError when two caveats fail
        return False
    return True


def test_narrowed_token_uploads_only_its_projects_and_only_for_15_minutes():
    stored = mint()
    assert check(stored, "other", NOW)  # user-wide before narrowing
    narrowed = narrow_pypi_token(stored, ["Foo_Bar"], NOW)
    assert narrowed != stored and narrowed.startswith("pypi-")
    assert check(narrowed, "foo-bar", NOW)
    assert check(narrowed, "foo-bar", NOW + NARROW_LIFETIME - timedelta(seconds=2))
    assert not check(narrowed, "other", NOW)
    assert not check(narrowed, "foo-bar", NOW + NARROW_LIFETIME + timedelta(seconds=1))
    assert not check(narrowed, "foo-bar", NOW - timedelta(hours=1))


def test_several_projects():
    narrowed = narrow_pypi_token(mint(), ["a", "b.c"], NOW)
    assert check(narrowed, "a", NOW) and check(narrowed, "b-c", NOW) and not check(narrowed, "d", NOW)


def test_narrowing_a_project_token_keeps_its_own_limits():
    narrowed = narrow_pypi_token(mint(project_names=["foo"]), ["foo"], NOW)
    assert check(narrowed, "foo", NOW) and not check(narrowed, "bar", NOW)


def test_narrowed_facts_read_back():
    facts = pypi_facts(narrow_pypi_token(mint(), ["foo"], NOW))
    assert facts.projects == ("foo",)
    assert facts.expires_at == NOW + NARROW_LIFETIME


@pytest.mark.parametrize("projects", [["foo"], ["a", "b-c", "zope-interface"]])
def test_same_bytes_as_pypitoken_restrict(projects):
    stored = mint(project_names=["foo"])
    ours = narrow_pypi_token(stored, projects, NOW)
    theirs = pypitoken.Token.load(stored)
    theirs.restrict(
        not_before=int((NOW - CLOCK_SLACK).timestamp()),
        not_after=int((NOW + NARROW_LIFETIME).timestamp()),
        project_names=sorted(projects),
    )
    assert ours == theirs.dump()


def test_long_caveats_use_multibyte_lengths():
    projects = [f"project-{i:03d}" for i in range(40)]  # a caveat longer than 127 bytes
    narrowed = narrow_pypi_token(mint(), projects, NOW)
    assert check(narrowed, "project-039", NOW) and not check(narrowed, "project-040", NOW)


def test_not_a_macaroon_is_a_clear_error_without_the_value():
    with pytest.raises(UsageError) as info:
        narrow_pypi_token("pypi-notamacaroonSECRETPART", ["foo"], NOW)
    assert "SECRETPART" not in str(info.value) and "--no-narrow" in str(info.value)


# -- caveats intersect (issue 9 item 11) -------------------------------------------
OTHER_USER = str(uuid.uuid4())


def caveated(*restrictions: dict) -> str:
    token = pypitoken.Token.create(domain="pypi.org", identifier="user-1234", key=KEY)
    token.restrict(user_id=USER)
    for restriction in restrictions:
        token.restrict(**restriction)
    return token.dump()


def names(*projects: str) -> dict:
    return {"project_names": list(projects)}


CAVEAT_CASES = [
    ((), "user"),
    ((names("a", "b"), names("a")), "project:a"),
    ((names("a"), names("a", "b")), "project:a"),
    ((names("a"), names("b")), "none"),
    ((names("a", "b", "c"), names("b", "c", "d"), names("c", "b")), "project:b,c"),
    (({"legacy_project_names": ["a", "b"]}, names("b", "c")), "project:b"),
    (({"legacy_project_names": ["a"]}, names("b")), "none"),
    (({"user_id": OTHER_USER},), "none"),
]


@pytest.mark.parametrize("restrictions, scope", CAVEAT_CASES)
def test_scope_is_what_pypis_verifier_lets_through(restrictions, scope):
    """The recorded scope is the intersection of the caveats, checked against
    pypitoken's verifier (the same rules PyPI applies) for every project."""
    token = caveated(*restrictions)
    facts = pypi_facts(token)
    assert facts.scope == scope
    for project in ("a", "b", "c", "d"):
        allowed = scope == "user" or project in facts.projects
        assert check(token, project, NOW) is allowed, project


@pytest.mark.parametrize("kept", [["a"], ["b"]])
def test_narrowing_a_two_project_token_records_one(kept):
    narrowed = narrow_pypi_token(caveated(names("a", "b")), kept, NOW)
    assert pypi_facts(narrowed).scope == f"project:{kept[0]}"
    assert not check(narrowed, "b" if kept == ["a"] else "a", NOW)


def test_a_token_that_covers_nothing_is_shown_so_and_never_chosen(tokens, file_keyring, tmp_path):
    token = caveated(names("alpha"), names("beta"))
    added = tokens("add", "nothing", input=token)
    assert added.returncode == 0, added
    assert "it can upload nothing" in added.stderr
    shown = tokens("show", "nothing")
    assert "none (its caveats allow no project: it covers nothing)" in shown.stdout
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "beta-1.0.tar.gz").write_bytes(b"not really a tarball")
    result = tokens("exec", "--", "twine", "upload", str(dist / "beta-1.0.tar.gz"))
    assert result.returncode == 2, result
    assert "nothing (its caveats allow no project at all: it covers nothing)" in result.stderr
