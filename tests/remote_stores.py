"""Helpers for tests that use the real OpenBao and moto servers: environments,
config snippets, and direct SDK clients for changing things "by hand"."""

from __future__ import annotations

import uuid

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
REGION = "us-east-1"


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def remote_env(monkeypatch, openbao=None) -> dict[str, str]:
    """Credentials for both servers, set in this process and returned for subprocesses."""
    env = dict(AWS_ENV)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if openbao is not None:
        env["VAULT_TOKEN"] = openbao.extra["root_token"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(key, raising=False)
    return env


def vault_table(name: str, url: str, prefix: str, **extra) -> str:
    lines = [f"[stores.{name}]", 'type = "vault"', f'url = "{url}"', f'prefix = "{prefix}"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def aws_table(name: str, url: str, prefix: str, **extra) -> str:
    lines = [f"[stores.{name}]", 'type = "aws"', f'region = "{REGION}"', f'endpoint_url = "{url}"', f'prefix = "{prefix}"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def keyring_table(service: str) -> str:
    return f'[stores.keyring]\nservice = "{service}"\n'


def hvac_root(openbao):
    import hvac

    return hvac.Client(url=openbao.url, token=openbao.extra["root_token"])


def boto_client(moto):
    import boto3

    return boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def dead_url() -> str:
    """An address where nothing listens: a stopped server."""
    from tests.servers import free_port

    return f"http://127.0.0.1:{free_port()}"
