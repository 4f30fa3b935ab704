"""The TOML config, read into plain value classes and validated with clear messages.

No config file at all is valid: one store, the OS keyring. Unknown keys are an error
so a typo never silently changes where a secret goes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenward.errors import ConfigError, UnsafeDataDir, UsageError
from tokenward.paths import config_path, read_trusted_file
from tokenward.plain import Plain
from tokenward.policy import Period, parse_period
from tokenward.stores.base import REGISTRY as STORE_TYPES  # each type's options, without its SDK

if TYPE_CHECKING:
    from tokenward.config_targets import TargetConfig
    from tokenward.config_trusted import TrustedPublishingConfig

STORE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # compiled (and cached by re) when a config names a store

UNUSED_AFTER = "180d"  # [defaults] unused_after: `tokens audit` reports tokens unused longer than this

DEFAULTS_KEYS: dict[str, type | tuple[type, ...]] = {
    "stores": list,
    "rotate_every": str,
    "warn_before": str,
    "notify": list,
    "unused_after": str,
}

NOTIFY_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "webhook": {"url": str, "timeout": (int, float), "repeat": str, "retries": int},
    "email": {
        "host": str,
        "port": int,
        "starttls": bool,
        "ssl": bool,
        "from": str,
        "to": (str, list),
        "username": str,
        "password_token": str,
        "timeout": (int, float),
        "repeat": str,
        "retries": int,
        "cafile": str,
    },
    "desktop": {"repeat": str},
}

# [rotate]: commands that print a fresh value, per kind ([rotate.kind]) or per token
# ([rotate.token]); a token's own command wins over its kind's.
ROTATE_KEYS: dict[str, type | tuple[type, ...]] = {"timeout": (int, float), "kind": dict, "token": dict, "api": list, "npm": dict}
# [rotate] api: the kinds `rotate --due` rotates by the registry's API (those that can create a value).
API_KINDS = ("gitlab", "npm")
ROTATE_NPM_KEYS: dict[str, type | tuple[type, ...]] = {"login": str}

TOP_LEVEL = ("defaults", "stores", "notify", "rotate", "targets", "trusted_publishing")



class StoreConfig(Plain):
    __slots__ = ("name", "type", "options")

    def __init__(self, name: str, type: str, options: dict[str, Any]) -> None:  # noqa: A002 - the config's key
        self.name = name
        self.type = type
        self.options = options

    def get(self, key: str) -> Any:
        return self.options.get(key, STORE_TYPES[self.type].default(key))


class RotateConfig(Plain):
    """`rotate_command`s: argv tuples by kind and by token name; the kinds rotated by API."""

    __slots__ = ("timeout", "by_kind", "by_token", "api", "npm_login")

    def __init__(
        self, timeout: float = 120, by_kind: dict[str, tuple[str, ...]] | None = None,
        by_token: dict[str, tuple[str, ...]] | None = None, api: tuple[str, ...] = (), npm_login: str = "",
    ) -> None:  # fmt: skip
        self.timeout = timeout
        self.by_kind = {} if by_kind is None else by_kind
        self.by_token = {} if by_token is None else by_token
        self.api = api  # kinds `rotate --due` rotates by API, unattended
        self.npm_login = npm_login  # the inventory token holding the npm account password

    def command_for(self, name: str, kind: str) -> tuple[str, ...] | None:
        return self.by_token.get(name) or self.by_kind.get(kind)


class Config(Plain):
    """The whole config (plain classes, not dataclasses: every command loads them, see plain.py)."""

    __slots__ = (
        "path", "default_stores", "rotate_every", "warn_before", "unused_after", "stores", "notify", "default_notify",
        "rotate", "targets", "_trusted_publishing",
    )  # fmt: skip

    def __init__(
        self,
        path: Path | None,  # None when no file was read
        default_stores: tuple[str, ...] = ("keyring",),
        rotate_every: str = "90d",
        warn_before: Period | None = None,
        unused_after: Period | None = None,  # `tokens audit`
        stores: dict[str, StoreConfig] | None = None,
        notify: dict[str, dict[str, Any]] | None = None,
        default_notify: tuple[str, ...] = (),
        rotate: RotateConfig | None = None,
        targets: dict[str, TargetConfig] | None = None,
        trusted_publishing: TrustedPublishingConfig | None = None,
    ) -> None:
        self.path = path
        self.default_stores = default_stores
        self.rotate_every = rotate_every
        self.warn_before = parse_period("14d") if warn_before is None else warn_before
        self.unused_after = parse_period(UNUSED_AFTER) if unused_after is None else unused_after
        self.stores = {} if stores is None else stores
        self.notify = {} if notify is None else notify
        self.default_notify = default_notify
        self.rotate = RotateConfig() if rotate is None else rotate
        self.targets = {} if targets is None else targets
        self._trusted_publishing = trusted_publishing  # None: no [trusted_publishing] table

    @property
    def trusted_publishing(self) -> "TrustedPublishingConfig":
        """[trusted_publishing], else its defaults: config_trusted.py is loaded only when asked
        (by exec when it may mint, by audit), never by a plain `get` or `exec --token`."""
        if self._trusted_publishing is None:
            from tokenward.config_trusted import TrustedPublishingConfig

            self._trusted_publishing = TrustedPublishingConfig()
        return self._trusted_publishing

    def store(self, name: str) -> StoreConfig:
        try:
            return self.stores[name]
        except KeyError:
            known = ", ".join(sorted(self.stores)) or "none"
            raise UsageError(f"unknown store {name!r} (configured stores: {known})") from None

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "the built-in defaults"


def _where(path: Path, key: str) -> str:
    return f"{path}: {key}"


def _check_type(path: Path, key: str, value: Any, expected: type | tuple[type, ...]) -> None:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python; don't let `port = true` through.
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = " or ".join(k.__name__.replace("str", "string").replace("list", "array") for k in kinds)
        article = "an" if names[0] in "aeiou" else "a"
        raise ConfigError(f"{_where(path, key)} must be {article} {names}, not {type(value).__name__}")


def _seconds(value: Any) -> str | None:
    return None if 0 < value <= MAX_TIMEOUT else f"must be more than 0 and at most {MAX_TIMEOUT} seconds"


def _http_url(value: str) -> str | None:
    """An http(s) URL with a host, or "" for "not set"."""
    if value == "":
        return None
    # The URL itself is not repeated: a webhook's path and any user:password@ are secrets.
    problem = http_url_problem(value)
    return None if problem is None else f"must be an http(s) URL with a host ({problem})"


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be 1-65535"


def _retries(value: int) -> str | None:
    return None if 0 <= value <= 10 else "must be 0-10"


def _period(value: str) -> str | None:
    try:
        parse_period(value)
    except UsageError as exc:
        return str(exc)
    return None


def _region(value: str) -> str | None:
    if value == "" or re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", value):
        return None
    return f"must be an AWS region such as eu-west-1, not {value!r}"


# Range and shape of values, by key name (the same key means the same thing in every table).
VALUE_CHECKS: dict[str, Any] = {
    "timeout": _seconds,
    "url": _http_url,
    "endpoint_url": _http_url,
    "port": _port,
    "retries": _retries,
    "repeat": _period,
    "region": _region,
}
MAX_TIMEOUT = 3600


def http_url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) URL with a host, or None when it is one."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "use http:// or https://"
    if not parts.hostname:
        return "it names no host"
    return None


def _check_value(path: Path, key: str, name: str, value: Any) -> None:
    if isinstance(value, str) and any(not ch.isprintable() for ch in value):
        raise ConfigError(f"{_where(path, key)} contains control characters")
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and any(not ch.isprintable() for ch in item):
                raise ConfigError(f"{_where(path, key)} contains control characters")
    check = VALUE_CHECKS.get(name)
    problem = check(value) if check is not None else None
    if problem:
        raise ConfigError(f"{_where(path, key)} {problem}")


def _check_keys(path: Path, table: str, data: dict, allowed: dict) -> None:
    for key, value in data.items():
        where = f"{table}.{key}" if table else key
        if key not in allowed:
            raise ConfigError(f"{_where(path, where)} is not a known key (known: {', '.join(allowed)})")
        _check_type(path, where, value, allowed[key])
        _check_value(path, where, key, value)


def _one_of(names) -> str:
    """`"a", "b" or "c"`."""
    *first, last = [f'"{n}"' for n in names]
    return f"{', '.join(first)} or {last}" if first else last


def table_type(path: Path, where: str, table: Any, name: str, known) -> str:
    """The `type` of a [stores.NAME] or [targets.NAME] table (its name when unset): one of `known`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    kind = table.get("type", name)
    if not isinstance(kind, str) or kind not in known:
        shown = repr(kind) if isinstance(kind, str) else f"of type {type(kind).__name__}"
        raise ConfigError(f"{path}: {where} has unknown type {shown} (set type = {_one_of(known)})")
    return kind


def store_keys(store_type: str) -> dict[str, type | tuple[type, ...]]:
    """Every key a [stores.NAME] table of this type may hold, with its TOML type."""
    return {"type": str, **{key: option.type for key, option in STORE_TYPES[store_type].options.items()}}


def default_config() -> Config:
    return Config(path=None, stores={"keyring": StoreConfig("keyring", "keyring", {})})


def load_config(explicit: str | None = None) -> Config:
    path, must_exist = config_path(explicit)
    try:
        raw = read_trusted_file(path)  # the config picks commands to run: trusted as ~/.ssh is
    except UnsafeDataDir as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    if raw is None:
        if must_exist:
            raise ConfigError(f"{path}: config file not found") from None
        return default_config()
    if not raw.strip(b" \t\n"):
        data: dict = {}  # an empty file is an empty TOML document: no parser to import
        return parse_config(data, path)
    import tomllib  # only when there is something to parse

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: dict, path: Path) -> Config:
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError(f"{path}: {key} is not a known table (known: {', '.join(TOP_LEVEL)})")
        if not isinstance(data[key], dict):
            raise ConfigError(f"{path}: {key} must be a table")

    stores: dict[str, StoreConfig] = {}
    for name, table in data.get("stores", {}).items():
        if not re.fullmatch(STORE_NAME_PATTERN, name):
            raise ConfigError(f"{path}: stores.{name!r} is not a valid store name (letters, digits, . _ -)")
        store_type = table_type(path, f"stores.{name}", table, name, STORE_TYPES)
        _check_keys(path, f"stores.{name}", table, store_keys(store_type))
        options = {k: v for k, v in table.items() if k != "type"}
        for key, value in options.items():
            choices = STORE_TYPES[store_type].options[key].choices
            if choices and value not in choices:
                raise ConfigError(f"{path}: stores.{name}.{key} must be {_one_of(choices)}")
        stores[name] = StoreConfig(name, store_type, options)
    if not stores:
        stores["keyring"] = StoreConfig("keyring", "keyring", {})

    defaults = data.get("defaults", {})
    _check_keys(path, "defaults", defaults, DEFAULTS_KEYS)
    default_stores = tuple(defaults.get("stores", ["keyring"] if "keyring" in stores else list(stores)[:1]))
    if not default_stores:
        raise ConfigError(f"{path}: defaults.stores must name at least one store")
    for name in default_stores:
        if not isinstance(name, str) or name not in stores:
            raise ConfigError(f"{path}: defaults.stores names {name!r}, which is not a [stores.*] table")
    rotate_every = defaults.get("rotate_every", "90d")
    warn_before = defaults.get("warn_before", "14d")
    unused_after = defaults.get("unused_after", UNUSED_AFTER)
    for key, text in (("rotate_every", rotate_every), ("warn_before", warn_before), ("unused_after", unused_after)):
        try:
            parse_period(text)
        except UsageError as exc:
            raise ConfigError(f"{_where(path, f'defaults.{key}')}: {exc}") from None
    warn = parse_period(warn_before)

    notify: dict[str, dict[str, Any]] = {}
    for channel, table in data.get("notify", {}).items():
        if channel not in NOTIFY_KEYS:
            raise ConfigError(f"{path}: notify.{channel} is not a known channel (known: {', '.join(NOTIFY_KEYS)})")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: notify.{channel} must be a table")
        _check_keys(path, f"notify.{channel}", table, NOTIFY_KEYS[channel])
        notify[channel] = dict(table)
    default_notify = tuple(defaults.get("notify", ()))
    for channel in default_notify:
        if channel not in notify:
            raise ConfigError(f"{path}: defaults.notify names {channel!r}, which is not a [notify.*] table")

    return Config(
        path=path,
        default_stores=default_stores,
        rotate_every=rotate_every,
        warn_before=warn,
        unused_after=parse_period(unused_after),
        stores=stores,
        notify=notify,
        default_notify=default_notify,
        rotate=_parse_rotate(data.get("rotate", {}), path),
        targets=_parse_targets(data.get("targets", {}), path),
        trusted_publishing=_parse_trusted_publishing(data["trusted_publishing"], path) if "trusted_publishing" in data else None,
    )


def _parse_command(path: Path, key: str, value: Any) -> tuple[str, ...]:
    """A command as a string (split like a shell would, but run without one) or an array."""
    import shlex

    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{_where(path, key)}: cannot split the command ({exc})") from None
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        argv = list(value)
    else:
        raise ConfigError(f"{_where(path, key)} must be a string or an array of strings")
    if not argv or not argv[0]:
        raise ConfigError(f"{_where(path, key)} is empty")
    return tuple(argv)


def _parse_rotate(table: dict, path: Path) -> RotateConfig:
    _check_keys(path, "rotate", table, ROTATE_KEYS)
    if not table:
        return RotateConfig(timeout=120.0)  # the common case: nothing more to import (tokens, the kind table)
    from tokenward.inventory import NAME_RE
    from tokenward.sanitize import safe
    from tokenward.tokens import KINDS

    timeout = table.get("timeout", 120)
    by_kind: dict[str, tuple[str, ...]] = {}
    for kind, command in table.get("kind", {}).items():
        if kind not in KINDS:
            raise ConfigError(f"{_where(path, f'rotate.kind.{kind}')}: unknown kind (known: {', '.join(KINDS)})")
        by_kind[kind] = _parse_command(path, f"rotate.kind.{kind}", command)
    by_token: dict[str, tuple[str, ...]] = {}
    for name, command in table.get("token", {}).items():
        if not NAME_RE.fullmatch(name):
            raise ConfigError(f"{_where(path, f'rotate.token.{name}')}: not a valid token name")
        by_token[name] = _parse_command(path, f"rotate.token.{name}", command)
    api: list[str] = []
    for index, kind in enumerate(table.get("api", [])):
        if not isinstance(kind, str):
            raise ConfigError(f"{_where(path, f'rotate.api[{index}]')} must be a string, not {type(kind).__name__}")
        if kind not in API_KINDS:
            known = "unknown kind" if kind not in KINDS else "no API creates its tokens"
            raise ConfigError(f"{_where(path, 'rotate.api')}: {safe(kind)!r}: {known} (rotated by API: {', '.join(API_KINDS)})")
        api.append(kind)
    npm = table.get("npm", {})
    _check_keys(path, "rotate.npm", npm, ROTATE_NPM_KEYS)
    login = npm.get("login", "")
    if login and not NAME_RE.fullmatch(login):
        raise ConfigError(f"{_where(path, 'rotate.npm.login')}: not a valid token name")
    return RotateConfig(timeout=float(timeout), by_kind=by_kind, by_token=by_token, api=tuple(dict.fromkeys(api)), npm_login=login)


def env_or(value: str, *names: str) -> str:
    """A config value, else the first environment variable that is set."""
    if value:
        return value
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return ""


def _parse_targets(tables: dict, path: Path) -> dict[str, "TargetConfig"]:
    if not tables:
        return {}  # the common case: config_targets.py is not loaded
    from tokenward.config_targets import parse_targets

    return parse_targets(tables, path)


def _parse_trusted_publishing(table: dict, path: Path) -> "TrustedPublishingConfig":
    from tokenward.config_trusted import parse_trusted_publishing

    return parse_trusted_publishing(table, path)
