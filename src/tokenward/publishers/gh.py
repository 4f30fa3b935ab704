"""gh (pflag): gh keys tokens by host: `GH_TOKEN` reaches github.com only,
`GH_ENTERPRISE_TOKEN` the enterprise host (`--hostname`, `GH_HOST`, `-R HOST/OWNER/REPO`)."""

from __future__ import annotations

from tokenward.publishers._argv import scan, split_subcommand
from tokenward.publishers.base import BasePublisher, Context, Target


class Gh(BasePublisher):
    name = "gh"

    def parse(self, args: list[str], ctx: Context) -> Target:
        sub, rest, _ = split_subcommand(args, {"--repo", "--hostname"}, {"-R": "--repo"})
        parsed = scan(rest, {"--repo", "--hostname"}, {"-R": "--repo"})
        host, source = "github.com", "default"
        if parsed.last("--hostname"):
            host, source = str(parsed.last("--hostname")), "--hostname"
        elif ctx.env.get("GH_HOST"):
            host, source = ctx.env["GH_HOST"], "GH_HOST"
        repo = parsed.last("--repo") or ""
        if repo.count("/") == 2:  # HOST/OWNER/REPO
            host, _, repo = repo.partition("/")
            source = "--repo"
        projects = (repo.lower(),) if repo else ()
        problem = "" if repo else "no --repo OWNER/REPO on the command line"
        return Target(tool="gh", action=sub, publishes=True, repository=f"https://{host}/", source=source,
                      repository_name=host if host != "github.com" else "", projects=projects, problem=problem,
                      options=frozenset(parsed.options))  # fmt: skip

    def env(self, target: Target, value: str) -> dict[str, str]:
        return {"GH_ENTERPRISE_TOKEN" if target.repository_name else "GH_TOKEN": value}
