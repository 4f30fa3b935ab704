"""Dist files and project files -> the projects a command uploads."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from tokenward.publishers.base import Context, read_toml, table
from tokenward.tokens import normalize_project

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


def project_root(start: Path) -> Path:
    """The nearest directory from `start` up holding a pyproject.toml (else `start`)."""
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return start


def pyproject_name(directory: Path) -> str | None:
    data = read_toml(directory / "pyproject.toml")
    name = table(data, "project").get("name") or table(data, "tool", "poetry").get("name")
    if not name:
        name = table(data, "tool", "flit", "metadata").get("module")
    return normalize_project(name) if isinstance(name, str) and name else None
