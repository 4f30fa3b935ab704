"""cargo (clap): `cargo publish [--registry NAME | --index URL] ...`.

cargo keys tokens by registry: `CARGO_REGISTRY_TOKEN` reaches crates.io only,
`CARGO_REGISTRIES_<NAME>_TOKEN` the registry NAME only. Destination: `--index`, else
`--registry NAME` (else `CARGO_REGISTRY_DEFAULT`, else `registry.default` in the
`.cargo/config.toml` files) with its index from `CARGO_REGISTRIES_<NAME>_INDEX` or those
files, else crates.io. `--config` overrides on the command line are refused.
"""

from __future__ import annotations

from pathlib import Path

from tokenward.errors import UsageError
from tokenward.publishers._argv import scan, split_subcommand
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, not_publishing, read_toml, table

CRATES_IO = "https://crates.io/"


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def config_files(ctx: Context) -> list[Path]:
    """cargo's config files, most specific first (`config` without .toml too)."""
    directories = [d / ".cargo" for d in (ctx.cwd, *ctx.cwd.parents)]
    directories.append(Path(ctx.env.get("CARGO_HOME") or ctx.home / ".cargo"))
    files = []
    for directory in directories:
        files += [directory / "config.toml", directory / "config"]
    return files


def default_registry(ctx: Context) -> tuple[str, str]:
    for config in config_files(ctx):
        name = table(read_toml(config), "registry").get("default")
        if isinstance(name, str) and name:
            return name, f"registry.default in {config}"
    return "", ""


def registry_url(ctx: Context, name: str) -> tuple[str | None, str]:
    var = f"CARGO_REGISTRIES_{_env_name(name)}_INDEX"
    if ctx.env.get(var):
        return ctx.env[var], var
    for config in config_files(ctx):
        entry = table(read_toml(config), "registries", name)
        if entry.get("index"):
            return str(entry["index"]), f"registries.{name} in {config}"
    return None, ""


def crates_io_replacement(ctx: Context) -> tuple[str, str]:
    """`[source.crates-io] replace-with` (env CARGO_SOURCE_CRATES_IO_REPLACE_WITH, else the
    config files): the replacing source's name and where it is set, or ("", "")."""
    var = "CARGO_SOURCE_CRATES_IO_REPLACE_WITH"
    if ctx.env.get(var):
        return ctx.env[var], var
    for config in config_files(ctx):
        name = table(read_toml(config), "source", "crates-io").get("replace-with")
        if isinstance(name, str) and name:
            return name, f"[source.crates-io] in {config}"
    return "", ""


class Cargo(BasePublisher):
    name = "cargo"
    shadowing_options = ("--token",)

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, before = split_subcommand(args, {"--config", "-Z", "--color"}, {})
        if sub not in ("publish", "yank", "owner", "login", "logout"):
            return not_publishing("cargo", sub)
        parsed = scan(rest, {"--registry", "--index", "--package", "--manifest-path", "--token", "--features", "--target",
                             "--target-dir", "--jobs", "--vers", "--version", "--add", "--remove", "--color", "--config"},
                      {"-p": "--package", "-j": "--jobs", "-F": "--features", "-a": "--add", "-r": "--remove"})  # fmt: skip
        if before.has("--config") or parsed.has("--config"):
            raise Unsure("cargo --config may change the registry")
        name = parsed.last("--registry") or ctx.env.get("CARGO_REGISTRY_DEFAULT", "")
        if not name:
            name, _where = default_registry(ctx)
        problem = ""
        url: str | None
        if parsed.last("--index"):
            url, source = parsed.last("--index"), "--index"
        elif name and name != "crates-io":
            url, source = registry_url(ctx, name)
            if not url:
                problem = f"cargo registry {name!r} has no index in CARGO_REGISTRIES_*_INDEX or .cargo/config.toml"
        else:
            url, name, source = CRATES_IO, "", "default"
            replaced, where = crates_io_replacement(ctx)
            if replaced:
                # cargo before RFC 3289 sent the crates-io token to a replacing source's API
                # (yank, owner); tokens exec hands none where that may happen.
                raise UsageError(
                    f"crates-io is replaced with the source {replaced!r} ({where}): `cargo {sub}` could send a crates.io "
                    "token there, so tokens exec hands none (publish with --registry NAME to that registry's own token, "
                    "or drop the replacement for this job)"
                )
        crate = parsed.last("--package") or (parsed.positionals[0] if sub in ("yank", "owner") and parsed.positionals else None)
        if not crate and sub == "publish":
            manifest = ctx.path(parsed.last("--manifest-path") or "Cargo.toml")
            crate = table(read_toml(manifest), "package").get("name")
            if not isinstance(crate, str) or not crate:
                crate = None
                problem = problem or f"no [package] name in {manifest}"
        return Target(tool="cargo", action=sub, publishes=True, repository=url, source=source, repository_name=name,
                      projects=(crate,) if crate else (), problem=problem, options=frozenset(parsed.options))  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        if target.repository_name:
            return {f"CARGO_REGISTRIES_{_env_name(target.repository_name)}_TOKEN": value}
        return {"CARGO_REGISTRY_TOKEN": value}
