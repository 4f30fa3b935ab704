"""The state one command runs with: config, data dir, inventory and opened stores.

Everything is opened lazily, so `tokens list` never imports a store SDK and
`tokens remind` never touches a store."""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

from tokenward.config import Config, load_config
from tokenward.inventory import Inventory
from tokenward.errors import LocalDataError
from tokenward.paths import data_dir as default_data_dir
from tokenward.paths import check_private_file, ensure_private_dir, not_writable
from tokenward.policy import utcnow
from tokenward.stores.base import Store, open_store


class App:
    def __init__(self, config: Config, data_dir: Path, now: datetime | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        self.now = utcnow() if now is None else now
        self._inventory: Inventory | None = None
        self._stores: dict[str, Store] = {}

    @classmethod
    def load(cls, config_file: str | None = None, *, now: datetime | None = None) -> "App":
        return cls(config=load_config(config_file), data_dir=default_data_dir(), now=now or utcnow())

    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = Inventory.open(self.data_dir)
        return self._inventory

    def check_writable(self) -> None:
        """Before a command that changes anything: the data dir, the inventory and the
        audit log must take writes, so no work is done that could not be recorded."""
        from tokenward.audit import AUDIT_FILE
        from tokenward.inventory import DB_NAME

        directory = ensure_private_dir(self.data_dir)
        for name in (DB_NAME, AUDIT_FILE):
            check_private_file(directory / name)
        for path in (directory, directory / DB_NAME, directory / AUDIT_FILE):
            mode = os.W_OK | (os.X_OK if path == directory else 0)
            if path.exists() and not os.access(path, mode):
                problem = not_writable(path, PermissionError(errno.EACCES, "Permission denied"))
                raise LocalDataError(f"{problem}; nothing was done")

    def store(self, name: str) -> Store:
        if name not in self._stores:
            self._stores[name] = open_store(self.config.store(name), data_dir=self.data_dir)
        return self._stores[name]

    def close(self) -> None:
        if self._inventory is not None:
            self._inventory.close()
            self._inventory = None
