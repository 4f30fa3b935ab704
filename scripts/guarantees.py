#!/usr/bin/env python3
"""Run the tests that prove tokenward's security and reliability invariants and print
the figures as a markdown table (the README's "Guarantees" section).

Usage: scripts/guarantees.py [--slow] [PYTEST ARGS]...
  (e.g. `-n 2 --dist loadfile`: one pytest-xdist worker per CPU, whole files per worker)
  --slow   include the long crash trials (`@pytest.mark.slow`)

Runs inside a private keyring session (scripts/with-keyring) with the repo's .venv, as
scripts/test does (run `scripts/bootstrap test` once first). The tests append their
counts (cases, trials, processes, ...) as JSON lines to $TOKENWARD_GUARANTEES_OUT;
a small pytest plugin counts the outcomes of each area's tests.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREAS = {
    "leaks": ["tests/test_leaks.py"],
    "faults": ["tests/test_faults.py"],
    "crashes": ["tests/test_crashes.py"],
    "concurrency": ["tests/test_concurrency.py", "tests/test_inventory.py::test_concurrent_processes_lose_nothing"],
    "bad-input": ["tests/test_bad_input.py"],
    "data-dir": ["tests/test_datadir.py", "tests/test_envpolicy.py"],
    "import-scrub": ["tests/test_scrub_matrix.py", "tests/test_scrub.py"],
    "terminal-safety": ["tests/test_terminal_safety.py"],
    "team safety": ["tests/test_two_machines.py"],
    "shared metadata": ["tests/test_shared_metadata.py", "tests/test_store_deadline.py"],
    "destination": [
        "tests/test_publisher_twine.py", "tests/test_publisher_uv.py", "tests/test_publisher_npm.py",
        "tests/test_publisher_flit.py", "tests/test_publisher_poetry.py", "tests/test_publisher_hatch.py",
        "tests/test_publisher_pdm.py", "tests/test_publisher_cargo.py", "tests/test_publisher_gh.py",
        "tests/test_exec_hostile.py",
    ],
    "config trust": ["tests/test_config_trust.py"],
    "reminder job": [
        "tests/test_schedule.py", "tests/test_notify.py", "tests/test_rotate_command.py", "tests/test_doctor.py",
    ],
    "registries": ["tests/test_registries_contract.py", "tests/test_registries_hostile.py", "tests/test_verify.py"],
    "targets": ["tests/test_targets.py", "tests/test_targets_hostile.py", "tests/test_targets_review2.py"],
    "rotate --api": [
        "tests/test_rotate_api.py", "tests/test_rotate_api_converge.py", "tests/test_rotation_api_steps.py",
    ],
    "trusted publishing": ["tests/test_trusted_publishing.py"],
    "audit": ["tests/test_obsolete.py"],
}


def _reexec_in_keyring_session() -> None:
    if os.environ.get("TOKENWARD_IN_KEYRING_SESSION"):
        return
    venv = ROOT / ".venv" / "bin"
    os.environ["PATH"] = f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"
    wrapper = str(ROOT / "scripts" / "with-keyring")
    os.execv(wrapper, [wrapper, str(venv / "python"), str(Path(__file__).resolve()), *sys.argv[1:]])


class Outcomes:
    """pytest plugin: passed / failed / skipped per area."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            path = report.nodeid.split("::", 1)[0]
            for area, targets in AREAS.items():
                if any(report.nodeid.startswith(t) or t == path for t in targets):
                    self.counts[area][report.outcome] += 1


def _result(counts: dict[str, int]) -> str:
    passed, failed, skipped = counts.get("passed", 0), counts.get("failed", 0), counts.get("skipped", 0)
    text = f"{passed}/{passed + failed + skipped} tests passed"
    if failed:
        text += f", **{failed} failed**"
    if skipped:
        text += f", {skipped} skipped"
    return text


def table(figures: list[dict], outcomes: dict[str, dict[str, int]]) -> str:
    by_area: dict[str, list[dict]] = defaultdict(list)
    for item in figures:
        by_area[item["area"]].append(item)
    rows = []

    leaks = by_area["leaks"]
    if leaks:
        f = leaks[0]
        rows.append((
            "Leaks",
            f"canary values through {f['commands']} command paths with `--debug` (add, rotate by stdin and by "
            f"rotate_command, sync, rollback, exec masked and unmasked, import, remind → notify-send, …) plus every "
            f"command of the older leak test; every process's argv scanned {f['argv_scans']} times while they ran; "
            f"OpenBao's audit log ({f['audit_entries']} entries); every file in the data dir",
            "no value in any argv, log, audit entry, file, stdout/stderr (except `get`, `--no-mask`) or error text",
            _result(outcomes["leaks"]),
        ))
    faults = by_area["faults"]
    if faults:
        cases = sum(f["cases"] for f in faults)
        names = ", ".join(f["fault"] for f in faults)
        rows.append((
            "Faults",
            f"{len(faults)} faults ({names}) × add, rotate, sync, exec = {cases} cases, on real servers",
            "exit 3 with one `Error:` line naming the store; nothing lost; after the fault one `sync` converges "
            "(every store read directly)",
            _result(outcomes["faults"]),
        ))
    crashes = by_area["crashes"]
    if crashes:
        trials = sum(f["trials"] for f in crashes)
        killed = sum(f["killed"] for f in crashes)
        rotate = sum(f["rotate_trials"] for f in crashes)
        rows.append((
            "Crashes",
            f"{trials} kill -9 trials ({rotate} during `rotate`, {trials - rotate} during `sync`), "
            f"{killed} of them killed mid-command, at named points and random moments",
            "newest value in ≥1 store, `PRAGMA integrity_check` ok, one `sync` brings keyring, OpenBao and moto "
            "to agreement",
            _result(outcomes["crashes"]),
        ))
    concurrency = by_area["concurrency"]
    if concurrency:
        f = concurrency[0]
        rows.append((
            "Concurrency",
            f"{f['processes']} processes for {f['seconds']:g} s on one inventory (rotate ×4, sync ×2, remind, "
            f"list, exec): {f['invocations']} commands, {f['rotations']} rotations; plus 8 processes × 25 "
            "read-modify-writes on the SQLite inventory",
            "no \"database is locked\", no lost rotation (checked against OpenBao's version history), "
            "consistent end state",
            _result(outcomes["concurrency"]),
        ))
    bad = by_area["bad-input"]
    if bad:
        f = bad[0]
        rows.append((
            "Bad input",
            f"{f['cases']} distinct cases (names, dates, durations, values with NUL/newlines/70 kB/non-UTF-8, "
            f"malformed PyPI tokens, configs, unknown stores, malformed .pypirc/.env/JSON, …) + "
            f"{f['hypothesis_examples']} generated names",
            "exit 2, one line on stderr, inventory byte-for-byte unchanged",
            _result(outcomes["bad-input"]),
        ))
    data_dir = outcomes.get("data-dir")
    if data_dir:
        rows.append((
            "Data-dir trust",
            f"{sum(data_dir.values())} cases, run as a real second Unix user: a data dir, parent, inventory, "
            "audit log or SQLite side file that belongs to another user, is writable by others (777, 1777 shared, "
            "non-sticky or shared-group parent), is a symlink or a file; sticky `/tmp`-like and user-private-group "
            "parents; umask 000; a planted inventory whose env template sets BASH_ENV; 16 code-running variables "
            "in `add --env`, import and `exec`",
            "refused with one `Error:` line naming the path and the fix (exit 2) before anything is read, run or "
            "chmod-ed; our own dirs created 0700; `--allow-env VAR` the only way past the env rule",
            _result(data_dir),
        ))
    scrub = outcomes.get("import-scrub")
    if scrub:
        rows.append((
            "Import and scrub",
            "`tokens import --scrub` on .pypirc, .env and JSON lines × 5 layouts (plain, link, chain of links, "
            "linked directory, relative link) and × 7 unsafe set-ups (another user's file or directory, hard link, "
            "world-writable directory or a link into one, the value also in a comment, a FIFO); plus `[DEFAULT]` "
            "and `[ corp ]` passwords, indented options then a real twine upload, CR line endings, a read-only "
            "directory as an unprivileged user, planted temp/backup links under umask 000, the group kept, an edit "
            "during the import, twine's keyring slot",
            "the value is gone from the file as twine reads it (read back through the links; links and every other "
            "line kept; 0600 backup next to the path named) — or one `Error:` line, nothing imported, the file "
            "byte for byte unchanged, nothing left behind",
            _result(scrub),
        ))
    terminal = by_area["terminal-safety"]
    if terminal:
        f = terminal[0]
        rows.append((
            "Terminal safety (control characters)",
            f"{f['fields']} metadata fields (purpose, scope, repository, kind) holding newlines, ANSI escapes, a bidi "
            f"override and Unicode line breaks, written by a teammate to a shared AWS store (moto) and discovered, "
            f"× {f['outputs']} outputs (list, show, remind, remind --store, history, webhook, desktop "
            f"notification, team webhook) = {f['fields'] * f['outputs']} cases; {f['names']} hostile remote names",
            "every such character shown as an escape, no forged line; names checked whole",
            _result(outcomes["terminal-safety"]),
        ))
    team = by_area["team safety"]
    if team:
        trials = sum(f["trials"] for f in team)
        paused = sum(f["paused"] for f in team)
        races = [o for f in team for o in f["outcomes"]]
        both_refused = sum(1 for o in races if ":3/" in o and o.endswith(":3"))
        rows.append((
            "Team safety",
            f"two machines (data dirs, keyrings) on one OpenBao/moto, stores {', '.join(f['stores'] for f in team)}: "
            f"add of a teammate's name and rotate without syncing after a teammate's rotation ({2 * len(team)} cases); "
            f"{trials} simultaneous rotations ({paused} made to meet at the write): one wins and the other is refused "
            f"in {len(races) - both_refused}, both refused (AWS window) in {both_refused}",
            "never both exit 0; a refused machine wrote nothing; the shared stores hold one machine's value; "
            "one `sync` each brings every store to it",
            _result(outcomes["team safety"]),
        ))
    simple = [
        ("destination", "Destination resolution (tools × sources)",
         "`tokens exec` with twine, uv, npm and flit run for real against recording servers on 127.0.0.1, poetry, "
         "hatch, pdm, cargo and gh parsed: every source each tool reads (options with its own parsing rules incl. "
         "argparse abbreviations and `--opt=value`, env vars, project/user/system config files, workspace roots, "
         "`..` in directory options), config files the tool reads but Python cannot (TOML 1.1, BOM, lone CR), "
         "plain http to PyPI, env templates that move the destination (proxies, CA bundles, tool URLs)",
         "the token reaches only the server exec chose and the audit log names; when unsure, one `Error:` line "
         "naming why and `--token`, and no server receives anything"),
        ("shared metadata", "Shared metadata",
         "a teammate's Vault/AWS metadata with invalid fields (periods `5m`, `0d`, `99999999y`; year-9999 dates; "
         "5,000-character purpose; escapes in scope), a value changed outside tokenward, a missing fingerprint, "
         "an edit on one machine, a store that trickles one byte at a time",
         "bad fields dropped one by one with a warning, the rest kept; no new value version to fix metadata; "
         "edits reach the other machine on plain `sync`; a trickling store ends with exit 3 within its timeout"),
        ("config trust", "Config trust",
         "a config file or directory that belongs to another user or is writable by others, another user's "
         "symlink on the way, `/dev/zero`, a FIFO, a directory or a 2 MiB file as the config, in `list`, "
         "`rotate`, `add`, `doctor` (text and JSON), `schedule install` and shell completion",
         "refused with one line (exit 2) before the config is used; nothing blocks; completion completes nothing"),
        ("reminder job", "The reminder job",
         "cron lines, systemd units and the GitHub Actions workflow with hostile paths (newlines, `$`, `%`), "
         "other crontab lines with `\\f`, NEL, U+2028, non-UTF-8; webhooks that redirect, trickle, speak SSH, "
         "send 150 headers or 200-then-hang; SMTP servers that trickle or refuse recipients; broken "
         "notify-state files; `rotate_command`s that flood, hang, fork or leak the value on stderr; doctor with "
         "a bad config",
         "other crontab lines byte for byte; no injected line; a channel's failure stays in that channel within "
         "its deadline; a redirect is a failure; values masked; doctor still prints JSON"),
        ("registries", "Registry answers",
         "`verify`/`revoke` against verdaccio and stand-ins for GitHub, GitLab, crates.io and Docker Hub "
         "(built from the documented API): 5xx, 429/403 rate limits, huge `Retry-After`, trickled bodies, "
         "redirects to another host, wrong JSON types, control characters, year-1 expiry, echoed values, a "
         "teammate's planted npm key",
         "the value goes only to its repository's host and is never printed or stored from an answer; each "
         "request ends within its deadline; exit 0/1/3 per the contract; revoke deletes only the token it was "
         "given"),
        ("targets", "CI targets (GitHub Actions, GitLab CI)",
         "`rotate`, `rotate --due`, `push`, `targets`, `doctor` against GitHub Actions and GitLab CI stand-ins "
         "(built from the documented API; GitHub's holds a real X25519 key pair and opens every sealed box): "
         "repository and environment secrets, create and update, a key replaced between pushes and between "
         "GET and PUT, 404/403/401, long rate limits, redirects, malformed/huge/wrong-typed public keys, long "
         "5xx, answers echoing the value, masked values GitLab would refuse, unknown targets/tokens/auth "
         "tokens, hostile `[targets.*]` tables (dot segments plain and percent-encoded, two targets on one "
         "secret, an auth token of another kind or host), a stale machine pushing after a teammate's rotation "
         "(OpenBao, moto), Ctrl-C during a push, a push racing a rotation, a changed destination",
         "the exact value arrives (sealed: never in clear on the wire to GitHub); at most 3 requests per target; "
         "a failing target is one `Error: target NAME:` line, exit 3, recorded, the stores keep the new value "
         "and the next push or `sync` fixes it; bad config or a refused value is exit 2 before any request; a "
         "stale machine pushes nothing (exit 3); no value or auth token in output, errors, audit log or "
         "inventory"),
        ("rotate --api", "Rotation by the registry's API",
         "`rotate --api` against the real verdaccio (npm create, then the old token revoked by its key) and a "
         "GitLab stand-in (self-rotate): kill -9 after create, inside and after the stores step, after the first "
         "target; a creation whose answer is lost (dropped, held then killed); a stale machine; an unreachable "
         "shared store; answers of another kind or already expired; a 5xx to the create; planted or damaged "
         "journals; wrong password, missing or wrong OTP",
         "create → stores → targets → verify → revoke in that order; one `sync` or `rotate` finishes an "
         "interrupted rotation with no created value left unrevoked or unstored; a stale machine is refused "
         "before any registry call; a POST is never repeated; password and OTP prompts hidden and in no file"),
        ("trusted publishing", "Trusted publishing",
         "a simulated GitHub Actions job (its variables only, no stored token) against an OIDC stand-in signing "
         "real JWTs and PyPI/crates.io mint stand-ins built from their documentation: twine and poetry upload "
         "to a real pypiserver with a minted macaroon; refusals (invalid-publisher, expired JWT, no id-token "
         "permission, GitLab without its ID-token variable, crates.io detail), 5 hostile mint answers, "
         "unreachable index, malformed request URLs; crates.io revocation on exit 0/1/SIGTERM; npm; which of 21 "
         "command lines mint; hostile `[trusted_publishing]` tables (userinfo, duplicate keys, foreign "
         "audiences); 10 fatal signals during a crates.io publish; a replaced crates-io source",
         "the audience pinned per index (an index's own word never obeyed; `pypi`/`testpypi` only for "
         "pypi.org/test.pypi.org); the child ended and the crates.io token revoked on every catchable "
         "signal; no crates.io token for a replaced source; "
         "mints only for a destination exec resolved and the config maps; the minted value masked, audited "
         "`via trusted-publishing`, in no file; the JWT in no output, error or file; a refusal is one line with "
         "the error codes and claims (`prefer`: a stored token after it; `only`: exit 3)"),
        ("audit", "`tokens audit`",
         "a PyPI index stand-in (JSON and Integrity APIs as documented) with one project published by a trusted "
         "publisher and one by a token; hostile answers (5xx, 403, wrong JSON, 2 MiB body, nesting, redirects "
         "to another host, another project's answer, files of another version, control characters); a crafted "
         "audit log giving one token 2,000,000 projects; a FIFO as the log; an index that stops answering; "
         "stores that fail on every read",
         "the three findings with their retire step, exit 0/1/3; no credential sent to the index and no secret "
         "value read; at most 50 projects and 5,000 requests a run, a token decided by its first kept project, "
         "a 60 s run deadline; an answer not as documented is exit 3 and nothing of it printed"),
    ]
    for area, title, tried, promise in simple:
        if outcomes.get(area):
            rows.append((title, tried, promise, _result(outcomes[area])))
    lines = ["| Area | What was tried | Promise checked | Result |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main() -> int:
    _reexec_in_keyring_session()
    import pytest

    args = sys.argv[1:]
    slow = "--slow" in args
    args = [a for a in args if a != "--slow"]
    marker = "slow or not slow" if slow else "not slow"
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.jsonl"
        os.environ["TOKENWARD_GUARANTEES_OUT"] = str(out)
        plugin = Outcomes()
        targets = [t for ts in AREAS.values() for t in ts]
        started = time.monotonic()
        status = pytest.main(["-q", "-p", "no:cacheprovider", "-m", marker, *targets, *args], plugins=[plugin])
        elapsed = time.monotonic() - started
        figures = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    print()
    print(table(figures, plugin.counts))
    print()
    print(f"_{'With' if slow else 'Without'} the slow trials; {elapsed:.0f} s; `scripts/guarantees.py{' --slow' if slow else ''}`._")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
