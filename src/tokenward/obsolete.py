"""`tokens audit`: stored tokens that are no longer needed, each with the step to retire it.

Three findings (SPEC Part 2, "Trusted publishing"; the facts in docs/audit.md):
- `trusted-publishing`: a PyPI/TestPyPI token whose projects' latest releases were all
  uploaded through a trusted publisher (the index's JSON and Integrity APIs, read with
  registries/pypi_index.py). The projects are the token's caveats for a project-scoped
  token, else the projects its uses uploaded (the audit log).
- `unused`: no use recorded for longer than `[defaults] unused_after` (180d): the later
  of the inventory's last_used_at and the audit log's last `exec` of the token, or, never
  used, its creation date. Not for a token the config uses elsewhere (a CI target and its
  auth token, the SMTP password, the npm login): those uses are never recorded.
- `user-wide`: a user-wide PyPI/TestPyPI token whose uses touched only a few projects
  (at most FEW_PROJECTS): project-scoped tokens would do.

The last two need no network: `offline_findings` serves `tokens remind` too. Nothing here
reads a token's value: the scope comes from the inventory (recorded from the caveats when
the value was added), the uses from the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from tokenward import audit
from tokenward.errors import ExitStatus, RegistryUnreachable
from tokenward.policy import MIN_MOMENT, Period, registry_state, to_iso, whole_days
from tokenward.tokens import SCOPE_NONE, normalize_project, parse_scope

TRUSTED_PUBLISHING = "trusted-publishing"
UNUSED = "unused"
USER_WIDE = "user-wide"
FINDINGS = (TRUSTED_PUBLISHING, UNUSED, USER_WIDE)
FEW_PROJECTS = 3  # a user-wide token that uploaded this many projects or fewer
PYPI_KINDS = ("pypi", "testpypi")
_MAX_NAMES = 10  # project names spelled out in one detail
# The projects considered per token: its uses' 50 most recent distinct ones, or the first 50
# of its caveats (in name order). A crafted audit log (or caveat list) naming millions costs no more.
MAX_PROJECTS = 50
# remind counts from the last REMIND_WINDOW bytes of the audit log only (see offline_count).
REMIND_WINDOW = 1024 * 1024


class UseLog(NamedTuple):
    """What the audit log says of one token's uses, in bounded size whatever the log holds."""

    last: datetime | None = None  # the latest use
    named: int = 0  # uses that named a project
    unnamed: int = 0  # uses that named none
    projects: tuple[str, ...] = ()  # distinct projects, most recent first, at most MAX_PROJECTS
    capped: bool = False  # its uses named more distinct projects than those


class _Tally:
    """A UseLog being read: the MAX_PROJECTS most recent distinct projects (a dict kept in
    order of last use), the counts and the latest moment."""

    __slots__ = ("last", "named", "unnamed", "recent", "capped")

    def __init__(self) -> None:
        self.last: datetime | None = None
        self.named = self.unnamed = 0
        self.recent: dict[str, None] = {}
        self.capped = False

    def add(self, at: datetime, projects: list) -> None:
        self.last = at if self.last is None or at > self.last else self.last
        names = {normalize_project(p) for p in projects if p}
        if not names:
            self.unnamed += 1
            return
        self.named += 1
        recent = self.recent
        for name in sorted(names):
            recent.pop(name, None)
            recent[name] = None
            if len(recent) > MAX_PROJECTS:
                del recent[next(iter(recent))]
                self.capped = True

    def done(self) -> UseLog:
        return UseLog(self.last, self.named, self.unnamed, tuple(reversed(self.recent)), self.capped)


class Token(NamedTuple):
    """What audit knows of one token: inventory metadata and its uses, never its value.
    (A NamedTuple: `remind` builds thousands of them.)"""

    name: str
    kind: str
    scope: str
    repository: str
    created_at: datetime
    last_used_at: datetime | None
    log: UseLog = UseLog()

    @property
    def last_use(self) -> datetime | None:
        moments = [m for m in (self.last_used_at, self.log.last) if m is not None]
        return max(moments) if moments else None

    @property
    def used_projects(self) -> tuple[str, ...]:
        """The projects its uses uploaded, most recent first (at most MAX_PROJECTS)."""
        return self.log.projects


@dataclass(frozen=True)
class Finding:
    name: str
    kind: str
    finding: str  # one of FINDINGS
    detail: str
    retire: str = ""  # `tokens revoke NAME`, else the registry's token page

    def as_json(self) -> dict:
        return {"name": self.name, "finding": self.finding, "detail": self.detail, "retire": self.retire}


@dataclass
class AuditRun:
    findings: list[Finding]
    unchecked: list[str] = field(default_factory=list)  # tokens the index could not tell about, and why
    warnings: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def exit_status(self) -> int:
        if self.unchecked:
            return int(ExitStatus.STORE)
        return int(ExitStatus.FINDINGS) if self.findings else 0


def _names(projects) -> str:
    projects = list(projects)
    shown = ", ".join(projects[:_MAX_NAMES])
    return shown + (f" and {len(projects) - _MAX_NAMES} more" if len(projects) > _MAX_NAMES else "")


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def unused_cutoff(now: datetime, unused_after: Period) -> datetime:
    """A token whose last use (else its creation) is at or before this is unused."""
    try:
        return now - unused_after.delta
    except OverflowError:
        return MIN_MOMENT


def _projects_from_uses(kind: str, scope: str) -> bool:
    """A PyPI token whose projects are known only from its uses: user-wide, or scoped by
    project ids (or not known at all)."""
    return kind in PYPI_KINDS and not scope.startswith("project:") and scope != SCOPE_NONE


def load_tokens(
    inventory, data_dir: Path, cutoff: datetime, elsewhere=(), *, every_pypi: bool = True, window: int | None = None
) -> tuple[list[Token], list[str]]:
    """The tokens that may have a finding: unused by the inventory's last_used_at, PyPI
    tokens whose projects come from their uses, and (every_pypi) every other PyPI token.
    Tokens revoked at the registry are left out: they are retired already (`remind` says so).
    Each comes with its uses since it was added (a removed token's uses under the same name
    are not its own) where a finding depends on them: the audit log is parsed for those
    only, streamed, keeping per token a bounded UseLog (`window`: only the log's last bytes).
    Warnings for unreadable audit log lines."""
    # Without every PyPI token, SQLite leaves out what cannot be a finding (a day's margin: the
    # exact test is below).
    rows = inventory.usage() if every_pypi else inventory.usage(unused_before=to_iso(cutoff + timedelta(days=1)))
    tokens, wanted = _candidates(rows, cutoff, elsewhere, every_pypi=every_pypi)
    if not wanted:
        return tokens, []
    created = {t.name: t.created_at for t in tokens if t.name in wanted}
    logs, note = _read_uses(data_dir, created.keys(), created.__getitem__, window)
    tokens = [t._replace(log=logs[t.name]) if t.name in logs else t for t in tokens]
    return tokens, [note] if note else []


def _candidates(rows, cutoff: datetime, elsewhere, *, every_pypi: bool) -> tuple[list[Token], set[str]]:
    """Tokens from `Inventory.usage()` rows (see load_tokens), and those whose uses matter."""
    parse = datetime.fromisoformat
    tokens: list[Token] = []
    wanted: set[str] = set()
    for name, kind, scope, repository, created, last_used, rotated, verified, result in rows:
        if verified and registry_state(parse(rotated), parse(verified), result, None)[0] == "revoked":
            continue
        scope = (scope or "").strip()
        from_uses = _projects_from_uses(kind, scope)
        unused = name not in elsewhere and parse(last_used or created) <= cutoff
        if unused or from_uses:
            wanted.add(name)
        elif not (every_pypi and kind in PYPI_KINDS):
            continue
        tokens.append(Token(name, kind, scope, repository or "", parse(created), parse(last_used) if last_used else None))
    return tokens, wanted


def _read_uses(data_dir: Path, names, created_of, window: int | None) -> tuple[dict[str, UseLog], str | None]:
    """The UseLog of each token in `names` that has uses since it was added (`created_of(name)`:
    a datetime), and the note on unreadable lines."""
    tallies: dict[str, _Tally] = {}
    since: dict[str, datetime] = {}
    uses = audit.Uses(data_dir, names, window=window)
    for entry in uses:
        at = _moment(entry.get("time"))
        name = entry["token"]
        added = since.get(name)
        if added is None:
            added = since[name] = created_of(name)
        if at is None or at < added:  # before it was added: a removed token's of that name
            continue
        tally = tallies.get(name)
        if tally is None:
            tally = tallies[name] = _Tally()
        tally.add(at, entry.get("projects") or [])
    return {name: tally.done() for name, tally in tallies.items()}, uses.skipped_note()


def used_elsewhere(config) -> dict[str, str]:
    """Tokens the config says are used where no `tokens exec` records it, and where: a CI
    secret a target holds, a target's auth token, the SMTP password of email reminders, the
    npm account password `tokens rotate --api` logs in with.
    Their `unused` finding would be a guess, so it is not made."""
    where: dict[str, str] = {}
    for target in getattr(config, "targets", {}).values():
        where.setdefault(target.token, f"target {target.name}")
        where.setdefault(target.auth, f"target {target.name} (auth)")
    password = (config.notify.get("email") or {}).get("password_token")
    if password:
        where.setdefault(password, "notify.email")
    login = getattr(config.rotate, "npm_login", "")
    if login:
        where.setdefault(login, "rotate.npm.login")
    return where


def _few_projects(t: Token) -> tuple[str, ...] | None:
    """The projects a user-wide PyPI token's uses uploaded, when they are only a few."""
    if t.kind in PYPI_KINDS and t.scope == "user" and not t.log.capped:
        projects = tuple(sorted(t.used_projects))
        if 0 < len(projects) <= FEW_PROJECTS:
            return projects
    return None


def _unused_since(t: Token, cutoff: datetime, elsewhere) -> datetime | None:
    """The token's last use (else its creation) when that is at or before the cutoff."""
    if t.name in elsewhere:
        return None
    since = t.last_use or t.created_at
    return since if since <= cutoff else None


def offline_findings(tokens: list[Token], now: datetime, unused_after: Period, elsewhere=()) -> list[Finding]:
    """`unused` and `user-wide`: from the inventory and the audit log alone (no network).
    Tokens in `elsewhere` (see used_elsewhere) are never `unused`."""
    cutoff = unused_cutoff(now, unused_after)
    findings: list[Finding] = []
    for t in tokens:
        since = _unused_since(t, cutoff, elsewhere)
        if since is not None and t.last_use is not None:
            findings.append(
                Finding(
                    t.name, t.kind, UNUSED,
                    f"last used {since.date().isoformat()} ({whole_days(now, since)} days ago), more than {unused_after} "
                    "([defaults] unused_after) ago",
                )
            )  # fmt: skip
        elif since is not None:
            findings.append(
                Finding(
                    t.name, t.kind, UNUSED,
                    f"no use recorded since it was added {since.date().isoformat()} ({whole_days(now, since)} "
                    f"days ago, more than {unused_after}); uses outside `tokens exec` (a CI secret) are not seen",
                )
            )  # fmt: skip
        projects = _few_projects(t)
        if projects:
            named, others = t.log.named, t.log.unnamed
            extra = f" ({others} other {'use' if others == 1 else 'uses'} named no project)" if others else ""
            findings.append(
                Finding(
                    t.name, t.kind, USER_WIDE,
                    f"user-wide (it can upload to every project of the account), but its {named} recorded "
                    f"{'use' if named == 1 else 'uses'} uploaded only {len(projects)} "
                    f"{'project' if len(projects) == 1 else 'projects'}: {_names(projects)}{extra}; "
                    "create project-scoped tokens (one per project) and retire this one",
                )
            )  # fmt: skip
    return findings


def offline_count(app) -> int:
    """How many `unused` and `user-wide` findings `tokens audit` would report (for remind):
    the same tests as offline_findings, without the text, on the last REMIND_WINDOW bytes
    of the audit log only (so its cost is bounded whatever the log's size; `tokens exec`
    records each use in the inventory too, so an older use is missed only by a user-wide
    token's project count)."""
    cutoff, elsewhere = unused_cutoff(app.now, app.config.unused_after), used_elsewhere(app.config)
    # Most tokens that can be a finding were last used (else created) well before the cutoff
    # (two days: whatever offset their stored times have) and have no use in the window: SQLite
    # says which, and they count one each, without an object or a parsed time. The others (near
    # the cutoff, reported revoked, with uses in the window) get the exact tests of load_tokens.
    inventory = app.inventory
    before, sure = to_iso(cutoff + timedelta(days=1)), to_iso(cutoff - timedelta(days=2))
    names, count = inventory.unused_candidates(before, sure)
    if not names:
        return 0
    logs, _ = _read_uses(app.data_dir, names, lambda name: datetime.fromisoformat(inventory.created_at_of(name)), REMIND_WINDOW)
    rows, sure_skipped = inventory.unsure_usage(before, sure, sorted(logs.keys() | (names & elsewhere.keys())))
    count -= sure_skipped  # sure ones with uses (tested exactly below) or used elsewhere (never unused)
    tokens, _ = _candidates(rows, cutoff, elsewhere, every_pypi=False)
    for t in tokens:
        if t.name in logs:
            t = t._replace(log=logs[t.name])
        count += (_unused_since(t, cutoff, elsewhere) is not None) + (_few_projects(t) is not None)
    return count


def projects_of(t: Token) -> tuple[tuple[str, ...], str, str]:
    """The projects whose publishing decides the trusted-publishing finding (at most
    MAX_PROJECTS), where they come from, and what was left out when capped: the caveats of a
    project-scoped token (the first ones), else the uses in the audit log (the most recent)."""
    scope, names = parse_scope(t.scope)
    if scope == "project":
        if len(names) > MAX_PROJECTS:
            return names[:MAX_PROJECTS], "it is scoped to", (
                f"only the first {MAX_PROJECTS} of the {len(names)} projects it is scoped to were checked"
            )  # fmt: skip
        return names, "it is scoped to", ""
    if scope == "none":
        return (), "", ""
    capped = (
        f"only the {MAX_PROJECTS} most recent of the more than {MAX_PROJECTS} projects it uploaded were checked"
        if t.log.capped
        else ""
    )
    return t.used_projects, "it uploaded (audit log)", capped


def trusted_publishing_findings(tokens: list[Token], reader, minting: dict[str, str] | None = None) -> tuple[list[Finding], list[str]]:
    """The `trusted-publishing` findings, and the tokens the index could not tell about.
    The index of a token is the one `[trusted_publishing.index]` (`minting`) maps its upload
    URL to, else pypi.org / test.pypi.org / its repository's origin (pypi_index.index_root)."""
    from tokenward.registries.pypi_index import KEPT, UNREACHABLE

    wanted: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
    unchecked: list[str] = []
    for t in tokens:
        if t.kind not in PYPI_KINDS:
            continue
        projects, source, capped = projects_of(t)
        if not projects:
            continue
        try:
            root = index_of(t.kind, t.repository, minting)
        except RegistryUnreachable as exc:
            unchecked.append(f"{t.name}: cannot check trusted publishing: {exc}")
            continue
        wanted[t.name] = (root, projects, source, capped)
    # The first project that keeps a token decides it: the reader asks no more about it.
    checks = reader.check_groups({name: [(root, p) for p in projects] for name, (root, projects, _, _) in wanted.items()})
    findings: list[Finding] = []
    for t in tokens:
        if t.name not in wanted:
            continue
        root, projects, source, capped = wanted[t.name]
        results = [checks.get((root, p)) for p in projects]
        if any(r is not None and r.state in KEPT for r in results):
            continue  # one project still uploaded with a token (or not there): still needed
        failed = [(p, r) for p, r in zip(projects, results) if r is None or r.state == UNREACHABLE]
        if failed:
            project, result = failed[0]
            reason = result.reason if result is not None else "not asked"
            unchecked.append(f"{t.name}: cannot check trusted publishing of {project}: {reason}")
            continue
        publishers = list(dict.fromkeys(p.describe() for r in results for p in r.publishers))
        releases = _names(f"{r.project} {r.version}" for r in results)
        whose = f"the latest releases of the {len(results)} projects" if len(results) > 1 else "the latest release of the project"
        findings.append(
            Finding(
                t.name, t.kind, TRUSTED_PUBLISHING,
                f"every file of {releases}, {whose} {source}, was uploaded through a trusted publisher "
                f"({_names(publishers)}): publishing no longer needs this token" + (f" ({capped})" if capped else ""),
            )
        )  # fmt: skip
    return findings, unchecked


def index_of(kind: str, repository: str, minting: dict[str, str] | None = None) -> str:
    """The index of a PyPI token: the one `[trusted_publishing.index]` (`minting`) maps its
    upload URL to, else pypi.org / test.pypi.org / its repository's origin (pypi_index.index_root).
    Raises RegistryUnreachable for a repository that is no http(s) URL."""
    from tokenward.publishers.base import normalize_url
    from tokenward.registries.kinds import DEFAULT_REPOSITORY
    from tokenward.registries.pypi_index import index_root

    mints = {normalize_url(upload): index.rstrip("/") for upload, index in (minting or {}).items() if index}
    return mints.get(normalize_url(repository or DEFAULT_REPOSITORY.get(kind, ""))) or index_root(kind, repository)


def _pypi_page(kind: str, repository: str, minting: dict[str, str] | None) -> str:
    """The token page of a PyPI token's index where known (pypi.org, test.pypi.org), else
    `revoke it where it was issued (HOST)`: never pypi.org's page for another index's token."""
    from tokenward.registries.http import host_of
    from tokenward.registries.pypi import PYPI, TESTPYPI
    from tokenward.registries.pypi_index import PYPI_INDEX, TESTPYPI_INDEX

    try:
        root = index_of(kind, repository, minting)
    except RegistryUnreachable:
        root = repository
    pages = {PYPI_INDEX: PYPI.token_page, TESTPYPI_INDEX: TESTPYPI.token_page}
    if root in pages:
        return pages[root]
    host = urlsplit(root).hostname and host_of(root) or "its index"
    return f"{WHERE_ISSUED} ({host[:100]})"


WHERE_ISSUED = "revoke it where it was issued"


def retire_step(name: str, kind: str, repository: str = "", minting: dict[str, str] | None = None) -> str:
    """`tokens revoke NAME` where the registry revokes by API, else its token page (for a
    PyPI token, its own index's page, or `revoke it where it was issued (HOST)`)."""
    import importlib

    from tokenward.registries.base import REGISTRY
    from tokenward.registries.kinds import TOKEN_PAGE

    if kind in PYPI_KINDS:
        return _pypi_page(kind, repository, minting)

    spec = REGISTRY.get(kind)
    if spec is not None:
        module_name, _, class_name = spec.partition(":")
        if callable(getattr(getattr(importlib.import_module(module_name), class_name), "revoke", None)):
            return f"tokens revoke {name}"
    return TOKEN_PAGE.get(kind) or f"tokens remove {name}"


def run_audit(app, *, reader=None) -> AuditRun:
    """Every finding, sorted by finding then name, each with its retire step."""
    elsewhere = used_elsewhere(app.config)
    cutoff = unused_cutoff(app.now, app.config.unused_after)
    tokens, warnings = load_tokens(app.inventory, app.data_dir, cutoff, elsewhere)
    findings = offline_findings(tokens, app.now, app.config.unused_after, elsewhere)
    unchecked: list[str] = []
    requests = 0
    if any(t.kind in PYPI_KINDS for t in tokens):
        from tokenward.registries.pypi_index import IndexReader

        reader = reader or IndexReader()
        found, unchecked = trusted_publishing_findings(tokens, reader, app.config.trusted_publishing.index)
        findings += found
        requests = reader.client.requests
    order = {f: i for i, f in enumerate(FINDINGS)}
    findings.sort(key=lambda f: (order[f.finding], f.name))
    repositories = {t.name: t.repository for t in tokens}
    minting = app.config.trusted_publishing.index
    steps = {(f.name, f.kind): "" for f in findings}
    for name, kind in steps:
        steps[(name, kind)] = retire_step(name, kind, repositories.get(name, ""), minting)
    done = [replace(f, retire=steps[(f.name, f.kind)]) for f in findings]
    return AuditRun(done, unchecked, warnings, requests)
