"""What tokenward knows about a kind without asking anyone: the KindFacts of the table in
kinds.py. Plain data in a module of its own, with no HTTP and no dataclass machinery:
`tokens get` and `tokens exec` read the table (README "Performance")."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from tokenward.plain import Plain


def env_of(**variables: str) -> Mapping[str, str]:
    """A read-only {VAR: TEMPLATE} mapping; `{value}` stands for the token."""
    return MappingProxyType(dict(variables))


class KindFacts(Plain):
    """What tokenward knows about a kind without asking anyone (plain data, no HTTP);
    registries/kinds.py holds the table."""

    __slots__ = ("kind", "prefixes", "default_repository", "token_page", "env")

    def __init__(
        self,
        kind: str,
        prefixes: tuple[str, ...] = (),
        default_repository: str = "",
        token_page: str = "",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.prefixes = prefixes  # value prefixes that identify the kind (detect_kind)
        self.default_repository = default_repository  # where its tokens publish when the record names none
        self.token_page = token_page  # where a person creates a new token and revokes the old one
        # The variables a command exec does not recognise gets the token in.
        self.env = env_of(TOKEN="{value}") if env is None else env

    @property
    def revoke_where(self) -> str:
        """Completes "revoke the old token ...": at its token page, else where it was issued."""
        return f"at {self.token_page}" if self.token_page else "where it was issued"
