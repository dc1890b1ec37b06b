"""The ``forge verify`` and ``forge render`` use cases: what the user named -> the TEMPLATE to prove.

A GGUF (the Modelfile forge would plan for it), a Modelfile, a folder holding one, or a stored
name is resolved to a Go TEMPLATE, SYSTEM and MESSAGEs; the comparison itself is
:func:`ollama_forge.fidelity.compare.verify_template`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UsageError, VerificationError
from ..fidelity.compare import VerifyReport, default_renderer, verify_template
from ..fidelity.path_choice import PathChoice, choose_path
from ..gguf import is_gguf_file, read_gguf
from ..modelfile import Modelfile
from ..modelfile.paths import expand_path
from ..modelfile.provenance import FORGE_MARKER, is_forge_written, unexpected_instructions
from .plan import plan_modelfile
from .register_sources import builtin_pair_of
from .targets import Target, resolve_target


class _Subject(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    go_template: str
    system: str | None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    gguf_path: str
    source: str
    template_source: str | None = None
    notes: list[str] = Field(default_factory=list)
    native: bool = (
        False  # the Modelfile carries no TEMPLATE: go_template is forge's candidate for old servers
    )
    # what the planner already verified for this subject (one verification per command)
    report: VerifyReport | None = None
    path_choice: PathChoice | None = None


def _check_instructions(modelfile: Modelfile, where: str, *, planned: bool) -> list[str]:
    """Refuse a forge-written Modelfile that holds more than forge writes; notes for a user's own.

    Verification compares TEMPLATE/SYSTEM/MESSAGE renderings; a Modelfile forge wrote from a
    GGUF must also hold exactly the instruction kinds forge writes, or "verified" would vouch for
    instructions nobody checked (modelfile.provenance).
    """
    if planned or is_forge_written(modelfile):
        found = unexpected_instructions(
            modelfile, user_messages=0 if planned else None, builtin=builtin_pair_of(modelfile)
        )
        from_files = [expand_path(v, modelfile.base_dir) for v in modelfile.from_]
        found += [f"FROM {p} (not a GGUF file)" for p in from_files if not is_gguf_file(p)]
        if found:
            raise VerificationError(
                f"{where} was written by forge from a GGUF but holds instructions forge never writes: "
                f"{'; '.join(found)}; it was edited or crafted and cannot be verified",
                hint=(
                    "Write it again with forge modelfile. If you added these lines yourself, delete the first "
                    f"header line ('# {FORGE_MARKER} ...')."
                ),
                instructions=found,
            )
        return []
    notes = [
        f"{word} lines are not covered by verification"
        for word, values in (
            ("ADAPTER", modelfile.adapters),
            ("DRAFT", modelfile.draft),
            ("LICENSE", modelfile.license),
            ("RENDERER", modelfile.renderer),
            ("PARSER", modelfile.parser),
        )
        if values
    ]
    return notes


def _from_modelfile(modelfile: Modelfile, path: Path, source: str) -> _Subject:
    notes = _check_instructions(modelfile, f"The Modelfile {path}", planned=False)
    ggufs = [Path(p) for p in modelfile.resolved_paths() if is_gguf_file(p)]
    if not ggufs:
        raise UsageError(
            f"the Modelfile {path} has no FROM pointing at a local GGUF",
            hint="verify needs the GGUF's own chat template: use FROM /path/to/model.gguf",
        )
    if not modelfile.template:
        return _native_subject(ggufs[0], source, notes)
    return _Subject(
        go_template=modelfile.template,
        system=modelfile.system,
        gguf_path=str(ggufs[0]),
        source=source,
        template_source="modelfile",
        messages=[m.model_dump() for m in modelfile.messages],
        notes=notes,
    )


def _from_gguf(target: Target, source: str) -> _Subject:
    """The Modelfile forge would write for this GGUF (``force``: even one that does not verify)."""
    path = target.entry
    result = plan_modelfile(target, force=True)
    modelfile = result.modelfile
    _check_instructions(modelfile, f"The Modelfile forge plans for {path}", planned=True)
    reuse = (
        result.report
        if result.report_subject == (modelfile.template or "", modelfile.system)
        else None
    )
    choice = result.path_choice
    if not modelfile.template and choice is not None and choice.go_template:
        return _Subject(
            go_template=choice.go_template,
            system=choice.go_system,
            gguf_path=str(path),
            source=source,
            template_source=choice.go_source,
            messages=[m.model_dump() for m in modelfile.messages],
            native=True,
            path_choice=result.path_choice,
        )
    if not modelfile.template:
        raise VerificationError(
            f"forge writes no TEMPLATE for {path}", hint="the model has no chat template to verify"
        )
    return _Subject(
        go_template=modelfile.template,
        system=modelfile.system,
        gguf_path=str(path),
        source=source,
        template_source=result.template_source,
        messages=[m.model_dump() for m in modelfile.messages],
        report=reuse,
        path_choice=result.path_choice,
    )


def _native_subject(gguf: Path, source: str, notes: list[str]) -> _Subject:
    """A Modelfile without TEMPLATE: forge's Go candidate for the GGUF is what older servers would need."""
    try:
        result = plan_modelfile(
            gguf, template_path="go", use_free_memory=False
        )  # a verified one, or none
    except VerificationError as exc:  # the native path needs none; older servers would have nothing
        return _Subject(
            go_template="",
            system=None,
            gguf_path=str(gguf),
            source=source,
            template_source="native",
            native=True,
            notes=[*notes, f"no Go TEMPLATE for Ollama < 0.30: {exc.message}"],
        )
    if not result.modelfile.template:
        raise UsageError(
            f"the Modelfile for {gguf} has no TEMPLATE and forge has none to offer",
            hint="the GGUF has no chat template: write a TEMPLATE with forge modelfile --family NAME",
        )
    return _Subject(
        go_template=result.modelfile.template,
        system=result.modelfile.system,
        gguf_path=str(gguf),
        source=source,
        template_source=result.template_source,
        notes=notes,
        native=True,
    )


def _subject(target: Target) -> _Subject:
    """The TEMPLATE to prove for a resolved GGUF, Modelfile or stored model."""
    if target.modelfile is not None and target.modelfile_path is not None:
        return _from_modelfile(target.modelfile, target.modelfile_path, target.text)
    return _from_gguf(target, target.text)


def verify(target: str | Path) -> VerifyReport:
    """``forge verify``: the Modelfile for a GGUF / stored model / Modelfile against its chat template."""
    subject = _subject(
        resolve_target(
            target,
            accept=("gguf", "modelfile", "stored"),
            hint="Pass a path to a .gguf or a Modelfile, or a name from `forge list`.",
        )
    )
    info = read_gguf(subject.gguf_path)
    chat_template = info.chat_template
    if not chat_template:
        # A base model: nothing to compare is an outcome, not an error (forge check tests it by generation).
        plain = subject.go_template.strip() in ("{{ .Prompt }}", "{{- .Prompt }}", "{{ .Prompt -}}")
        note = (
            "TEMPLATE is a plain completion template ({{ .Prompt }}): the model continues the text it is given"
            if plain
            else "the TEMPLATE cannot be compared with a chat template the model does not have"
        )
        return VerifyReport(
            matched=False,
            has_chat_template=False,
            target=subject.source,
            template_source=subject.template_source,
            normalisations=[note, *subject.notes],
        )
    tokens: dict[str, str] = {
        kind: str(tok.text)
        for kind, tok in (info.special_tokens or {}).items()
        if getattr(tok, "text", None)
    }
    if (
        subject.native and not subject.go_template
    ):  # the server renders the model's own template: nothing to compare
        report = VerifyReport(matched=True)
    elif subject.report is not None:  # the planner verified this very TEMPLATE already
        report = subject.report.model_copy(deep=True)
    else:
        report = verify_template(
            subject.go_template,
            subject.system,
            chat_template,
            bos_token=tokens.get("bos", ""),
            eos_token=tokens.get("eos", ""),
            add_bos_token=bool(info.add_bos_token),
            special_tokens=tokens,
            model_messages=subject.messages,
        )
    report.target = subject.source
    report.template_source = subject.template_source
    report.normalisations += subject.notes
    report.path_choice = subject.path_choice or choose_path(
        subject.go_template or None,
        subject.system,
        chat_template,
        bos_token=tokens.get("bos", ""),
        eos_token=tokens.get("eos", ""),
        add_bos_token=bool(info.add_bos_token),
        model_family=info.architecture,
        requested="native" if subject.native else "go",
    )
    report.template_path = report.path_choice.template_path
    return report


def _subject_for_render(text: str) -> _Subject:
    """Go template, SYSTEM and MESSAGEs for ``forge render``: a GGUF, Modelfile, template file, name or text."""
    target = resolve_target(
        text,
        accept=("gguf", "modelfile", "stored", "text"),
        hint="Pass a template file, a Modelfile, a .gguf, a stored name or template text.",
    )
    if target.kind == "text":
        return _Subject(
            go_template=target.content or "",
            system=None,
            gguf_path="",
            source=text if target.content != text else "<text>",
        )
    if target.kind == "modelfile":
        assert target.modelfile is not None
        if not target.modelfile.template:
            raise UsageError(
                f"the Modelfile {target.modelfile_path} has no TEMPLATE",
                hint="add a TEMPLATE or render a GGUF",
            )
        return _Subject(
            go_template=target.modelfile.template,
            system=target.modelfile.system,
            gguf_path="",
            source=text,
            messages=[m.model_dump() for m in target.modelfile.messages],
        )
    return _subject(target)


def render_for(
    target: str,
    messages: Any,
    *,
    system: str | None = None,
    tools: Any = None,
    think: bool | None = None,
) -> str:
    """``forge render``: the exact prompt Ollama builds for ``messages`` with ``target``'s TEMPLATE."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise UsageError(
            "--messages must be a JSON array of message objects",
            hint='e.g. [{"role": "user", "content": "Hello"}]',
        )
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)
    ):
        raise UsageError(
            "--tools must be a JSON array of tool objects",
            hint='e.g. [{"type": "function", "function": {"name": "f", "parameters": {}}}]',
        )
    subject = _subject_for_render(target)
    extra = {"model_messages": subject.messages} if subject.messages else {}
    return default_renderer()(
        subject.go_template,
        messages,
        system=system if system is not None else subject.system,
        tools=tools,
        think=think,
        **extra,
    )
