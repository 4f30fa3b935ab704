"""HashiCorp Vault or OpenBao, KV version 2, through hvac.

Layout: the value at `{mount}/{prefix}{name}` as data `{"value": ...}`; tokenward's
metadata in the secret's `custom_metadata`, plus `version`: the KV version that
metadata describes. Someone who changes the value with `vault kv put` leaves the
metadata alone, so `current_version != custom_metadata.version` tells `sync` that
the value changed outside tokenward, without reading it.

Writes use KV v2 check-and-set (`cas`) against the version the caller last saw:
`put(..., expect=VERSION)` with the version the inventory recorded (rotate) or the
one sync observed; `expect=None` creates only (`cas=0`: add). Vault compares it
atomically, so of two machines rotating one token at once exactly one wins and the
other is refused with a StoreConflict naming what Vault now holds. Without
`expect` (UNCHECKED) the version this store object last saw is used, else the one
read just before writing. KV v2 keeps previous versions.

Auth, in order: `auth = "approle"` logs in with role_id (`role_id`, `role_id_file`
or $VAULT_ROLE_ID) and secret_id (`secret_id_file` or $VAULT_SECRET_ID); otherwise
a token from `token_file`, $VAULT_TOKEN, or ~/.vault-token. $VAULT_ADDR,
$VAULT_NAMESPACE and $VAULT_CACERT fill in `url`, `namespace` and `cacert`.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import hvac
import hvac.exceptions as hv
import requests
import requests.adapters

from tokenward.config import StoreConfig, env_or
from tokenward.errors import (
    AccessDenied,
    ConfigError,
    SecretNotFound,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    UsageError,
)
from tokenward.stores.deadline import DeadlineSession, TooSlow
from tokenward.stores.base import KEY_SECRET, UNCHECKED, FingerprintKey, RemoteEntry, Written, changed_since_sync, is_keyed
from tokenward.testhooks import crash_point

# Vault (and OpenBao) limit custom_metadata to 64 keys of 1-128 bytes with values of
# 1-512 bytes, keys and values printable (Go's unicode.IsPrint: no control, format
# or separator characters other than the ASCII space). See vault/sdk custommetadata.
MAX_META_KEYS = 64
MAX_META_KEY = 128
MAX_META_VALUE = 512
VERSION_KEY = "version"


def _vault_time(text: object) -> datetime | None:
    """Vault's RFC 3339 time (nanoseconds, `Z`) as an aware datetime; None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text.strip())
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        return datetime.fromisoformat(match.group(1) + fraction + zone).astimezone(timezone.utc)
    except ValueError:
        return None


def printable(text: str) -> bool:
    """Go's unicode.IsPrint, which Vault applies to custom_metadata."""
    return all(ch == " " or unicodedata.category(ch)[0] in "LMNPS" for ch in text)


def normalise_prefix(prefix: str) -> str:
    """A Vault prefix is a folder: `tw3`, `/tw3` and `tw3/` all mean `tw3/`.

    Without the slash, `secret/tw3name` would be written while listing looks in
    `secret/tw3/`, and discovery and `remind --store` would see nothing."""
    prefix = prefix.strip().strip("/")
    return prefix + "/" if prefix else ""


class NoPreviousVersion(SecretNotFound):
    def __init__(self, store: str, name: str, where: str) -> None:
        StoreError.__init__(self, store, f"{where} keeps no earlier version of {name!r}")
        self.name = name


def _read_secret_file(path: str, what: str, store: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"store {store!r}: cannot read {what} file {path} ({exc.strerror})") from None
    if not text:
        raise ConfigError(f"store {store!r}: {what} file {path} is empty")
    return text


def _printable(text: str) -> str:
    return "".join(ch if printable(ch) else " " for ch in text)


def _clip(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= MAX_META_VALUE:
        return text
    return data[: MAX_META_VALUE - 3].decode("utf-8", "ignore") + "..."


class VaultStore(FingerprintKey):
    """Store + MetadataStore + MetadataWriter + VersionedStore + BulkReader over KV v2,
    with KV's atomic check-and-set."""

    concurrency = 16  # bounded pool for metadata listing and bulk reads
    values_per_request = 1  # get_many reads each value concurrently
    atomic_check_and_set = True

    def __init__(self, config: StoreConfig, data_dir: Path | None = None) -> None:
        self.name = config.name
        self._config = config
        self.url = env_or(config.get("url") or "", "VAULT_ADDR").rstrip("/")
        self.mount = (config.get("mount") or "secret").strip("/")
        self.prefix = normalise_prefix(config.get("prefix") or "")
        self.namespace = env_or(config.get("namespace") or "", "VAULT_NAMESPACE") or None
        self.auth = config.get("auth") or "token"
        self.timeout = config.get("timeout") or 10
        cacert = env_or(config.get("cacert") or "", "VAULT_CACERT")
        self.verify: bool | str = cacert if cacert else bool(config.get("verify"))
        self._client: hvac.Client | None = None
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}  # token -> KV version last observed (for check-and-set)

    # -- connection ----------------------------------------------------------
    def where(self, token: str | None = None) -> str:
        path = f"{self.mount}/{self.prefix}{token}" if token else f"{self.mount}/{self.prefix}"
        return path

    def _unreachable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, TooSlow):
            return StoreUnavailable(
                self.name, f"Vault at {self.url} did not answer within {self.timeout:g}s (`timeout` in [stores.{self.name}])"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return StoreUnavailable(
                self.name,
                f"TLS verification failed for Vault at {self.url}; set `cacert` in [stores.{self.name}] or $VAULT_CACERT",
            )
        return StoreUnavailable(
            self.name,
            f"cannot reach Vault at {self.url} ({type(exc).__name__}); check that it is up and `url`/$VAULT_ADDR",
        )

    def _token(self) -> str:
        configured = self._config.get("token_file") or ""
        if configured:
            return _read_secret_file(configured, "token", self.name)
        if os.environ.get("VAULT_TOKEN"):
            return os.environ["VAULT_TOKEN"].strip()
        default = Path.home() / ".vault-token"
        if default.is_file():
            return _read_secret_file(str(default), "token", self.name)
        raise AccessDenied(
            self.name,
            "no Vault token: set $VAULT_TOKEN, log in (`vault login` / `bao login` writes ~/.vault-token), "
            f"set token_file, or use auth = \"approle\" in [stores.{self.name}]",
        )

    def _approle_credentials(self) -> tuple[str, str]:
        role_id = self._config.get("role_id") or ""
        if not role_id and self._config.get("role_id_file"):
            role_id = _read_secret_file(self._config.get("role_id_file"), "role_id", self.name)
        role_id = role_id or os.environ.get("VAULT_ROLE_ID", "").strip()
        if self._config.get("secret_id_file"):
            secret_id = _read_secret_file(self._config.get("secret_id_file"), "secret_id", self.name)
        else:
            secret_id = os.environ.get("VAULT_SECRET_ID", "").strip()
        if not role_id:
            raise ConfigError(
                f"store {self.name!r}: AppRole needs a role id: set role_id or role_id_file in "
                f"[stores.{self.name}], or $VAULT_ROLE_ID"
            )
        if not secret_id:
            raise ConfigError(
                f"store {self.name!r}: AppRole needs a secret id: set secret_id_file in [stores.{self.name}] "
                "or $VAULT_SECRET_ID"
            )
        return role_id, secret_id

    def client(self) -> hvac.Client:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> hvac.Client:
        if not self.url:
            raise ConfigError(f"store {self.name!r}: no Vault address: set url in [stores.{self.name}] or $VAULT_ADDR")
        # `timeout` bounds each request in total (connect, headers, body), not each read.
        session = DeadlineSession(float(self.timeout), self.concurrency)
        token = None if self.auth == "approle" else self._token()
        client = hvac.Client(
            url=self.url,
            token=token,
            verify=self.verify,
            timeout=self.timeout,
            namespace=self.namespace,
            session=session,
        )
        if self.auth == "approle":
            role_id, secret_id = self._approle_credentials()
            mount = self._config.get("approle_mount") or "approle"
            try:
                client.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount, use_token=True)
            except requests.exceptions.RequestException as exc:
                raise self._unreachable(exc) from None
            except (hv.InvalidRequest, hv.Unauthorized, hv.Forbidden, hv.InvalidPath) as exc:
                raise AccessDenied(
                    self.name,
                    f"AppRole login at auth/{mount} failed ({type(exc).__name__}); check the role id, secret id "
                    "and approle_mount",
                ) from None
            except hv.VaultError as exc:
                raise StoreUnavailable(self.name, f"AppRole login failed ({type(exc).__name__})") from None
        self._check_mount(client)
        return client

    def _check_mount(self, client: hvac.Client) -> None:
        """Refuse a KV v1 or missing mount before anything is written to it."""
        try:
            response = client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
        except requests.exceptions.RequestException as exc:
            raise self._unreachable(exc) from None
        except hv.Unauthorized:
            raise AccessDenied(self.name, f"Vault rejected the token at {self.url}; log in again or check auth") from None
        except (hv.Forbidden, hv.InvalidPath, hv.InvalidRequest):
            self._check_token(client)
            raise AccessDenied(
                self.name,
                f"mount {self.mount!r} does not exist at {self.url} or this token may not use it; "
                f"enable it (`vault secrets enable -path={self.mount} kv-v2`) or check `mount` and the token's policy",
            ) from None
        except hv.VaultDown:
            raise StoreUnavailable(self.name, f"Vault at {self.url} is sealed; unseal it") from None
        except hv.VaultError as exc:
            raise StoreUnavailable(self.name, f"Vault at {self.url} failed ({type(exc).__name__})") from None
        data = (response or {}).get("data") or {}
        kind = data.get("type")
        version = str((data.get("options") or {}).get("version") or "1")
        if kind not in ("kv", "generic") or version != "2":
            found = f"a KV version {version} mount" if kind in ("kv", "generic") else f"a {kind!r} mount"
            raise ConfigError(
                f"store {self.name!r}: {self.mount!r} at {self.url} is {found}; tokenward needs KV version 2 "
                f"(`vault kv enable-versioning {self.mount}` or another `mount`)"
            )

    def _check_token(self, client: hvac.Client) -> None:
        """After a 403: is it the token itself that Vault refuses (expired, revoked, mistyped)?

        Vault answers 403 "permission denied" both for a bad token and for a path the
        token's policy does not allow; only a lookup of the token itself tells them apart."""
        try:
            client.auth.token.lookup_self()
        except (hv.Forbidden, hv.Unauthorized):
            how = "AppRole login" if self.auth == "approle" else "token ($VAULT_TOKEN, ~/.vault-token or token_file)"
            raise AccessDenied(
                self.name,
                f"Vault at {self.url} refused the {how}: it is invalid, expired or revoked; log in again "
                "(`bao login` / `vault login`) or set a valid token",
            ) from None
        except (hv.VaultError, requests.exceptions.RequestException):
            pass  # inconclusive: report the mount problem

    def _call(self, what: str, token: str | None, func: Callable[[hvac.Client], Any]) -> Any:
        client = self.client()
        path = self.where(token)
        try:
            return func(client)
        except requests.exceptions.RequestException as exc:
            raise self._unreachable(exc) from None
        except hv.Forbidden:
            raise AccessDenied(
                self.name, f"access denied to {what} {path}; check the Vault token's policy for this path"
            ) from None
        except hv.Unauthorized:
            raise AccessDenied(self.name, f"Vault rejected the token ({what} {path}); log in again or check auth") from None
        except hv.InvalidPath:
            raise SecretNotFound(self.name, token or path) from None
        except hv.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise StoreConflict(self.name, f"{path} changed since this machine last saw it; run `tokens sync`") from None
            raise StoreError(self.name, f"Vault refused to {what} {path} (invalid request)") from None
        except hv.VaultDown:
            raise StoreUnavailable(self.name, f"Vault at {self.url} is sealed; unseal it") from None
        except hv.VaultError as exc:
            raise StoreUnavailable(self.name, f"Vault failed to {what} {path} ({type(exc).__name__})") from None

    # -- the Store interface -------------------------------------------------
    def _read(self, token: str, version: int | None = None) -> tuple[str, int]:
        kv = lambda c: c.secrets.kv.v2.read_secret_version(  # noqa: E731
            path=self.prefix + token, version=version, mount_point=self.mount, raise_on_deleted_version=True
        )
        response = self._call("read", token, kv)
        data = response.get("data") or {}
        value = (data.get("data") or {}).get("value")
        number = int((data.get("metadata") or {}).get("version") or 0)
        if not isinstance(value, str):
            raise SecretNotFound(self.name, token)
        return value, number

    def get(self, token: str) -> str:
        value, number = self._read(token)
        with self._lock:
            self._seen[token] = number
        return value

    def get_many(self, tokens: Iterable[str]) -> dict[str, str | StoreError]:
        """Values of several tokens, read concurrently; an error per token that failed."""

        def one(token: str) -> tuple[str, str | StoreError]:
            try:
                return token, self.get(token)
            except StoreError as exc:
                return token, exc

        tokens = list(tokens)
        if not tokens:
            return {}
        self.client()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(tokens))) as pool:
            return dict(pool.map(one, tokens))

    def _metadata(self, token: str) -> dict | None:
        try:
            response = self._call(
                "read metadata of",
                token,
                lambda c: c.secrets.kv.v2.read_secret_metadata(path=self.prefix + token, mount_point=self.mount),
            )
        except SecretNotFound:
            return None
        return response.get("data") or {}

    def exists(self, token: str) -> bool:
        """Anything under this path, deleted versions included (their history is someone's)."""
        return self._metadata(token) is not None

    def entry(self, token: str) -> RemoteEntry | None:
        return self._entry(token)

    def check_metadata(self, metadata: dict[str, str]) -> None:
        custom = {key: val for key, val in metadata.items() if val}
        if len(custom) + 1 > MAX_META_KEYS:
            raise UsageError(f"store {self.name!r}: Vault keeps at most {MAX_META_KEYS} metadata keys")
        for key, val in custom.items():
            if not printable(key) or len(key.encode()) > MAX_META_KEY:
                raise UsageError(f"store {self.name!r}: metadata key {key!r} is not one Vault accepts")
            if not printable(str(val)):
                raise UsageError(
                    f"store {self.name!r}: --{key} contains control or other unprintable characters, "
                    "which Vault refuses in custom_metadata; nothing was written"
                )

    def conflict(self, token: str, expect: str | None, entry: RemoteEntry | None) -> StoreConflict:
        """The refusal when Vault does not hold the version the caller last saw."""
        return changed_since_sync(self.name, "Vault", self.where(token), expect, entry)

    def put(self, token: str, value: str, metadata: dict[str, str], *, expect=UNCHECKED) -> Written:
        metadata = self._keyed_metadata(metadata, value)
        if expect is UNCHECKED:
            with self._lock:
                cas = self._seen.get(token)
            if cas is None:
                current = self._metadata(token)
                cas = int(current.get("current_version") or 0) if current else 0
        else:
            cas = 0 if expect is None else int(expect)
        path = self.prefix + token
        try:
            response = self._call(
                "write",
                token,
                lambda c: c.secrets.kv.v2.create_or_update_secret(
                    path=path, secret={"value": value}, cas=cas, mount_point=self.mount
                ),
            )
        except StoreConflict:
            try:
                entry = self._entry(token)
            except StoreError:
                entry = None
            raise self.conflict(token, None if cas == 0 else str(cas), entry) from None
        number = int(((response or {}).get("data") or {}).get("version") or 0)
        # Vault refuses empty values in custom_metadata: an absent key means "".
        # Unprintable characters (from a teammate's metadata, say) become spaces
        # rather than failing the write; `add` refuses them up front (check_metadata).
        custom = {key: _clip(_printable(str(val))) for key, val in metadata.items() if val}
        custom = {key: val for key, val in custom.items() if val.strip()}
        custom[VERSION_KEY] = str(number)
        crash_point("vault.value-written")
        # The value is safe in Vault from here on; a failure below leaves metadata
        # that does not describe the current version, which sync treats as a change.
        try:
            self._call(
                "write metadata of",
                token,
                lambda c: c.secrets.kv.v2.update_metadata(path=path, custom_metadata=custom, mount_point=self.mount),
            )
        except StoreError:
            if cas == 0:
                # We created it a moment ago: leave nothing behind without metadata.
                try:
                    self.delete(token)
                except StoreError:
                    pass
            raise
        with self._lock:
            self._seen[token] = number
        return Written(str(number))

    def put_metadata(self, token: str, metadata: dict[str, str], version: str, *, value: str | None = None) -> None:
        """`value`: the value of `version`, already read (its keyed fingerprint is made from it)."""
        current = self._metadata(token)
        if not current or str(current.get("current_version")) != str(version):
            return  # the value changed meanwhile: sync will rewrite its metadata
        if metadata.get("fingerprint") and value is not None:
            metadata = {**metadata, "fingerprint": self.keyed(value)}
        elif metadata.get("fingerprint"):
            old = current.get("custom_metadata") or {}
            if is_keyed(old.get("fingerprint")) and old.get(VERSION_KEY) == str(version):
                keyed = old["fingerprint"]
            else:  # an entry from before keyed fingerprints: the key needs the value, once
                value, number = self._read(token, int(version))
                keyed = self.keyed(value)
            metadata = {**metadata, "fingerprint": keyed}
        custom = {key: _clip(_printable(str(val))) for key, val in metadata.items() if val}
        custom = {key: val for key, val in custom.items() if val.strip()}
        custom[VERSION_KEY] = str(version)
        path = self.prefix + token
        self._call(
            "write metadata of",
            token,
            lambda c: c.secrets.kv.v2.update_metadata(path=path, custom_metadata=custom, mount_point=self.mount),
        )

    def delete(self, token: str) -> None:
        try:
            self._call(
                "delete",
                token,
                lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path=self.prefix + token, mount_point=self.mount),
            )
        except SecretNotFound:
            pass
        with self._lock:
            self._seen.pop(token, None)

    def describe(self) -> str:
        self.client()
        keys = self._list_names()
        auth = "AppRole" if self.auth == "approle" else "token"
        return f"Vault KV v2 at {self.url}, path {self.where()} ({auth} auth, {len(keys)} secrets)"

    # -- MetadataStore -------------------------------------------------------
    def _list_names(self) -> list[str]:
        try:
            response = self._call(
                "list",
                None,
                lambda c: c.secrets.kv.v2.list_secrets(path=self.prefix, mount_point=self.mount),
            )
        except SecretNotFound:
            return []  # nothing under the prefix yet
        keys = (response.get("data") or {}).get("keys") or []
        return [k for k in keys if not k.endswith("/") and k != KEY_SECRET]

    def _entry(self, token: str) -> RemoteEntry | None:
        data = self._metadata(token)
        if not data:
            return None
        number = int(data.get("current_version") or 0)
        versions = data.get("versions") or {}
        current = versions.get(str(number)) or {}
        if number == 0 or current.get("deletion_time") or current.get("destroyed"):
            return None  # the current version was deleted: no value to sync from
        with self._lock:
            self._seen[token] = number
        return RemoteEntry(token, dict(data.get("custom_metadata") or {}), str(number), _vault_time(current.get("created_time")))

    def version_created(self, token: str, version: str) -> datetime | None:
        """When Vault made `version` of the secret (its created_time)."""
        data = self._metadata(token) or {}
        return _vault_time(((data.get("versions") or {}).get(str(version)) or {}).get("created_time"))

    def list_entries(self, names: Iterable[str] | None = None) -> dict[str, RemoteEntry]:
        """Every secret under the prefix (or just `names`) with its metadata; reads no values."""
        wanted = self._list_names() if names is None else list(names)
        if not wanted:
            return {}
        self.client()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(wanted))) as pool:
            entries = list(pool.map(self._entry, wanted))
        return {e.name: e for e in entries if e is not None}

    # -- VersionedStore ------------------------------------------------------
    def get_previous(self, token: str) -> str:
        data = self._metadata(token)
        if not data:
            raise SecretNotFound(self.name, token)
        number = int(data.get("current_version") or 0)
        versions = data.get("versions") or {}
        for older in range(number - 1, 0, -1):
            info = versions.get(str(older)) or {}
            if info and not info.get("deletion_time") and not info.get("destroyed"):
                value, _ = self._read(token, older)
                with self._lock:
                    self._seen[token] = number
                return value
        raise NoPreviousVersion(self.name, token, self.where(token))
