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
from dataclasses import dataclass, field
from pathlib import Path

from tokenward.errors import ExitStatus, TokenwardError, UsageError

UNIT = "tokenward-remind"
CRON_MARKER = "# tokenward-remind (managed by `tokens schedule`)"
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

    @property
    def at(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


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
) -> Job:
    hour, minute = parse_at(at)
    env: dict[str, str] = {}
    if config_file:
        env["TOKENS_CONFIG"] = str(Path(config_file).expanduser().resolve())
    if os.environ.get("TOKENS_HOME"):
        env["TOKENS_HOME"] = str(Path(os.environ["TOKENS_HOME"]).expanduser().resolve())
    argv = (*tokens_command(), *remind_args(store=store, channels=channels, quiet=quiet))
    return Job(argv=argv, env=env, hour=hour, minute=minute)


# -- systemd ------------------------------------------------------------------------


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _sd_quote(word: str) -> str:
    """Quote one word for a systemd command line or Environment= assignment."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(job: Job) -> dict[str, str]:
    environment = "".join(f"Environment={_sd_quote(f'{k}={v}')}\n" for k, v in sorted(job.env.items()))
    service = (
        "[Unit]\n"
        "Description=tokenward: remind about API tokens due for rotation\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{environment}"
        f"ExecStart={' '.join(_sd_quote(a) for a in job.argv)}\n"
        "# 1 means \"some token is overdue\": the reminder did its job.\n"
        "SuccessExitStatus=1\n"
    )
    timer = (
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


def install_systemd(job: Job, directory: Path | None = None) -> Change:
    directory = directory or unit_dir()
    change = Change()
    directory.mkdir(parents=True, exist_ok=True)
    for filename, text in systemd_units(job).items():
        path = directory / filename
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current == text:
            change.unchanged.append(str(path))
            continue
        tmp = path.with_name(f".{filename}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
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
    if not any(p.exists() for p in paths):
        return change
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
    command = " ".join(shlex.quote(a) for a in job.argv)
    command = f"{env} {command}" if env else command
    # `%` ends a crontab command (the rest is stdin); the marker is a shell comment.
    return f"{job.minute} {job.hour} * * * {command.replace('%', chr(92) + '%')} {CRON_MARKER}"


def _crontab(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("crontab")
    if exe is None:
        raise UsageError("crontab is not installed here (Debian: apt install cron); use --systemd or `tokens schedule print`")
    try:
        return subprocess.run([exe, *args], input=input, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScheduleError(f"crontab {' '.join(args)} failed ({type(exc).__name__})") from None


def read_crontab() -> list[str]:
    proc = _crontab("-l")
    if proc.returncode != 0:
        if "no crontab" in proc.stderr.lower():
            return []
        first = (proc.stderr.strip().splitlines() or [""])[0]
        raise ScheduleError(f"crontab -l failed: {first}")
    return proc.stdout.splitlines()


def write_crontab(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n" if lines else ""
    proc = _crontab("-", input=text)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        raise ScheduleError(f"crontab - failed: {first}")


def install_cron(job: Job) -> Change:
    line = cron_line(job)
    lines = read_crontab()
    ours = [i for i, existing in enumerate(lines) if existing.rstrip().endswith(CRON_MARKER)]
    if [lines[i] for i in ours] == [line]:
        return Change(unchanged=["crontab"])
    kept = [existing for i, existing in enumerate(lines) if i not in ours]
    write_crontab([*kept, line])
    return Change(changed=["crontab"])


def remove_cron() -> Change:
    if shutil.which("crontab") is None:
        return Change()
    lines = read_crontab()
    kept = [line for line in lines if not line.rstrip().endswith(CRON_MARKER)]
    if kept == lines:
        return Change()
    write_crontab(kept)
    return Change(changed=["crontab"])


def cron_installed() -> bool:
    return shutil.which("crontab") is not None and any(line.rstrip().endswith(CRON_MARKER) for line in read_crontab())


# -- GitHub Actions -------------------------------------------------------------------


def github_workflow(job: Job, *, store: str | None, store_type: str | None) -> str:
    """A workflow for a repository that holds a tokenward config (`.github/tokenward.toml`)."""
    args = [a for a in job.argv[job.argv.index("remind") :] if a != "--quiet"] if "remind" in job.argv else ["remind"]
    if not store:
        args += ["--store", "vault"]
    command = "tokens " + " ".join(shlex.quote(a) for a in args)
    if store_type == "aws":
        secrets = (
            "          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
            "          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n"
        )
    else:
        secrets = (
            "          VAULT_ADDR: ${{ secrets.VAULT_ADDR }}\n"
            "          VAULT_TOKEN: ${{ secrets.VAULT_TOKEN }}\n"
        )
    note = "" if store else "# Set --store to your team's Vault or AWS store from the config.\n"
    return (
        "# .github/workflows/token-reminder.yml - written by `tokens schedule print --github-actions`\n"
        f"{note}"
        "name: token rotation reminder\n"
        "on:\n"
        "  schedule:\n"
        f"    - cron: \"{job.minute} {job.hour} * * *\"  # UTC\n"
        "  workflow_dispatch:\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  remind:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@v5\n"
        "        with:\n"
        "          python-version: \"3.12\"\n"
        "      - run: pip install tokenward\n"
        "      # Exits 1 when a token is overdue or expired: the run fails and GitHub tells you.\n"
        f"      - run: {command}\n"
        "        env:\n"
        "          TOKENS_CONFIG: .github/tokenward.toml\n"
        f"{secrets}"
    )
