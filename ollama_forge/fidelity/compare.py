"""Prove that a Modelfile TEMPLATE renders the same prompt as the model's own chat template.

Both sides render every conversation of :func:`ollama_forge.fidelity.conversations.conversation_suite`:
the Go TEMPLATE (with the Modelfile SYSTEM) through :func:`ollama_forge.fidelity.ollama_prompt.render_prompt`,
exactly as Ollama's ``/api/chat`` builds the prompt, and the GGUF's Jinja chat template through
:func:`ollama_forge.fidelity.jinja.render_chat_template`, exactly as transformers renders it.

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
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from ..errors import ChatTemplateError, TemplateError
from .conversations import Conversation, conversation_suite, think_kwargs, to_hf_messages
from .jinja import HOSTILE_KINDS, render_chat_template, special_token_kwargs
from .ollama_prompt import render_prompt

CONTEXT_CHARS = 40

PromptRenderer = Callable[..., str]


class DiffInfo(BaseModel):
    """Where two prompts first differ, with visible-whitespace context."""

    offset: int
    line: int
    column: int
    expected_context: str = Field(
        description="expected text around the difference, whitespace made visible"
    )
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
    template_path: str | None = Field(
        default=None,
        description="go_template | native_jinja | builtin_renderer: what the Modelfile carries",
    )
    path_choice: Any = Field(
        default=None,
        description="fidelity.path_choice.PathChoice: server path per version, "
        "tool/thinking conversations, tool-call round trip",
    )
    has_chat_template: bool = Field(
        default=True, description="False: the GGUF has none (a base model), nothing to compare"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["match", "mismatch", "not_verified", "no_chat_template"]:
        """no_chat_template is not a failure: there is no chat format the TEMPLATE could get wrong."""
        if not self.has_chat_template:
            return "no_chat_template"
        if self.matched:
            return "match"
        return "mismatch" if self.compared else "not_verified"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def not_compared(self) -> str | None:
        """What Ollama >= 0.30 does that this report did not compare (its built-in Go renderer)."""
        new = getattr(self.path_choice, "new_servers", None)
        if new is None or getattr(new.path, "value", None) != "builtin":
            return None
        return (
            f"on Ollama >= 0.30 the prompt comes from {new.prompt_source} and the output goes "
            f"through {new.output_parser}: Ollama's own Go code, which forge does not compare byte "
            "for byte with the model's chat template"
            + (
                ""
                if self.template_path == "builtin_renderer"
                else "; the TEMPLATE is bypassed there"
            )
        )

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
        offset=offset,
        line=line,
        column=column,
        expected_context=window(expected),
        actual_context=window(actual),
        expected_char=expected[offset] if offset < len(expected) else None,
        actual_char=actual[offset] if offset < len(actual) else None,
    )


def chat_template_capabilities(chat_template: str) -> set[str]:
    """Capabilities a Jinja chat template shows (Ollama's rules, plus reasoning fields for thinking)."""
    caps: set[str] = set()
    if "tools" in chat_template or "tool_call" in chat_template:
        caps.add("tools")
    if ("<think>" in chat_template and "</think>" in chat_template) or re.search(
        r"enable_thinking|reasoning_content|\.thinking\b|\[['\"]thinking['\"]\]", chat_template
    ):
        caps.add("thinking")
    return caps


def default_renderer() -> PromptRenderer:

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
    render_prompt = renderer or default_renderer()
    extra: dict[str, Any] = special_token_kwargs(special_tokens)
    caps = chat_template_capabilities(chat_template)
    go_tools = tools_supported if tools_supported is not None else ".Tools" in go_template
    run_thinking = thinking_supported if thinking_supported is not None else "thinking" in caps
    normalisations: list[str] = []

    def jinja(conv_messages: list[dict[str, Any]], conv: Conversation) -> str:
        text = render_chat_template(
            chat_template,
            to_hf_messages(conv_messages),
            tools=conv.tools,
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
            **extra,
            **think_kwargs(conv.think),
        )
        if add_bos_token and bos_token and text.startswith(bos_token):
            note = f"stripped the leading BOS {bos_token!r} from the chat template's output (add_bos_token: llama.cpp adds it)"
            if note not in normalisations:
                normalisations.append(note)
            text = text[len(bos_token) :]
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
            lost = (
                " (the model's chat template supports tools: they are lost)"
                if "tools" in caps
                else ""
            )
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
            if exc.kind == "raise_exception":
                result.skipped_reason = (
                    f"the model's own template refuses it: {exc.template_message}"
                )
            elif exc.kind in HOSTILE_KINDS:
                result.error = f"the model's chat template failed: {exc.message}"
            else:
                result.skipped_reason = f"the model's own template cannot render it: {exc.message}"
            results.append(result)
            continue
        result.expected = expected
        try:
            actual = render_prompt(
                go_template,
                conv.messages,
                system=system or None,
                tools=conv.tools,
                think=conv.think,
                **({"model_messages": history} if history else {}),
            )
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
        results=results,
        normalisations=normalisations,
        system_rule=rule,
    )
