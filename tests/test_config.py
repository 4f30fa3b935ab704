import pytest

from tokenward.config import load_config
from tokenward.errors import ConfigError


def test_no_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    config = load_config()
    assert config.path is None
    assert config.default_stores == ("keyring",)
    assert config.store("keyring").get("service") == "tokenward"
    assert config.rotate_every == "90d"


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.toml"))


def test_full_example_parses(write_config):
    path = write_config(
        """
[defaults]
stores = ["keyring", "vault"]
rotate_every = "6mo"
warn_before = "3w"

[stores.keyring]
service = "work"

[stores.vault]
url = "https://vault.example.com:8200"
mount = "kv"
prefix = "team/"
auth = "approle"

[stores.team-aws]
type = "aws"
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:5000"

[notify.webhook]
url = "https://hooks.example.com/T000/B000"
"""
    )
    config = load_config(str(path))
    assert config.default_stores == ("keyring", "vault")
    assert config.store("team-aws").type == "aws"
    assert config.store("vault").get("mount") == "kv"
    assert config.store("vault").get("namespace") == ""
    assert str(config.warn_before) == "3w"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[defaults]\nstores = [", "invalid TOML"),
        ("[bogus]\nx = 1", "bogus is not a known table"),
        ("[defaults]\nrotate_evry = '90d'", "defaults.rotate_evry is not a known key"),
        ("[defaults]\nrotate_every = 'soon'", "invalid period"),
        ("[defaults]\nwarn_before = 14", "defaults.warn_before must be a string"),
        ("[defaults]\nstores = ['nowhere']", "'nowhere', which is not a [stores.*] table"),
        ("[defaults]\nstores = []", "at least one store"),
        ("[stores.mine]\nurl = 'x'", "unknown type 'mine'"),
        ("[stores.vault]\nmonut = 'x'", "stores.vault.monut is not a known key"),
        ("[stores.vault]\nauth = 'ldap'", "auth must be"),
        ("[stores.vault]\nverify = 'yes'", "stores.vault.verify must be a bool"),
        ("[stores.a]\ntype = 'aws'\ntimeout = true", "stores.a.timeout must be"),
        ("[stores]\nkeyring = 3", "stores.keyring must be a table"),
        ("stores = 3", "stores must be a table"),
        ("[defaults]\nstores = 'keyring'", "defaults.stores must be an array"),
        ("[notify.pager]\nurl = 'x'", "notify.pager is not a known channel"),
        ("[notify.email]\nport = '25'", "notify.email.port must be an int"),
        ("[defaults]\nnotify = ['webhook']", "defaults.notify names 'webhook'"),
        # values checked at load, each error naming its own key (issue 9 item 14)
        ("[stores.vault]\ntimeout = -1", "stores.vault.timeout must be more than 0"),
        ("[stores.vault]\ntimeout = 0", "stores.vault.timeout must be more than 0"),
        ("[stores.a]\ntype = 'aws'\ntimeout = -5", "stores.a.timeout must be more than 0"),
        ("[stores.a]\ntype = 'aws'\nendpoint_url = 'http://'", "stores.a.endpoint_url must be an http"),
        ("[stores.a]\ntype = 'aws'\nregion = 'Europe West'", "stores.a.region must be an AWS region"),
        ("[stores.vault]\nurl = 'not a url'", "stores.vault.url must be an http"),
        ("[stores.vault]\nurl = 'ftp://vault.example.com'", "stores.vault.url must be an http"),
        ("[stores.vault]\nurl = 'http://127.0.0.1:99999'", "stores.vault.url must be an http"),
        ('[stores.keyring]\nservice = "a\\u001b[31mb"', "stores.keyring.service contains control characters"),
        ('[stores."a\\u001bb"]\ntype = "keyring"', "is not a valid store name"),
        ("[notify.webhook]\nurl = 'hooks.example.com'", "notify.webhook.url must be an http"),
        ("[notify.webhook]\nurl = 'https://h.example'\nretries = -1", "notify.webhook.retries must be 0-10"),
        ("[notify.webhook]\nurl = 'https://h.example'\nrepeat = '5m'", "notify.webhook.repeat"),
        ("[notify.email]\nport = 70000", "notify.email.port must be 1-65535"),
        ("[rotate]\ntimeout = 0", "rotate.timeout must be more than 0"),
        ("[defaults]\nwarn_before = 'soon'", "defaults.warn_before"),
    ],
)
def test_bad_configs_name_file_and_problem(write_config, text, message):
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_non_utf8_config(write_config, tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe[defaults]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(str(path))


def test_config_from_env(write_config, monkeypatch):
    path = write_config("[defaults]\nrotate_every = '1y'")
    monkeypatch.setenv("TOKENS_CONFIG", str(path))
    assert load_config().rotate_every == "1y"
