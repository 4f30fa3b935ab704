"""Shared pieces of the commands: the App from the context, output options."""

from __future__ import annotations

import functools

import click

from tokenward.fastpath import WRITING_COMMANDS, with_app

__all__ = ["WRITING_COMMANDS", "json_option", "pass_app"]


def pass_app(func):
    """Hand the command a loaded App and a Terminal; close the inventory afterwards."""

    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx: click.Context, *args, **kwargs):
        obj = ctx.find_root().obj or {}
        return with_app(obj.get("config_file"), ctx.info_name, func, *args, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
