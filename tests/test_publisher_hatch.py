"""hatch: destination from -r/--repo, HATCH_INDEX_REPO and hatch's config file. Each
expectation was checked once against the real hatch 1.14 and a recording server; hatch is
not a test dependency (about 23 s to install, and it pins its own uv and virtualenv), so
these prove the parsing and the refusals."""

from __future__ import annotations

from tests.publisher_helpers import PRIVATE, ctx, parse, refused  # noqa: F401 - fixture
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD


def test_sources(ctx, tmp_path):
    t = parse("hatch publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("hatch publish -r test", ctx).repository == TESTPYPI_UPLOAD
    assert parse(f"hatch publish --repo {PRIVATE} dist/foo_bar-1.0.tar.gz", ctx).repository == PRIVATE
    assert parse("hatch -v publish", ctx, HATCH_INDEX_REPO="test").repository == TESTPYPI_UPLOAD
    config = ctx.home / ".config" / "hatch" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[publish.index]\nrepo = "private"\n[publish.index.repos.private]\nurl = "{PRIVATE}"\n')
    assert parse("hatch publish", ctx).repository == PRIVATE  # the config's default repo
    config.write_text('[publish.index.repos.main]\nurl = "https://redirected.example/"\n')
    assert parse("hatch publish", ctx).repository == PYPI_UPLOAD  # hatch keeps main as PyPI
    (ctx.cwd / "pyproject.toml").write_text(f'[tool.hatch.publish.index]\nrepo = "{PRIVATE}"\n')
    assert parse("hatch publish", ctx).repository == PYPI_UPLOAD  # not read by hatch
    other = tmp_path / "other.toml"
    other.write_text(f'[publish.index.repos.x]\nurl = "{PRIVATE}"\n')
    assert parse(f"hatch --config {other} publish -r x", ctx).repository == PRIVATE
    assert parse("hatch publish -r x", ctx, HATCH_CONFIG=str(other)).repository == PRIVATE
    assert not parse("hatch build", ctx).publishes


def test_refusals(ctx):
    assert refused(parse("hatch publish -r nowhere", ctx), "'nowhere'")
    assert refused(parse(f"hatch publish -o repo={PRIVATE}", ctx), "--option")
    assert refused(parse("hatch publish --rep x", ctx), "--rep")  # click does not abbreviate


def test_hostile_config_types_are_refused(ctx):
    config = ctx.home / ".config" / "hatch" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[publish.index.repos.x]\nurl = 5\n")
    assert refused(parse("hatch publish -r x", ctx), "no url")
    config.write_text('[publish.index.repos]\nx = "javascript:alert(1)"\n')
    assert refused(parse("hatch publish -r x", ctx), "not an http(s) URL")
