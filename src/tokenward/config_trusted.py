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
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class TrustedPublishingConfig(Plain):
    """`mode` and the minting index of each upload URL (keys compared as normalize_url does;
    an entry set to "" turns a default off). A plain class: every Config holds one (plain.py)."""

    __slots__ = ("mode", "index")

    def __init__(self, mode: str = "prefer", index: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.index = dict(DEFAULT_MINTING_INDEX) if index is None else index


def _minting_url_problem(value: str) -> str | None:
    """An index the CI's OIDC token is sent to: https, or http on this machine only."""
    from urllib.parse import urlsplit

    problem = http_url_problem(value)
    if problem:
        return f"must be an http(s) URL with a host ({problem})"
    parts = urlsplit(value)
    if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK_HOSTS:
        return "must be https (a CI identity or a minted token is sent there; http only for 127.0.0.1/localhost)"
    return None


def parse_trusted_publishing(table: dict, path: Path) -> TrustedPublishingConfig:
    _check_keys(path, "trusted_publishing", table, TRUSTED_KEYS)
    mode = table.get("mode", "prefer")
    if mode not in TRUSTED_MODES:
        raise ConfigError(f"{_where(path, 'trusted_publishing.mode')} must be one of {', '.join(TRUSTED_MODES)}")
    index = dict(DEFAULT_MINTING_INDEX)
    for upload, minter in table.get("index", {}).items():
        key = f"trusted_publishing.index.{upload!r}"
        if not isinstance(minter, str):
            raise ConfigError(f"{_where(path, key)} must be a string, not {type(minter).__name__}")
        problem = http_url_problem(upload)
        if problem:
            raise ConfigError(f"{_where(path, 'trusted_publishing.index')}: a key is not an http(s) URL with a host ({problem})")
        problem = _minting_url_problem(upload)
        if problem:  # the minted token goes there
            raise ConfigError(f"{_where(path, key)}: the upload URL {problem}")
        if minter:
            problem = _minting_url_problem(minter)
            if problem:
                raise ConfigError(f"{_where(path, key)} {problem}")
        index[upload] = minter
    return TrustedPublishingConfig(mode=mode, index=index)
