"""The local inventory: one SQLite file of token metadata. Never a secret value.

Concurrency: WAL mode, a generous busy timeout, and every read-modify-write in a
`BEGIN IMMEDIATE` transaction, so a cron `remind` during a rotation neither sees
"database is locked" nor loses an update.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from contextlib import contextmanager
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import Iterator

from tokenward.errors import InventoryError, LocalDataError, TokenExists, TokenNotFound, UsageError
from tokenward.paths import FILE_MODE, check_private_file, ensure_private_dir, not_writable, private_file
from tokenward.plain import Plain
from tokenward.policy import from_iso, to_iso
from tokenward.testhooks import crash_point

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
DB_NAME = "inventory.sqlite3"
BUSY_TIMEOUT_MS = 60_000

_MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT '',
        scope TEXT NOT NULL DEFAULT '',
        repository TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        rotated_at TEXT NOT NULL,
        rotate_every TEXT,
        expires_at TEXT,
        stores TEXT NOT NULL DEFAULT '[]',
        fingerprint TEXT NOT NULL DEFAULT '',
        last_used_at TEXT,
        env TEXT NOT NULL DEFAULT '{}',
        store_versions TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        action TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        rotated_at TEXT NOT NULL,
        stores TEXT NOT NULL,
        done TEXT NOT NULL DEFAULT '[]',
        started_at TEXT NOT NULL
    );
    """,
    # version 2: what `tokens verify` / `tokens revoke` last learned from the registry
    """
    ALTER TABLE tokens ADD COLUMN verified_at TEXT;
    ALTER TABLE tokens ADD COLUMN verify_result TEXT;
    ALTER TABLE tokens ADD COLUMN registry_expires_at TEXT;
    ALTER TABLE tokens ADD COLUMN registry_scopes TEXT;
    ALTER TABLE tokens ADD COLUMN registry_key TEXT
    """,
    # version 3: when the metadata was last edited (`tokens edit`), shared with the stores
    """
    ALTER TABLE tokens ADD COLUMN edited_at TEXT
    """,
    # version 4: what was last pushed to each CI target (targets/), and its last failure
    """
    CREATE TABLE target_state (
        target TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        pushed_at TEXT,
        fingerprint TEXT NOT NULL DEFAULT '',
        last_error TEXT,
        error_at TEXT
    )
    """,
    # version 5: where each CI target was pushed (targets/base.py destination): a target
    # pointed elsewhere in the config holds nothing there yet ('' = pushed before this)
    """
    ALTER TABLE target_state ADD COLUMN destination TEXT NOT NULL DEFAULT ''
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


SQLITE_HEADER = b"SQLite format 3\x00"
RECOVERY = (
    "move it aside, then rebuild the inventory from your Vault/AWS stores with `tokens sync --discover`, "
    "or put back your backup of it"
)


def damaged(path: Path, why: str) -> InventoryError:
    return InventoryError(f"inventory {path} is damaged ({why}): {RECOVERY}")


def local_error(path: Path, exc: sqlite3.OperationalError) -> LocalDataError:
    """SQLite's operational errors are the environment's: read-only, full, I/O, locked."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return LocalDataError(f"inventory {path} is read-only: nothing was changed (make it and its directory writable)")
    return LocalDataError(f"inventory {path}: {text}")


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except PermissionError:
        raise LocalDataError(f"inventory {path} is not readable: chmod u+r {path}") from None
    if not head:
        raise damaged(path, "the file is empty")
    if head != SQLITE_HEADER:
        raise damaged(path, "not an SQLite database")


def _frozen(directory: Path, path: Path) -> bool:
    """Nothing can write here now (a directory without write permission, and no WAL
    content waiting), so reading the database file as immutable is exact."""
    wal = Path(f"{path}-wal")
    return not os.access(directory, os.W_OK) and (not wal.exists() or wal.stat().st_size == 0)


def _own_sidecars(path: Path) -> None:
    """Refuse a -wal/-shm that is not ours (a planted one); make ours 0600.

    SQLite creates them with the database file's mode: a read of an inventory that was
    0400 leaves them 0400, and every later write would fail as "read-only" although the
    inventory is writable again. They are ours, so they are set to 0600, never refused."""
    for suffix in ("-wal", "-shm"):
        sidecar = Path(f"{path}{suffix}")
        st = check_private_file(sidecar)
        if st is not None and stat.S_IMODE(st.st_mode) != FILE_MODE:
            try:
                os.chmod(sidecar, FILE_MODE, follow_symlinks=False)
            except FileNotFoundError:
                pass  # removed by SQLite meanwhile
            except PermissionError as exc:
                raise not_writable(sidecar, exc) from None


def _create(directory: Path, path: Path) -> None:
    """Build a new inventory beside its place, then link it in: another process never
    sees a half-made (empty) file, and a file that appeared meanwhile is kept."""
    tmp = directory / f".{DB_NAME}.{os.getpid()}.new"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        os.unlink(tmp)  # our own pid's leftover from a killed run
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except PermissionError as exc:
        raise LocalDataError(f"cannot create the inventory in {directory}: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            Inventory(conn, tmp)._migrate()
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    except sqlite3.OperationalError as exc:
        raise local_error(path, exc) from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid token name {name!r}: use 1-64 characters a-z 0-9 . _ -, starting with a letter or digit"
        )
    return name


class TokenRecord(Plain):
    """One token's metadata, as the inventory holds it (a plain class, not a dataclass:
    `get` and `exec` load it, see plain.py). Treated as immutable: `with_` makes a changed copy."""

    __slots__ = (
        "name", "kind", "created_at", "rotated_at", "stores", "fingerprint", "purpose", "scope", "repository",
        "rotate_every", "expires_at", "last_used_at", "env", "store_versions", "verified_at", "verify_result",
        "registry_expires_at", "registry_scopes", "registry_key", "edited_at",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        kind: str,
        created_at: datetime,
        rotated_at: datetime,
        stores: tuple[str, ...],
        fingerprint: str,
        purpose: str = "",
        scope: str = "",
        repository: str = "",
        rotate_every: str | None = None,
        expires_at: datetime | None = None,
        last_used_at: datetime | None = None,
        env: dict[str, str] | None = None,
        store_versions: dict[str, str] | None = None,
        verified_at: datetime | None = None,
        verify_result: str | None = None,
        registry_expires_at: datetime | None = None,
        registry_scopes: tuple[str, ...] | None = None,
        registry_key: str | None = None,
        edited_at: datetime | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.created_at = created_at
        self.rotated_at = rotated_at
        self.stores = stores
        self.fingerprint = fingerprint
        self.purpose = purpose
        self.scope = scope
        self.repository = repository
        self.rotate_every = rotate_every
        self.expires_at = expires_at
        self.last_used_at = last_used_at
        self.env = {} if env is None else env
        self.store_versions = {} if store_versions is None else store_versions
        # The registry's last word (tokens verify / revoke). It speaks of the value it saw:
        # policy.registry_state ignores it once the value is rotated after verified_at.
        self.verified_at = verified_at
        self.verify_result = verify_result
        self.registry_expires_at = registry_expires_at
        self.registry_scopes = registry_scopes
        self.registry_key = registry_key  # the registry's id of the token (npm), not a secret
        # When `tokens edit` last changed the metadata, here or on another machine (sync
        # adopts a store's metadata edited later than this).
        self.edited_at = edited_at

    def fields(self) -> dict:
        """{field: value}, in declaration order (shallow: the dicts are the record's own)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def with_(self, **changes) -> "TokenRecord":
        return TokenRecord(**{**self.fields(), **changes})

    def to_row(self) -> dict:
        row = self.fields()
        for key in ("created_at", "rotated_at", "expires_at", "last_used_at", "verified_at", "registry_expires_at", "edited_at"):
            row[key] = to_iso(row[key])
        row["registry_scopes"] = None if self.registry_scopes is None else json.dumps(list(self.registry_scopes))
        row["stores"] = json.dumps(list(self.stores))
        row["env"] = json.dumps(self.env, sort_keys=True)
        row["store_versions"] = json.dumps(self.store_versions, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "TokenRecord":
        env, versions = row["env"], row["store_versions"]
        return cls(
            name=row["name"],
            kind=row["kind"],
            purpose=row["purpose"],
            scope=row["scope"],
            repository=row["repository"],
            created_at=from_iso(row["created_at"]),
            rotated_at=from_iso(row["rotated_at"]),
            rotate_every=row["rotate_every"],
            expires_at=from_iso(row["expires_at"]),
            stores=_stores(row["stores"]),
            fingerprint=row["fingerprint"],
            last_used_at=from_iso(row["last_used_at"]),
            env={} if env == "{}" else json.loads(env),
            store_versions={} if versions == "{}" else json.loads(versions),
            verified_at=from_iso(row["verified_at"]),
            verify_result=row["verify_result"],
            registry_expires_at=from_iso(row["registry_expires_at"]),
            registry_scopes=None if row["registry_scopes"] is None else tuple(json.loads(row["registry_scopes"])),
            registry_key=row["registry_key"],
            edited_at=from_iso(row["edited_at"]) if "edited_at" in row.keys() else None,
        )


@lru_cache(maxsize=64)
def _stores(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


_COLUMNS = (
    "name", "kind", "purpose", "scope", "repository", "created_at", "rotated_at", "rotate_every",
    "expires_at", "stores", "fingerprint", "last_used_at", "env", "store_versions",
    "verified_at", "verify_result", "registry_expires_at", "registry_scopes", "registry_key",
    "edited_at",
)  # fmt: skip


class TargetState(Plain):
    """What this machine last pushed to a CI target (never a value: its fingerprint)."""

    __slots__ = ("target", "token", "pushed_at", "fingerprint", "last_error", "error_at", "destination")

    def __init__(
        self, target: str, token: str, pushed_at: datetime | None = None, fingerprint: str = "",
        last_error: str | None = None, error_at: datetime | None = None, destination: str = "",
    ) -> None:  # fmt: skip
        self.destination = destination  # where the last success went ('' = not recorded: older tokenward)
        self.target = target
        self.token = token
        self.pushed_at = pushed_at
        self.fingerprint = fingerprint
        self.last_error = last_error
        self.error_at = error_at


class JournalEntry(Plain):
    __slots__ = ("id", "name", "action", "fingerprint", "rotated_at", "stores", "done", "started_at")
    __hash__ = None  # type: ignore[assignment] - mutable

    def __init__(
        self, id: int, name: str, action: str, fingerprint: str, rotated_at: datetime, stores: list[str],  # noqa: A002
        done: list[str], started_at: datetime,
    ) -> None:  # fmt: skip
        self.id = id
        self.name = name
        self.action = action
        self.fingerprint = fingerprint
        self.rotated_at = rotated_at
        self.stores = stores
        self.done = done
        self.started_at = started_at


class Inventory:
    """Open with `Inventory.open(data_dir)`; use as a context manager to close."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, directory: Path) -> "Inventory":
        """Open (or, only when the file does not exist, create) the inventory in `directory`.

        The directory and file are checked first (paths.py); an empty or non-SQLite
        file is a damaged inventory, never taken as an empty one."""
        directory = ensure_private_dir(directory)
        path = directory / DB_NAME
        if check_private_file(path) is None:
            _create(directory, path)
        _check_header(path)
        private_file(path)
        _own_sidecars(path)  # SQLite would read a planted one; our own are made 0600
        try:
            try:
                inventory = cls._connect(path)
            except sqlite3.OperationalError:
                if not _frozen(directory, path):
                    raise
                # A data dir made read-only: SQLite cannot make its WAL index there,
                # but reads (list, show, remind) still work on the file as it is.
                inventory = cls._connect(path, read_only=True)
        except sqlite3.OperationalError as exc:
            raise local_error(path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise damaged(path, str(exc)) from None
        _own_sidecars(path)
        return inventory

    @classmethod
    def _connect(cls, path: Path, *, read_only: bool = False) -> "Inventory":
        if read_only:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        inventory = cls(conn, path)
        inventory._migrate()
        return inventory

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Inventory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise InventoryError(
                f"inventory {self.path} has schema version {version}, newer than this tokenward knows "
                f"({SCHEMA_VERSION}): upgrade tokenward"
            )
        with self.transaction():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (no upgrade deadlock)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise local_error(self.path, exc) from None
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise local_error(self.path, exc) from None
            raise
        else:
            crash_point("inventory.commit")
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise local_error(self.path, exc) from None

    # -- reads ---------------------------------------------------------------
    def get(self, name: str) -> TokenRecord:
        row = self._conn.execute("SELECT * FROM tokens WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise TokenNotFound(name)
        return TokenRecord.from_row(row)

    def find(self, name: str) -> TokenRecord | None:
        row = self._conn.execute("SELECT * FROM tokens WHERE name = ?", (name,)).fetchone()
        return None if row is None else TokenRecord.from_row(row)

    def with_fingerprint(self, fp: str) -> list[TokenRecord]:
        """Every record whose value has this fingerprint (one value under several names)."""
        rows = self._conn.execute("SELECT * FROM tokens WHERE fingerprint = ? ORDER BY name", (fp,))
        return [TokenRecord.from_row(r) for r in rows]

    def all(self) -> list[TokenRecord]:
        return [TokenRecord.from_row(r) for r in self._conn.execute("SELECT * FROM tokens ORDER BY name")]

    def summaries(self, *, stores: bool = True) -> list[tuple]:
        """(name, kind, purpose, rotated_at, rotate_every, expires_at, verified_at, verify_result,
        registry_expires_at[, stores]) as raw tuples: the hot path of `list` and `remind` on
        large inventories (`remind` prints no stores: stores=False leaves the column out)."""
        cursor = self._conn.cursor()
        cursor.row_factory = None
        return cursor.execute(
            "SELECT name, kind, purpose, rotated_at, rotate_every, expires_at,"
            f" verified_at, verify_result, registry_expires_at{', stores' if stores else ''} FROM tokens ORDER BY name"
        ).fetchall()

    def usage(self, *, unused_before: str | None = None) -> list[tuple]:
        """(name, kind, scope, repository, created_at, last_used_at, rotated_at, verified_at,
        verify_result) as raw tuples: what `tokens audit` (and `remind`'s count of its offline
        findings) reads, without building full records. With `unused_before` (an ISO time in
        UTC, as stored): only tokens last used, else created, before it, and PyPI tokens not
        scoped by project name (the caller checks the time exactly)."""
        cursor = self._conn.cursor()
        cursor.row_factory = None
        if unused_before is None:
            return cursor.execute(f"SELECT {self._USAGE} FROM tokens ORDER BY name").fetchall()
        return cursor.execute(
            f"SELECT {self._USAGE} FROM tokens WHERE {self._CANDIDATE} ORDER BY name", {"before": unused_before}
        ).fetchall()

    _USAGE = "name, kind, scope, repository, created_at, last_used_at, rotated_at, verified_at, verify_result"
    # The tokens `usage(unused_before=:before)` returns; remind's offline count of audit
    # findings (obsolete.offline_count) also uses those surely unused (see unused_candidates).
    _CANDIDATE = "(COALESCE(last_used_at, created_at) < :before OR (kind IN ('pypi', 'testpypi') AND scope NOT LIKE 'project:%'))"
    _SURE = "(COALESCE(NULLIF(last_used_at, ''), created_at) < :sure AND verify_result IS NOT 'revoked')"

    def unused_candidates(self, unused_before: str, surely_before: str) -> tuple[set[str], int]:
        """The names of the tokens `usage(unused_before=...)` returns, and how many of them
        are sure: last used (else created) before `surely_before`, and not said revoked by the
        registry. One row from SQLite whatever the inventory's size."""
        names, sure = self._conn.execute(
            f"SELECT group_concat(name, char(0)), total({self._SURE}) FROM tokens WHERE {self._CANDIDATE}",
            {"before": unused_before, "sure": surely_before},
        ).fetchone()
        return (set(names.split("\0")) if names else set()), int(sure)

    def unsure_usage(self, unused_before: str, surely_before: str, names: list[str]) -> tuple[list[tuple], int]:
        """`usage()` rows of the candidates (see unused_candidates) that are not sure or are
        among `names`, and how many sure ones are among `names`."""
        cursor = self._conn.cursor()
        cursor.row_factory = None
        params = {"before": unused_before, "sure": surely_before, "names": json.dumps(names)}
        named = "name IN (SELECT value FROM json_each(:names))"
        rows = cursor.execute(
            f"SELECT {self._USAGE} FROM tokens WHERE {self._CANDIDATE} AND (NOT {self._SURE} OR {named}) ORDER BY name", params
        ).fetchall()
        sure = cursor.execute(f"SELECT count(*) FROM tokens WHERE {self._CANDIDATE} AND {self._SURE} AND {named}", params).fetchone()[0]
        return rows, sure

    def created_at_of(self, name: str) -> str | None:
        row = self._conn.execute("SELECT created_at FROM tokens WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return self._conn.execute("SELECT count(*) FROM tokens").fetchone()[0]

    # -- writes --------------------------------------------------------------
    def insert(self, record: TokenRecord) -> None:
        row = record.to_row()
        placeholders = ", ".join(f":{c}" for c in _COLUMNS)
        try:
            with self.transaction() as conn:
                conn.execute(f"INSERT INTO tokens ({', '.join(_COLUMNS)}) VALUES ({placeholders})", row)
        except sqlite3.IntegrityError:
            raise TokenExists(record.name) from None

    def insert_many(self, records: list[TokenRecord]) -> None:
        placeholders = ", ".join(f":{c}" for c in _COLUMNS)
        with self.transaction() as conn:
            conn.executemany(
                f"INSERT INTO tokens ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                [r.to_row() for r in records],
            )

    def save(self, record: TokenRecord) -> None:
        """Replace the record with this name (it must exist)."""
        row = record.to_row()
        assignments = ", ".join(f"{c} = :{c}" for c in _COLUMNS if c != "name")
        with self.transaction() as conn:
            cursor = conn.execute(f"UPDATE tokens SET {assignments} WHERE name = :name", row)
            if cursor.rowcount == 0:
                raise TokenNotFound(record.name)

    def update(self, name: str, **changes) -> TokenRecord:
        """Read-modify-write of some fields under one write lock."""
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM tokens WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise TokenNotFound(name)
            record = TokenRecord.from_row(row).with_(**changes)
            data = record.to_row()
            assignments = ", ".join(f"{c} = :{c}" for c in changes)
            conn.execute(f"UPDATE tokens SET {assignments} WHERE name = :name", data)
        return record

    def update_if_value(self, name: str, fingerprint: str, **changes) -> TokenRecord | None:
        """Like update, but only while the record still describes the value with this
        fingerprint (a rotation in between makes what was learned about the old value moot)."""
        return self.update_many_if_value([(name, fingerprint, changes)])[0]

    def update_many_if_value(self, updates: list[tuple[str, str, dict]]) -> list[TokenRecord | None]:
        """update_if_value for many tokens in one transaction."""
        out: list[TokenRecord | None] = []
        with self.transaction() as conn:
            for name, fingerprint, changes in updates:
                row = conn.execute("SELECT * FROM tokens WHERE name = ?", (name,)).fetchone()
                if row is None or row["fingerprint"] != fingerprint:
                    out.append(None)
                    continue
                record = TokenRecord.from_row(row).with_(**changes)
                data = record.to_row()
                assignments = ", ".join(f"{c} = :{c}" for c in changes)
                conn.execute(f"UPDATE tokens SET {assignments} WHERE name = :name", data)
                out.append(record)
        return out

    def delete(self, name: str) -> None:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM tokens WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise TokenNotFound(name)

    # -- rotation journal (crash safety) -------------------------------------
    def journal_begin(self, name: str, action: str, fingerprint: str, rotated_at: datetime, stores: list[str]) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO journal (name, action, fingerprint, rotated_at, stores, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, action, fingerprint, to_iso(rotated_at), json.dumps(stores), to_iso(datetime.now().astimezone())),
            )
            return int(cursor.lastrowid)

    def journal_mark(self, entry_id: int, store: str) -> None:
        with self.transaction() as conn:
            row = conn.execute("SELECT done FROM journal WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return
            done = json.loads(row["done"])
            if store not in done:
                done.append(store)
            conn.execute("UPDATE journal SET done = ? WHERE id = ?", (json.dumps(done), entry_id))

    def journal_end(self, entry_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM journal WHERE id = ?", (entry_id,))

    def journal_pending(self, name: str | None = None) -> list[JournalEntry]:
        query = "SELECT * FROM journal" + (" WHERE name = ?" if name else "") + " ORDER BY id"
        rows = self._conn.execute(query, (name,) if name else ()).fetchall()
        return [
            JournalEntry(
                id=r["id"],
                name=r["name"],
                action=r["action"],
                fingerprint=r["fingerprint"],
                rotated_at=from_iso(r["rotated_at"]),
                stores=json.loads(r["stores"]),
                done=json.loads(r["done"]),
                started_at=from_iso(r["started_at"]),
            )
            for r in rows
        ]

    # -- CI targets (targets/push.py) -----------------------------------------
    def target_states(self) -> dict[str, TargetState]:
        rows = self._conn.execute("SELECT * FROM target_state ORDER BY target").fetchall()
        return {
            r["target"]: TargetState(
                r["target"], r["token"], from_iso(r["pushed_at"]), r["fingerprint"], r["last_error"],
                from_iso(r["error_at"]), r["destination"],
            )
            for r in rows
        }

    def record_pushes(self, results: list[tuple[str, str, str, str, str | None]], at: datetime) -> None:
        """(target, token, destination, fingerprint, error or None) for each push, in one
        transaction: a success records what was pushed where and clears the error; a
        failure keeps the last success and records the error."""
        with self.transaction() as conn:
            for target, token, destination, fp, error in results:
                if error is None:
                    conn.execute(
                        "INSERT INTO target_state (target, token, pushed_at, fingerprint, destination) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT(target) DO UPDATE SET token = excluded.token, pushed_at = excluded.pushed_at,"
                        " fingerprint = excluded.fingerprint, destination = excluded.destination,"
                        " last_error = NULL, error_at = NULL",
                        (target, token, to_iso(at), fp, destination),
                    )
                else:
                    conn.execute(
                        "INSERT INTO target_state (target, token, last_error, error_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT(target) DO UPDATE SET token = excluded.token, last_error = excluded.last_error,"
                        " error_at = excluded.error_at",
                        (target, token, error, to_iso(at)),
                    )

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
