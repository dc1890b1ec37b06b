"""Prove that a Modelfile TEMPLATE renders the same prompt as the model's own chat template.

Both sides render every conversation of :func:`ollama_forge.conversations.conversation_suite`:
the Go TEMPLATE (with the Modelfile SYSTEM) through :func:`ollama_forge.prompt.render_prompt`,
exactly as Ollama's ``/api/chat`` builds the prompt, and the GGUF's Jinja chat template through
:func:`ollama_forge.chat_template.render_chat_template`, exactly as transformers renders it.

Comparison rules (documented in ``forge verify --help`` too):

* **Generation prompt.** The suite's conversations end in a user or tool message, so the Jinja
  side renders with ``add_generation_prompt=True``.
* **BOS.** When the GGUF sets ``add_bos_token``, llama.cpp adds BOS while tokenising, so an
  Ollama template must not print it: a BOS text at the start of the Jinja output is stripped
  before comparing, and the report lists this normalisation.
* **SYSTEM.** A Modelfile SYSTEM is the model's *default* system prompt when the Jinja rendering
  of a conversation without a system message already contains it verbatim (templates with a
  built-in system prompt, e.g. Qwen2.5); then no-system conversations are compared as
  "Ollama with SYSTEM" vs "Jinja without a system message". Any other SYSTEM is a user
  override, and the Jinja side gets it as a leading system message. Conversations with their
  own system message are compared as they are (Ollama drops the Modelfile SYSTEM then).
* **Capabilities.** Tool conversations run when the Go template supports tools (it mentions
  ``.Tools``, or ``tools_supported=True``); thinking conversations run when the chat template
  has a thinking mode. A conversation the model's own template refuses (``raise_exception``)
  is skipped with the template's message, not counted as a mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from .chat_template import HOSTILE_KINDS, render_chat_template, special_token_kwargs
from .conversations import Conversation, conversation_suite, think_kwargs, to_hf_messages
from .errors import ChatTemplateError, TemplateError, UsageError, VerificationError

CONTEXT_CHARS = 40

PromptRenderer = Callable[..., str]


class DiffInfo(BaseModel):
    """Where two prompts first differ, with visible-whitespace context."""

    offset: int
    line: int
    column: int
    expected_context: str = Field(description="expected text around the difference, whitespace made visible")
    actual_context: str
    expected_char: str | None = None
    actual_char: str | None = None


class ConversationResult(BaseModel):
    name: str
    description: str = ""
    matched: bool
    expected: str | None = None
    actual: str | None = None
    first_difference: DiffInfo | None = None
    skipped_reason: str | None = None
    error: str | None = None


class VerifyReport(BaseModel):
    """The outcome of comparing a Go TEMPLATE with the model's own chat template."""

    matched: bool
    results: list[ConversationResult] = Field(default_factory=list)
    normalisations: list[str] = Field(default_factory=list)
    system_rule: str = ""
    target: str | None = None
    template_source: str | None = None
    template_path: str | None = Field(default=None, description="go_template | native_jinja: what the Modelfile carries")
    path_choice: Any = Field(default=None, description="fidelity.path_choice.PathChoice: server path per version, "
                             "tool/thinking conversations, tool-call round trip")
    has_chat_template: bool = Field(default=True, description="False: the GGUF has none (a base model), nothing to compare")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["match", "mismatch", "not_verified", "no_chat_template"]:
        """no_chat_template is not a failure: there is no chat format the TEMPLATE could get wrong."""
        if not self.has_chat_template:
            return "no_chat_template"
        if self.matched:
            return "match"
        return "mismatch" if self.compared else "not_verified"

    @property
    def compared(self) -> list[ConversationResult]:
        return [r for r in self.results if r.skipped_reason is None]

    @property
    def mismatches(self) -> list[ConversationResult]:
        return [r for r in self.compared if not r.matched]


def visible(text: str) -> str:
    """Whitespace made visible: spaces as ·, newlines as \\n, tabs as \\t, CR as \\r."""
    return text.replace(" ", "·").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def first_difference(expected: str, actual: str, context: int = CONTEXT_CHARS) -> DiffInfo | None:
    """The first offset at which ``actual`` differs from ``expected`` (None when equal)."""
    if expected == actual:
        return None
    limit = min(len(expected), len(actual))
    offset = next((i for i in range(limit) if expected[i] != actual[i]), limit)
    line = expected.count("\n", 0, offset) + 1
    column = offset - (expected.rfind("\n", 0, offset) + 1) + 1
    start = max(0, offset - context)

    def window(text: str) -> str:
        prefix = "…" if start > 0 else ""
        end = offset + context
        suffix = "…" if end < len(text) else ""
        return prefix + visible(text[start:offset]) + "⟦" + visible(text[offset:end]) + suffix
    return DiffInfo(
        offset=offset, line=line, column=column,
        expected_context=window(expected), actual_context=window(actual),
        expected_char=expected[offset] if offset < len(expected) else None,
        actual_char=actual[offset] if offset < len(actual) else None,
    )


def chat_template_capabilities(chat_template: str) -> set[str]:
    """Capabilities a Jinja chat template shows (Ollama's rules, plus reasoning fields for thinking)."""
    caps: set[str] = set()
    if "tools" in chat_template or "tool_call" in chat_template:
        caps.add("tools")
    if ("<think>" in chat_template and "</think>" in chat_template) or re.search(
            r"enable_thinking|reasoning_content|\.thinking\b|\[['\"]thinking['\"]\]", chat_template):
        caps.add("thinking")
    return caps


def _default_renderer() -> PromptRenderer:
    from .prompt import render_prompt

    return render_prompt


def verify_template(
    go_template: str,
    system: str | None,
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    tools_supported: bool | None = None,
    thinking_supported: bool | None = None,
    system_is_default: bool | None = None,
    conversations: list[Conversation] | None = None,
    renderer: PromptRenderer | None = None,
    model_messages: list[dict[str, Any]] | None = None,
) -> VerifyReport:
    """Compare a Go TEMPLATE (+ SYSTEM, + MESSAGE history) with the model's Jinja chat template on the suite.

    ``model_messages`` are a Modelfile's MESSAGE instructions: Ollama puts them after the SYSTEM
    and before the request's messages, and so does the Jinja side here.
    """
    history = [dict(m) for m in model_messages or []]
    render_prompt = renderer or _default_renderer()
    extra: dict[str, Any] = special_token_kwargs(special_tokens)
    caps = chat_template_capabilities(chat_template)
    go_tools = tools_supported if tools_supported is not None else ".Tools" in go_template
    run_thinking = thinking_supported if thinking_supported is not None else "thinking" in caps
    normalisations: list[str] = []

    def jinja(conv_messages: list[dict[str, Any]], conv: Conversation) -> str:
        text = render_chat_template(
            chat_template, to_hf_messages(conv_messages), tools=conv.tools, add_generation_prompt=True,
            bos_token=bos_token, eos_token=eos_token, **extra, **think_kwargs(conv.think),
        )
        if add_bos_token and bos_token and text.startswith(bos_token):
            note = f"stripped the leading BOS {bos_token!r} from the chat template's output (add_bos_token: llama.cpp adds it)"
            if note not in normalisations:
                normalisations.append(note)
            text = text[len(bos_token):]
        return text

    system_default = bool(system_is_default)
    if system and system_is_default is None:
        try:
            probe = next(c for c in conversation_suite() if c.name == "user")
            system_default = system in jinja(probe.messages, probe)
        except ChatTemplateError:
            system_default = False
    if not system:
        rule = "no Modelfile SYSTEM: both sides render conversations as given"
    elif system_default:
        rule = "SYSTEM is the template's built-in default: no-system conversations use it on the Ollama side only"
    else:
        rule = "SYSTEM is a user override: no-system conversations get it as a system message on the Jinja side too"

    results: list[ConversationResult] = []
    for conv in conversations if conversations is not None else conversation_suite():
        result = ConversationResult(name=conv.name, description=conv.description, matched=False)
        if conv.needs == "tools" and not go_tools:
            lost = " (the model's chat template supports tools: they are lost)" if "tools" in caps else ""
            result.skipped_reason = f"the Go template has no tool support{lost}"
            results.append(result)
            continue
        if conv.needs == "thinking" and not run_thinking:
            result.skipped_reason = "the chat template has no thinking mode"
            results.append(result)
            continue
        jinja_messages = [*history, *conv.messages]
        if system and not system_default and not conv.has_system:
            jinja_messages = [{"role": "system", "content": system}, *jinja_messages]
        try:
            expected = jinja(jinja_messages, conv)
        except ChatTemplateError as exc:
            if exc.fields.get("kind") == "raise_exception":
                result.skipped_reason = f"the model's own template refuses it: {exc.fields.get('template_message')}"
            elif exc.fields.get("kind") in HOSTILE_KINDS:
                result.error = f"the model's chat template failed: {exc.message}"
            else:
                result.skipped_reason = f"the model's own template cannot render it: {exc.message}"
            results.append(result)
            continue
        result.expected = expected
        try:
            actual = render_prompt(go_template, conv.messages, system=system or None, tools=conv.tools, think=conv.think,
                                   **({"model_messages": history} if history else {}))
        except TemplateError as exc:
            result.error = f"the Go template failed: {exc.message}"
            results.append(result)
            continue
        result.actual = actual
        result.first_difference = first_difference(expected, actual)
        result.matched = result.first_difference is None
        results.append(result)
    compared = [r for r in results if r.skipped_reason is None]
    return VerifyReport(
        matched=bool(compared) and all(r.matched for r in compared),
        results=results, normalisations=normalisations, system_rule=rule,
    )


# ---------------------------------------------------------------------------------------------
# forge verify PATH|MODELFILE|NAME


class _Subject(BaseModel):
    go_template: str
    system: str | None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    gguf_path: str
    source: str
    template_source: str | None = None
    notes: list[str] = Field(default_factory=list)
    native: bool = False  # the Modelfile carries no TEMPLATE: go_template is forge's candidate for old servers


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
    from .modelfile.paths import expand_path
    from .modelfile.provenance import FORGE_MARKER, is_forge_written, unexpected_instructions

    if planned or is_forge_written(modelfile):
        found = unexpected_instructions(modelfile, user_messages=0 if planned else None)
        from_files = [expand_path(v, modelfile.base_dir) for v in modelfile.from_]
        found += [f"FROM {p} (not a GGUF file)" for p in from_files if not (p.is_file() and _is_gguf(p))]
        if found:
            raise VerificationError(
                f"{where} was written by forge from a GGUF but holds instructions forge never writes: "
                f"{'; '.join(found)}; it was edited or crafted and cannot be verified",
                hint=("Write it again with forge modelfile. If you added these lines yourself, delete the first "
                      f"header line ('# {FORGE_MARKER} ...')."), instructions=found)
        return []
    notes = [f"{word} lines are not covered by verification" for word, values in
             (("ADAPTER", modelfile.adapters), ("DRAFT", modelfile.draft), ("LICENSE", modelfile.license),
              ("RENDERER", modelfile.renderer), ("PARSER", modelfile.parser)) if values]
    return notes


def _from_modelfile(path: Path, source: str) -> _Subject:
    from .modelfile import read_modelfile

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
    return _Subject(go_template=modelfile.template, system=modelfile.system, gguf_path=str(sorted(ggufs)[0]),
                    source=source, template_source="modelfile",
                    messages=[m.model_dump() for m in modelfile.messages], notes=notes)


def _from_gguf(path: Path, source: str) -> _Subject:
    """The Modelfile forge would write for this GGUF (``force``: even one that does not verify)."""
    from .families import plan_modelfile

    result = plan_modelfile(path, force=True)
    modelfile = result.modelfile
    _check_instructions(modelfile, f"The Modelfile forge plans for {path}", planned=True)
    choice = result.path_choice
    if not modelfile.template and choice is not None and choice.go_template:
        return _Subject(go_template=choice.go_template, system=choice.go_system, gguf_path=str(path), source=source,
                        template_source=choice.go_source, messages=[m.model_dump() for m in modelfile.messages],
                        native=True)
    if not modelfile.template:
        raise VerificationError(f"forge writes no TEMPLATE for {path}", hint="the model has no chat template to verify")
    return _Subject(go_template=modelfile.template, system=modelfile.system, gguf_path=str(path), source=source,
                    template_source=result.template_source,
                    messages=[m.model_dump() for m in modelfile.messages])


def _native_subject(gguf: Path, source: str, notes: list[str]) -> _Subject:
    """A Modelfile without TEMPLATE: forge's Go candidate for the GGUF is what older servers would need."""
    from .families import plan_modelfile

    try:
        result = plan_modelfile(gguf, template_path="go", use_free_memory=False)  # a verified one, or none
    except VerificationError as exc:  # the native path needs none; older servers would have nothing
        return _Subject(go_template="", system=None, gguf_path=str(gguf), source=source, template_source="native",
                        native=True, notes=[*notes, f"no Go TEMPLATE for Ollama < 0.30: {exc.message}"])
    if not result.modelfile.template:
        raise UsageError(f"the Modelfile for {gguf} has no TEMPLATE and forge has none to offer",
                         hint="the GGUF has no chat template: write a TEMPLATE with forge modelfile --family NAME")
    return _Subject(go_template=result.modelfile.template, system=result.modelfile.system, gguf_path=str(gguf),
                    source=source, template_source=result.template_source, notes=notes, native=True)


def _resolve(target: str) -> _Subject:
    path = Path(target).expanduser()
    if path.is_file():
        return _from_gguf(path, target) if _is_gguf(path) else _from_modelfile(path, target)
    if path.is_dir() and (path / "Modelfile").is_file():
        return _from_modelfile(path / "Modelfile", target)
    from .store import Store

    entry = Store().find(target)
    if entry is None:
        from .errors import NotFoundError

        raise NotFoundError.of(target, "a GGUF file, a Modelfile, a model in forge's store",
                               hint="Pass a path to a .gguf or a Modelfile, or a name from `forge list`.")
    if entry.modelfile_path and Path(entry.modelfile_path).is_file():
        return _from_modelfile(Path(entry.modelfile_path), target)
    return _from_gguf(entry.entry_path, target)


def verify(target: str | Path) -> VerifyReport:
    """``forge verify``: the Modelfile for a GGUF / stored model / Modelfile against its chat template."""
    from .gguf import read_gguf

    subject = _resolve(str(target))
    info = read_gguf(subject.gguf_path)
    chat_template = info.chat_template
    if not chat_template:
        # A base model: nothing to compare is an outcome, not an error (forge check tests it by generation).
        plain = subject.go_template.strip() in ("{{ .Prompt }}", "{{- .Prompt }}", "{{ .Prompt -}}")
        note = ("TEMPLATE is a plain completion template ({{ .Prompt }}): the model continues the text it is given"
                if plain else "the TEMPLATE cannot be compared with a chat template the model does not have")
        return VerifyReport(matched=False, has_chat_template=False, target=subject.source,
                            template_source=subject.template_source, normalisations=[note, *subject.notes])
    tokens: dict[str, str] = {kind: str(tok.text) for kind, tok in (info.special_tokens or {}).items()
                              if getattr(tok, "text", None)}
    if subject.native and not subject.go_template:  # the server renders the model's own template: nothing to compare
        report = VerifyReport(matched=True)
    else:
        report = verify_template(
            subject.go_template, subject.system, chat_template,
            bos_token=tokens.get("bos", ""), eos_token=tokens.get("eos", ""),
            add_bos_token=bool(info.add_bos_token), special_tokens=tokens, model_messages=subject.messages,
        )
    report.target = subject.source
    report.template_source = subject.template_source
    report.normalisations += subject.notes
    from .fidelity.path_choice import choose_path

    report.path_choice = choose_path(
        subject.go_template or None, subject.system, chat_template, bos_token=tokens.get("bos", ""),
        eos_token=tokens.get("eos", ""), add_bos_token=bool(info.add_bos_token), model_family=info.architecture,
        requested="native" if subject.native else "go")
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
            from .modelfile import read_modelfile

            modelfile = read_modelfile(path)
            if not modelfile.template:
                raise UsageError(f"the Modelfile {path} has no TEMPLATE", hint="add a TEMPLATE or render a GGUF")
            return _Subject(go_template=modelfile.template, system=modelfile.system, gguf_path="", source=target,
                            messages=[m.model_dump() for m in modelfile.messages])
        return _Subject(go_template=text, system=None, gguf_path="", source=target)
    from .store import Store

    entry = Store().find(target) if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,80}", target) else None
    if entry is not None:
        return _resolve(target)
    if "{{" not in target:
        from .errors import NotFoundError

        raise NotFoundError.of(target, "a template file, a Modelfile, a GGUF file, a model in forge's store, "
                               "Go template text with {{ }}",
                               hint="Pass a template file, a Modelfile, a .gguf, a stored name or template text.")
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
        raise UsageError("--messages must be a JSON array of message objects",
                         hint='e.g. [{"role": "user", "content": "Hello"}]')
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise UsageError("--tools must be a JSON array of tool objects",
                         hint='e.g. [{"type": "function", "function": {"name": "f", "parameters": {}}}]')
    subject = _subject_for_render(target)
    extra = {"model_messages": subject.messages} if subject.messages else {}
    return _default_renderer()(subject.go_template, messages,
                               system=system if system is not None else subject.system,
                               tools=tools, think=think, **extra)
