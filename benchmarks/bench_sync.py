"""Benchmark `tokens sync` with 1,000 tokens across keyring + OpenBao + moto.

Starts its own OpenBao dev server and moto server on 127.0.0.1 (tests/servers.py),
and a private gnome-keyring (re-executing itself under scripts/with-keyring).
Counts the HTTP requests each remote store receives from OpenBao's file audit log
and moto's request recorder, and prints wall-time medians for:

  * no-op `tokens sync` (everything already in sync),
  * first `tokens sync --discover` on a fresh machine (empty inventory and keyring),
  * `tokens sync` after a teammate rotated 10 tokens,
  * a naive baseline that reads every value from every store one by one.

Usage: python benchmarks/bench_sync.py [--tokens 1000] [--runs 5] [--discover-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests import servers  # noqa: E402

PREFIX = "bench/"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def reexec_with_keyring() -> None:
    if os.environ.get("TOKENWARD_IN_KEYRING_SESSION"):
        return
    script = ROOT / "scripts" / "with-keyring"
    os.execv(str(script), [str(script), sys.executable, *sys.argv])


# -- servers and request counters ----------------------------------------------
class Counters:
    def __init__(self, openbao, moto, audit_log: Path) -> None:
        self.openbao, self.moto, self.audit_log = openbao, moto, audit_log
        self._audit_offset = 0

    def _moto(self, action: str) -> bytes:
        method = "GET" if action == "download-recording" else "POST"
        request = urllib.request.Request(f"{self.moto.url}/moto-api/recorder/{action}", method=method)
        with urllib.request.urlopen(request) as response:
            return response.read()

    def start(self) -> None:
        self._audit_offset = self.audit_log.stat().st_size if self.audit_log.exists() else 0
        self._moto("reset-recording")
        self._moto("start-recording")

    def stop(self) -> dict:
        self._moto("stop-recording")
        recording = self._moto("download-recording").decode()
        self._moto("reset-recording")  # the recording holds request bodies: drop it at once
        aws: dict[str, int] = {}
        for line in recording.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            target = (entry.get("headers") or {}).get("X-Amz-Target", "?").rpartition(".")[2]
            aws[target] = aws.get(target, 0) + 1
        vault: dict[str, int] = {}
        with open(self.audit_log, "rb") as handle:
            handle.seek(self._audit_offset)
            for line in handle:
                entry = json.loads(line)
                if entry.get("type") != "request":
                    continue
                request = entry.get("request") or {}
                path = request.get("path", "")
                kind = "data" if "/data/" in path else "metadata" if "/metadata/" in path else "other"
                key = f"{request.get('operation')} {kind}"
                vault[key] = vault.get(key, 0) + 1
        return {"vault": vault, "aws": aws}


def value_calls(counts: dict) -> tuple[int, int]:
    vault = counts["vault"].get("read data", 0)
    aws = sum(n for op, n in counts["aws"].items() if op in ("GetSecretValue", "BatchGetSecretValue"))
    return vault, aws


def start_openbao_with_audit(workdir: Path, audit_log: Path):
    """tests/servers.py's dev server, plus a declarative file audit device (OpenBao
    refuses to enable audit devices through the API)."""
    config = workdir / "openbao-audit.hcl"
    config.write_text(f'audit "file" "bench" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n')
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    root_token = "tokenward-bench-root"
    env = dict(os.environ, HOME=str(workdir))
    env.pop("VAULT_TOKEN", None)
    argv = [
        servers.find_tool("bao"), "server", "-dev", f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}", f"-config={config}",
    ]  # fmt: skip
    return servers.start(argv, url, f"{url}/v1/sys/health", workdir / "openbao.log", env=env, root_token=root_token)


def start_servers(workdir: Path):
    audit_log = workdir / "openbao-audit.log"
    openbao = start_openbao_with_audit(workdir, audit_log)
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MOTO_RECORDER_FILEPATH=str(workdir / "moto-recording.jsonl"))
    moto = servers.start(
        [servers.find_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)], url, f"{url}/moto-api/", workdir / "moto.log", env=env
    )
    return openbao, moto, audit_log


# -- machines ------------------------------------------------------------------
def write_config(path: Path, service: str, openbao, moto, defaults=("keyring", "vault", "aws")) -> None:
    path.write_text(
        f"[defaults]\nstores = {json.dumps(list(defaults))}\n"
        f'[stores.keyring]\nservice = "{service}"\n'
        f'[stores.vault]\nurl = "{openbao.url}"\nprefix = "{PREFIX}"\n'
        f'[stores.aws]\nregion = "us-east-1"\nendpoint_url = "{moto.url}"\nprefix = "{PREFIX}"\n'
    )


def machine_env(home: Path, config: Path, openbao) -> dict:
    return dict(os.environ, **ENV, TOKENS_HOME=str(home), TOKENS_CONFIG=str(config), VAULT_TOKEN=openbao.extra["root_token"])


def tokens_cli() -> str:
    return servers.find_tool("tokens") or "tokens"


def run_sync(env: dict, *args: str, fresh_keyring: bool = False) -> tuple[float, int, str]:
    argv = [tokens_cli(), "sync", *args]
    if fresh_keyring:
        # A new machine: its own, empty gnome-keyring on its own D-Bus session.
        argv = [str(ROOT / "scripts" / "with-keyring"), *argv]
        env = {k: v for k, v in env.items() if k not in ("TOKENWARD_IN_KEYRING_SESSION", "DBUS_SESSION_BUS_ADDRESS")}
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, proc.returncode, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr


def stores_of(i: int) -> tuple[str, ...]:
    if i < 500:
        return ("keyring", "vault", "aws")
    if i < 750:
        return ("keyring", "vault")
    return ("keyring", "aws")


def seed(count: int, home: Path, config: Path, openbao, moto) -> dict[str, object]:
    """Machine A's inventory and all three stores, as `tokens add` would leave them."""
    os.environ.update(ENV, TOKENS_HOME=str(home), TOKENS_CONFIG=str(config), VAULT_TOKEN=openbao.extra["root_token"])
    from tokenward.app import App
    from tokenward.inventory import TokenRecord
    from tokenward.lifecycle import store_metadata
    from tokenward.tokens import fingerprint

    app = App.load(str(config))
    stores = {name: app.store(name) for name in ("keyring", "vault", "aws")}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    records = []
    for i in range(count):
        value = "ghp_" + secrets.token_hex(18)
        record = TokenRecord(
            name=f"tok-{i:04d}", kind="github", created_at=now, rotated_at=now, stores=stores_of(i),
            fingerprint=fingerprint(value), purpose=f"bench token {i}", rotate_every="90d",
        )  # fmt: skip
        records.append((record, value))

    def write(pair):
        record, value = pair
        versions = {}
        for name in record.stores:
            written = stores[name].put(record.name, value, store_metadata(record))
            if written.version:
                versions[name] = written.version
        return record.with_(store_versions=versions)

    with ThreadPoolExecutor(8) as pool:
        saved = list(pool.map(write, records))
    app.inventory.insert_many(saved)
    app.close()
    return {"app_stores": stores, "records": saved}


def teammate_rotates(names: list[str], seeded: dict) -> None:
    """Another machine rotates these tokens: new values with metadata in Vault and AWS."""
    from tokenward.lifecycle import store_metadata
    from tokenward.tokens import fingerprint

    stores = seeded["app_stores"]
    by_name = {r.name: r for r in seeded["records"]}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for name in names:
        value = "ghp_" + secrets.token_hex(18)
        record = by_name[name]
        rotated = record.with_(fingerprint=fingerprint(value), rotated_at=max(now, record.rotated_at))
        for store in record.stores:
            if store != "keyring":
                stores[store].put(name, value, store_metadata(rotated))


def naive_baseline(seeded: dict) -> float:
    """Read every value from every store, one by one, and compare fingerprints."""
    from tokenward.tokens import fingerprint

    stores = seeded["app_stores"]
    started = time.perf_counter()
    differing = 0
    for record in seeded["records"]:
        for name in record.stores:
            if fingerprint(stores[name].get(record.name)) != record.fingerprint:
                differing += 1
    return time.perf_counter() - started


def measure(label: str, runs: int, counters: "Counters", prepare) -> tuple[list[float], dict | None, str]:
    """Run `prepare(run)` (which returns sync's environment and extra arguments), then
    one counted `tokens sync`, `runs` times; the request counts are the first run's."""
    times, counts, last = [], None, ""
    for run in range(runs):
        env, extra, fresh = prepare(run)
        counters.start()
        elapsed, rc, last = run_sync(env, *extra, fresh_keyring=fresh)
        c = counters.stop()
        assert rc == 0, last
        print(f"  {label} run {run + 1}: {elapsed:.2f}s", flush=True)
        times.append(elapsed)
        counts = counts or c
    return times, counts, last


# -- main ----------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--discover-runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
        work = Path(tmp)
        openbao, moto, audit_log = start_servers(work)
        counters = Counters(openbao, moto, audit_log)
        results: list[tuple[str, list[float], dict | None, str]] = []
        try:
            home_a, config_a = work / "a-home", work / "a.toml"
            write_config(config_a, "tokenward-bench-a", openbao, moto)
            t = time.perf_counter()
            seeded = seed(args.tokens, home_a, config_a, openbao, moto)
            print(f"seeded {args.tokens} tokens in {time.perf_counter() - t:.1f}s "
                  "(500 in keyring+vault+aws, 250 keyring+vault, 250 keyring+aws)", flush=True)  # fmt: skip
            env_a = machine_env(home_a, config_a, openbao)

            # 1. no-op sync
            times, counts, last = measure("no-op", args.runs, counters, lambda run: (env_a, (), False))
            results.append(("no-op sync", times, counts, last))

            # 2. ten tokens rotated by a teammate
            def ten_changed(run: int):
                teammate_rotates([f"tok-{i:04d}" for i in range(run * 10 + 3, args.tokens, args.tokens // 10)][:10], seeded)
                return env_a, (), False

            times, counts, last = measure("10-changed", args.runs, counters, ten_changed)
            results.append(("sync, 10 changed", times, counts, last))

            # 3. naive baseline
            times = []
            counts = None
            for run in range(args.baseline_runs):
                counters.start()
                times.append(naive_baseline(seeded))
                print(f"  naive baseline run {run + 1}: {times[-1]:.2f}s", flush=True)
                c = counters.stop()
                counts = counts or c
            results.append(("naive baseline (read all)", times, counts, ""))
            # 4. first sync --discover on fresh machines (last: it adds nothing to A's stores)
            def fresh_machine(run: int):
                home, config = work / f"fresh-{run}", work / f"fresh-{run}.toml"
                write_config(config, "tokenward", openbao, moto, defaults=("keyring",))
                return machine_env(home, config, openbao), ("--discover",), True

            times, counts, last = measure("discover", args.discover_runs, counters, fresh_machine)
            results.append(("first sync --discover", times, counts, last))
        finally:
            openbao.stop()
            moto.stop()

    print()
    print(f"{'scenario':28} {'median s':>9} {'min s':>7}  {'Vault reqs':>10} {'value reads':>11}  {'AWS reqs':>8} {'value calls':>11}")
    for name, times, counts, _ in results:
        vault_total = sum(counts["vault"].values())
        aws_total = sum(counts["aws"].values())
        v_reads, a_reads = value_calls(counts)
        print(f"{name:28} {statistics.median(times):9.2f} {min(times):7.2f}  {vault_total:10d} {v_reads:11d}  {aws_total:8d} {a_reads:11d}")
    print()
    for name, _, counts, last in results:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(counts["aws"].items()))
        vdetail = ", ".join(f"{k}={v}" for k, v in sorted(counts["vault"].items()))
        print(f"{name}: AWS {detail or '-'}; Vault {vdetail or '-'}" + (f"\n    last output: {last}" if last else ""))
    noop = statistics.median(results[0][1])
    naive = statistics.median(results[2][1])
    print()
    print(f"no-op sync / naive baseline = {noop / naive:.3f} (target <= 0.2)")
    base, changed = results[0][2], results[1][2]
    extra_vault = sum(changed["vault"].values()) - sum(base["vault"].values())
    extra_aws = sum(changed["aws"].values()) - sum(base["aws"].values())
    print(f"10 changed vs no-op: +{extra_vault} Vault requests, +{extra_aws} AWS requests")
    print("(discover runs include starting a fresh gnome-keyring session for the new machine)")
    return 0


if __name__ == "__main__":
    reexec_with_keyring()
    sys.exit(main())
