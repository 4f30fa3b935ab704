"""poetry (cleo: exact long options): `poetry [-C DIR | -P DIR] publish [-r NAME] ...`.

Destination (poetry 2's Publisher; each case checked against the real poetry): no `-r` ->
PyPI; `-r NAME` -> `repositories.NAME.url` from `POETRY_REPOSITORIES_<NAME>_URL` (names
without a dot only), else the project's `poetry.toml`, else the user's `config.toml`
(`$POETRY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/pypoetry`), else a `[[tool.poetry.source]]`
of that name in pyproject.toml (poetry uploads to its url, token and all); `-r pypi` is
PyPI unless one of those redefines it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from tokenward.publishers._argv import refuse_unknown, scan, split_subcommand
from tokenward.publishers._dists import expand_files, project_root, projects_from_files, pyproject_name
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing, read_toml, table
from tokenward.tokens import PYPI_UPLOAD

GLOBAL_VALUES = {"--directory", "--project"}
GLOBAL_ALIASES = {"-C": "--directory", "-P": "--project"}
VALUES = {"--repository", "--username", "--password", "--cert", "--client-cert", "--dist-dir", "--directory", "--project"}
FLAGS = {"--build", "--skip-existing", "--dry-run", "--no-interaction", "--quiet", "--verbose", "--ansi", "--no-ansi",
         "--no-plugins", "--no-cache", "--help", "--version"}  # fmt: skip
ALIASES = {"-r": "--repository", "-u": "--username", "-p": "--password", "-C": "--directory", "-P": "--project",
           "-n": "--no-interaction", "-q": "--quiet", "-v": "--verbose", "-h": "--help", "-V": "--version"}  # fmt: skip


def repo_env(name: str) -> str:
    return re.sub(r"[.\-]", "_", name).upper()


def config_dir(ctx: Context) -> Path:
    explicit = ctx.env.get("POETRY_CONFIG_DIR")
    return Path(explicit) if explicit else ctx.config_home() / "pypoetry"


class Poetry(BasePublisher):
    name = "poetry"
    shadowing_options = ("--username", "--password")

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, glob_opts = split_subcommand(args, GLOBAL_VALUES, GLOBAL_ALIASES)
        if sub != "publish":
            if sub and "publish".startswith(sub):
                raise Unsure(f"`poetry {sub}` may abbreviate publish")
            return not_publishing("poetry", sub)
        parsed = scan(rest, VALUES, ALIASES, FLAGS)
        refuse_unknown("poetry", parsed)
        if parsed.has("--help"):
            return not_publishing("poetry", "publish")
        directory = parsed.last("--directory") or glob_opts.last("--directory")
        project = parsed.last("--project") or glob_opts.last("--project")
        if directory:
            ctx = ctx.at(directory)
        root = project_root(ctx.real(project) if project else ctx.cwd)  # poetry: Path.resolve()
        name = parsed.last("--repository") or ""
        url, source = self._url(name, ctx, root)
        url = check_url(url, f"poetry's repository URL (from {source})")
        dist_dir = root / (parsed.last("--dist-dir") or "dist")
        files = expand_files([str(dist_dir)], ctx) if dist_dir.is_dir() else []
        project_name = pyproject_name(root)
        projects: tuple[str, ...] = (project_name,) if project_name else ()
        problem = ""
        if not projects:
            projects, problem = projects_from_files(files)
        return Target(tool="poetry", action="publish", publishes=True, repository=url, source=source, repository_name=name,
                      projects=projects, files=tuple(files), problem=problem, options=frozenset(parsed.options))  # fmt: skip

    def _url(self, name: str, ctx: Context, root: Path) -> tuple[str, str]:
        if not name:
            return PYPI_UPLOAD, "default"
        var = f"POETRY_REPOSITORIES_{repo_env(name)}_URL"
        if ctx.env.get(var) and "." not in name:
            return ctx.env[var], var
        for config in (root / "poetry.toml", config_dir(ctx) / "config.toml"):
            url = table(read_toml(config), "repositories", name).get("url")
            if url is not None:
                if not isinstance(url, str):
                    raise Unsure(f"repositories.{name}.url in {config} is not a string")
                return url, f"repositories.{name} in {config}"
        pyproject = root / "pyproject.toml"
        sources = table(read_toml(pyproject), "tool", "poetry").get("source") or []
        for source in sources if isinstance(sources, list) else []:
            if isinstance(source, dict) and source.get("name") == name:
                if not isinstance(source.get("url"), str):
                    raise Unsure(f"the poetry source {name!r} in {pyproject} has no url")
                return source["url"], f"[[tool.poetry.source]] {name!r} in {pyproject}"
        if name == "pypi":
            return PYPI_UPLOAD, "-r pypi"
        raise Unsure(f"poetry repository {name!r} has no URL in {var}, poetry.toml or {config_dir(ctx) / 'config.toml'}")

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {f"POETRY_PYPI_TOKEN_{repo_env(target.repository_name or 'pypi')}": value}

    def shadowing(self, target: Target, parent: Mapping[str, str], ctx: Context) -> list[str]:
        warnings = super().shadowing(target, parent, ctx)
        repo = repo_env(target.repository_name or "pypi")
        for var in (f"POETRY_HTTP_BASIC_{repo}_USERNAME", f"POETRY_HTTP_BASIC_{repo}_PASSWORD"):
            if parent.get(var):
                warnings.append(f"{var} is set in your environment; poetry may use it instead of the token")
        return warnings
