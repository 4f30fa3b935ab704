"""PyPI and TestPyPI: no public API checks, creates or revokes a token. What the value's own
caveats say (expiry, projects) is all `verify` can learn, offline: `unknown` unless expired."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tokenward.errors import UsageError
from tokenward.registries.facts import KindFacts, env_of

if TYPE_CHECKING:
    from tokenward.registries.base import Verdict
    from tokenward.registries.http import HttpClient

PYPI_UPLOAD = "https://upload.pypi.org/legacy/"
TESTPYPI_UPLOAD = "https://test.pypi.org/legacy/"
_TWINE = env_of(TWINE_USERNAME="__token__", TWINE_PASSWORD="{value}")
# No prefixes: a `pypi-` value's kind (pypi or testpypi) is read from its macaroon (tokens.pypi_facts).
PYPI = KindFacts("pypi", default_repository=PYPI_UPLOAD, token_page="https://pypi.org/manage/account/token/", env=_TWINE)
TESTPYPI = KindFacts(
    "testpypi", default_repository=TESTPYPI_UPLOAD, token_page="https://test.pypi.org/manage/account/token/", env=_TWINE
)

NO_API = "PyPI offers no verification API; checked offline from the token's caveats"


class PyPI:
    needs_value = True

    def __init__(self, record, client: "HttpClient", now: datetime) -> None:
        self.record = record
        self.now = now
        self.kind = record.kind
        self.label = "TestPyPI" if record.kind == "testpypi" else "PyPI"
        self.base = ""
        self.token_page = (TESTPYPI if record.kind == "testpypi" else PYPI).token_page

    def verify(self, value: str | None) -> Verdict:
        from tokenward.registries.base import Verdict

        expires_at = self.record.expires_at
        scopes = (self.record.scope,) if self.record.scope else None
        if value is not None and value.startswith("pypi-"):
            from tokenward.tokens import pypi_facts

            try:
                facts = pypi_facts(value)
            except UsageError:
                return Verdict("unknown", reason="PyPI offers no verification API, and the value is no PyPI macaroon")
            expires_at = facts.expires_at
            scopes = (facts.scope,) if facts.scope else scopes
        if expires_at is not None and expires_at <= self.now:
            return Verdict("expired", expires_at=expires_at, scopes=scopes, reason=f"{NO_API}: its expiry has passed")
        return Verdict("unknown", expires_at=expires_at, scopes=scopes, reason=NO_API)
