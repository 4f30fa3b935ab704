"""twine: the destination from every source twine reads, with argparse's own rules
(prefix abbreviations, --opt=value), proven with the real twine against recording servers."""

from __future__ import annotations

import pytest

from tests import servers
from tests.publisher_helpers import PRIVATE, ctx, harness, parse, recording_servers, refused  # noqa: F401 - fixtures
from tokenward.publishers import tool_env
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

# -- parsing -------------------------------------------------------------------------------


def test_defaults_to_pypi_and_reads_dist_globs(ctx):
    t = parse("twine upload dist/*", ctx)
    assert (t.tool, t.action, t.publishes) == ("twine", "upload", True)
    assert t.repository == PYPI_UPLOAD
    assert t.projects == ("foo-bar",)
    assert not any(f.endswith(".asc") for f in t.files)


def test_unexpanded_and_expanded_globs_agree(ctx):
    expanded = parse(["twine", "upload", "dist/Foo_Bar-1.0-py3-none-any.whl", "dist/foo_bar-1.0.tar.gz"], ctx)
    assert expanded.projects == parse("twine upload dist/*", ctx).projects


def test_testpypi_and_repository_url(ctx):
    assert parse("twine upload -r testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    assert parse("twine upload --repository=testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    assert parse("twine upload -rtestpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    t = parse(f"twine upload --repository-url {PRIVATE} --skip-existing -u __token__ dist/*", ctx)
    assert t.repository == PRIVATE and t.projects == ("foo-bar",)


@pytest.mark.parametrize("option", ["--repository-url", "--repository-ur", "--repository-u", "--repository-"])
def test_abbreviations_of_repository_url(ctx, option):
    assert parse(f"twine upload {option} {PRIVATE} dist/*", ctx).repository == PRIVATE
    assert parse(f"twine upload {option}={PRIVATE} dist/*", ctx).repository == PRIVATE


def test_ambiguous_abbreviation_is_refused_as_twine_refuses_it(ctx):
    assert refused(parse(f"twine upload --repo {PRIVATE} dist/*", ctx), "ambiguous option: --repo")


def test_reads_pypirc_sections(ctx):
    (ctx.home / ".pypirc").write_text(f"[distutils]\nindex-servers =\n  pypi\n  private\n\n[private]\nrepository = {PRIVATE}\nusername = __token__\n")
    assert parse("twine upload -r private dist/*", ctx).repository == PRIVATE
    assert refused(parse("twine upload -r testpypi dist/*", ctx), "testpypi")  # index-servers leaves it out
    other = ctx.cwd / "other.pypirc"
    other.write_text("[mine]\nrepository = https://mine.example/\n")
    assert refused(parse(f"twine upload --config-file {other} -r mine dist/*", ctx), "mine")  # not in index-servers
    other.write_text("[distutils]\nindex-servers = mine\n[mine]\nrepository = https://mine.example/\n")
    assert parse(f"twine upload --config-file {other} -r mine dist/*", ctx).repository == "https://mine.example/"
    # argparse abbreviations of --config-file, as twine accepts them
    assert parse(f"twine upload --config {other} -r mine dist/*", ctx).repository == "https://mine.example/"
    assert parse(f"twine upload --conf={other} --repository mine dist/*", ctx).repository == "https://mine.example/"


def test_pypirc_can_redirect_the_default_pypi(ctx):
    (ctx.home / ".pypirc").write_text(f"[distutils]\nindex-servers = pypi\n[pypi]\nrepository = {PRIVATE}\n")
    t = parse("twine upload dist/*", ctx)
    assert t.repository == PRIVATE and "(default)" in t.source


def test_missing_config_file_is_refused(ctx):
    assert refused(parse("twine upload --config-file nope.pypirc dist/*", ctx), "does not exist")


def test_environment_variables(ctx):
    assert parse("twine upload dist/*", ctx, TWINE_REPOSITORY="testpypi").repository == TESTPYPI_UPLOAD
    t = parse("twine upload dist/*", ctx, TWINE_REPOSITORY_URL=PRIVATE, TWINE_REPOSITORY="testpypi")
    assert t.repository == PRIVATE and t.source == "TWINE_REPOSITORY_URL"  # the URL overrides -r, as in twine
    assert parse(f"twine upload --repository-url {PRIVATE} dist/*", ctx, TWINE_REPOSITORY_URL="https://other/").repository == PRIVATE


def test_top_level_options_and_other_commands(ctx):
    assert parse(f"twine --no-color upload --repository-url {PRIVATE} dist/*", ctx).repository == PRIVATE
    assert parse(f"twine --no-c upload --repository-url {PRIVATE} dist/*", ctx).repository == PRIVATE
    assert not parse("twine check dist/*", ctx).publishes
    assert not parse("twine upload --help", ctx).publishes


def test_control_characters_in_a_url_are_refused(ctx):
    (ctx.home / ".pypirc").write_text("[distutils]\nindex-servers = pypi\n[pypi]\nrepository = https://x/\x1b[2J\n")
    assert refused(parse("twine upload dist/*", ctx), "control characters")


def test_python_m_twine_and_uvx(ctx):
    assert parse("python3 -m twine upload dist/*", ctx).projects == ("foo-bar",)
    assert parse("uvx twine upload -r testpypi dist/*", ctx).repository == TESTPYPI_UPLOAD
    assert parse("uvx --from twine==6.1 twine upload dist/*", ctx).tool == "twine"
    assert parse("pipx run twine upload dist/*", ctx).tool == "twine"
    assert parse("/usr/local/bin/twine upload dist/*", ctx).tool == "twine"


def test_missing_files_still_name_projects(ctx):
    assert parse("twine upload dist/other_pkg-2.0.tar.gz", ctx).projects == ("other-pkg",)


def test_no_dist_files_is_a_problem(ctx):
    t = parse("twine upload nothing/*", ctx)
    assert t.projects == () and "no sdist or wheel" in t.problem


def test_variables(ctx):
    assert tool_env(parse("twine upload dist/*", ctx), "V") == {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "V"}


# -- the real twine, through tokens exec, against recording servers ------------------------

PRIVATE_PYPIRC = "[distutils]\nindex-servers =\n  pypi\n  local\n[local]\nrepository = {A}\n"

# (source, files to write, argv after `twine upload`, extra environment)
SOURCES = [
    ("--repository-url", {}, ["--repository-url", "{A}"], {}),
    ("--repository-url=", {}, ["--repository-url={A}"], {}),
    ("--repository-ur (abbreviation)", {}, ["--repository-ur", "{A}"], {}),
    ("--repository-u= (abbreviation)", {}, ["--repository-u={A}"], {}),
    ("-r with ~/.pypirc", {"~/.pypirc": PRIVATE_PYPIRC}, ["-r", "local"], {}),
    ("--repository= with ~/.pypirc", {"~/.pypirc": PRIVATE_PYPIRC}, ["--repository=local"], {}),
    ("--config-file", {"other.pypirc": PRIVATE_PYPIRC}, ["--config-file", "other.pypirc", "-r", "local"], {}),
    ("--config (abbreviation)", {"other.pypirc": PRIVATE_PYPIRC}, ["--config", "other.pypirc", "-r", "local"], {}),
    ("TWINE_REPOSITORY_URL", {}, [], {"TWINE_REPOSITORY_URL": "{A}"}),
    ("TWINE_REPOSITORY", {"~/.pypirc": PRIVATE_PYPIRC}, [], {"TWINE_REPOSITORY": "local"}),
    ("[pypi] redirected in ~/.pypirc", {"~/.pypirc": "[distutils]\nindex-servers = pypi\n[pypi]\nrepository = {A}\n"}, [], {}),
    ("--repository-url beats TWINE_REPOSITORY_URL", {}, ["--repository-url", "{A}"], {"TWINE_REPOSITORY_URL": "{B}"}),
    ("TWINE_REPOSITORY_URL beats -r", {"~/.pypirc": "[distutils]\nindex-servers = b\n[b]\nrepository = {B}\n"}, ["-r", "b"],
     {"TWINE_REPOSITORY_URL": "{A}"}),
]  # fmt: skip


def twine() -> str:
    path = servers.find_tool("twine")
    if path is None:
        servers.unavailable("twine is not installed")
    return path


@pytest.mark.parametrize("source, files, argv, env", SOURCES, ids=[s[0] for s in SOURCES])
def test_real_twine_sends_the_token_only_where_exec_resolved(harness, source, files, argv, env):
    for relative, text in files.items():
        harness.write(relative, text)
    result = harness.run(twine(), "upload", *argv, "dist/*", env=env)
    harness.assert_only_a_got_its_token(result)
    assert "using for-a for " + harness.a.upload_url() in result.stderr


REFUSALS = [
    ("--repo is ambiguous", {}, ["--repo", "{A}"], {}, "ambiguous option"),
    ("section not in index-servers", {"~/.pypirc": "[local]\nrepository = {A}\n"}, ["-r", "local"], {}, "'local'"),
    ("missing --config-file", {}, ["--config-file", "nope.pypirc", "-r", "local"], {}, "does not exist"),
]  # fmt: skip


@pytest.mark.parametrize("source, files, argv, env, why", REFUSALS, ids=[s[0] for s in REFUSALS])
def test_real_twine_refused_when_unsure(harness, source, files, argv, env, why):
    for relative, text in files.items():
        harness.write(relative, text)
    harness.assert_refused(harness.run(twine(), "upload", *argv, "dist/*", env=env), why)


def test_audit_log_records_the_source(harness):
    harness.write("~/.pypirc", PRIVATE_PYPIRC)
    harness.assert_only_a_got_its_token(harness.run(twine(), "upload", "--config", "~/.pypirc", "-r", "local", "dist/*"))
    assert "[local]" in harness.last_exec()["repository_source"]
