"""Make every store of each token hold its newest value: observe, plan (pure), apply.

- `observe.py` reads the stores into `TokenState`s, as little as it can (metadata
  vouches for values; `entries.py` reads a metadata store's entries);
- `plan.py` is the pure planner: `plan_token` decides from those observations alone;
- `apply.py` reads each winning value once, writes it where it is missing or older,
  then updates the inventory and the journal;
- `report.py` is what a run found and did: `Report`, its JSON and its lines of text.

`Sync` runs the three steps for `tokens sync`; the plan is what `--dry-run` prints.
"""

from __future__ import annotations

from typing import Callable, Iterable

from tokenward.app import App
from tokenward.errors import UsageError
from tokenward.inventory import NAME_RE
from tokenward.lifecycle import rollback_token
from tokenward.sync.apply import Applier
from tokenward.sync.observe import Observed, Observer, ValueCache
from tokenward.sync.plan import Decision, Seen, TokenPlan, TokenState, Write, plan_all, plan_token
from tokenward.sync.report import Report, to_json

__all__ = [
    "Decision", "Report", "Seen", "Sync", "TokenPlan", "TokenState", "Write",
    "plan_all", "plan_token", "rollback_token", "to_json",
]  # fmt: skip


class Sync:
    """One `tokens sync` run over an App."""

    def __init__(
        self,
        app: App,
        names: Iterable[str] = (),
        *,
        prefer: str | None = None,
        discover: bool = False,
        verify: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.names = list(dict.fromkeys(names))
        self.prefer = prefer
        self.discover = discover
        self.verify = verify
        self.progress = progress
        self.values = ValueCache()  # values read, in memory only
        self._observed: Observed | None = None
        if prefer is not None:
            app.config.store(prefer)  # unknown store: usage error
        for name in self.names:
            if not NAME_RE.fullmatch(name):
                raise UsageError(f"invalid token name {name!r}")

    def observe(self) -> Observed:
        self._observed = Observer(self.app, self.names, discover=self.discover, verify=self.verify, values=self.values).observe()
        return self._observed

    def plan(self) -> Report:
        observed = self.observe()
        report = observed.report
        report.plans = plan_all(observed.states, prefer=self.prefer, now=self.app.now, source_rank=observed.rank)
        if self.app.config.targets:
            from tokenward.targets.push import pending_targets

            report.pending_targets = [t.name for t in pending_targets(self.app, self.names)]
        for plan in report.plans:
            if plan.status == "conflict" and not plan.discovered and self._raced(plan.name, observed):
                # A rotation ran while we looked: its new value is not a conflict.
                plan.status = "failed"
                plan.message = "rotated while syncing; run `tokens sync` again"
        return report

    def _raced(self, name: str, observed: Observed) -> bool:
        """The record or its pending rotations changed since observe() read them."""
        current = self.app.inventory.find(name)
        if current is None or (current.fingerprint, current.rotated_at) != observed.snapshots.get(name):
            return True
        return {e.id for e in self.app.inventory.journal_pending(name)} != observed.journal_seen.get(name, set())

    def apply(self, report: Report) -> Report:
        if self._observed is None:
            raise RuntimeError("Sync.apply() needs the report of Sync.plan()")
        Applier(self.app, self._observed, self.values, self.progress).apply(report)
        if self.app.config.targets:  # then the CI targets left stale or failed (targets/push.py)
            from tokenward.targets.push import push_pending

            report.pushes = push_pending(self.app, self.names)
        return report

    def run(self, *, dry_run: bool = False, on_plan: Callable[[Report], None] | None = None) -> Report:
        report = self.plan()
        report.dry_run = dry_run
        if on_plan is not None:
            on_plan(report)
        if not dry_run:
            self.apply(report)
        self.values.clear()
        return report
