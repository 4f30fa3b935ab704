"""Startup-bound commands against `keyring get`, all measured in one run.

Run on a real Secret Service (the script wraps itself in scripts/with-keyring):
    .venv/bin/python benchmarks/bench_cli.py [--runs 15]

Prints the median wall time and peak memory (max RSS) of each command over --runs
rounds, the commands interleaved, and the ratios set as targets:
    list/remind on 10 tokens      <= 0.5 x keyring get
    10,000 tokens                 <= 2   x 10 tokens
    exec --token t -- true, get t <= 0.5 x keyring get, <= 1.5 x a bare secretstorage read
                                  (issue 13); peak memory of exec <= 1.1 x keyring get
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, bare_secretstorage_read, byte_compile, ensure_keyring_session, interleaved_runs  # noqa: E402


def fill(home: Path, count: int) -> None:
    from tokenward.inventory import Inventory, TokenRecord

    now = datetime.now(timezone.utc).replace(microsecond=0)
    records = []
    for i in range(count):
        created = now - timedelta(days=i % 400)
        records.append(
            TokenRecord(
                name=f"tok-{i:05d}", kind="pypi", created_at=created, rotated_at=created, stores=("keyring",),
                fingerprint=f"{i:016x}", purpose=f"publish project {i}", scope=f"project:p{i}",
                repository="https://upload.pypi.org/legacy/", rotate_every="90d",
            )
        )  # fmt: skip
    with Inventory.open(home) as inv:
        inv.insert_many(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ensure_keyring_session()
    byte_compile()

    tokens = str(BIN / "tokens")
    keyring_cli = str(BIN / "keyring")
    with tempfile.TemporaryDirectory() as tmp:
        base = dict(os.environ, TOKENS_CONFIG=str(Path(tmp) / "none.toml"))
        (Path(tmp) / "none.toml").write_text("")
        small = dict(base, TOKENS_HOME=str(Path(tmp) / "small"))
        large = dict(base, TOKENS_HOME=str(Path(tmp) / "large"))
        fill(Path(small["TOKENS_HOME"]), 10)
        fill(Path(large["TOKENS_HOME"]), 10_000)
        subprocess.run([tokens, "add", "t", "--kind", "generic"], env=small, input=b"bench-value-0123456789", check=True,
                       stderr=subprocess.DEVNULL)  # fmt: skip

        results = interleaved_runs(
            {
                "keyring get": ([keyring_cli, "get", "tokenward", "t"], small, (0,)),
                "bare secretstorage read": (bare_secretstorage_read("tokenward", "t"), small, (0,)),
                "get t": ([tokens, "get", "t"], small, (0,)),
                "list (10)": ([tokens, "list"], small, (0,)),
                "remind (10)": ([tokens, "remind"], small, (0, 1)),
                "list (10,000)": ([tokens, "list"], large, (0,)),
                "list --json (10,000)": ([tokens, "list", "--json"], large, (0,)),
                "remind (10,000)": ([tokens, "remind"], large, (0, 1)),
                "exec --token t -- true": ([tokens, "exec", "--token", "t", "--", "true"], small, (0,)),
            },
            args.runs,
        )

    print(f"median of {args.runs} rounds (commands interleaved, after one warm-up round)")
    print(f"  {'command':<26} {'wall s':>8} {'max RSS MiB':>12}")
    for name, (seconds, mib) in results.items():
        print(f"  {name:<26} {seconds:8.4f} {mib:12.1f}")
    t = {name: seconds for name, (seconds, _) in results.items()}
    kg, bare = t["keyring get"], t["bare secretstorage read"]
    exec_t = t["exec --token t -- true"]
    print("ratios (target)")
    print(f"  list (10) / keyring get              {t['list (10)'] / kg:.2f}  (<= 0.5)")
    print(f"  remind (10) / keyring get            {t['remind (10)'] / kg:.2f}  (<= 0.5)")
    print(f"  list (10,000) / list (10)            {t['list (10,000)'] / t['list (10)']:.2f}  (<= 2)")
    print(f"  remind (10,000) / remind (10)        {t['remind (10,000)'] / t['remind (10)']:.2f}  (<= 2)")
    print(f"  exec / keyring get                   {exec_t / kg:.2f}  (<= 0.5)")
    print(f"  exec / bare secretstorage read       {exec_t / bare:.2f}  (<= 1.5)")
    print(f"  get / keyring get                    {t['get t'] / kg:.2f}  (<= 0.5)")
    print(f"  get / bare secretstorage read        {t['get t'] / bare:.2f}  (<= 1.5)")
    print(f"  bare secretstorage read / keyring get {bare / kg:.2f}")
    mem = {name: mib for name, (_, mib) in results.items()}
    print(f"  exec max RSS / keyring get max RSS   {mem['exec --token t -- true'] / mem['keyring get']:.2f}  (<= 1.1)")
    print(f"  get max RSS / keyring get max RSS    {mem['get t'] / mem['keyring get']:.2f}")


if __name__ == "__main__":
    main()
