"""What `tokens doctor` checks: config, stores, keyring backend, file permissions."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from tokenward.app import App
from tokenward.errors import ConfigError, ExitStatus, TokenwardError
from tokenward.paths import DIR_MODE, FILE_MODE


@dataclass(frozen=True)
class Check:
    subject: str
    state: str  # ok, warn, fail
    detail: str
    exit_status: int = 0

    def as_json(self) -> dict:
        return {"subject": self.subject, "state": self.state, "detail": self.detail}


def _permissions(app: App) -> list[Check]:
    directory = app.data_dir
    checks = []
    if not directory.exists():
        return [Check("data dir", "ok", f"{directory} (not created yet)")]
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode != DIR_MODE:
        checks.append(Check("data dir", "fail", f"{directory} is {mode:o}, expected 700 (chmod 700 it)", ExitStatus.BAD_INPUT))
    else:
        checks.append(Check("data dir", "ok", f"{directory} (700)"))
    loose = []
    uid = os.geteuid()
    for path in sorted(directory.rglob("*")):
        # lstat: a state file that is a symlink (to /dev/zero), a FIFO or another user's
        # file is named here, not skipped as "not a file".
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            loose.append(f"{path.name} is a symbolic link")
        elif st.st_uid != uid:
            loose.append(f"{path.name} belongs to another user (uid {st.st_uid})")
        elif stat.S_ISREG(st.st_mode):
            if mode != FILE_MODE:
                loose.append(f"{path.name} is {mode:o}")
        elif stat.S_ISDIR(st.st_mode):
            if mode != DIR_MODE:
                loose.append(f"{path.name}/ is {mode:o}")
        else:
            loose.append(f"{path.name} is not a regular file")
    if loose:
        checks.append(Check("data files", "fail", "; ".join(loose) + " (expected regular files of yours, 600)", ExitStatus.BAD_INPUT))
    else:
        checks.append(Check("data files", "ok", "all 600"))
    return checks


def load_app(config_file: str | None) -> tuple[App, Check]:
    """The App to check, and the config's own check. A config that does not load is
    doctor's first finding, not a reason to stop: the data dir and the inventory are
    still checked (with the built-in defaults standing in for the config)."""
    from tokenward.config import Config
    from tokenward.paths import data_dir

    try:
        app = App.load(config_file)
    except ConfigError as exc:
        return App(config=Config(path=None), data_dir=data_dir()), Check("config", "fail", str(exc), ExitStatus.BAD_INPUT)
    return app, Check("config", "ok", app.config.where)


def run_checks(app: App, config_check: Check | None = None) -> list[Check]:
    config_check = config_check or Check("config", "ok", app.config.where)
    checks = [config_check]
    checks.extend(_permissions(app))
    try:
        count = len(app.inventory)
        ok = app.inventory.integrity_ok()
        checks.append(
            Check("inventory", "ok" if ok else "fail", f"{app.inventory.path} ({count} tokens)", 0 if ok else ExitStatus.STORE)
        )
    except TokenwardError as exc:
        checks.append(Check("inventory", "fail", str(exc), exc.exit_status))
    if config_check.state == "fail":
        checks.append(Check("stores", "warn", "not checked: the config did not load"))
        return checks
    for name in app.config.stores:
        try:
            detail = app.store(name).describe()
        except TokenwardError as exc:
            checks.append(Check(f"store {name}", "fail", str(exc), exc.exit_status))
        else:
            checks.append(Check(f"store {name}", "ok", detail))
    if app.config.targets:
        from tokenward.targets.base import cleartext
        from tokenward.targets.status import check_access

        for name, ok, detail in check_access(app):
            checks.append(Check(f"target {name}", "ok" if ok else "fail", detail, 0 if ok else ExitStatus.STORE))
            warning = cleartext(app.config.targets[name])
            if warning:
                checks.append(Check(f"target {name}", "warn", warning.removeprefix(f"target {name}: ")))
    return checks
