"""npm: the registry from --registry, npm_config_registry and publishConfig; the token
reaches that registry only, through a temporary userconfig naming ${NODE_AUTH_TOKEN}."""

from __future__ import annotations

import json
import tarfile

import pytest

from tests.publisher_helpers import ctx, harness, parse, recording_servers, refused  # noqa: F401 - fixtures
from tokenward.publishers import PUBLISHERS, tool_env
from tokenward.publishers.npm import userconfig


def test_registry_sources(ctx):
    (ctx.cwd / "package.json").write_text(json.dumps({"name": "@scope/pkg", "publishConfig": {"registry": "https://npm.example.com/"}}))
    t = parse("npm publish", ctx)
    assert (t.tool, t.repository, t.projects, t.source) == ("npm", "https://npm.example.com/", ("@scope/pkg",), "registry in publishConfig")
    assert parse("npm publish --registry https://registry.npmjs.org/", ctx).repository == "https://registry.npmjs.org/"
    assert parse("npm publish", ctx, npm_config_registry="https://env.example/").repository == "https://npm.example.com/"  # publishConfig beats variables
    tarball = ctx.cwd / "pkg-1.0.0.tgz"
    inner = ctx.cwd / "package"
    inner.mkdir()
    (inner / "package.json").write_text(json.dumps({"name": "tarred"}))
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(inner, arcname="package")
    assert parse(f"npm publish {tarball.name}", ctx).projects == ("tarred",)
    assert tool_env(t, "v") == {"NODE_AUTH_TOKEN": "v"}


def test_userconfig_names_the_variable_not_the_value():
    text = userconfig("https://registry.npmjs.org/", "color=false\n//registry.npmjs.org/:_authToken=OLD\n")
    assert "//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}" in text
    assert "OLD" not in text and "color=false" in text


def test_prepare_writes_and_removes_the_userconfig(ctx, tmp_path):
    target = parse("npm publish --registry https://npm.example.com/", ctx)
    env = {"NODE_AUTH_TOKEN": "v", "HOME": str(tmp_path)}
    with PUBLISHERS["npm"].prepare(target, env):
        path = env["NPM_CONFIG_USERCONFIG"]
        assert open(path).read().strip() == "//npm.example.com/:_authToken=${NODE_AUTH_TOKEN}"
    assert not (tmp_path / path).exists()


def test_npmrc_layers_and_scopes(ctx, tmp_path):
    (ctx.cwd / "package.json").write_text(json.dumps({"name": "@s/pkg", "version": "1.0.0"}))
    user = ctx.home / ".npmrc"
    user.write_text("registry=https://user.example/\n")
    assert parse("npm publish", ctx).repository == "https://user.example/"
    (ctx.cwd / ".npmrc").write_text("registry = https://project.example/\n")
    t = parse("npm publish", ctx)
    assert t.repository == "https://project.example/" and t.source == f"registry in {ctx.cwd / '.npmrc'}"
    assert parse("npm publish", ctx, NPM_CONFIG_REGISTRY="https://env.example/").repository == "https://env.example/"
    user.write_text("@s:registry=${SCOPED}\n")
    assert parse("npm publish", ctx, SCOPED="https://scoped.example/").repository == "https://scoped.example/"
    assert parse("npm publish --registry https://cli.example/", ctx, SCOPED="https://scoped.example/").repository == "https://scoped.example/"
    assert parse("npm publish --@s:registry=https://cli.example/", ctx, SCOPED="x").repository == "https://cli.example/"
    other = tmp_path / "other.npmrc"
    other.write_text("@s:registry=https://other.example/\n")
    assert parse(f"npm publish --userconfig {other}", ctx).repository == "https://other.example/"


def test_refusals(ctx):
    (ctx.cwd / "package.json").write_text(json.dumps({"name": "pkg", "version": "1.0.0"}))
    assert refused(parse("npm publish --reg https://x.example/", ctx), "--reg")  # npm reads it as --registry
    (ctx.cwd / ".npmrc").write_text("registry=${NOT_SET}\n")
    assert refused(parse("npm publish", ctx), "NOT_SET")


# -- the real npm, through tokens exec, against recording servers ----------------------------

# (source, files to write, argv after `npm publish`, extra environment); "{A}"/"{B}" are the
# servers' root URLs, the registries.
SOURCES = [
    ("--registry", {}, ["--registry", "{A}"], {}),
    ("--registry=", {}, ["--registry={A}"], {}),
    ("npm_config_registry", {}, [], {"npm_config_registry": "{A}"}),
    ("NPM_CONFIG_REGISTRY", {}, [], {"NPM_CONFIG_REGISTRY": "{A}"}),
    ("project .npmrc", {".npmrc": "registry={A}\n"}, [], {}),
    ("user .npmrc", {"~/.npmrc": "registry={A}\n"}, [], {}),
    ("project beats user", {".npmrc": "registry={A}\n", "~/.npmrc": "registry={B}\n"}, [], {}),
    ("${VAR} in .npmrc", {".npmrc": "registry=${MY_REGISTRY}\n"}, [], {"MY_REGISTRY": "{A}"}),
    ("publishConfig", {"publishConfig": "{A}"}, [], {}),
    ("publishConfig beats variables", {"publishConfig": "{A}"}, [], {"npm_config_registry": "{B}"}),
    ("--registry beats publishConfig", {"publishConfig": "{B}"}, ["--registry", "{A}"], {}),
    ("@scope:registry beats registry", {"scoped": "", ".npmrc": "registry={B}\n@s:registry={A}\n"}, [], {}),
]  # fmt: skip


def npm() -> str:
    import shutil

    from tests import servers

    path = shutil.which("npm")
    if path is None:
        servers.unavailable("npm is not installed")
    return path


@pytest.mark.parametrize("source, files, argv, env", SOURCES, ids=[s[0] for s in SOURCES])
def test_real_npm_sends_the_token_only_where_exec_resolved(harness, source, files, argv, env):
    a_root, b_root = harness.a.url, harness.b.url

    def sub(text: str) -> str:
        return text.replace("{A}", a_root).replace("{B}", b_root)

    for name, value in (("npm-a", "npm-right-SECRET-0123456789"), ("npm-b", "npm-wrong-SECRET-9876543210")):
        registry = a_root if name == "npm-a" else b_root
        assert harness.tokens("add", name, "--kind", "npm", "--repository", registry, input=value, env=harness.env).returncode == 0
    manifest = {"name": "@s/p1" if "scoped" in files else "p1", "version": "1.0.0"}
    if "publishConfig" in files:
        manifest["publishConfig"] = {"registry": sub(files["publishConfig"])}
    (harness.work / "package.json").write_text(json.dumps(manifest))
    for relative, text in files.items():
        if relative.startswith((".", "~")):
            harness.write(relative, sub(text))
    env = {k: sub(v) for k, v in env.items()} | {"npm_config_cache": str(harness.home / "npm-cache"), "npm_config_update_notifier": "false"}
    result = harness.run(npm(), "publish", *[sub(a) for a in argv], env=env)
    assert result.returncode == 0, result
    assert [r.method for r in harness.a.uploads()] == ["PUT"], harness.received()
    assert set(harness.a.secrets()) == {"Bearer npm-right-SECRET-0123456789"}, harness.received()
    assert harness.b.secrets() == [], harness.received()
    entry = harness.last_exec()
    assert entry["token"] == "npm-a" and entry["repository"] == a_root


def test_real_npm_abbreviation_is_refused(harness):
    """npm reads --reg as --registry: exec must not take the default registry's token for it."""
    assert harness.tokens("add", "npm-default", "--kind", "npm", input="npm_" + "D" * 36, env=harness.env).returncode == 0
    (harness.work / "package.json").write_text(json.dumps({"name": "p1", "version": "1.0.0"}))
    result = harness.run(npm(), "publish", "--reg", harness.a.url, env={"npm_config_cache": str(harness.home / "npm-cache")})
    assert result.returncode == 2 and "--reg" in result.stderr and "--token" in result.stderr, result
    assert harness.a.requests == [] and harness.b.requests == []
