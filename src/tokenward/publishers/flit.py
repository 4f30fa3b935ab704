"""flit (argparse): `flit [--repository NAME] publish [--repository NAME] [--pypirc FILE] ...`.

Destination (flit's `upload.get_repository`): `--repository NAME` -> that `.pypirc`
section (flit refuses it together with `FLIT_INDEX_URL`); else `FLIT_INDEX_URL`; else
the `.pypirc` section `pypi`; else PyPI. flit reads only the sections `index-servers`
names (default: `pypi`), each `repository` defaulting to PyPI.
"""

from __future__ import annotations

from tokenward.publishers import _pypirc
from tokenward.publishers._argv import Option, argparse_parse
from tokenward.publishers._dists import project_root, pyproject_name
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing

TOP = [Option(("--debug",), value=False), Option(("--logo",), value=False), Option(("--version",), value=False),
       Option(("--repository",)), Option(("-f", "--ini-file"))]  # fmt: skip
PUBLISH = [Option(("--repository",)), Option(("--pypirc",)), Option(("--format",)), Option(("-f", "--ini-file")),
           Option(("--setup-py",), value=False), Option(("--no-setup-py",), value=False),
           Option(("--use-vcs",), value=False), Option(("--no-use-vcs",), value=False)]  # fmt: skip


class Flit(BasePublisher):
    name = "flit"

    def parse(self, args: list[str], ctx: Context) -> Target:
        i = 0
        top_values = {"--repository", "--ini-file", "-f"}
        while i < len(args) and args[i].startswith("-"):
            i += 2 if args[i] in top_values else 1
        top, _ = argparse_parse("flit", TOP, args[:i])
        sub, rest = (args[i], args[i + 1 :]) if i < len(args) else ("", [])
        if sub != "publish":
            return not_publishing("flit", sub)
        parsed, _ = argparse_parse("flit publish", PUBLISH, rest, positionals="*")
        if parsed.get("--help") or top.get("--help"):
            return not_publishing("flit", "publish")
        name = parsed.get("--repository") or top.get("--repository")
        pypirc = ctx.path(str(parsed.get("--pypirc") or "~/.pypirc"))
        if name:
            if "FLIT_INDEX_URL" in ctx.env:
                raise Unsure("flit refuses --repository together with FLIT_INDEX_URL")
            url = _pypirc.flit_repository(pypirc, str(name))
            if url is None:
                raise Unsure(f"repository {name!r} is not in {pypirc} (flit would stop)")
            source = f"[{name}] in {pypirc}"
        elif "FLIT_INDEX_URL" in ctx.env:
            url, source = ctx.env["FLIT_INDEX_URL"], "FLIT_INDEX_URL"
        else:
            url, source = _pypirc.flit_repository(pypirc, None) or "", f"[pypi] in {pypirc}, else PyPI"
        url = check_url(url, f"flit's repository URL (from {source})")
        ini = parsed.get("--ini-file") or top.get("--ini-file")
        root = ctx.path(str(ini)).parent if ini else project_root(ctx.cwd)
        project = pyproject_name(root)
        projects = (project,) if project else ()
        problem = "" if project else f"no project name in {root / 'pyproject.toml'}"
        options = frozenset(k for k, v in parsed.items() if v not in (None, False))
        return Target(tool="flit", action="publish", publishes=True, repository=url, source=source, repository_name=str(name or ""),
                      projects=projects, problem=problem, options=options)  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"FLIT_USERNAME": "__token__", "FLIT_PASSWORD": value}
