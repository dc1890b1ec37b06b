"""``forge verify`` and ``forge render``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ._params import TARGET, json_option, system_option

if TYPE_CHECKING:
    from ..fidelity.compare import VerifyReport


@click.command("verify")
@click.argument("target", type=TARGET)
@json_option("Print the report as JSON on stdout.")
@click.option(
    "--full", is_flag=True, help="Also print both prompts of every mismatching conversation."
)
@click.pass_context
def verify_command(ctx: click.Context, target: str, as_json: bool, full: bool) -> None:
    """Prove a Modelfile TEMPLATE renders the model's own chat template, byte for byte.

    TARGET is a GGUF (checks the Modelfile forge would write for it), a Modelfile or a folder
    holding one (its FROM GGUF provides the chat template), or a stored model name.

    \b
    Rules: the chat template renders with add_generation_prompt=True; when the GGUF sets
    add_bos_token, a leading BOS in its output is stripped (llama.cpp adds it); a SYSTEM the
    chat template already prints without a system message is its built-in default, any other
    SYSTEM is compared as a system message. Exit status 1 on any mismatch; 0 with status
    no_chat_template when the GGUF has no chat template (a base model: nothing to compare).

    \b
    Examples:
      forge verify qwen
      forge verify models/qwen/Modelfile --full
      forge verify models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf --json
    """
    from ..workflows.verify import verify
    from .console import print_json

    report = verify(target)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _print_report(report, full=full)
    if report.status in ("mismatch", "not_verified"):
        ctx.exit(1)


def _print_report(report: VerifyReport, *, full: bool) -> None:
    from rich.markup import escape

    from .console import safe_text, stdout_console

    out = stdout_console()

    def s(text: object) -> str:
        return escape(safe_text(text))

    if report.target:
        source = f" (template: {s(report.template_source)})" if report.template_source else ""
        out.print(f"[bold]{s(report.target)}[/bold]{source}")
    for result in report.results:
        if result.skipped_reason:
            out.print(
                f"  [dim]-[/dim] {s(result.name):<20} [dim]skipped: {s(result.skipped_reason)}[/dim]"
            )
        elif result.matched:
            out.print(f"  [green]✓[/green] {s(result.name):<20} match")
        elif result.error:
            out.print(f"  [red]✗[/red] {s(result.name):<20} {s(result.error)}")
        else:
            diff = result.first_difference
            assert diff is not None
            out.print(
                f"  [red]✗[/red] {s(result.name):<20} differs at line {diff.line}, column {diff.column} "
                f"(offset {diff.offset})"
            )
            out.print(f"      model template: {s(diff.expected_context)}")
            out.print(f"      Ollama TEMPLATE: {s(diff.actual_context)}")
            if full:
                out.print(f"      [dim]expected:[/dim] {s(repr(result.expected))}")
                out.print(f"      [dim]actual:[/dim]   {s(repr(result.actual))}")
    for note in report.normalisations:
        out.print(f"  [dim]note: {s(note)}[/dim]")
    if report.system_rule:
        out.print(f"  [dim]system: {s(report.system_rule)}[/dim]")
    _print_paths(report, out, s)
    compared = report.compared
    failed = report.mismatches
    if report.status == "no_chat_template":
        out.print(
            "[yellow]no chat template[/yellow]: the GGUF has none (a base model), so there is nothing to "
            f"compare; `forge check {s(report.target or 'TARGET')}` shows how it generates"
        )
    elif report.matched:
        out.print(
            f"[green]match[/green]: {len(compared)} conversation(s) identical, "
            f"{len(report.results) - len(compared)} skipped"
        )
    elif not compared:
        out.print(
            "[red]not verified[/red]: the model's own template renders none of the conversations"
        )
    else:
        out.print(f"[red]mismatch[/red]: {len(failed)} of {len(compared)} conversation(s) differ")


def _print_paths(report: VerifyReport, out: Any, s: Any) -> None:
    """The tool/thinking conversations on the Go path and the path each server generation takes."""
    choice = report.path_choice
    if choice is None:
        return
    suite = choice.tool_suite
    for result in suite.results if suite is not None else []:
        if result.skipped_reason:
            out.print(
                f"  [dim]-[/dim] {s(result.name):<20} [dim]skipped: {s(result.skipped_reason)}[/dim]"
            )
        elif result.identical:
            out.print(f"  [green]✓[/green] {s(result.name):<20} match (tools/thinking, Go path)")
        else:
            why = (
                (result.refused and f"Ollama refuses it: {result.refused}")
                or result.error
                or (
                    f"differs at offset {result.offset}: model {result.expected_context!r}, "
                    f"Ollama {result.actual_context!r}"
                )
            )
            out.print(f"  [yellow]✗[/yellow] {s(result.name):<20} {s(why)}")
    if report.template_path == "native_jinja":
        out.print(
            "  [bold]native path[/bold]: the Modelfile carries no TEMPLATE; the conversations above check "
            "forge's Go TEMPLATE, which only Ollama < 0.30 would need"
        )
    for line in choice.comments:
        if not line.startswith("tools/thinking:"):
            out.print(f"  {s(line.strip())}")
    for line in choice.warnings:
        out.print(f"  [yellow]warning:[/yellow] {s(line)}")
    if report.not_compared is not None:  # Ollama's built-in renderer: nothing of forge's to judge
        out.print(f"  [yellow]not compared:[/yellow] {s(report.not_compared)}")
        return
    verdict = (
        "the prompt Ollama >= 0.30 builds is the model's own"
        if choice.faithful_on_new
        else "Ollama >= 0.30 builds a prompt that differs from the model's own on tools/thinking"
    )
    out.print(f"  [{'green' if choice.faithful_on_new else 'yellow'}]{verdict}[/]")


def _load_json_arg(value: str | None, what: str) -> Any:
    import json
    from pathlib import Path

    from ..errors import UsageError

    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot read {what} file {value[1:]}: {exc.strerror}",
                hint="check the path after @",
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            hint=f"pass {what} as a JSON array, or @file.json",
        ) from None


@click.command("render")
@click.argument("target", type=TARGET)
@click.option(
    "--message",
    "message_items",
    multiple=True,
    metavar="ROLE:TEXT",
    help="A message (repeatable), as in forge modelfile --message.",
)
@click.option(
    "--messages",
    "messages",
    default=None,
    metavar="JSON|@FILE",
    help="The whole conversation: a JSON array in /api/chat's shape (tool calls, images), or @file.",
)
@system_option("A SYSTEM to use instead of the Modelfile's (TEXT or @FILE).")
@click.option("--tools", default=None, help="Tool definitions: a JSON array, or @file.")
@click.option("--think/--no-think", default=None, help="Set Ollama's think flag (default: unset).")
@json_option('Print {"prompt": ...} as JSON.')
def render_command(
    target: str,
    message_items: tuple[str, ...],
    messages: str | None,
    system: str | None,
    tools: str | None,
    think: bool | None,
    as_json: bool,
) -> None:
    """Print the exact prompt Ollama builds for a conversation.

    TARGET is a Go template file, a Modelfile, a GGUF (the Modelfile forge would write), a
    stored model name, or the template text itself. Give the conversation with --message
    (repeatable) or --messages (JSON, Ollama's /api/chat shape).

    \b
    Examples:
      forge render qwen --message "user:Hello"
      forge render models/qwen/Modelfile --message "system:Be brief." --message "user:Hi" --json
      forge render qwen --messages @conversation.json --tools @tools.json --think
    """
    import sys

    from ..errors import UsageError
    from ..workflows.verify import render_for
    from .console import print_json
    from .modelfile_cmd import parse_messages

    if (messages is None) == (not message_items):
        raise UsageError(
            "Give the conversation with --message ROLE:TEXT (repeatable) or --messages JSON, one of them",
            hint="Example: forge render qwen --message 'user:Hello'",
        )
    parsed_messages = (
        parse_messages(message_items) if message_items else _load_json_arg(messages, "--messages")
    )
    parsed_tools = _load_json_arg(tools, "--tools")
    prompt = render_for(target, parsed_messages, system=system, tools=parsed_tools, think=think)
    if as_json:
        print_json({"prompt": prompt})
    else:
        from .console import safe_text

        sys.stdout.write(safe_text(prompt))
        if not prompt.endswith("\n"):
            sys.stdout.write("\n")
