"""The AWS Secrets Manager store against a real moto server: metadata in tags and
description, KMS, outside changes, bulk reads, and failures mapped to our errors."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.remote_stores import REGION, aws_table, boto_client, dead_url, keyring_table, remote_env, unique
from tokenward.config import StoreConfig
from tokenward.errors import AccessDenied, ConfigError, SecretNotFound, StoreError, StoreUnavailable
from tokenward.stores.aws import AwsStore, decode_metadata, encode_metadata

VALUE = "npm_AWStestVALUE0123456789abcdefXYZ"
META = {
    "tokenward": "1",
    "name": "tok",
    "kind": "npm",
    "purpose": "publish @scope/pkg (the \"main\" one), weekly",
    "scope": "user",
    "repository": "",
    "created_at": "2026-01-01T00:00:00+00:00",
    "rotated_at": "2026-02-01T00:00:00+00:00",
    "fingerprint": "0123456789abcdef",
}


@pytest.fixture
def aws(moto, monkeypatch):
    remote_env(monkeypatch)
    return moto


def make(url, **options) -> AwsStore:
    return AwsStore(StoreConfig("team-aws", "aws", {"region": REGION, "endpoint_url": url, "prefix": unique("a/") + "/", **options}))


def test_metadata_goes_to_tags_where_it_fits_and_the_description_holds_the_rest(aws):
    store = make(aws.url)
    written = store.put("tok", VALUE, META)
    secret = boto_client(aws).describe_secret(SecretId=store.prefix + "tok")
    tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
    assert tags["tokenward"] == "1" and tags["tokenward:kind"] == "npm" and tags["tokenward:name"] == "tok"
    assert "tokenward:purpose" not in tags  # quotes and commas are outside the tag charset
    assert '"purpose"' in secret["Description"] and written.version in secret["Description"]
    assert VALUE not in secret["Description"] and VALUE not in str(tags)
    assert decode_metadata(secret["Tags"], secret["Description"])["purpose"] == META["purpose"]


def test_long_free_text_is_clipped_to_the_description_limit():
    description, tags = encode_metadata(dict(META, purpose="x" * 5000), "v1")
    assert len(description) <= 2048
    assert decode_metadata([{"Key": k, "Value": v} for k, v in tags.items()], description)["version"] == "v1"


def test_kms_key_is_used(aws):
    import boto3

    kms = boto3.client("kms", endpoint_url=aws.url, region_name=REGION)
    key_id = kms.create_key(Description="tokenward test")["KeyMetadata"]["KeyId"]
    store = make(aws.url, kms_key_id=key_id)
    store.put("tok", VALUE, META)
    store.put("tok", VALUE + "2", META)
    assert boto_client(aws).describe_secret(SecretId=store.prefix + "tok")["KmsKeyId"] == key_id
    assert store.get("tok") == VALUE + "2"


def test_outside_change_shows_as_a_version_the_metadata_does_not_describe(aws):
    store = make(aws.url)
    store.put("tok", VALUE, META)
    boto_client(aws).put_secret_value(SecretId=store.prefix + "tok", SecretString="changed by hand")
    entry = store.list_entries()["tok"]
    assert entry.metadata["version"] != entry.version
    assert store.get_previous("tok") == VALUE


def test_listing_pages_and_filters_by_prefix(aws):
    store = make(aws.url)
    other = AwsStore(StoreConfig("o", "aws", {"region": REGION, "endpoint_url": aws.url, "prefix": store.prefix + "x"}))
    for i in range(105):
        store.put(f"t{i:03d}", VALUE, dict(META, name=f"t{i:03d}"))
    other.put("zz", VALUE, META)  # under a longer prefix: a different store's name space
    entries = store.list_entries()
    assert len([n for n in entries if n.startswith("t")]) == 105
    assert set(other.list_entries()) == {"zz"}


def test_removed_secret_is_restored_when_written_again(aws):
    store = make(aws.url)
    store.put("tok", VALUE, META)
    store.delete("tok")
    assert "tok" not in store.list_entries()
    store.put("tok", VALUE + "2", META)
    assert store.get("tok") == VALUE + "2" and "tok" in store.list_entries()


def test_stopped_server_is_store_unavailable(aws):
    with pytest.raises(StoreUnavailable, match="cannot reach AWS Secrets Manager at http://127.0.0.1"):
        make(dead_url(), timeout=2).get("tok")


def test_stopped_server_exits_3_through_the_cli(aws, tokens, write_config, real_keyring):
    write_config(
        '[defaults]\nstores = ["keyring", "team-aws"]\n'
        + keyring_table(unique("tokenward-test-"))
        + aws_table("team-aws", dead_url(), "x/", timeout=2)
    )
    result = tokens("add", "tok", input=VALUE + "\n", env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.returncode == 3, result
    assert "Error: store 'team-aws': cannot reach AWS Secrets Manager" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and VALUE not in result.stdout + result.stderr


def test_no_region_is_a_config_error(aws, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    store = AwsStore(StoreConfig("team-aws", "aws", {"endpoint_url": aws.url}))
    with pytest.raises(ConfigError, match="no AWS region"):
        store.get("tok")


def test_unknown_profile_is_a_config_error(aws, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="profile 'nosuch'"):
        make(aws.url, profile="nosuch").get("tok")


def _client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "m"}}, "GetSecretValue")


@pytest.mark.parametrize(
    "error, expected, words",
    [
        (_client_error("ResourceNotFoundException"), SecretNotFound, "holds no value for 'tok'"),
        (_client_error("AccessDeniedException"), AccessDenied, "access denied to read secret p/tok"),
        (_client_error("ExpiredTokenException"), AccessDenied, "check the IAM policy"),
        (_client_error("ThrottlingException"), StoreUnavailable, "retry later"),
        (_client_error("KMSAccessDeniedException"), AccessDenied, "kms_key_id"),
        (_client_error("SomethingNew"), StoreError, "(SomethingNew)"),
        (botocore.exceptions.NoCredentialsError(), AccessDenied, "no AWS credentials"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), StoreUnavailable, "cannot reach"),
    ],
)
def test_sdk_errors_map_onto_ours(error, expected, words):
    store = AwsStore(StoreConfig("team-aws", "aws", {"region": REGION, "prefix": "p/"}))
    mapped = store._error(error, "read", "tok")
    assert type(mapped) is expected and words in str(mapped) and "team-aws" in str(mapped)
