"""Command-line parsing for every publish tool, and the variables each one gets."""

from __future__ import annotations

import json
import tarfile

import pytest

from tokenward.errors import UsageError
from tokenward.publishers import (
    Context,
    env_for_kind,
    is_pypi_server,
    normalize_url,
    npm_userconfig,
    parse_command,
    parse_env_templates,
    project_from_filename,
    shadowing,
    tool_env,
)
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

PRIVATE = "https://pypi.example.com/legacy/"


@pytest.fixture
def ctx(tmp_path) -> Context:
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    for name in ("Foo_Bar-1.0-py3-none-any.whl", "foo_bar-1.0.tar.gz", "foo_bar-1.0.tar.gz.asc"):
        (work / "dist" / name).write_text("x")
    home = tmp_path / "home"
    home.mkdir()
    return Context(env={}, cwd=work, home=home)


def parse(line: str | list[str], ctx: Context, **env):
    argv = line.split() if isinstance(line, str) else line
    if env:
        ctx = Context({**ctx.env, **env}, ctx.cwd, ctx.home)
    return parse_command(argv, ctx)


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


# -- twine ---------------------------------------------------------------------------


def test_twine_defaults_to_pypi_and_reads_dist_globs(ctx):
    t = parse("twine upload dist/*", ctx)
    assert (t.tool, t.action, t.publishes) == ("twine", "upload", True)
    assert t.repository == PYPI_UPLOAD
    assert t.projects == ("foo-bar",)
    assert not any(f.endswith(".asc") for f in t.files)


def test_twine_unexpanded_and_expanded_globs_agree(ctx):
    expanded = parse(["twine", "upload", "dist/Foo_Bar-1.0-py3-none-any.whl", "dist/foo_bar-1.0.tar.gz"], ctx)
    assert expanded.projects == parse("twine upload dist/*", ctx).projects


def test_twine_testpypi_and_repository_url(ctx):
    assert parse("twine upload -r testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    assert parse("twine upload --repository=testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    t = parse(f"twine upload --repository-url {PRIVATE} --skip-existing -u __token__ dist/*", ctx)
    assert t.repository == PRIVATE and t.projects == ("foo-bar",)


def test_twine_reads_pypirc_sections(ctx):
    (ctx.home / ".pypirc").write_text(f"[distutils]\nindex-servers =\n  pypi\n  private\n\n[private]\nrepository = {PRIVATE}\nusername = __token__\n")
    assert parse("twine upload -r private dist/*", ctx).repository == PRIVATE
    with pytest.raises(UsageError, match="testpypi"):
        parse("twine upload -r testpypi dist/*", ctx)  # index-servers leaves it out
    other = ctx.cwd / "other.pypirc"
    other.write_text("[mine]\nrepository = https://mine.example/\n")
    with pytest.raises(UsageError, match="mine"):
        parse(f"twine upload --config-file {other} -r mine dist/*", ctx)  # as twine: not in index-servers
    other.write_text("[distutils]\nindex-servers = mine\n[mine]\nrepository = https://mine.example/\n")
    assert parse(f"twine upload --config-file {other} -r mine dist/*", ctx).repository == "https://mine.example/"


def test_twine_environment_variables(ctx):
    assert parse("twine upload dist/*", ctx, TWINE_REPOSITORY="testpypi").repository == TESTPYPI_UPLOAD
    t = parse("twine upload dist/*", ctx, TWINE_REPOSITORY_URL=PRIVATE, TWINE_REPOSITORY="testpypi")
    assert t.repository == PRIVATE  # the URL overrides -r, as in twine


def test_twine_check_does_not_publish(ctx):
    t = parse("twine check dist/*", ctx)
    assert t.tool == "twine" and not t.publishes


def test_python_m_twine_and_uvx(ctx):
    assert parse("python3 -m twine upload dist/*", ctx).projects == ("foo-bar",)
    assert parse("uvx twine upload -r testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    assert parse("uvx --from twine==6.1 twine upload dist/*", ctx).tool == "twine"
    assert parse("pipx run twine upload dist/*", ctx).tool == "twine"
    assert parse("/usr/local/bin/twine upload dist/*", ctx).tool == "twine"


def test_missing_files_still_name_projects(ctx):
    t = parse("twine upload dist/other_pkg-2.0.tar.gz", ctx)
    assert t.projects == ("other-pkg",)


def test_no_dist_files_is_a_problem(ctx):
    t = parse("twine upload nothing/*", ctx)
    assert t.projects == () and "no sdist or wheel" in t.problem


# -- uv ------------------------------------------------------------------------------


def test_uv_publish(ctx):
    t = parse("uv publish", ctx)
    assert (t.tool, t.repository, t.projects) == ("uv", PYPI_UPLOAD, ("foo-bar",))
    assert parse(f"uv publish --publish-url {PRIVATE} dist/foo_bar-1.0.tar.gz", ctx).repository == PRIVATE
    assert parse("uv publish", ctx, UV_PUBLISH_URL=TESTPYPI_UPLOAD).repository == TESTPYPI_UPLOAD
    assert parse("uv --no-progress publish --token x", ctx).options >= {"--token"}


def test_uv_index_from_pyproject(ctx):
    (ctx.cwd / "pyproject.toml").write_text(
        '[project]\nname = "foo-bar"\n[[tool.uv.index]]\nname = "testpypi"\nurl = "https://test.pypi.org/simple/"\n'
        'publish-url = "https://test.pypi.org/legacy/"\n'
    )
    assert parse("uv publish --index testpypi", ctx).repository == TESTPYPI_UPLOAD
    with pytest.raises(UsageError, match="nope"):
        parse("uv publish --index nope", ctx)


def test_uv_directory(ctx, tmp_path):
    other = tmp_path / "other"
    (other / "dist").mkdir(parents=True)
    (other / "dist" / "baz-1.0.tar.gz").write_text("x")
    assert parse(f"uv --directory {other} publish", ctx).projects == ("baz",)


def test_uv_other_subcommands_do_not_publish(ctx):
    assert not parse("uv build", ctx).publishes
    assert not parse("uv pip install foo", ctx).publishes


# -- poetry, hatch, flit, pdm -----------------------------------------------------------


def test_poetry(ctx):
    (ctx.cwd / "pyproject.toml").write_text('[tool.poetry]\nname = "Foo.Bar"\n')
    t = parse("poetry publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    t = parse("poetry publish -r my-repo", ctx, POETRY_REPOSITORIES_MY_REPO_URL=PRIVATE)
    assert t.repository == PRIVATE and t.repository_name == "my-repo"
    assert tool_env(t, "v") == {"POETRY_PYPI_TOKEN_MY_REPO": "v"}
    assert tool_env(parse("poetry publish", ctx), "v") == {"POETRY_PYPI_TOKEN_PYPI": "v"}
    unknown = parse("poetry publish -r nowhere", ctx)
    assert unknown.repository is None and "nowhere" in unknown.problem
    (ctx.home / ".config" / "pypoetry").mkdir(parents=True)
    (ctx.home / ".config" / "pypoetry" / "config.toml").write_text(f'[repositories.nowhere]\nurl = "{PRIVATE}"\n')
    assert parse("poetry publish -r nowhere --build", ctx).repository == PRIVATE


def test_hatch(ctx):
    t = parse("hatch publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("hatch publish -r test", ctx).repository == TESTPYPI_UPLOAD
    assert parse(f"hatch publish --repo {PRIVATE} dist/foo_bar-1.0.tar.gz", ctx).repository == PRIVATE
    assert parse("hatch -v publish", ctx, HATCH_INDEX_REPO="test").repository == TESTPYPI_UPLOAD
    assert not parse("hatch build", ctx).publishes


def test_flit(ctx):
    (ctx.cwd / "pyproject.toml").write_text('[project]\nname = "foo_bar"\n')
    t = parse("flit publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("flit publish --repository testpypi", ctx).repository == TESTPYPI_UPLOAD
    assert parse("flit publish", ctx, FLIT_INDEX_URL=PRIVATE).repository == PRIVATE


def test_pdm(ctx):
    (ctx.cwd / "pyproject.toml").write_text('[project]\nname = "foo-bar"\n')
    t = parse("pdm publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("pdm publish -r testpypi", ctx).repository == TESTPYPI_UPLOAD
    assert parse(f"pdm publish -r {PRIVATE} --no-build", ctx).repository == PRIVATE
    assert parse("pdm publish", ctx, PDM_PUBLISH_REPO="testpypi").repository == TESTPYPI_UPLOAD
    (ctx.cwd / "pdm.toml").write_text(f'[repository.company]\nurl = "{PRIVATE}"\n')
    assert parse("pdm publish -r company", ctx).repository == PRIVATE


# -- npm, cargo, gh -----------------------------------------------------------------------


def test_npm(ctx):
    (ctx.cwd / "package.json").write_text(json.dumps({"name": "@scope/pkg", "publishConfig": {"registry": "https://npm.example.com/"}}))
    t = parse("npm publish", ctx)
    assert (t.tool, t.repository, t.projects) == ("npm", "https://npm.example.com/", ("@scope/pkg",))
    assert parse("npm publish --registry https://registry.npmjs.org/", ctx).repository == "https://registry.npmjs.org/"
    tarball = ctx.cwd / "pkg-1.0.0.tgz"
    inner = ctx.cwd / "package"
    inner.mkdir()
    (inner / "package.json").write_text(json.dumps({"name": "tarred"}))
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(inner, arcname="package")
    assert parse(f"npm publish {tarball.name}", ctx).projects == ("tarred",)
    assert tool_env(t, "v") == {"NODE_AUTH_TOKEN": "v"}


def test_npm_userconfig_names_the_variable_not_the_value():
    text = npm_userconfig("https://registry.npmjs.org/", "color=false\n//registry.npmjs.org/:_authToken=OLD\n")
    assert "//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}" in text
    assert "OLD" not in text and "color=false" in text


def test_cargo(ctx):
    (ctx.cwd / "Cargo.toml").write_text('[package]\nname = "my_crate"\nversion = "0.1.0"\n')
    t = parse("cargo publish", ctx)
    assert (t.repository, t.projects) == ("https://crates.io/", ("my_crate",))
    assert tool_env(t, "v") == {"CARGO_REGISTRY_TOKEN": "v"}
    named = parse("cargo publish --registry my-reg", ctx, CARGO_REGISTRIES_MY_REG_INDEX="sparse+https://reg.example/")
    assert named.repository == "sparse+https://reg.example/"
    assert tool_env(named, "v") == {"CARGO_REGISTRIES_MY_REG_TOKEN": "v"}
    assert parse("cargo yank --version 0.1.0 other", ctx).projects == ("other",)
    assert not parse("cargo build", ctx).publishes


def test_gh(ctx):
    t = parse("gh release upload v1 dist/x.tar.gz -R Owner/Repo", ctx)
    assert (t.tool, t.repository, t.projects) == ("gh", "https://github.com/", ("owner/repo",))
    assert tool_env(t, "v") == {"GH_TOKEN": "v"}
    ghe = parse("gh release list", ctx, GH_HOST="ghe.example.com")
    assert ghe.repository == "https://ghe.example.com/"
    assert tool_env(ghe, "v") == {"GH_ENTERPRISE_TOKEN": "v"}


def test_unknown_command(ctx):
    t = parse("make publish", ctx)
    assert t.tool == "" and not t.publishes


# -- variables ------------------------------------------------------------------------------


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


def test_shadowing(ctx):
    t = parse("twine upload -p secret dist/*", ctx)
    assert any("--password" in w for w in shadowing(t, {}))
    u = parse("uv publish", ctx)
    assert any("UV_PUBLISH_PASSWORD" in w for w in shadowing(u, {"UV_PUBLISH_PASSWORD": "x"}))
    assert shadowing(u, {}) == []


def test_normalize_url():
    assert normalize_url("https://upload.pypi.org/legacy") == normalize_url(PYPI_UPLOAD)
    assert normalize_url("HTTP://Example.COM:80/simple") == "http://example.com/simple/"
    assert normalize_url("http://127.0.0.1:8080/") != normalize_url("http://127.0.0.1:8081/")
    assert is_pypi_server("https://test.pypi.org/legacy") and is_pypi_server(PYPI_UPLOAD)
    assert not is_pypi_server("http://127.0.0.1:8080/") and not is_pypi_server(None)
