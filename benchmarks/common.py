"""What the benchmark scripts share: a real Secret Service session, byte-compiled
sources, and the median wall time of a command over several runs."""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def ensure_keyring_session() -> None:
    """Re-run this script inside scripts/with-keyring (a private gnome-keyring)."""
    if os.environ.get("TOKENWARD_IN_KEYRING_SESSION"):
        return
    script = str(ROOT / "scripts" / "with-keyring")
    os.execv(script, [script, sys.executable, *sys.argv])


def byte_compile() -> None:
    """A regular `pip install` byte-compiles the package; an editable one run with
    PYTHONDONTWRITEBYTECODE would recompile every module on every start."""
    compileall.compile_dir(str(ROOT / "src" / "tokenward"), quiet=1)


def median_time(
    argv: list[str], env: dict, runs: int, *, cwd: str | None = None, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)
) -> float:
    """Median wall seconds over `runs` runs, after one warm-up run that is not counted."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, env=env, cwd=cwd, input=stdin if stdin is not None else b"", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        elapsed = time.perf_counter() - start
        if proc.returncode not in ok:
            raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
        times.append(elapsed)
    return statistics.median(times[1:])


def interleaved_medians(cases: dict[str, tuple[list[str], dict, tuple[int, ...]]], runs: int) -> dict[str, float]:
    """Median wall seconds of each case, running the cases round-robin (one warm-up round
    not counted), so that drift in the machine's load affects every case alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_number in range(runs + 1):
        for name, (argv, env, ok) in cases.items():
            start = time.perf_counter()
            proc = subprocess.run(argv, env=env, input=b"", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            elapsed = time.perf_counter() - start
            if proc.returncode not in ok:
                raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
            if round_number:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}
