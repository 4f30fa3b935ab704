"""Trusted publishing in `tokens exec`: a simulated GitHub Actions job (its environment
variables only, no stored token) uploads with twine and poetry to a REAL pypiserver using a
token minted by the PyPI stand-in from the job's OIDC token (tests/oidc_standin.py); refusals
give one line; `prefer` falls back to a stored token, `only` stops; crates.io's minted token is
revoked when the child exits; npm gets no token. The JWT and the minted value never appear in
output, audit log or inventory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests import servers
from tests.fixtures_pypiserver import upload_server, write_sdist, write_wheel  # noqa: F401 - fixture
from tests.oidc_standin import CratesMint, OidcProvider, Publisher, PypiMint
from tests.publisher_helpers import ctx  # noqa: F401 - fixture

# Not inherited from the machine running the tests: each test says which CI it simulates.
NOT_CI = {name: "" for name in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "GOOGLE_SERVICE_ACCOUNT_NAME",
                                "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")}  # fmt: skip


@pytest.fixture(scope="session")
def oidc():
    provider = OidcProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def tp_server(tmp_path_factory, oidc):
    """A pypiserver of its own (htpasswd holds one `__token__`: the latest minted one) and the
    PyPI mint stand-in that registers what it mints there."""
    try:
        from passlib.apache import HtpasswdFile
    except ImportError:
        servers.unavailable("passlib is not installed")
    workdir = tmp_path_factory.mktemp("tp-pypiserver")
    packages = workdir / "packages"
    packages.mkdir()
    htpasswd = HtpasswdFile(str(workdir / "htpasswd"), new=True, default_scheme="sha256_crypt")
    htpasswd.set_password("__token__", "nothing-minted-yet")
    htpasswd.save()
    server = servers.start_pypiserver(workdir, workdir / "htpasswd", packages)
    mint = PypiMint(provider=oidc, htpasswd=workdir / "htpasswd").start()
    mint.publishers = [Publisher("octo-org/sample", "release.yml", "pypi", ("tp-twine", "tp-poetry"))]
    yield server.url + "/", packages, mint
    mint.stop()
    server.stop()


@pytest.fixture
def job(oidc, tmp_path, monkeypatch, write_config):
    """A GitHub Actions job of octo-org/sample's release.yml in environment pypi, in a fresh
    project directory, HOME of its own; the mapping points pypiserver's URL at the stand-in."""
    oidc.job()
    oidc.lifetime = 300
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    monkeypatch.chdir(work)
    for name, value in {**NOT_CI, **oidc.env(), "HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    return work


def config(write_config, mapping: dict[str, str], mode: str = "prefer", audience: str = "pypi-standin") -> None:
    """Each upload URL's minting index, with the audience the PyPI stand-in announces (an
    index other than pypi.org/test.pypi.org must name it)."""
    entry = '{{ index = "{}", audience = "%s" }}' % audience if audience else '"{}"'
    lines = "\n".join(f'"{upload}" = ' + entry.format(index) for upload, index in mapping.items())
    write_config(f'[trusted_publishing]\nmode = "{mode}"\n[trusted_publishing.index]\n{lines}\n')


def audit(data_dir: Path) -> list[dict]:
    path = data_dir / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def leaks(result, data_dir: Path, *values: str) -> list[str]:
    """Where any of `values` shows up: output, audit log, inventory, anything under the data dir."""
    found = []
    files = [p for p in data_dir.rglob("*") if p.is_file()] if data_dir.exists() else []
    for value in values:
        if value in result.stdout or value in result.stderr:
            found.append("output")
        found += [str(p) for p in files if value.encode() in p.read_bytes()]
    return found


def fake_tool(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    """A stand-in executable on PATH (for what the real tool cannot do here)."""
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return {"PATH": f"{path.parent}:{os.environ['PATH']}"}


# -- real uploads with a minted token ------------------------------------------------------------


def test_twine_upload_in_github_actions_uploads_with_a_minted_token(tokens, job, tp_server, oidc, write_config, data_dir):
    url, packages, mint = tp_server
    config(write_config, {url: mint.url})
    wheel = write_wheel(job / "dist", "tp-twine", "1.0")
    before = len(mint.minted)
    result = tokens("exec", "--", "twine", "upload", "--non-interactive", "--repository-url", url, "dist/*")
    assert result.returncode == 0, result
    assert (packages / wheel.name).exists()
    assert len(mint.minted) == before + 1
    assert "minted a trusted-publishing token at 127.0.0.1" in result.stderr and "not stored" in result.stderr
    entry = audit(data_dir)[-1]
    assert entry["token"] == "(trusted-publishing)" and entry["via"] == "trusted-publishing"
    assert entry["tool"] == "twine" and entry["projects"] == ["tp-twine"] and entry["exit_status"] == 0
    assert leaks(result, data_dir, mint.minted[-1], oidc.issued[-1]) == []
    listed = tokens("list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []  # nothing was added to the inventory


def test_poetry_publish_in_github_actions_uploads_with_a_minted_token(tokens, job, tp_server, oidc, write_config, data_dir, tmp_path):
    poetry = servers.find_tool("poetry")
    if poetry is None:
        servers.unavailable("poetry is not installed")
    url, packages, mint = tp_server
    config(write_config, {url: mint.url})
    (job / "pyproject.toml").write_text('[project]\nname = "tp-poetry"\nversion = "1.0"\n')
    wheel = write_wheel(job / "dist", "tp-poetry", "1.0")
    sdist = write_sdist(job / "dist", "tp-poetry", "1.0")
    env = {"POETRY_REPOSITORIES_TP_URL": url, "POETRY_CACHE_DIR": str(tmp_path / "poetry-cache"),
           "POETRY_CONFIG_DIR": str(tmp_path / "poetry-config"), "POETRY_KEYRING_ENABLED": "false"}  # fmt: skip
    result = tokens("exec", "--", poetry, "publish", "-r", "tp", "--no-interaction", env=env)
    assert result.returncode == 0, result
    assert (packages / wheel.name).exists() and (packages / sdist.name).exists()
    assert "minted a trusted-publishing token" in result.stderr
    assert audit(data_dir)[-1]["via"] == "trusted-publishing" and audit(data_dir)[-1]["tool"] == "poetry"
    assert leaks(result, data_dir, mint.minted[-1], oidc.issued[-1]) == []


def test_the_minted_token_is_masked_in_the_childs_output(tokens, job, tp_server, oidc, write_config, tmp_path, data_dir):
    url, _packages, mint = tp_server
    config(write_config, {url: mint.url})
    write_wheel(job / "dist", "tp-twine", "9.0")
    path = fake_tool(tmp_path, "twine", 'printf "password=%s\\n" "$TWINE_PASSWORD"\n')
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/*", env=path)
    assert result.returncode == 0, result
    assert "password=****" in result.stdout
    assert leaks(result, data_dir, mint.minted[-1], oidc.issued[-1]) == []


# -- refusals: one line each ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, expected",
    [
        ("invalid-publisher", "invalid-publisher (valid token, but no corresponding publisher"),
        ("expired", "invalid-token (malformed or invalid token)"),
        ("no-permission", "give the job `permissions: id-token: write`"),
    ],
)
def test_a_refused_exchange_is_one_line_and_only_stops(tokens, job, tp_server, oidc, write_config, tmp_path, monkeypatch, data_dir, case, expected):
    url, _packages, mint = tp_server
    config(write_config, {url: mint.url}, mode="only")
    if case == "invalid-publisher":
        oidc.job(repository="octo-org/fork", workflow="release.yml", environment=None, ref="refs/heads/main")
    elif case == "expired":
        oidc.lifetime = -600
    else:
        monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL")
        monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    issued = len(oidc.issued)
    write_wheel(job / "dist", "tp-twine", "2.0")
    path = fake_tool(tmp_path, "twine", "echo child-ran\n")
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/*", env=path)
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: trusted publishing: "), lines
    assert expected in lines[0]
    if case == "invalid-publisher":
        assert "repository=octo-org/fork, workflow=release.yml, environment=(none), ref=refs/heads/main" in lines[0]
    if case == "expired":
        assert "repository=octo-org/sample" in lines[0] and "environment=pypi" in lines[0]
        assert "(the OIDC token expired 6" in lines[0]
    assert "child-ran" not in result.stdout
    assert leaks(result, data_dir, *oidc.issued[issued:]) == []
    assert not any(e.get("event") == "exec" for e in audit(data_dir))


def test_prefer_falls_back_to_a_stored_token_and_says_so(tokens, real_keyring, job, upload_server, tp_server, oidc, write_config, data_dir, tmp_path):
    """The session pypiserver accepts the stored token; its minting index refuses this job."""
    _url, _packages, mint = tp_server
    config(write_config, {upload_server.url: mint.url}, mode="prefer")
    with open(os.environ["TOKENS_CONFIG"], "a") as handle:
        handle.write(f'[stores.keyring]\nservice = "tokenward-test-{uuid.uuid4().hex[:8]}"\n')
    added = tokens("add", "stored", "--repository", upload_server.url, input=upload_server.token)
    assert added.returncode == 0, added
    oidc.job(repository="octo-org/other", workflow="release.yml")
    wheel = write_wheel(job / "dist", "tw-right", "7.7")
    result = tokens("exec", "--", "twine", "upload", "--non-interactive", "--repository-url", upload_server.url, "dist/*")
    assert result.returncode == 0, result
    assert upload_server.has(wheel.name)
    assert "invalid-publisher" in result.stderr and "using a stored token instead" in result.stderr
    assert "using stored" in result.stderr
    assert audit(data_dir)[-1]["token"] == "stored" and "via" not in audit(data_dir)[-1]
    assert leaks(result, data_dir, *oidc.issued) == []


def test_outside_ci_prefer_uses_stored_tokens_silently_and_only_refuses(tokens, tp_server, write_config, monkeypatch, tmp_path, data_dir):
    url, _packages, mint = tp_server
    for name, value in NOT_CI.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist").mkdir()
    write_wheel(tmp_path / "dist", "tp-twine", "3.0")
    path = fake_tool(tmp_path, "twine", "echo child-ran\n")
    config(write_config, {url: mint.url}, mode="only")
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/*", env=path)
    assert result.returncode == 3 and "no OIDC identity here" in result.stderr, result
    # --no-trusted-publishing: stored tokens only, for this run (here: none fits, exit 2)
    result = tokens("exec", "--no-trusted-publishing", "--", "twine", "upload", "--repository-url", url, "dist/*", env=path)
    assert result.returncode == 2 and "no token fits" in result.stderr and "trusted" not in result.stderr, result


@pytest.mark.parametrize(
    "answer",
    [
        lambda jwt: (422, {"errors": [{"code": "invalid-token\x1b[2J", "description": f"bad token {jwt}\r\nInjected: line"}]}),
        lambda jwt: (200, {"success": True, "token": "pypi-two\nlines"}),
        lambda jwt: (200, {"success": "yes", "token": ["pypi-x"]}),
        lambda jwt: (200, ["not", "an", "object"]),
        lambda jwt: (422, {"errors": "x" * 5000, "message": jwt}),
    ],
)
def test_a_hostile_mint_answer_is_one_clean_line_without_the_jwt(job, tp_server, oidc, monkeypatch, answer):
    from tokenward import trusted

    url, _packages, mint = tp_server
    monkeypatch.setattr(mint, "hostile", answer)
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "pypi", mint.url, mint.audience))
    message = str(caught.value)
    assert oidc.issued[-1] not in message
    assert message.isprintable() and len(message) < 700, message
    assert message.startswith("trusted publishing: 127.0.0.1")


def test_an_unreachable_index_or_one_without_an_audience_is_one_line(job, tp_server, oidc, monkeypatch):
    """Nothing listens on the index's port; an index that names no audience."""
    from tests import servers as test_servers
    from tokenward import trusted

    closed = f"http://127.0.0.1:{test_servers.free_port()}"
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "pypi", closed, "pypi"))
    assert str(caught.value).startswith("trusted publishing: registry 127.0.0.1:") and "\n" not in str(caught.value)
    _url, _packages, mint = tp_server
    issued = len(oidc.issued)
    monkeypatch.setattr(mint, "audience", None)  # no audience: no identity token is asked for
    with pytest.raises(trusted.TrustedPublishingFailed, match="gave no audience"):
        trusted.mint(trusted.Decision("only", "pypi", mint.url, "pypi-standin"))
    assert len(oidc.issued) == issued


@pytest.mark.parametrize("request_url", ["not a url", "http://[::1", "ftp://x/y", "http://127.0.0.1:99999/x"])
def test_a_malformed_request_url_is_one_line(job, monkeypatch, request_url):
    from tokenward import trusted

    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", request_url)
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "npm", ""))
    assert str(caught.value).startswith("trusted publishing: ") and str(caught.value).isprintable()


def test_gitlab_ci_identity_from_its_id_token_variable(tp_server, oidc, monkeypatch, job):
    """GitLab CI hands the job its OIDC token in `<AUD>_ID_TOKEN` (the `id` library reads it)."""
    from tokenward import trusted

    url, _packages, mint = tp_server
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GITLAB_CI", "true")
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "pypi", mint.url, mint.audience))
    assert "PYPI_STANDIN_ID_TOKEN" in str(caught.value) and not isinstance(caught.value, trusted.NoIdentity)
    monkeypatch.setenv("PYPI_STANDIN_ID_TOKEN", oidc.token_for(mint.audience))
    minted = trusted.mint(trusted.Decision("only", "pypi", mint.url, mint.audience))
    assert minted.value == mint.minted[-1] and minted.value.startswith("pypi-")


# -- crates.io: minted, then revoked when the child exits ------------------------------------------


@pytest.fixture
def crates(oidc, job, write_config):
    mint = CratesMint(provider=oidc).start()
    mint.publishers = [Publisher("octo-org/sample", "release.yml")]
    index = f"{mint.url}/index/"
    config(write_config, {index: mint.url}, audience="")  # crates: the index's host name
    (job / "Cargo.toml").write_text('[package]\nname = "tp-crate"\nversion = "1.0.0"\n')
    yield mint, index
    mint.stop()


@pytest.mark.parametrize("status", [0, 1])
def test_cargo_publish_gets_a_minted_token_revoked_when_it_exits(tokens, crates, tmp_path, data_dir, oidc, status):
    mint, index = crates
    path = fake_tool(tmp_path, "cargo", f'printf "token=%s\\n" "$CARGO_REGISTRY_TOKEN"\nexit {status}\n')
    result = tokens("exec", "--", "cargo", "publish", "--index", index, env=path)
    assert result.returncode == status, result
    assert "token=****" in result.stdout and "revoked when the command exits" in result.stderr
    assert len(mint.revoked) == 1 and not mint.live
    assert audit(data_dir)[-1]["via"] == "trusted-publishing" and audit(data_dir)[-1]["exit_status"] == status
    assert leaks(result, data_dir, mint.revoked[0], oidc.issued[-1]) == []


def test_cargo_token_is_revoked_when_exec_is_terminated(crates, tmp_path):
    mint, index = crates
    started = tmp_path / "started"
    path = fake_tool(tmp_path, "cargo", f'touch {started}\nexec sleep 30\n')
    exe = servers.find_tool("tokens")
    proc = subprocess.Popen([exe, "exec", "--", "cargo", "publish", "--index", index], env={**os.environ, **path},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(600):
            if started.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), proc.communicate(timeout=10)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert len(mint.revoked) == 1 and not mint.live


def test_cargo_refused_exchange_names_the_registry_detail(tokens, crates, tmp_path, oidc):
    mint, index = crates
    oidc.job(repository="octo-org/fork")
    path = fake_tool(tmp_path, "cargo", "echo child-ran\n")
    result = tokens("exec", "--trusted-publishing", "--", "cargo", "publish", "--index", index, env=path)
    assert result.returncode == 3, result
    assert "No Trusted Publishing config found for repository `octo-org/fork`" in result.stderr
    assert "repository=octo-org/fork" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- npm mints by itself ---------------------------------------------------------------------------


def test_npm_publish_in_ci_gets_no_token_and_says_so(tokens, job, tmp_path, data_dir, write_config):
    write_config('[trusted_publishing]\nmode = "prefer"\n')
    (job / "package.json").write_text('{"name": "tp-npm", "version": "1.0.0"}')
    path = fake_tool(tmp_path, "npm", 'echo "node_auth=${NODE_AUTH_TOKEN:-unset} npm_config=${NPM_CONFIG_USERCONFIG:-unset}"\n')
    result = tokens("exec", "--", "npm", "publish", env={**path, "NPM_CONFIG_USERCONFIG": ""})
    assert result.returncode == 0, result
    assert "node_auth=unset npm_config=unset" in result.stdout
    assert "npm (11.5 or later) exchanges this job's OIDC identity itself" in result.stderr
    assert audit(data_dir)[-1]["via"] == "trusted-publishing"


def test_npm_on_gitlab_ci_needs_only_npm_id_token(job, oidc, monkeypatch):
    """TRYOUT14b item 2: npm reads a GitLab job's OIDC token from NPM_ID_TOKEN (npm CLI
    lib/utils/oidc.js); exec checks it is there, never asks the CI under another name."""
    from tokenward import trusted

    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.delenv("NPM_REGISTRY_NPMJS_ORG_ID_TOKEN", raising=False)
    monkeypatch.delenv("NPM_ID_TOKEN", raising=False)
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "npm", ""))
    assert "GitLab CI: NPM_ID_TOKEN is not set" in str(caught.value), caught.value
    jwt = oidc.token_for("npm:registry.npmjs.org")
    monkeypatch.setenv("NPM_ID_TOKEN", jwt)
    minted = trusted.mint(trusted.Decision("only", "npm", ""))
    assert (minted.protocol, minted.value) == ("npm", "")


# -- the hot path and the config -----------------------------------------------------------------


def test_exec_with_a_named_token_imports_no_oidc_code(tokens, job, tp_server, write_config):
    url, _packages, mint = tp_server
    config(write_config, {url: mint.url})
    names = tokens("exec", "--token", "absent", "--", "true", env={"PYTHONPROFILEIMPORTTIME": "1"}).stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in names.splitlines() if line.startswith("import time:")}
    assert "tokenward.cli" in imported or "tokenward.fastpath" in imported
    assert not imported & {"id", "tokenward.trusted", "urllib3"}, sorted(imported & {"id", "tokenward.trusted", "urllib3"})
    write_config("\n")  # no [trusted_publishing] table: not even its parser is loaded
    names = tokens("exec", "--token", "absent", "--", "true", env={"PYTHONPROFILEIMPORTTIME": "1"}).stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in names.splitlines() if line.startswith("import time:")}
    assert "tokenward.fastpath" in imported and "tokenward.config_trusted" not in imported


@pytest.mark.parametrize(
    "text, words",
    [
        ('[trusted_publishing]\nmode = "always"\n', "trusted_publishing.mode must be one of prefer, only, never"),
        ("[trusted_publishing]\nmode = 1\n", "trusted_publishing.mode must be a string"),
        ('[trusted_publishing]\nminting = "x"\n', "trusted_publishing.minting is not a known key"),
        ('[trusted_publishing.index]\n"https://up.example/legacy/" = "http://mint.example"\n', "must be https"),
        ('[trusted_publishing.index]\n"https://up.example/legacy/" = 5\n', "must be a string"),
        ('[trusted_publishing.index]\n"http://up.example/legacy/" = "https://mint.example"\n', "the upload URL must be https"),
        ('[trusted_publishing.index]\n"not a url" = "https://mint.example"\n', "a key is not an http(s) URL"),
        ('[trusted_publishing.index]\n"https://up.example/legacy/" = "https://mint.example/\\u0007"\n', "control characters"),
    ],
)
def test_bad_trusted_publishing_config_is_exit_2(tokens, write_config, text, words):
    write_config(text)
    result = tokens("list")
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result


def test_token_and_trusted_publishing_exclude_each_other(tokens, job):
    result = tokens("exec", "--token", "x", "--trusted-publishing", "--", "true")
    assert result.returncode == 2 and "give one of them" in result.stderr, result


@pytest.mark.parametrize("flags", [("--trusted-publishing", "--no-trusted-publishing"), ("--no-trusted-publishing", "--trusted-publishing")])
def test_both_trusted_publishing_flags_are_a_usage_error(tokens, job, tmp_path, flags):
    """TRYOUT14b item 7: not the last one silently."""
    path = fake_tool(tmp_path, "twine", "echo child-ran\n")
    result = tokens("exec", *flags, "--", "twine", "upload", "dist/*", env=path)
    assert result.returncode == 2 and "contradict each other" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1 and "child-ran" not in result.stdout


# -- which runs mint: only a destination exec itself resolved, and the config maps ----------------

DECISIONS = [
    # (command line, extra env, mode, expected: (protocol, index) / None / "refused")
    ("twine upload dist/*", {}, "prefer", ("pypi", "https://pypi.org")),
    ("twine upload -r testpypi dist/*", {}, "prefer", ("pypi", "https://test.pypi.org")),
    ("twine upload --repository-ur https://test.pypi.org/legacy/ dist/*", {}, "prefer", ("pypi", "https://test.pypi.org")),
    ("twine upload dist/*", {"TWINE_REPOSITORY_URL": "https://pypi.example.com/legacy/"}, "prefer", None),
    ("twine upload dist/*", {"TWINE_REPOSITORY_URL": "https://pypi.example.com/legacy/"}, "only", "refused"),
    ("twine upload --config-file other.pypirc -r x dist/*", {}, "prefer", None),
    ("twine upload --config-file other.pypirc -r x dist/*", {}, "only", "refused"),
    ("uv publish", {}, "prefer", ("pypi", "https://pypi.org")),
    ("uv publish --publish-url https://test.pypi.org/legacy/", {}, "prefer", ("pypi", "https://test.pypi.org")),
    ("poetry publish", {}, "prefer", ("pypi", "https://pypi.org")),
    ("hatch publish", {}, "prefer", ("pypi", "https://pypi.org")),
    ("flit publish", {}, "prefer", ("pypi", "https://pypi.org")),
    ("pdm publish", {}, "prefer", ("pypi", "https://pypi.org")),
    ("cargo publish", {}, "prefer", ("crates", "https://crates.io")),
    ("cargo publish --registry my", {"CARGO_REGISTRIES_MY_INDEX": "https://crates.io/"}, "prefer", None),
    ("npm publish", {}, "prefer", ("npm", "")),
    ("npm publish --registry https://npm.example.com/", {}, "prefer", None),
    ("gh release upload v1 dist/x.whl", {}, "prefer", None),
    ("gh release upload v1 dist/x.whl", {}, "only", "refused"),
    ("twine upload dist/*", {}, "never", None),
    ("twine check dist/*", {}, "prefer", None),
]


@pytest.mark.parametrize("line, env, mode, expected", DECISIONS)
def test_decide_mints_only_for_a_mapped_destination_exec_resolved(ctx, line, env, mode, expected):
    from tests.publisher_helpers import parse
    from tokenward import trusted
    from tokenward.config_trusted import TrustedPublishingConfig
    from tokenward.errors import UsageError

    (ctx.cwd / "Cargo.toml").write_text('[package]\nname = "c"\n')
    (ctx.cwd / "package.json").write_text('{"name": "p", "version": "1.0.0"}')
    target = parse(line, ctx, **env)
    settings = TrustedPublishingConfig(mode=mode)
    if expected == "refused":
        with pytest.raises(UsageError, match="trusted publishing is required"):
            trusted.decide(settings, None, target, named=False)
        return
    decision = trusted.decide(settings, None, target, named=False)
    assert (decision and (decision.protocol, decision.index)) == (expected or None)


def test_decide_named_token_never_mints_and_a_default_can_be_turned_off(ctx):
    from tests.publisher_helpers import parse
    from tokenward import trusted
    from tokenward.config_trusted import DEFAULT_MINTING_INDEX, TrustedPublishingConfig
    from tokenward.errors import UsageError

    target = parse("twine upload dist/*", ctx)
    assert trusted.decide(TrustedPublishingConfig(mode="only"), None, target, named=True) is None
    with pytest.raises(UsageError, match="give one of them"):
        trusted.decide(TrustedPublishingConfig(), "only", target, named=True)
    off = TrustedPublishingConfig(index={**DEFAULT_MINTING_INDEX, "https://upload.pypi.org/legacy": ""})
    assert trusted.decide(off, None, target, named=False) is None
    assert trusted.decide(TrustedPublishingConfig(), "never", target, named=False) is None


# -- the hostile try-out of issue 14 (TRYOUT14.md items 1, 2, 4, 5, 8, 9, 10) -----------------------


def test_the_audience_is_the_configs_or_the_default_indexs_never_the_index_word(job, tp_server, oidc, monkeypatch):
    """Item 1: pypi.org expects `pypi`, test.pypi.org `testpypi`; another index must name its
    audience in the config, and an index announcing anything else gets no identity token."""
    from tests.publisher_helpers import parse
    from tokenward import trusted
    from tokenward.config_trusted import TrustedPublishingConfig
    from tokenward.publishers import Context

    settings, ctx = TrustedPublishingConfig(), Context({}, job, job)
    assert trusted.decide(settings, None, parse("twine upload dist/*", ctx), named=False).audience == "pypi"
    assert trusted.decide(settings, None, parse("twine upload -r testpypi dist/*", ctx), named=False).audience == "testpypi"
    _url, _packages, mint = tp_server
    issued = len(oidc.issued)
    with pytest.raises(trusted.TrustedPublishingFailed, match="names no audience"):
        trusted.mint(trusted.Decision("only", "pypi", mint.url))
    monkeypatch.setattr(mint, "audience", "sts.amazonaws.com")  # another service's audience
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "pypi", mint.url, "pypi-standin"))
    assert "another audience than the config's 'pypi-standin'" in str(caught.value)
    assert "sts.amazonaws.com" not in str(caught.value)  # TRYOUT14b item 1: never an audience to copy
    assert len(oidc.issued) == issued  # no identity token was asked for


def test_a_custom_index_without_an_audience_is_one_line_at_exec(tokens, job, tp_server, oidc, write_config):
    url, _packages, mint = tp_server
    config(write_config, {url: mint.url}, mode="only", audience="")
    issued = len(oidc.issued)
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/x.whl")
    assert result.returncode == 3 and "names no audience" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1 and len(oidc.issued) == issued


@pytest.mark.parametrize("signum", [signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM])
def test_every_fatal_signal_to_exec_ends_the_child_and_revokes(crates, tmp_path, signum):
    """Item 2: not only TERM/INT/HUP: the child is not left running with a live token."""
    mint, index = crates
    started = tmp_path / "started"
    path = fake_tool(tmp_path, "cargo", f'echo $$ > {started}.tmp && mv {started}.tmp {started}\nexec sleep 30\n')
    proc = subprocess.Popen([servers.find_tool("tokens"), "exec", "--", "cargo", "publish", "--index", index],
                            env={**os.environ, **path}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(600):
            if started.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), proc.communicate(timeout=10)
        child = int(started.read_text())
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert not Path(f"/proc/{child}").exists(), "the child is still running"
    assert len(mint.revoked) == 1 and not mint.live


@pytest.mark.parametrize(
    "entry, words",
    [
        ('"https://bob:s3cretpw@up.example/legacy/" = "https://mint.example"', "must not carry a user name or password"),
        ('"https://up.example/legacy/" = "http://bob:s3cretpw@127.0.0.1:9"', "must not carry a user name or password"),
        ('"https://up.example/legacy/" = { index = "https://bob@mint.example", audience = "pypi" }', "must not carry a user name"),
        ('"https://upload.pypi.org/legacy/" = "https://pypi.org"\n"https://UPLOAD.pypi.org/legacy" = "https://x.example"',
         "names the same upload URL as 'https://upload.pypi.org/legacy/'"),
        ('"https://up.example/legacy/" = "https://pypi.org"', "https://pypi.org mints tokens that upload to https://upload.pypi.org/legacy/ only"),
        ('"https://up.example/legacy/" = "https://TEST.pypi.org/"', "mints tokens that upload to https://test.pypi.org/legacy/ only"),
        ('"https://up.example/legacy/" = { index = "https://mint.example", audience = 5 }', "audience must be a string"),
        ('"https://up.example/legacy/" = { index = "https://mint.example", aud = "pypi" }', "aud is not a known key"),
        # TRYOUT14b item 1: pypi.org's / test.pypi.org's audience and upload URLs stay theirs
        ('"https://up.example/legacy/" = { index = "https://mint.example", audience = "pypi" }',
         "'pypi' is https://pypi.org's own audience, never sent to another index"),
        ('"http://127.0.0.1:9/legacy/" = { index = "http://127.0.0.1:9", audience = "testpypi" }',
         "'testpypi' is https://test.pypi.org's own audience"),
        ('"https://upload.pypi.org/legacy/" = { index = "https://mint.example", audience = "pypi" }', "own audience"),
        ('"https://upload.pypi.org/legacy/" = { index = "https://mint.example", audience = "other" }',
         "https://upload.pypi.org/legacy/ takes tokens minted by https://pypi.org only"),
        ('"https://test.pypi.org/legacy" = "https://mint.example"', "takes tokens minted by https://test.pypi.org only"),
    ],
)
def test_hostile_minting_index_entries_are_refused_at_load(tokens, write_config, entry, words):
    """Items 4 and 9: credentials in a minting URL; one upload URL twice after normalising;
    an upload URL of its own mapped to pypi.org's minting."""
    write_config(f"[trusted_publishing.index]\n{entry}\n")
    result = tokens("list")
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result
    assert "s3cretpw" not in result.stderr


def test_the_ci_request_token_and_any_jwt_are_masked_in_every_line(job, oidc, monkeypatch):
    """Item 5: a provider that echoes the bearer (and a JWT) in its error body."""
    from tokenward import trusted

    jwt = oidc.token_for("pypi")
    monkeypatch.setattr(oidc, "handle", lambda *a: (403, {"message": f"denied for bearer {oidc.request_token} {jwt}"}))
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "npm", ""))
    message = str(caught.value)
    assert "403" in message and oidc.request_token not in message and jwt not in message and "denied" not in message, message
    assert jwt not in trusted.clean(f"index said: {jwt}", 2000)


def MACAROON() -> str:
    import pypitoken

    return pypitoken.Token.create(domain="pypi.org", identifier="tp", key="k" * 32).dump()


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda jwt: (200, {"success": True, "token": "e"}), "not a pypi-... token"),
        (lambda jwt: (200, {"success": True, "token": "pypi-" + "A" * 60}), "not a PyPI macaroon"),
        (lambda jwt: (200, {"success": True, "token": MACAROON(), "expires": int(time.time()) - 100000}), "already expired"),
        (lambda jwt: (200, {"success": True, "token": MACAROON(), "expires": 10**40}), "more than 6 hours"),
        (lambda jwt: (200, {"success": True, "token": MACAROON(), "expires": "soon"}), "not a number"),
        (lambda jwt: (200, {"success": True}), "no token in it"),
    ],
)
def test_a_minted_token_is_checked_before_use(job, tp_server, oidc, monkeypatch, answer, words):
    """Item 8: a 200 with a token that is not as PyPI documents it is not used."""
    from tokenward import trusted

    _url, _packages, mint = tp_server
    monkeypatch.setattr(mint, "hostile", answer)
    with pytest.raises(trusted.TrustedPublishingFailed) as caught:
        trusted.mint(trusted.Decision("only", "pypi", mint.url, mint.audience))
    assert "answer is not as documented" in str(caught.value) and words in str(caught.value), caught.value




def test_a_crates_token_of_the_wrong_shape_is_not_used(crates, monkeypatch):
    from tokenward import trusted

    mint, _index = crates
    monkeypatch.setattr(mint, "handle", lambda *a: (200, {"token": "e"}))
    with pytest.raises(trusted.TrustedPublishingFailed, match="not a cio... token"):
        trusted.mint(trusted.Decision("only", "crates", mint.url, mint.audience))


def test_prefer_with_a_failed_exchange_and_no_stored_token_is_one_error_line(tokens, job, tp_server, oidc, write_config, data_dir):
    """Item 9: never "using a stored token instead" followed by "no token fits"."""
    url, _packages, mint = tp_server
    config(write_config, {url: mint.url})
    oidc.job(repository="octo-org/fork")
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/x.whl")
    assert result.returncode != 0 and "using a stored token instead" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: trusted publishing:") and "invalid-publisher" in lines[0], lines
    assert "and no stored token can be used instead" in lines[0]


def test_gitlab_without_id_token_asks_nothing_and_ambiguous_stored_tokens_are_said_so(tokens, job, tp_server, write_config, data_dir, monkeypatch):
    """TRYOUT14b item 4: no audience request when the job has no `<AUD>_ID_TOKEN`, and two
    stored tokens that fit equally are not "no stored token"."""
    from datetime import datetime, timezone

    from tokenward.inventory import Inventory, TokenRecord

    url, _packages, mint = tp_server
    config(write_config, {url: mint.url})
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GITLAB_CI", "true")
    asked: list[str] = []
    answer = mint.handle
    monkeypatch.setattr(mint, "handle", lambda method, path, *rest: asked.append(path) or answer(method, path, *rest))
    now = datetime.now(timezone.utc)
    with Inventory.open(data_dir) as inventory:
        for name in ("wide-a", "wide-b"):
            inventory.insert(TokenRecord(name=name, kind="pypi", created_at=now, rotated_at=now, stores=("keyring",),
                                         fingerprint="0" * 16, repository=url))  # fmt: skip
    result = tokens("exec", "--", "twine", "upload", "--repository-url", url, "dist/x.whl")
    assert asked == [], result  # not even the audience was asked for
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result
    assert "GitLab CI: PYPI_STANDIN_ID_TOKEN is not set" in lines[0] and "2 tokens fit" in lines[0], lines
    assert "no stored token either" not in lines[0]


def test_history_shows_the_runs_with_a_minted_token(tokens, job, tmp_path, data_dir, write_config):
    """Item 9: `tokens history '(trusted-publishing)'`."""
    write_config('[trusted_publishing]\nmode = "prefer"\n')
    (job / "package.json").write_text('{"name": "tp-npm", "version": "1.0.0"}')
    path = fake_tool(tmp_path, "npm", "true\n")
    assert tokens("exec", "--", "npm", "publish", env={**path, "NPM_CONFIG_USERCONFIG": ""}).returncode == 0
    result = tokens("history", "(trusted-publishing)", "--json")
    assert result.returncode == 0, result
    assert [e["via"] for e in json.loads(result.stdout)] == ["trusted-publishing"]


@pytest.mark.parametrize("where", ["project", "cargo_home", "env"])
def test_a_replaced_crates_io_gets_no_crates_token(tokens, job, tmp_path, where):
    """Item 10: cargo before RFC 3289 sent the crates-io token to a replacing source's API;
    with `[source.crates-io] replace-with` anywhere, exec neither mints nor hands a stored one."""
    replace = '[source.crates-io]\nreplace-with = "evil"\n[source.evil]\nregistry = "sparse+http://127.0.0.1:9/"\n'
    env = {"CARGO_HOME": str(tmp_path / "cargo-home")}
    if where == "env":
        env["CARGO_SOURCE_CRATES_IO_REPLACE_WITH"] = "evil"
    else:
        base = job.parent if where == "project" else tmp_path / "cargo-home"
        (base / ".cargo" if where == "project" else base).mkdir(parents=True, exist_ok=True)
        (base / ".cargo" / "config.toml" if where == "project" else base / "config.toml").write_text(replace)
    (job / "Cargo.toml").write_text('[package]\nname = "tp-crate"\nversion = "1.0.0"\n')
    path = fake_tool(tmp_path, "cargo", 'echo "token=${CARGO_REGISTRY_TOKEN:-unset}"\n')
    for args in (["--trusted-publishing"], ["--token", "crates-x"]):
        result = tokens("exec", *args, "--", "cargo", "publish", env={**path, **env})
        assert result.returncode == 2 and "crates-io is replaced with the source 'evil'" in result.stderr, result
        assert "token=" not in result.stdout and len(result.stderr.strip().splitlines()) == 1
