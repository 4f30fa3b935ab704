"""pdm (argparse): `pdm [-c CONFIG] publish [-r NAME_OR_URL] ...`.

Destination (pdm's `Config.get_repository_config`): `-r/--repository`, else
`PDM_PUBLISH_REPO`, else `pypi`. A URL is used as given; a name is read from the global
config's `[repository.NAME]` (`-c/--config`, else `PDM_CONFIG_FILE`, else
`$XDG_CONFIG_HOME/pdm/config.toml`), which may redefine the built-in `pypi` and
`testpypi`. A project `pdm.toml` that defines the repository differently is refused.
"""

from __future__ import annotations

from pathlib import Path

from tokenward.publishers._argv import Option, argparse_parse, split_subcommand
from tokenward.publishers._dists import expand_files, project_root, projects_from_files, pyproject_name
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing, read_toml, table
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD

BUILT_IN = {"pypi": PYPI_UPLOAD, "testpypi": TESTPYPI_UPLOAD}
PUBLISH = [Option(("-r", "--repository")), Option(("-u", "--username")), Option(("-P", "--password")),
           Option(("-S", "--sign"), value=False), Option(("-i", "--identity")), Option(("-c", "--comment")),
           Option(("--no-build",), value=False), Option(("--ca-certs",)),
           Option(("--skip-existing",), value=False), Option(("-d", "--dest")), Option(("-p", "--project")),
           Option(("-v", "--verbose"), value=False), Option(("-q", "--quiet"), value=False), Option(("-g", "--global"), value=False),
           Option(("--cert",)), Option(("--client-cert",)), Option(("--no-verify-ssl",), value=False)]  # fmt: skip


class Pdm(BasePublisher):
    name = "pdm"
    shadowing_options = ("--username", "--password")

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, glob_opts = split_subcommand(args, {"--config", "--project"}, {"-c": "--config", "-p": "--project"})
        if sub != "publish":
            return not_publishing("pdm", sub)
        parsed, _ = argparse_parse("pdm publish", PUBLISH, rest, positionals="*")
        if parsed.get("--help"):
            return not_publishing("pdm", "publish")
        directory = parsed.get("--project") or glob_opts.last("--project")
        root = project_root(ctx.real(str(directory)) if directory else ctx.cwd)
        repo = str(parsed.get("--repository") or ctx.env.get("PDM_PUBLISH_REPO") or "pypi")
        global_config = Path(glob_opts.last("--config") or ctx.env.get("PDM_CONFIG_FILE") or ctx.config_home() / "pdm" / "config.toml")
        name = ""
        if "://" in repo:
            url, source = repo, "--repository" if parsed.get("--repository") else "PDM_PUBLISH_REPO"
        else:
            name = repo
            configured = table(read_toml(ctx.path(str(global_config))), "repository", repo).get("url")
            project_url = table(read_toml(root / "pdm.toml"), "repository", repo).get("url")
            url = configured or BUILT_IN.get(repo)
            if project_url is not None and project_url != url:
                raise Unsure(f"{root / 'pdm.toml'} defines repository {repo!r}, which pdm may or may not use")
            if not isinstance(url, str):
                raise Unsure(f"pdm repository {repo!r} is not in {global_config}")
            source = f"repository.{repo} in {global_config}" if configured else "default"
        url = check_url(url, f"pdm's repository URL (from {source})")
        files = expand_files([str(parsed.get("--dest") or root / "dist")], ctx) if parsed.get("--no-build") else []
        project = pyproject_name(root)
        projects: tuple[str, ...] = (project,) if project else ()
        problem = ""
        if not projects:
            projects, problem = projects_from_files(files)
        options = frozenset(k for k, v in parsed.items() if v not in (None, False))
        return Target(tool="pdm", action="publish", publishes=True, repository=url, source=source, repository_name=name,
                      projects=projects, files=tuple(files), problem=problem, options=options)  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"PDM_PUBLISH_USERNAME": "__token__", "PDM_PUBLISH_PASSWORD": value}
