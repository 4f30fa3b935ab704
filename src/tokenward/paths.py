"""Where tokenward keeps its config and data, and the checks before it trusts them.

The data dir is trusted the way OpenSSH trusts `~/.ssh` (misc.c `safe_path`): a file
another user can change or replace would let them plant an inventory (its env templates
run in `tokens exec`) or read what we write. So, before use:

- the data dir is a directory (symlinks resolved), owned by us and writable by nobody
  else; the files we open in it (inventory, audit log, ...) are regular files, not
  symlinks, owned by us and writable by nobody else;
- every existing ancestor of the data dir is owned by us or root, and writable by nobody
  else, except (a) a sticky directory such as /tmp, where others cannot rename or remove
  our entry, and (b) "harmless group-writability" as Debian's OpenSSH allows it: the group
  is the owner's own primary group and lists no other member (user-private groups, umask 002).

Anything else is refused with one line naming the path and the fix; we never chmod a
directory or file that is not ours. Our own data dir and files are tightened to 0700 /
0600 when they are merely readable by others (best effort: a read-only file system just
keeps them as they are), and missing directories are created 0700 whatever the umask.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from pathlib import Path

from tokenward.errors import LocalDataError, UnsafeDataDir

APP_NAME = "tokenward"
DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH

_trusted: set[tuple] = set()  # directories already checked by this process


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


def _who(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


who = _who  # the name other modules' messages use


def _private_group(st: os.stat_result) -> bool:
    """Debian OpenSSH's "harmless group-writability": the group is the owner's own."""
    try:
        owner = pwd.getpwuid(st.st_uid)
        group = grp.getgrgid(st.st_gid)
    except KeyError:
        return False
    return owner.pw_gid == st.st_gid and set(group.gr_mem) <= {owner.pw_name}


def _writable_by_others(st: os.stat_result) -> bool:
    if not st.st_mode & _OTHERS_WRITE:
        return False
    if st.st_mode & stat.S_IWOTH:
        return True
    return not _private_group(st)


_DATA_FIX = "set TOKENS_HOME to a directory under your own home"


def _check_ancestor(path: Path, st: os.stat_result, uid: int, what: str = "data dir parent", target: str = "the data dir",
                    fix: str = _DATA_FIX, sticky_ok: bool = True) -> None:  # fmt: skip
    if st.st_uid not in (uid, 0):
        raise UnsafeDataDir(f"{what} {path} belongs to {_who(st.st_uid)}, who could replace {target}: {fix}")
    if _writable_by_others(st) and not (sticky_ok and st.st_mode & stat.S_ISVTX):
        raise UnsafeDataDir(
            f"{what} {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}), who could "
            f"replace {target}: chmod go-w {path}, or {fix}"
        )


def _check_ancestors(start: Path, uid: int, what: str = "data dir parent", target: str = "the data dir",
                     fix: str = _DATA_FIX) -> None:  # fmt: skip
    for parent in [start, *start.parents]:
        _check_ancestor(parent, os.stat(parent), uid, what, target, fix)


def _check_own_dir(path: Path, st: os.stat_result, uid: int) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDataDir(f"data dir {path} is not a directory: point TOKENS_HOME at a directory")
    if st.st_uid != uid:
        raise UnsafeDataDir(
            f"data dir {path} belongs to {_who(st.st_uid)}, not to you ({_who(uid)}): "
            "set TOKENS_HOME to a directory of your own (it is created 0700)"
        )
    if _writable_by_others(st):
        raise UnsafeDataDir(
            f"data dir {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}): check that every "
            f"file in it is yours, then chmod 700 {path}"
        )


def _mkdir_private(path: Path) -> None:
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return  # created meanwhile (by us, or checked below like any existing one)
    os.chmod(path, DIR_MODE)  # ours, just made: exactly 0700 whatever the umask


def ensure_private_dir(path: Path) -> Path:
    """Check (and create 0700, parents included) a directory we keep data in.

    Returns the resolved path; raises UnsafeDataDir when it is not ours to trust."""
    path = Path(os.path.abspath(path))
    uid = os.geteuid()
    try:
        resolved = resolve_checked(path, "data dir")  # no link of another user on the way
        try:
            st = os.stat(resolved)
        except FileNotFoundError:
            missing = [resolved]
            while not missing[-1].parent.exists():
                missing.append(missing[-1].parent)
            _check_ancestors(missing[-1].parent, uid)
            for directory in reversed(missing):
                _mkdir_private(directory)
            st = os.stat(resolved)
        except NotADirectoryError:
            raise UnsafeDataDir(f"{path}: a parent of it is not a directory; point TOKENS_HOME at a directory") from None
        key = (st.st_dev, st.st_ino, st.st_mode, st.st_uid, str(resolved))
        if key in _trusted:
            return resolved
        _check_own_dir(resolved, st, uid)
        _check_ancestors(resolved.parent, uid)
    except PermissionError as exc:
        raise UnsafeDataDir(f"cannot use the data dir {path}: {exc.strerror} ({exc.filename})") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        _best_effort_chmod(resolved, DIR_MODE)
    _trusted.add(key)
    return resolved


def _best_effort_chmod(path: Path | int, mode: int) -> None:
    try:
        if isinstance(path, int):
            os.fchmod(path, mode)
        else:
            os.chmod(path, mode, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EPERM, errno.EACCES):
            raise


def _read_only(path: Path) -> bool:
    """Whether `path` is on a file system mounted read-only (access() says "not writable"
    for it without an errno to tell)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def not_writable(path: Path, exc: OSError) -> LocalDataError:
    """The clear error for a data file or directory we may not write."""
    try:
        mode = f" (mode {stat.S_IMODE(os.stat(path).st_mode):o})"
    except OSError:
        mode = ""
    if exc.errno == errno.EROFS or _read_only(path):  # a mode change would not help
        return LocalDataError(f"{path} is on a read-only file system")
    return LocalDataError(f"{path} is not writable{mode}: chmod u+w {path}")


def check_private_file(path: Path, st: os.stat_result | None = None) -> os.stat_result | None:
    """Refuse a data file that is a symlink, not ours or writable by others; tighten it
    to 0600 when it is only readable by others. None when it does not exist."""
    if st is None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise UnsafeDataDir(f"{path} is not a regular file (a symlink or other): move it away")
    uid = os.geteuid()
    if st.st_uid != uid:
        raise UnsafeDataDir(f"{path} belongs to {_who(st.st_uid)}, not to you ({_who(uid)}): move it away")
    if st.st_mode & _OTHERS_WRITE:
        raise UnsafeDataDir(
            f"{path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}): check it, then chmod 600 {path}"
        )
    return st


def private_file(path: Path) -> Path:
    """Check an existing data file and take away read access from others (never add any)."""
    st = check_private_file(path)
    if st is not None and stat.S_IMODE(st.st_mode) & 0o077:
        _best_effort_chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """Open a data file: created 0600 from the first byte (no chmod race), never through
    a symlink, and refused when another user owns it or may write it."""
    try:  # O_NONBLOCK: opening a FIFO never waits for its other end (fstat below refuses it)
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeDataDir(f"{path} is a symlink: move it away") from None
        if exc.errno == errno.ENXIO:  # a FIFO without a reader, a socket
            raise UnsafeDataDir(f"{path} is not a regular file (a symlink or other): move it away") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise not_writable(path, exc) from None
        raise
    try:
        st = check_private_file(path, os.fstat(fd))
        os.set_blocking(fd, True)
        if stat.S_IMODE(st.st_mode) & 0o077:
            _best_effort_chmod(fd, stat.S_IMODE(st.st_mode) & 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


# A config file is read whole; one larger than this is not a config (or is /dev/zero).
MAX_CONFIG_BYTES = 1 << 20
_MAX_LINKS = 40  # as the kernel's own limit on a path's symbolic links
CONFIG_FIX = "keep the config in a directory of your own (e.g. ~/.config/tokenward)"


def resolve_checked(path: Path, subject: str) -> Path:
    """`path` with its symbolic links resolved, one component at a time, refusing a link
    that belongs to anyone but us or root (its owner could point it anywhere, any time).
    A missing tail is kept as written, as `Path.resolve()` does."""
    uid = os.geteuid()
    pending = list((path if path.is_absolute() else Path.cwd() / path).parts[1:])  # '..' kept: it applies after a link
    current = Path("/")
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            return Path(os.path.normpath(candidate.joinpath(*pending)))
        except NotADirectoryError:
            raise UnsafeDataDir(f"{subject} {path}: {current} is not a directory") from None
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        if st.st_uid not in (uid, 0):
            raise UnsafeDataDir(
                f"{subject} {path}: the symbolic link {candidate} belongs to {_who(st.st_uid)}, who could point "
                "it anywhere; refusing to follow it"
            )
        hops += 1
        if hops > _MAX_LINKS:
            raise UnsafeDataDir(f"{subject} {path}: too many levels of symbolic links")
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = Path("/")
        pending[:0] = [part for part in target.parts if part != "/"]
    return current


def check_file_place(path: Path, subject: str, fix: str) -> Path:
    """Check where a file we read or replace lives, as OpenSSH checks ~/.ssh: no link on
    the way that another user owns; its directory owned by us or root and writable by
    nobody else (not even with the sticky bit: they could plant the file first); every
    directory above that likewise, sticky ones like /tmp allowed. Returns the resolved
    path; FileNotFoundError when its directory does not exist."""
    uid = os.geteuid()
    resolved = resolve_checked(path, subject)
    st = os.stat(resolved.parent)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDataDir(f"{subject} {path}: {resolved.parent} is not a directory")
    what = f"{subject} {path}: directory"
    _check_ancestor(resolved.parent, st, uid, what, "it", fix, sticky_ok=False)
    if resolved.parent != resolved.parent.parent:
        _check_ancestors(resolved.parent.parent, uid, what, "it", fix)
    return resolved


def read_at_most(fd: int, limit: int) -> bytes | None:
    """The whole content of an open file, or None when it holds more than `limit` bytes
    (reads at most limit + 1 bytes, so /dev/zero or a growing file cannot exhaust memory)."""
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 16, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def read_trusted_file(path: Path, subject: str = "config file", fix: str = CONFIG_FIX,
                      limit: int = MAX_CONFIG_BYTES) -> bytes | None:  # fmt: skip
    """The bytes of a file whose contents we act on (the config chooses commands to run
    and where tokens are sent), or None when it does not exist. Refused unless it and its
    directory chain pass `check_file_place`, it is a regular file (never a FIFO or a
    device: those would block or never end) owned by us or root, writable by nobody else
    (a user-private group aside), and at most `limit` bytes. Never blocks."""
    try:
        resolved = check_file_place(path, subject, fix)
    except FileNotFoundError:
        return None
    uid = os.geteuid()
    try:
        if not stat.S_ISREG(os.stat(resolved).st_mode):  # never open a device: opening may act
            raise UnsafeDataDir(f"{subject} {path} is not a regular file")
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a link since the check
            raise UnsafeDataDir(f"{subject} {path} changed while being checked: try again") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeDataDir(f"{subject} {path} is not a regular file")
        if st.st_uid not in (uid, 0):
            raise UnsafeDataDir(f"{subject} {path} belongs to {_who(st.st_uid)}, not to you ({_who(uid)}): {fix}")
        if _writable_by_others(st):
            raise UnsafeDataDir(
                f"{subject} {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}): check it, "
                f"then chmod go-w {resolved}"
            )
        data = read_at_most(fd, limit)
        if data is None:
            raise UnsafeDataDir(f"{subject} {path} is larger than {limit // 1024} KiB: not a config file")
        return data
    finally:
        os.close(fd)


def chain_problem(path: Path) -> str | None:
    """Why another user could replace the file at `path`, or None: every directory met while
    resolving it (its own, their parents, the directories holding each link) must be yours or
    root's and writable by nobody else (sticky directories excepted, as for the data dir), and
    every link yours or root's. The same rule as the data dir's, for files we rewrite; unlike
    `check_file_place` it also checks the directories that hold each link (whoever can write
    there can swap the link) and keeps the sticky exception for the file's own directory."""
    uid = os.geteuid()
    parts = list(Path(os.path.abspath(path)).parts[1:])
    current = Path("/")
    checked: set[Path] = set()
    hops = 0

    def check_dir(directory: Path) -> str | None:
        if directory in checked:
            return None
        checked.add(directory)
        st = os.stat(directory)
        if st.st_uid not in (uid, 0):
            return f"the directory {directory} belongs to {_who(st.st_uid)}, who could replace what is in it"
        if _writable_by_others(st) and not st.st_mode & stat.S_ISVTX:
            return f"the directory {directory} is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
        return None

    try:
        problem = check_dir(current)
        while parts and problem is None:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                current = current.parent
                continue
            candidate = current / name
            st = os.lstat(candidate)
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_LINKS:
                    return f"{path}: too many links"
                if st.st_uid not in (uid, 0):
                    return f"the link {candidate} belongs to {_who(st.st_uid)}"
                target = os.readlink(candidate)
                if os.path.isabs(target):
                    current = Path("/")
                parts[:0] = [p for p in Path(target).parts if p != "/"]
                continue
            if parts:  # a directory on the way
                current = candidate
                problem = check_dir(current)
    except OSError as exc:
        return f"cannot check {path}: {exc.strerror}"
    return problem
