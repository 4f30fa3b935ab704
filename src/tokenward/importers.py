"""Bringing existing tokens in: a `.pypirc`'s passwords, a `.env` file, JSON records with
values, or twine's keyring slot; and scrubbing the plaintext from the source afterwards.

Everything is read and checked before anything is written: a malformed file is one
error and changes nothing. Error messages name files, lines and sections, never values.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from tokenward import lifecycle
from tokenward.app import App
from tokenward.errors import TokenwardError, UsageError
from tokenward.inventory import NAME_RE
from tokenward.paths import FILE_MODE
from tokenward.policy import parse_date, parse_period
from tokenward.publishers import parse_env_templates
from tokenward.tokens import PYPI_UPLOAD, TESTPYPI_UPLOAD, detect_kind, fingerprint, inspect
from tokenward.values import check_value

FORMATS = ("pypirc", "dotenv", "json")
# twine's keyring slots: service = repository URL, username = __token__.
KEYRING_SLOTS = {"pypi": PYPI_UPLOAD, "testpypi": TESTPYPI_UPLOAD}
# .env variables imported although their value has no known token prefix.
SECRET_NAME = re.compile(r"(TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|AUTH)", re.IGNORECASE)


@dataclass
class Found:
    """A token found in a source, before it is added. `value` is never printed."""

    name: str
    value: str = field(repr=False)
    where: str  # "[pypi]", "line 3", "record 2"
    kind: str | None = None
    purpose: str = ""
    scope: str | None = None
    repository: str | None = None
    created: str | None = None
    rotate_every: str | None = None
    expires: str | None = None
    stores: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    locator: object = None  # what scrubbing removes: a section name, a line number, a record index


@dataclass
class Source:
    path: Path | None
    format: str
    found: list[Found]
    skipped: list[str] = field(default_factory=list)  # notes on entries not imported
    text: str = ""


def token_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", raw.strip().lower()).strip("-._")[:64]
    return name or "token"


def detect_format(path: Path, text: str) -> str:
    name = path.name.lower()
    if name.endswith(".pypirc") or name == "pypirc":
        return "pypirc"
    if name == ".env" or name.endswith(".env") or name.startswith(".env."):
        return "dotenv"
    if name.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "json"
    if stripped.startswith("["):
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            return "pypirc"
    return "dotenv"


# -- .pypirc ---------------------------------------------------------------------


def parse_pypirc(text: str, label: str) -> Source:
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=label)
    except configparser.Error:
        # configparser's message quotes the offending line, which may hold a password.
        raise UsageError(f"{label} is not a valid .pypirc (INI) file") from None
    if parser.has_option("distutils", "index-servers"):
        sections = parser.get("distutils", "index-servers").split()
    else:
        sections = [s for s in parser.sections() if s not in ("distutils", "server-login")]
    found: list[Found] = []
    skipped: list[str] = []
    for section in sections:
        if not parser.has_section(section):
            continue
        if not parser.has_option(section, "password"):
            skipped.append(f"[{section}] has no password")
            continue
        value = parser.get(section, "password").strip()
        username = parser.get(section, "username", fallback="__token__").strip()
        default = {"pypi": PYPI_UPLOAD, "testpypi": TESTPYPI_UPLOAD}.get(section)
        repository = parser.get(section, "repository", fallback=default)
        entry = Found(
            name=token_name(section),
            value=value,
            where=f"[{section}]",
            repository=repository,
            purpose=f"imported from {label} [{section}]",
            locator=section,
        )
        if username == "__token__":
            if not value.startswith("pypi-"):
                entry.kind = "testpypi" if repository == TESTPYPI_UPLOAD else "pypi" if repository == PYPI_UPLOAD else "generic"
            elif repository not in (PYPI_UPLOAD, TESTPYPI_UPLOAD):
                # A private index may issue `pypi-` tokens that are no macaroon: accept any shape.
                entry.kind = "pypi"
        else:
            # Not an API token: twine needs this username with it, so the record carries it.
            entry.kind = "generic"
            entry.env = {"TWINE_USERNAME": username, "TWINE_PASSWORD": "{value}"}
        found.append(entry)
    return Source(None, "pypirc", found, skipped, text)


def scrub_pypirc(text: str, sections: set[str]) -> str:
    """The file without the `password` options of these sections; everything else kept."""
    out: list[str] = []
    section = None
    dropping = False
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            section = header.group(1).strip()
            dropping = False
        elif dropping and line.strip() and line[:1] in (" ", "\t"):
            continue  # a continuation line of the password
        else:
            dropping = False
            if section in sections and re.match(r"^\s*password\s*[=:]", line, re.IGNORECASE):
                dropping = True
                continue
        out.append(line)
    return "".join(out)


# -- .env ------------------------------------------------------------------------

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")


def _dotenv_value(raw: str, where: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == '"' and end > 0 and raw[end - 1] == "\\":
            end = raw.find(quote, end + 1)
        if end < 0:
            raise UsageError(f"{where}: unterminated quote")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise UsageError(f"{where}: text after the closing quote")
        inner = raw[1:end]
        return inner.replace('\\"', '"') if quote == '"' else inner
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def parse_dotenv(text: str, label: str) -> Source:
    found: list[Found] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{label}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            raise UsageError(f"{where}: not a KEY=VALUE line")
        key, value = match.group(1), _dotenv_value(match.group(2), where)
        if not value:
            skipped.append(f"{key} (line {number}) is empty")
            continue
        kind = detect_kind(value) if not value.startswith("pypi-") else None
        if kind == "generic" and not SECRET_NAME.search(key):
            skipped.append(f"{key} (line {number}) does not look like a token")
            continue
        found.append(Found(name=token_name(key.replace("_", "-")), value=value, where=f"line {number}", purpose=f"imported from {label} {key}", locator=number))
    return Source(None, "dotenv", found, skipped, text)


def scrub_lines(text: str, numbers: set[int]) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines, start=1) if number not in numbers)


# -- JSON ------------------------------------------------------------------------

JSON_FIELDS = {
    "name", "value", "kind", "purpose", "scope", "repository", "created", "created_at", "rotate_every",
    "expires", "expires_at", "stores", "env",
}  # fmt: skip


def _json_records(text: str, label: str) -> tuple[list[dict], bool]:
    stripped = text.strip()
    if not stripped:
        return [], False
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise UsageError(f"{label}: not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
        if not isinstance(data, list):
            raise UsageError(f"{label}: expected an array of records")
        return data, True
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            records.append(None)
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise UsageError(f"{label}:{number}: not a JSON object (one record per line)") from None
    return records, False


def parse_json(text: str, label: str) -> Source:
    records, _is_array = _json_records(text, label)
    found: list[Found] = []
    for index, record in enumerate(records):
        if record is None:
            continue
        where = f"{label} record {index + 1}"
        if not isinstance(record, dict):
            raise UsageError(f"{where}: not a JSON object")
        for key in ("name", "value"):
            if not isinstance(record.get(key), str) or not record.get(key):
                raise UsageError(f"{where}: needs a string {key!r}")
        for key in ("kind", "purpose", "scope", "repository", "created", "created_at", "rotate_every", "expires", "expires_at"):
            if record.get(key) is not None and not isinstance(record[key], str):
                raise UsageError(f"{where}: {key!r} must be a string")
        stores = record.get("stores") or []
        if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
            raise UsageError(f"{where}: 'stores' must be a list of store names")
        env = record.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise UsageError(f"{where}: 'env' must be an object of VAR: TEMPLATE strings")
        found.append(
            Found(
                name=record["name"],
                value=record["value"],
                where=f"record {index + 1}",
                kind=record.get("kind"),
                purpose=record.get("purpose") or f"imported from {label}",
                scope=record.get("scope"),
                repository=record.get("repository"),
                created=record.get("created") or record.get("created_at"),
                rotate_every=record.get("rotate_every"),
                expires=record.get("expires") or record.get("expires_at"),
                stores=tuple(stores),
                env=env,
                locator=index,
            )
        )
    return Source(None, "json", found, [], text)


def scrub_json(text: str, indexes: set[int]) -> str:
    records, is_array = _json_records(text, "")
    cleaned = []
    for index, record in enumerate(records):
        if isinstance(record, dict) and index in indexes:
            record = {k: v for k, v in record.items() if k != "value"}
        cleaned.append(record)
    if is_array:
        return json.dumps(cleaned, indent=2) + "\n"
    lines = text.splitlines()
    out = [line if cleaned[i] is None or i not in indexes else json.dumps(cleaned[i]) for i, line in enumerate(lines)]
    return "\n".join(out) + "\n"


PARSERS: dict[str, Callable[[str, str], Source]] = {"pypirc": parse_pypirc, "dotenv": parse_dotenv, "json": parse_json}


def read_source(path: Path, fmt: str | None) -> Source:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    fmt = fmt or detect_format(path, text)
    source = PARSERS[fmt](text, str(path))
    source.path = path
    return source


def read_keyring() -> Source:
    """twine's keyring slots (service = upload URL, username = __token__)."""
    import keyring

    found = []
    skipped = []
    for name, url in KEYRING_SLOTS.items():
        try:
            value = keyring.get_password(url, "__token__")
        except Exception as exc:  # noqa: BLE001 - any backend failure
            raise UsageError(f"cannot read the keyring ({type(exc).__name__}); is a Secret Service running?") from None
        if value:
            found.append(Found(name=name, value=value, where=f"keyring {url}", repository=url, purpose=f"imported from twine's keyring slot {url}", locator=url))
        else:
            skipped.append(f"no token in twine's keyring slot {url}")
    return Source(None, "keyring", found, skipped)


# -- checking and adding -----------------------------------------------------------


@dataclass
class Plan:
    add: list[Found] = field(default_factory=list)
    present: list[tuple[Found, str]] = field(default_factory=list)  # (entry, existing token with that value)
    notes: list[str] = field(default_factory=list)


def check(app: App, source: Source, *, stores: tuple[str, ...] = (), rename: str | None = None, prefix: str = "") -> Plan:
    """Validate every entry as `tokens add` would, before anything is written."""
    if rename is not None:
        if len(source.found) != 1:
            raise UsageError(f"--name needs exactly one token in the source; it has {len(source.found)}")
        source.found[0].name = rename
    existing = {r.fingerprint: r.name for r in app.inventory.all()}
    plan = Plan(notes=list(source.skipped))
    seen: dict[str, str] = {}
    for entry in source.found:
        entry.name = (prefix + entry.name) if prefix else entry.name
        where = f"{source.path or source.format} {entry.where}"
        if not NAME_RE.match(entry.name):
            raise UsageError(f"{where}: invalid token name {entry.name!r} (use --prefix or --name)")
        if entry.name in seen:
            raise UsageError(f"{where}: the name {entry.name!r} is also used by {seen[entry.name]}")
        seen[entry.name] = entry.where
        try:
            check_value(entry.value)
            lifecycle.check_kind(entry.kind)
            inspect(entry.value, entry.kind)
            if entry.created:
                parse_date(entry.created, what="created date")
            if entry.expires:
                parse_date(entry.expires, what="expires date")
            if entry.rotate_every:
                parse_period(entry.rotate_every, what="rotate_every period")
            if entry.env:
                parse_env_templates([f"{k}={v}" for k, v in entry.env.items()])
            entry.stores = lifecycle.resolve_stores(app, entry.stores or stores or None)
        except TokenwardError as exc:
            raise UsageError(f"{where}: {exc}") from None
        fp = fingerprint(entry.value)
        if fp in existing:
            plan.present.append((entry, existing[fp]))
            plan.notes.append(f"{entry.where} is already in the inventory as {existing[fp]}")
            continue
        if app.inventory.find(entry.name) is not None:
            plan.notes.append(f"{entry.where} not imported: a token named {entry.name!r} already exists with another value (use --prefix or --name)")
            continue
        plan.add.append(entry)
    return plan


def apply(app: App, plan: Plan) -> list[lifecycle.Outcome]:
    outcomes = []
    for entry in plan.add:
        outcome = lifecycle.add_token(
            app,
            entry.name,
            entry.value,
            kind=entry.kind,
            purpose=entry.purpose,
            scope=entry.scope,
            repository=entry.repository,
            created=entry.created,
            rotate_every=entry.rotate_every,
            expires=entry.expires,
            stores=entry.stores,
            env=entry.env or None,
        )
        outcomes.append(outcome)
    return outcomes


def scrub(source: Source, entries: list[Found], now: datetime) -> Path | None:
    """Remove these entries' values from the source file, keeping a 0600 backup. Returns the backup."""
    if not entries or source.path is None:
        return None
    locators = {e.locator for e in entries}
    if source.format == "pypirc":
        text = scrub_pypirc(source.text, {str(x) for x in locators})
    elif source.format == "dotenv":
        text = scrub_lines(source.text, {int(x) for x in locators})  # type: ignore[arg-type]
    else:
        text = scrub_json(source.text, {int(x) for x in locators})  # type: ignore[arg-type]
    path = source.path
    backup = path.with_name(f"{path.name}.tokenward-{now.strftime('%Y%m%dT%H%M%S')}.bak")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.tokenward-{now.strftime('%Y%m%dT%H%M%S')}-{n}.bak")
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(source.text)
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(f".{path.name}.tokenward-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o600 or FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return backup


def scrub_keyring(entries: list[Found]) -> None:
    import keyring

    for entry in entries:
        try:
            keyring.delete_password(str(entry.locator), "__token__")
        except Exception:  # noqa: BLE001 - already gone, or the backend refuses
            pass
