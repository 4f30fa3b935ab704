"""The scheduled reminder job: a systemd user service + timer, a crontab line, or a
GitHub Actions workflow that runs `tokens remind` once a day.

Installing is idempotent: files and the crontab are compared with what would be
written and left alone when equal, so re-running `install` changes nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tokenward.errors import ExitStatus, TokenwardError, UsageError

UNIT = "tokenward-remind"
CRON_MARKER = "# tokenward-remind (managed by `tokens schedule`)"
_CRON_MARKER_BYTES = CRON_MARKER.encode("utf-8")
KINDS = ("systemd", "cron", "github-actions")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(TokenwardError):
    """systemctl or crontab failed."""

    exit_status = ExitStatus.STORE


@dataclass(frozen=True)
class Job:
    """What runs, with which environment, at what time of day."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    hour: int = 9
    minute: int = 0
    # Commands run first, whose failure does not stop the reminder (the calendar feed).
    before: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        # A line break in a path or name would end the crontab line or the unit's
        # ExecStart= and start one of the attacker's choosing: refuse it outright.
        for argv in (*self.before, self.argv):
            for word in argv:
                _refuse_control(word, "the command" if word == argv[0] else "the argument")
        for key, value in self.env.items():
            _refuse_control(key, "an environment variable name")
            _refuse_control(value, {"TOKENS_HOME": "the data dir (TOKENS_HOME)", "TOKENS_CONFIG": "the config path"}.get(key, key))

    @property
    def at(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def _refuse_control(text: str, what: str) -> None:
    if _has_control(text):
        raise UsageError(f"{what} {text!r} contains a control character; it cannot go into a scheduled job (rename it)")


def parse_at(text: str) -> tuple[int, int]:
    match = _AT.match(text or "")
    if not match:
        raise UsageError(f"invalid --at {text!r}: use HH:MM, e.g. 09:00")
    return int(match.group(1)), int(match.group(2))


def tokens_command() -> list[str]:
    """An absolute way to run this tokenward: timers and cron have a minimal PATH."""
    beside = Path(sys.executable).parent / "tokens"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("tokens")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "tokenward"]


def remind_args(*, store: str | None = None, channels: tuple[str, ...] = (), quiet: bool = False) -> list[str]:
    args = ["remind"]
    if quiet:
        args.append("--quiet")
    if store:
        args += ["--store", store]
    for channel in channels:
        args += ["--notify", channel]
    return args


def make_job(
    at: str = "09:00",
    *,
    store: str | None = None,
    channels: tuple[str, ...] = (),
    config_file: str | None = None,
    quiet: bool = False,
    calendar: str | None = None,
) -> Job:
    from tokenward.paths import data_dir

    hour, minute = parse_at(at)
    env: dict[str, str] = {}
    if config_file:
        env["TOKENS_CONFIG"] = str(Path(config_file).expanduser().resolve())
    # Always the data dir resolved here (TOKENS_HOME, else XDG_DATA_HOME, else the
    # default): cron and systemd run with neither variable of this shell.
    env["TOKENS_HOME"] = str(data_dir().expanduser().resolve())
    argv = (*tokens_command(), *remind_args(store=store, channels=channels, quiet=quiet))
    before = ()
    if calendar:  # refresh the feed a calendar app subscribes to, then remind
        feed = str(Path(calendar).expanduser().absolute())
        before = ((*tokens_command(), "calendar", "--quiet", "--output", feed, *(("--store", store) if store else ())),)
    return Job(argv=argv, env=env, hour=hour, minute=minute, before=before)


# -- systemd ------------------------------------------------------------------------


UNIT_MARKER = "# Written by `tokens schedule install`; `tokens schedule remove` deletes it."
# Units written before the marker existed began with exactly these two lines: still ours,
# so that an upgrade can reinstall or remove them.
_UNMARKED_UNITS = {
    ("[Unit]", "Description=tokenward: remind about API tokens due for rotation"),
    ("[Unit]", "Description=tokenward: daily rotation reminder"),
}


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and ignored
        base = str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _check_unit_dir(directory: Path) -> None:
    """Refuse a unit directory another user owns or may write: units run code as us."""
    import stat

    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{directory} is not a directory of yours (a symbolic link or a file); refusing to write units there")
    if st.st_uid != os.geteuid():
        raise UsageError(f"{directory} belongs to another user (uid {st.st_uid}); refusing to write units there")
    if st.st_mode & 0o022:
        raise UsageError(f"{directory} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}); chmod go-w it first")


def _unit_state(path: Path) -> str:
    """"absent", "ours" (a regular file with our marker) or why it is not ours."""
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    lines = head.splitlines()
    if UNIT_MARKER in lines[:2] or tuple(lines[:2]) in _UNMARKED_UNITS:
        return "ours"
    return "not written by tokenward (no marker line)"


def _refuse_foreign(paths: list[Path], doing: str) -> None:
    for path in paths:
        state = _unit_state(path)
        if state not in ("absent", "ours"):
            raise UsageError(f"{path} is {state}; refusing to {doing} it (move it away, or remove it yourself)")


def _sd_quote(word: str, *, command: bool) -> str:
    """Quote one word for a systemd ExecStart= (command=True) or an Environment= assignment.

    systemd.exec(5): both expand `%` specifiers (so `%%`); only command lines expand
    `$VAR` (so `$$` there), while Environment= takes `$` literally."""
    word = word.replace("%", "%%")
    if command:
        word = word.replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(job: Job) -> dict[str, str]:
    environment = "".join(f"Environment={_sd_quote(f'{k}={v}', command=False)}\n" for k, v in sorted(job.env.items()))
    service = (
        f"{UNIT_MARKER}\n"
        "[Unit]\n"
        "Description=tokenward: remind about API tokens due for rotation\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{environment}"
        # `-`: a calendar feed that cannot be written does not stop the reminder.
        + "".join(f"ExecStart=-{' '.join(_sd_quote(a, command=True) for a in argv)}\n" for argv in job.before)
        + f"ExecStart={' '.join(_sd_quote(a, command=True) for a in job.argv)}\n"
        "# 1 means \"some token is overdue\": the reminder did its job.\n"
        "SuccessExitStatus=1\n"
    )
    timer = (
        f"{UNIT_MARKER}\n"
        "[Unit]\n"
        "Description=tokenward: daily rotation reminder\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {job.at}:00\n"
        "# Run at the next boot when the machine was off at that time.\n"
        "Persistent=true\n"
        "RandomizedDelaySec=10min\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def systemd_user_available() -> bool:
    """A running systemd user manager for this session."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(shutil.which("systemctl") and runtime and (Path(runtime) / "systemd" / "private").exists())


def _systemctl(*args: str) -> None:
    try:
        proc = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScheduleError(f"systemctl --user {' '.join(args)} failed ({type(exc).__name__})") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        raise ScheduleError(f"systemctl --user {' '.join(args)} failed: {first}")


@dataclass
class Change:
    changed: list[str] = field(default_factory=list)  # what was written or removed
    unchanged: list[str] = field(default_factory=list)
    activated: bool = False
    hint: str = ""
    warnings: list[str] = field(default_factory=list)


def install_systemd(job: Job, directory: Path | None = None) -> Change:
    directory = directory or unit_dir()
    change = Change()
    from tokenward.duedates import write_output

    units = systemd_units(job)
    _check_unit_dir(directory)
    _refuse_foreign([directory / name for name in units], "overwrite")
    umask = os.umask(0o077)  # missing directories: 0700 whatever the umask
    try:
        directory.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(umask)
    _check_unit_dir(directory)
    if shutil.which("crontab") and cron_installed():
        change.warnings.append("a crontab reminder is installed too; both will run (`tokens schedule remove --cron` removes it)")
    for filename, text in units.items():
        path = directory / filename
        try:
            current = path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current == text:
            change.unchanged.append(str(path))
            continue
        write_output(str(path), text.encode("utf-8"))  # the units run code: same checks as any output
        change.changed.append(str(path))
    enable = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT}.timer"
    if systemd_user_available():
        if change.changed:
            _systemctl("daemon-reload")
        _systemctl("enable", "--now", f"{UNIT}.timer")  # a no-op when it already is
        change.activated = True
    else:
        change.hint = f"no systemd user manager in this session; to start the timer run: {enable}"
    return change


def remove_systemd(directory: Path | None = None) -> Change:
    directory = directory or unit_dir()
    change = Change()
    paths = [directory / f"{UNIT}.timer", directory / f"{UNIT}.service"]
    if not any(os.path.lexists(p) for p in paths):
        return change
    _refuse_foreign(paths, "delete")
    if systemd_user_available():
        try:
            _systemctl("disable", "--now", f"{UNIT}.timer")
        except ScheduleError:
            pass  # not loaded: removing the files is all there is to do
    for path in paths:
        try:
            path.unlink()
            change.changed.append(str(path))
        except FileNotFoundError:
            pass
    if systemd_user_available():
        _systemctl("daemon-reload")
    return change


# -- cron ---------------------------------------------------------------------------


def cron_line(job: Job) -> str:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(job.env.items()))
    commands = [" ".join(shlex.quote(a) for a in argv) for argv in (*job.before, job.argv)]
    command = "; ".join(f"{env} {c}" if env else c for c in commands)
    # `%` ends a crontab command (the rest is stdin); the marker is a shell comment.
    return f"{job.minute} {job.hour} * * * {command.replace('%', chr(92) + '%')} {CRON_MARKER}"


def _crontab(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("crontab")
    if exe is None:
        raise UsageError("crontab is not installed here (Debian: apt install cron); use --systemd or `tokens schedule print`")
    try:
        return subprocess.run([exe, *args], input=input, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScheduleError(f"crontab {' '.join(args)} failed ({type(exc).__name__})") from None


def _first_error_line(proc: subprocess.CompletedProcess) -> str:
    text = proc.stderr.decode("utf-8", "replace").strip()
    first = (text.split("\n") or [""])[0]
    return "".join(c if c.isprintable() else "?" for c in first)[:200]


# The crontab is handled as bytes split at b"\n" only: cron itself knows no other line
# break, and every other line must be written back exactly as it was read (str.splitlines
# would also split at \f, \x1c-\x1e, \x85, U+2028; python-crontab re-renders the lines
# it parses, which changes spacing and drops the backslash of `\%`).


def read_crontab() -> list[bytes]:
    proc = _crontab("-l")
    if proc.returncode != 0:
        if b"no crontab" in proc.stderr.lower():
            return []
        raise ScheduleError(f"crontab -l failed: {_first_error_line(proc)}")
    lines = proc.stdout.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def write_crontab(lines: list[bytes]) -> None:
    data = b"\n".join(lines) + b"\n" if lines else b""
    proc = _crontab("-", input=data)
    if proc.returncode != 0:
        raise ScheduleError(f"crontab - failed: {_first_error_line(proc)}")


def _ours(line: bytes) -> bool:
    return line.rstrip().endswith(_CRON_MARKER_BYTES)


def install_cron(job: Job) -> Change:
    line = cron_line(job).encode("utf-8")
    lines = read_crontab()
    ours = [existing for existing in lines if _ours(existing)]
    if ours == [line]:
        return Change(unchanged=["crontab"])
    kept = [existing for existing in lines if not _ours(existing)]
    write_crontab([*kept, line])
    change = Change(changed=["crontab"])
    if any(_unit_state(unit_dir() / f"{UNIT}.{suffix}") == "ours" for suffix in ("timer", "service")):
        change.warnings.append("a systemd reminder is installed too; both will run (`tokens schedule remove --systemd` removes it)")
    return change


def remove_cron() -> Change:
    if shutil.which("crontab") is None:
        return Change()
    lines = read_crontab()
    kept = [line for line in lines if not _ours(line)]
    if kept == lines:
        return Change()
    write_crontab(kept)
    return Change(changed=["crontab"])


def cron_installed() -> bool:
    return shutil.which("crontab") is not None and any(_ours(line) for line in read_crontab())


# -- GitHub Actions -------------------------------------------------------------------


WORKFLOW_HEADER = (
    "# .github/workflows/token-reminder.yml - written by `tokens schedule print --github-actions`\n"
    "# Runs daily at the given time in UTC. `tokens remind` exits 1 when a token is overdue\n"
    "# or expired: the run fails and GitHub tells you.\n"
)


_PINNED_VERSION = re.compile(r"tokenward==[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?")
_PINNED_GIT = re.compile(r"(tokenward @ )?git\+https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._~/-]+@[0-9a-f]{40}")
_LOCAL_PATH = re.compile(r"\.{1,2}(/[A-Za-z0-9._+-]+)*/?|/[A-Za-z0-9._+/-]*")
INSTALL_FORMS = (
    "tokenward==X.Y.Z (a released version), git+https://HOST/OWNER/REPO@<40-hex commit> "
    "or a path in the repository (./vendor/tokenward-1.2.0-py3-none-any.whl)"
)


def check_install_spec(spec: str | None) -> str:
    """Where the workflow installs tokenward from, pinned: an exact version, a git commit
    or a path in the checked-out repository. An unpinned name would run whatever is
    published under it next, with the store's secrets in the following step."""
    if not spec:
        raise UsageError(f"--github-actions needs --install SPEC, where the runner gets tokenward from: {INSTALL_FORMS}")
    _refuse_control(spec, "--install")
    text = spec.strip()
    if _PINNED_VERSION.fullmatch(text) or _PINNED_GIT.fullmatch(text) or _LOCAL_PATH.fullmatch(text):
        return text
    raise UsageError(f"--install {spec!r} is not pinned; use {INSTALL_FORMS}")


def github_workflow(job: Job, *, store: str | None, store_type: str | None, install: str | None = None) -> str:
    """A workflow for a repository that holds a tokenward config (`.github/tokenward.toml`).

    Emitted with PyYAML, so any store name is one correctly quoted scalar; the `run:`
    command is shell-quoted for the runner's bash."""
    import yaml

    install = check_install_spec(install)
    args = [a for a in job.argv[job.argv.index("remind") :] if a != "--quiet"] if "remind" in job.argv else ["remind"]
    if "desktop" in args:
        raise UsageError("--notify desktop has no desktop on a GitHub Actions runner; use webhook or email")
    if not store:
        args += ["--store", "vault"]
    for arg in args:
        if "${{" in arg:  # GitHub would evaluate it as an expression inside `run:`
            raise UsageError(f"{arg!r} contains '${{{{', which GitHub Actions would evaluate; rename it")
    command = "tokens " + " ".join(shlex.quote(a) for a in args)
    env = {"TOKENS_CONFIG": ".github/tokenward.toml"}
    from tokenward.stores.base import REGISTRY

    names = REGISTRY[store_type or "vault"].credential_env
    env.update({name: f"${{{{ secrets.{name} }}}}" for name in names})
    workflow = {
        "name": "token rotation reminder",
        "on": {"schedule": [{"cron": f"{job.minute} {job.hour} * * *"}], "workflow_dispatch": None},
        "permissions": {"contents": "read"},
        "jobs": {
            "remind": {
                "runs-on": "ubuntu-latest",
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
                    {"run": "pip install " + shlex.quote(install)},
                    {"run": command, "env": env},
                ],
            }
        },
    }
    note = "" if store else "# Set --store to your team's Vault or AWS store from the config.\n"
    body = yaml.safe_dump(workflow, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return WORKFLOW_HEADER + note + body
