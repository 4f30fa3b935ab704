"""Which environment variables a token's kind is handed to a child under."""

from __future__ import annotations

# For a command exec does not recognise, the token's kind decides.
KIND_ENV: dict[str, dict[str, str]] = {
    "pypi": {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "{value}"},
    "testpypi": {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "{value}"},
    "github": {"GH_TOKEN": "{value}", "GITHUB_TOKEN": "{value}"},
    "gitlab": {"GITLAB_TOKEN": "{value}"},
    "npm": {"NODE_AUTH_TOKEN": "{value}", "NPM_TOKEN": "{value}"},
    "crates": {"CARGO_REGISTRY_TOKEN": "{value}"},
    "dockerhub": {"DOCKER_TOKEN": "{value}"},
    "slack": {"SLACK_TOKEN": "{value}"},
    "aws": {"AWS_ACCESS_KEY_ID": "{value}"},
    "generic": {"TOKEN": "{value}"},
}


def env_for_kind(kind: str, value: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The variables to add to the child's environment (a pure function)."""
    templates = dict(overrides) if overrides else dict(KIND_ENV.get(kind, KIND_ENV["generic"]))
    return {var: template.replace("{value}", value) for var, template in templates.items()}
