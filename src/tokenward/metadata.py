"""Checks of a token's metadata on the way in: `add`, `edit` and `import` all call these,
before anything is written anywhere.

Each check returns the normalised value or raises UsageError naming the option and
showing a form that works. Free text may not hold control or invisible characters
(they would forge lines of the terminal output of everyone who shares the store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokenward.config import http_url_problem
from tokenward.errors import UsageError
from tokenward.policy import parse_period
from tokenward.sanitize import safe, unsafe_char
from tokenward.tokens import KINDS, PREFIXES, normalize_project, pypi_facts

MAX_PURPOSE = 200  # characters: fits an AWS tag and a Vault custom_metadata value
MAX_REPOSITORY = 400
SCOPE_FORMS = "user, project:NAME[,NAME...] or project-id:ID[,ID...]"

# PEP 508 names (PEP 503 normalises them); other registries' names keep their spelling.
_PYPI_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_OTHER_NAME = re.compile(r"@?[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")  # npm @scope/pkg, owner/repo
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
# Kinds whose project names are not PyPI names (as `selection.scope_of` reads them).
OWN_NAMES = ("npm", "crates", "github", "gitlab", "dockerhub")


def check_text(text: str, option: str, *, limit: int) -> str:
    if not isinstance(text, str):
        raise UsageError(f"{option} must be text")
    bad = unsafe_char(text)
    if bad is not None:
        raise UsageError(f"{option} '{safe(text)}' contains a control or invisible character (U+{ord(bad):04X}); use plain text")
    if len(text) > limit:
        raise UsageError(f"{option} is {len(text)} characters long; at most {limit}")
    return text


def check_purpose(purpose: str | None) -> str:
    return check_text((purpose or "").strip(), "--purpose", limit=MAX_PURPOSE)


def check_repository(url: str | None) -> str:
    """An http(s) upload URL with a host, or "" for the kind's default."""
    url = (url or "").strip()
    if not url:
        return ""
    check_text(url, "--repository", limit=MAX_REPOSITORY)
    problem = http_url_problem(url)
    if problem:
        raise UsageError(f"--repository {url!r} is not an upload URL ({problem}), e.g. https://upload.pypi.org/legacy/")
    return url


def check_scope(scope: str | None, kind: str | None) -> str:
    """`user`, `project:a,b` (PyPI names normalised, sorted) or `project-id:x,y`; "" for unknown."""
    if scope is None:
        return ""
    check_text(scope, "--scope", limit=MAX_REPOSITORY)
    text = scope.strip()
    if text == "":
        return ""
    if text == "user":
        return "user"
    head, colon, tail = text.partition(":")
    items = [item.strip() for item in tail.split(",")] if colon else []
    if head not in ("project", "project-id") or not items or any(not item for item in items):
        raise UsageError(f"invalid --scope {text!r}: use {SCOPE_FORMS}, e.g. project:my-package")
    if head == "project-id":
        bad = [i for i in items if not _PROJECT_ID.fullmatch(i)]
        if bad:
            raise UsageError(f"invalid --scope {text!r}: {bad[0]!r} is not a project id")
        return "project-id:" + ",".join(sorted(set(items)))
    if kind in OWN_NAMES:
        bad = [n for n in items if not _OTHER_NAME.fullmatch(n)]
        if bad:
            raise UsageError(f"invalid --scope {text!r}: {bad[0]!r} is not a {kind} project name")
        return "project:" + ",".join(sorted(set(items)))
    bad = [n for n in items if not _PYPI_NAME.fullmatch(n)]
    if bad:
        raise UsageError(
            f"invalid --scope {text!r}: {bad[0]!r} is not a valid project name (letters, digits, . _ -; "
            "starting and ending with a letter or digit)"
        )
    return "project:" + ",".join(sorted({normalize_project(n) for n in items}))


def check_rotate_every(period: str) -> str:
    """The period in its one spelling (`6mo`, never ` 6MO `)."""
    return str(parse_period(period, what="--rotate-every period"))


def prefix_kind(value: str) -> str | None:
    """The kind a value's own prefix names, or None for an unprefixed value."""
    if value.startswith("pypi-"):
        return "pypi"
    return next((kind for prefix, kind in PREFIXES if value.startswith(prefix)), None)


def check_kind_for_value(kind: str | None, value: str) -> None:
    """`--kind` is refused only when the value carries another kind's known prefix."""
    if kind is None:
        return
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    carried = prefix_kind(value)
    if carried == "pypi" and kind in ("pypi", "testpypi"):
        try:
            issued = pypi_facts(value).kind
        except UsageError:
            return  # not a macaroon: a private index's token of that shape
        if issued != kind:
            raise UsageError(f"--kind {kind}, but the value is a token issued by {'test.pypi.org' if issued == 'testpypi' else 'pypi.org'}")
        return
    if carried is None or carried == kind:
        return
    raise UsageError(
        f"--kind {kind}, but the value starts like a {carried} token; leave --kind out to use {carried}, "
        "or check the value"
    )


@dataclass(frozen=True)
class NewMetadata:
    """What `add` and `import` record next to a value, checked and normalised."""

    purpose: str
    scope: str | None  # None: read from the value (PyPI caveats)
    repository: str  # "": the kind's default


def check_new(value: str, *, kind: str | None, purpose: str | None, scope: str | None, repository: str | None) -> NewMetadata:
    """Every metadata check `add` makes, before anything is written."""
    check_kind_for_value(kind, value)
    effective = kind or prefix_kind(value) or "generic"
    return NewMetadata(
        purpose=check_purpose(purpose),
        scope=None if scope is None else check_scope(scope, effective),
        repository=check_repository(repository),
    )
