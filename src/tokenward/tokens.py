"""What a token value tells about itself: its kind, and for PyPI tokens the scope and
expiry written in its caveats. Nothing here stores or prints a value."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

from tokenward.errors import UsageError
from tokenward.plain import Plain
from tokenward.registries.kinds import DEFAULT_REPOSITORY, KINDS, PREFIXES, TOKEN_PAGE  # noqa: F401 - re-exported
from tokenward.registries.pypi import PYPI_UPLOAD, TESTPYPI_UPLOAD  # noqa: F401 - re-exported

_NORMALIZE = re.compile(r"[-_.]+")
# The scope of a token whose caveats exclude each other (project a, then project b):
# it can upload nothing, and `exec` never chooses it.
SCOPE_NONE = "none"


def normalize_project(name: str) -> str:
    """PEP 503 normalisation."""
    return _NORMALIZE.sub("-", name).lower()


def fingerprint(value: str) -> str:
    """First 16 hex digits of sha256: lets sync compare values without reading them twice."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


class TokenFacts(Plain):
    __slots__ = ("kind", "scope", "expires_at", "projects")

    def __init__(self, kind: str, scope: str = "", expires_at: datetime | None = None, projects: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.scope = scope
        self.expires_at = expires_at
        self.projects = projects


def detect_kind(value: str) -> str:
    if value.startswith("pypi-"):
        return pypi_facts(value).kind
    for prefix, kind in PREFIXES:
        if value.startswith(prefix):
            return kind
    return "generic"


def inspect(value: str, kind: str | None = None) -> TokenFacts:
    """Kind, scope and expiry as far as the value itself tells them.

    A `pypi-` value that is not a valid macaroon is refused unless the user said
    what kind it is (a private index may issue tokens of any shape)."""
    if kind is not None and kind not in ("pypi", "testpypi"):
        return TokenFacts(kind=kind)
    if value.startswith("pypi-"):
        try:
            facts = pypi_facts(value)
        except UsageError:
            if kind is None:
                raise
            return TokenFacts(kind=kind)
        return facts if kind is None else TokenFacts(kind, facts.scope, facts.expires_at, facts.projects)
    return TokenFacts(kind=kind or detect_kind(value))


def pypi_facts(value: str) -> TokenFacts:
    """Read a PyPI macaroon's location and caveats (pypitoken; no server key needed)."""
    import pypitoken  # ~25 ms with jsonschema: only when a PyPI value is in hand

    try:
        token = pypitoken.Token.load(value)
        domain = token.domain
    except Exception:  # noqa: BLE001 - pypitoken raises several unrelated types on garbage
        raise UsageError("the value starts with 'pypi-' but is not a valid PyPI token (check it was pasted whole)") from None
    kind = "testpypi" if domain == "test.pypi.org" else "pypi"
    try:
        restrictions = token.restrictions
    except Exception:  # noqa: BLE001 - a caveat this pypitoken does not know: scope unknown
        return TokenFacts(kind=kind)
    # Every caveat must hold for an upload, so each one narrows the token further:
    # the projects it may touch are the intersection of its project caveats.
    name_sets: list[set[str]] = []
    id_sets: list[set[str]] = []
    users: set[str] = set()
    not_before: int | None = None
    not_after: int | None = None
    for restriction in restrictions:
        if isinstance(restriction, (pypitoken.ProjectNamesRestriction, pypitoken.LegacyProjectNamesRestriction)):
            name_sets.append({normalize_project(n) for n in restriction.project_names})
        elif isinstance(restriction, pypitoken.ProjectIDsRestriction):
            id_sets.append(set(restriction.project_ids))
        elif isinstance(restriction, pypitoken.UserIDRestriction):
            users.add(restriction.user_id)
        elif isinstance(restriction, (pypitoken.DateRestriction, pypitoken.LegacyDateRestriction)):
            not_after = restriction.not_after if not_after is None else min(not_after, restriction.not_after)
            not_before = restriction.not_before if not_before is None else max(not_before, restriction.not_before)
    names = set.intersection(*name_sets) if name_sets else None
    ids = set.intersection(*id_sets) if id_sets else None
    expires = datetime.fromtimestamp(not_after, timezone.utc) if not_after is not None else None
    never_valid = not_before is not None and not_after is not None and not_before >= not_after
    if names == set() or ids == set() or len(users) > 1 or never_valid:
        return TokenFacts(kind=kind, scope=SCOPE_NONE, expires_at=expires)
    if ids is not None:
        # Which names those ids belong to is unknown offline: never more than the ids say.
        return TokenFacts(kind=kind, scope="project-id:" + ",".join(sorted(ids)), expires_at=expires)
    if names is not None:
        projects = tuple(sorted(names))
        return TokenFacts(kind=kind, scope="project:" + ",".join(projects), expires_at=expires, projects=projects)
    return TokenFacts(kind=kind, scope="user", expires_at=expires)  # user-wide, or no caveat at all


def parse_scope(scope: str) -> tuple[str, tuple[str, ...]]:
    """`user` -> ("user", ()); `project:foo,bar` -> ("project", ("foo", "bar"));
    `none` (caveats that allow no project) -> ("none", ()); else ("", ())."""
    scope = (scope or "").strip()
    if scope in ("user", SCOPE_NONE):
        return scope, ()
    if scope.startswith("project:"):
        names = tuple(sorted({normalize_project(n.strip()) for n in scope[8:].split(",") if n.strip()}))
        return "project", names
    return "", ()
