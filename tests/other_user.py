"""Run `tokens` as a real second Unix user, for the data-dir trust and permission tests.

As root (CI containers, this project's machines) the tests create a system user
`tokenward-other` with `useradd` and run `tokens` as that user; files that "belong to
someone else" then belong to root. As an ordinary user there is no second user to be:
`tokens` runs as yourself, and the cases that need a foreign owner skip, saying why.
Permission bits (0400, 0500) mean nothing to root, which is why root runs as the other user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import servers

USER = "tokenward-other"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Runner:
    """`tokens` as `uid`, in `base` (a directory that user owns, under /tmp)."""

    uid: int
    gid: int
    base: Path
    python: str
    foreign_uid: int | None  # a uid whose files are "not ours"; None when we cannot make any
    env: dict = field(default_factory=dict)

    def __call__(self, *args: str, input: str = "", env: dict | None = None, umask: int | None = None,
                 stdout=subprocess.PIPE, prelude: str = "", timeout: float = 60) -> Result:  # fmt: skip
        """Run `tokens ARGS`; `prelude` is Python run first in that process (to stage a race)."""
        full_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.base),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), *_site_packages()]),
            "PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring",
            "TOKENWARD_TEST_KEYRING": str(self.base / "keyring.json"),
            "TOKENS_CONFIG": str(self.base / "absent-config.toml"),
            "TOKENS_HOME": str(self.base / "data"),
            **self.env,
            **(env or {}),
        }
        full_env = {k: v for k, v in full_env.items() if v is not None}
        if not os.path.exists(full_env["TOKENS_CONFIG"]):
            del full_env["TOKENS_CONFIG"]
        kwargs = {}
        if self.uid != os.geteuid():
            kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}
        proc = subprocess.run(
            [self.python, "-c", f"import sys\nsys.argv[0] = 'tokens'\n{prelude}\nfrom tokenward.cli import main\nmain()", *args], input=input.encode(), stdout=stdout, stderr=subprocess.PIPE,
            env=full_env, timeout=timeout, cwd=self.base, umask=-1 if umask is None else umask, **kwargs,
        )  # fmt: skip
        out = proc.stdout.decode(errors="replace") if proc.stdout is not None else ""
        return Result(proc.returncode, out, proc.stderr.decode(errors="replace"))

    def chown(self, path: Path) -> Path:
        if self.uid != os.geteuid():
            os.chown(path, self.uid, self.gid)
        return path

    def mkdir(self, path: Path, mode: int = 0o700) -> Path:
        path.mkdir()
        os.chmod(path, mode)
        return self.chown(path)

    def foreign(self, path: Path) -> Path:
        """Give `path` to someone else: `nobody` (not root, whom parents may belong to)."""
        if self.foreign_uid is None:
            pytest.skip("needs root: a file owned by another user cannot be made without it")
        os.chown(path, self.foreign_uid, self.foreign_uid, follow_symlinks=False)
        return path

    def give_to_root(self, path: Path) -> Path:
        if self.foreign_uid is None:
            pytest.skip("needs root: a file owned by another user cannot be made without it")
        os.chown(path, 0, 0, follow_symlinks=False)
        return path


def _site_packages() -> list[str]:
    return [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]


def ensure_user() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            servers.unavailable("useradd not found: cannot create a second Unix user")
        proc = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", USER],
            capture_output=True,
        )  # fmt: skip
        try:
            entry = pwd.getpwnam(USER)  # another test run may have created it meanwhile
        except KeyError:
            servers.unavailable(f"useradd {USER} failed: {proc.stderr.decode(errors='replace').strip()}")
    return entry.pw_uid, entry.pw_gid


def _python_for(uid: int, gid: int) -> str:
    """An interpreter of this Python's version that the user can run (ours may sit under /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not os.path.exists(candidate):
            continue
        try:
            probe = subprocess.run([candidate, "-c", "import sqlite3"], user=uid, group=gid, extra_groups=[], capture_output=True)
        except PermissionError:
            continue
        if probe.returncode == 0:
            return candidate
    servers.unavailable(f"no {version} that user {USER} may run (this one is {sys.executable})")


def make_runner() -> Runner:
    base = Path(tempfile.mkdtemp(prefix="tokenward-user-"))
    if os.geteuid() != 0:
        return Runner(os.geteuid(), os.getegid(), base, sys.executable, None)
    try:
        uid, gid = ensure_user()
        os.chown(base, uid, gid)
        try:
            nobody = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            servers.unavailable("no `nobody` user to own the \"someone else's\" files")
        return Runner(uid, gid, base, _python_for(uid, gid), nobody)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)  # skipped or failed: leave nothing in /tmp
        raise


def private_group_of(uid: int) -> int:
    return pwd.getpwuid(uid).pw_gid


def shared_group() -> int:
    """A group that is not the user's private one (for "group-writable by others")."""
    for name in ("users", "staff", "nogroup"):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    pytest.skip("no shared group (users, staff, nogroup) on this machine")
