"""`tokens audit` and the count `tokens remind` shows, measured.

    .venv/bin/python benchmarks/bench_audit.py [--runs 9]

1. remind's count of the offline findings (obsolete.offline_count), in-process, best of
   --runs: 10,000 PyPI tokens (benchmarks/bench_cli.fill: created over 400 days, none used,
   so 5,500 are unused), then the same with every token used today and a 10,000-line audit
   log (what a busy machine has).
2. `tokens audit` against the stand-in index (tests/pypi_index_standin.py), each answer held
   50 ms: 60 project-scoped tokens over 20 projects of 3 files (each project named by 3
   tokens): requests sent (each project once: 20 + 60), the most in flight at once (pool of
   at most 8), and the wall time against 80 requests one after another (4 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cli import fill  # noqa: E402


def best_ms(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def offline(runs: int) -> None:
    from tokenward.app import App
    from tokenward.config import default_config
    from tokenward.obsolete import offline_count

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill(home, 10_000)
        app = App(config=default_config(), data_dir=home, now=datetime.now(timezone.utc))
        count = offline_count(app)
        label = f"10,000 tokens, none used ({count} findings)"
        print(f"  {label:<60} {best_ms(lambda: offline_count(app), runs):7.1f} ms")
        now = app.now.replace(microsecond=0)
        with sqlite3.connect(home / "inventory.sqlite3") as db:
            db.execute("UPDATE tokens SET last_used_at = ?", (now.isoformat(),))
        fd = os.open(home / "audit.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(fd, "w") as log:
            for i in range(10_000):
                entry = {"event": "exec", "token": f"tok-{i:05d}", "time": (now - timedelta(seconds=i)).isoformat(),
                         "projects": [f"p{i}"], "tool": "twine", "command": "twine", "exit_status": 0}  # fmt: skip
                log.write(json.dumps(entry, sort_keys=True) + "\n")
        count = offline_count(app)
        label = f"10,000 tokens used today, a 10,000-line log ({count} findings)"
        print(f"  {label:<60} {best_ms(lambda: offline_count(app), runs):7.1f} ms")
        app.close()


def online() -> None:
    from tests.pypi_index_standin import GITHUB, IndexStandIn
    from tokenward.app import App
    from tokenward.config import default_config
    from tokenward.inventory import Inventory, TokenRecord
    from tokenward.obsolete import run_audit

    index = IndexStandIn().start()
    try:
        index.delay = 0.05
        for p in range(20):
            index.add(f"proj-{p}", "1.0", {f"proj_{p}-1.0{ext}": GITHUB for ext in (".tar.gz", "-py3-none-any.whl", "-py2-none-any.whl")})
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            now = datetime.now(timezone.utc).replace(microsecond=0)
            records = [
                TokenRecord(name=f"pypi-{t}", kind="pypi", created_at=now, rotated_at=now, stores=("keyring",),
                            fingerprint="0" * 16, scope=f"project:proj-{t % 20}", repository=index.url + "/legacy/")
                for t in range(60)
            ]  # fmt: skip
            with Inventory.open(home) as inv:
                inv.insert_many(records)
            app = App(config=default_config(), data_dir=home, now=now)
            start = time.perf_counter()
            run = run_audit(app)
            wall = time.perf_counter() - start
            app.close()
        print(f"  findings {len(run.findings)}, requests sent {run.requests} (asked: {len(index.seen)}), "
              f"most in flight {index.max_in_flight}, wall {wall:.2f} s (one after another: {len(index.seen) * 0.05:.1f} s)")  # fmt: skip
    finally:
        index.stop()


_HOSTILE = r"""
import json, resource, sys, time
from datetime import datetime
from pathlib import Path
from tokenward.app import App
from tokenward.config import default_config
from tokenward.obsolete import offline_count, run_audit
home, what = Path(sys.argv[1]), sys.argv[2]
app = App(config=default_config(), data_dir=home, now=datetime.fromisoformat(sys.argv[3]))
start = time.perf_counter()
result = offline_count(app) if what == "remind" else run_audit(app)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
sent = "" if what == "remind" else f", {result.requests} requests, exit {result.exit_status}"
print(f"{wall * 1000:8.0f} ms {peak:5d} MB peak{sent}")
"""


def hostile() -> None:
    import subprocess

    from tests.pypi_index_standin import IndexStandIn
    from tokenward.inventory import Inventory, TokenRecord

    index = IndexStandIn().start()  # knows no project: every JSON answer is 404
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            now = datetime.now(timezone.utc).replace(microsecond=0)
            created = now - timedelta(days=30)
            record = TokenRecord(name="tp-user", kind="pypi", created_at=created, rotated_at=created, stores=("keyring",),
                                 fingerprint="0" * 16, scope="user", repository=index.url + "/legacy/")  # fmt: skip
            with Inventory.open(home) as inv:
                inv.insert_many([record])
            for shape in ("one line, 2,000,000 projects", "ordinary lines, one project each"):
                fd = os.open(home / "audit.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with open(fd, "w") as log:
                    if shape.startswith("one"):
                        log.write('{"event": "exec", "projects": ["p-0000000"')
                        for chunk in range(0, 2_000_000, 10_000):  # written in parts: this process stays small
                            log.write("".join(f', "p-{i:07d}"' for i in range(max(chunk, 1), chunk + 10_000)))
                        log.write(f'], "time": "{now.isoformat()}", "token": "tp-user"}}\n')
                    else:
                        i = 0
                        while log.tell() < 23_000_000:
                            entry = {"event": "exec", "token": "tp-user", "time": (now - timedelta(seconds=i)).isoformat(),
                                     "projects": [f"proj-{i}"], "tool": "twine", "command": "twine", "exit_status": 0}  # fmt: skip
                            log.write(json.dumps(entry, sort_keys=True) + "\n")
                            i += 1
                size = (home / "audit.log").stat().st_size / 1e6
                for what in ("remind", "audit"):
                    before = len(index.seen)
                    out = subprocess.run([sys.executable, "-c", _HOSTILE, str(home), what, now.isoformat()],
                                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()  # fmt: skip
                    label = f"{size:.0f} MB log, {shape}: {what}"
                    print(f"  {label:<60} {out} (index saw {len(index.seen) - before})")
    finally:
        index.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print("remind's count of audit findings (in-process, best of runs)")
    offline(args.runs)
    print("tokens audit against the stand-in index (50 ms per answer)")
    online()
    print("a hostile 23 MB audit log (each in its own process)")
    hostile()


if __name__ == "__main__":
    main()
