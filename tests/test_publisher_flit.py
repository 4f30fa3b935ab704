"""flit: destination from --repository (a .pypirc section), FLIT_INDEX_URL, the .pypirc
`pypi` section, in flit's order, with argparse's abbreviations; proven with the real flit
(small enough to be a test dependency) against recording servers."""

from __future__ import annotations

import pytest

from tests.publisher_helpers import PRIVATE, ctx, harness, parse, recording_servers, refused  # noqa: F401 - fixtures
from tokenward.tokens import PYPI_UPLOAD


def test_sources(ctx):
    (ctx.cwd / "pyproject.toml").write_text('[project]\nname = "foo_bar"\n')
    t = parse("flit publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("flit publish", ctx, FLIT_INDEX_URL=PRIVATE).repository == PRIVATE
    (ctx.home / ".pypirc").write_text(f"[distutils]\nindex-servers = pypi testpypi\n[testpypi]\nrepository = {PRIVATE}\n")
    assert parse("flit publish --repository testpypi", ctx).repository == PRIVATE
    assert parse("flit publish --repo testpypi", ctx).repository == PRIVATE  # argparse abbreviation
    assert parse("flit --repository testpypi publish", ctx).repository == PRIVATE
    (ctx.home / ".pypirc").write_text("[pypi]\nrepository = https://redirected.example/\n")
    assert parse("flit publish", ctx).repository == "https://redirected.example/"  # flit reads [pypi]
    other = ctx.cwd / "other.pypirc"
    other.write_text(f"[distutils]\nindex-servers = x\n[x]\nrepository = {PRIVATE}\n")
    assert parse(f"flit publish --pypirc {other} --repository x", ctx).repository == PRIVATE


def test_refusals(ctx):
    assert refused(parse("flit publish --repository testpypi", ctx), "'testpypi'")  # not built into flit
    assert refused(parse("flit publish --repository pypi", ctx, FLIT_INDEX_URL=PRIVATE), "FLIT_INDEX_URL")
    assert refused(parse("flit publish --frobnicate", ctx), "unrecognized arguments")


# -- the real flit (a test dependency: small), through tokens exec, against recording servers --

PYPROJECT = ('[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "flit_core.buildapi"\n'
             '[project]\nname = "tw-right"\nversion = "1.0"\ndescription = "x"\n')  # fmt: skip
PRIVATE_PYPIRC = "[distutils]\nindex-servers = local\n[local]\nrepository = {A}\n"

# (source, files to write, argv, extra environment)
SOURCES = [
    ("FLIT_INDEX_URL", {}, ["publish"], {"FLIT_INDEX_URL": "{A}"}),
    ("[pypi] in ~/.pypirc", {"~/.pypirc": "[pypi]\nrepository = {A}\n"}, ["publish"], {}),
    ("FLIT_INDEX_URL beats [pypi]", {"~/.pypirc": "[pypi]\nrepository = {B}\n"}, ["publish"], {"FLIT_INDEX_URL": "{A}"}),
    ("--repository", {"~/.pypirc": PRIVATE_PYPIRC}, ["publish", "--repository", "local"], {}),
    ("--repo (abbreviation)", {"~/.pypirc": PRIVATE_PYPIRC}, ["publish", "--repo", "local"], {}),
    ("flit --repository publish", {"~/.pypirc": PRIVATE_PYPIRC}, ["--repository", "local", "publish"], {}),
    ("--pypirc", {"other.pypirc": PRIVATE_PYPIRC}, ["publish", "--pypirc", "other.pypirc", "--repository", "local"], {}),
]  # fmt: skip


def flit() -> str:
    from tests import servers

    path = servers.find_tool("flit")
    if path is None:
        servers.unavailable("flit is not installed (scripts/bootstrap test installs it)")
    return path


@pytest.mark.parametrize("source, files, argv, env", SOURCES, ids=[s[0] for s in SOURCES])
def test_real_flit_sends_the_token_only_where_exec_resolved(harness, source, files, argv, env):
    harness.write("pyproject.toml", PYPROJECT)
    harness.write("tw_right.py", '"""x"""\n')
    for relative, text in files.items():
        harness.write(relative, text)
    result = harness.run(flit(), *argv, "--format", "wheel", env=env)
    harness.assert_only_a_got_its_token(result)


def test_real_flit_refused_with_both_repository_and_variable(harness):
    harness.write("pyproject.toml", PYPROJECT)
    harness.write("~/.pypirc", PRIVATE_PYPIRC)
    result = harness.run(flit(), "publish", "--repository", "local", env={"FLIT_INDEX_URL": "{A}"})
    harness.assert_refused(result, "FLIT_INDEX_URL")
