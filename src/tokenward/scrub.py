"""What `--scrub` removes from a source file, and the proof that it is gone.

Removal works on the file's own lines, so comments and layout survive; then the result
is parsed again and compared: every imported value must be gone, as the tools read the
file (twine reads `.pypirc` with configparser: `[DEFAULT]` options apply to every
section, indented lines continue a value), and everything else must be unchanged.
When that cannot be shown, nothing is imported and the file is left alone.
"""

from __future__ import annotations

import configparser
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from tokenward import rewrite
from tokenward.errors import UsageError
from tokenward.importers import Found, Source, dotenv_values, physical_lines, scrub_json, shown

def _normalised(lines: list[str]) -> str:
    """The text as open() in text mode hands it to configparser (universal newlines)."""
    return "".join(line.rstrip("\r\n") + "\n" for line in lines)


# -- .pypirc -----------------------------------------------------------------------

# configparser's own patterns (RawConfigParser, default delimiters and comment prefixes).
_SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_NONSPACE = re.compile(r"\S")


@dataclass
class IniOption:
    section: str
    name: str
    lines: list[int]  # indexes of the option's own line and its continuation lines
    parts: list[str] = field(default_factory=list)

    @property
    def value(self) -> str:
        return "\n".join(self.parts).rstrip()


def ini_options(lines: list[str]) -> list[IniOption]:
    """Every option with the lines it occupies, by configparser's rules: a line indented
    deeper than its option's first line continues the value, across blank and comment
    lines; anything else is a new option or section. (Checked against configparser
    itself by `_same_as_configparser`.)"""
    options: list[IniOption] = []
    section: str | None = None
    current: IniOption | None = None
    indent = 0
    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n") + "\n"
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            if not stripped and current is not None:
                current.parts.append("")
            continue
        match = _NONSPACE.search(line)
        level = match.start() if match else 0
        if current is not None and level > indent:
            current.lines.append(index)
            current.parts.append(stripped)
            continue
        indent = level
        header = _SECTCRE.match(stripped)
        if header:
            section, current = header.group("header"), None
            continue
        option = _OPTCRE.match(stripped)
        if section is None or not option or not option.group("option"):
            raise UsageError("not a valid .pypirc (INI) file")
        current = IniOption(section, option.group("option").rstrip().lower(), [index], [option.group("value").strip()])
        options.append(current)
    return options


def _own_options(text: str) -> dict[tuple[str, str], str]:
    """(section, option) -> value with `[DEFAULT]` read as a section of its own."""
    parser = configparser.RawConfigParser(default_section="\x00no default section")
    parser.read_string(text)
    return {(s, k): v for s in parser.sections() for k, v in parser.items(s)}


def _same_as_configparser(options: list[IniOption], text: str) -> bool:
    try:
        return {(o.section, o.name): o.value for o in options} == _own_options(text)
    except configparser.Error:
        return False


def _twine_view(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def scrub_pypirc(text: str, values: set[str]) -> str:
    """The file without every `password` option (in any section, `[DEFAULT]` too) whose
    value is one of `values`, with its continuation lines; every other line kept."""
    lines = physical_lines(text)
    options = ini_options(lines)
    if not _same_as_configparser(options, _normalised(lines)):
        raise UsageError("cannot tell which lines hold the passwords")
    drop = {i for o in options if o.name == "password" and o.value.strip() in values for i in o.lines}
    return "".join(line for index, line in enumerate(lines) if index not in drop)


def _pypirc_problems(old: str, new: str, values: set[str]) -> list[str]:
    problems = []
    try:
        before, after = _own_options(_normalised(physical_lines(old))), _own_options(_normalised(physical_lines(new)))
        view = _twine_view(_normalised(physical_lines(new)))
    except configparser.Error:
        return ["the result does not parse as a .pypirc"]
    removed = {key for key, value in before.items() if key[1] == "password" and value.strip() in values}
    expected = {key: value for key, value in before.items() if key not in removed}
    if after != expected:
        changed = sorted({k for k in expected.keys() ^ after.keys()} | {k for k in expected.keys() & after.keys() if expected[k] != after[k]})
        problems.extend(f"[{shown(s)}] {shown(o)} would not be kept as it was" for s, o in changed[:3])
    for section in [view.default_section, *view.sections()]:
        items = view.defaults().items() if section == view.default_section else view.items(section)
        for option, value in items:
            if any(v in value for v in values):
                problems.append(f"[{shown(section)}] {shown(option)} still holds an imported value")
    return problems


# -- .env and JSON -------------------------------------------------------------------


def scrub_lines(text: str, numbers: set[int]) -> str:
    """The text without these lines (numbered from 1, as `parse_dotenv` numbers them)."""
    return "".join(line for number, line in enumerate(physical_lines(text), start=1) if number not in numbers)


def _strings(data: object) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def _json_problems(new: str, values: set[str]) -> list[str]:
    stripped = new.strip()
    documents: list[object] = []
    try:
        if stripped.startswith("["):
            documents.append(json.loads(stripped))
        else:
            documents.extend(json.loads(line) for line in new.split("\n") if line.strip())
    except ValueError:
        return ["the result is not valid JSON"]
    return ["a record still holds an imported value" for doc in documents for s in _strings(doc) if any(v in s for v in values)][:1]


def _dotenv_problems(new: str, values: set[str]) -> list[str]:
    return [f"line {number} still holds an imported value" for number, value in dotenv_values(new) if any(v in value for v in values)]


# -- the proof ---------------------------------------------------------------------------


def problems(fmt: str, old: str, new: str, values: set[str]) -> list[str]:
    """Why `new` is not `old` with exactly these values removed ([] when it is)."""
    found: list[str] = []
    if any(value in new for value in values):
        # `new` keeps a subsequence of `old`'s lines (JSON arrays aside): name the first
        # surviving line of `old` that holds a value.
        new_lines, j, where = physical_lines(new), 0, "the result"
        for number, line in enumerate(physical_lines(old), start=1):
            if j < len(new_lines) and new_lines[j] == line:
                j += 1
                if any(value in line for value in values):
                    where = f"line {number}"
                    break
        found.append(f"{where} still holds an imported value")
    if fmt == "pypirc":
        found.extend(_pypirc_problems(old, new, values))
    elif fmt == "json":
        found.extend(_json_problems(new, values))
    elif fmt == "dotenv":
        found.extend(_dotenv_problems(new, values))
    return list(dict.fromkeys(found))


def remove(fmt: str, text: str, values: set[str], locators: set) -> str:
    if fmt == "pypirc":
        return scrub_pypirc(text, values)
    if fmt == "dotenv":
        return scrub_lines(text, {int(x) for x in locators})
    return scrub_json(text, {int(x) for x in locators})


# -- the rewrite ---------------------------------------------------------------------------


@dataclass
class Scrub:
    """A scrub made ready before anything is imported: the new text is computed and
    checked, the backup and the new file are written; `commit` puts it in place."""

    source: Source
    values: set[str] = field(repr=False)
    pending: rewrite.Pending

    def abort(self) -> None:
        self.pending.abort()

    def commit(self) -> Path:
        """Replace the file (unless it changed since it was read), read it back through
        the path the user named, and prove every value gone. Returns the backup."""
        backup = self.pending.commit()
        snap = self.pending.snap
        text = rewrite.reread(snap).decode("utf-8", errors="replace")
        left = problems(self.source.format, self.source.text, text, self.values)
        if left:
            raise UsageError(f"{snap.given} was rewritten, but {left[0]}; the original is at {backup}")
        return backup


def prepare(source: Source, entries: list[Found], now: datetime) -> Scrub | None:
    """Everything that can fail, before anything is imported: which lines go, the proof
    that the result holds none of the values and nothing else changed, the ownership and
    link rules, and writing the backup and the new file next to the old one."""
    snap = source.snapshot
    if not entries or source.path is None or snap is None:
        return None
    values = {e.value for e in entries}
    where = str(source.path)
    try:
        new = remove(source.format, source.text, values, {e.locator for e in entries})
    except UsageError as exc:
        raise UsageError(f"cannot scrub {where}: {exc}; nothing was imported") from None
    left = problems(source.format, source.text, new, values)
    if left:
        raise UsageError(f"cannot scrub {where}: after removing the imported values, {left[0]}; nothing was imported (remove it by hand, or import without --scrub)")
    try:
        pending = rewrite.prepare(snap, new.encode("utf-8"), now)
    except UsageError as exc:
        raise UsageError(f"{exc}; nothing was imported") from None
    return Scrub(source, values, pending)
