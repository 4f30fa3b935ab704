"""gh: the host from --hostname, GH_HOST or -R HOST/OWNER/REPO; GH_TOKEN for github.com,
GH_ENTERPRISE_TOKEN for any other host."""

from __future__ import annotations

from tests.publisher_helpers import ctx, parse  # noqa: F401 - fixture
from tokenward.publishers import tool_env


def test_gh(ctx):
    t = parse("gh release upload v1 dist/x.tar.gz -R Owner/Repo", ctx)
    assert (t.tool, t.repository, t.projects) == ("gh", "https://github.com/", ("owner/repo",))
    assert tool_env(t, "v") == {"GH_TOKEN": "v"}
    ghe = parse("gh release list", ctx, GH_HOST="ghe.example.com")
    assert ghe.repository == "https://ghe.example.com/" and ghe.source == "GH_HOST"
    assert tool_env(ghe, "v") == {"GH_ENTERPRISE_TOKEN": "v"}
    assert parse("gh release list -R ghe.example.com/o/r", ctx).repository == "https://ghe.example.com/"
