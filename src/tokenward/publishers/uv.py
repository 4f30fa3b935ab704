"""uv (clap): `uv [global options] publish [options] [files]`; global options may also
follow `publish`. clap never abbreviates long options.

Destination, as uv 0.5-0.9 resolves it (crates/uv/src/lib.rs, crates/uv-settings; each
case checked against the real uv and a recording server in tests/test_publisher_uv.py):
1. `--index NAME` / `UV_PUBLISH_INDEX`: the first `[[index]]` (`[[tool.uv.index]]`) of
   that name in the configuration below, its `publish-url` (uv refuses it together with
   `--publish-url`/`UV_PUBLISH_URL`);
2. else `--publish-url`, else `UV_PUBLISH_URL`, else `publish-url` from the configuration,
   else PyPI.
Configuration: `--config-file`/`UV_CONFIG_FILE` alone if given; else nothing with
`--no-config`/`UV_NO_CONFIG`; else the project's (the nearest `uv.toml`, or
`pyproject.toml` with a `[tool.uv]` table, from the workspace root, else from the project
directory, upwards) over the user's (`$XDG_CONFIG_HOME/uv/uv.toml`) over the system's
(`$XDG_CONFIG_DIRS/uv/uv.toml`, `/etc/uv/uv.toml`). `--directory` (`UV_WORKING_DIR`)
changes directory first; `--project` (`UV_PROJECT`) moves where the project is found.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from tokenward.publishers._argv import Parsed, refuse_unknown, scan
from tokenward.publishers._dists import expand_files, projects_from_files
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing, read_toml, table
from tokenward.tokens import PYPI_UPLOAD

GLOBAL_VALUES = {"--directory", "--project", "--config-file", "--cache-dir", "--color", "--allow-insecure-host",
                 "--python-preference", "--python"}  # fmt: skip
GLOBAL_FLAGS = {"--quiet", "--verbose", "--no-config", "--no-cache", "--offline", "--no-offline", "--native-tls",
                "--no-native-tls", "--system-certs", "--no-system-certs", "--no-progress", "--managed-python",
                "--no-managed-python", "--no-python-downloads", "--allow-python-downloads", "--preview", "--no-preview",
                "--isolated", "--show-settings", "--help", "--version", "--no-color"}  # fmt: skip
PUBLISH_VALUES = {"--index", "--publish-url", "--username", "--password", "--token", "--trusted-publishing",
                  "--keyring-provider", "--check-url"}  # fmt: skip
PUBLISH_FLAGS = {"--dry-run", "--no-attestations", "--skip-existing"}
ALIASES = {"-u": "--username", "-p": "--password", "-t": "--token", "-q": "--quiet", "-v": "--verbose",
           "-n": "--no-cache", "-h": "--help", "-V": "--version"}  # fmt: skip
SYSTEM_FALLBACK = Path("/etc/uv/uv.toml")

TRUE = {"1", "true", "yes", "y", "on", "t"}
FALSE = {"0", "false", "no", "n", "off", "f"}


def _boolish(ctx: Context, var: str) -> bool:
    raw = ctx.env.get(var)
    if raw is None:
        return False
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise Unsure(f"{var}={raw!r} is not a value uv accepts")


@dataclass(frozen=True)
class Settings:
    """One configuration file's publish settings."""

    path: Path
    publish_url: str | None
    indexes: tuple[tuple[str, str | None], ...]  # (name, publish-url)


def _settings(path: Path, data: dict) -> Settings:
    url = data.get("publish-url")
    if url is not None and not isinstance(url, str):
        raise Unsure(f"publish-url in {path} is not a string")
    indexes = []
    for entry in data.get("index") or []:
        if not isinstance(entry, dict):
            raise Unsure(f"an [[index]] in {path} is not a table")
        name, publish = entry.get("name"), entry.get("publish-url")
        if isinstance(name, str):
            indexes.append((name, publish if isinstance(publish, str) else None))
    return Settings(path, url, tuple(indexes))


def _from_directory(directory: Path) -> Settings | None:
    """uv's FilesystemOptions::from_directory: uv.toml first, else a pyproject.toml with [tool.uv]."""
    uv_toml = directory / "uv.toml"
    if uv_toml.is_file():
        return _settings(uv_toml, read_toml(uv_toml))
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        # uv skips a pyproject.toml it cannot parse, but uv's TOML parser accepts files
        # tomllib refuses (TOML 1.1 escapes, a BOM, ...): a file we cannot read may be one
        # uv reads, so read_toml's Unsure stands (exec refuses rather than skip it).
        data = read_toml(pyproject)
        if "uv" in table(data, "tool"):
            return _settings(pyproject, table(data, "tool", "uv"))
    return None


def _find(start: Path) -> Settings | None:
    for directory in (start, *start.parents):
        found = _from_directory(directory)
        if found is not None:
            return found
    return None


def _workspace_root(project_dir: Path) -> Path | None:
    """Where uv's workspace discovery starts the settings search, or None when it finds no project."""
    root = next((d for d in (project_dir, *project_dir.parents) if (d / "pyproject.toml").is_file()), None)
    if root is None:
        return None
    data = read_toml(root / "pyproject.toml")  # unreadable: refused (see _from_directory)
    if "workspace" in table(data, "tool", "uv"):
        return root
    if "project" not in data:
        return None
    for above in root.parents:
        pyproject = above / "pyproject.toml"
        if not pyproject.is_file():
            continue
        outer = read_toml(pyproject)  # uv stops on an unreadable one too
        workspace = table(outer, "tool", "uv", "workspace")
        if "workspace" in table(outer, "tool", "uv"):
            return above if _member(root, above, workspace) else root
        if "project" in outer:
            return root
    return root


def _member(project: Path, root: Path, workspace: dict) -> bool:
    def matches(patterns: object) -> bool:
        if not isinstance(patterns, list):
            return False
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise Unsure(f"a workspace member in {root / 'pyproject.toml'} is not a string")
            if any(Path(p).resolve() == project.resolve() for p in glob.glob(str(root / pattern))):
                return True
        return False

    return matches(workspace.get("members")) and not matches(workspace.get("exclude"))


def _system_config(ctx: Context) -> Path | None:
    dirs = [d for d in ctx.env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":") if d and os.path.isabs(d)]
    for directory in dirs:
        candidate = Path(directory) / "uv" / "uv.toml"
        if candidate.is_file():
            return candidate
    return SYSTEM_FALLBACK if SYSTEM_FALLBACK.is_file() else None


def configuration(glob_opts: Parsed, ctx: Context, project: str | None) -> list[Settings]:
    """The configuration files uv reads for this run, highest precedence first."""
    config_file = glob_opts.last("--config-file") or ctx.env.get("UV_CONFIG_FILE")
    if config_file:
        path = ctx.path(config_file)
        if not path.is_file():
            raise Unsure(f"uv's --config-file {path} does not exist (uv would stop)")
        return [_settings(path, read_toml(path))]
    if glob_opts.has("--no-config") or glob_opts.has("--isolated") or _boolish(ctx, "UV_NO_CONFIG"):
        return []
    project_dir = ctx.absolute(project) if project else ctx.cwd
    start = _workspace_root(project_dir) or project_dir
    found = [_find(start)]
    user = ctx.config_home() / "uv" / "uv.toml"
    found.append(_settings(user, read_toml(user)) if user.is_file() else None)
    system = _system_config(ctx)
    found.append(_settings(system, read_toml(system)) if system else None)
    return [s for s in found if s is not None]


class Uv(BasePublisher):
    name = "uv"
    shadowing_options = ("--username", "--password", "--token")
    shadowing_env = ("UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD")

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, before = split_global(args)
        if sub != "publish":
            return not_publishing("uv", sub)
        parsed = scan(rest, GLOBAL_VALUES | PUBLISH_VALUES, ALIASES, GLOBAL_FLAGS | PUBLISH_FLAGS)
        glob_opts = Parsed({**before.options, **parsed.options}, [], before.unknown + parsed.unknown)
        refuse_unknown("uv", glob_opts)
        if glob_opts.has("--help") or glob_opts.has("--version"):
            return not_publishing("uv", "publish")
        directory = glob_opts.last("--directory") or ctx.env.get("UV_WORKING_DIR")
        if directory:
            ctx = ctx.at(directory)  # uv changes directory: the real path
        project = glob_opts.last("--project") or ctx.env.get("UV_PROJECT")
        if project:
            project = str(ctx.absolute(project))  # uv: std::path::absolute, then normalize_path
        url, source, name = self._destination(glob_opts, ctx, project)
        url = check_url(url, f"uv's publish URL (from {source})")
        files = expand_files(parsed.positionals or ["dist/*"], ctx)
        projects, problem = projects_from_files(files)
        return Target(tool="uv", action="publish", publishes=True, repository=url, source=source, repository_name=name,
                      projects=projects, files=tuple(files), problem=problem, options=frozenset(glob_opts.options))  # fmt: skip

    def _destination(self, opts: Parsed, ctx: Context, project: str | None) -> tuple[str, str, str]:
        index = opts.last("--index")
        index_how = "--index"
        if index is None and "UV_PUBLISH_INDEX" in ctx.env:
            index, index_how = ctx.env["UV_PUBLISH_INDEX"], "UV_PUBLISH_INDEX"
        explicit_url = opts.last("--publish-url")
        env_url = ctx.env.get("UV_PUBLISH_URL")
        if index is not None:
            if explicit_url is not None or env_url is not None:
                raise Unsure("uv refuses --index (UV_PUBLISH_INDEX) together with --publish-url (UV_PUBLISH_URL)")
            for settings in configuration(opts, ctx, project):
                for name, publish_url in settings.indexes:
                    if name == index:
                        if not publish_url:
                            raise Unsure(f"uv index {index!r} in {settings.path} has no publish-url (uv would stop)")
                        return publish_url, f"index {index!r} in {settings.path} ({index_how})", index
            raise Unsure(f"uv {index_how} {index!r}: no index of that name in uv's configuration (uv would stop)")
        if explicit_url is not None:
            return explicit_url, "--publish-url", ""
        if env_url is not None:
            return env_url, "UV_PUBLISH_URL", ""
        for settings in configuration(opts, ctx, project):
            if settings.publish_url is not None:
                return settings.publish_url, f"publish-url in {settings.path}", ""
        return PYPI_UPLOAD, "default", ""

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"UV_PUBLISH_TOKEN": value}


def split_global(args: list[str]) -> tuple[str, list[str], Parsed]:
    """(subcommand, what follows it, the global options before it) with clap's rules."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            break
        name = ALIASES.get(arg, arg.partition("=")[0])
        i += 2 if ("=" not in arg and name in GLOBAL_VALUES) else 1
    before = scan(args[:i], GLOBAL_VALUES, ALIASES, GLOBAL_FLAGS)
    if i >= len(args) or args[i] == "--":
        return "", [], before
    return args[i], args[i + 1 :], before
