"""`tokens exec` with automatic choice against `keyring get`, and the masking path's
throughput, all measured in one run on a real Secret Service.

    .venv/bin/python benchmarks/bench_exec.py [--runs 15] [--megabytes 100]

The automatic choice runs `tokens exec -- twine upload dist/*` where `twine` is
`true` on PATH: the command line is parsed, the dist files read, the inventory of 10
tokens searched, the value read from the keyring and (for PyPI) narrowed with
pypitoken, then the child runs. Targets (issue #3): exec <= 0.85 x keyring get;
masking >= 200 MB/s.
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
from common import BIN, byte_compile, ensure_keyring_session, median_time  # noqa: E402


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

        results["keyring get"] = median_time([keyring_cli, "get", "tokenward", "foo"], env, args.runs)
        results["exec -- twine upload dist/* (auto, narrowed)"] = median_time(
            [tokens, "exec", "--", "twine", "upload", "dist/*"], exec_env, args.runs, cwd=str(work))
        results["exec --no-narrow -- twine upload dist/* (auto)"] = median_time(
            [tokens, "exec", "--no-narrow", "--", "twine", "upload", "dist/*"], exec_env, args.runs, cwd=str(work))
        results["exec --token foo -- true"] = median_time([tokens, "exec", "--token", "foo", "--", "true"], env, args.runs)

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

    print(f"median of {args.runs} runs each (after one warm-up), wall seconds")
    for name, seconds in results.items():
        print(f"  {name:<48} {seconds:.4f}")
    kg = results["keyring get"]
    print("ratios (target <= 0.85)")
    for name, seconds in results.items():
        if name != "keyring get":
            print(f"  {name:<48} {seconds / kg:.2f} x keyring get")
    mb = size / 1e6
    print(f"masking {mb:.0f} MB of child output (median of {runs} runs; target >= 200 MB/s)")
    print(f"  child alone to a pipe:        {direct:.3f} s  ({mb / direct:.0f} MB/s)")
    print(f"  through tokens exec (masked): {masked:.3f} s  ({mb / masked:.0f} MB/s end to end,"
          f" {mb / max(masked - startup, 1e-9):.0f} MB/s after startup)")  # fmt: skip
    print(f"  Masker.feed alone:            {in_process:.0f} MB/s")


if __name__ == "__main__":
    main()
