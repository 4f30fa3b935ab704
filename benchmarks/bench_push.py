"""Rotating one token that has 3 stores (a file keyring, a real OpenBao dev server, a real
moto server) and 20 GitHub Actions targets on the stand-in of tests/registry_standins.py,
which adds 50 ms to every request.

The rotation is the one `tokens rotate` runs (rotation/workflows.py: the targets' checks,
the stores, then `push_token`), called in-process so that the pool size can be switched:
the bounded pool (targets/push.py WORKERS, 8) against one target at a time (WORKERS = 1),
measured in the same run, interleaved. Prints the requests per target (every sealed box is
opened by the stand-in, so each run also proves the value arrived) and the medians of the
whole rotation and of its push part.

    .venv/bin/python benchmarks/bench_push.py [--runs 5] [--targets 20] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402
from tests.registry_standins import StandIn  # noqa: E402

AUTH = "ghp_" + "b3" * 18


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    os.chmod(work, 0o700)
    os.environ.update(
        TOKENS_HOME=str(work / "home"),
        PYTHON_KEYRING_BACKEND="tests.keyring_backend.FileKeyring",
        TOKENWARD_TEST_KEYRING=str(work / "keyring.json"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    openbao, moto = servers.start_openbao(work), servers.start_moto(work)
    gh = StandIn("github").start()
    try:
        os.environ["VAULT_TOKEN"] = openbao.extra["root_token"]
        return run(args, work, openbao, moto, gh)
    finally:
        gh.stop()
        openbao.stop()
        moto.stop()


def run(args, work: Path, openbao, moto, gh: StandIn) -> int:
    from tokenward import lifecycle
    from tokenward.app import App
    from tokenward.config import parse_config
    from tokenward.rotation.workflows import rotate_stores
    from tokenward.targets import push

    gh.tokens[AUTH] = {"login": "octo"}
    repos = [f"acme/repo{i:02d}" for i in range(args.targets)]
    for repo in repos:
        gh.ci.add_repo(repo)
    gh.ci.grants[AUTH] = set(repos)
    config = {
        "defaults": {"stores": ["keyring", "vault", "aws"]},
        "stores": {
            "keyring": {"service": "bench-push"},
            "vault": {"url": openbao.url, "prefix": "bench/"},
            "aws": {"region": "us-east-1", "endpoint_url": moto.url, "prefix": "bench/"},
        },
        "targets": {
            f"t{i:02d}": {"type": "github-actions", "token": "pypi-main", "auth": "gh-admin", "repo": repo,
                          "secret": "PYPI_API_TOKEN", "api_url": gh.url + "api/v3"}
            for i, repo in enumerate(repos)
        },
    }  # fmt: skip
    app = App(config=parse_config(config, work / "config.toml"), data_dir=work / "home")
    lifecycle.add_token(app, "pypi-main", "tok-bench-0-" + "x" * 30, kind="generic")
    # The auth token is issued by the stand-in its targets call (its repository).
    lifecycle.add_token(app, "gh-admin", AUTH, kind="github", repository=gh.url, stores=("keyring",))
    gh.delay = args.latency

    counter = [0]
    times: dict[str, list[tuple[float, float]]] = {"bounded pool (8)": [], "one by one (1)": []}
    workers = {"bounded pool (8)": push.WORKERS, "one by one (1)": 1}
    per_target: list[float] = []
    for _ in range(args.runs + 1):  # the first round warms up and is not counted
        for label in times:
            counter[0] += 1
            value = f"tok-bench-{counter[0]}-" + "x" * 30
            push.WORKERS = workers[label]
            gh.seen.clear()
            start = time.perf_counter()
            outcome = rotate_stores(app, "pypi-main", value)
            pushed_from = time.perf_counter()
            results = push.push_token(app, "pypi-main", value)
            end = time.perf_counter()
            assert not outcome.failed and all(r.ok for r in results), (outcome.failed, results)
            assert all(gh.ci.secret(repo, "PYPI_API_TOKEN") == value for repo in repos)
            per_target.append(len(gh.seen) / args.targets)
            times[label].append((end - start, end - pushed_from))
    app.close()

    print(f"1 token, 3 stores (keyring, OpenBao, moto), {args.targets} GitHub Actions targets, +{args.latency * 1000:.0f} ms per request")
    print(f"requests per target: max {max(per_target):.2f}, median {statistics.median(per_target):.2f} (public key, PUT)")
    medians = {}
    for label, rows in times.items():
        counted = rows[1:]
        whole = statistics.median(r[0] for r in counted)
        part = statistics.median(r[1] for r in counted)
        medians[label] = (whole, part)
        print(f"{label}: rotation median {whole:.3f} s (of which pushing {part:.3f} s) over {args.runs} runs")
    (pool_whole, pool_part), (one_whole, one_part) = medians["bounded pool (8)"], medians["one by one (1)"]
    print(f"ratio: rotation {pool_whole / one_whole:.3f}, pushing {pool_part / one_part:.3f} (target <= 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
