"""The ``forge verify`` and ``forge render`` use cases: what the user named -> the TEMPLATE to prove.

A GGUF (the Modelfile forge would plan for it), a Modelfile, a folder holding one, or a stored
name is resolved to a Go TEMPLATE, SYSTEM and MESSAGEs; the comparison itself is
:func:`ollama_forge.fidelity.compare.verify_template`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import UsageError, VerificationError
from ..fidelity.compare import VerifyReport, default_renderer, verify_template


class _Subject(BaseModel):
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


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def _check_instructions(modelfile: Any, where: str, *, planned: bool) -> list[str]:
    """Refuse a forge-written Modelfile that holds more than forge writes; notes for a user's own.

    Verification compares TEMPLATE/SYSTEM/MESSAGE renderings; a Modelfile forge wrote from a
    GGUF must also hold exactly the instruction kinds forge writes, or "verified" would vouch for
    instructions nobody checked (modelfile.provenance).
    """
    from ..modelfile.paths import expand_path
    from ..modelfile.provenance import FORGE_MARKER, is_forge_written, unexpected_instructions

    if planned or is_forge_written(modelfile):
        found = unexpected_instructions(modelfile, user_messages=0 if planned else None)
        from_files = [expand_path(v, modelfile.base_dir) for v in modelfile.from_]
        found += [
            f"FROM {p} (not a GGUF file)" for p in from_files if not (p.is_file() and _is_gguf(p))
        ]
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


def _from_modelfile(path: Path, source: str) -> _Subject:
    from ..modelfile import read_modelfile

    modelfile = read_modelfile(path)
    notes = _check_instructions(modelfile, f"The Modelfile {path}", planned=False)
    resolved = [Path(p) for p in modelfile.resolved_paths()]
    ggufs = [p for p in resolved if p.suffix.lower() == ".gguf" and p.exists() and _is_gguf(p)]
    if not ggufs:
        raise UsageError(
            f"the Modelfile {path} has no FROM pointing at a local GGUF",
            hint="verify needs the GGUF's own chat template: use FROM /path/to/model.gguf",
        )
    if not modelfile.template:
        return _native_subject(sorted(ggufs)[0], source, notes)
    return _Subject(
        go_template=modelfile.template,
        system=modelfile.system,
        gguf_path=str(sorted(ggufs)[0]),
        source=source,
        template_source="modelfile",
        messages=[m.model_dump() for m in modelfile.messages],
        notes=notes,
    )


def _from_gguf(path: Path, source: str) -> _Subject:
    """The Modelfile forge would write for this GGUF (``force``: even one that does not verify)."""
    from ..workflows.plan import plan_modelfile

    result = plan_modelfile(path, force=True)
    modelfile = result.modelfile
    _check_instructions(modelfile, f"The Modelfile forge plans for {path}", planned=True)
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
    )


def _native_subject(gguf: Path, source: str, notes: list[str]) -> _Subject:
    """A Modelfile without TEMPLATE: forge's Go candidate for the GGUF is what older servers would need."""
    from ..workflows.plan import plan_modelfile

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


def _resolve(target: str) -> _Subject:
    path = Path(target).expanduser()
    if path.is_file():
        return _from_gguf(path, target) if _is_gguf(path) else _from_modelfile(path, target)
    if path.is_dir() and (path / "Modelfile").is_file():
        return _from_modelfile(path / "Modelfile", target)
    from ..store import Store

    entry = Store().find(target)
    if entry is None:
        from ..errors import NotFoundError

        raise NotFoundError.of(
            target,
            "a GGUF file, a Modelfile, a model in forge's store",
            hint="Pass a path to a .gguf or a Modelfile, or a name from `forge list`.",
        )
    if entry.modelfile_path and Path(entry.modelfile_path).is_file():
        return _from_modelfile(Path(entry.modelfile_path), target)
    return _from_gguf(entry.entry_path, target)


def verify(target: str | Path) -> VerifyReport:
    """``forge verify``: the Modelfile for a GGUF / stored model / Modelfile against its chat template."""
    from ..gguf import read_gguf

    subject = _resolve(str(target))
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
    from ..fidelity.path_choice import choose_path

    report.path_choice = choose_path(
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


def _subject_for_render(target: str) -> _Subject:
    """Go template, SYSTEM and MESSAGEs for ``forge render``: a GGUF, Modelfile, template file, name or text."""
    path = Path(target).expanduser()
    if path.is_file():
        if _is_gguf(path):
            return _from_gguf(path, target)
        text = path.read_text(encoding="utf-8")
        if re.match(r"(?is)\s*(#.*\n\s*)*from\s", text):
            from ..modelfile import read_modelfile

            modelfile = read_modelfile(path)
            if not modelfile.template:
                raise UsageError(
                    f"the Modelfile {path} has no TEMPLATE", hint="add a TEMPLATE or render a GGUF"
                )
            return _Subject(
                go_template=modelfile.template,
                system=modelfile.system,
                gguf_path="",
                source=target,
                messages=[m.model_dump() for m in modelfile.messages],
            )
        return _Subject(go_template=text, system=None, gguf_path="", source=target)
    from ..store import Store

    entry = (
        Store().find(target) if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,80}", target) else None
    )
    if entry is not None:
        return _resolve(target)
    if "{{" not in target:
        from ..errors import NotFoundError

        raise NotFoundError.of(
            target,
            "a template file, a Modelfile, a GGUF file, a model in forge's store, "
            "Go template text with {{ }}",
            hint="Pass a template file, a Modelfile, a .gguf, a stored name or template text.",
        )
    return _Subject(go_template=target, system=None, gguf_path="", source="<text>")


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
