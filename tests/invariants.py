"""Shared pieces of the invariant tests (faults, crashes, concurrency, leaks):
one machine's config over keyring + OpenBao + moto, direct reads of every store,
the inventory checks, and the figures that scripts/guarantees.py collects."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.remote_stores import REGION, aws_table, keyring_table, unique, vault_table
from tokenward.tokens import fingerprint

FIGURES_ENV = "TOKENWARD_GUARANTEES_OUT"


def record_figure(area: str, **counts) -> None:
    """Append counts (cases, trials, processes, ...) for scripts/guarantees.py, when it asked."""
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"area": area, **counts}) + "\n")


class Rig:
    """One machine: a data dir, a keyring service, a config naming keyring, vault, aws."""

    def __init__(self, root: Path, tokens, env: dict, vault, moto, *, keyring_backend: str | None = None) -> None:
        self.root, self.tokens, self.vault, self.moto = root, tokens, vault, moto
        self.home = root / "home"
        self.config_path = root / "config.toml"
        self.service = unique("tokenward-rig-")
        self.prefix = unique("rig/") + "/"
        self.env = dict(env, TOKENS_HOME=str(self.home), TOKENS_CONFIG=str(self.config_path))
        if keyring_backend:
            self.env["PYTHON_KEYRING_BACKEND"] = keyring_backend
        self.values: set[str] = set()  # every value handed to tokenward: must never leak
        self.configure()

    def configure(self, *, vault_url: str | None = None, aws_url: str | None = None, timeout: int = 3, stores=None) -> None:
        self.stores = tuple(stores or getattr(self, "stores", ("keyring", "vault", "aws")))
        text = f"[defaults]\nstores = {json.dumps(list(self.stores))}\n" + keyring_table(self.service)
        text += vault_table("vault", vault_url or self.vault.url, self.prefix, timeout=timeout)
        if self.moto is not None:
            text += aws_table("aws", aws_url or self.moto.url, self.prefix, timeout=timeout)
        self.config_path.write_text(text)

    def value(self, tag: str = "V") -> str:
        value = f"ghp_{tag}{unique('')}{unique('')}"
        self.values.add(value)
        return value

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 120):
        result = self.tokens(*args, input=input, env=dict(self.env, **(env or {})), timeout=timeout)
        self.assert_clean(result.stderr, f"stderr of {args}")
        if "get" not in args and "--no-mask" not in args:
            self.assert_clean(result.stdout, f"stdout of {args}")
        assert "Traceback" not in result.stderr, (args, result)
        return result

    def assert_clean(self, text: str, where: str) -> None:
        for value in self.values:
            assert value not in text, f"a value leaked into {where}"

    # -- reading every store directly ----------------------------------------------
    def read(self, store: str, name: str) -> str | None:
        """The value a store holds, read with its own SDK (None when absent)."""
        if store == "keyring":
            return self._keyring().get_password(self.service, name)
        if store == "vault":
            import hvac
            import hvac.exceptions

            client = hvac.Client(url=self.vault.url, token=self.vault.extra["root_token"])
            try:
                data = client.secrets.kv.v2.read_secret_version(path=self.prefix + name, mount_point="secret", raise_on_deleted_version=True)
            except hvac.exceptions.InvalidPath:
                return None
            return data["data"]["data"]["value"]
        import boto3

        client = boto3.client(
            "secretsmanager", endpoint_url=self.moto.url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        try:
            return client.get_secret_value(SecretId=self.prefix + name)["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            return None
        except client.exceptions.InvalidRequestException:
            return None  # scheduled for deletion

    def _keyring(self):
        backend = self.env.get("PYTHON_KEYRING_BACKEND")
        if backend:
            import importlib

            module, _, cls = backend.rpartition(".")
            os.environ.setdefault("TOKENWARD_TEST_KEYRING", self.env.get("TOKENWARD_TEST_KEYRING", ""))
            return getattr(importlib.import_module(module), cls)()
        import keyring

        return keyring.get_keyring()

    def held(self, name: str, stores=("keyring", "vault", "aws")) -> dict[str, str | None]:
        return {store: self.read(store, name) for store in stores}

    # -- the inventory ---------------------------------------------------------------
    def inventory_check(self) -> dict[str, dict]:
        """PRAGMA integrity_check passes; returns name -> row (metadata only)."""
        conn = sqlite3.connect(self.home / "inventory.sqlite3")
        try:
            conn.row_factory = sqlite3.Row
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return {r["name"]: dict(r) for r in conn.execute("SELECT * FROM tokens")}
        finally:
            conn.close()

    def journal(self) -> list[dict]:
        conn = sqlite3.connect(self.home / "inventory.sqlite3")
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM journal")]
        finally:
            conn.close()

    def assert_converged(self, name: str, expected: str, stores=("keyring", "vault", "aws")) -> None:
        """Every store holds `expected` (read directly) and the inventory records it."""
        held = self.held(name, stores)
        assert held == {s: expected for s in stores}, {s: (v == expected, v is None) for s, v in held.items()}
        rows = self.inventory_check()
        assert rows[name]["fingerprint"] == fingerprint(expected)
        assert not [j for j in self.journal() if j["name"] == name]
