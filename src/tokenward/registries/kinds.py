"""The kind facts table: per kind its value prefixes, default repository, token page (where
a person creates and revokes one) and the variables an unknown command gets it in (KindFacts
in facts.py). Plain data, no HTTP: the hot paths (`tokens list`, `remind`) read it.

pypi.py owns the PyPI facts (no HTTP at import either); the other registries' modules
do HTTP when imported, so their facts are written here, next to the kinds without a registry."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from tokenward.registries.facts import KindFacts, env_of as _env
from tokenward.registries.pypi import PYPI, TESTPYPI

TABLE: tuple[KindFacts, ...] = (
    PYPI,
    TESTPYPI,
    KindFacts(
        "github",
        prefixes=("github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        default_repository="https://github.com/",
        token_page="https://github.com/settings/tokens",
        env=_env(GH_TOKEN="{value}", GITHUB_TOKEN="{value}"),
    ),
    KindFacts(
        "gitlab",
        prefixes=("glpat-",),
        default_repository="https://gitlab.com/",
        token_page="https://gitlab.com/-/user_settings/personal_access_tokens",
        env=_env(GITLAB_TOKEN="{value}"),
    ),
    KindFacts(
        "npm",
        prefixes=("npm_",),
        default_repository="https://registry.npmjs.org/",
        token_page="https://www.npmjs.com/settings/~/tokens",
        env=_env(NODE_AUTH_TOKEN="{value}", NPM_TOKEN="{value}"),
    ),
    KindFacts(
        "crates",
        prefixes=("cio",),
        default_repository="https://crates.io/",
        token_page="https://crates.io/settings/tokens",
        env=_env(CARGO_REGISTRY_TOKEN="{value}"),
    ),
    KindFacts(
        "aws",
        prefixes=("AKIA", "ASIA"),
        token_page="https://console.aws.amazon.com/iam/home#/security_credentials",
        env=_env(AWS_ACCESS_KEY_ID="{value}"),
    ),
    KindFacts(
        "slack",
        prefixes=("xoxb-", "xoxp-", "xapp-"),
        token_page="https://api.slack.com/apps",
        env=_env(SLACK_TOKEN="{value}"),
    ),
    KindFacts(
        "dockerhub",
        prefixes=("dckr_pat_",),
        token_page="https://app.docker.com/settings/personal-access-tokens",
        env=_env(DOCKER_TOKEN="{value}"),
    ),
    KindFacts("generic"),
)

FACTS: Mapping[str, KindFacts] = MappingProxyType({f.kind: f for f in TABLE})
GENERIC = FACTS["generic"]
KINDS: tuple[str, ...] = tuple(FACTS)
# (prefix, kind), longest prefixes first: github_pat_ before gh*, etc. (pypi- needs its caveats read.)
PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(((p, f.kind) for f in TABLE for p in f.prefixes), key=lambda pk: -len(pk[0]))
)
DEFAULT_REPOSITORY: Mapping[str, str] = MappingProxyType({f.kind: f.default_repository for f in TABLE if f.default_repository})
TOKEN_PAGE: Mapping[str, str] = MappingProxyType({f.kind: f.token_page for f in TABLE if f.token_page})


def facts_of(kind: str) -> KindFacts:
    """The kind's facts; an unknown kind (from a teammate's inventory) is treated as generic."""
    return FACTS.get(kind, GENERIC)


def revoke_where(kind: str) -> str:
    return facts_of(kind).revoke_where
