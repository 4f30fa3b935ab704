"""What every publish tool module shares: the PUBLISHERS table, unwrapping runners,
dist file names, the kind variables and --env templates, URL comparison."""

from __future__ import annotations

import pytest

from tests.publisher_helpers import ctx, parse  # noqa: F401 - fixture
from tokenward.errors import UsageError
from tokenward.publishers import PUBLISHERS, TOOLS, env_for_kind, is_pypi_server, normalize_url, parse_env_templates, project_from_filename, tool_env
from tokenward.tokens import PYPI_UPLOAD


def test_one_module_per_tool():
    assert TOOLS == ("twine", "uv", "poetry", "hatch", "flit", "pdm", "npm", "cargo", "gh")
    for name, publisher in PUBLISHERS.items():
        assert publisher.name == name
        assert type(publisher).__module__ == f"tokenward.publishers.{name}"


@pytest.mark.parametrize(
    "filename, project",
    [
        ("foo_bar-1.0-py3-none-any.whl", "foo-bar"),
        ("Foo.Bar-2.0.1-1-cp311-cp311-manylinux_2_17_x86_64.whl", "foo-bar"),
        ("foo_bar-1.0.tar.gz", "foo-bar"),
        ("my-legacy-pkg-1.0.tar.gz", "my-legacy-pkg"),
        ("Zope.Interface-5.0.zip", "zope-interface"),
        ("README.md", None),
        ("broken.whl", None),
        ("noversion.tar.gz", None),
    ],
)
def test_project_from_filename(filename, project):
    assert project_from_filename(filename) == project


def test_unknown_command(ctx):
    t = parse("make publish", ctx)
    assert t.tool == "" and not t.publishes


@pytest.mark.parametrize(
    "line, expected",
    [
        ("twine upload dist/*", {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "V"}),
        ("uv publish", {"UV_PUBLISH_TOKEN": "V"}),
        ("hatch publish", {"HATCH_INDEX_USER": "__token__", "HATCH_INDEX_AUTH": "V"}),
        ("flit publish", {"FLIT_USERNAME": "__token__", "FLIT_PASSWORD": "V"}),
        ("pdm publish", {"PDM_PUBLISH_USERNAME": "__token__", "PDM_PUBLISH_PASSWORD": "V"}),
    ],
)
def test_tool_env(ctx, line, expected):
    assert tool_env(parse(line, ctx), "V") == expected


def test_env_for_kind_and_templates():
    assert env_for_kind("pypi", "V") == {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "V"}
    assert env_for_kind("generic", "V", {"A": "x-{value}"}) == {"A": "x-V"}
    assert parse_env_templates(["A={value}", "B=__token__"]) == {"A": "{value}", "B": "__token__"}
    for bad in (["A"], ["1A={value}"], ["A=x"], ["A={value}", "A={value}"]):
        with pytest.raises(UsageError):
            parse_env_templates(bad)


def test_normalize_url():
    assert normalize_url("https://upload.pypi.org/legacy") == normalize_url(PYPI_UPLOAD)
    assert normalize_url("HTTP://Example.COM:80/simple") == "http://example.com/simple/"
    assert normalize_url("http://127.0.0.1:8080/") != normalize_url("http://127.0.0.1:8081/")
    assert is_pypi_server("https://test.pypi.org/legacy") and is_pypi_server(PYPI_UPLOAD)
    assert not is_pypi_server("http://127.0.0.1:8080/") and not is_pypi_server(None)
