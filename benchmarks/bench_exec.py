"""`tokens exec` with automatic choice against `keyring get`, and the masking path's
throughput, all measured in one run on a real Secret Service.

    .venv/bin/python benchmarks/bench_exec.py [--runs 15] [--megabytes 100]

The automatic choice runs `tokens exec -- twine upload dist/*` where `twine` is
`true` on PATH: the command line is parsed, the dist files read, the inventory of 10
tokens searched, the value read from the keyring and (for PyPI) narrowed with
pypitoken, then the child runs. The cases run interleaved (round-robin), against
`keyring get` and a bare secretstorage read of the same item. Targets: exec --token
<= 0.5 x keyring get and <= 1.5 x the bare read (issue 13; the narrowed run, which
imports pypitoken, is measured separately); masking >= 200 MB/s (issue 3).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, bare_secretstorage_read, byte_compile, ensure_keyring_session, interleaved_runs, median_time  # noqa: E402


def mint(projects: list[str] | None, ident: str) -> str:
    import pypitoken

    token = pypitoken.Token.create(domain="pypi.org", identifier=ident, key="bench-key")
    if projects:
        token.restrict(project_names=projects)
    return token.dump()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    ensure_keyring_session()
    byte_compile()
    tokens = str(BIN / "tokens")
    keyring_cli = str(BIN / "keyring")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "none.toml").write_text("")
        env = dict(os.environ, TOKENS_CONFIG=str(work / "none.toml"), TOKENS_HOME=str(work / "home"))
        for i in range(8):
            subprocess.run([tokens, "add", f"other-{i}"], env=env, input=mint([f"proj-{i}"], f"o{i}").encode(), check=True,
                           stderr=subprocess.DEVNULL)  # fmt: skip
        subprocess.run([tokens, "add", "wide"], env=env, input=mint(None, "wide").encode(), check=True, stderr=subprocess.DEVNULL)
        subprocess.run([tokens, "add", "foo"], env=env, input=mint(["foo"], "foo").encode(), check=True, stderr=subprocess.DEVNULL)
        (work / "dist").mkdir()
        (work / "dist" / "foo-1.0-py3-none-any.whl").write_bytes(b"")
        (work / "dist" / "foo-1.0.tar.gz").write_bytes(b"")
        bindir = work / "bin"
        bindir.mkdir()
        (bindir / "twine").symlink_to("/bin/true")
        exec_env = dict(env, PATH=f"{bindir}:{env['PATH']}")

        measured = interleaved_runs(
            {
                "keyring get": ([keyring_cli, "get", "tokenward", "foo"], exec_env, (0,)),
                "bare secretstorage read": (bare_secretstorage_read("tokenward", "foo"), exec_env, (0,)),
                "exec --token foo -- true": ([tokens, "exec", "--token", "foo", "--", "true"], exec_env, (0,)),
                "exec --no-narrow -- twine upload dist/* (auto)": (
                    [tokens, "exec", "--no-narrow", "--", "twine", "upload", "dist/*"], exec_env, (0,)),
                "exec -- twine upload dist/* (auto, narrowed)": (
                    [tokens, "exec", "--", "twine", "upload", "dist/*"], exec_env, (0,)),
            },
            args.runs,
            cwd=str(work),
        )  # fmt: skip
        results = {name: seconds for name, (seconds, _) in measured.items()}

        # Masking throughput: the child writes N MB of log lines through our masking pumps.
        block = work / "block.txt"
        line = b"building wheel for foo: copying src/foo/module.py -> build/lib/foo/module.py\n"
        block.write_bytes(line * (1024 * 1024 // len(line) + 1))
        size = block.stat().st_size * args.megabytes
        cat = ["sh", "-c", f"i=0; while [ $i -lt {args.megabytes} ]; do cat {block}; i=$((i+1)); done"]
        runs = max(3, args.runs // 3)
        direct = median_time(cat, env, runs)
        masked = median_time([tokens, "exec", "--token", "foo", "--", *cat], env, runs)
        startup = results["exec --token foo -- true"]

    from tokenward.masking import Masker

    masker = Masker([mint(["foo"], "x"), mint(None, "y")])
    chunk = line * (65536 // len(line))
    start = time.perf_counter()
    total = 0
    while total < size:
        masker.feed(chunk)
        total += len(chunk)
    in_process = total / (time.perf_counter() - start) / 1e6

    print(f"median of {args.runs} rounds (cases interleaved, after one warm-up round)")
    print(f"  {'command':<48} {'wall s':>8} {'max RSS MiB':>12}")
    for name, (seconds, mib) in measured.items():
        print(f"  {name:<48} {seconds:8.4f} {mib:12.1f}")
    kg, bare = results["keyring get"], results["bare secretstorage read"]
    print("ratios (targets: exec --token <= 0.5 x keyring get, <= 1.5 x bare read)")
    for name, seconds in results.items():
        if name != "keyring get":
            print(f"  {name:<48} {seconds / kg:.2f} x keyring get, {seconds / bare:.2f} x bare read")
    mb = size / 1e6
    print(f"masking {mb:.0f} MB of child output (median of {runs} runs; target >= 200 MB/s)")
    print(f"  child alone to a pipe:        {direct:.3f} s  ({mb / direct:.0f} MB/s)")
    print(f"  through tokens exec (masked): {masked:.3f} s  ({mb / masked:.0f} MB/s end to end,"
          f" {mb / max(masked - startup, 1e-9):.0f} MB/s after startup)")  # fmt: skip
    print(f"  Masker.feed alone:            {in_process:.0f} MB/s")


if __name__ == "__main__":
    main()
