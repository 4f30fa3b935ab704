"""Publish tools and their conventions: which repository and projects a command line
uploads to, and which environment variables hand the tool a token.

Parsing reads the command line and the files the tool itself would read (`.pypirc`,
`pyproject.toml`, `package.json`, `Cargo.toml`); it never runs the tool. Nothing here
sees a value except `tool_env`, which only formats the variables.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit, urlunsplit

from tokenward.errors import UsageError
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD, normalize_project

if TYPE_CHECKING:
    import configparser

NPM_REGISTRY = "https://registry.npmjs.org/"
CRATES_IO = "https://crates.io/"
GITHUB = "https://github.com/"

# For a command exec does not recognise, the token's kind decides.
KIND_ENV: dict[str, dict[str, str]] = {
    "pypi": {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "{value}"},
    "testpypi": {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "{value}"},
    "github": {"GH_TOKEN": "{value}", "GITHUB_TOKEN": "{value}"},
    "gitlab": {"GITLAB_TOKEN": "{value}"},
    "npm": {"NODE_AUTH_TOKEN": "{value}", "NPM_TOKEN": "{value}"},
    "crates": {"CARGO_REGISTRY_TOKEN": "{value}"},
    "dockerhub": {"DOCKER_TOKEN": "{value}"},
    "slack": {"SLACK_TOKEN": "{value}"},
    "aws": {"AWS_ACCESS_KEY_ID": "{value}"},
    "generic": {"TOKEN": "{value}"},
}

TOOLS = ("twine", "uv", "poetry", "hatch", "flit", "pdm", "npm", "cargo", "gh")
PYPI_STYLE = ("twine", "uv", "poetry", "hatch", "flit", "pdm")

ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_for_kind(kind: str, value: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The variables to add to the child's environment (a pure function)."""
    templates = dict(overrides) if overrides else dict(KIND_ENV.get(kind, KIND_ENV["generic"]))
    return render_env(templates, value)


def render_env(templates: Mapping[str, str], value: str) -> dict[str, str]:
    return {var: template.replace("{value}", value) for var, template in templates.items()}


def parse_env_templates(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--env VAR=TEMPLATE` options -> {VAR: TEMPLATE}; `{value}` stands for the token."""
    templates: dict[str, str] = {}
    for item in items:
        var, eq, template = item.partition("=")
        if not eq or not ENV_VAR_RE.match(var):
            raise UsageError(f"--env {var or item!r}: use VAR=TEMPLATE, e.g. --env 'MY_TOKEN={{value}}'")
        if var in templates:
            raise UsageError(f"--env {var} is given twice")
        templates[var] = template
    if templates and not any("{value}" in t for t in templates.values()):
        raise UsageError("--env: no template contains {value}, so the command would never get the token")
    return templates


# -- repositories --------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Compare upload URLs loosely: scheme/host case, default ports, one trailing slash."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "https" and port == 443) or (scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") + "/"
    if host in ("upload.pypi.org", "pypi.python.org", "test.pypi.org", "testpypi.python.org"):
        scheme = "https"  # as twine does
    return urlunsplit((scheme, host, path, parts.query, ""))


def is_pypi_server(url: str | None) -> bool:
    """PyPI or TestPyPI themselves: the servers that check macaroon caveats."""
    return bool(url) and normalize_url(url) in (normalize_url(PYPI_UPLOAD), normalize_url(TESTPYPI_UPLOAD))


# -- what a command line targets -----------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a command uploads, and what."""

    tool: str  # one of TOOLS, or "" for a command exec does not know
    action: str = ""  # the subcommand: "upload", "publish", ...
    publishes: bool = False  # the tool's upload (or registry) command, which needs the token
    repository: str | None = None  # URL; None when it cannot be told
    repository_name: str = ""  # as named on the command line (twine -r, cargo --registry)
    projects: tuple[str, ...] = ()  # PEP 503-normalised (npm/cargo/gh: as the tool spells them)
    files: tuple[str, ...] = ()
    problem: str = ""  # why the repository or the projects are unknown
    options: frozenset[str] = field(default_factory=frozenset)  # long options present

    @property
    def command(self) -> str:
        return f"{self.tool} {self.action}".strip() if self.tool else "the command"


@dataclass(frozen=True)
class Context:
    """What parsing may look at besides argv: the parent environment and the file system."""

    env: Mapping[str, str]
    cwd: Path
    home: Path

    @classmethod
    def current(cls, env: Mapping[str, str] | None = None) -> "Context":
        return cls(env=dict(os.environ if env is None else env), cwd=Path.cwd(), home=Path.home())

    def path(self, name: str) -> Path:
        """A path as the tool would read it: `~` is our home, relative is from cwd."""
        if name == "~":
            return self.home
        if name.startswith("~/"):
            return self.home / name[2:]
        path = Path(name)
        return path if path.is_absolute() else self.cwd / path


@dataclass
class Parsed:
    """A command line split into options (by long name) and positionals."""

    options: dict[str, list[str]]
    positionals: list[str]

    def last(self, name: str) -> str | None:
        values = self.options.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.options


def scan(args: list[str], takes_value: set[str], aliases: Mapping[str, str]) -> Parsed:
    """A forgiving getopt: unknown options are flags; `--opt=v`, `-ov`, `-o v` all work."""
    options: dict[str, list[str]] = {}
    positionals: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positionals.extend(args[i + 1 :])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            name = aliases.get(name, name)
            if not eq and name in takes_value:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            options.setdefault(name, []).append(value)
        elif arg.startswith("-") and len(arg) > 1:
            short = aliases.get(arg[:2], arg[:2])
            if short in takes_value:
                if len(arg) > 2:
                    value = arg[2:].lstrip("=")
                else:
                    value = args[i + 1] if i + 1 < len(args) else ""
                    i += 1
                options.setdefault(short, []).append(value)
            else:
                for letter in arg[1:]:
                    options.setdefault(aliases.get("-" + letter, "-" + letter), []).append("")
        else:
            positionals.append(arg)
        i += 1
    return Parsed(options, positionals)


def split_subcommand(args: list[str], global_values: set[str], aliases: Mapping[str, str]) -> tuple[str, list[str], Parsed]:
    """(subcommand, its arguments, the global options before it)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("-"):
            name = aliases.get(arg.partition("=")[0], arg.partition("=")[0])
            if "=" not in arg and name in global_values:
                i += 1
            i += 1
            continue
        return arg, args[i + 1 :], scan(args[:i], global_values, aliases)
    return "", [], scan(args, global_values, aliases)


# -- dist files -> projects ----------------------------------------------------

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")
_GLOB_CHARS = re.compile(r"[*?\[]")


def project_from_filename(filename: str) -> str | None:
    """The PEP 503 name in an sdist or wheel filename, or None for other files."""
    base = os.path.basename(filename)
    if base.endswith(".whl"):
        parts = base[:-4].split("-")
        return normalize_project(parts[0]) if len(parts) >= 5 and parts[0] else None
    for suffix in (".tar.gz", ".zip"):
        if base.endswith(suffix):
            stem = base[: -len(suffix)]
            name, dash, version = stem.rpartition("-")
            return normalize_project(name) if dash and name and version else None
    return None


def expand_files(args: list[str], ctx: Context) -> list[str]:
    """Positional file arguments as the tool would see them: globs and directories expanded."""
    files: list[str] = []
    for arg in args:
        path = ctx.path(arg)
        if path.is_dir():
            files.extend(sorted(str(p) for p in path.iterdir() if p.is_file()))
        elif path.exists():
            files.append(str(path))
        elif _GLOB_CHARS.search(arg):
            import glob

            files.extend(sorted(glob.glob(str(path))))
        else:
            files.append(str(path))  # missing: the tool will complain; the name still tells
    return files


def projects_from_files(files: list[str]) -> tuple[tuple[str, ...], str]:
    """(projects, problem)."""
    dists = [f for f in files if f.endswith(DIST_SUFFIXES)]
    names = {project_from_filename(f) for f in dists}
    if None in names:
        bad = next(f for f in dists if project_from_filename(f) is None)
        return (), f"cannot read a project name from {os.path.basename(bad)}"
    if not names:
        return (), "no sdist or wheel files found" + (f" among {len(files)} files" if files else "")
    return tuple(sorted(n for n in names if n)), ""


def _read_toml(path: Path) -> dict:
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {type(exc).__name__}") from None


def pyproject_name(ctx: Context, directory: Path | None = None) -> str | None:
    data = _read_toml((directory or ctx.cwd) / "pyproject.toml")
    name = data.get("project", {}).get("name") or data.get("tool", {}).get("poetry", {}).get("name")
    if not name:
        name = data.get("tool", {}).get("flit", {}).get("metadata", {}).get("module")
    return normalize_project(name) if isinstance(name, str) and name else None


# -- .pypirc -----------------------------------------------------------------


def read_pypirc(path: Path) -> configparser.RawConfigParser:
    import configparser

    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError):
        raise UsageError(f"cannot read {path}") from None
    except configparser.Error:
        # configparser quotes the offending line, which may hold a password.
        raise UsageError(f"{path} is not a valid .pypirc (INI) file") from None
    return parser


def pypirc_repository(path: Path, name: str, *, default_exists: bool) -> str:
    """The URL of a `.pypirc` section, as twine reads it (pypi/testpypi built in)."""
    parser = read_pypirc(path)
    servers = parser.get("distutils", "index-servers", fallback="pypi testpypi").split()
    if parser.has_option(name, "repository") and name in servers:
        return parser.get(name, "repository")
    if name == "pypi":
        return PYPI_UPLOAD
    if name == "testpypi" and "testpypi" in servers:
        return TESTPYPI_UPLOAD
    where = path if path.exists() or not default_exists else f"{path} (absent)"
    raise UsageError(f"repository {name!r} is not a section with a repository URL in {where}")


# -- one parser per tool ---------------------------------------------------------


def _twine(args: list[str], ctx: Context) -> Target:
    sub, rest, _ = split_subcommand(args, set(), {})
    if sub != "upload":
        return Target("twine", sub)
    aliases = {"-r": "--repository", "-u": "--username", "-p": "--password", "-c": "--comment", "-i": "--identity", "-s": "--sign"}
    values = {"--repository", "--repository-url", "--username", "--password", "--comment", "--identity", "--sign-with",
              "--config-file", "--cert", "--client-cert"}  # fmt: skip
    parsed = scan(rest, values, aliases)
    url = parsed.last("--repository-url") or ctx.env.get("TWINE_REPOSITORY_URL")
    name = ""
    if not url:
        name = parsed.last("--repository") or ctx.env.get("TWINE_REPOSITORY") or "pypi"
        config = parsed.last("--config-file") or "~/.pypirc"
        url = pypirc_repository(ctx.path(config), name, default_exists=not parsed.has("--config-file"))
    files = expand_files(parsed.positionals, ctx)
    files = [f for f in files if not f.endswith(".asc")]
    projects, problem = projects_from_files(files)
    return Target("twine", "upload", True, url, name, projects, tuple(files), problem, frozenset(parsed.options))


_UV_GLOBAL = {"--directory", "--project", "--config-file", "--cache-dir", "--python-preference", "--color",
              "--allow-insecure-host", "--python"}  # fmt: skip


def _uv_index_url(ctx: Context, name: str) -> str:
    data = _read_toml(ctx.cwd / "pyproject.toml")
    for index in data.get("tool", {}).get("uv", {}).get("index", []) or []:
        if isinstance(index, dict) and index.get("name") == name:
            if index.get("publish-url"):
                return index["publish-url"]
            raise UsageError(f"uv index {name!r} in pyproject.toml has no publish-url")
    raise UsageError(f"uv --index {name!r}: no [[tool.uv.index]] with that name in {ctx.cwd / 'pyproject.toml'}")


def _uv(args: list[str], ctx: Context) -> Target:
    sub, rest, glob_opts = split_subcommand(args, _UV_GLOBAL, {})
    if sub != "publish":
        return Target("uv", sub)
    directory = glob_opts.last("--directory")
    if directory:
        ctx = Context(ctx.env, ctx.path(directory), ctx.home)
    aliases = {"-u": "--username", "-p": "--password", "-t": "--token"}
    values = {"--index", "--publish-url", "--username", "--password", "--token", "--trusted-publishing",
              "--keyring-provider", "--check-url", "--cache-dir", "--directory", "--project", "--config-file",
              "--python-preference", "--color", "--allow-insecure-host"}  # fmt: skip
    parsed = scan(rest, values, aliases)
    if parsed.last("--directory"):
        ctx = Context(ctx.env, ctx.path(parsed.last("--directory") or "."), ctx.home)
    url = parsed.last("--publish-url")
    name = ""
    if not url:
        name = parsed.last("--index") or ctx.env.get("UV_PUBLISH_INDEX", "")
        url = _uv_index_url(ctx, name) if name else (ctx.env.get("UV_PUBLISH_URL") or PYPI_UPLOAD)
    files = expand_files(parsed.positionals or ["dist/*"], ctx)
    projects, problem = projects_from_files(files)
    return Target("uv", "publish", True, url, name, projects, tuple(files), problem, frozenset(parsed.options))


def _poetry_repo_env(name: str) -> str:
    return re.sub(r"[.\-]", "_", name).upper()


def _poetry(args: list[str], ctx: Context) -> Target:
    values = {"--directory", "-C", "--project", "-P"}
    sub, rest, glob_opts = split_subcommand(args, values, {"-C": "--directory", "-P": "--project"})
    if sub != "publish":
        return Target("poetry", sub)
    parsed = scan(rest, {"--repository", "--username", "--password", "--cert", "--client-cert", "--dist-dir",
                         "--directory", "--project"},
                  {"-r": "--repository", "-u": "--username", "-p": "--password", "-C": "--directory", "-P": "--project"})  # fmt: skip
    directory = parsed.last("--directory") or parsed.last("--project") or glob_opts.last("--directory") or glob_opts.last("--project")
    if directory:
        ctx = Context(ctx.env, ctx.path(directory), ctx.home)
    name = parsed.last("--repository") or ""
    problem = ""
    if not name or name == "pypi":
        url: str | None = PYPI_UPLOAD
        name = name or ""
    else:
        url = ctx.env.get(f"POETRY_REPOSITORIES_{_poetry_repo_env(name)}_URL")
        if not url:
            for config in (ctx.cwd / "poetry.toml", ctx.home / ".config" / "pypoetry" / "config.toml"):
                url = _read_toml(config).get("repositories", {}).get(name, {}).get("url")
                if url:
                    break
        if not url:
            problem = f"poetry repository {name!r} has no URL in POETRY_REPOSITORIES_{_poetry_repo_env(name)}_URL, poetry.toml or poetry's config.toml"
    dist_dir = parsed.last("--dist-dir") or "dist"
    files = expand_files([dist_dir], ctx) if ctx.path(dist_dir).is_dir() else []
    project = pyproject_name(ctx)
    projects: tuple[str, ...] = (project,) if project else ()
    if not projects:
        projects, problem2 = projects_from_files(files)
        problem = problem or problem2
    return Target("poetry", "publish", True, url, name, projects, tuple(files), problem, frozenset(parsed.options))


def _hatch(args: list[str], ctx: Context) -> Target:
    global_values = {"--env", "--project", "--data-dir", "--cache-dir", "--config", "--color"}
    global_aliases = {"-e": "--env", "-p": "--project"}
    sub, rest, _ = split_subcommand(args, global_values, global_aliases)
    if sub != "publish":
        return Target("hatch", sub)
    aliases = {"-r": "--repo", "-u": "--user", "-a": "--auth", "-p": "--publisher", "-o": "--option", "-y": "--yes"}
    parsed = scan(rest, {"--repo", "--user", "--auth", "--ca-cert", "--client-cert", "--client-key", "--publisher", "--option"}, aliases)
    repo = parsed.last("--repo") or ctx.env.get("HATCH_INDEX_REPO") or "main"
    name = ""
    problem = ""
    url: str | None
    if "://" in repo:
        url = repo
    elif repo == "main":
        url, name = PYPI_UPLOAD, "main"
    elif repo == "test":
        url, name = TESTPYPI_UPLOAD, "test"
    else:
        name = repo
        url = None
        config_dir = Path(ctx.env.get("XDG_CONFIG_HOME") or ctx.home / ".config") / "hatch" / "config.toml"
        repos = _read_toml(config_dir).get("publish", {}).get("index", {}).get("repos", {})
        entry = repos.get(repo)
        url = entry.get("url") if isinstance(entry, dict) else entry if isinstance(entry, str) else None
        if not url:
            problem = f"hatch repository {repo!r} is not in {config_dir}"
    files = expand_files(parsed.positionals or ["dist"], ctx)
    projects, problem2 = projects_from_files(files)
    return Target("hatch", "publish", True, url, name, projects, tuple(files), problem or problem2, frozenset(parsed.options))


def _flit(args: list[str], ctx: Context) -> Target:
    sub, rest, glob_opts = split_subcommand(args, {"--ini-file"}, {"-f": "--ini-file"})
    if sub != "publish":
        return Target("flit", sub)
    parsed = scan(rest, {"--repository", "--pypirc", "--format", "--ini-file", "--setup-py"}, {"-f": "--ini-file"})
    ini = parsed.last("--ini-file") or glob_opts.last("--ini-file")
    project_dir = ctx.path(ini).parent if ini else ctx.cwd
    name = parsed.last("--repository") or ""
    if name:
        url = pypirc_repository(ctx.path(parsed.last("--pypirc") or "~/.pypirc"), name, default_exists=True)
    else:
        url = ctx.env.get("FLIT_INDEX_URL") or PYPI_UPLOAD
    project = pyproject_name(ctx, project_dir)
    projects = (project,) if project else ()
    problem = "" if project else f"no project name in {project_dir / 'pyproject.toml'}"
    return Target("flit", "publish", True, url, name, projects, (), problem, frozenset(parsed.options))


def _pdm(args: list[str], ctx: Context) -> Target:
    sub, rest, glob_opts = split_subcommand(args, {"--config", "--project"}, {"-c": "--config", "-p": "--project"})
    if sub != "publish":
        return Target("pdm", sub)
    aliases = {"-r": "--repository", "-u": "--username", "-P": "--password", "-d": "--dest", "-i": "--identity", "-c": "--comment",
               "-S": "--sign", "-p": "--project"}  # fmt: skip
    parsed = scan(rest, {"--repository", "--username", "--password", "--dest", "--identity", "--comment", "--ca-certs",
                         "--project", "--cert", "--client-cert"}, aliases)  # fmt: skip
    directory = parsed.last("--project") or glob_opts.last("--project")
    if directory:
        ctx = Context(ctx.env, ctx.path(directory), ctx.home)
    repo = parsed.last("--repository") or ctx.env.get("PDM_PUBLISH_REPO") or "pypi"
    name, problem = "", ""
    url: str | None
    if "://" in repo:
        url = repo
    elif repo == "pypi":
        url, name = PYPI_UPLOAD, "pypi"
    elif repo == "testpypi":
        url, name = TESTPYPI_UPLOAD, "testpypi"
    else:
        name, url = repo, None
        for config in (ctx.cwd / "pdm.toml", Path(ctx.env.get("XDG_CONFIG_HOME") or ctx.home / ".config") / "pdm" / "config.toml"):
            url = _read_toml(config).get("repository", {}).get(repo, {}).get("url")
            if url:
                break
        if not url:
            problem = f"pdm repository {repo!r} is not in pdm.toml or pdm's config.toml"
    files = expand_files([parsed.last("--dest") or "dist"], ctx) if parsed.has("--no-build") else []
    project = pyproject_name(ctx)
    projects: tuple[str, ...] = (project,) if project else ()
    if not projects:
        projects, problem2 = projects_from_files(files)
        problem = problem or problem2
    return Target("pdm", "publish", True, url, name, projects, tuple(files), problem, frozenset(parsed.options))


NPM_AUTH_COMMANDS = {"publish", "unpublish", "dist-tag", "deprecate", "access", "owner", "whoami", "token", "team", "org",
                     "install", "i", "ci", "view", "info", "pack", "update", "add"}  # fmt: skip


def _npm_package_name(path: Path) -> str | None:
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


def _npm(args: list[str], ctx: Context) -> Target:
    sub, rest, _ = split_subcommand(args, {"--registry", "--userconfig", "--prefix"}, {"-C": "--prefix"})
    parsed = scan(rest, {"--registry", "--tag", "--access", "--otp", "--userconfig", "--workspace", "--prefix"}, {"-w": "--workspace"})
    registry = (
        parsed.last("--registry")
        or ctx.env.get("NPM_CONFIG_REGISTRY")
        or ctx.env.get("npm_config_registry")
    )
    problem = ""
    projects: tuple[str, ...] = ()
    if sub == "publish":
        where = ctx.path(parsed.positionals[0]) if parsed.positionals else ctx.cwd
        name = _npm_package_name(where)
        if name:
            projects = (name,)
            if not registry and where.is_dir():
                try:
                    data = json.loads((where / "package.json").read_text(encoding="utf-8"))
                    registry = (data.get("publishConfig") or {}).get("registry")
                except (OSError, ValueError, AttributeError):
                    pass
        else:
            problem = f"no package name in {where}"
    else:
        problem = f"`npm {sub}` names no package"
    publishes = sub in NPM_AUTH_COMMANDS
    return Target("npm", sub, publishes, registry or NPM_REGISTRY, "", projects, (), problem, frozenset(parsed.options))


def _cargo_registry_url(ctx: Context, name: str) -> str | None:
    env_name = name.upper().replace("-", "_")
    url = ctx.env.get(f"CARGO_REGISTRIES_{env_name}_INDEX")
    if url:
        return url
    directory = ctx.cwd
    candidates = [d / ".cargo" / "config.toml" for d in (directory, *directory.parents)]
    candidates.append(Path(ctx.env.get("CARGO_HOME") or ctx.home / ".cargo") / "config.toml")
    for config in candidates:
        entry = _read_toml(config).get("registries", {}).get(name)
        if isinstance(entry, dict) and entry.get("index"):
            return str(entry["index"])
    return None


def _cargo(args: list[str], ctx: Context) -> Target:
    sub, rest, _ = split_subcommand(args, {"--config", "-Z", "--color"}, {})
    if sub not in ("publish", "yank", "owner", "login", "logout"):
        return Target("cargo", sub)
    parsed = scan(rest, {"--registry", "--index", "--package", "--manifest-path", "--token", "--features", "--target",
                         "--target-dir", "--jobs", "--vers", "--version", "--add", "--remove", "--color", "--config"},
                  {"-p": "--package", "-j": "--jobs", "-F": "--features", "-a": "--add", "-r": "--remove"})  # fmt: skip
    name = parsed.last("--registry") or ctx.env.get("CARGO_REGISTRY_DEFAULT", "")
    problem = ""
    url: str | None
    if parsed.last("--index"):
        url = parsed.last("--index")
    elif name and name != "crates-io":
        url = _cargo_registry_url(ctx, name)
        if not url:
            problem = f"cargo registry {name!r} has no index in CARGO_REGISTRIES_*_INDEX or .cargo/config.toml"
    else:
        url, name = CRATES_IO, ""
    crate = parsed.last("--package") or (parsed.positionals[0] if sub in ("yank", "owner") and parsed.positionals else None)
    if not crate and sub == "publish":
        manifest = ctx.path(parsed.last("--manifest-path") or "Cargo.toml")
        crate = _read_toml(manifest).get("package", {}).get("name")
        if not crate:
            problem = problem or f"no [package] name in {manifest}"
    projects = (crate,) if crate else ()
    return Target("cargo", sub, True, url, name, projects, (), problem, frozenset(parsed.options))


def _gh(args: list[str], ctx: Context) -> Target:
    sub, rest, _ = split_subcommand(args, {"--repo", "--hostname"}, {"-R": "--repo"})
    parsed = scan(rest, {"--repo", "--hostname"}, {"-R": "--repo"})
    host = parsed.last("--hostname") or ctx.env.get("GH_HOST") or "github.com"
    repo = parsed.last("--repo") or ""
    if repo.count("/") == 2:  # HOST/OWNER/REPO
        host, _, repo = repo.partition("/")
    projects = (repo.lower(),) if repo else ()
    problem = "" if repo else "no --repo OWNER/REPO on the command line"
    return Target("gh", sub, True, f"https://{host}/", host if host != "github.com" else "", projects, (), problem, frozenset(parsed.options))


PARSERS = {"twine": _twine, "uv": _uv, "poetry": _poetry, "hatch": _hatch, "flit": _flit, "pdm": _pdm, "npm": _npm, "cargo": _cargo, "gh": _gh}


def unwrap(argv: list[str]) -> tuple[str, list[str]]:
    """(tool, its arguments), seeing through `python -m twine`, `uvx twine`, `pipx run twine`."""
    if not argv:
        return "", []
    program = os.path.basename(argv[0])
    args = list(argv[1:])
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program) and len(args) >= 2 and args[0] == "-m":
        return unwrap([args[1], *args[2:]])
    if program == "uvx" and args:
        return unwrap(_skip_runner_options(args))
    if program in ("uv", "pipx") and args[:2] in (["tool", "run"], ["run", "--"]):
        return unwrap(_skip_runner_options(args[2:]))
    if program == "pipx" and args[:1] == ["run"]:
        return unwrap(_skip_runner_options(args[1:]))
    return program, args


def _skip_runner_options(args: list[str]) -> list[str]:
    values = {"--from", "--with", "--python", "-p", "--spec", "--index-url", "--pip-args"}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in values else 1
    return args[i:]


def parse_command(argv: list[str], ctx: Context | None = None) -> Target:
    """Where this command line uploads, and what (reads the files the tool reads)."""
    ctx = ctx or Context.current()
    tool, args = unwrap(argv)
    parser = PARSERS.get(tool)
    if parser is None:
        return Target("")
    return parser(args, ctx)


# -- the variables each tool reads ---------------------------------------------


def tool_env(target: Target, value: str) -> dict[str, str]:
    """The variables that hand `target.tool` the token, exactly as the tool reads them."""
    tool = target.tool
    if tool == "twine":
        return {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": value}
    if tool == "uv":
        return {"UV_PUBLISH_TOKEN": value}
    if tool == "poetry":
        return {f"POETRY_PYPI_TOKEN_{_poetry_repo_env(target.repository_name or 'pypi')}": value}
    if tool == "hatch":
        return {"HATCH_INDEX_USER": "__token__", "HATCH_INDEX_AUTH": value}
    if tool == "flit":
        return {"FLIT_USERNAME": "__token__", "FLIT_PASSWORD": value}
    if tool == "pdm":
        return {"PDM_PUBLISH_USERNAME": "__token__", "PDM_PUBLISH_PASSWORD": value}
    if tool == "cargo":
        if target.repository_name:
            return {f"CARGO_REGISTRIES_{target.repository_name.upper().replace('-', '_')}_TOKEN": value}
        return {"CARGO_REGISTRY_TOKEN": value}
    if tool == "gh":
        return {"GH_ENTERPRISE_TOKEN" if target.repository_name else "GH_TOKEN": value}
    if tool == "npm":
        return {"NODE_AUTH_TOKEN": value}
    raise ValueError(f"no variables known for {tool!r}")


def npm_userconfig(registry: str, existing: str = "") -> str:
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


# Variables or options that beat the ones we set, per tool.
SHADOWING_ENV: dict[str, tuple[str, ...]] = {
    "uv": ("UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD"),
    "twine": (),
    "npm": ("NPM_CONFIG__AUTHTOKEN", "npm_config__authToken", "NPM_CONFIG__AUTH", "npm_config__auth"),
    "pdm": (),
    "hatch": (),
    "flit": (),
    "cargo": (),
    "gh": (),
}
SHADOWING_OPTIONS: dict[str, tuple[str, ...]] = {
    "twine": ("--username", "--password"),
    "uv": ("--username", "--password", "--token"),
    "poetry": ("--username", "--password"),
    "hatch": ("--user", "--auth"),
    "pdm": ("--username", "--password"),
    "cargo": ("--token",),
}


def shadowing(target: Target, parent: Mapping[str, str], ctx: Context | None = None) -> list[str]:
    """Warnings for settings the tool would prefer to the token we hand it."""
    warnings = []
    for option in SHADOWING_OPTIONS.get(target.tool, ()):
        if option in target.options:
            warnings.append(f"{target.command} is given {option} on its command line, which beats the token tokens exec provides")
    for var in SHADOWING_ENV.get(target.tool, ()):
        if parent.get(var):
            warnings.append(f"{var} is set in your environment and conflicts with the token tokens exec provides")
    if target.tool == "poetry":
        repo = _poetry_repo_env(target.repository_name or "pypi")
        for var in (f"POETRY_HTTP_BASIC_{repo}_USERNAME", f"POETRY_HTTP_BASIC_{repo}_PASSWORD"):
            if parent.get(var):
                warnings.append(f"{var} is set in your environment; poetry may use it instead of the token")
    if target.tool == "npm" and target.repository and ctx is not None:
        project_rc = ctx.cwd / ".npmrc"
        try:
            text = project_rc.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if re.search(r"_(authToken|auth)\s*=", text):
            warnings.append(f"{project_rc} sets an auth token, which beats the one tokens exec provides")
    return warnings
