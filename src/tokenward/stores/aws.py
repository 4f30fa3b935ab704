"""AWS Secrets Manager through boto3.

Layout: secret `{prefix}{name}`, `SecretString` = the value. Metadata goes where it
fits: every field whose text fits a tag (256 characters of letters, digits, spaces
and `_ . : / = + - @`) is a tag `tokenward:<field>` (plus `tokenward = 1`, which
makes the secrets easy to find in the console); the description holds JSON with the
rest, and always the fields that describe the value itself (fingerprint,
rotated_at) and `version`, the VersionId they describe. The description is written
in the same call as the value, so they can never disagree; a value changed with
`aws secretsmanager put-secret-value` leaves it alone, which `sync` notices by
comparing `version` with the AWSCURRENT VersionId — without reading the value.

Writes compare before writing: `put(..., expect=VERSION)` reads the AWSCURRENT
VersionId (DescribeSecret) and refuses when it is not the version the caller last
saw; `expect=None` creates only (CreateSecret fails on an existing name). Secrets
Manager has no check-and-set, so a window of one round trip remains between that
read and the write (UpdateSecret, with our own ClientRequestToken as the new
VersionId). A second DescribeSecret right after the write closes most of it: when
AWSPREVIOUS is not the expected version, another writer slipped in and this write
replaced it: that writer's value is written back as the current version (with
metadata describing it) and this write is refused like a failed check-and-set; when AWSCURRENT is no
longer ours, another writer replaced ours (a StoreConflict). Whoever is not current
is told; neither value is lost (AWS keeps the other as AWSPREVIOUS). Only when that
undo itself fails is the write kept and reported (`Written.overwrote`).

Bulk reads use BatchGetSecretValue (20 secrets a call); listing uses ListSecrets
with a name filter (100 a page). Updates keep the previous value as AWSPREVIOUS.
`delete` schedules deletion with the shortest recovery window (7 days); writing the
token again restores the secret first.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import boto3
import botocore.config
import botocore.exceptions as bx

from tokenward.config import StoreConfig
from tokenward.errors import AccessDenied, ConfigError, SecretNotFound, StoreConflict, StoreError, StoreUnavailable
from tokenward.stores.deadline import call_within
from tokenward.stores.base import KEY_SECRET, UNCHECKED, FingerprintKey, RemoteEntry, Written, changed_since_sync, is_keyed
from tokenward.testhooks import crash_point

TAG_PREFIX = "tokenward:"
MARKER_TAG = "tokenward"
VERSION_KEY = "version"
DESCRIPTION_HEAD = "tokenward metadata: "
MAX_DESCRIPTION = 2048
MAX_TAG_VALUE = 256
# Fields that describe the value itself: written atomically with it, in the description.
VALUE_FIELDS = ("fingerprint", "rotated_at")
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
BATCH = 20  # BatchGetSecretValue's limit
PAGE = 100  # ListSecrets' limit
DENIED_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
}
UNAVAILABLE_CODES = {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}


class NoPreviousVersion(SecretNotFound):
    def __init__(self, store: str, name: str, where: str) -> None:
        StoreError.__init__(self, store, f"{where} has no previous version (AWSPREVIOUS) of {name!r}")
        self.name = name


def _fits_tag(text: str) -> bool:
    return len(text) <= MAX_TAG_VALUE and bool(_TAG_TEXT.match(text))


def encode_metadata(metadata: dict[str, str], version: str) -> tuple[str, dict[str, str]]:
    """(description, tags) for a value written as `version`."""
    tags = {MARKER_TAG: "1"}
    rest: dict[str, str] = {}
    for key, value in metadata.items():
        if key == MARKER_TAG or value is None:
            continue
        value = str(value)
        if key not in VALUE_FIELDS and _fits_tag(value):
            tags[TAG_PREFIX + key] = value
        else:
            rest[key] = value
    rest[VERSION_KEY] = version
    description = DESCRIPTION_HEAD + json.dumps(rest, sort_keys=True, ensure_ascii=False)
    while len(description) > MAX_DESCRIPTION:
        # Only free text can be this long: shorten the longest field until it fits.
        longest = max((k for k in rest if k not in VALUE_FIELDS and k != VERSION_KEY), key=lambda k: len(rest[k]))
        excess = len(description) - MAX_DESCRIPTION
        rest[longest] = rest[longest][: max(0, len(rest[longest]) - excess - 3)] + "..."
        description = DESCRIPTION_HEAD + json.dumps(rest, sort_keys=True, ensure_ascii=False)
    return description, tags


def decode_metadata(tags: list[dict] | None, description: str | None) -> dict[str, str]:
    meta: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", "")
        if key == MARKER_TAG:
            meta["tokenward"] = tag.get("Value", "")
        elif key.startswith(TAG_PREFIX):
            meta[key[len(TAG_PREFIX) :]] = tag.get("Value", "")
    if description and description.startswith(DESCRIPTION_HEAD):
        try:
            extra = json.loads(description[len(DESCRIPTION_HEAD) :])
        except ValueError:
            extra = {}
        if isinstance(extra, dict):
            # The description was written with the value, so it wins over tags.
            meta.update({str(k): str(v) for k, v in extra.items()})
    return meta


def current_version(stages: dict[str, list[str]] | None) -> str | None:
    for version, labels in (stages or {}).items():
        if "AWSCURRENT" in labels:
            return version
    return None


class AwsStore(FingerprintKey):
    """Store + MetadataStore + MetadataWriter + VersionedStore + BulkReader over AWS
    Secrets Manager. Its compare-and-write is not atomic (see `_replace`)."""

    concurrency = 8
    values_per_request = BATCH

    def __init__(self, config: StoreConfig, data_dir: Path | None = None) -> None:
        self.name = config.name
        self._config = config
        self.region = config.get("region") or None
        self.profile = config.get("profile") or None
        self.endpoint_url = config.get("endpoint_url") or None
        self.prefix = config.get("prefix") or ""
        self.kms_key_id = config.get("kms_key_id") or None
        self.timeout = config.get("timeout") or 10
        self._client = None
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}  # token -> tokenward tags last seen (secret exists)

    # -- connection ----------------------------------------------------------
    @property
    def location(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"{where} ({self.region})" if self.region else where

    def where(self, token: str | None = None) -> str:
        return f"secret {self.prefix}{token}" if token else f"secrets {self.prefix}*"

    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except bx.ProfileNotFound:
            raise ConfigError(f"store {self.name!r}: AWS profile {self.profile!r} is not configured (~/.aws/config)") from None
        config = botocore.config.Config(
            retries={"total_max_attempts": 3, "mode": "standard"},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            max_pool_connections=self.concurrency,
            user_agent_extra="tokenward",
        )
        try:
            return session.client("secretsmanager", endpoint_url=self.endpoint_url, config=config)
        except bx.NoRegionError:
            raise ConfigError(
                f"store {self.name!r}: no AWS region: set region in [stores.{self.name}], $AWS_REGION or the profile's region"
            ) from None
        except ValueError as exc:  # a malformed endpoint_url
            raise ConfigError(f"store {self.name!r}: invalid endpoint_url {self.endpoint_url!r} ({exc})") from None

    def _error(self, exc: Exception, what: str, token: str | None) -> StoreError:
        where = self.where(token)
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return AccessDenied(
                self.name,
                f"no AWS credentials found to {what} {where}; set `profile`, $AWS_PROFILE or the AWS_* variables",
            )
        if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError)):
            return StoreUnavailable(
                self.name,
                f"cannot reach AWS Secrets Manager at {self.location} ({type(exc).__name__}); "
                "check the network, `region` and `endpoint_url`",
            )
        if isinstance(exc, bx.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                return SecretNotFound(self.name, token or where)
            if code in DENIED_CODES:
                return AccessDenied(
                    self.name, f"access denied to {what} {where} ({code}); check the IAM policy and credentials"
                )
            if code in UNAVAILABLE_CODES:
                return StoreUnavailable(self.name, f"AWS Secrets Manager failed to {what} {where} ({code}); retry later")
            if code == "InvalidRequestException" and token is not None:
                # Used for "marked for deletion": the secret is not there for us.
                return SecretNotFound(self.name, token)
            if code in ("KMSAccessDeniedException", "DecryptionFailure", "EncryptionFailure"):
                return AccessDenied(self.name, f"KMS refused to {what} {where} ({code}); check kms_key_id and its key policy")
            return StoreError(self.name, f"AWS Secrets Manager refused to {what} {where} ({code})")
        if isinstance(exc, bx.BotoCoreError):
            return StoreError(self.name, f"AWS Secrets Manager failed to {what} {where} ({type(exc).__name__})")
        raise exc

    def _call(self, what: str, token: str | None, func: Callable[[Any], Any]) -> Any:
        client = self.client()
        try:
            # botocore times out each read only: a server trickling bytes is cut off at
            # the deadline of the whole call (its attempts included).
            return call_within(self.deadline, lambda: func(client), lambda: self._too_slow(what, token))
        except (bx.BotoCoreError, bx.ClientError) as exc:
            raise self._error(exc, what, token) from None

    @property
    def deadline(self) -> float:
        return float(self.timeout) * 3 + 1  # three attempts (total_max_attempts) and their backoff

    def _too_slow(self, what: str, token: str | None) -> StoreError:
        return StoreUnavailable(
            self.name,
            f"AWS Secrets Manager at {self.location} did not {what} {self.where(token)} within {self.deadline:g}s "
            f"(`timeout` in [stores.{self.name}])",
        )

    @staticmethod
    def _code(exc: BaseException) -> str:
        if isinstance(exc, bx.ClientError):
            return exc.response.get("Error", {}).get("Code", "")
        return ""

    # -- the Store interface -------------------------------------------------
    def get(self, token: str) -> str:
        response = self._call("read", token, lambda c: c.get_secret_value(SecretId=self.prefix + token))
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise StoreError(self.name, f"{self.where(token)} holds binary data, not a token")
        return value

    def get_many(self, tokens: Iterable[str]) -> dict[str, str | StoreError]:
        """Values of several tokens with BatchGetSecretValue, 20 a call; an error per token that failed."""
        tokens = list(tokens)
        chunks = [tokens[i : i + BATCH] for i in range(0, len(tokens), BATCH)]

        def one(chunk: list[str]) -> dict[str, str | StoreError]:
            found: dict[str, str | StoreError] = {}
            ids = [self.prefix + t for t in chunk]
            try:
                response = self._call("read", None, lambda c: c.batch_get_secret_value(SecretIdList=ids))
            except StoreError as exc:
                return {t: exc for t in chunk}
            for item in response.get("SecretValues") or []:
                token = item.get("Name", "")[len(self.prefix) :]
                value = item.get("SecretString")
                found[token] = (
                    value if isinstance(value, str) else StoreError(self.name, f"{self.where(token)} holds binary data")
                )
            for error in response.get("Errors") or []:
                secret_id = error.get("SecretId", "")
                token = secret_id[len(self.prefix) :] if secret_id.startswith(self.prefix) else secret_id
                code = error.get("ErrorCode", "")
                if code in ("ResourceNotFoundException", "InvalidRequestException"):
                    found[token] = SecretNotFound(self.name, token)
                elif code in DENIED_CODES:
                    found[token] = AccessDenied(self.name, f"access denied to read {self.where(token)} ({code})")
                else:
                    found[token] = StoreError(self.name, f"cannot read {self.where(token)} ({code})")
            for token in chunk:
                found.setdefault(token, SecretNotFound(self.name, token))
            return found

        if not chunks:
            return {}
        self.client()
        result: dict[str, str | StoreError] = {}
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            for part in pool.map(one, chunks):
                result.update(part)
        return result

    def exists(self, token: str) -> bool:
        """A secret under this name that is not scheduled for deletion."""
        try:
            secret = self._call("describe", token, lambda c: c.describe_secret(SecretId=self.prefix + token))
        except SecretNotFound:
            return False
        return not secret.get("DeletedDate")

    def entry(self, token: str) -> RemoteEntry | None:
        return self._describe_each([token]).get(token)

    def check_metadata(self, metadata: dict[str, str]) -> None:
        """Anything fits: what a tag cannot hold goes to the JSON description."""

    def _stages(self, token: str) -> dict[str, list[str]]:
        secret = self._call("describe", token, lambda c: c.describe_secret(SecretId=self.prefix + token))
        if secret.get("DeletedDate"):
            return {}
        return secret.get("VersionIdsToStages") or {}

    def conflict(self, token: str, expect: str | None, entry: RemoteEntry | None) -> StoreConflict:
        """The refusal when AWSCURRENT is not the version the caller last saw."""
        return changed_since_sync(self.name, "AWS", self.where(token), expect, entry)

    def put(self, token: str, value: str, metadata: dict[str, str], *, expect=UNCHECKED) -> Written:
        metadata = self._keyed_metadata(metadata, value)
        if expect is not UNCHECKED and expect is not None:
            return self._replace(token, value, metadata, expect)
        version = str(uuid.uuid4())
        description, tags = encode_metadata(metadata, version)
        secret_id = self.prefix + token
        kms = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
        with self._lock:
            known_tags = None if expect is None else self._tags.get(token)

        def create() -> None:
            self.client().create_secret(
                Name=secret_id,
                SecretString=value,
                Description=description,
                ClientRequestToken=version,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                **kms,
            )

        def update() -> None:
            try:
                self.client().update_secret(
                    SecretId=secret_id, SecretString=value, Description=description, ClientRequestToken=version, **kms
                )
            except bx.ClientError as exc:
                if self._code(exc) != "InvalidRequestException" or "delet" not in str(exc).lower():
                    raise
                # Scheduled for deletion by `tokens remove`: bring it back, then write.
                self.client().restore_secret(SecretId=secret_id)
                self.client().update_secret(
                    SecretId=secret_id, SecretString=value, Description=description, ClientRequestToken=version, **kms
                )

        try:
            try:
                if known_tags is None:
                    create()
                    known_tags = tags
                else:
                    update()
            except bx.ClientError as exc:
                code = self._code(exc)
                if code == "ResourceExistsException" and expect is None:
                    raise StoreConflict(self.name, "exists") from None
                if code == "ResourceExistsException":
                    update()
                elif code == "ResourceNotFoundException" and known_tags is not None:
                    create()
                    known_tags = tags
                elif code == "InvalidRequestException" and "delet" in str(exc).lower():
                    update()  # restores it first
                    known_tags = None
                else:
                    raise
            crash_point("aws.value-written")
            if known_tags != tags:
                self.client().tag_resource(SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        except StoreConflict:
            raise self.conflict(token, None, None) from None
        except (bx.BotoCoreError, bx.ClientError) as exc:
            if self._code(exc) == "ResourceExistsException":
                raise StoreConflict(self.name, f"{self.where(token)} was created by another writer; run `tokens sync`") from None
            raise self._error(exc, "write", token) from None
        with self._lock:
            self._tags[token] = tags
        return Written(version)

    def put_metadata(self, token: str, metadata: dict[str, str], version: str, *, value: str | None = None) -> None:
        """`value`: the value of `version`, already read (its keyed fingerprint is made from it)."""
        secret_id = self.prefix + token
        secret = self._call("describe", token, lambda c: c.describe_secret(SecretId=secret_id))
        if current_version(secret.get("VersionIdsToStages")) != version:
            return  # the value changed meanwhile: sync will rewrite its metadata
        if metadata.get("fingerprint") and value is not None:
            metadata = {**metadata, "fingerprint": self.keyed(value)}
        elif metadata.get("fingerprint"):
            old = decode_metadata(secret.get("Tags"), secret.get("Description"))
            if is_keyed(old.get("fingerprint")) and old.get(VERSION_KEY) == version:
                keyed = old["fingerprint"]
            else:  # an entry from before keyed fingerprints: the key needs the value, once
                value = self._call(
                    "read", token, lambda c: c.get_secret_value(SecretId=secret_id, VersionId=version)
                ).get("SecretString") or ""
                keyed = self.keyed(value)
            metadata = {**metadata, "fingerprint": keyed}
        description, tags = encode_metadata(metadata, version)
        old = {t["Key"] for t in secret.get("Tags") or [] if t["Key"].startswith(TAG_PREFIX)}
        self._call("write metadata of", token, lambda c: c.update_secret(SecretId=secret_id, Description=description))
        self._call(
            "tag", token, lambda c: c.tag_resource(SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        )
        stale = sorted(old - set(tags))
        if stale:
            self._call("untag", token, lambda c: c.untag_resource(SecretId=secret_id, TagKeys=stale))
        with self._lock:
            self._tags[token] = tags

    def _replace(self, token: str, value: str, metadata: dict[str, str], expect: str) -> Written:
        """Read-compare-write: refuse unless AWSCURRENT is still `expect`; see the module doc."""
        entry = self.entry(token)
        if entry is None or entry.version != expect:
            raise self.conflict(token, expect, entry)
        version = str(uuid.uuid4())
        description, tags = encode_metadata(metadata, version)
        kms = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
        self._call(
            "write",
            token,
            lambda c: c.update_secret(
                SecretId=self.prefix + token, SecretString=value, Description=description, ClientRequestToken=version, **kms
            ),
        )
        crash_point("aws.value-written")
        with self._lock:
            known = self._tags.get(token)
        if known != tags:
            self._call(
                "tag", token, lambda c: c.tag_resource(SecretId=self.prefix + token, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
            )
        with self._lock:
            self._tags[token] = tags
        stages = self._stages(token)
        current = current_version(stages)
        if current != version:
            conflict = StoreConflict(
                self.name,
                f"another machine wrote {self.where(token)} right after this one (now version {current}); "
                f"this value is kept as AWSPREVIOUS only: run `tokens sync` first",
            )
            conflict.current_version = current
            raise conflict
        previous = next((v for v, labels in stages.items() if "AWSPREVIOUS" in labels), None)
        if previous is None or previous == expect:
            return Written(version)
        # Another machine wrote between our check and our write, and ours replaced it.
        # It came first: give it back AWSCURRENT (ours becomes AWSPREVIOUS) and its
        # metadata, then refuse as a check-and-set would have.
        try:
            self._give_back(token, metadata, version, previous)
        except StoreError:
            return Written(version, overwrote=previous)  # could not undo: at least say so
        conflict = StoreConflict(
            self.name,
            f"another machine rotated {self.where(token)} at the same moment; its value was kept and this one "
            "was not (it stays as AWSPREVIOUS): run `tokens sync` first",
        )
        conflict.current_version = previous
        raise conflict

    def _give_back(self, token: str, metadata: dict[str, str], ours: str, theirs: str) -> None:
        """Make the other writer's value current again, as a new version with metadata
        describing it (moving the AWSCURRENT label back would do on AWS, but emulators
        such as moto keep serving the moved-from version)."""
        secret_id = self.prefix + token
        value = self._call("read", token, lambda c: c.get_secret_value(SecretId=secret_id, VersionId=theirs)).get("SecretString")
        if not isinstance(value, str):
            raise StoreError(self.name, f"{self.where(token)} holds binary data, not a token")
        again = str(uuid.uuid4())
        description, _ = encode_metadata({**metadata, "fingerprint": self.keyed(value)}, again)
        kms = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
        self._call(
            "restore the other writer's value of",
            token,
            lambda c: c.update_secret(
                SecretId=secret_id, SecretString=value, Description=description, ClientRequestToken=again, **kms
            ),
        )

    def delete(self, token: str) -> None:
        try:
            self._call(
                "delete", token, lambda c: c.delete_secret(SecretId=self.prefix + token, RecoveryWindowInDays=7)
            )
        except SecretNotFound:
            pass
        with self._lock:
            self._tags.pop(token, None)

    def describe(self) -> str:
        self._call("list", None, lambda c: c.list_secrets(MaxResults=1, **self._filters()))
        kms = f", KMS key {self.kms_key_id}" if self.kms_key_id else ""
        return f"AWS Secrets Manager at {self.location}, names {self.prefix}*{kms}"

    # -- MetadataStore -------------------------------------------------------
    def _filters(self) -> dict:
        return {"Filters": [{"Key": "name", "Values": [self.prefix]}]} if self.prefix else {}

    def _entry(self, secret: dict) -> RemoteEntry | None:
        name = secret.get("Name", "")
        if not name.startswith(self.prefix) or secret.get("DeletedDate"):
            return None
        token = name[len(self.prefix) :]
        if token == KEY_SECRET:
            return None
        stages = secret.get("SecretVersionsToStages") or secret.get("VersionIdsToStages")
        version = current_version(stages)
        if version is None:
            return None
        raw_tags = secret.get("Tags") or []
        with self._lock:
            self._tags[token] = {
                t["Key"]: t.get("Value", "") for t in raw_tags if t["Key"] == MARKER_TAG or t["Key"].startswith(TAG_PREFIX)
            }
        return RemoteEntry(token, decode_metadata(raw_tags, secret.get("Description")), version)

    def list_entries(self, names: Iterable[str] | None = None) -> dict[str, RemoteEntry]:
        """Every secret under the prefix (or just `names`) with its metadata; reads no values."""
        if names is not None:
            names = list(names)
            if len(names) <= 10:
                return self._describe_each(names)
        entries: dict[str, RemoteEntry] = {}
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            response = self._call(
                "list", None, lambda c: c.list_secrets(MaxResults=PAGE, **self._filters(), **extra)
            )
            for secret in response.get("SecretList") or []:
                entry = self._entry(secret)
                if entry is not None:
                    entries[entry.name] = entry
            token = response.get("NextToken")
            if not token:
                break
        if names is not None:
            wanted = set(names)
            entries = {k: v for k, v in entries.items() if k in wanted}
        return entries

    def _describe_each(self, names: list[str]) -> dict[str, RemoteEntry]:
        def one(token: str) -> RemoteEntry | None:
            try:
                secret = self._call("describe", token, lambda c: c.describe_secret(SecretId=self.prefix + token))
            except SecretNotFound:
                return None
            return self._entry(secret)

        if not names:
            return {}
        self.client()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(names))) as pool:
            return {e.name: e for e in pool.map(one, names) if e is not None}

    def version_created(self, token: str, version: str) -> datetime | None:
        """When AWS made `version` of the secret: the CreatedDate GetSecretValue gives
        for that version (the value is needed anyway; it is dropped here)."""
        secret_id = self.prefix + token
        response = self._call("read", token, lambda c: c.get_secret_value(SecretId=secret_id, VersionId=version))
        created = response.get("CreatedDate")
        return created.astimezone(timezone.utc) if isinstance(created, datetime) else None

    # -- VersionedStore ------------------------------------------------------
    def get_previous(self, token: str) -> str:
        try:
            response = self._call(
                "read the previous version of",
                token,
                lambda c: c.get_secret_value(SecretId=self.prefix + token, VersionStage="AWSPREVIOUS"),
            )
        except SecretNotFound:
            raise NoPreviousVersion(self.name, token, self.where(token)) from None
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise StoreError(self.name, f"{self.where(token)} holds binary data, not a token")
        return value
