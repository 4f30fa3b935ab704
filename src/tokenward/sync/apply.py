"""Apply: read each winning value once (in bulk where the store can), write it where it
is missing or older, then update the inventory and close the journal entries of
interrupted rotations. One store failing does not stop the others.

Tokens are applied in batches, each batch under its tokens' locks (taken in name
order, released together through an ExitStack); a token rotated since it was
observed is left to the next sync.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

from tokenward import audit
from tokenward.app import App
from tokenward.errors import Interrupted, StoreError
from tokenward.inventory import TokenRecord
from tokenward.lifecycle import store_metadata
from tokenward.locks import token_lock
from tokenward.stores.base import Concurrent, MetadataWriter
from tokenward.sync.observe import Observed, ValueCache, read_values
from tokenward.sync.plan import Decision, TokenPlan, Write
from tokenward.sync.report import Report
from tokenward.testhooks import crash_point, pause_point
from tokenward.tokens import fingerprint

BATCH = 200  # tokens locked and applied at a time


@dataclass
class Applying:
    """One decided plan while it is applied: the record gains each store's new version."""

    plan: TokenPlan
    decision: Decision
    record: TokenRecord

    @property
    def name(self) -> str:
        return self.plan.name


class Applier:
    def __init__(self, app: App, observed: Observed, values: ValueCache, progress: Callable[[int, int], None] | None) -> None:
        self.app = app
        self.observed = observed
        self.values = values
        self.progress = progress

    def apply(self, report: Report) -> Report:
        try:
            return self._apply(report)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted_summary(report)) from None

    def _apply(self, report: Report) -> Report:
        todo = [
            Applying(p, p.decision, p.decision.record)
            for p in report.plans
            if p.decision is not None
            and (p.status == "update" or (p.status in ("in-sync", "unchecked") and (p.decision.close_journal or p.decision.save)))
        ]
        total = len(todo)
        for start in range(0, total, BATCH):
            batch = todo[start : start + BATCH]
            self._apply_batch(batch, report)
            if self.progress:
                self.progress(start + len(batch), total)
        report.applied = True
        return report

    def _apply_batch(self, batch: list[Applying], report: Report) -> None:
        with ExitStack() as locks:
            for item in sorted(batch, key=lambda i: i.name):
                locks.enter_context(token_lock(self.app.data_dir, item.name))
            live = [i for i in batch if self._still_current(i)]
            try:
                # Re-keying metadata needs no value from the source store.
                self._fetch_winners([i for i in live if any(w.reason != "rekey" for w in i.decision.writes)], report)
                crash_point("sync.fetched")
                self._write([i for i in live if i.decision.writes], report)
                crash_point("sync.written")
                pause_point("sync.written")
            except KeyboardInterrupt:
                # Keep what completed: the inventory, the history and the journal learn
                # about every write that finished; the rest is left to the next sync.
                for item in live:
                    for write in item.decision.writes:
                        if write.store not in item.plan.written:
                            item.plan.write_errors.setdefault(write.store, "interrupted")
                self._save(live)
                raise
            self._save(live)

    def _still_current(self, item: Applying) -> bool:
        """A rotation that ran since we looked wins: leave the token to the next sync."""
        plan = item.plan
        current = self.app.inventory.find(plan.name)
        if plan.discovered:
            if current is not None:
                plan.write_errors["inventory"] = "added on this machine while syncing; run `tokens sync` again"
                return False
            return True
        if current is None:
            plan.write_errors["inventory"] = "removed while syncing"
            return False
        snapshot = self.observed.snapshots.get(plan.name)
        if snapshot is not None and (current.fingerprint, current.rotated_at) != snapshot:
            plan.write_errors["inventory"] = "rotated while syncing; run `tokens sync` again"
            return False
        return True

    def _fetch_winners(self, items: list[Applying], report: Report) -> None:
        wanted: dict[str, list[str]] = {}
        for item in items:
            if self.values.get(item.name, item.decision.source) is None:
                wanted.setdefault(item.decision.source, []).append(item.name)
        stores = {s: self.app.store(s) for s in wanted}
        fetched = read_values(stores, wanted, report, self.values)
        for item in items:
            source = item.decision.source
            value = self.values.get(item.name, source)
            if value is None:
                error = fetched.get((item.name, source))
                item.plan.write_errors[source] = str(error) if error else "could not read the value"
            elif fingerprint(value) != item.decision.winner:
                item.plan.write_errors[source] = (
                    f"store {source!r}: its value for {item.name} no longer matches its metadata "
                    "(changed while syncing?); nothing written, run `tokens sync` again"
                )

    def _write(self, items: list[Applying], report: Report) -> None:
        by_store: dict[str, list[Applying]] = {}
        for item in items:
            if item.plan.write_errors:
                continue
            for write in item.decision.writes:
                by_store.setdefault(write.store, []).append(item)
        lock = threading.Lock()

        def write_one(store_name: str, item: Applying) -> None:
            write = next(w for w in item.decision.writes if w.store == store_name)
            try:
                version = self._write_one(store_name, item, write)
            except StoreError as exc:
                with lock:
                    item.plan.write_errors[store_name] = str(exc)
                    report.note_error(exc)
                return
            if write.reason not in ("rekey", "metadata"):
                crash_point("sync.store-written")
            with lock:
                item.plan.written.append(store_name)
                versions = dict(item.record.store_versions)
                if write.reason in ("rekey", "metadata"):
                    if write.reason == "metadata" and isinstance(write.expect, str):
                        item.record = item.record.with_(store_versions={**versions, store_name: write.expect})
                    return
                versions.pop(store_name, None)
                if version:
                    versions[store_name] = version
                item.record = item.record.with_(store_versions=versions)

        def write_store(store_name: str) -> None:
            store = self.app.store(store_name)
            concurrency = store.concurrency if isinstance(store, Concurrent) else 1
            workers = max(1, min(concurrency, len(by_store[store_name])))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda item: write_one(store_name, item), by_store[store_name]))

        for name in by_store:
            self.app.store(name)  # open in this thread; App's cache is not thread-safe
        with ThreadPoolExecutor(max_workers=max(1, len(by_store))) as pool:
            list(pool.map(write_store, list(by_store)))

    def _write_one(self, store_name: str, item: Applying, write: Write) -> str | None:
        """One write; returns the store's new version (None for a metadata rewrite)."""
        store = self.app.store(store_name)
        source = item.decision.source
        if write.reason in ("rekey", "metadata"):
            # The store already holds the value: describe it without a new version.
            if not isinstance(store, MetadataWriter):
                raise StoreError(store_name, "cannot rewrite its metadata alone")
            value = self.values.get(item.name, source) if write.reason == "metadata" else None
            extra = {"value": value} if value is not None else {}
            store.put_metadata(item.name, store_metadata(item.record), str(write.expect), **extra)
            return None
        value = self.values.get(item.name, source)
        if value is None:
            raise KeyError((item.name, source))  # _fetch_winners guarantees it; as before, not a StoreError
        return store.put(item.name, value, store_metadata(item.record), expect=write.expect).version

    def _save(self, items: list[Applying]) -> None:
        inventory = self.app.inventory
        new = [i.record for i in items if i.plan.discovered and i.decision.source not in i.plan.write_errors]
        if new:
            inventory.insert_many(new)
        for item in items:
            plan, decision, record = item.plan, item.decision, item.record
            if decision.source in plan.write_errors:
                continue
            if not plan.discovered and decision.save:
                # The winner is safe in its source store, so the record may name it even
                # if some writes failed; versions only for the writes that succeeded.
                inventory.save(record)
                crash_point("sync.saved")
            if decision.close_journal and not plan.write_errors:
                for entry in inventory.journal_pending(plan.name):
                    inventory.journal_end(entry.id)
            failed = sorted(s for s in plan.write_errors if s in record.stores)
            if failed and not inventory.journal_pending(plan.name):
                # Remember the stores still behind: a local store is otherwise taken to
                # hold what the inventory says, and would never be repaired.
                entry_id = inventory.journal_begin(plan.name, "sync", decision.winner, decision.rotated_at, list(record.stores))
                for store in plan.written:
                    inventory.journal_mark(entry_id, store)
            if plan.status == "update":
                audit.append(
                    self.app.data_dir,
                    "discover" if plan.discovered else "sync",
                    plan.name,
                    stores=sorted(plan.written),
                    failed=sorted(plan.write_errors),
                    fingerprint=decision.winner,
                )
        self.values.drop({i.name for i in items})


def _interrupted_summary(report: Report) -> str:
    done = [f"{p.name} -> {', '.join(sorted(p.written))}" for p in report.plans if p.written]
    left = sorted({p.name for p in report.plans if p.writes and set(w.store for w in p.writes) - set(p.written)})
    text = "interrupted: "
    text += f"wrote {'; '.join(done)} (recorded in the inventory and history)" if done else "nothing was written"
    if left:
        text += f"; not done: {', '.join(left)}"
    return text + "; `tokens sync` finishes it"
