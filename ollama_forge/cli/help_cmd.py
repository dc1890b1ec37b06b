"""``forge help [COMMAND]``: the same text as ``forge [COMMAND] --help``."""

from __future__ import annotations

import click


@click.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show forge's help, or a command's options and examples.

    \b
    Examples:
      forge help
      forge help register
    """
    from . import cli

    root = ctx.find_root()
    if command is None:
        click.echo(root.get_help())
        return
    sub = cli.get_command(root, command)
    if sub is None:
        cli.resolve_command(root, [command])  # fails with "did you mean"
        return
    with click.Context(sub, info_name=command, parent=root) as sub_ctx:
        click.echo(sub.get_help(sub_ctx))
