"""One family of errors, and the exit status each one maps to.

Messages name what is wrong and where. They never contain a secret value:
every raise site passes names, paths and store names only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FINDINGS = 1  # overdue tokens in `remind`, conflicts or failed stores in `sync`
    BAD_INPUT = 2  # bad input, usage or config
    STORE = 3  # a store unreachable or refusing
    INTERRUPTED = 130


class TokenwardError(Exception):
    """Base of every expected failure; printed as one line by the CLI."""

    exit_status = ExitStatus.BAD_INPUT


class UsageError(TokenwardError):
    """Bad input on the command line or on stdin."""


class ConfigError(TokenwardError):
    """The config file is missing a value, has an unknown key, or does not parse."""


class TokenNotFound(TokenwardError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no token named {name!r} in the inventory (see `tokens list`)")
        self.name = name


class TokenExists(TokenwardError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} already exists (use `tokens rotate {name}` to change its value)")
        self.name = name


class InventoryError(TokenwardError):
    """The local inventory cannot be opened or is damaged."""

    exit_status = ExitStatus.STORE


class LocalDataError(InventoryError):
    """A file or directory of the data dir cannot be read or written (read-only, full,
    damaged): the environment's problem, reported in one line, never exit 70."""


class UnsafeDataDir(TokenwardError):
    """The data dir or a file in it is not safe to trust (another owner, writable by
    others, a symlink) or not a directory; the user has to fix it: exit 2."""


class OutputError(TokenwardError):
    """Standard output is closed, full or failing: the result could not be delivered."""

    exit_status = ExitStatus.STORE


class StoreError(TokenwardError):
    """A store failed; `store` names it."""

    exit_status = ExitStatus.STORE

    def __init__(self, store: str, message: str) -> None:
        super().__init__(f"store {store!r}: {message}")
        self.store = store


class StoreUnavailable(StoreError):
    """The store cannot be reached or has no working backend."""


class AccessDenied(StoreError):
    """The store refused the credentials or the operation."""


class SecretNotFound(StoreError):
    """The store holds no value for this token."""

    def __init__(self, store: str, name: str) -> None:
        super().__init__(store, f"holds no value for {name!r}")
        self.name = name


class StoreConflict(StoreError):
    """A concurrent writer changed the secret (check-and-set failed)."""


class Interrupted(TokenwardError):
    """Ctrl-C in the middle of writing: the message says what was done, what was not,
    and which command finishes it."""

    exit_status = ExitStatus.INTERRUPTED


class TokenExpired(TokenwardError):
    exit_status = ExitStatus.BAD_INPUT


class RegistryError(TokenwardError):
    """A registry (PyPI, GitHub, GitLab, npm, ...) failed or refused; `registry` names its host."""

    exit_status = ExitStatus.STORE

    def __init__(self, registry: str, message: str) -> None:
        super().__init__(f"registry {registry}: {message}")
        self.registry = registry
        self.reason = message


class RegistryUnreachable(RegistryError):
    """Network error, timeout, 5xx, rate limit, redirect elsewhere, or an answer not as documented."""


class RegistryRefused(RegistryError):
    """The registry rejects the token itself (401/403): it is already invalid there."""


class OtpRequired(RegistryRefused):
    """The registry asks for a one-time password (npm with 2FA); nothing was created."""


# Errors found after a command's work was done (the audit log could not be written):
# the command still reports what it did, then the CLI prints these and exits non-zero.
_deferred: list[TokenwardError] = []


def defer(error: TokenwardError) -> None:
    _deferred.append(error)


def take_deferred() -> list[TokenwardError]:
    taken = list(_deferred)
    _deferred.clear()
    return taken
