"""npm: `npm publish [FOLDER|TARBALL] [--registry URL] ...`.

The registry, as npm 11 picks it (@npmcli/config layers, `npm publish`, npm-registry-fetch's
pickRegistry; each case checked against the real npm in tests/test_publisher_npm.py): the
command line (`--registry`, `--@scope:registry`), else the package's `publishConfig`, else
`npm_config_*` variables (any case), else the project's `.npmrc`, the user's (`--userconfig`,
`npm_config_userconfig`, `~/.npmrc`), the global one and npm's built-in one; for a scoped
package `@scope:registry` wins over `registry` wherever it is set. `.npmrc` values expand
`${VAR}`. npm also takes unique prefixes of option names (`--reg` is `--registry`): a prefix
of an option that moves the registry is refused.

The token never goes anywhere else: exec writes a temporary userconfig whose only auth
line is `//<that registry>/:_authToken=${NODE_AUTH_TOKEN}` (npm sends a token only to the
registry its key names), and the file names the variable, never the value.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import urlsplit

from tokenward.paths import FILE_MODE
from tokenward.publishers._argv import scan, split_subcommand
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url

NPM_REGISTRY = "https://registry.npmjs.org/"
AUTH_COMMANDS = {"publish", "unpublish", "dist-tag", "deprecate", "access", "owner", "whoami", "token", "team", "org",
                 "install", "i", "ci", "view", "info", "pack", "update", "add"}  # fmt: skip


def package_json(path: Path) -> dict:
    """package.json of a folder, or of a tarball's package/; {} when unreadable."""
    import tarfile

    try:
        if path.is_dir():
            data = json.loads(_strip_bom((path / "package.json").read_text(encoding="utf-8")))
        elif path.name.endswith((".tgz", ".tar.gz")):
            with tarfile.open(path) as archive:
                member = archive.extractfile("package/package.json")
                data = json.loads(_strip_bom(member.read().decode("utf-8"))) if member else {}
        else:
            return {}
    except (FileNotFoundError, NotADirectoryError, KeyError):
        return {}
    except (OSError, ValueError, tarfile.TarError):
        # npm may read what we cannot (its publishConfig may move the registry): refuse.
        raise Unsure(f"cannot read the package.json of {path}") from None
    return data if isinstance(data, dict) else {}


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text  # as npm's JSON parser does


def _project_root(start: Path, ctx: Context) -> Path:
    """npm's localPrefix: the nearest directory holding package.json or node_modules."""
    start = ctx.path(str(start))
    for directory in (start, *start.parents):
        if (directory / "package.json").exists() or (directory / "node_modules").is_dir():
            return directory
    return start


def _expand(value: str, ctx: Context, path: Path) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in ctx.env:
            raise Unsure(f"{path} uses ${{{name}}}, which is not set (npm would stop)")
        return ctx.env[name]

    return re.sub(r"(?<!\\)\$\{([^}]+)\}", replace, value)


def _npmrc(path: Path, ctx: Context) -> dict[str, str]:
    """The settings of an .npmrc (ini, `${VAR}` expanded, keys lower-cased); {} when absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError):
        raise Unsure(f"cannot read {path}") from None
    if text.startswith("\ufeff"):
        raise Unsure(f"{path} starts with a byte order mark; tokens exec cannot tell how npm reads it")
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip().lower(), value.strip().strip("\"'")
        if eq:
            found[key] = _expand(value, ctx, path)
    return found


def _global_configs(ctx: Context, cli: dict[str, str], env: dict[str, str]) -> list[Path]:
    """The global npmrc and npm's built-in npmrc (which may move the global one)."""
    npm = shutil.which("npm", path=ctx.env.get("PATH"))
    builtin = Path(npm).resolve().parent.parent / "npmrc" if npm else None
    settings = _npmrc(builtin, ctx) if builtin else {}
    node = shutil.which("node", path=ctx.env.get("PATH"))
    prefix = env.get("prefix") or settings.get("prefix") or (str(Path(node).resolve().parent.parent) if node else "")
    explicit = cli.get("globalconfig") or env.get("globalconfig") or settings.get("globalconfig")
    paths = [ctx.path(explicit)] if explicit else [Path(prefix) / "etc" / "npmrc"] if prefix else []
    return paths + ([builtin] if builtin else [])


def package_name(path: Path) -> str | None:
    name = package_json(path).get("name")
    return name if isinstance(name, str) and name else None


def userconfig(registry: str, existing: str = "") -> str:
    """A userconfig that reads the token from ${NODE_AUTH_TOKEN}: the file never holds it.

    The user's own settings are kept, except an auth line for the same registry."""
    parts = urlsplit(registry if "://" in registry else f"https://{registry}")
    key = f"//{parts.netloc}{parts.path.rstrip('/')}/:"
    kept = [
        line
        for line in existing.splitlines()
        if not (line.strip().startswith(key) and re.search(r":_(authToken|auth|password)\s*=", line))
    ]
    kept.append(f"{key}_authToken=${{NODE_AUTH_TOKEN}}")
    return "\n".join(kept) + "\n"


class Npm(BasePublisher):
    name = "npm"
    shadowing_env = ("NPM_CONFIG__AUTHTOKEN", "npm_config__authToken", "NPM_CONFIG__AUTH", "npm_config__auth")

    def parse(self, args: list[str], ctx: Context) -> Target:
        values = {"--registry", "--userconfig", "--globalconfig", "--prefix", "--tag", "--access", "--otp", "--workspace", "--cache"}
        sub, rest, before = split_subcommand(args, values, {"-C": "--prefix", "-w": "--workspace"})
        parsed = scan(rest, values, {"-C": "--prefix", "-w": "--workspace"})
        options = {**before.options, **parsed.options}
        for name in options:
            for moving in ("--registry", "--userconfig", "--globalconfig", "--prefix"):
                if name != moving and len(name) > 2 and moving.startswith(name):
                    raise Unsure(f"npm reads {name} as an abbreviation, perhaps of {moving}")
        if sub != "publish":
            registry = self._config(ctx, options, None, {})
            url, source = registry or (NPM_REGISTRY, "default")
            return Target(tool="npm", action=sub, publishes=sub in AUTH_COMMANDS, repository=url, source=source,
                          problem=f"`npm {sub}` names no package", options=frozenset(options))  # fmt: skip
        where = ctx.path(parsed.positionals[0]) if parsed.positionals else ctx.cwd
        manifest = package_json(where)
        name = manifest.get("name") if isinstance(manifest.get("name"), str) else None
        publish_config = manifest.get("publishConfig") if where.is_dir() else None
        found = self._config(ctx, options, name, publish_config if isinstance(publish_config, dict) else {})
        url, source = found or (NPM_REGISTRY, "default")
        url = check_url(url, f"npm's registry (from {source})")
        return Target(tool="npm", action="publish", publishes=True, repository=url, source=source,
                      projects=(name,) if name else (), problem="" if name else f"no package name in {where}",
                      options=frozenset(options))  # fmt: skip

    def _config(self, ctx: Context, options: dict[str, list[str]], package: str | None, publish_config: dict) -> tuple[str, str] | None:
        """(registry, where it was set) from npm's layers, highest first; None: npm's default."""
        keys = ["registry"]
        if package and package.startswith("@") and "/" in package:
            keys.insert(0, package.split("/", 1)[0].lower() + ":registry")
        cli = {name[2:]: values[-1] for name, values in options.items() if name.startswith("--") and values}
        env = {k[len("npm_config_"):].lower(): v for k, v in ctx.env.items() if k.lower().startswith("npm_config_")}
        prefix = cli.get("prefix") or env.get("prefix")
        # npm takes an explicit prefix as the project root (node's path.resolve: `..` removed
        # textually, no search upwards); else it searches up from the cwd.
        root = ctx.absolute(prefix) if prefix else _project_root(ctx.cwd, ctx)
        user = ctx.path(cli.get("userconfig") or env.get("userconfig") or "~/.npmrc")
        layers: list[tuple[str, dict[str, str]]] = [
            ("the command line", cli),
            ("publishConfig", {k: v for k, v in publish_config.items() if k not in cli and isinstance(v, str)}),
            ("npm_config_* variables", env),
            (str(root / ".npmrc"), _npmrc(root / ".npmrc", ctx)),
            (str(user), _npmrc(user, ctx)),
        ]
        for path in _global_configs(ctx, cli, env):
            layers.append((str(path), _npmrc(path, ctx)))
        for key in keys:  # a scoped registry set anywhere beats a plain one set anywhere
            for where, layer in layers:
                if layer.get(key):
                    return layer[key], f"{key} in {where}" if where != "the command line" else f"--{key}"
        return None

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"NODE_AUTH_TOKEN": value}

    def shadowing(self, target: Target, parent: Mapping[str, str], ctx: Context) -> list[str]:
        warnings = super().shadowing(target, parent, ctx)
        project_rc = ctx.cwd / ".npmrc"
        try:
            text = project_rc.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if re.search(r"_(authToken|auth)\s*=", text):
            warnings.append(f"{project_rc} sets an auth token, which beats the one tokens exec provides")
        return warnings

    @contextmanager
    def prepare(self, target: Target, env: dict[str, str]) -> Iterator[None]:
        """A 0600 userconfig in a 0700 directory; it names ${NODE_AUTH_TOKEN}, never the value."""
        if "NODE_AUTH_TOKEN" not in env or not target.repository:
            yield
            return
        existing_path = env.get("NPM_CONFIG_USERCONFIG") or env.get("npm_config_userconfig") or str(Path(env.get("HOME") or Path.home()) / ".npmrc")
        try:
            existing = Path(existing_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            existing = ""
        directory = tempfile.mkdtemp(prefix="tokenward-npm-")
        try:
            path = os.path.join(directory, "npmrc")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(userconfig(target.repository, existing))
            env.pop("npm_config_userconfig", None)
            env["NPM_CONFIG_USERCONFIG"] = path
            yield
        finally:
            shutil.rmtree(directory, ignore_errors=True)
