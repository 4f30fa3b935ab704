"""`tokens calendar` and `tokens report --html` on 10,000 tokens against `tokens list` on
the same inventory, all measured in one run (commands interleaved).

    .venv/bin/python benchmarks/bench_pages.py [--runs 9]

Targets (issue 12): each <= 3x `tokens list`; the HTML file under 5 MB. The calendar is
measured as the daily job runs it (its revisions file already written: events serialized
by icalendar are reused while unchanged) and, separately, cold (no revisions file: every
event serialized anew, as on the first run or after a change to every token).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, byte_compile, interleaved_medians  # noqa: E402

KINDS = ("pypi", "github", "gitlab", "npm", "generic")


def fill(home: Path, count: int) -> None:
    from tokenward.inventory import Inventory, TokenRecord

    now = datetime.now(timezone.utc).replace(microsecond=0)
    records = []
    for i in range(count):
        created = now - timedelta(days=i % 400)
        records.append(
            TokenRecord(
                name=f"tok-{i:05d}", kind=KINDS[i % len(KINDS)], created_at=created, rotated_at=created,
                stores=("keyring",), fingerprint=f"{i:016x}", purpose=f"publish project {i} from CI",
                rotate_every="90d", expires_at=now + timedelta(days=(i * 7) % 500 - 30) if i % 3 == 0 else None,
            )
        )  # fmt: skip
    with Inventory.open(home) as inv:
        inv.insert_many(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--tokens", type=int, default=10_000)
    args = parser.parse_args()
    byte_compile()

    tokens = str(BIN / "tokens")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        env = dict(os.environ, TOKENS_CONFIG=str(out / "none.toml"), TOKENS_HOME=str(out / "home"))
        (out / "none.toml").write_text("")
        fill(out / "home", args.tokens)
        feed, page = out / "tokens.ics", out / "tokens.html"

        results = interleaved_medians(
            {
                "list": ([tokens, "list"], env, (0,)),
                "calendar (daily job)": ([tokens, "calendar", "-q", "-o", str(feed)], env, (0,)),
                "report --html": ([tokens, "report", "-q", "--html", str(page)], env, (0,)),
            },
            args.runs,
        )
        cold = []
        for _ in range(3):
            (out / "home" / "calendar-state.json").unlink()
            start = time.perf_counter()
            subprocess.run([tokens, "calendar", "-q", "-o", str(feed)], env=env, check=True)
            cold.append(time.perf_counter() - start)
        results["calendar (cold)"] = statistics.median(cold)
        sizes = {"feed": feed.stat().st_size, "page": page.stat().st_size}

    print(f"{args.tokens:,} tokens; median of {args.runs} interleaved rounds (cold: of 3), wall seconds")
    for name, seconds in results.items():
        print(f"  {name:<22} {seconds:.3f}")
    ls = results["list"]
    print("ratios (target)")
    print(f"  calendar (daily job) / list   {results['calendar (daily job)'] / ls:.2f}  (<= 3)")
    print(f"  report --html / list          {results['report --html'] / ls:.2f}  (<= 3)")
    print(f"  calendar (cold) / list        {results['calendar (cold)'] / ls:.2f}  (no target)")
    print(f"  HTML page {sizes['page'] / 1e6:.2f} MB (< 5 MB); feed {sizes['feed'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
