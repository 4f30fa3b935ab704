"""Replacing a user's file safely: the `--scrub` of `tokens import` rewrites a `.pypirc`,
a `.env` or a JSON file that holds plaintext tokens.

The rules, each for a reported way of getting it wrong:
- The file itself is rewritten, not a link to it: `~/.pypirc -> dotfiles/pypirc` keeps
  its link, and the target (what twine reads) gets the new text.
- The 0600 backup goes next to the path the user named (for a link: next to the link, not
  into the dotfiles repository the link points into).
- Only the user's own files, in a directory no one else can write into, are changed;
  a file with several hard links is refused (the other names would keep the plaintext).
- Every file we create (backup, temp) is created with O_EXCL|O_NOFOLLOW relative to the
  directory already opened, so nothing planted in the directory can redirect a write.
- Everything that can fail is done before the caller changes anything else (`prepare`),
  and `commit` refuses when the file changed since it was read (an editor saved it).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tokenward.errors import UsageError
from tokenward.paths import FILE_MODE, chain_problem

MAX_BYTES = 16 << 20  # far beyond any file of tokens; /dev/zero and the like stop here
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class FileChanged(UsageError):
    """The file is not what was read: someone changed it meanwhile."""


@dataclass(frozen=True)
class Snapshot:
    """A file as it was read, and enough facts to see later whether it is still that."""

    given: Path  # the path the user named (may be a link)
    real: Path  # the file itself, every link resolved
    data: bytes = field(repr=False)
    digest: str
    file_id: tuple[int, int]  # st_dev, st_ino
    dir_id: tuple[int, int]
    size: int
    mtime_ns: int
    uid: int
    gid: int
    mode: int
    nlink: int
    dir_uid: int
    dir_mode: int


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _open_dir(path: Path) -> int:
    return os.open(path, _DIR)


def read(path: Path) -> Snapshot:
    """Read a regular file, through its links, remembering what it is."""
    real = Path(os.path.realpath(path))
    try:
        dfd = _open_dir(real.parent)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        try:
            fd = os.open(real.name, _READ, dir_fd=dfd)
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except OSError as exc:
            # ELOOP: a link loop (realpath leaves the looping name in place).
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise UsageError(f"{path} is a directory, not a file")
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(f"{path} is not a regular file; --scrub rewrites regular files only")
            if st.st_size > MAX_BYTES:
                raise UsageError(f"{path} is larger than {MAX_BYTES >> 20} MiB; not a file of tokens")
            data = _read_all(fd)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        dst = os.fstat(dfd)
    finally:
        os.close(dfd)
    return Snapshot(
        given=path,
        real=real,
        data=data,
        digest=hashlib.sha256(data).hexdigest(),
        file_id=(st.st_dev, st.st_ino),
        dir_id=(dst.st_dev, dst.st_ino),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        uid=st.st_uid,
        gid=st.st_gid,
        mode=stat.S_IMODE(st.st_mode),
        nlink=st.st_nlink,
        dir_uid=dst.st_uid,
        dir_mode=stat.S_IMODE(dst.st_mode),
    )


def describe(snap: Snapshot) -> str:
    return str(snap.given) if snap.real == Path(os.path.abspath(snap.given)) else f"{snap.given} (-> {snap.real})"


def check_ours(snap: Snapshot) -> None:
    """Refuse to rewrite a file that is not the user's own, or that lives where others write."""
    me = os.geteuid()
    where = describe(snap)
    if snap.uid != me:
        raise UsageError(
            f"{where} belongs to another user (uid {snap.uid}); tokenward changes only your own files: "
            "remove the password from it yourself, or import without --scrub"
        )
    if snap.nlink > 1:
        raise UsageError(
            f"{where} has {snap.nlink} hard links; rewriting it would leave the plaintext under the other names: "
            "remove the password yourself, or import without --scrub"
        )
    if snap.dir_uid not in (me, 0):
        raise UsageError(f"the directory {snap.real.parent} belongs to another user (uid {snap.dir_uid}); not rewriting {where}")
    if snap.dir_mode & stat.S_IWOTH and not snap.dir_mode & stat.S_ISVTX:
        raise UsageError(f"the directory {snap.real.parent} is writable by everyone; not rewriting {where}")
    # The data dir's rule, for the whole chain: every directory and link on the way.
    problem = chain_problem(snap.given)
    if problem:
        raise UsageError(f"{problem}; not rewriting {where}")


def _create(dfd: int, name: str, data: bytes) -> int:
    fd = os.open(name, _CREATE, FILE_MODE, dir_fd=dfd)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlink(dfd: int, name: str | None) -> None:
    if name is None:
        return
    try:
        os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        pass


@dataclass
class Pending:
    """A rewrite whose backup and new content are on disk, not yet in place."""

    snap: Snapshot
    dfd: int  # the file's directory
    bdfd: int  # the backup's directory (the directory of the path the user named)
    backup_dir: Path
    backup: str | None = None
    tmp: str | None = None

    @property
    def backup_path(self) -> Path:
        return self.backup_dir / (self.backup or "")

    def _close(self) -> None:
        for fd in {self.dfd, self.bdfd} - {-1}:
            os.close(fd)
        self.dfd = self.bdfd = -1

    def abort(self) -> None:
        if self.dfd < 0:
            return
        _unlink(self.dfd, self.tmp)
        _unlink(self.bdfd, self.backup)
        self._close()

    def commit(self) -> Path:
        """Put the new content in place, unless the file changed since it was read."""
        snap = self.snap
        try:
            _check_unchanged(snap, self.dfd)
            os.rename(self.tmp, snap.real.name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
            self.tmp = None
            os.fsync(self.dfd)
        except FileChanged:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise UsageError(f"cannot rewrite {describe(snap)}: {exc.strerror}; it was left as it was") from None
        self._close()
        return self.backup_path


def _check_unchanged(snap: Snapshot, dfd: int) -> None:
    changed = FileChanged(f"{describe(snap)} changed while the tokens were being imported; it was left as it is (not scrubbed)")
    if Path(os.path.realpath(snap.given)) != snap.real:
        raise changed
    dst = os.fstat(dfd)
    try:
        now_dir = os.stat(snap.real.parent)
        fd = os.open(snap.real.name, _READ, dir_fd=dfd)
    except OSError:
        raise changed from None
    try:
        st = os.fstat(fd)
        if (
            (dst.st_dev, dst.st_ino) != snap.dir_id
            or (now_dir.st_dev, now_dir.st_ino) != snap.dir_id
            or (st.st_dev, st.st_ino) != snap.file_id
            or st.st_size != snap.size
            or st.st_mtime_ns != snap.mtime_ns
            or hashlib.sha256(_read_all(fd)).hexdigest() != snap.digest
        ):
            raise changed
    finally:
        os.close(fd)


def _check_dir(fd: int, path: Path, where: str) -> None:
    st = os.fstat(fd)
    if st.st_uid not in (os.geteuid(), 0):
        raise UsageError(f"the directory {path} belongs to another user (uid {st.st_uid}); not rewriting {where}")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise UsageError(f"the directory {path} is writable by everyone; not rewriting {where}")


def prepare(snap: Snapshot, new: bytes, now: datetime) -> Pending:
    """Write a 0600 backup of what was read and the new content to an exclusive temp file;
    nothing is replaced yet. Any failure leaves nothing behind."""
    check_ours(snap)
    where = describe(snap)
    named = Path(os.path.abspath(snap.given))
    backup_dir = Path(os.path.realpath(named.parent))
    try:
        dfd = _open_dir(snap.real.parent)
    except OSError as exc:
        raise UsageError(f"cannot open the directory of {where}: {exc.strerror}") from None
    try:
        bdfd = dfd if backup_dir == snap.real.parent else _open_dir(backup_dir)
    except OSError as exc:
        os.close(dfd)
        raise UsageError(f"cannot open {backup_dir} for the backup: {exc.strerror}") from None
    pending = Pending(snap, dfd, bdfd, backup_dir)
    try:
        st = os.fstat(dfd)
        if (st.st_dev, st.st_ino) != snap.dir_id:
            raise FileChanged(f"the directory of {where} was replaced while it was being read")
        _check_dir(bdfd, backup_dir, where)
        stamp = now.strftime("%Y%m%dT%H%M%S")
        for n in range(1, 100):
            name = f"{named.name}.tokenward-{stamp}{'' if n == 1 else f'-{n}'}.bak"
            try:
                fd = _create(bdfd, name, snap.data)
            except FileExistsError:
                continue
            pending.backup = name
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            break
        else:
            raise UsageError(f"too many backups of {where} from this second; try again")
        for _attempt in range(10):
            name = f".{snap.real.name}.tokenward-{secrets.token_hex(6)}.tmp"
            try:
                fd = _create(dfd, name, new)
            except FileExistsError:
                continue
            pending.tmp = name
            try:
                if snap.gid != os.fstat(fd).st_gid:
                    try:
                        os.fchown(fd, -1, snap.gid)
                    except PermissionError:
                        raise UsageError(f"cannot keep the group of {where} (gid {snap.gid}); not rewriting it") from None
                os.fchmod(fd, snap.mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            break
        else:
            raise UsageError(f"cannot create a temporary file next to {where}")
    except OSError as exc:
        pending.abort()
        failed = backup_dir if pending.backup is None else snap.real.parent
        raise UsageError(f"cannot write in {failed} ({exc.strerror}), so {where} cannot be scrubbed") from None
    except BaseException:
        pending.abort()
        raise
    return pending


def in_git_work_tree(path: Path) -> Path | None:
    """The top of the git work tree holding `path`, if any (its history may keep old text)."""
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


def reread(snap: Snapshot) -> bytes:
    """The file's content now, read through the path the user named (what tools read)."""
    try:
        return Path(snap.given).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {snap.given} back: {exc.strerror}") from None
