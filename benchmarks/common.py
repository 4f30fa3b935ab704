"""What the benchmark scripts share: a real Secret Service session, byte-compiled
sources, the median wall time of a command over several runs, and its peak memory."""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
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


TIME = "/usr/bin/time"  # GNU time: the peak memory of exactly the command it runs


def run_measured(argv: list[str], env: dict, *, cwd: str | None = None) -> tuple[float, int, int, bytes]:
    """(wall seconds, peak RSS in KiB, exit status, stderr) of one run.

    The peak memory comes from GNU time (`-f %M`): a child forked straight from this
    script would count this script's own memory as its peak (Linux keeps the pre-exec
    high-water mark). time's own fork and exec (~1 ms) are in every case's wall time alike."""
    with tempfile.NamedTemporaryFile() as report, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", report.name, *argv], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        elapsed = time.perf_counter() - start
        err.seek(0)
        lines = Path(report.name).read_text().split()
        return elapsed, int(lines[-1]) if lines and lines[-1].isdigit() else 0, proc.returncode, err.read()


def interleaved_runs(
    cases: dict[str, tuple[list[str], dict, tuple[int, ...]]], runs: int, *, cwd: str | None = None
) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median peak RSS in MiB) of each case, running the cases
    round-robin (one warm-up round not counted), so that drift in the machine's load
    affects every case alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    memory: dict[str, list[float]] = {name: [] for name in cases}
    for round_number in range(runs + 1):
        for name, (argv, env, ok) in cases.items():
            elapsed, maxrss, status, stderr = run_measured(argv, env, cwd=cwd)
            if status not in ok:
                raise SystemExit(f"{argv} failed ({status}): {stderr.decode()[-500:]}")
            if round_number:
                times[name].append(elapsed)
                memory[name].append(maxrss / 1024)
    return {name: (statistics.median(times[name]), statistics.median(memory[name])) for name in cases}


def interleaved_medians(cases: dict[str, tuple[list[str], dict, tuple[int, ...]]], runs: int) -> dict[str, float]:
    """Median wall seconds of each case, run round-robin (see interleaved_runs)."""
    return {name: seconds for name, (seconds, _) in interleaved_runs(cases, runs).items()}


def bare_secretstorage_read(service: str, username: str) -> list[str]:
    """The floor for reading one Secret Service item from Python: the interpreter,
    secretstorage (jeepney, cryptography) and the DH session, reading the very item
    keyring's SecretService backend writes (default collection, service + username)."""
    code = (
        "import sys, secretstorage\n"
        "from contextlib import closing\n"
        "with closing(secretstorage.dbus_init()) as bus:\n"
        "    items = list(secretstorage.Collection(bus).search_items({'username': sys.argv[2], 'service': sys.argv[1]}))\n"
        "    sys.stdout.write(items[0].get_secret().decode('utf-8'))\n"
    )
    return [sys.executable, "-c", code, service, username]
