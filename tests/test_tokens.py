from datetime import datetime, timezone

import pytest
from pypitoken import Token

from tokenward.errors import UsageError
from tokenward.tokens import detect_kind, fingerprint, inspect, normalize_project, parse_scope

KEY = "k" * 32


def pypi_token(domain="pypi.org", **restrict):
    token = Token.create(domain=domain, identifier="id1", key=KEY)
    if restrict:
        token.restrict(**restrict)
    return token.dump()


@pytest.mark.parametrize(
    "value, kind",
    [
        ("ghp_abc", "github"), ("github_pat_11AA", "github"), ("gho_x", "github"), ("ghs_x", "github"),
        ("glpat-xyz", "gitlab"), ("npm_abc", "npm"), ("dckr_pat_x", "dockerhub"), ("xoxb-1-2", "slack"),
        ("AKIAABCDEFGHIJKLMNOP", "aws"), ("cioAbCdEf", "crates"), ("hello", "generic"),
    ],
)  # fmt: skip
def test_detect_kind_by_prefix(value, kind):
    assert detect_kind(value) == kind


def test_pypi_and_testpypi_by_macaroon_location():
    assert pypi_token().startswith("pypi-AgEIcHlwaS5vcmc")
    assert detect_kind(pypi_token()) == "pypi"
    assert detect_kind(pypi_token("test.pypi.org")) == "testpypi"


def test_pypi_user_scope():
    facts = inspect(pypi_token(user_id="0b6e9d4c-1b7f-4a4e-9b7c-6f1c2d3e4a5b"))
    assert (facts.kind, facts.scope, facts.expires_at) == ("pypi", "user", None)


def test_pypi_project_scope_is_normalised_and_sorted():
    facts = inspect(pypi_token(project_names=["zope-interface", "my-pkg"]))
    assert facts.scope == "project:my-pkg,zope-interface"
    assert facts.projects == ("my-pkg", "zope-interface")


def test_pypi_expiry_from_caveat():
    facts = inspect(pypi_token(not_before=1700000000, not_after=1900000000))
    assert facts.expires_at == datetime.fromtimestamp(1900000000, timezone.utc)


def test_legacy_caveats():
    facts = inspect(pypi_token(legacy_project_names=["Foo_Bar"], legacy_not_before=1, legacy_not_after=1900000000))
    assert facts.scope == "project:foo-bar"
    assert facts.expires_at == datetime.fromtimestamp(1900000000, timezone.utc)


@pytest.mark.parametrize("tail", ["", "CANARYnotbase64!!", "AgEIcHlwaS5vcmcCANARY", "CANARY" + "A" * 40])
def test_malformed_pypi_token_is_refused(tail):
    with pytest.raises(UsageError, match="not a valid PyPI token") as info:
        inspect("pypi-" + tail)
    assert "CANARY" not in str(info.value)


def test_unknown_caveat_keeps_kind_and_leaves_scope_unknown():
    token = Token.create(domain="pypi.org", identifier="id1", key=KEY)
    token._macaroon.add_first_party_caveat('[99, "future"]')
    facts = inspect(token.dump())
    assert (facts.kind, facts.scope) == ("pypi", "")


def test_malformed_pypi_token_accepted_when_kind_given():
    assert inspect("pypi-local-index-token", "pypi").kind == "pypi"


def test_kind_override():
    assert inspect("ghp_abc", "generic").kind == "generic"


def test_fingerprint_is_sha256_prefix():
    assert fingerprint("abc") == "ba7816bf8f01cfea"


def test_normalize_and_scope():
    assert normalize_project("Foo__Bar.baz") == "foo-bar-baz"
    assert parse_scope("project:Foo, bar") == ("project", ("bar", "foo"))
    assert parse_scope("user") == ("user", ())
    assert parse_scope("whatever") == ("", ())
