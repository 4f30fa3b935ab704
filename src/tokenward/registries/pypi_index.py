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
requests run in a pool of at most MAX_JOBS threads.
"""

from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable
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
    """Asks each (index, project) once per run (the reader keeps what it learnt)."""

    def __init__(self, client: HttpClient | None = None, *, jobs: int = MAX_JOBS) -> None:
        self.client = client or HttpClient()
        self.jobs = max(1, min(jobs, MAX_JOBS))
        self._cache: dict[tuple[str, str], ProjectCheck] = {}

    def check_all(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ProjectCheck]:
        keys = [k for k in dict.fromkeys(wanted) if k not in self._cache]
        if keys:
            releases = [_Release(index, project) for index, project in keys]
            with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="pypi-index") as pool:
                list(pool.map(self._read_release, releases))
                asks = [(r, name) for r in releases if not r.state for name in r.files]
                list(pool.map(lambda ask: self._read_provenance(*ask), asks))
            for release in releases:
                self._cache[(release.index, release.project)] = _verdict(release)
        return dict(self._cache)

    def _read_release(self, release: _Release) -> None:
        if not _PROJECT.fullmatch(release.project):
            release.state = MISSING  # no index has a project by a name PEP 508 forbids: nothing to ask
            return
        url = f"{release.index}/pypi/{quote(release.project, safe='')}/json"
        try:
            reply = self.client.request("GET", url, headers=ACCEPT_JSON)
            if reply.status == 404:
                release.state = MISSING
                return
            if reply.status != 200:
                raise RegistryUnreachable(host_of(url), f"HTTP {reply.status} for the project's JSON")
            release.version, release.files = parse_release(reply.json(), url, release.project)
        except RegistryUnreachable as exc:
            release.state, release.reason = UNREACHABLE, str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - an answer must never crash the run
            release.state, release.reason = UNREACHABLE, f"registry {host_of(url)}: unreadable answer ({type(exc).__name__})"
            return
        if not release.files:
            release.state = MISSING

    def _read_provenance(self, release: _Release, filename: str) -> None:
        url = "/".join(
            (release.index, "integrity", quote(release.project, safe=""), quote(release.version, safe=""), quote(filename, safe=""), "provenance")
        )
        try:
            reply = self.client.request("GET", url, headers=ACCEPT_INTEGRITY)
            if reply.status == 404:
                release.publishers[filename] = ()
                return
            if reply.status != 200:
                raise RegistryUnreachable(host_of(url), f"HTTP {reply.status} for the provenance of {filename}")
            release.publishers[filename] = parse_provenance(reply.json(), url)
        except RegistryUnreachable as exc:
            release.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - an answer must never crash the run
            release.errors.append(f"registry {host_of(url)}: unreadable answer ({type(exc).__name__})")


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
