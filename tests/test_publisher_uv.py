"""uv: the destination from every source uv reads (options with clap's rules, variables,
project/user/system configuration, --config-file, --no-config, workspaces), proven with
the real uv against recording servers. Each case was first checked against uv itself."""

from __future__ import annotations

import pytest

from tests import servers
from tests.publisher_helpers import PRIVATE, ctx, harness, parse, recording_servers, refused  # noqa: F401 - fixtures
from tokenward.publishers import tool_env
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

PYPROJECT = '[project]\nname = "tw-right"\nversion = "1.0"\n'

# -- parsing -------------------------------------------------------------------------------


def test_publish(ctx):
    t = parse("uv publish", ctx)
    assert (t.tool, t.repository, t.projects, t.source) == ("uv", PYPI_UPLOAD, ("foo-bar",), "default")
    assert parse(f"uv publish --publish-url {PRIVATE} dist/foo_bar-1.0.tar.gz", ctx).repository == PRIVATE
    assert parse(f"uv publish --publish-url={PRIVATE}", ctx).repository == PRIVATE
    assert parse("uv publish", ctx, UV_PUBLISH_URL=TESTPYPI_UPLOAD).repository == TESTPYPI_UPLOAD
    assert parse(f"uv publish --publish-url {PRIVATE}", ctx, UV_PUBLISH_URL=TESTPYPI_UPLOAD).repository == PRIVATE
    assert parse("uv --no-progress publish --token x", ctx).options >= {"--token"}
    assert parse(f"uv publish -q --publish-url {PRIVATE} -tX", ctx).repository == PRIVATE


def test_pyproject_publish_url(ctx):
    (ctx.cwd / "pyproject.toml").write_text(PYPROJECT + f'[tool.uv]\npublish-url = "{PRIVATE}"\n')
    t = parse("uv publish", ctx)
    assert t.repository == PRIVATE and "pyproject.toml" in t.source
    assert parse("uv publish", ctx, UV_PUBLISH_URL=TESTPYPI_UPLOAD).repository == TESTPYPI_UPLOAD


def test_uv_toml_beats_pyproject_and_user_beats_system(ctx, tmp_path):
    (ctx.cwd / "pyproject.toml").write_text(PYPROJECT + '[tool.uv]\npublish-url = "https://b.example/"\n')
    (ctx.cwd / "uv.toml").write_text(f'publish-url = "{PRIVATE}"\n')
    assert parse("uv publish", ctx).repository == PRIVATE
    (ctx.cwd / "uv.toml").unlink()
    (ctx.cwd / "pyproject.toml").write_text(PYPROJECT)  # no [tool.uv]: skipped
    user = ctx.home / ".config" / "uv" / "uv.toml"
    user.parent.mkdir(parents=True)
    user.write_text('publish-url = "https://user.example/"\n')
    system = tmp_path / "etc-xdg" / "uv" / "uv.toml"
    system.parent.mkdir(parents=True)
    system.write_text('publish-url = "https://system.example/"\n')
    assert parse("uv publish", ctx, XDG_CONFIG_DIRS=str(tmp_path / "etc-xdg")).repository == "https://user.example/"
    user.unlink()
    assert parse("uv publish", ctx, XDG_CONFIG_DIRS=str(tmp_path / "etc-xdg")).repository == "https://system.example/"
    assert parse("uv publish", ctx, XDG_CONFIG_HOME=str(tmp_path / "xdg")).repository == PYPI_UPLOAD


def test_config_file_and_no_config(ctx):
    (ctx.cwd / "uv.toml").write_text('publish-url = "https://project.example/"\n')
    (ctx.cwd / "other.toml").write_text(f'publish-url = "{PRIVATE}"\n')
    assert parse("uv publish --config-file other.toml", ctx).repository == PRIVATE
    assert parse("uv publish", ctx, UV_CONFIG_FILE="other.toml").repository == PRIVATE
    assert parse("uv --no-config publish", ctx).repository == PYPI_UPLOAD
    assert parse("uv publish", ctx, UV_NO_CONFIG="1").repository == PYPI_UPLOAD
    assert parse("uv publish", ctx, UV_NO_CONFIG="false").repository == "https://project.example/"
    assert refused(parse("uv publish", ctx, UV_NO_CONFIG="maybe"), "UV_NO_CONFIG")
    assert refused(parse("uv publish --config-file nope.toml", ctx), "does not exist")


def test_index_from_configuration(ctx):
    (ctx.cwd / "pyproject.toml").write_text(
        PYPROJECT + '[[tool.uv.index]]\nname = "testpypi"\nurl = "https://test.pypi.org/simple/"\n'
        'publish-url = "https://test.pypi.org/legacy/"\n[[tool.uv.index]]\nname = "bare"\nurl = "https://x/simple/"\n'
    )
    assert parse("uv publish --index testpypi", ctx).repository == TESTPYPI_UPLOAD
    assert parse("uv publish", ctx, UV_PUBLISH_INDEX="testpypi").repository == TESTPYPI_UPLOAD
    assert refused(parse("uv publish --index nope", ctx), "'nope'")
    assert refused(parse("uv publish --index bare", ctx), "no publish-url")
    assert refused(parse(f"uv publish --index testpypi --publish-url {PRIVATE}", ctx), "together")
    assert refused(parse("uv publish --index testpypi", ctx, UV_PUBLISH_URL=PRIVATE), "together")


def test_directory_project_and_workspace(ctx, tmp_path):
    other = tmp_path / "other"
    (other / "dist").mkdir(parents=True)
    (other / "dist" / "baz-1.0.tar.gz").write_text("x")
    assert parse(f"uv --directory {other} publish", ctx).projects == ("baz",)
    (other / "uv.toml").write_text(f'publish-url = "{PRIVATE}"\n')
    assert parse(f"uv publish --directory {other}", ctx).repository == PRIVATE
    assert parse("uv publish", ctx, UV_WORKING_DIR=str(other)).repository == PRIVATE
    assert parse(f"uv publish --project {other}", ctx).repository == PRIVATE
    # a workspace member: the root's settings, not the member's
    (ctx.cwd / "pyproject.toml").write_text(PYPROJECT + '[tool.uv.workspace]\nmembers = ["pkgs/*"]\n[tool.uv]\npublish-url = "https://root.example/"\n')
    member = ctx.cwd / "pkgs" / "m"
    member.mkdir(parents=True)
    (member / "pyproject.toml").write_text('[project]\nname = "m"\nversion = "1"\n[tool.uv]\npublish-url = "https://member.example/"\n')
    assert parse("uv publish --directory pkgs/m", ctx).repository == "https://root.example/"
    (ctx.cwd / "pyproject.toml").write_text(PYPROJECT + '[tool.uv.workspace]\nmembers = ["pkgs/*"]\nexclude = ["pkgs/m"]\n')
    assert parse("uv publish --directory pkgs/m", ctx).repository == "https://member.example/"


def test_clap_never_abbreviates(ctx):
    assert refused(parse(f"uv publish --publish-ur {PRIVATE}", ctx), "--publish-ur")


def test_other_subcommands_do_not_publish(ctx):
    assert not parse("uv build", ctx).publishes
    assert not parse("uv pip install foo", ctx).publishes


def test_variables(ctx):
    assert tool_env(parse("uv publish", ctx), "V") == {"UV_PUBLISH_TOKEN": "V"}


# -- the real uv, through tokens exec, against recording servers ----------------------------

INDEX = '[[tool.uv.index]]\nname = "private"\nurl = "{B}simple/"\npublish-url = "{A}"\n'

# (source, files to write, argv after `uv publish`, extra environment)
SOURCES = [
    ("--publish-url", {}, ["--publish-url", "{A}"], {}),
    ("--publish-url=", {}, ["--publish-url={A}"], {}),
    ("UV_PUBLISH_URL", {}, [], {"UV_PUBLISH_URL": "{A}"}),
    ("pyproject [tool.uv] publish-url", {"pyproject.toml": PYPROJECT + '[tool.uv]\npublish-url = "{A}"\n'}, [], {}),
    ("uv.toml beats pyproject", {"pyproject.toml": PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n', "uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("user uv.toml", {"~/.config/uv/uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("project beats user", {"~/.config/uv/uv.toml": 'publish-url = "{B}"\n', "uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("system uv.toml", {"../system-config/uv/uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("user beats system", {"../system-config/uv/uv.toml": 'publish-url = "{B}"\n', "~/.config/uv/uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("UV_PUBLISH_URL beats pyproject", {"pyproject.toml": PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n'}, [], {"UV_PUBLISH_URL": "{A}"}),
    ("--index", {"pyproject.toml": PYPROJECT + INDEX}, ["--index", "private"], {}),
    ("UV_PUBLISH_INDEX", {"pyproject.toml": PYPROJECT + INDEX}, [], {"UV_PUBLISH_INDEX": "private"}),
    ("--index beats publish-url setting", {"pyproject.toml": PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n' + INDEX}, ["--index", "private"], {}),
    ("--config-file", {"other.toml": 'publish-url = "{A}"\n', "uv.toml": 'publish-url = "{B}"\n'}, ["--config-file", "other.toml"], {}),
    ("UV_CONFIG_FILE", {"other.toml": 'publish-url = "{A}"\n', "~/.config/uv/uv.toml": 'publish-url = "{B}"\n'}, [], {"UV_CONFIG_FILE": "other.toml"}),
    ("--no-config", {"uv.toml": 'publish-url = "{B}"\n'}, ["--no-config", "--publish-url", "{A}"], {}),
    ("parent directory uv.toml", {"../uv.toml": 'publish-url = "{A}"\n'}, [], {}),
    ("workspace root beats member", {"../pyproject.toml": '[project]\nname = "root"\nversion = "1"\n[tool.uv.workspace]\nmembers = ["project"]\n'
                                     '[tool.uv]\npublish-url = "{A}"\n', "pyproject.toml": PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n'}, [], {}),
]  # fmt: skip


def uv() -> str:
    path = servers.find_tool("uv")
    if path is None:
        servers.unavailable("uv is not installed")
    return path


def write_all(harness, files: dict) -> None:
    for relative, text in files.items():
        harness.write(relative, text)


@pytest.mark.parametrize("source, files, argv, env", SOURCES, ids=[s[0] for s in SOURCES])
def test_real_uv_sends_the_token_only_where_exec_resolved(harness, source, files, argv, env):
    write_all(harness, files)
    result = harness.run(uv(), "publish", *argv, env=env)
    harness.assert_only_a_got_its_token(result)
    assert "using for-a for " + harness.a.upload_url() in result.stderr


def test_issue_9_item_1_pyproject_publish_url(harness):
    """The reported case: uv publishes to the pyproject's publish-url; exec chooses the token
    for that URL, never the PyPI token, and the audit log names the real destination."""
    harness.write("pyproject.toml", PYPROJECT + '[tool.uv]\npublish-url = "{A}"\n')
    result = harness.run(uv(), "publish")
    harness.assert_only_a_got_its_token(result)
    entry = harness.last_exec()
    assert entry["repository"] == harness.a.upload_url() and entry["narrowed"] is False
    assert entry["repository_source"] == f"publish-url in {harness.work / 'pyproject.toml'}"
    # without a token for that URL: refused, nothing sent anywhere, the PyPI token untouched
    assert harness.tokens("remove", "for-a", "--yes", env=harness.env).returncode == 0
    harness.a.requests.clear()
    harness.assert_refused(harness.run(uv(), "publish"), "no token fits `uv publish` to {A}", execs_before=1)


REFUSALS = [
    ("--publish-ur (clap does not abbreviate)", {}, ["--publish-ur", "{A}"], {}, "--publish-ur"),
    ("--index with --publish-url", {"pyproject.toml": PYPROJECT + INDEX}, ["--index", "private", "--publish-url", "{A}"], {}, "together"),
    ("--index with UV_PUBLISH_URL", {"pyproject.toml": PYPROJECT + INDEX}, ["--index", "private"], {"UV_PUBLISH_URL": "{A}"}, "together"),
    ("unknown index", {"pyproject.toml": PYPROJECT + INDEX}, ["--index", "nope"], {}, "'nope'"),
    ("missing --config-file", {}, ["--config-file", "nope.toml"], {}, "does not exist"),
    ("--no-config: PyPI, not the project's URL", {"uv.toml": 'publish-url = "{B}"\n'}, ["--no-config"], {}, "no token fits `uv publish` to https://upload.pypi.org/legacy/"),
    ("UV_NO_CONFIG: PyPI, not the user's URL", {"~/.config/uv/uv.toml": 'publish-url = "{B}"\n'}, [], {"UV_NO_CONFIG": "1"}, "https://upload.pypi.org/legacy/"),
]  # fmt: skip


@pytest.mark.parametrize("source, files, argv, env, why", REFUSALS, ids=[s[0] for s in REFUSALS])
def test_real_uv_refused_when_unsure(harness, source, files, argv, env, why):
    write_all(harness, files)
    assert harness.tokens("remove", "pypi-main", "--yes", env=harness.env).returncode == 0  # PyPI itself: no token
    harness.assert_refused(harness.run(uv(), "publish", *argv, env=env), why)


@pytest.mark.parametrize(
    "text, why",
    [
        ("publish-url = 5\n", "not a string"),
        ('index = "private"\n', "not a table"),
        ('publish-url = "ftp://x.example/"\n', "not an http(s) URL"),
        ('publish-url = "https://x.example/\\u001b[2J"\n', "control characters"),
        ("publish-url = [\n", "cannot read"),
    ],
)
def test_hostile_uv_toml_is_refused(ctx, text, why):
    (ctx.cwd / "uv.toml").write_text(text)
    assert refused(parse("uv publish", ctx), why)
