"""`tokens verify` of 300 tokens: 100 on the GitHub stand-in, 100 on the GitLab stand-in,
100 on a real verdaccio (behind a small proxy), each server adding 50 ms per request.

Prints the requests per token and kind, and the median wall time of the bounded pool
(`--jobs 8`, the default) against a one-at-a-time baseline (`--jobs 1`) measured in the
same run, interleaved. Values are read from a file keyring (tests/keyring_backend.py), so
the figure is about the registry side.

    .venv/bin/python benchmarks/bench_verify.py [--runs 3] [--latency 0.05] [--per-kind 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import BIN, byte_compile, interleaved_medians  # noqa: E402
from tests import servers  # noqa: E402
from tests.registry_standins import StandIn  # noqa: E402


class DelayProxy:
    """Forwards every request to `upstream` after `delay` seconds; counts them."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.count = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16

            def log_message(self, *args):
                pass

            def _forward(self):
                proxy.count += 1
                time.sleep(proxy.delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, data, ctype = answer.status, answer.read(), answer.headers.get("Content-Type", "")
                except urllib.error.HTTPError as exc:
                    status, data, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--per-kind", type=int, default=100)
    args = parser.parse_args()
    byte_compile()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    gh, gl = StandIn("github").start(), StandIn("gitlab").start()
    verdaccio = servers.start_verdaccio(work)
    try:
        password = "bench-password-1"
        login = servers.npm_user(verdaccio.url, "bench", password)
        npm_values = [servers.npm_token(verdaccio.url, login, password)[0] for _ in range(args.per_kind)]
        proxy = DelayProxy(verdaccio.url, args.latency)
        lines = []
        for i in range(args.per_kind):
            value = f"ghp_bench{i:04d}" + "x" * 28
            gh.tokens[value] = {"login": "octo", "expires": "2031-03-01 12:00:00 UTC", "scopes": "repo"}
            lines.append({"name": f"gh-{i:03d}", "value": value, "kind": "github", "repository": gh.url})
            value = f"glpat-bench{i:04d}" + "y" * 10
            gl.tokens[value] = {"user_id": 1, "expires_at": "2031-01-31"}
            lines.append({"name": f"gl-{i:03d}", "value": value, "kind": "gitlab", "repository": gl.url})
            lines.append({"name": f"npm-{i:03d}", "value": npm_values[i], "kind": "npm", "repository": proxy.url})
        source = work / "tokens.jsonl"
        source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        env = dict(
            os.environ,
            TOKENS_HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "xdg"),
            PYTHONPATH=str(ROOT),
            PYTHON_KEYRING_BACKEND="tests.keyring_backend.FileKeyring",
            TOKENWARD_TEST_KEYRING=str(work / "keyring.json"),
        )
        env.pop("TOKENS_CONFIG", None)
        tokens = str(BIN / "tokens")
        done = subprocess.run([tokens, "import", str(source), "--format", "json"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr[-500:]}")
        gh.delay = gl.delay = args.latency

        # One counted run for the request figures.
        gh.seen.clear()
        gl.seen.clear()
        proxy.count = 0
        check = subprocess.run([tokens, "verify", "--json"], env=env, capture_output=True, text=True)
        results = [row["result"] for row in json.loads(check.stdout)]
        n = args.per_kind
        print(f"tokens: {len(results)} ({n} GitHub stand-in, {n} GitLab stand-in, {n} npm on verdaccio), "
              f"latency {args.latency * 1000:.0f} ms per request")
        print(f"results: {results.count('live')} live, exit {check.returncode}")
        print(f"requests per token: GitHub {len(gh.seen) / n:.2f}, GitLab {len(gl.seen) / n:.2f}, npm {proxy.count / n:.2f}")

        cases = {
            "one at a time (--jobs 1)": ([tokens, "verify", "--jobs", "1"], env, (0,)),
            "bounded pool (--jobs 16, default)": ([tokens, "verify"], env, (0,)),
        }
        medians = interleaved_medians(cases, args.runs)
        for name, seconds in medians.items():
            print(f"{name}: median {seconds:.2f} s over {args.runs} runs")
        base, pooled = medians.values()
        print(f"ratio: {pooled / base:.3f} (target <= 0.15)")
    finally:
        gh.stop()
        gl.stop()
        verdaccio.stop()


if __name__ == "__main__":
    main()
