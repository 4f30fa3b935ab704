"""hatch (click: exact long options): `hatch [--config FILE] publish [-r REPO] ...`.

Destination (hatch's index publisher): `-r/--repo`, else `HATCH_INDEX_REPO`, else the
config's `publish.index.repo`, else `main`; `main` and `test` are always PyPI and TestPyPI (hatch
1.14 ignores a `repos.main` in its config); another name is looked up in
`publish.index.repos`; anything else must be a URL. The project's
`[tool.hatch.publish.index]` is not read by hatch for the repository. Config: `--config`, else
`HATCH_CONFIG`, else `$XDG_CONFIG_HOME/hatch/config.toml`. Publisher options (`-o`) and
other publishers (`-p`) are refused: exec cannot tell what they change.
"""

from __future__ import annotations

from pathlib import Path

from tokenward.publishers._argv import refuse_unknown, scan, split_subcommand
from tokenward.publishers._dists import expand_files, projects_from_files
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing, read_toml, table
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

GLOBAL_VALUES = {"--env", "--project", "--data-dir", "--cache-dir", "--config", "--color"}
GLOBAL_ALIASES = {"-e": "--env", "-p": "--project"}
VALUES = {"--repo", "--user", "--auth", "--ca-cert", "--client-cert", "--client-key", "--publisher", "--option"}
FLAGS = {"--no-prompt", "--initialize-auth", "--yes", "--help"}
ALIASES = {"-r": "--repo", "-u": "--user", "-a": "--auth", "-p": "--publisher", "-o": "--option", "-y": "--yes", "-h": "--help"}
BUILT_IN = {"main": PYPI_UPLOAD, "test": TESTPYPI_UPLOAD}


class Hatch(BasePublisher):
    name = "hatch"
    shadowing_options = ("--user", "--auth")

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, glob_opts = split_subcommand(args, GLOBAL_VALUES, GLOBAL_ALIASES)
        if sub != "publish":
            return not_publishing("hatch", sub)
        parsed = scan(rest, VALUES, ALIASES, FLAGS)
        refuse_unknown("hatch", parsed)
        if parsed.has("--help"):
            return not_publishing("hatch", "publish")
        for option in ("--option", "--publisher"):
            if parsed.has(option):
                raise Unsure(f"hatch publish {option} may change where it uploads")
        config_path = Path(glob_opts.last("--config") or ctx.env.get("HATCH_CONFIG") or ctx.config_home() / "hatch" / "config.toml")
        index = table(read_toml(ctx.path(str(config_path))), "publish", "index")
        if parsed.last("--repo"):
            repo, how = str(parsed.last("--repo")), "--repo"
        elif ctx.env.get("HATCH_INDEX_REPO"):
            repo, how = ctx.env["HATCH_INDEX_REPO"], "HATCH_INDEX_REPO"
        elif isinstance(index.get("repo"), str):
            repo, how = index["repo"], f"publish.index.repo in {config_path}"
        else:
            repo, how = "main", "default"
        repos = index.get("repos", {})
        entry = repos.get(repo) if isinstance(repos, dict) else None
        name = ""
        if repo in BUILT_IN:
            url, name, source = BUILT_IN[repo], repo, how
        elif entry is not None:
            url = entry.get("url") if isinstance(entry, dict) else entry
            if not isinstance(url, str):
                raise Unsure(f"hatch repository {repo!r} in {config_path} has no url")
            name, source = repo, f"publish.index.repos.{repo} in {config_path} ({how})"
        elif "://" in repo:
            url, source = repo, how
        else:
            raise Unsure(f"hatch repository {repo!r} is not in {config_path}")
        url = check_url(url, f"hatch's repository URL (from {source})")
        files = expand_files(parsed.positionals or ["dist"], ctx)
        projects, problem = projects_from_files(files)
        return Target(tool="hatch", action="publish", publishes=True, repository=url, source=source, repository_name=name,
                      projects=projects, files=tuple(files), problem=problem, options=frozenset(parsed.options))  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"HATCH_INDEX_USER": "__token__", "HATCH_INDEX_AUTH": value}
