"""cargo: the registry from --index, --registry/CARGO_REGISTRY_DEFAULT with its index from
CARGO_REGISTRIES_<NAME>_INDEX or .cargo/config.toml; the token variable is per registry."""

from __future__ import annotations

from tests.publisher_helpers import ctx, parse, refused  # noqa: F401 - fixture
from tokenward.publishers import tool_env


def test_cargo(ctx):
    (ctx.cwd / "Cargo.toml").write_text('[package]\nname = "my_crate"\nversion = "0.1.0"\n')
    t = parse("cargo publish", ctx)
    assert (t.repository, t.projects) == ("https://crates.io/", ("my_crate",))
    assert tool_env(t, "v") == {"CARGO_REGISTRY_TOKEN": "v"}
    named = parse("cargo publish --registry my-reg", ctx, CARGO_REGISTRIES_MY_REG_INDEX="sparse+https://reg.example/")
    assert named.repository == "sparse+https://reg.example/"
    assert tool_env(named, "v") == {"CARGO_REGISTRIES_MY_REG_TOKEN": "v"}
    (ctx.cwd / ".cargo").mkdir()
    (ctx.cwd / ".cargo" / "config.toml").write_text('[registries.company]\nindex = "sparse+https://company.example/"\n')
    assert parse("cargo publish", ctx, CARGO_REGISTRY_DEFAULT="company").repository == "sparse+https://company.example/"
    assert parse("cargo yank --version 0.1.0 other", ctx).projects == ("other",)
    assert not parse("cargo build", ctx).publishes
    unknown = parse("cargo publish --registry nowhere", ctx)
    assert unknown.repository is None and "nowhere" in unknown.problem


def test_default_registry_from_config_and_refused_overrides(ctx):
    (ctx.cwd / "Cargo.toml").write_text('[package]\nname = "c"\nversion = "0.1.0"\n')
    (ctx.cwd / ".cargo").mkdir()
    (ctx.cwd / ".cargo" / "config.toml").write_text(
        '[registry]\ndefault = "company"\n[registries.company]\nindex = "sparse+https://company.example/"\n'
    )
    t = parse("cargo publish", ctx)
    assert t.repository == "sparse+https://company.example/" and tool_env(t, "v") == {"CARGO_REGISTRIES_COMPANY_TOKEN": "v"}
    assert refused(parse("cargo --config registry.default=x publish", ctx), "--config")
