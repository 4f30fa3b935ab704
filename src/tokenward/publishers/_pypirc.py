"""`.pypirc` as twine and flit read it (they differ: see each function)."""

from __future__ import annotations

import configparser
from pathlib import Path

from tokenward.publishers.base import Unsure
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD


def read_pypirc(path: Path) -> configparser.RawConfigParser | None:
    """The parsed file, None when absent; Unsure when the tool could not read it either."""
    parser = configparser.RawConfigParser()
    try:
        # As twine and flit read it (`RawConfigParser.read`): text mode, so universal
        # newlines (a lone CR ends a line too), and a BOM is not stripped (configparser
        # then finds no section header, and the tools stop: so do we).
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, str(path))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError):
        raise Unsure(f"cannot read {path}") from None
    except configparser.Error:
        # configparser quotes the offending line, which may hold a password.
        raise Unsure(f"{path} is not a valid .pypirc (INI) file") from None
    return parser


def twine_repository(path: Path, name: str, *, explicit_file: bool) -> str:
    """twine's `utils.get_config`: pypi always, testpypi unless index-servers leaves it
    out, other sections only when listed in index-servers."""
    parser = read_pypirc(path)
    if parser is None:
        if explicit_file:
            raise Unsure(f"the config file {path} does not exist (twine would stop)")
        parser = configparser.RawConfigParser()
    servers = parser.get("distutils", "index-servers", fallback="pypi testpypi").split()
    if name in servers and parser.has_option(name, "repository"):
        return parser.get(name, "repository")
    if name == "pypi":
        return PYPI_UPLOAD
    if name == "testpypi" and "testpypi" in servers:
        return TESTPYPI_UPLOAD
    raise Unsure(f"repository {name!r} is not a section with a repository URL in {path}")


def flit_repository(path: Path, name: str | None) -> str | None:
    """flit's `upload.get_repositories`: sections named in index-servers (default: only
    `pypi`), each with `repository` defaulting to PyPI; None when `name` is not there."""
    parser = read_pypirc(path)
    if parser is None:
        return PYPI_UPLOAD if name in (None, "pypi") else None
    servers = parser.get("distutils", "index-servers", fallback="pypi").split()
    wanted = name or "pypi"
    if wanted not in servers:
        return PYPI_UPLOAD if name is None else None
    return parser.get(wanted, "repository", fallback=PYPI_UPLOAD)
