"""``forge modelfile`` (write the Modelfile for a GGUF) and ``forge families`` (list families)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._params import TARGET, json_option, num_ctx_option, system_option

if TYPE_CHECKING:
    from ..families import Family
    from ..workflows.plan import BuildResult


def _parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    from ..errors import UsageError

    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(
                f"--param {item!r} is not NAME=VALUE", hint="Example: --param temperature=0.7"
            )
        if name == "stop":
            params.setdefault("stop", []).append(value)
        else:
            params[name] = value
    return params


def parse_messages(items: tuple[str, ...]) -> list[dict[str, str]]:
    """``--message ROLE:TEXT`` values (shared with forge render)."""
    from ..errors import UsageError

    messages = []
    for item in items:
        role, sep, text = item.partition(":")
        if not sep or role.strip() not in ("system", "user", "assistant"):
            raise UsageError(
                f"--message {item!r} is not ROLE:TEXT with role system, user or assistant",
                hint="Example: --message 'user:Hi' --message 'assistant:Hello!'",
            )
        messages.append({"role": role.strip(), "content": text})
    return messages


def _explain(result: BuildResult, written: Path | None) -> None:
    from rich.markup import escape

    from .console import safe_text, stderr_console

    console = stderr_console()
    for line in result.explanation():
        console.print(escape(safe_text(line)), soft_wrap=True)
    for message in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(safe_text(message))}", soft_wrap=True)
    if written is not None:
        console.print(f"wrote {escape(safe_text(str(written)))}", soft_wrap=True)


@click.command("modelfile")
@click.argument("source", type=TARGET)
@click.option(
    "-o",
    "--output",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="FILE",
    type=click.Path(),
    help="Write the Modelfile to FILE (a folder gets FILE/Modelfile; missing folders are "
    "created); -o alone writes it next to the model. FROM is then relative to the Modelfile. "
    "Default: stdout.",
)
@click.option(
    "--family", default=None, help="Use this family (see forge families) instead of detecting it."
)
@system_option("SYSTEM prompt, TEXT or @FILE (replaces the family default).")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A PARAMETER (repeatable; repeated stop values accumulate).",
)
@click.option(
    "--message", "messages", multiple=True, metavar="ROLE:TEXT", help="A MESSAGE (repeatable)."
)
@click.option(
    "--projector",
    type=click.Path(dir_okay=False),
    default=None,
    help="Multimodal projector (mmproj) GGUF to add as a second FROM.",
)
@click.option(
    "--families-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of extra/overriding family templates (default: $FORGE_FAMILIES).",
)
@click.option(
    "--force", is_flag=True, help="Write even when no template verifies (marked UNVERIFIED)."
)
@num_ctx_option(
    "PARAMETER num_ctx to write, at most (default 8192; lowered to the trained context and to fit "
    "--mem).",
    minimum=512,
)
@click.option(
    "--mem",
    default=None,
    metavar="SIZE",
    help="Memory budget for weights + KV cache, e.g. 8G (default: free memory).",
)
@click.option(
    "--template-path",
    type=click.Choice(["auto", "go", "native"]),
    default="auto",
    show_default=True,
    help="go: always write the Go TEMPLATE (what Ollama < 0.30 needs); native: no TEMPLATE, Ollama >= 0.30 "
    "renders the GGUF's own chat template; auto: a verified TEMPLATE that Ollama >= 0.30 either "
    "renders faithfully or bypasses for the GGUF's own template (a synthesised one reduced for that "
    "if needed), no TEMPLATE only when neither works. The path per server version is recorded in "
    "the comments.",
)
def modelfile_command(
    source: str,
    output: str | None,
    family: str | None,
    system: str | None,
    params: tuple[str, ...],
    messages: tuple[str, ...],
    projector: str | None,
    families_dir: str | None,
    force: bool,
    num_ctx: int | None,
    mem: str | None,
    template_path: str,
) -> None:
    """Write the Modelfile for a GGUF, matched to its model family and verified.

    SOURCE is a GGUF path, a folder holding one model GGUF, or a stored model name.

    \b
    The family is detected from the GGUF's own metadata (chat template hash, its special
    tokens, architecture, name); its TEMPLATE is used only if it reproduces the model's chat
    template byte for byte, else a synthesised one that does. Stops come from the model's
    end-of-generation tokens; num_ctx is chosen to fit --num-ctx and --mem. Why each choice was
    made is printed on stderr and recorded in the Modelfile's comments.

    \b
    Examples:
      forge modelfile qwen -o
      forge modelfile models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf -o out/qwen/Modelfile
      forge modelfile qwen --system @system.txt --param temperature=0.2 --num-ctx 16384
    """
    import sys

    from ..workflows.plan import gguf_target, plan_modelfile

    model = gguf_target(source, projector)
    target: Path | None = None
    modelfile_dir: Path | None = None
    if output is not None:
        if output == "":
            target = model.entry.parent / "Modelfile"
        else:
            target = Path(output).expanduser()
            if target.is_dir():
                target = target / "Modelfile"
        modelfile_dir = target.parent
    result = plan_modelfile(
        model,
        family=family,
        system=system,
        params=_parse_params(params),
        messages=parse_messages(messages),
        force=force,
        max_ctx=num_ctx,
        mem=mem,
        families_dir=families_dir,
        modelfile_dir=modelfile_dir,
        template_path=template_path,
    )
    text = result.modelfile.render()
    if target is None:
        _explain(result, None)
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    if not target.parent.is_dir():  # like `hf download --local-dir`: the folder is made
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from ..errors import UsageError

            raise UsageError(
                f"Cannot create the folder {target.parent}: {exc.strerror or exc}",
                hint="Choose another -o path.",
            ) from None
    result.modelfile.save(
        target
    )  # recorded in the store (template source; the stored model's Modelfile)
    _explain(result, target)


def _family_row(family: Family) -> dict[str, Any]:
    return family.model_dump(mode="json")


@click.command("families")
@json_option("Print every family with its detection signatures as JSON.")
@click.option(
    "--families-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of extra/overriding family templates (default: $FORGE_FAMILIES).",
)
def families_command(as_json: bool, families_dir: str | None) -> None:
    """List model families and how each is detected.

    \b
    Examples:
      forge families
      forge families --families-dir ./my-families --json
    """
    from ..families import list_families

    families = list_families(families_dir)
    if as_json:
        from .console import print_json

        print_json([_family_row(f) for f in families])
        return
    from rich.table import Table
    from rich.text import Text

    from .console import safe_text, stdout_console

    table = Table(show_lines=False, expand=False)
    for column in ("family", "source", "detected by", "stops", "description"):
        table.add_column(column)
    for family in families:
        detected = []
        if family.chat_template_sha256:
            detected.append(f"{len(family.chat_template_sha256)} template hash(es)")
        detected += [" + ".join(sig) for sig in family.signatures]
        if family.architectures:
            detected.append("arch " + "/".join(family.architectures))
        if family.name_patterns:
            detected.append("name " + " | ".join(family.name_patterns))
        caps = [
            c
            for c, on in (("tools", family.supports_tools), ("thinking", family.supports_thinking))
            if on
        ]
        description = family.description + (f" [{', '.join(caps)}]" if caps else "")
        table.add_row(
            Text(safe_text(family.name)),
            family.source,
            Text(safe_text("\n".join(detected) or "-")),
            Text(safe_text(", ".join([*family.stop_tokens, *family.text_stops]) or "model eos")),
            Text(safe_text(description)),
        )
    stdout_console().print(table)
