"""poetry: destination from -r, POETRY_REPOSITORIES_<NAME>_URL, poetry.toml, the user's
config.toml and [[tool.poetry.source]], in poetry's order. Each expectation was checked
once against the real poetry 2 and a recording server; poetry is not a test dependency
(about 20 s to install, and its pins would move packages the rest of the suite uses), so
these prove the parsing and the refusals."""

from __future__ import annotations

from tests.publisher_helpers import PRIVATE, ctx, parse, refused  # noqa: F401 - fixture
from tokenward.publishers import shadowing, tool_env
from tokenward.tokens import PYPI_UPLOAD


def test_default_and_env_and_config_files(ctx, tmp_path):
    (ctx.cwd / "pyproject.toml").write_text('[tool.poetry]\nname = "Foo.Bar"\n')
    t = parse("poetry publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    t = parse("poetry publish -r my-repo", ctx, POETRY_REPOSITORIES_MY_REPO_URL=PRIVATE)
    assert t.repository == PRIVATE and t.repository_name == "my-repo" and t.source == "POETRY_REPOSITORIES_MY_REPO_URL"
    assert tool_env(t, "v") == {"POETRY_PYPI_TOKEN_MY_REPO": "v"}
    assert tool_env(parse("poetry publish", ctx), "v") == {"POETRY_PYPI_TOKEN_PYPI": "v"}
    assert refused(parse("poetry publish -r nowhere", ctx), "'nowhere'")
    user = ctx.home / ".config" / "pypoetry" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(f'[repositories.nowhere]\nurl = "{PRIVATE}"\n')
    assert parse("poetry publish -r nowhere --build", ctx).repository == PRIVATE
    (ctx.cwd / "poetry.toml").write_text('[repositories.nowhere]\nurl = "https://local.example/"\n')
    assert parse("poetry publish --repository=nowhere", ctx).repository == "https://local.example/"  # project beats user
    other = tmp_path / "poetry-config"
    other.mkdir()
    (other / "config.toml").write_text('[repositories.pypi]\nurl = "https://redirected.example/"\n')
    assert parse("poetry publish -r pypi", ctx, POETRY_CONFIG_DIR=str(other)).repository == "https://redirected.example/"


def test_refusals(ctx):
    assert refused(parse("poetry publish --repo x", ctx), "--repo")  # cleo does not abbreviate
    assert refused(parse("poetry pub", ctx), "abbreviate")
    (ctx.cwd / "poetry.toml").write_text("[repositories.x\n")
    assert refused(parse("poetry publish -r x", ctx), "poetry.toml")


def test_directory_and_shadowing(ctx, tmp_path):
    other = tmp_path / "proj"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "elsewhere"\n')
    (other / "poetry.toml").write_text(f'[repositories.r]\nurl = "{PRIVATE}"\n')
    t = parse(f"poetry -C {other} publish -r r", ctx)
    assert t.repository == PRIVATE and t.projects == ("elsewhere",)
    assert any("POETRY_HTTP_BASIC_R_PASSWORD" in w for w in shadowing(t, {"POETRY_HTTP_BASIC_R_PASSWORD": "x"}))


def test_source_in_pyproject_and_dotted_names(ctx):
    (ctx.cwd / "pyproject.toml").write_text(f'[project]\nname = "foo"\n[[tool.poetry.source]]\nname = "x"\nurl = "{PRIVATE}"\n')
    t = parse("poetry publish -r x", ctx)
    assert t.repository == PRIVATE and "tool.poetry.source" in t.source  # poetry uploads there, token and all
    # poetry does not map POETRY_REPOSITORIES_MY_REPO_URL to a repository named my.repo
    assert refused(parse("poetry publish -r my.repo", ctx, POETRY_REPOSITORIES_MY_REPO_URL=PRIVATE), "'my.repo'")


def test_hostile_config_types_are_refused(ctx):
    (ctx.cwd / "poetry.toml").write_text("[repositories.x]\nurl = 5\n")
    assert refused(parse("poetry publish -r x", ctx), "not a string")
    (ctx.cwd / "poetry.toml").write_text('[repositories.x]\nurl = "http://x.example/\\u0085"\n')
    assert refused(parse("poetry publish -r x", ctx), "control characters")
