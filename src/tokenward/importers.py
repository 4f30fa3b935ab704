"""Bringing existing tokens in: a `.pypirc`'s passwords, a `.env` file, JSON records with
values, or twine's keyring slot; and scrubbing the plaintext from the source afterwards.

Everything is read and checked before anything is written: a malformed file is one
error and changes nothing. Error messages name files, lines and sections, never values.
Scrubbing (removing the values from the file afterwards) lives in scrub.py and rewrite.py.
"""

from __future__ import annotations

import configparser
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tokenward import lifecycle, rewrite
from tokenward.app import App
from tokenward.errors import StoreError, TokenwardError, UsageError
from tokenward.inventory import NAME_RE
from tokenward.metadata import check_new
from tokenward.policy import parse_date, parse_period
from tokenward.envpolicy import check_templates, refusal
from tokenward.publishers import KIND_ENV, parse_env_templates
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
    snapshot: rewrite.Snapshot | None = None  # the file as read, when it is to be scrubbed


# The line breaks Python's text files split on (and so twine reading `.pypirc`); not
# str.splitlines(), which also splits at \f, \x1c-\x1e, \x85 and U+2028.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


def physical_lines(text: str) -> list[str]:
    """The lines of `text`, each with its own line ending (joined, they give `text` back)."""
    lines = _LINE.findall(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def shown(text: str) -> str:
    """A name from a file or path, safe to print and to record: control characters escaped."""
    return text if text.isprintable() else repr(text)[1:-1]


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
        # As twine reads it: a text file, so \r and \r\n end lines too.
        parser.read_string("".join(line.rstrip("\r\n") + "\n" for line in physical_lines(text)), source=label)
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
            skipped.append(f"index-servers names {shown(section)}, but there is no such section")
            continue
        if not parser.has_option(section, "password"):
            skipped.append(f"[{shown(section)}] has no password")
            continue
        value = parser.get(section, "password").strip()
        username = parser.get(section, "username", fallback="__token__").strip()
        default = {"pypi": PYPI_UPLOAD, "testpypi": TESTPYPI_UPLOAD}.get(section)
        repository = parser.get(section, "repository", fallback=default)
        entry = Found(
            name=token_name(section),
            value=value,
            where=f"[{shown(section)}]",
            repository=repository,
            purpose=f"imported from {shown(label)} [{shown(section)}]",
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
    default_password = parser.defaults().get("password", "").strip()
    if default_password and not any(e.value == default_password for e in found):
        # twine reads no section from [DEFAULT] alone; importing nothing would leave the
        # plaintext behind while saying there was nothing to import.
        raise UsageError(
            f"{label}: [DEFAULT] holds a password that no repository section uses; move it into the section of its "
            "repository (e.g. [pypi]) or delete it, then import again"
        )
    return Source(None, "pypirc", found, skipped, text)


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


def _dotenv_lines(text: str, label: str):
    """(line number, KEY, value) of every assignment; comments and blank lines skipped."""
    for number, line in enumerate(physical_lines(text), start=1):
        line = line.rstrip("\r\n")
        where = f"{label}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            raise UsageError(f"{where}: not a KEY=VALUE line")
        yield number, match.group(1), _dotenv_value(match.group(2), where)


def dotenv_values(text: str) -> list[tuple[int, str]]:
    """(line number, value) of every assignment that parses (for checking a scrubbed file)."""
    out = []
    for number, line in enumerate(physical_lines(text), start=1):
        try:
            out.extend((number, value) for _n, _key, value in _dotenv_lines(line, ""))
        except UsageError:
            out.append((number, line))
    return out


_VARIABLE_REF = re.compile(r"\$(?:\{[^}]*\}?|[A-Za-z_][A-Za-z0-9_]*)")


def _refers_to_variable(text: str, number: int, value: str) -> bool:
    """Whether the value holds `${X}` or `$X`, which dotenv loaders and shells expand
    (not inside single quotes, where both keep it literal)."""
    if not _VARIABLE_REF.search(value):
        return False
    line = physical_lines(text)[number - 1]
    raw = line.split("=", 1)[1].strip() if "=" in line else ""
    return not raw.startswith("'")


# Kinds whose variables `tokens exec` picks per publish tool (and narrows): an env
# mapping on the record would replace that, so the .env name is not kept for them.
_TOOL_KINDS = ("pypi", "testpypi", "npm")


def parse_dotenv(text: str, label: str) -> Source:
    found: list[Found] = []
    skipped: list[str] = []
    for number, key, value in _dotenv_lines(text, label):
        if not value:
            skipped.append(f"{key} (line {number}) is empty")
            continue
        if _refers_to_variable(text, number, value):
            # `${GH_TOKEN}` is not a token: the shell or python-dotenv expands it; the line stays.
            skipped.append(f"{key} (line {number}) refers to another variable, not a value")
            continue
        kind = detect_kind(value) if not value.startswith("pypi-") else None
        if kind == "generic" and not SECRET_NAME.search(key):
            skipped.append(f"{key} (line {number}) does not look like a token")
            continue
        entry = Found(name=token_name(key.replace("_", "-")), value=value, where=f"line {number}", purpose=f"imported from {shown(label)} {key}", locator=number)
        # `tokens exec` hands the token to the child under the variable the file used
        # (as `tokens add --env KEY={value}` would record it), besides the kind's own.
        defaults = KIND_ENV.get(kind or "pypi", {})
        if kind not in (None, *_TOOL_KINDS) and key not in defaults and refusal(key, "{value}") is None:
            templates = {} if kind == "generic" else dict(defaults)
            templates[key] = "{value}"
            entry.env = templates
        found.append(entry)
    return Source(None, "dotenv", found, skipped, text)


# -- JSON ------------------------------------------------------------------------

JSON_FIELDS = {
    "name", "value", "kind", "purpose", "scope", "repository", "created", "created_at", "rotate_every",
    "expires", "expires_at", "stores", "env",
}  # fmt: skip
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """json's object_pairs_hook: a key given twice is refused (json keeps the last one, and a
    scrub would remove the other value from the file)."""
    record: dict = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def _loads(text: str, label: str, what: str):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise UsageError(f"{label}: a record gives the key {shown(str(exc))!r} twice") from None
    except ValueError as exc:
        raise UsageError(f"{label}: {what} (line {getattr(exc, 'lineno', '?')})") from None


def _json_array(text: str, label: str) -> list[tuple[object, int, int]]:
    """The records of a JSON array with the offsets where each starts and ends."""
    data = _loads(text, label, "not valid JSON")
    if not isinstance(data, list):
        raise UsageError(f"{label}: expected an array of records")
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    spans = []
    index = _JSON_SPACE.match(text, 0).end() + 1  # after '['
    for _ in data:
        start = _JSON_SPACE.match(text, index).end()
        record, end = decoder.raw_decode(text, start)
        spans.append((record, start, end))
        index = _JSON_SPACE.match(text, end).end() + 1  # after ',' (or ']')
    return spans


def _json_records(text: str, label: str) -> tuple[list[tuple[object, int, int] | None], bool]:
    """(record, start, end) per record, None for blank lines of JSON lines; and whether
    the file is one array."""
    if not text.strip():
        return [], False
    if text.lstrip().startswith("["):
        return list(_json_array(text, label)), True
    records: list[tuple[object, int, int] | None] = []
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            records.append(None)
        else:
            try:
                records.append((json.loads(line, object_pairs_hook=_no_duplicates), offset, offset + len(line)))
            except _DuplicateKey as exc:
                raise UsageError(f"{label}:{number}: the record gives the key {shown(str(exc))!r} twice") from None
            except ValueError:
                raise UsageError(f"{label}:{number}: not a JSON object (one record per line)") from None
        offset += len(line) + 1
    return records, False


def _unknown_key(text: str, record: dict, start: int, end: int) -> tuple[str, int] | None:
    for key in record:
        if key not in JSON_FIELDS:
            found = re.search(re.escape(json.dumps(key)) + r"[ \t\n\r]*:", text[start:end])
            return key, text.count("\n", 0, start + (found.start() if found else 0)) + 1
    return None


def parse_json(text: str, label: str) -> Source:
    records, _is_array = _json_records(text, label)
    found: list[Found] = []
    for index, item in enumerate(records):
        if item is None:
            continue
        record, start, end = item
        line = text.count("\n", 0, start) + 1
        where = f"{label}:{line} (record {index + 1})" if _is_array else f"{label}:{line}"
        if not isinstance(record, dict):
            raise UsageError(f"{where}: not a JSON object")
        unknown = _unknown_key(text, record, start, end)
        if unknown:
            key, key_line = unknown
            hint = difflib.get_close_matches(key, sorted(JSON_FIELDS), n=1, cutoff=0.6)
            key_text = repr(key if len(key) <= 40 else key[:40] + "...")
            raise UsageError(
                f"{label}:{key_line}: unknown key {key_text}" + (f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(sorted(JSON_FIELDS))}")
            )
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
                purpose=record.get("purpose") or f"imported from {shown(label)}",
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
    """The text without the "value" of these records; JSON lines keep every other line."""
    records, is_array = _json_records(text, "")
    cleaned = []
    for index, item in enumerate(records):
        record = item[0] if item is not None else None
        if isinstance(record, dict) and index in indexes:
            record = {k: v for k, v in record.items() if k != "value"}
        cleaned.append(record)
    if is_array:
        return json.dumps(cleaned, indent=2) + "\n"
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i in indexes and cleaned[i] is not None:
            lines[i] = json.dumps(cleaned[i]) + ("\r" if line.endswith("\r") else "")
    return "\n".join(lines)


PARSERS: dict[str, Callable[[str, str], Source]] = {"pypirc": parse_pypirc, "dotenv": parse_dotenv, "json": parse_json}


def read_source(path: Path, fmt: str | None, *, for_scrub: bool = False) -> Source:
    """Read and parse a source file; `for_scrub` reads the file itself (through links)
    and remembers what it was, so that the rewrite can check nothing changed."""
    snapshot = None
    if for_scrub:
        snapshot = rewrite.read(path)
        raw = snapshot.data
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(rewrite.MAX_BYTES + 1)
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory, not a file") from None
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > rewrite.MAX_BYTES:
        raise UsageError(f"{path} is larger than {rewrite.MAX_BYTES >> 20} MiB; not a file of tokens")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    fmt = fmt or detect_format(path, text)
    source = PARSERS[fmt](text, str(path))
    source.path = path
    source.snapshot = snapshot
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
    shared: list[str] = field(default_factory=list)  # one value imported under several names


def check(
    app: App, source: Source, *, stores: tuple[str, ...] = (), rename: str | None = None, prefix: str = "", allow_env: tuple[str, ...] = ()
) -> Plan:
    """Validate every entry as `tokens add` would, before anything is written."""
    if rename is not None:
        if len(source.found) != 1:
            raise UsageError(f"--name needs exactly one token in the source; it has {len(source.found)}")
        source.found[0].name = rename
    existing = {r.fingerprint: r.name for r in app.inventory.all()}
    plan = Plan(notes=list(source.skipped))
    seen: dict[str, str] = {}
    by_value: dict[str, list[Found]] = {}
    for entry in source.found:
        entry.name = (prefix + entry.name) if prefix else entry.name
        where = f"{source.path or source.format} {entry.where}"
        if not NAME_RE.fullmatch(entry.name):
            raise UsageError(f"{where}: invalid token name {entry.name!r} (use --prefix or --name)")
        if entry.name in seen:
            raise UsageError(f"{where}: the name {entry.name!r} is also used by {seen[entry.name]}")
        seen[entry.name] = entry.where
        try:
            check_value(entry.value)
            check_new(entry.value, kind=entry.kind, purpose=entry.purpose, scope=entry.scope, repository=entry.repository)
            inspect(entry.value, entry.kind)
            if entry.created:
                parse_date(entry.created, what="created date")
            if entry.expires:
                parse_date(entry.expires, what="expires date")
            if entry.rotate_every:
                parse_period(entry.rotate_every, what="rotate_every period")
            if entry.env:
                parse_env_templates([f"{k}={v}" for k, v in entry.env.items()])
                check_templates(entry.env, allow_env)
            entry.stores = lifecycle.resolve_stores(app, entry.stores or stores or None)
        except TokenwardError as exc:
            raise UsageError(f"{where}: {exc}") from None
        fp = fingerprint(entry.value)
        by_value.setdefault(fp, []).append(entry)
        if fp in existing:
            plan.present.append((entry, existing[fp]))
            plan.notes.append(f"{entry.where} is already in the inventory as {existing[fp]}")
            continue
        if app.inventory.find(entry.name) is not None:
            plan.notes.append(f"{entry.where} not imported: a token named {entry.name!r} already exists with another value (use --prefix or --name)")
            continue
        plan.add.append(entry)
    for entries in by_value.values():
        added = [e for e in entries if any(e is a for a in plan.add)]
        if len(added) > 1:
            plan.shared.append(
                f"{' and '.join(e.where for e in entries)} hold the same value; it is imported under {len(added)} names "
                f"({', '.join(e.name for e in added)}): rotating one leaves the others with the old value"
            )
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


def scrub_keyring(entries: list[Found]) -> None:
    """Delete twine's keyring slots that were imported, and check that they are empty."""
    import keyring

    left = []
    for entry in entries:
        url = str(entry.locator)
        try:
            keyring.delete_password(url, "__token__")
        except Exception:  # noqa: BLE001 - already gone, or the backend refuses: checked below
            pass
        try:
            still = keyring.get_password(url, "__token__") is not None
        except Exception:  # noqa: BLE001 - cannot confirm it is gone
            still = True
        if still:
            left.append(url)
    if left:
        raise StoreError(
            "keyring",
            f"twine's keyring slot {left[0]} still holds a value after deleting it; the tokens were imported, "
            f"remove it with `keyring del {left[0]} __token__`",
        )
