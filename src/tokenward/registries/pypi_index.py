"""PyPI's public JSON and Integrity APIs, read with no token: did the latest release of a
project come from a trusted publisher? (`tokens audit`; the facts are in docs/audit.md.)

- `GET {index}/pypi/{project}/json` -> `info.version` is the latest release and `urls`
  lists its files (`filename`); 404 when the index has no such project. PyPI answers a
  name that is not the project's own spelling with a 301 to it on the same host, which
  the client follows; a redirect to another host is refused (registries/http.py).
- `GET {index}/integrity/{project}/{version}/{filename}/provenance` (Accept
  `application/vnd.pypi.integrity.v1+json`) -> `{"version": 1, "attestation_bundles":
  [{"publisher": {"kind": "GitHub", "repository", "workflow", "environment", ...},
  "attestations": [...]}]}`; 404 when the file has no provenance.

A project counts as published through a trusted publisher when its latest release has at
least one file and every file has a provenance naming a publisher. Everything the index
answers is input: wrong JSON types, odd names and versions, too many files are an answer
"not as documented" (RegistryUnreachable, like a network error), never a crash; text from
it is cut short and shown through sanitize.safe by the printers.

Each project is asked once per run, whatever the number of tokens that name it, and the
requests run in a pool of at most MAX_JOBS threads. A token is decided by its first project
still uploaded with a token (or not on the index): nothing more is asked for it. A run starts
at most MAX_REQUESTS requests.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Hashable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tokenward.errors import RegistryUnreachable
from tokenward.registries.http import HttpClient, host_of

ACCEPT_JSON = {"Accept": "application/json"}
ACCEPT_INTEGRITY = {"Accept": "application/vnd.pypi.integrity.v1+json"}
MAX_JOBS = 8
MAX_REQUESTS = 5000  # requests to the index per run; then nothing more is asked (and audit says so)
RUN_DEADLINE = 60.0  # seconds for all of a run's requests; then nothing more is asked or waited for
MAX_FILES = 500  # files in one release; more is not an answer we check file by file
MAX_TEXT = 200  # characters kept of any text from the index
PYPI_INDEX = "https://pypi.org"
TESTPYPI_INDEX = "https://test.pypi.org"
# The upload hosts of PyPI and TestPyPI, and the index that serves their JSON APIs.
_INDEX_OF_HOST = {"upload.pypi.org": PYPI_INDEX, "pypi.org": PYPI_INDEX, "test.pypi.org": TESTPYPI_INDEX}
# PEP 440 versions and wheel/sdist file names use these characters only; anything else
# (a slash, `..`, a control character) would change the URL we build from it.
_PROJECT = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?")  # PEP 508 names (from caveats, the audit log)
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}")
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,254}")

TRUSTED = "trusted"  # every file of the latest release has a publisher
TOKEN = "token"  # some file has no provenance: uploaded with a token (or without attestations)
MISSING = "missing"  # no such project, or no file in its latest release
UNREACHABLE = "unreachable"
KEPT = (TOKEN, MISSING)  # a project in one of these keeps its token: no need to ask about the others


def index_root(kind: str, repository: str) -> str:
    """The index whose JSON API describes what a token of `kind` uploads to `repository`:
    pypi.org and test.pypi.org for theirs, else the repository's own origin (a private
    index or a test server). Raises RegistryUnreachable for a repository that is no URL."""
    if not repository:
        return TESTPYPI_INDEX if kind == "testpypi" else PYPI_INDEX
    parts = urlsplit(repository)
    try:
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        host = ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise RegistryUnreachable(host_of(repository)[:100], "the token's repository is not an http(s) URL")
    if host in _INDEX_OF_HOST:
        return _INDEX_OF_HOST[host]
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}"


def _has_control(text: str) -> bool:
    """Control, format (bidi overrides) or surrogate characters: no documented field has any."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


def _text(value: object, url: str = "") -> str:
    """A string field of an answer, cut to MAX_TEXT; one with a control character is an
    answer not as documented (refused, so it reaches neither the text nor --json)."""
    if not isinstance(value, str):
        return ""
    if _has_control(value):
        raise _not_documented(url, "a text field of the answer (a control character)")
    return value[:MAX_TEXT]


# Legacy distribution formats PyPI still serves for old releases: `{name}-{version}...{ext}`
# with the name and version escaped like an sdist's (PEP 625's rule, read leniently).
_LEGACY_EXTENSIONS = (".tar.bz2", ".tar.xz", ".tgz", ".tar", ".egg")


def _belongs(filename: str, project: str, version: str) -> bool:
    """Whether a file name is one of `project` `version`'s distributions by the wheel
    and sdist name rules (packaging.utils), or a legacy sdist/egg's `name-version` prefix."""
    try:
        if filename.endswith(".whl"):
            name, parsed, _build, _tags = parse_wheel_filename(filename)
            return name == project and canonicalize_version(parsed) == canonicalize_version(version)
        if filename.endswith((".tar.gz", ".zip")):
            name, parsed = parse_sdist_filename(filename)
            return name == project and canonicalize_version(parsed) == canonicalize_version(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return False
    for ext in _LEGACY_EXTENSIONS:
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            if ext == ".egg":  # name-version(-pyX.Y(-platform))
                name, _, rest = stem.partition("-")
                file_version = rest.partition("-")[0]
            else:
                name, _, file_version = stem.rpartition("-")
            return canonicalize_name(name) == project and canonicalize_version(file_version) == canonicalize_version(version)
    return False


@dataclass(frozen=True)
class Publisher:
    """A trusted publisher as the Integrity API names it (strings cut to MAX_TEXT)."""

    kind: str
    repository: str = ""
    workflow: str = ""
    environment: str = ""

    def describe(self) -> str:
        where = " ".join(p for p in (self.repository, self.workflow) if p)
        env = f", environment {self.environment}" if self.environment else ""
        return f"{self.kind} {where}{env}".strip() if where else f"{self.kind}{env}"


@dataclass(frozen=True)
class ProjectCheck:
    index: str
    project: str
    state: str  # TRUSTED, TOKEN, MISSING or UNREACHABLE
    version: str = ""
    files: int = 0
    publishers: tuple[Publisher, ...] = ()
    untrusted: tuple[str, ...] = ()  # files of the latest release with no publisher
    reason: str = ""  # why UNREACHABLE (host and what went wrong), never a value


@dataclass
class _Release:
    index: str
    project: str
    version: str = ""
    files: tuple[str, ...] = ()
    state: str = ""
    reason: str = ""
    publishers: dict[str, tuple[Publisher, ...]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    outstanding: int = 0  # provenance answers still to come

    @property
    def key(self) -> tuple[str, str]:
        return (self.index, self.project)


def _not_documented(url: str, what: str) -> RegistryUnreachable:
    return RegistryUnreachable(host_of(url), f"{what} is not as PyPI documents it")


def parse_release(data: object, url: str, project: str) -> tuple[str, tuple[str, ...]]:
    """(latest version, its file names) from a `/pypi/{project}/json` answer. An answer
    about another project (info.name, or a file that is not this project's at this version
    by the wheel/sdist name rules) is not as documented."""
    if not isinstance(data, dict) or not isinstance(data.get("info"), dict) or not isinstance(data.get("urls"), list):
        raise _not_documented(url, "the project's JSON")
    name = _text(data["info"].get("name"), url)
    if canonicalize_name(name) != canonicalize_name(project):
        raise _not_documented(url, "the project's name in its JSON (another project's answer)")
    version = data["info"].get("version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise _not_documented(url, "the latest version's name")
    if len(data["urls"]) > MAX_FILES:
        raise RegistryUnreachable(host_of(url), f"the latest release lists {len(data['urls'])} files, more than the {MAX_FILES} checked")
    files: list[str] = []
    for entry in data["urls"]:
        filename = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(filename, str) or not _FILENAME.fullmatch(filename) or ".." in filename:
            raise _not_documented(url, "a file name of the latest release")
        if not _belongs(filename, canonicalize_name(project), version):
            raise _not_documented(url, "a file name of the latest release (not this project's at this version)")
        files.append(filename)
    return version, tuple(dict.fromkeys(files))


_PUBLISHER_FIELDS = (
    "kind", "repository", "repository_owner", "repository_name", "workflow", "workflow_filepath", "workflow_filename", "environment",
)  # fmt: skip


def parse_provenance(data: object, url: str) -> tuple[Publisher, ...]:
    """The publishers of a provenance object (PEP 740: one per attestation bundle)."""
    bundles = data.get("attestation_bundles") if isinstance(data, dict) else None
    if not isinstance(bundles, list):
        raise _not_documented(url, "the provenance")
    publishers: list[Publisher] = []
    for bundle in bundles:
        publisher = bundle.get("publisher") if isinstance(bundle, dict) else None
        if not isinstance(publisher, dict):
            raise _not_documented(url, "a publisher of the provenance")
        field = {key: _text(publisher.get(key), url) for key in _PUBLISHER_FIELDS}
        kind = field["kind"]
        if not kind:
            continue
        # PyPI's GitHub publisher: repository, workflow; GitLab: workflow_filepath; PEP 740's
        # illustrative one: repository_owner + repository_name, workflow_filename.
        owner, name = field["repository_owner"], field["repository_name"]
        publishers.append(
            Publisher(
                kind=kind,
                repository=field["repository"] or (f"{owner}/{name}" if owner and name else ""),
                workflow=field["workflow"] or field["workflow_filepath"] or field["workflow_filename"],
                environment=field["environment"],
            )
        )
    return tuple(dict.fromkeys(publishers))


class IndexReader:
    """Asks each (index, project) once per run (the reader keeps what it learnt), at most
    `jobs` requests at a time, at most `max_requests` in all, and none started or waited for
    once `deadline` seconds of the run have passed."""

    def __init__(self, client: HttpClient | None = None, *, jobs: int = MAX_JOBS, max_requests: int = MAX_REQUESTS,
                 deadline: float = RUN_DEADLINE) -> None:  # fmt: skip
        self.client = client or HttpClient()
        self.deadline = deadline
        self.jobs = max(1, min(jobs, MAX_JOBS))
        self.max_requests = max_requests
        self.asked = 0  # requests started (a redirect or retry of one is part of it)
        self._cache: dict[tuple[str, str], ProjectCheck] = {}

    def check_all(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ProjectCheck]:
        """Every (index, project) checked in full (each its own group)."""
        return self.check_groups({key: [key] for key in dict.fromkeys(wanted)})

    def check_groups(self, groups: Mapping[Hashable, Sequence[tuple[str, str]]]) -> dict[tuple[str, str], ProjectCheck]:
        """The checks that decide each group (a token) of (index, project) keys. A group is
        decided by its first project in a KEPT state: its other projects are then not asked
        (nor the rest of their files), unless another undecided group needs them; one file
        without a provenance decides its project. Projects are taken in turn from each
        group (in the group's order). Once max_requests are started, nothing more is: a key
        an undecided group still needed is UNREACHABLE, saying so. A key absent from the
        answer was not needed."""
        interested: dict[tuple[str, str], list[Hashable]] = {}
        for group, keys in groups.items():
            for key in dict.fromkeys(keys):
                interested.setdefault(key, []).append(group)
        decided = {g for g, keys in groups.items() if any(k in self._cache and self._cache[k].state in KEPT for k in keys)}

        def wanted(key: tuple[str, str]) -> bool:
            return any(g not in decided for g in interested[key])

        pending = deque(k for k in _in_turn(groups.values()) if k not in self._cache)
        ready: deque[tuple[_Release, str]] = deque()  # provenance asks of releases being read
        started: dict[tuple[str, str], _Release] = {}

        def next_ask() -> tuple[_Release, str | None] | None:
            while ready:
                release, filename = ready.popleft()
                if not release.state and wanted(release.key):
                    return release, filename
            while pending:
                key = pending.popleft()
                if key not in self._cache and key not in started and wanted(key):
                    started[key] = _Release(*key)
                    return started[key], None
            return None

        def finish(release: _Release) -> None:
            check = _verdict(release)
            release.state = release.state or check.state
            self._cache[release.key] = check
            if check.state in KEPT:
                decided.update(interested[release.key])

        in_flight: dict[Future, tuple[_Release, str | None]] = {}
        ends = time.monotonic() + self.deadline

        def left() -> float:
            return ends - time.monotonic()

        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="pypi-index")
        try:
            while True:
                while len(in_flight) < self.jobs and self.asked < self.max_requests and left() > 0:
                    ask = next_ask()
                    if ask is None:
                        break
                    self.asked += 1
                    release, filename = ask
                    job = self._read_release if filename is None else self._read_provenance
                    in_flight[pool.submit(job, release.index, release.project, release.version, filename)] = ask
                if not in_flight:
                    break
                done, _ = wait(in_flight, timeout=max(0.0, left()), return_when=FIRST_COMPLETED)
                if not done:
                    break  # the run's deadline passed: the answers still out are not waited for
                for future in done:
                    release, filename = in_flight.pop(future)
                    answer = future.result()
                    if filename is None:
                        release.state, release.reason, release.version, release.files = answer
                        release.outstanding = len(release.files)
                        if release.state:
                            finish(release)
                        else:
                            ready.extendleft((release, name) for name in reversed(release.files))
                        continue
                    release.outstanding -= 1
                    publishers, error = answer
                    if error:
                        release.errors.append(error)
                    else:
                        release.publishers[filename] = publishers
                    if not release.state and (not publishers and not error or release.outstanding == 0):
                        finish(release)  # a file without provenance decides; else all answered
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        answer = dict(self._cache)
        spent = f"not asked: this run's limit of {self.max_requests} requests to the index is spent"
        if left() <= 0:
            spent = f"not asked or no answer: this run's deadline of {self.deadline:g} s for the index passed"
        for key, groups_of in interested.items():
            if key not in answer and any(g not in decided for g in groups_of):
                answer[key] = ProjectCheck(*key, state=UNREACHABLE, reason=spent)
        return answer

    def _read_release(self, index: str, project: str, _version: str, _filename: None) -> tuple[str, str, str, tuple[str, ...]]:
        """(state, reason, version, files) of the project's latest release."""
        if not _PROJECT.fullmatch(project):
            return MISSING, "", "", ()  # no index has a project by a name PEP 508 forbids: nothing to ask
        url = f"{index}/pypi/{quote(project, safe='')}/json"
        try:
            reply = self.client.request("GET", url, headers=ACCEPT_JSON)
            if reply.status == 404:
                return MISSING, "", "", ()
            if reply.status != 200:
                raise RegistryUnreachable(host_of(url), f"HTTP {reply.status} for the project's JSON")
            version, files = parse_release(reply.json(), url, project)
        except RegistryUnreachable as exc:
            return UNREACHABLE, str(exc), "", ()
        except Exception as exc:  # noqa: BLE001 - an answer must never crash the run
            return UNREACHABLE, f"registry {host_of(url)}: unreadable answer ({type(exc).__name__})", "", ()
        return ("" if files else MISSING), "", version, files

    def _read_provenance(self, index: str, project: str, version: str, filename: str) -> tuple[tuple[Publisher, ...], str]:
        """(publishers, "") of one file's provenance (none: no provenance), or ((), why not)."""
        url = "/".join((index, "integrity", quote(project, safe=""), quote(version, safe=""), quote(filename, safe=""), "provenance"))
        try:
            reply = self.client.request("GET", url, headers=ACCEPT_INTEGRITY)
            if reply.status == 404:
                return (), ""
            if reply.status != 200:
                raise RegistryUnreachable(host_of(url), f"HTTP {reply.status} for the provenance of {filename}")
            return parse_provenance(reply.json(), url), ""
        except RegistryUnreachable as exc:
            return (), str(exc)
        except Exception as exc:  # noqa: BLE001 - an answer must never crash the run
            return (), f"registry {host_of(url)}: unreadable answer ({type(exc).__name__})"


def _in_turn(groups: Iterable[Sequence[tuple[str, str]]]) -> Iterator[tuple[str, str]]:
    """The keys of the groups taken in turn: the first of each, then the second of each, ..."""
    seen: set[tuple[str, str]] = set()
    for row in zip_longest(*groups):
        for key in row:
            if key is not None and key not in seen:
                seen.add(key)
                yield key


def _verdict(release: _Release) -> ProjectCheck:
    base = {"index": release.index, "project": release.project, "version": release.version, "files": len(release.files)}
    if release.state:
        return ProjectCheck(**base, state=release.state, reason=release.reason)
    untrusted = tuple(name for name in release.files if name in release.publishers and not release.publishers[name])
    if untrusted:  # known, whatever the files we could not ask about
        return ProjectCheck(**base, state=TOKEN, untrusted=untrusted)
    if release.errors:
        return ProjectCheck(**base, state=UNREACHABLE, reason=release.errors[0])
    publishers = tuple(dict.fromkeys(p for name in release.files for p in release.publishers[name]))
    return ProjectCheck(**base, state=TRUSTED, publishers=publishers)
