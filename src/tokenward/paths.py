"""Where tokenward keeps its config and data, and the permissions it keeps them at."""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP_NAME = "tokenward"
DIR_MODE = 0o700
FILE_MODE = 0o600


def config_path(explicit: str | None) -> tuple[Path, bool]:
    """The config file to read and whether the user named it (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("TOKENS_CONFIG")
    if env:
        return Path(env).expanduser(), True
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml", False


def data_dir() -> Path:
    env = os.environ.get("TOKENS_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def ensure_private_dir(path: Path) -> Path:
    """Create the directory 0700 (and tighten it if it exists looser)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make sure an existing file is 0600."""
    try:
        if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND):
    """Open a file that is created 0600 from the first byte (no chmod race)."""
    fd = os.open(path, flags, FILE_MODE)
    private_file(path)
    return fd
