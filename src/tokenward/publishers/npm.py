"""npm: `npm publish [FOLDER|TARBALL] [--registry URL] ...`.

Destination: `--registry`, else `NPM_CONFIG_REGISTRY`/`npm_config_registry`, else the
package's `publishConfig.registry`, else the npm default. The token never goes
anywhere else: exec writes a temporary userconfig whose only auth line is
`//<that registry>/:_authToken=${NODE_AUTH_TOKEN}`, so npm sends it to that registry
alone, and the file names the variable, never the value.
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
from tokenward.publishers.base import BasePublisher, Context, Target

NPM_REGISTRY = "https://registry.npmjs.org/"
AUTH_COMMANDS = {"publish", "unpublish", "dist-tag", "deprecate", "access", "owner", "whoami", "token", "team", "org",
                 "install", "i", "ci", "view", "info", "pack", "update", "add"}  # fmt: skip


def package_name(path: Path) -> str | None:
    import tarfile

    try:
        if path.is_dir():
            data = json.loads((path / "package.json").read_text(encoding="utf-8"))
        elif path.name.endswith((".tgz", ".tar.gz")):
            with tarfile.open(path) as archive:
                member = archive.extractfile("package/package.json")
                data = json.loads(member.read().decode("utf-8")) if member else {}
        else:
            return None
    except (OSError, ValueError, KeyError, tarfile.TarError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
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
        sub, rest, _ = split_subcommand(args, {"--registry", "--userconfig", "--prefix"}, {"-C": "--prefix"})
        parsed = scan(rest, {"--registry", "--tag", "--access", "--otp", "--userconfig", "--workspace", "--prefix"}, {"-w": "--workspace"})
        registry, source = parsed.last("--registry"), "--registry"
        if not registry:
            for var in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
                if ctx.env.get(var):
                    registry, source = ctx.env[var], var
                    break
        problem = ""
        projects: tuple[str, ...] = ()
        if sub == "publish":
            where = ctx.path(parsed.positionals[0]) if parsed.positionals else ctx.cwd
            name = package_name(where)
            if name:
                projects = (name,)
                if not registry and where.is_dir():
                    try:
                        data = json.loads((where / "package.json").read_text(encoding="utf-8"))
                        registry, source = (data.get("publishConfig") or {}).get("registry"), "publishConfig.registry"
                    except (OSError, ValueError, AttributeError):
                        pass
            else:
                problem = f"no package name in {where}"
        else:
            problem = f"`npm {sub}` names no package"
        if not isinstance(registry, str) or not registry:
            registry, source = NPM_REGISTRY, "default"
        return Target(tool="npm", action=sub, publishes=sub in AUTH_COMMANDS, repository=registry, source=source,
                      projects=projects, problem=problem, options=frozenset(parsed.options))  # fmt: skip

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
