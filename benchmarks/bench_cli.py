"""Startup-bound commands against `keyring get`, all measured in one run.

Run on a real Secret Service (the script wraps itself in scripts/with-keyring):
    .venv/bin/python benchmarks/bench_cli.py [--runs 15]

Prints the median wall time of each command over --runs runs and the ratios the
foundation issue sets as targets:
    list/remind on 10 tokens  <= 0.5  x keyring get
    10,000 tokens             <= 2    x 10 tokens
    exec --token t -- true    <= 0.85 x keyring get
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
from common import BIN, byte_compile, ensure_keyring_session, interleaved_medians  # noqa: E402


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

        results = interleaved_medians(
            {
                "keyring get": ([keyring_cli, "get", "tokenward", "t"], small, (0,)),
                "list (10)": ([tokens, "list"], small, (0,)),
                "remind (10)": ([tokens, "remind"], small, (0, 1)),
                "list (10,000)": ([tokens, "list"], large, (0,)),
                "list --json (10,000)": ([tokens, "list", "--json"], large, (0,)),
                "remind (10,000)": ([tokens, "remind"], large, (0, 1)),
                "exec --token t -- true": ([tokens, "exec", "--token", "t", "--", "true"], small, (0,)),
            },
            args.runs,
        )

    print(f"median of {args.runs} rounds (commands interleaved, after one warm-up round), wall seconds")
    for name, seconds in results.items():
        print(f"  {name:<24} {seconds:.4f}")
    kg = results["keyring get"]
    print("ratios (target)")
    print(f"  list (10) / keyring get          {results['list (10)'] / kg:.2f}  (<= 0.5)")
    print(f"  remind (10) / keyring get        {results['remind (10)'] / kg:.2f}  (<= 0.5)")
    print(f"  list (10,000) / list (10)        {results['list (10,000)'] / results['list (10)']:.2f}  (<= 2)")
    print(f"  remind (10,000) / remind (10)    {results['remind (10,000)'] / results['remind (10)']:.2f}  (<= 2)")
    print(f"  exec / keyring get               {results['exec --token t -- true'] / kg:.2f}  (<= 0.85)")


if __name__ == "__main__":
    main()
