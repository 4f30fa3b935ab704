"""npm: the registry from --registry, npm_config_registry and publishConfig; the token
reaches that registry only, through a temporary userconfig naming ${NODE_AUTH_TOKEN}."""

from __future__ import annotations

import json
import tarfile

from tests.publisher_helpers import ctx, parse  # noqa: F401 - fixture
from tokenward.publishers import PUBLISHERS, tool_env
from tokenward.publishers.npm import userconfig


def test_registry_sources(ctx):
    (ctx.cwd / "package.json").write_text(json.dumps({"name": "@scope/pkg", "publishConfig": {"registry": "https://npm.example.com/"}}))
    t = parse("npm publish", ctx)
    assert (t.tool, t.repository, t.projects, t.source) == ("npm", "https://npm.example.com/", ("@scope/pkg",), "publishConfig.registry")
    assert parse("npm publish --registry https://registry.npmjs.org/", ctx).repository == "https://registry.npmjs.org/"
    assert parse("npm publish", ctx, npm_config_registry="https://env.example/").repository == "https://env.example/"
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
