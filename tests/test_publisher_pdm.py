"""pdm: destination from -r (a name or URL), PDM_PUBLISH_REPO and pdm's global config,
with argparse's abbreviations. Not proven with the real pdm: the current pdm from PyPI
fails at start-up here (its hishel dependency moved), so these prove the parsing and the
refusals, from pdm's source (`Config.get_repository_config`)."""

from __future__ import annotations

from tests.publisher_helpers import PRIVATE, ctx, parse, refused  # noqa: F401 - fixture
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD


def test_sources(ctx, tmp_path):
    (ctx.cwd / "pyproject.toml").write_text('[project]\nname = "foo-bar"\n')
    t = parse("pdm publish", ctx)
    assert (t.repository, t.projects) == (PYPI_UPLOAD, ("foo-bar",))
    assert parse("pdm publish -r testpypi", ctx).repository == TESTPYPI_UPLOAD
    assert parse(f"pdm publish -r {PRIVATE} --no-build", ctx).repository == PRIVATE
    assert parse(f"pdm publish --repo={PRIVATE}", ctx).repository == PRIVATE  # argparse abbreviation
    assert parse("pdm publish", ctx, PDM_PUBLISH_REPO="testpypi").repository == TESTPYPI_UPLOAD
    config = ctx.home / ".config" / "pdm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[repository.company]\nurl = "{PRIVATE}"\n[repository.pypi]\nurl = "https://redirected.example/"\n')
    assert parse("pdm publish -r company", ctx).repository == PRIVATE
    assert parse("pdm publish", ctx).repository == "https://redirected.example/"
    other = tmp_path / "pdm.toml"
    other.write_text(f'[repository.x]\nurl = "{PRIVATE}"\n')
    assert parse("pdm publish -r x", ctx, PDM_CONFIG_FILE=str(other)).repository == PRIVATE


def test_refusals(ctx):
    assert refused(parse("pdm publish -r company", ctx), "'company'")
    (ctx.cwd / "pdm.toml").write_text(f'[repository.company]\nurl = "{PRIVATE}"\n')
    assert refused(parse("pdm publish -r company", ctx), "pdm.toml")


def test_hostile_config_types_are_refused(ctx):
    config = ctx.home / ".config" / "pdm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[repository.x]\nurl = [1]\n")
    assert refused(parse("pdm publish -r x", ctx), "'x'")
    config.write_text("[repository\n")
    assert refused(parse("pdm publish -r x", ctx), "cannot read")
