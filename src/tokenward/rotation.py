"""Rotation beyond "write a new value": where a token is used, whether a new value
fits the old one (same kind and registry, no wider scope), `rotate_command`s that
mint a value, and the copies a leaked value may still have on this machine.

Nothing here prints or returns a value in a message; values are compared by
fingerprint only.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tokenward import audit
from tokenward.errors import ExitStatus, SecretNotFound, StoreError, TokenwardError, UsageError
from tokenward.inventory import TokenRecord
from tokenward.policy import humanize_delta
from tokenward.sanitize import safe
from tokenward.registries.kinds import revoke_where
from tokenward.tokens import TOKEN_PAGE, detect_kind, fingerprint, inspect, parse_scope
from tokenward.values import MAX_VALUE_BYTES, decode_stdin

REGISTRY_NAMES = {"pypi": "PyPI (pypi.org)", "testpypi": "TestPyPI (test.pypi.org)"}


class RotateCommandError(TokenwardError):
    """A configured rotate_command failed; nothing was changed."""

    exit_status = ExitStatus.STORE


@dataclass
class Fit:
    """How a new value compares with the token it replaces."""

    errors: list[str] = field(default_factory=list)  # refuse: wrong kind or registry, already expired
    warnings: list[str] = field(default_factory=list)  # ask: wider scope, narrower scope


def check_new_value(record: TokenRecord, value: str, now) -> Fit:
    fit = Fit()
    name = record.name
    if record.kind in ("pypi", "testpypi"):
        if not value.startswith("pypi-"):
            fit.errors.append(f"the new value is not a PyPI token (no 'pypi-' prefix); {name} is a {record.kind} token")
            return fit
        facts = inspect(value)  # raises UsageError for a broken macaroon
        if facts.kind != record.kind:
            fit.errors.append(
                f"the new value is a {REGISTRY_NAMES[facts.kind]} token; {name} is for {REGISTRY_NAMES[record.kind]}"
            )
            return fit
        old_kind, old_projects = parse_scope(record.scope)
        new_kind, new_projects = parse_scope(facts.scope)
        if new_kind == "none":
            fit.errors.append("the new token's caveats allow no project at all: it cannot upload anything")
            return fit
        if old_kind == "project" and new_kind == "user":
            fit.warnings.append(
                f"the new token is user-wide (it can upload to all your projects); the old one was limited to "
                f"{', '.join(old_projects)}"
            )
        elif old_kind == "project" and new_kind == "project":
            extra = sorted(set(new_projects) - set(old_projects))
            missing = sorted(set(old_projects) - set(new_projects))
            if extra:
                fit.warnings.append(f"the new token also covers {', '.join(extra)}, which the old one did not")
            if missing:
                fit.warnings.append(f"the new token does not cover {', '.join(missing)}; uploads of those will fail")
        if facts.expires_at is not None and facts.expires_at <= now:
            fit.errors.append(f"the new token already expired on {facts.expires_at.date().isoformat()}")
        return fit
    detected = detect_kind(value)
    if detected != "generic" and detected != record.kind and record.kind != "generic":
        fit.errors.append(f"the new value looks like a {detected} token; {name} is a {record.kind} token")
    elif detected == "generic" and record.kind not in ("generic",) and _has_prefix(record.kind):
        fit.warnings.append(f"the new value does not look like a {record.kind} token (its usual prefix is missing)")
    return fit


def _has_prefix(kind: str) -> bool:
    from tokenward.tokens import PREFIXES

    return any(k == kind for _, k in PREFIXES)


def scope_advice(record: TokenRecord) -> str:
    kind, projects = parse_scope(record.scope)
    if record.kind in ("pypi", "testpypi"):
        if kind == "project":
            return f"Give it the same scope: project {', '.join(projects)} (not \"Entire account\")."
        return "The old token was user-wide; a project-scoped token is safer if it publishes one project."
    if record.scope:
        return f"Give it the same scope: {safe(record.scope)}."
    return ""


def usage_lines(app, record: TokenRecord) -> list[str]:
    """Where the token lives and what used it, from the config and the audit log."""
    lines = []
    if record.purpose:
        lines.append(f"Purpose:   {safe(record.purpose)}")
    stores = []
    for store_name in record.stores:
        store = app.config.stores.get(store_name)
        stores.append(f"{store_name} ({store.type})" if store else f"{store_name} (not in the config)")
    lines.append(f"Stored in: {', '.join(stores) or 'no store'}")
    entries = audit.read(app.data_dir, record.name)
    uses = [e for e in entries if e.get("event") == "exec"]
    if record.last_used_at is not None:
        tools = Counter(str(e.get("tool") or e.get("command") or "?") for e in uses)
        by = ", ".join(f"{tool} ({count}x)" for tool, count in tools.most_common(4))
        lines.append(f"Last used: {humanize_delta(app.now, record.last_used_at)}" + (f" by {by}" if by else ""))
        projects = sorted({p for e in uses for p in (e.get("projects") or [])})
        if projects:
            lines.append(f"Published: {', '.join(projects)}")
    else:
        lines.append("Last used: never through `tokens exec`")
    if entries.skipped_note():
        lines.append(f"({entries.skipped_note()})")
    return lines


def revoke_step(record: TokenRecord) -> str:
    created = record.rotated_at.date().isoformat()
    which = "the one created" if record.kind in TOKEN_PAGE else "created"
    return f"revoke the old token {revoke_where(record.kind)} ({which} on or about {created}); it still works until you do"


# -- rotate_command -----------------------------------------------------------------


# What is kept of the command's output; the rest is read and discarded, so a command
# printing without end neither fills memory nor outlives its timeout.
MAX_STDOUT = 64 * 1024  # the value is one line
MAX_STDERR = 64 * 1024

# Runs beside the command, in its own session: when tokenward dies (even by SIGKILL)
# its end of the pipe closes and the watchdog kills the command's whole process group.
_WATCHDOG = (
    "import os,signal,sys\n"
    "signal.signal(signal.SIGINT,signal.SIG_IGN)\n"
    "sys.stdin.buffer.read()\n"
    "try: os.killpg(int(sys.argv[1]),signal.SIGKILL)\n"
    "except OSError: pass\n"
)


def _die_with_parent() -> None:
    """In the command's process, before exec: SIGKILL it when tokenward dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (Linux; elsewhere the watchdog alone)
    except (OSError, AttributeError):
        pass


def _read_capped(proc: subprocess.Popen, deadline: float) -> tuple[bytes, bytes, int, int, bool]:
    """Both pipes until EOF or the deadline: (stdout kept, stderr kept, stdout bytes
    dropped, stderr bytes dropped, timed out)."""
    import selectors
    import time

    keep = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    caps = {proc.stdout: MAX_STDOUT, proc.stderr: MAX_STDERR}
    dropped = {proc.stdout: 0, proc.stderr: 0}
    with selectors.DefaultSelector() as selector:
        for pipe in keep:
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(keep[proc.stdout]), bytes(keep[proc.stderr]), dropped[proc.stdout], dropped[proc.stderr], True
            for key, _ in selector.select(timeout=left):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = keep[key.fileobj]
                room = caps[key.fileobj] - len(buffer)
                buffer += chunk[: max(0, room)]
                dropped[key.fileobj] += max(0, len(chunk) - max(0, room))
    return bytes(keep[proc.stdout]), bytes(keep[proc.stderr]), dropped[proc.stdout], dropped[proc.stderr], False


def run_rotate_command(
    argv: tuple[str, ...], record: TokenRecord, timeout: float, old_values: Callable[[], list[str]] | None = None
) -> str:
    """Run the configured command; its stdout (one line) is the new value.

    It gets the token's name, kind, scope and repository in TOKENS_* variables, never
    the old value. It runs in its own process group: at the timeout (a total bound,
    however much it prints), when it is done, and when tokenward itself is killed, the
    whole group is killed, so nothing it started in the background outlives it. At most
    64 KiB of its stdout and of its stderr are kept (the rest is discarded, with a note).
    Its stderr reaches the user once it has finished, with control and escape sequences
    shown as escapes and the new and the old value (`old_values()`, read only when there
    is stderr to show) masked; its stdout is never shown."""
    import signal
    import time

    env = dict(os.environ)
    env.update(
        TOKENS_NAME=record.name,
        TOKENS_KIND=record.kind,
        TOKENS_SCOPE=record.scope,
        TOKENS_REPOSITORY=record.repository,
        TOKENS_PURPOSE=record.purpose,
    )
    what = f"rotate_command for {safe(record.name)} ({safe(argv[0])})"
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )  # fmt: skip
    except FileNotFoundError:
        raise RotateCommandError(f"{what}: command not found; nothing changed") from None
    except PermissionError:
        raise RotateCommandError(f"{what}: not executable; nothing changed") from None
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(proc.pid)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except OSError:
        watchdog = None

    def kill_group() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already

    try:
        out, err, out_dropped, err_dropped, timed_out = _read_capped(proc, deadline)
        if timed_out:
            timed_out = proc.poll() is None  # done, while a background child holds its output open: not a timeout
        kill_group()
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
    finally:
        kill_group()
        if watchdog is not None:
            watchdog.stdin.close()  # its read ends; the group is already gone
            watchdog.wait()
    value: str | None = None
    problem = ""
    if not timed_out and proc.returncode == 0:
        if out_dropped:
            problem = f"more than {MAX_STDOUT // 1024} KiB on stdout; the value is one line"
        else:
            try:
                value = decode_stdin(out[: MAX_VALUE_BYTES + 3])
            except UsageError as exc:
                problem = str(exc)
    if err:
        _show_masked(err, out, value, old_values)
    if err_dropped:
        sys.stderr.write(f"(a further {err_dropped} bytes of its stderr were discarded)\n")
    if timed_out:
        raise RotateCommandError(f"{what}: no value within {timeout:g}s; nothing changed")
    if proc.returncode != 0:
        raise RotateCommandError(f"{what} exited with status {proc.returncode}; nothing changed")
    if value is None:
        raise RotateCommandError(f"{what} printed no usable value ({problem}); nothing changed")
    return value


def _show_masked(err: bytes, out: bytes, value: str | None, old_values: Callable[[], list[str]] | None) -> None:
    """The command's stderr with every value it could contain masked: the new one (and
    any line of stdout, should it not have decoded), and the old one; then each line
    through `safe()`, so an escape sequence in it cannot rewrite the terminal.

    Masking is exact: a value is masked as written, lowercased and uppercased. A part
    of a value (a tool printing `ghp_abcd…`) is not masked: any 8-character prefix
    would also hide ordinary text, and a prefix alone does not authenticate."""
    from tokenward.masking import Masker

    secrets: list[str | bytes] = [value] if value else []
    secrets += [line.strip() for line in out.splitlines() if len(line.strip()) >= 6]
    if old_values is not None:
        try:
            secrets += [v for v in old_values() if v]
        except Exception:  # noqa: BLE001 - a store down: say nothing rather than risk the old value
            sys.stderr.write(f"(its stderr, {len(err)} bytes, is not shown: the old value could not be read to mask it)\n")
            return
    variants: list[str | bytes] = []
    for secret in secrets:
        variants += [secret, secret.lower(), secret.upper()]
    masker = Masker(variants)
    data = masker.feed(err) + masker.flush()
    text = data.decode("utf-8", "replace")
    lines = [safe(line) for line in text.replace("\r\n", "\n").split("\n")]
    shown = "\n".join(lines)
    sys.stderr.flush()
    sys.stderr.write(shown if shown.endswith("\n") or not shown else shown + "\n")
    sys.stderr.flush()


# -- leaks --------------------------------------------------------------------------


@dataclass
class Copy:
    where: str  # human description, no value
    kind: str  # "store", "extra-store", "twine-keyring", "pypirc", "env", "unchecked", "inventory"
    store: str | None = None
    section: str | None = None


def find_copies(app, record: TokenRecord, old_fingerprint: str) -> list[Copy]:
    """Every place on this machine (and in the configured stores) holding the value."""
    copies: list[Copy] = []
    # Other inventory entries with the same value: `tokens exec` keeps handing it out
    # under those names until they are rotated too.
    for other in app.inventory.with_fingerprint(old_fingerprint):
        if other.name != record.name:
            copies.append(Copy(f"inventory token {other.name} (the same value under another name)", "inventory", section=other.name))
    for store_name, config in app.config.stores.items():
        own = store_name in record.stores
        try:
            value = app.store(store_name).get(record.name)
        except SecretNotFound:
            continue
        except StoreError as exc:
            copies.append(Copy(f"store {store_name} ({config.type}): could not be checked ({exc})", "unchecked", store_name))
            continue
        if fingerprint(value) == old_fingerprint:
            label = "" if own else " - not one of its recorded stores"
            copies.append(Copy(f"store {store_name} ({config.type}){label}", "store" if own else "extra-store", store_name))
    twine = _twine_keyring(app, record)
    if twine is not None and fingerprint(twine[1]) == old_fingerprint:
        copies.append(Copy(f"keyring entry {record.repository!r} / __token__ (read by twine)", "twine-keyring", twine[0]))
    for section in _pypirc_sections(old_fingerprint):
        copies.append(Copy(f"{pypirc_path()} [{section}] password, in plaintext", "pypirc", section=section))
    for var in sorted(os.environ):
        if fingerprint(os.environ[var]) == old_fingerprint:
            copies.append(Copy(f"${var} in this shell's environment", "env", section=var))
    return copies


def _keyring_backend(app):
    for store_name, config in app.config.stores.items():
        if config.type == "keyring":
            try:
                return store_name, app.store(store_name).backend()
            except StoreError:
                return None
    return None


def _twine_keyring(app, record: TokenRecord) -> tuple[str, str] | None:
    if not record.repository:
        return None
    found = _keyring_backend(app)
    if found is None:
        return None
    store_name, backend = found
    try:
        value = backend.get_password(record.repository, "__token__")
    except Exception:  # noqa: BLE001 - a backend that cannot answer has no copy we can see
        return None
    return (store_name, value) if value else None


def replace_twine_keyring(app, record: TokenRecord, value: str) -> bool:
    found = _keyring_backend(app)
    if found is None:
        return False
    try:
        found[1].set_password(record.repository, "__token__", value)
    except Exception:  # noqa: BLE001
        return False
    return True


def pypirc_path() -> Path:
    return Path.home() / ".pypirc"


def _pypirc_sections(old_fingerprint: str) -> list[str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(pypirc_path(), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return []
    return [
        section
        for section in parser.sections()
        if parser.has_option(section, "password") and fingerprint(parser.get(section, "password").strip()) == old_fingerprint
    ]
