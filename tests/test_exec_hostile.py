"""A hostile try-out of `tokens exec`: config files the tools read but tomllib or a naive
reader does not, relative directories with `..`, plain http to PyPI, env templates that move
the destination, and the first-upload hint. Each case runs the real tool (uv, twine from
.venv) against recording servers on 127.0.0.1 (tests/recording_server.py)."""

from __future__ import annotations

import os

import pytest

from tests.fixtures_pypiserver import write_wheel
from tests.publisher_helpers import RIGHT, harness, recording_servers  # noqa: F401 - fixtures
from tests.test_publisher_twine import twine
from tests.test_publisher_uv import PYPROJECT, uv

# -- item 1: a config file exec cannot read is refused, never skipped ----------------------

# Each is valid for uv (TOML 1.1, or a BOM) but refused by Python's tomllib.
TOML_ONLY_UV_READS = {
    "escape \\e": '[tool.other]\nesc = "\\e"\n',
    "escape \\x41": '[tool.other]\nt = "\\x41"\n',
    "time without seconds": "[tool.other]\nt = 07:32\n",
    "multi-line inline table": "[tool.other]\nt = {\n  a = 1,\n}\n",
}


@pytest.mark.parametrize("extra", TOML_ONLY_UV_READS.values(), ids=TOML_ONLY_UV_READS.keys())
def test_uv_pyproject_tomllib_refuses_is_refused_not_skipped(harness, extra):
    """Before: exec skipped the file, chose the PyPI token, and uv published it to {B}."""
    harness.write("pyproject.toml", PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n' + extra)
    harness.assert_refused(harness.run(uv(), "publish"), "pyproject.toml")
    assert not harness.b.received(harness.pypi_value)


def test_uv_pyproject_with_bom_is_refused(harness):
    path = harness.work / "pyproject.toml"
    path.write_bytes(b"\xef\xbb\xbf" + harness.sub(PYPROJECT + '[tool.uv]\npublish-url = "{B}"\n').encode())
    harness.assert_refused(harness.run(uv(), "publish"), "pyproject.toml")


def test_npm_config_with_bom_and_unreadable_package_json_are_refused(tmp_path):
    from tokenward.publishers import Context, parse_command

    work = tmp_path / "w"
    work.mkdir()
    (work / "package.json").write_text('\ufeff{"name": "p", "publishConfig": {"registry": "https://evil.example/"}}')
    ctx = Context(env={"PATH": ""}, cwd=work, home=tmp_path)
    assert parse_command(["npm", "publish"], ctx).repository == "https://evil.example/"  # npm strips the BOM
    (work / "package.json").write_text('{"name": "p", "publishConfig": {"registry": "https://evil.example/"},}')
    assert parse_command(["npm", "publish"], ctx).repository is None
    (work / "package.json").write_text('{"name": "p"}')
    (work / ".npmrc").write_text("\ufeffregistry=https://evil.example/\n")
    target = parse_command(["npm", "publish"], ctx)
    assert target.repository is None and ".npmrc" in target.problem


# -- item 2: relative directories with `..` are resolved before searching upwards ----------


def test_uv_directory_with_dotdot_reads_the_config_uv_reads(harness):
    """`--directory ../deep/d/../../other`: uv searches other, its parents, then the user's
    config ({A}); before, exec walked the text's parents and found deep/uv.toml ({B})."""
    top = harness.work.parent
    (top / "deep" / "d").mkdir(parents=True)
    (top / "deep" / "uv.toml").write_text(harness.sub('publish-url = "{B}"\n'))
    (top / "other" / "dist").mkdir(parents=True)
    write_wheel(top / "other" / "dist", "tw-right", "1.0")
    harness.write("~/.config/uv/uv.toml", 'publish-url = "{A}"\n')
    harness.assert_only_a_got_its_token(harness.run(uv(), "--directory", "../deep/d/../../other", "publish"))


@pytest.mark.parametrize("how", ["--project", "UV_PROJECT", "UV_WORKING_DIR"])
def test_uv_project_with_dotdot(harness, how):
    top = harness.work.parent
    (top / "deep" / "d").mkdir(parents=True)
    (top / "deep" / "uv.toml").write_text(harness.sub('publish-url = "{B}"\n'))
    (top / "other").mkdir()
    harness.write("~/.config/uv/uv.toml", 'publish-url = "{A}"\n')
    relative = "../deep/d/../../other"
    if how == "--project":
        result = harness.run(uv(), "publish", "--project", relative, str(harness.work / "dist" / "*"))
    else:
        result = harness.run(uv(), "publish", str(harness.work / "dist" / "*"), env={how: relative})
    harness.assert_only_a_got_its_token(result)


def test_other_tools_resolve_dotdot(tmp_path):
    """`../deep/d/../../other` is tmp/other; its text's parents include tmp/deep, where the
    wrong settings are. The tools never look there."""
    from tokenward.publishers import Context, parse_command

    work, deep, other = tmp_path / "work", tmp_path / "deep" / "d", tmp_path / "other"
    for d in (work, deep, other):
        d.mkdir(parents=True)
    relative = "../deep/d/../../other"
    (tmp_path / "deep" / "package.json").write_text('{"name": "wrong"}')
    (tmp_path / "deep" / ".npmrc").write_text("registry=https://wrong.example/\n")
    ctx = Context(env={"PATH": ""}, cwd=work, home=tmp_path / "home")
    assert parse_command(["npm", "publish", "--prefix", relative], ctx).repository == "https://registry.npmjs.org/"
    (tmp_path / "deep" / "pyproject.toml").write_text('[project]\nname = "wrong"\n')
    for argv in (["poetry", "-C", relative, "publish"], ["poetry", "publish", "--project", relative], ["pdm", "-p", relative, "publish"]):
        assert parse_command(argv, ctx).projects == (), argv


# -- item 3: a .pypirc is read as the Python tools read it (universal newlines) -------------


def test_twine_pypirc_with_lone_cr(harness):
    """`[pypi]\\rrepository = {A}`: twine reads two lines; before, exec read one, thought
    PyPI and handed the PyPI token to {A}."""
    (harness.home / ".pypirc").write_text(harness.sub("[distutils]\nindex-servers = pypi\n[pypi]\rrepository = {A}\n"), newline="")
    harness.assert_only_a_got_its_token(harness.run(twine(), "upload", "dist/*"))


def test_twine_pypirc_with_bom_is_refused(harness):
    (harness.home / ".pypirc").write_bytes(b"\xef\xbb\xbf" + harness.sub("[pypi]\nrepository = {A}\n").encode())
    harness.assert_refused(harness.run(twine(), "upload", "dist/*"), ".pypirc")


# -- item 4: a token never crosses plain http unless its own repository says http:// --------


@pytest.mark.parametrize("token", [None, "pypi-main"])
def test_uv_plain_http_to_pypi_is_refused(harness, token):
    """uv keeps http:// (twine upgrades PyPI hosts to https). {B} stands in as the user's
    HTTP proxy, so what uv would put on the wire to upload.pypi.org is recorded on 127.0.0.1:
    before, exec chose the PyPI token and uv sent it there in clear text."""
    proxy = {"HTTP_PROXY": harness.b.url, "http_proxy": harness.b.url, "ALL_PROXY": harness.b.url, "NO_PROXY": ""}
    result = harness.run(uv(), "publish", "--publish-url", "http://upload.pypi.org/legacy/", env=proxy, token=token)
    assert harness.b.secrets() == [], harness.received()  # (a narrowed copy before)
    harness.assert_refused(result, "http://upload.pypi.org/legacy/", *(["plain http"] if token else ["no token fits"]))


def test_twine_upgrades_pypi_hosts_as_twine_does(harness):
    """twine itself sends http://upload.pypi.org to https (its exact host list); exec agrees."""
    from tokenward.publishers import Context, parse_command

    ctx = Context(env={}, cwd=harness.work, home=harness.home)
    assert parse_command(["twine", "upload", "--repository-url", "http://upload.pypi.org/legacy/", "dist/*"], ctx).repository == "https://upload.pypi.org/legacy/"
    assert parse_command(["uv", "publish", "--publish-url", "http://upload.pypi.org/legacy/"], ctx).repository == "http://upload.pypi.org/legacy/"
    # twine compares the host exactly: another spelling stays http
    assert parse_command(["twine", "upload", "--repository-url", "http://UPLOAD.pypi.org/legacy/", "dist/*"], ctx).repository == "http://UPLOAD.pypi.org/legacy/"


def in_work(harness, *args: str):
    """`tokens ARGS` run in the project directory (harness.run takes no exec options)."""
    old = os.getcwd()
    os.chdir(harness.work)
    try:
        return harness.tokens(*args, env=harness.env)
    finally:
        os.chdir(old)


# -- item 5: env templates that move the destination ------------------------------------------

MOVING = ["UV_PUBLISH_URL={B}", "TWINE_REPOSITORY_URL={B}", "HTTPS_PROXY={B}", "http_proxy={B}", "ALL_PROXY={B}",
          "SSL_CERT_FILE=/tmp/ca.pem", "REQUESTS_CA_BUNDLE=/tmp/ca.pem", "HATCH_INDEX_CA_CERT=/x", "UV_INDEX_URL={B}",
          "POETRY_REPOSITORIES_X_URL={B}", "HATCH_INDEX_REPO={B}", "PDM_PUBLISH_REPO={B}", "FLIT_INDEX_URL={B}",
          "NPM_CONFIG_REGISTRY={B}", "npm_config_registry={B}", "CARGO_REGISTRIES_X_INDEX={B}", "TWINE_REPOSITORY=x"]  # fmt: skip


@pytest.mark.parametrize("template", MOVING)
def test_add_refuses_destination_changing_templates_even_with_allow_env(harness, template):
    var = template.partition("=")[0]
    for allow in ([], ["--allow-env", var]):
        result = harness.tokens("add", "moved", "--kind", "pypi", *allow, "--env", harness.sub(template), "--env", "UV_PUBLISH_TOKEN={value}",
                                input=harness.pypi_value, env=harness.env)  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and var in lines[0] and "where the token is sent" in lines[0], result
    assert "moved" not in harness.tokens("list", env=harness.env).stdout


def test_credential_templates_stay_allowed(harness):
    for template in ("UV_PUBLISH_TOKEN={value}", "POETRY_PYPI_TOKEN_PYPI={value}", "CARGO_REGISTRIES_X_TOKEN={value}", "TWINE_PASSWORD={value}"):
        result = harness.tokens("add", "ok-" + template[:5].lower().replace("_", "-"), "--kind", "pypi", "--env", template, input=harness.pypi_value, env=harness.env)
        assert result.returncode == 0, result


def test_exec_refuses_a_stored_template_that_moves_the_destination(harness):
    """An inventory (or a shared store's) record that already carries UV_PUBLISH_URL: before,
    exec said PyPI and uv published the PyPI token to {B}."""
    import sqlite3

    db = sqlite3.connect(harness.data_dir / "inventory.sqlite3")
    db.execute("UPDATE tokens SET env = ? WHERE name = 'pypi-main'", (harness.sub('{"UV_PUBLISH_TOKEN": "{value}", "UV_PUBLISH_URL": "{B}"}'),))
    db.commit()
    db.close()
    for allow in ([], ["--allow-env", "UV_PUBLISH_URL"]):
        result = in_work(harness, "exec", *allow, "--", uv(), "publish")
        assert result.returncode == 2 and "UV_PUBLISH_URL" in result.stderr, result
    assert harness.b.requests == []


def test_exec_resolves_again_with_an_allowed_home(harness, tmp_path):
    """HOME may be allowed (it runs code: a shell's rc files), but the .pypirc it brings moves
    twine's destination: exec resolves again from the final environment and refuses."""
    other = tmp_path / "other-home"
    other.mkdir()
    (other / ".pypirc").write_text(harness.sub("[pypi]\nrepository = {B}\n"))
    result = harness.tokens("add", "homed", "--kind", "pypi", "--allow-env", "HOME", "--env", f"HOME={other}", "--env", "TWINE_PASSWORD={value}",
                            "--env", "TWINE_USERNAME=__token__", input=harness.pypi_value, env=harness.env)  # fmt: skip
    assert result.returncode == 0, result
    result = in_work(harness, "exec", "--allow-env", "HOME", "--token", "homed", "--", twine(), "upload", "dist/*")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "changes where `twine upload` uploads" in lines[0], result
    assert harness.b.requests == []


# -- item 6: the first-upload hint only when the registry refused the token ----------------------


def test_no_first_upload_hint_after_a_network_failure(harness):
    """uv to PyPI (narrowed) through an HTTPS proxy on a closed 127.0.0.1 port: `client error
    (Connect)`, nothing to do with the narrowing, so no --no-narrow hint (before: always)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    proxy = {"HTTPS_PROXY": closed, "https_proxy": closed, "ALL_PROXY": closed, "NO_PROXY": "", "UV_HTTP_RETRIES": "0"}
    result = harness.run(uv(), "publish", env=proxy)
    assert result.returncode != 0 and "narrowed to tw-right" in result.stderr, result
    assert "--no-narrow" not in result.stderr, result


@pytest.mark.parametrize("says, hint", [("403 Invalid or non-existent authentication information.", True),
                                        ("error: Failed to publish: client error (Connect)", False)])  # fmt: skip
def test_first_upload_hint_when_the_registry_refuses(harness, tmp_path, says, hint):
    fake = tmp_path / "bin" / "twine"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho 'Uploading...'\necho '{says}' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = in_work(harness, "exec", "--", str(fake), "upload", "dist/*")
    assert result.returncode == 1 and "narrowed to tw-right" in result.stderr, result
    assert ("--no-narrow" in result.stderr) is hint, result


def test_edit_and_import_refuse_destination_changing_templates(harness, tmp_path):
    import json

    edited = harness.tokens("edit", "pypi-main", "--allow-env", "UV_PUBLISH_URL", "--env", harness.sub("UV_PUBLISH_URL={B}"),
                            "--env", "UV_PUBLISH_TOKEN={value}", env=harness.env)  # fmt: skip
    assert edited.returncode == 2 and "UV_PUBLISH_URL" in edited.stderr and "where the token is sent" in edited.stderr, edited
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({"name": "imp", "value": "x" * 40, "env": {"HTTPS_PROXY": harness.b.url, "TOKEN": "{value}"}}) + "\n")
    imported = harness.tokens("import", str(path), env=harness.env)
    assert imported.returncode == 2 and "HTTPS_PROXY" in imported.stderr, imported
    listed = harness.tokens("list", env=harness.env).stdout
    assert "imp" not in listed.split() and harness.tokens("show", "pypi-main", env=harness.env).stdout.count("UV_PUBLISH_URL") == 0
