"""A stand-in for PyPI's public JSON and Integrity APIs (pypi.org cannot run here).

Built only from PyPI's documentation of those APIs (docs.pypi.org "JSON API" and
"Integrity API", PEP 740's provenance object; our notes in docs/audit.md) and nothing else:
- `GET /pypi/{project}/json` -> 200 {"info": {"name", "version", ...}, "urls": [the latest
  release's files: {"filename", "packagetype", "upload_time_iso_8601", "digests", ...}],
  "releases": {version: [files]}}; 404 {"message": "Not Found"} for an unknown project;
  a name that is not the project's own spelling -> 301 to `/pypi/{Name}/json` (same host).
- `GET /integrity/{project}/{version}/{filename}/provenance` (Accept
  `application/vnd.pypi.integrity.v1+json` or `application/json`, else 406) -> 200
  {"version": 1, "attestation_bundles": [{"publisher": {"kind", "repository", "workflow",
  "environment", "claims"}, "attestations": [...]}]}; 404 {"message": "No provenance
  available for FILE"} for a file uploaded without one.

A project is `Project(name, version, files={filename: publisher or None})`. Hostile answers a
test can ask for, per project (`fault`): "5xx" (503 on every path), "provenance-5xx" (503 for
the provenance only), "wrong-types" (200 with `info` a list), "provenance-wrong-types"
(`attestation_bundles` a string), "huge" (a 2 MiB body), "not-json", "deep-json" (100,000
nested arrays), "redirect-elsewhere" (302 to the same path on `localhost`), "bad-filename"
(a file named `../../x`), "control-chars" (a publisher repository with an ANSI escape and a
newline), "many-files" (600 files), "forbidden" (403 {"message": "Attestations temporarily
disabled"} on the provenance, as PyPI answers when attestations are switched off),
"other-project" (the JSON of another project: info.name `totally-other`, its file
`totally_other-1.0.tar.gz`), "foreign-file" (this project's info, but one file of another
project), "other-version" (one file of another version), "control-name" (info.name with an
escape sequence).

`seen` records every path asked, `accept` the Accept headers, `credentials` any
Authorization or Cookie header (none is ever due: both APIs are public), `max_in_flight` the most
requests served at once (`delay` holds each answer that long, to let them overlap). `hold`, when
set to an Event, holds every answer until the test sets it (an index that does not answer).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests import local_http

GITHUB = {"kind": "GitHub", "repository": "acme/tp-project", "workflow": "release.yml", "environment": "pypi"}
INTEGRITY = "application/vnd.pypi.integrity.v1+json"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Project:
    name: str
    version: str
    files: dict[str, dict | None]
    fault: str | None = None


@dataclass
class IndexStandIn:
    projects: dict[str, Project] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    accept: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)  # any Authorization/Cookie header sent
    delay: float = 0.0
    hold: threading.Event | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add(self, name: str, version: str, files: dict[str, dict | None], fault: str | None = None) -> Project:
        project = Project(name, version, files, fault)
        self.projects[normalize(name)] = project
        return project

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "IndexStandIn":
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = local_http.serve(Handler)
        return self

    def stop(self) -> None:
        local_http.stop(self._server)

    def reset(self) -> None:
        self.projects.clear()
        self.seen.clear()
        self.accept.clear()
        self.credentials.clear()
        self.delay = 0.0
        self.hold = None
        self.max_in_flight = 0


def _file(name: str, version: str) -> dict:
    return {
        "filename": name,
        "packagetype": "sdist" if name.endswith(".tar.gz") else "bdist_wheel",
        "python_version": "source" if name.endswith(".tar.gz") else "py3",
        "digests": {"sha256": "0" * 64},
        "size": 1234,
        "upload_time_iso_8601": "2026-01-02T03:04:05.000000Z",
        "url": f"https://files.example/{name}",
        "yanked": False,
    }


def _provenance(publisher: dict) -> dict:
    return {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {**publisher, "claims": {"ref": "refs/tags/v1", "sha": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
                "attestations": [
                    {
                        "version": 1,
                        "verification_material": {"certificate": "MIIC", "transparency_entries": []},
                        "envelope": {"statement": "eyJfdHlwZSI6IC4uLn0=", "signature": "MEUC"},
                    }
                ],
            }
        ],
    }


class _Handler(BaseHTTPRequestHandler):
    owner: IndexStandIn
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: Any = None, raw: bytes | None = None, headers: dict | None = None) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        owner = self.owner
        with owner._lock:
            owner.seen.append(self.path)
            owner.accept.append(self.headers.get("Accept", ""))
            owner.credentials += [v for v in (self.headers.get("Authorization"), self.headers.get("Cookie")) if v]
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            if owner.delay:
                time.sleep(owner.delay)
            if owner.hold is not None:
                owner.hold.wait(60)
            self._route()
        finally:
            with owner._lock:
                owner.in_flight -= 1

    def _route(self) -> None:
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        if len(parts) == 3 and parts[0] == "pypi" and parts[2] == "json":
            return self._project(parts[1])
        if len(parts) == 5 and parts[0] == "integrity" and parts[4] == "provenance":
            return self._provenance(parts[1], parts[2], parts[3])
        return self._reply(404, {"message": "Not Found"})

    def _fault(self, project: Project, provenance: bool) -> bool:
        fault = project.fault
        if fault == "5xx" or (fault == "provenance-5xx" and provenance):
            self._reply(503, {"message": "Service Unavailable"})
        elif fault == "huge":
            self._reply(200, raw=b"[" + b"0," * (1024 * 1024) + b"0]")
        elif fault == "not-json":
            self._reply(200, raw=b"<html>maintenance</html>")
        elif fault == "deep-json":
            self._reply(200, raw=b"[" * 100_000 + b"]" * 100_000)
        elif fault == "redirect-elsewhere":
            port = self.owner._server.server_address[1]
            self._reply(302, headers={"Location": f"http://localhost:{port}{self.path}"})
        elif fault == "forbidden" and provenance:
            self._reply(403, {"message": "Attestations temporarily disabled"})
        else:
            return False
        return True

    def _project(self, name: str) -> None:
        project = self.owner.projects.get(normalize(name))
        if project is None:
            return self._reply(404, {"message": "Not Found"})
        if self._fault(project, provenance=False):
            return None
        if name != project.name:
            return self._reply(301, headers={"Location": f"/pypi/{project.name}/json"})
        files = [_file(f, project.version) for f in project.files]
        if project.fault == "bad-filename":
            files.append(_file("../../x", project.version))
        if project.fault == "many-files":
            files = [_file(f"p-{i}.tar.gz", project.version) for i in range(600)]
        if project.fault == "foreign-file":
            files.append(_file("totally_other-1.0.tar.gz", project.version))
        if project.fault == "other-version":
            files.append(_file(f"{normalize(project.name).replace('-', '_')}-99.0-py3-none-any.whl", project.version))
        name = {"other-project": "totally-other", "control-name": project.name + "\x1b[2J"}.get(project.fault or "", project.name)
        if project.fault == "other-project":
            files = [_file("totally_other-1.0.tar.gz", "1.0")]
        info: Any = {"name": name, "version": project.version, "summary": "", "yanked": False}
        if project.fault == "wrong-types":
            info = [project.name, project.version]
        self._reply(200, {"info": info, "last_serial": 1, "releases": {project.version: files}, "urls": files, "vulnerabilities": []})

    def _provenance(self, name: str, version: str, filename: str) -> None:
        project = self.owner.projects.get(normalize(name))
        wanted = self.headers.get("Accept", "")
        if wanted and INTEGRITY not in wanted and "application/json" not in wanted and "*/*" not in wanted:
            return self._reply(406, {"message": "Request not acceptable"})
        if project is not None and project.fault == "other-project" and filename == "totally_other-1.0.tar.gz":
            return self._reply(200, _provenance(GITHUB))  # what made the other project's answer look trusted
        if project is None or version != project.version or filename not in project.files:
            return self._reply(404, {"message": "Not Found"})
        if self._fault(project, provenance=True):
            return None
        publisher = project.files[filename]
        if publisher is None:
            return self._reply(404, {"message": f"No provenance available for {filename}"})
        if project.fault == "provenance-wrong-types":
            return self._reply(200, {"version": 1, "attestation_bundles": "GitHub"})
        if project.fault == "control-chars":
            publisher = {**publisher, "repository": "acme/\x1b[31mred\nFORGED LINE"}
        return self._reply(200, _provenance(publisher))
