"""Pushing a token's value to its CI targets, and what the inventory remembers of it.

`push_token` is what every rotation calls after the stores: it pushes to every target of
the token in parallel (a bounded pool), records each outcome in the inventory (pushed_at
and the fingerprint pushed, or the error) and never raises for a target that fails: the
result says so, and `tokens push` / `tokens sync` push it again later. No value and no
auth token ever reaches a PushResult, the inventory or the audit log.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from tokenward import audit
from tokenward.errors import TokenwardError, UsageError
from tokenward.targets.base import TargetError, auth_problem, destination, not_in_inventory, open_target
from tokenward.testhooks import crash_point
from tokenward.tokens import fingerprint

if TYPE_CHECKING:
    from tokenward.app import App
    from tokenward.config_targets import TargetConfig

WORKERS = 8  # targets pushed at once


@dataclass(frozen=True)
class PushResult:
    """One target's outcome. `error` is one line, already starting with "target NAME: "
    (print it as `Error: {error}`); never holds the value or the auth token."""

    target: str
    ok: bool
    error: str | None


def targets_of(app: "App", token: str) -> list["TargetConfig"]:
    return [t for t in app.config.targets.values() if t.token == token]


def check_names(app: "App", targets: Iterable["TargetConfig"]) -> None:
    """Exit 2 before any write when a target names a token or auth token that is not in
    the inventory."""
    for target in targets:
        for role, name in not_in_inventory(app.inventory, target):
            raise UsageError(
                f"target {target.name} names {role} {name!r}, which is not in the inventory "
                f"(`tokens add {name}`, or fix [targets.{target.name}] in {app.config.where}); nothing was written"
            )
        problem = auth_problem(target, app.inventory.find(target.auth))
        if problem:
            raise UsageError(f"target {target.name}: {problem} (fix [targets.{target.name}] auth or api_url); nothing was written")


def check_value(app: "App", token: str, value: str, targets: Iterable["TargetConfig"] | None = None) -> None:
    """Exit 2 before any write when a target of `token` would refuse this value (a masked
    GitLab variable under 8 characters or on several lines), or names an unknown token."""
    chosen = list(targets_of(app, token) if targets is None else targets)
    check_names(app, chosen)
    for target in chosen:
        open_target(target, None, "").check_value(value)  # type: ignore[arg-type]


def push_token(app: "App", token: str, value: str, *, only: Iterable[str] | None = None) -> list[PushResult]:
    """Push `value` to every target whose token is `token` (or only the named ones among
    them), in parallel; record each outcome; never raise for a target's failure."""
    results: list[PushResult] = []
    chosen = targets_of(app, token)
    if only is not None:
        wanted = list(dict.fromkeys(only))
        chosen = [t for t in chosen if t.name in wanted]
        for name in wanted:
            target = app.config.targets.get(name)
            if target is None:
                results.append(PushResult(name, False, f"target {name}: no such target in {app.config.where}"))
            elif target.token != token:
                results.append(PushResult(name, False, f"target {name}: holds token {target.token}, not {token}; not pushed"))
    return results + push_many(app, [(t, value) for t in chosen])


def push_many(app: "App", jobs: list[tuple["TargetConfig", str]]) -> list[PushResult]:
    """Each (target, value) pushed, WORKERS at a time; auth tokens read once each."""
    if not jobs:
        return []
    from tokenward.lifecycle import get_value
    from tokenward.registries.http import HttpClient

    auths: dict[str, str | TokenwardError] = {}
    for target, _ in jobs:
        if target.auth not in auths:
            try:
                auths[target.auth] = get_value(app, target.auth)[0]
            except TokenwardError as exc:
                auths[target.auth] = exc
    # Never send an auth token to a CI system it was not issued for (check_names refuses
    # it earlier with exit 2; this guards every caller).
    problems = {t.name: auth_problem(t, app.inventory.find(t.auth)) for t, _ in jobs if app.inventory.find(t.auth)}
    client = HttpClient(pool=WORKERS)

    def push_one(job: tuple["TargetConfig", str]) -> PushResult | None:
        target, value = job
        if client.cancelled:
            return None  # Ctrl-C before this one started: nothing sent, nothing to record
        auth = auths[target.auth]
        try:
            if isinstance(auth, TokenwardError):
                raise TargetError(target.name, f"cannot read the auth token {target.auth}: {auth}")
            if problems.get(target.name):
                raise TargetError(target.name, problems[target.name])
            open_target(target, client, auth).push(value)
        except TokenwardError as exc:
            return PushResult(target.name, False, _line(target.name, exc, value, auth))
        except Exception as exc:  # noqa: BLE001 - one target's surprise must not stop the others
            return PushResult(target.name, False, f"target {target.name}: unexpected {type(exc).__name__}")
        crash_point("push.target-pushed")  # the crash tests: killed with a target pushed, not yet recorded
        return PushResult(target.name, True, None)

    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(jobs)))
    futures = [pool.submit(push_one, job) for job in jobs]
    try:
        results = [result for future in futures if (result := future.result()) is not None]
    except KeyboardInterrupt:
        _interrupted(app, jobs, futures, pool, client)
    finally:
        pool.shutdown(wait=True)
        client.close()
    _record(app, jobs, results)
    return results


def _interrupted(app: "App", jobs, futures, pool: ThreadPoolExecutor, client) -> None:
    """Ctrl-C: start nothing more (queued targets are cancelled, no new request is
    sent), end the requests under way at once, record every target that got an answer
    (a push done is recorded as done; one cut off is recorded failed, so `tokens push`
    or `sync` pushes it again), then stop with exit 130 naming what was and was not done."""
    from tokenward.errors import Interrupted

    pool.shutdown(wait=False, cancel_futures=True)  # first: no queued target starts
    client.cancel()  # then the running ones end now: their sockets are shut
    pool.shutdown(wait=True)
    ran = [(job, f.result()) for job, f in zip(jobs, futures) if f.done() and not f.cancelled() and f.result() is not None]
    if ran:
        _record(app, [job for job, _ in ran], [result for _, result in ran])
    done = [r.target for _, r in ran if r.ok]
    left = [job[0].name for job in jobs if job[0].name not in done]
    pushed = f"pushed to {', '.join(done)}" if done else "nothing was pushed"
    raise Interrupted(
        f"interrupted: {pushed}; not pushed: {', '.join(left)} (`tokens push` or `tokens sync` pushes them)"
    ) from None


def _line(name: str, exc: TokenwardError, *secrets) -> str:
    """One line "target NAME: why". What a CI system said is scrubbed where it is read
    (targets/base.py); this is the last guard over the whole line."""
    from tokenward.registries.base import ECHO
    from tokenward.targets.base import scrubbed

    prefix = f"target {name}: "
    text = " ".join(str(exc).split())
    text = text[len(prefix) :] if text.startswith(prefix) else text
    return prefix + scrubbed(text, *(s for s in secrets if isinstance(s, str) and len(s) >= ECHO))


def _record(app: "App", jobs: list[tuple["TargetConfig", str]], results: list[PushResult]) -> None:
    rows = []
    by_token: dict[str, tuple[str, list[str], list[str]]] = {}
    for (target, value), result in zip(jobs, results):
        fp = fingerprint(value)
        rows.append((target.name, target.token, destination(target), fp, result.error))
        _fp, ok, failed = by_token.setdefault(target.token, (fp, [], []))
        (ok if result.ok else failed).append(target.name)
    from tokenward.policy import utcnow

    app.inventory.record_pushes(rows, utcnow())
    for token, (fp, ok, failed) in by_token.items():
        audit.append(app.data_dir, "push", token, targets=ok, failed=failed, fingerprint=fp)


def select(app: "App", names: Iterable[str]) -> list["TargetConfig"]:
    """The named targets (all when none are named); an unknown name or a target naming a
    token or auth token not in the inventory is refused (exit 2) before anything is read."""
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in app.config.targets]
    if unknown:
        known = ", ".join(app.config.targets) or "none"
        raise UsageError(f"no target named {unknown[0]!r} in {app.config.where} (configured targets: {known})")
    chosen = [app.config.targets[n] for n in names] if names else list(app.config.targets.values())
    check_names(app, chosen)
    return chosen


def check_newest(app: "App", token: str, targets: Iterable["TargetConfig"]) -> None:
    """Raise StoreConflict (exit 3) when a shared store of `token` (Vault, AWS: a
    MetadataStore) has moved on from the version this machine's inventory last saw:
    another machine rotated it, and what this machine holds would overwrite CI with an
    old value. Metadata only: no value is read."""
    from tokenward.errors import StoreConflict
    from tokenward.lifecycle import expected_version
    from tokenward.stores.base import MetadataStore

    record = app.inventory.get(token)
    for store_name in record.stores:
        store = app.store(store_name)
        if not isinstance(store, MetadataStore):
            continue
        try:
            expected_version(app, record, store_name, store.entry(token))
        except StoreConflict as exc:
            names = ", ".join(t.name for t in targets)
            text = str(exc).removeprefix(f"store {exc.store!r}: ")
            raise StoreConflict(exc.store, f"{text} (not pushed to {names}: {token} here is not the newest value)") from None


@contextmanager
def locked(app: "App", tokens: Iterable[str]) -> Iterator[None]:
    """Hold the tokens' locks (the ones a rotation writes its stores under; in name
    order, as sync takes them): a value read in here is still the current one when it is
    pushed, and a rotation waits until the push is over, then pushes its own value."""
    from tokenward.locks import token_lock

    with ExitStack() as held:
        for token in sorted(set(tokens)):
            held.enter_context(token_lock(app.data_dir, token))
        yield


def push_targets(app: "App", targets: list["TargetConfig"]) -> list[PushResult]:
    """`tokens push`: each target's token value, read once per token from its stores,
    checked against every target first (exit 2 before any write) and against the
    shared stores' versions (exit 3: another machine rotated it), then pushed; all of it
    under the tokens' locks (see locked)."""
    with locked(app, (t.token for t in targets)):
        return _push_targets(app, targets)


def _push_targets(app: "App", targets: list["TargetConfig"]) -> list[PushResult]:
    from tokenward.lifecycle import get_value

    for token in dict.fromkeys(t.token for t in targets):
        check_newest(app, token, [t for t in targets if t.token == token])
    values: dict[str, str] = {}
    for target in targets:
        if target.token not in values:
            values[target.token] = get_value(app, target.token)[0]
    for token, value in values.items():
        check_value(app, token, value, [t for t in targets if t.token == token])
    return push_many(app, [(t, values[t.token]) for t in targets])


def pending_targets(app: "App", names: Iterable[str] | None = None) -> list["TargetConfig"]:
    """`tokens sync`'s share: the targets (of the named tokens, else all) that are stale
    (hold a value from before the token's last rotation) or whose last push failed.
    Targets never pushed from this machine are left to `tokens push`: a teammate's
    machine syncing the same tokens may hold no auth token for them. A target this
    machine pushed before that now points elsewhere (another repo, secret, variable...:
    `never` there) is pushed too."""
    from tokenward.targets.status import target_rows

    wanted = set(names or ())
    pushed_here = {name for name, held in app.inventory.target_states().items() if held.pushed_at is not None}
    rows = [
        r for r in target_rows(app)
        if (r.state in ("stale", "failed") or (r.state == "never" and r.name in pushed_here)) and (not wanted or r.token in wanted)
    ]  # fmt: skip
    return [app.config.targets[r.name] for r in rows]


def push_pending(app: "App", names: Iterable[str] | None = None) -> list[PushResult]:
    """Push each pending target (see pending_targets) its token's current value, read
    once per token; never raises for a target: a target that cannot be pushed (its token
    or auth token gone from the inventory, a value it would refuse) is its result."""
    pending = pending_targets(app, names)
    with locked(app, (t.token for t in pending)):
        return _push_pending(app, pending)


def _push_pending(app: "App", pending: list["TargetConfig"]) -> list[PushResult]:
    from tokenward.lifecycle import get_value

    results: list[PushResult] = []
    jobs: list[tuple["TargetConfig", str]] = []
    values: dict[str, str | TokenwardError] = {}
    for target in pending:
        try:
            check_names(app, [target])
            if target.token not in values:
                try:
                    # A token sync left in conflict is not pushed: CI would get an old value.
                    check_newest(app, target.token, [t for t in pending if t.token == target.token])
                    values[target.token] = get_value(app, target.token)[0]
                except TokenwardError as exc:
                    values[target.token] = exc
            value = values[target.token]
            if isinstance(value, TokenwardError):
                raise TargetError(target.name, f"cannot read token {target.token}: {value}")
            open_target(target, None, "").check_value(value)  # type: ignore[arg-type]
        except TokenwardError as exc:
            text = str(exc).removeprefix(f"target {target.name}: ").removeprefix(f"target {target.name} ")
            text = text.removesuffix("; nothing was written")
            results.append(PushResult(target.name, False, f"target {target.name}: {text}"))
            continue
        jobs.append((target, value))
    return results + push_many(app, jobs)
