"""flit: destination from --repository (a .pypirc section), FLIT_INDEX_URL, the .pypirc
`pypi` section, in flit's order, with argparse's abbreviations. flit is not installed for
the tests: parsing and refusals only."""

from __future__ import annotations

from tests.publisher_helpers import PRIVATE, ctx, parse, refused  # noqa: F401 - fixture
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
