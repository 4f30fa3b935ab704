"""What a sync run found and did: the Report, its JSON form, and its lines of text."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenward.errors import AccessDenied, ExitStatus, StoreUnavailable, TokenwardError
from tokenward.policy import to_iso
from tokenward.sync.plan import TokenPlan


@dataclass
class Report:
    plans: list[TokenPlan]
    store_errors: dict[str, str] = field(default_factory=dict)  # store -> error that stopped it
    undiscovered: int = 0  # remote tokens not in the inventory (without --discover)
    skipped_remote: list[str] = field(default_factory=list)  # remote secrets without usable metadata
    warnings: list[str] = field(default_factory=list)  # shared metadata fields left out (shared_meta)
    dry_run: bool = False
    applied: bool = False
    worst: ExitStatus = ExitStatus.OK
    # CI targets that were stale or failed before the run (the plan), and what pushing them did.
    pending_targets: list[str] = field(default_factory=list)
    pushes: list = field(default_factory=list)  # targets.push.PushResult

    def note_error(self, exc: TokenwardError) -> None:
        if isinstance(exc, (StoreUnavailable, AccessDenied)):
            self.worst = ExitStatus.STORE
        elif self.worst == ExitStatus.OK:
            self.worst = ExitStatus.FINDINGS

    @property
    def exit_status(self) -> int:
        status = self.worst
        for plan in self.plans:
            if plan.status in ("conflict", "failed", "lost") or plan.write_errors or plan.failed or plan.lost_rotations:
                status = max(status, ExitStatus.FINDINGS)
        if self.store_errors or any(not p.ok for p in self.pushes):
            status = max(status, ExitStatus.FINDINGS)
        return int(status)

    def summary(self) -> dict[str, int]:
        counts = {
            "tokens": len(self.plans), "in_sync": 0, "unchecked": 0, "updated": 0, "writes": 0, "conflicts": 0,
            "failed": 0, "discovered": 0,
        }  # fmt: skip
        for plan in self.plans:
            if plan.status == "in-sync":
                counts["in_sync"] += 1
            elif plan.status == "unchecked":
                counts["unchecked"] += 1
            elif plan.status == "update":
                done = self.applied and not plan.write_errors
                counts["updated"] += 1 if done or not self.applied else 0
                counts["writes"] += len(plan.written) if self.applied else len(plan.writes)
            elif plan.status == "conflict":
                counts["conflicts"] += 1
            if plan.status in ("failed", "lost") or plan.write_errors or (plan.failed and plan.status != "unchecked"):
                counts["failed"] += 1
            if plan.discovered and plan.status == "update":
                counts["discovered"] += 1
        return counts

    @property
    def all_warnings(self) -> list[str]:
        return [*self.warnings, *(w for p in self.plans for w in p.warnings)]


def to_json(report: Report) -> dict:
    tokens = []
    for plan in report.plans:
        item: dict = {
            "name": plan.name,
            "status": plan.status,
            "discovered": plan.discovered,
            "message": plan.message,
            "source": plan.source,
            "rotated_at": to_iso(plan.rotated_at),
            "writes": [],
        }
        for write in plan.writes:
            entry = {"store": write.store, "reason": write.reason}
            if report.applied:
                if write.store in plan.written:
                    entry["result"] = "written"
                elif write.store in plan.write_errors or plan.write_errors:
                    entry["result"] = "failed"
                    entry["error"] = plan.write_errors.get(write.store) or next(iter(plan.write_errors.values()))
                else:
                    entry["result"] = "skipped"
            else:
                entry["result"] = "planned"
            item["writes"].append(entry)
        if plan.failed:
            item["unreachable"] = plan.failed
        if plan.write_errors:
            item["errors"] = plan.write_errors
        if plan.lost_rotations:
            item["lost_rotations"] = list(plan.lost_rotations)
        tokens.append(item)
    if report.applied:
        targets = [{"name": r.target, "result": "pushed" if r.ok else "failed", "error": r.error} for r in report.pushes]
    else:
        targets = [{"name": name, "result": "planned", "error": None} for name in report.pending_targets]
    return {
        "dry_run": report.dry_run,
        "tokens": tokens,
        "targets": targets,
        "store_errors": report.store_errors,
        "undiscovered": report.undiscovered,
        "skipped_remote": report.skipped_remote,
        "warnings": report.all_warnings,
        "summary": report.summary(),
    }


# -- text, for `tokens sync` ------------------------------------------------------------
def error_lines(report: Report) -> list[str]:
    """Each store that could not be observed, once: a store that stopped (listing
    failed) or one that failed token by token (a locked keyring: its first error)."""
    errors = list(report.store_errors.values())
    per_store: dict[str, str] = {}
    for plan in report.plans:
        for store, error in plan.failed.items():
            if store not in report.store_errors:
                per_store.setdefault(store, error)
    return errors + list(per_store.values())


def plan_lines(report: Report) -> list[str]:
    rows = []
    width = max((len(p.name) for p in report.plans if p.status != "in-sync"), default=0)
    for plan in report.plans:
        if plan.status == "in-sync" and not plan.failed:
            continue
        label = {"update": "discover" if plan.discovered else "update", "unchecked": "not checked"}.get(plan.status, plan.status)
        rows.append(f"  {plan.name.ljust(width)}  {label}: {plan.message}")
    return rows


def result_lines(report: Report) -> list[str]:
    rows = []
    for plan in report.plans:
        if plan.written:
            rows.append(f"  {plan.name}: wrote {', '.join(sorted(plan.written))}")
        for store, error in plan.write_errors.items():
            rows.append(f"  {plan.name}: not written to {store}: {error}")
        for text in plan.lost_rotations:
            rows.append(f"  {plan.name}: {text}")
    pushed = [r.target for r in report.pushes if r.ok]
    if pushed:
        rows.append(f"  pushed to CI targets {', '.join(pushed)}")
    return rows


def push_error_lines(report: Report) -> list[str]:
    """One line per CI target that could not be pushed ("target NAME: why")."""
    return [r.error or f"target {r.target}: failed" for r in report.pushes if not r.ok]


def summary_line(report: Report, *, also_failed: int = 0) -> str:
    """`also_failed`: interrupted API rotations that sync could not finish (cli/sync_cmd.py)."""
    s = report.summary()
    s["failed"] += also_failed
    verb = "would update" if report.dry_run else "updated"
    parts = [f"{s['in_sync']} in sync"]
    if s["unchecked"]:
        parts.append(f"{s['unchecked']} not checked in every store")
    parts.append(f"{s['updated']} {verb} ({s['writes']} writes)")
    if s["discovered"]:
        parts.append(f"{s['discovered']} discovered")
    parts.append(f"{s['conflicts']} conflict{'s' if s['conflicts'] != 1 else ''}")
    parts.append(f"{s['failed']} failed")
    if report.pending_targets:
        if report.dry_run or not report.applied:
            parts.append(f"{len(report.pending_targets)} CI targets to push")
        else:
            failed = sum(1 for r in report.pushes if not r.ok)
            parts.append(f"{len(report.pushes) - failed} CI targets pushed" + (f" ({failed} failed)" if failed else ""))
    return f"{'Dry run' if report.dry_run else 'Synced'} {s['tokens']} tokens: " + ", ".join(parts) + "."
