"""Servers of our own that the fault, crash and leak tests may stop, seal or throttle,
never the shared session servers. All on 127.0.0.1.

- OpenBao with integrated storage (not dev mode): data survives a stop, so "stopped, then
  back" is what it is for a real user; initialised with one unseal key, which also
  unseals it after `seal`. A file audit device logs every request.
- moto with its request recorder: stopped and restarted on the same port, it replays
  the recording and holds what it held before.
- A throttling endpoint that answers every AWS call with 429 ThrottlingException.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests import servers


class OwnOpenBao:
    """OpenBao on integrated (raft) storage, with a file audit device."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.audit_log = workdir / "openbao-audit.log"
        self.config = workdir / "openbao.hcl"
        cluster_port = servers.free_port()
        (workdir / "data").mkdir(exist_ok=True)
        self.config.write_text(
            f'storage "raft" {{\n  path = "{workdir / "data"}"\n  node_id = "tests"\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{cluster_port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.url}"\ncluster_addr = "http://127.0.0.1:{cluster_port}"\n'
            f'audit "file" "tests" {{\n  options {{\n    file_path = "{self.audit_log}"\n  }}\n}}\n'
        )
        self.server: servers.Server | None = None
        self.extra: dict = {}
        self.start()
        import hvac

        client = hvac.Client(url=self.url)
        keys = client.sys.initialize(secret_shares=1, secret_threshold=1)
        self.unseal_key = keys["keys"][0]
        self.extra["root_token"] = keys["root_token"]
        self.unseal()
        self.root().sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})

    def start(self) -> None:
        env = dict(os.environ, HOME=str(self.workdir))
        env.pop("VAULT_TOKEN", None)
        argv = [servers.find_tool("bao") or "bao", "server", f"-config={self.config}"]
        self.server = servers.start(argv, self.url, f"{self.url}/v1/sys/health", self.workdir / "openbao.log", env=env)
        if self.extra.get("root_token"):
            self.unseal()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def root(self):
        import hvac

        return hvac.Client(url=self.url, token=self.extra["root_token"])

    def seal(self) -> None:
        self.root().sys.seal()

    def unseal(self) -> None:
        import hvac

        hvac.Client(url=self.url).sys.submit_unseal_key(self.unseal_key)
        # Integrated storage elects itself leader a moment after unsealing.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=2)  # 200 only when active
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError("OpenBao did not become active after unsealing")

    def deny_token(self) -> str:
        """A token whose only policy denies everything: every request is a 403."""
        root = self.root()
        root.sys.create_or_update_policy(name="deny-all", policy='path "*" {\n  capabilities = ["deny"]\n}\n')
        created = root.auth.token.create(policies=["deny-all"], no_default_policy=True, ttl="1h")
        return created["auth"]["client_token"]


class OwnMoto:
    """moto_server with its recorder on, so a restart brings its secrets back."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = workdir / "moto-recording.jsonl"
        self.server: servers.Server | None = None
        self.start(replay=False)

    def _post(self, path: str) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/recorder/{path}", method="POST"), timeout=30).read()

    def start(self, replay: bool = True) -> None:
        env = dict(os.environ, MOTO_RECORDER_FILEPATH=str(self.recording))
        argv = [servers.find_tool("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.server = servers.start(argv, self.url, f"{self.url}/moto-api/", self.workdir / "moto.log", env=env)
        if replay:
            self._post("replay-recording")
        self._post("start-recording")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class Throttler:
    """Every request gets what AWS sends when it throttles: 429, ThrottlingException."""

    def __init__(self) -> None:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(429)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", "ThrottlingException")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
