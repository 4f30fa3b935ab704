"""What every publish tool module shares: the Target a command line resolves to, the
Context parsing may look at, the Publisher protocol, and URL comparison.

A tool module never guesses: when it cannot tell where its tool would send the token,
it raises Unsure with the reason, and `tokens exec` refuses (unless --token names one).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Mapping, Protocol

from tokenward.plain import Plain
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD


class Unsure(Exception):
    """The destination cannot be told with certainty; the message says why (no secrets)."""


class Target(Plain):
    """Where a command uploads, and what."""

    __slots__ = (
        "tool", "action", "publishes", "repository", "source", "repository_name", "projects", "files", "problem", "options",
    )  # fmt: skip

    def __init__(
        self,
        *,
        tool: str = "",
        action: str = "",
        publishes: bool = False,
        repository: str | None = None,
        source: str = "",
        repository_name: str = "",
        projects: tuple[str, ...] = (),
        files: tuple[str, ...] = (),
        problem: str = "",
        options: frozenset[str] = frozenset(),
    ) -> None:
        self.tool = tool  # a PUBLISHERS name, or "" for a command exec does not know
        self.action = action  # the subcommand: "upload", "publish", ...
        self.publishes = publishes  # the tool's upload (or registry) command, which needs the token
        self.repository = repository  # URL; None when it cannot be told
        self.source = source  # where `repository` came from: an option, a variable, a file, or "default"
        self.repository_name = repository_name  # as named on the command line (twine -r, cargo --registry)
        self.projects = projects  # PEP 503-normalised (npm/cargo/gh: as the tool spells them)
        self.files = files
        self.problem = problem  # why the repository or the projects are unknown
        self.options = options  # long options present

    @property
    def command(self) -> str:
        return f"{self.tool} {self.action}".strip() if self.tool else "the command"


class Context(Plain):
    """What parsing may look at besides argv: the parent environment and the file system."""

    __slots__ = ("env", "cwd", "home")

    def __init__(self, env: Mapping[str, str], cwd: Path, home: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.home = home

    @classmethod
    def current(cls, env: Mapping[str, str] | None = None) -> "Context":
        env = dict(os.environ if env is None else env)
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
        return cls(env=env, cwd=Path.cwd(), home=home)

    def path(self, name: str) -> Path:
        """A path as the tool would read it: `~` is our home, relative is from cwd."""
        if name == "~":
            return self.home
        if name.startswith("~/"):
            return self.home / name[2:]
        path = Path(name)
        return path if path.is_absolute() else self.cwd / path

    def at(self, directory: str | Path) -> "Context":
        """After the tool changes directory (`--directory`, `-C`): the kernel resolves `..` and
        links, so the new cwd (and every parent the tool walks from it) is the real path."""
        return Context(self.env, Path(os.path.realpath(self.path(str(directory)))), self.home)

    def real(self, name: str | Path) -> Path:
        """A directory a tool walks upwards from, as the tool resolves it (`Path.resolve()`)."""
        return Path(os.path.realpath(self.path(str(name))))

    def absolute(self, name: str | Path) -> Path:
        """`..` removed textually (`os.path.abspath`, uv's `normalize_path`), links kept."""
        return Path(os.path.abspath(self.path(str(name))))

    def config_home(self) -> Path:
        """$XDG_CONFIG_HOME when absolute, else ~/.config (as platformdirs and uv read it)."""
        xdg = self.env.get("XDG_CONFIG_HOME", "")
        return Path(xdg) if xdg and os.path.isabs(xdg) else self.home / ".config"


class Publisher(Protocol):
    name: str

    def parse(self, args: list[str], ctx: Context) -> Target:
        """Where `args` (the tool's arguments) upload; raises Unsure when it cannot be told."""

    def env(self, target: Target, value: str) -> dict[str, str]:
        """The variables that hand the tool the token, exactly as the tool reads them."""

    def shadowing(self, target: Target, parent: Mapping[str, str], ctx: Context) -> list[str]:
        """Warnings for settings the tool would prefer to the token we hand it."""

    def prepare(self, target: Target, env: dict[str, str]) -> AbstractContextManager[None]:
        """Set up what the child needs besides variables (npm: a userconfig), for its lifetime."""


class BasePublisher:
    """Defaults for the protocol: options and variables that beat ours are warned about."""

    name = ""
    shadowing_options: tuple[str, ...] = ()
    shadowing_env: tuple[str, ...] = ()

    def shadowing(self, target: Target, parent: Mapping[str, str], ctx: Context) -> list[str]:
        warnings = [
            f"{target.command} is given {option} on its command line, which beats the token tokens exec provides"
            for option in self.shadowing_options
            if option in target.options
        ]
        warnings += [
            f"{var} is set in your environment and conflicts with the token tokens exec provides"
            for var in self.shadowing_env
            if parent.get(var)
        ]
        return warnings

    def prepare(self, target: Target, env: dict[str, str]) -> AbstractContextManager[None]:
        return nullcontext()


def not_publishing(tool: str, action: str) -> Target:
    return Target(tool=tool, action=action)


# -- URLs ----------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Compare upload URLs loosely: scheme/host case, default ports, one trailing slash
    (never http against https)."""
    url = url.strip()
    if not url:
        return ""
    from urllib.parse import urlsplit, urlunsplit  # not at import: `exec` of a command no tool module knows

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "https" and port == 443) or (scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") + "/"
    # The scheme is part of the destination: http://upload.pypi.org is not PyPI's upload
    # URL (uv and others send the token there in clear text). twine's own upgrade to https
    # is applied where twine applies it (twine.py).
    return urlunsplit((scheme, host, path, parts.query, ""))


def is_pypi_server(url: str | None) -> bool:
    """PyPI or TestPyPI themselves: the servers that check macaroon caveats."""
    return bool(url) and normalize_url(url) in (normalize_url(PYPI_UPLOAD), normalize_url(TESTPYPI_UPLOAD))


def check_url(url: str, where: str) -> str:
    """An upload URL from a tool's config: http(s) with a host, else Unsure."""
    url = url.strip(" ")
    if any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in url):
        raise Unsure(f"{where} contains spaces or control characters")
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise Unsure(f"{where} is not an http(s) URL")
    return url


def read_toml(path: Path) -> dict:
    """A TOML file the tool reads; {} when absent; Unsure when we cannot read it. Never
    skipped: the tool's parser may accept what tomllib refuses (uv's reads TOML 1.1: `\\e`,
    `\\x41`, times without seconds, multi-line inline tables; a BOM)."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Unsure(f"cannot read {path} as TOML ({type(exc).__name__}), and the tool may read it") from None
    return data


def table(data: object, *keys: str) -> dict:
    """data[k1][k2]... as a dict, {} when absent or not a table."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}

