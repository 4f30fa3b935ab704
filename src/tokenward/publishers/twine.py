"""twine (argparse): `twine [--no-color] upload [options] dist...`.

Destination, in twine's order (`settings.py`, `utils.get_repository_from_config`):
`--repository-url` (or an abbreviation of it), else `TWINE_REPOSITORY_URL`; else the
`.pypirc` section named by `-r/--repository` (else `TWINE_REPOSITORY`, else `pypi`) in
`--config-file` (default `~/.pypirc`).
"""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

from tokenward.publishers import _pypirc
from tokenward.publishers._argv import Option, argparse_parse
from tokenward.publishers._dists import expand_files, projects_from_files
from tokenward.publishers.base import BasePublisher, Context, Target, Unsure, check_url, not_publishing

TOP = [Option(("--version",), value=False), Option(("--no-color",), value=False)]
COMMANDS = ("check", "register", "upload")

# twine 7.0 `Settings.register_argparse_arguments`, option for option.
UPLOAD = [
    Option(("-r", "--repository")),
    Option(("--repository-url",)),
    Option(("--attestations",), value=False),
    Option(("-s", "--sign"), value=False),
    Option(("--sign-with",)),
    Option(("-i", "--identity")),
    Option(("-u", "--username")),
    Option(("-p", "--password")),
    Option(("--non-interactive",), value=False),
    Option(("-c", "--comment")),
    Option(("--config-file",)),
    Option(("--skip-existing",), value=False),
    Option(("--cert",)),
    Option(("--client-cert",)),
    Option(("--verbose",), value=False),
    Option(("--disable-progress-bar",), value=False),
]


def _command(args: list[str]) -> tuple[str, list[str]]:
    """twine's top-level parser: its options, then the command, then everything after it."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 1
    top, rest = args[:i], args[i:]
    parsed, _ = argparse_parse("twine", TOP, top, positionals="*")
    if parsed.get("--help") or parsed.get("--version") or not rest:
        return "", []
    return rest[0], rest[1:]


# twine's utils._HOSTNAMES: these exact netlocs are sent over https whatever the URL says.
UPGRADED_HOSTS = {"pypi.python.org", "testpypi.python.org", "upload.pypi.org", "test.pypi.org"}


def normalize_repository_url(url: str) -> str:
    """twine's `utils.normalize_repository_url`: https for the PyPI hosts (exact netloc)."""
    parsed = urlparse(url)
    return urlunparse(("https", *parsed[1:])) if parsed.netloc in UPGRADED_HOSTS else url


class Twine(BasePublisher):
    name = "twine"
    shadowing_options = ("--username", "--password")

    def parse(self, args: list[str], ctx: Context) -> Target:
        command, rest = _command(args)
        if command != "upload":
            if command and command not in COMMANDS and "upload".startswith(command):
                raise Unsure(f"`twine {command}` is not a twine command")
            return not_publishing("twine", command)
        parsed, positionals = argparse_parse("twine upload", UPLOAD, rest, positionals="+")
        if parsed.get("--help"):
            return not_publishing("twine", "upload")
        options = frozenset(k for k, v in parsed.items() if v not in (None, False))
        name = ""
        if parsed.get("--repository-url"):
            url, source = str(parsed["--repository-url"]), "--repository-url"
        elif ctx.env.get("TWINE_REPOSITORY_URL"):
            url, source = ctx.env["TWINE_REPOSITORY_URL"], "TWINE_REPOSITORY_URL"
        else:
            if parsed.get("--repository") is not None:
                name, how = str(parsed["--repository"]), "--repository"
            elif "TWINE_REPOSITORY" in ctx.env:
                name, how = ctx.env["TWINE_REPOSITORY"], "TWINE_REPOSITORY"
            else:
                name, how = "pypi", "default"
            config = parsed.get("--config-file")
            path = ctx.path(str(config) if config else "~/.pypirc").resolve()
            url = _pypirc.twine_repository(path, name, explicit_file=bool(config))
            source = f"[{name}] in {path} ({how})"
        url = check_url(normalize_repository_url(url), f"twine's repository URL (from {source})")
        files = [f for f in expand_files(positionals, ctx) if not f.endswith(".asc")]
        projects, problem = projects_from_files(files)
        return Target(tool="twine", action="upload", publishes=True, repository=url, source=source, repository_name=name,
                      projects=projects, files=tuple(files), problem=problem, options=options)  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": value}
