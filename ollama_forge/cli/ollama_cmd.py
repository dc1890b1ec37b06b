"""``forge register`` / ``ps`` / ``list`` / ``show`` / ``rm``: Ollama through its HTTP API."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ._params import system_option

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

HOST_HELP = "Ollama server URL (default: OLLAMA_HOST, else http://127.0.0.1:11434)."


class _RegisterProgress:
    """Renders register events on stderr: hash/merge/upload bars, create statuses, template path."""

    def __init__(self, quiet: bool = False) -> None:
        from .console import make_progress

        self.quiet = quiet
        self.progress: Progress = make_progress(disable=quiet)
        self.task: TaskID | None = None
        self.last_status: str | None = None

    def __enter__(self) -> _RegisterProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _bar(self, label: str, total: int) -> None:
        self._close()
        self.task = self.progress.add_task(label, total=total)

    def _close(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        from pathlib import Path

        from .console import safe_text

        log = self.progress.console.print
        if event in ("hash_start", "upload_start", "merge_start"):
            what = {
                "hash_start": "hashing",
                "upload_start": "uploading",
                "merge_start": "merging shards",
            }[event]
            label = data.get("key") or Path(str(data.get("path", ""))).name
            self._bar(f"{what} {safe_text(label, keep_newlines=False)}", int(data.get("total", 0)))
        elif (
            event in ("hash_progress", "upload_progress", "merge_progress")
            and self.task is not None
        ):
            self.progress.advance(self.task, int(data["bytes"]))
        elif event in ("hash_done", "upload_done", "merge_done"):
            self._close()
        elif event == "files":
            for f in data["files"]:
                where = " [yellow](outside the model's folder)[/yellow]" if f.get("outside") else ""
                # soft_wrap: a long path stays one copyable line
                log(
                    f"[dim]local file ({_esc(f['role'])}):[/dim] {_esc(f['path'])}{where}",
                    soft_wrap=True,
                )
        elif event == "blob_present":
            log(
                f"[dim]present on the server, not uploaded: {safe_text(data['key'], keep_newlines=False)}[/dim]"
            )
        elif event == "version":
            log(f"[dim]Ollama {safe_text(data['version'])}[/dim]")
        elif event == "template":
            decision = data["decision"]
            log(f"[bold]template:[/bold] {_esc(decision.explanation)}")
        elif event == "info":
            log(_esc(str(data["message"])))
        elif event == "status":
            status = str(data.get("status", ""))
            if status and status != self.last_status:
                self.last_status = status
                log(f"[dim]{_esc(safe_text(status, keep_newlines=False))}[/dim]")


def _esc(text: str) -> str:
    from rich.markup import escape

    from .console import safe_text

    return escape(safe_text(text))


@click.command("register")
@click.argument("name")
@click.argument("source", required=False)
@click.option(
    "-f", "--file", "modelfile", type=click.Path(dir_okay=False), help="A Modelfile to register."
)
@click.option("--host", help=HOST_HELP)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the exact requests (method, URL, JSON body) and send nothing.",
)
@click.option(
    "--native-template",
    is_flag=True,
    help="Ollama >= 0.30: omit TEMPLATE so Ollama renders the GGUF's own Jinja chat template.",
)
@click.option(
    "--cli",
    "use_cli",
    is_flag=True,
    help="Run `ollama create NAME -f Modelfile` instead of the HTTP API.",
)
@system_option("Replace the Modelfile's SYSTEM message (TEXT or @FILE).")
@click.option(
    "--allow-outside-files",
    is_flag=True,
    help="Also upload files the Modelfile names outside the model's folder, the Hugging Face cache "
    "and forge's models folder (refused by default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def register_command(
    name: str,
    source: str | None,
    modelfile: str | None,
    host: str | None,
    dry_run: bool,
    native_template: bool,
    use_cli: bool,
    system: str | None,
    allow_outside_files: bool,
    as_json: bool,
) -> None:
    """Register NAME with Ollama from SOURCE (a GGUF, a pulled model's name, or a Modelfile).

    Without SOURCE, NAME is looked up in forge's store (a model pulled with forge pull-gguf
    --name NAME). Each file is uploaded as a blob (skipped when Ollama already has it), then
    /api/create. Every local file is listed with its role first; files outside the model's
    folder, the Hugging Face cache and forge's models folder need --allow-outside-files.

    \b
    Examples:
      forge register mymodel
      forge register qwen models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf --dry-run
      forge register qwen -f models/qwen/Modelfile --host http://gpu-box:11434
    """
    from ..workflows.register import register
    from .console import print_json, safe_text

    with _RegisterProgress(quiet=False) as reporter:
        result = register(
            name,
            source,
            modelfile=modelfile,
            host=host,
            dry_run=dry_run,
            native_template=native_template,
            use_cli=use_cli,
            system=system,
            reporter=reporter,
            allow_outside_files=allow_outside_files,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = sys.stdout
    if result.dry_run:
        out.write(f"# dry run: nothing was sent to {result.host}\n")
        for f in result.files:
            out.write(
                f"# local file ({f.role}, {f.size} bytes): {safe_text(f.path, keep_newlines=False)}\n"
            )
        for request in result.requests:
            out.write(request.render() + "\n\n")
        return
    uploaded = [f.key for f in result.files if f.uploaded]
    skipped = [f.key for f in result.files if f.uploaded is False]
    out.write(f"registered {result.name} on {result.host} (via {result.via})\n")
    if result.files:
        out.write(
            f"  uploaded: {', '.join(uploaded) or 'none'}; already present: {', '.join(skipped) or 'none'}\n"
        )
        out.write(
            f"  bytes read from disk: {result.bytes_read} (hashing {result.bytes_hashed}, "
            f"upload {result.bytes_uploaded})\n"
        )
    out.write(f"  template: {result.template.path}\n")
    if result.template.recommend_native and not native_template:
        out.write(
            "  hint: re-run with --native-template to let Ollama render the GGUF's own chat template\n"
        )
    if result.via == "api":
        _capability_lines(result, out)
    out.write(f"  try it: ollama run {result.name}\n")


def _capability_lines(result: Any, out: Any) -> None:
    """/api/show's capabilities against the model's chat template (issue 16); never fails the command."""
    from ..errors import ForgeError
    from ..fidelity.capabilities import check_registered
    from .console import safe_text

    try:
        check = check_registered(result)
    except ForgeError as exc:
        out.write(f"  capabilities not checked: {safe_text(exc.message, keep_newlines=False)}\n")
        return
    if check is None:
        return
    out.write(f"  capabilities: {', '.join(check.reported) or 'none'}\n")
    for warning in check.warnings:
        out.write(f"  warning: {safe_text(warning, keep_newlines=False)}\n")


@click.command("ps")
@click.option("--host", help=HOST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the loaded models as JSON.")
@click.option(
    "--require-gpu", is_flag=True, help="Exit 1 unless every loaded model is fully on the GPU."
)
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until Ctrl-C.")
@click.option("--interval", type=float, default=2.0, show_default=True, hidden=True)
def ps_command(
    host: str | None, as_json: bool, require_gpu: bool, watch: bool, interval: float
) -> None:
    """Show loaded models like `ollama ps`, and warn when one runs partly on the CPU.

    \b
    Examples:
      forge ps
      forge ps --require-gpu
      forge ps --watch --host http://gpu-box:11434
    """
    from ..ollama.ps import gpu_warnings, ps_with_version, render_table, require_gpu_hint
    from .console import print_json, warn

    while True:
        models, version = ps_with_version(host)
        if watch and not as_json and sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[2J")
        if as_json:
            print_json([m.model_dump(mode="json") for m in models])
        else:
            sys.stdout.write(render_table(models))
            sys.stdout.flush()
        for message in gpu_warnings(models, version):
            warn(_esc(message))
        if not watch:
            break
        try:
            time.sleep(max(0.2, interval))
        except KeyboardInterrupt:  # Ctrl-C ends --watch normally
            break
    if require_gpu:
        if not models:
            warn("no model is loaded, so none runs on the CPU (--require-gpu passes)")
        bad = [m for m in models if not m.fully_on_gpu]
        if bad:
            from ..errors import DeviceError
            from .console import safe_text

            names = ", ".join(
                f"{safe_text(m.name, keep_newlines=False)} ({m.processor})" for m in bad
            )
            raise DeviceError(f"Not fully on the GPU: {names}", hint=require_gpu_hint(bad))


@click.command("list")
@click.option("--host", help=HOST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
def list_command(host: str | None, as_json: bool) -> None:
    """List Ollama's models joined with forge's store (repo, quant, template source).

    \b
    Examples:
      forge list
      forge ls --json
    """
    from ..ollama.models import list_models
    from .console import print_json, safe_text

    result = list_models(host)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    header = ["NAME", "ID", "SIZE", "QUANT", "REPO", "TEMPLATE"]
    rows = [
        [
            safe_text(m.name, keep_newlines=False),
            safe_text(m.id or "-", keep_newlines=False),
            m.size_text or "-",
            safe_text(m.quant or "-", keep_newlines=False),
            safe_text(m.repo or "-", keep_newlines=False),
            m.template_source or "-",
        ]
        for m in result.models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        sys.stdout.write(
            "    ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n"
        )


@click.command("show")
@click.argument("name")
@click.option("--host", help=HOST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def show_command(name: str, host: str | None, as_json: bool) -> None:
    """Show an Ollama model's capabilities, parameters, template and Modelfile.

    \b
    Examples:
      forge show qwen
      forge show qwen:latest --json
    """
    from ..ollama.models import show
    from .console import print_json, safe_text

    result = show(name, host)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = sys.stdout
    details = result.details
    out.write(f"model: {safe_text(result.name)}\n")
    for key in ("family", "parameter_size", "quantization_level", "format"):
        if details.get(key):
            out.write(f"  {key}: {safe_text(details[key])}\n")
    out.write(f"capabilities: {safe_text(', '.join(result.capabilities) or 'none')}\n")
    if result.registration:
        out.write(
            f"forge: registered from {safe_text(result.registration.get('source'))} "
            f"(template: {result.registration.get('template_source') or '-'})\n"
        )
    lines = [
        line.strip().split(None, 1) for line in result.parameters_text.splitlines() if line.strip()
    ]
    if lines:
        # values exactly as Ollama writes them (Go %#v: strings quoted, one line per stop)
        width = max(len(parts[0]) for parts in lines)
        out.write("parameters:\n")
        for parts in lines:
            out.write(
                f"  {safe_text(parts[0].ljust(width), keep_newlines=False)}    "
                f"{safe_text(parts[1] if len(parts) > 1 else '', keep_newlines=False)}\n"
            )
    if result.system:
        out.write(f"system:\n{safe_text(result.system)}\n")
    out.write(f"template:\n{safe_text(result.template) or '(none)'}\n")
    out.write(f"\n{safe_text(result.modelfile)}")


@click.command("rm")
@click.argument("name")
@click.option("--host", help=HOST_HELP)
@click.option(
    "--store-only",
    is_flag=True,
    help="Only forget NAME in forge's store (a pulled model, registration records); Ollama is not "
    "contacted and files on disk stay.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rm_command(name: str, host: str | None, store_only: bool, as_json: bool) -> None:
    """Remove an Ollama model (and forge's record of its registration).

    \b
    Examples:
      forge rm qwen
      forge rm qwen --store-only
    """
    from ..ollama.models import forget, remove
    from .console import print_json

    if store_only:
        entry, records = forget(name)
        if as_json:
            print_json(
                {
                    "name": name,
                    "store_only": True,
                    "stored_model_removed": entry,
                    "registration_records_removed": records,
                }
            )
            return
        from .console import safe_text

        what = [
            *(["the stored model"] if entry else []),
            *([f"{records} registration record(s)"] if records else []),
        ]
        sys.stdout.write(
            f"forgot '{safe_text(name, keep_newlines=False)}' in forge's store: {' and '.join(what)} "
            "(Ollama not contacted; files on disk kept)\n"
        )
        return

    result = remove(name, host)
    if result.warning:
        from .console import warn

        warn(_esc(result.warning))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    from .console import safe_text

    sys.stdout.write(f"deleted '{safe_text(name, keep_newlines=False)}'\n")
