"""`[trusted_publishing]` in the config: the mode and the minting index of each upload URL
(docs/trusted-publishing.md), validated at load like every table (config.py calls this)."""

from __future__ import annotations

from pathlib import Path

from tokenward.config import _check_keys, _where, http_url_problem
from tokenward.errors import ConfigError
from tokenward.plain import Plain

TRUSTED_MODES = ("prefer", "only", "never")
TRUSTED_KEYS: dict[str, type | tuple[type, ...]] = {"mode": str, "index": dict}
# Upload URL -> the index that mints tokens for it (docs/trusted-publishing.md). cargo's
# destination for crates.io is the registry itself.
DEFAULT_MINTING_INDEX = {
    "https://upload.pypi.org/legacy/": "https://pypi.org",
    "https://test.pypi.org/legacy/": "https://test.pypi.org",
    "https://crates.io/": "https://crates.io",
}
# The OIDC audience each default index expects (warehouse: OIDC_AUDIENCE "pypi" on pypi.org,
# "testpypi" on test.pypi.org). Any other PyPI-like index needs `audience` in its entry: the
# index's own /_/oidc/audience answer is only compared with it, never obeyed.
DEFAULT_AUDIENCE = {"https://pypi.org": "pypi", "https://test.pypi.org": "testpypi"}
# These indexes mint tokens that upload to their own upload URL only.
MINTS_ONLY_FOR = {
    "https://pypi.org": "https://upload.pypi.org/legacy/",
    "https://test.pypi.org": "https://test.pypi.org/legacy/",
    "https://crates.io": "https://crates.io/",
}
# pypi.org's and test.pypi.org's audiences: a JWT for them is accepted by those indexes, so it is
# never sent to any other index (which could exchange it there).
RESERVED_AUDIENCE = {audience: index for index, audience in DEFAULT_AUDIENCE.items()}
ENTRY_KEYS: dict[str, type | tuple[type, ...]] = {"index": str, "audience": str}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class TrustedPublishingConfig(Plain):
    """`mode`, the minting index of each upload URL (keys normalised by normalize_url;
    an entry set to "" turns a default off) and the OIDC audience an entry names (upload URL
    -> audience). A plain class: every Config holds one (plain.py)."""

    __slots__ = ("mode", "index", "audience")

    def __init__(self, mode: str = "prefer", index: dict[str, str] | None = None, audience: dict[str, str] | None = None) -> None:
        from tokenward.publishers.base import normalize_url

        self.mode = mode
        # Keys normalised once here, so a lookup is one normalize_url of the destination.
        self.index = {normalize_url(k): v for k, v in (DEFAULT_MINTING_INDEX if index is None else index).items()}
        self.audience = {normalize_url(k): v for k, v in (audience or {}).items()}


def _minting_url_problem(value: str) -> str | None:
    """An index the CI's OIDC token is sent to: https, or http on this machine only."""
    from urllib.parse import urlsplit

    problem = http_url_problem(value)
    if problem:
        return f"must be an http(s) URL with a host ({problem})"
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (it would be printed and audited)"
    if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK_HOSTS:
        return "must be https (a CI identity or a minted token is sent there; http only for 127.0.0.1/localhost)"
    return None


def parse_trusted_publishing(table: dict, path: Path) -> TrustedPublishingConfig:
    _check_keys(path, "trusted_publishing", table, TRUSTED_KEYS)
    mode = table.get("mode", "prefer")
    if mode not in TRUSTED_MODES:
        raise ConfigError(f"{_where(path, 'trusted_publishing.mode')} must be one of {', '.join(TRUSTED_MODES)}")
    from tokenward.publishers.base import normalize_url

    index = {normalize_url(k): v for k, v in DEFAULT_MINTING_INDEX.items()}
    audiences: dict[str, str] = {}
    only_for = {normalize_url(k): normalize_url(v) for k, v in MINTS_ONLY_FOR.items()}
    seen: dict[str, str] = {}
    for upload, entry in table.get("index", {}).items():
        key = f"trusted_publishing.index.{_shown(upload)!r}"
        minter, audience = _entry(path, key, entry)
        problem = http_url_problem(upload)
        if problem:
            raise ConfigError(f"{_where(path, 'trusted_publishing.index')}: a key is not an http(s) URL with a host ({problem})")
        problem = _minting_url_problem(upload)
        if problem:  # the minted token goes there
            raise ConfigError(f"{_where(path, key)}: the upload URL {problem}")
        normal = normalize_url(upload)
        if normal in seen:
            raise ConfigError(f"{_where(path, key)} names the same upload URL as {_shown(seen[normal])!r}: give it once")
        seen[normal] = upload
        if minter:
            problem = _minting_url_problem(minter)
            if problem:
                raise ConfigError(f"{_where(path, key)} {problem}")
            own = only_for.get(normalize_url(minter))
            if own and own != normal:
                raise ConfigError(
                    f"{_where(path, key)}: {minter} mints tokens that upload to {own} only, not to {_shown(upload)}"
                )
            _check_own_index(path, key, normal, minter, audience, only_for)
        index[normal] = minter
        if audience:
            audiences[normal] = audience
        else:
            audiences.pop(normal, None)
    return TrustedPublishingConfig(mode=mode, index=index, audience=audiences)


def _check_own_index(path: Path, key: str, upload: str, minter: str, audience: str, only_for: dict[str, str]) -> None:
    """pypi.org's audience goes to pypi.org only (test.pypi.org's likewise), and pypi.org's own
    upload URL gets tokens minted by pypi.org only: else a JWT PyPI accepts, or a token
    minted elsewhere, would be sent where the config says."""
    from tokenward.publishers.base import normalize_url

    index = normalize_url(minter)
    owner = RESERVED_AUDIENCE.get(audience)
    if owner and index != normalize_url(owner):
        raise ConfigError(
            f"{_where(path, key + '.audience')}: {audience!r} is {owner}'s own audience, never sent to another index "
            "(name the audience that index documents for itself)"
        )
    for own_index, own_upload in only_for.items():
        if upload == own_upload and index != own_index and own_index.rstrip("/") in RESERVED_AUDIENCE.values():
            raise ConfigError(f"{_where(path, key)}: {own_upload} takes tokens minted by {own_index.rstrip('/')} only, not by {minter}")


def _shown(url: str) -> str:
    """A URL for a message: never the user name or password it may carry."""
    head, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if sep and "@" in authority:
        return f"{head}://***@{authority.rsplit('@', 1)[1]}{slash}{tail}"
    return url


def _entry(path: Path, key: str, entry: object) -> tuple[str, str]:
    """An entry is the minting index's URL, or `{ index = URL, audience = "..." }`."""
    if isinstance(entry, str):
        return entry, ""
    if not isinstance(entry, dict):
        raise ConfigError(f"{_where(path, key)} must be a string or a table {{ index = ..., audience = ... }}, not {type(entry).__name__}")
    _check_keys(path, key, entry, ENTRY_KEYS)
    minter = entry.get("index", "")
    audience = entry.get("audience", "")
    if not minter:
        raise ConfigError(f"{_where(path, key + '.index')} is missing")
    if audience and not (audience.isprintable() and len(audience) <= 256 and audience.strip() == audience):
        raise ConfigError(f"{_where(path, key + '.audience')} must be one printable word of at most 256 characters")
    return minter, audience
