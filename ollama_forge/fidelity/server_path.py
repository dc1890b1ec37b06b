"""Which prompt an Ollama server will really build for a model, per server version.

Ported from ollama/ollama as read for v0.33.0-rc2 (fb30760): server/images.go ``GetModel``
(``PreferChatTemplate``), ``shouldPreferChatTemplate``, ``chatTemplateCapabilities``,
``goTemplateCapabilities``, the tool round-trip heuristics, ``capabilitiesForTemplate``;
server/routes.go ``chatModeForModel``, ``usesOllamaRenderedChat``, ``shouldUseGoTemplate``,
``shouldUseHarmony``; envconfig ``BoolWithDefault`` for ``OLLAMA_GO_TEMPLATE``.

* RENDERER set -> Ollama's built-in Go renderer builds the prompt; PARSER set -> a built-in
  output parser (the prompt then still comes from the TEMPLATE, or ``{{ .Prompt }}``);
  gpt-oss whose template carries ``<|start|>``/``<|end|>`` -> harmony parsing.
* a Go TEMPLATE -> used, unless the GGUF's Jinja shows more capabilities (or as many, with a
  tool round trip the TEMPLATE lacks) -> the Jinja is rendered natively by llama-server;
* no Go TEMPLATE, a GGUF Jinja -> native Jinja; neither -> llama-server's default template;
* ``OLLAMA_GO_TEMPLATE`` set to anything forces the Go side (``0``/``false`` force native);
* before 0.30 only the Go TEMPLATE (else ``{{ .Prompt }}``) exists; RENDERER/PARSER need 0.12;
* ``create`` itself sets RENDERER/PARSER for a few architectures (gemma4, laguna, nemotron_h*:
  :mod:`.builtin_renderers`), so a TEMPLATE sent for such a GGUF is bypassed.

The 0.30-0.32 releases are assumed to follow the rules read at v0.33.0-rc2.
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, Field

from ollama_forge.errors import GoTemplateError
from ollama_forge.fidelity.builtin_renderers import auto_set_pair, builtin_for, version_text
from ollama_forge.fidelity.ollama_prompt import infer_thinking_tags, ollama_parse

__all__ = [
    "KNOWN_PARSERS",
    "KNOWN_RENDERERS",
    "PromptPath",
    "ServerPath",
    "SideCapabilities",
    "chat_template_capabilities",
    "chat_template_tool_round_trip",
    "go_template_capabilities",
    "go_template_env",
    "go_template_tool_round_trip",
    "predict_server_path",
    "prefer_chat_template",
]

NATIVE_SINCE = (0, 30, 0)
RENDERER_SINCE = (0, 12, 0)  # RENDERER/PARSER Modelfile commands (ollama.md §1)
HARMONY_SINCE = (0, 11, 0)  # gpt-oss support
LATEST_READ = "0.33.0-rc2"

#: Built-in RENDERER names seen in model/renderers/renderer.go (read at 95ef7e6) plus those
#: the v0.33.0-rc2 notes name; v0.33.0-rc2 registers 26, so this list is not exhaustive.
KNOWN_RENDERERS = frozenset(
    {
        "qwen3-coder",
        "qwen3-vl-instruct",
        "qwen3-vl-thinking",
        "cogito",
        "deepseek3.1",
        "olmo3",
        "olmo3.1",
        "olmo3-think",
        "olmo3-32b-think",
        "nemotron-3-nano",
        "functiongemma",
        "qwen3.5",
        "gemma4",
        "glm-4.7",
        "lfm2",
        "laguna",
    }
)
#: Built-in PARSER names seen in model/parsers/parsers.go (read at 008a6ca) plus those the
#: v0.33.0-rc2 notes name; v0.33.0-rc2 registers 27.
KNOWN_PARSERS = frozenset(
    {
        "qwen3",
        "qwen3-thinking",
        "qwen3.5",
        "qwen3-coder",
        "qwen3-vl-instruct",
        "qwen3-vl-thinking",
        "ministral",
        "passthrough",
        "harmony",
        "cogito",
        "deepseek3",
        "olmo3",
        "olmo3-think",
        "nemotron-3-nano",
        "functiongemma",
        "glm-4.7",
        "glm-ocr",
        "lfm2",
        "lfm2-thinking",
        "gemma4",
        "laguna",
    }
)

_JINJA_ROUND_TRIP = (
    "tool_response",
    "tool_results",
    "role'] == 'tool'",
    'role\'] == "tool"',
    "role\"] == 'tool'",
    'role"] == "tool"',
    "message.role == 'tool'",
    'message.role == "tool"',
    "ipython",
)
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class PromptPath(str, Enum):
    BUILTIN = "builtin"  # RENDERER/PARSER set or gpt-oss harmony: Ollama's own Go code
    GO_TEMPLATE = "go_template"  # the Modelfile TEMPLATE, executed by Go text/template
    NATIVE_JINJA = "native_jinja"  # the GGUF's Jinja chat template, rendered by llama-server
    DEFAULT = "default"  # no template: llama-server's default (>= 0.30) or {{ .Prompt }} (< 0.30)


class SideCapabilities(BaseModel):
    """What one template source shows Ollama."""

    present: bool
    capabilities: list[str] = Field(default_factory=list)
    tool_round_trip: bool = False
    error: str | None = Field(default=None, description="why Ollama reads no capabilities from it")


class ServerPath(BaseModel):
    """The prediction for one model on one server version."""

    server_version: str | None
    path: PromptPath
    prompt_source: str = Field(
        description="renderer:<name> | go_template | default_template | "
        "gguf_chat_template | llama_server_default"
    )
    output_parser: str = Field(
        description="parser:<name> | harmony | template_tool_parser | llama_cpp | none"
    )
    reason: str
    go_template: SideCapabilities
    chat_template: SideCapabilities
    capabilities: list[str] | None = Field(
        description="template-derived capabilities /api/show reports (completion, vision... not included); "
        "None when a built-in parser adds ones forge cannot know"
    )
    refuses_tools: bool | None = Field(
        description="a request with tools gets 400 'does not support tools'"
    )
    refuses_think: bool | None = Field(
        description="think=true gets 400 'does not support thinking'"
    )
    think_default_on: bool | None = Field(
        default=None,
        description="a request without think is rendered with think=true (thinking models, ChatHandler)",
    )
    prefer_chat_template: bool = False
    env_go_template: str | None = None
    auto_set: str | None = Field(
        default=None,
        description="what Ollama's create sets from general.architecture (RENDERER/PARSER), if anything",
    )
    warnings: list[str] = Field(default_factory=list)


def _version(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    match = _VERSION_RE.match(text.strip())
    if not match:
        return None
    parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return None if parts == (0, 0, 0) else parts  # a dev build is current source


def go_template_env(value: str | None) -> bool | None:
    """envconfig.GoTemplate: None when unset/blank; an unparsable value reads as true."""
    if value is None:
        return None
    text = value.strip().strip("\"'")  # envconfig.Var
    if not text:
        return None
    # ParseBool's true values, and any parse error too (BoolWithDefault returns true)
    return text not in _GO_FALSE


def chat_template_capabilities(chat_template: str | None) -> list[str]:
    """chatTemplateCapabilities: a keyword scan of the GGUF's Jinja text."""
    if not chat_template:
        return []
    caps = []
    if "tools" in chat_template or "tool_call" in chat_template:
        caps.append("tools")
    if (
        "<think>" in chat_template and "</think>" in chat_template
    ):  # thinking.TemplateSupportsThinking
        caps.append("thinking")
    return caps


def chat_template_tool_round_trip(chat_template: str | None) -> bool:
    """chatTemplateHasToolRoundTrip."""
    if not chat_template or "tools" not in chat_template_capabilities(chat_template):
        return False
    calls = "tool_calls" in chat_template or "assistant_tool_call" in chat_template
    return calls and any(marker in chat_template for marker in _JINJA_ROUND_TRIP)


def _go_vars(go_template: str) -> set[str]:
    return ollama_parse(go_template).vars()


def go_template_capabilities(go_template: str | None) -> SideCapabilities:
    """goTemplateCapabilities (tools from Vars, insert from Vars, thinking from InferTags)."""
    if go_template is None:
        return SideCapabilities(present=False)
    try:
        tmpl = ollama_parse(go_template)
        names = tmpl.vars()
    except GoTemplateError as exc:  # Ollama logs "model template contains errors" and reads none
        return SideCapabilities(present=True, error=exc.message)
    caps = [c for c, var in (("tools", "tools"), ("insert", "suffix")) if var in names]
    opening, closing = infer_thinking_tags(tmpl)
    if opening and closing:
        caps.append("thinking")
    return SideCapabilities(
        present=True, capabilities=caps, tool_round_trip=go_template_tool_round_trip(go_template)
    )


def go_template_tool_round_trip(go_template: str | None) -> bool:
    """goTemplateHasToolRoundTrip: uses .Tools and .ToolCalls, and shows tool results."""
    if not go_template:
        return False
    try:
        names = _go_vars(go_template)
    except GoTemplateError:
        return False
    if "tools" not in names or "toolcalls" not in names:
        return False
    return (
        'eq .Role "tool"' in go_template
        or "tool_response" in go_template
        or "TOOL_RESULTS" in go_template
    )


def prefer_chat_template(
    chat_template: str, chat_caps: list[str], go_template: str | None, go_caps: list[str]
) -> bool:
    """shouldPreferChatTemplate (only counts capabilities, then looks at tool round trips)."""
    if len(chat_caps) > len(go_caps):
        return not go_template_tool_round_trip(go_template) or chat_template_tool_round_trip(
            chat_template
        )
    if (
        len(chat_caps) != len(go_caps)
        or any(c not in go_caps for c in chat_caps)
        or "tools" not in chat_caps
        or "tools" not in go_caps
    ):
        return False
    return chat_template_tool_round_trip(chat_template) and not go_template_tool_round_trip(
        go_template
    )


def _harmony(
    model_family: str | None, effective_template: str, version: tuple[int, int, int] | None
) -> bool:
    """shouldUseHarmony: gpt-oss family and a template carrying harmony's tags."""
    if version is not None and version < HARMONY_SINCE:
        return False
    return (
        (model_family or "") in ("gptoss", "gpt-oss")
        and "<|start|>" in effective_template
        and "<|end|>" in effective_template
    )


def predict_server_path(
    *,
    go_template: str | None,
    chat_template: str | None,
    renderer: str | None = None,
    parser: str | None = None,
    model_family: str | None = None,
    server_version: str | None = None,
    env_go_template: str | None = None,
    architecture: str | None = None,
) -> ServerPath:
    """Predict the prompt path, capabilities and refusals of a model created from these inputs.

    ``go_template`` is the TEMPLATE layer (None: no layer; Ollama then holds ``{{ .Prompt }}``);
    ``chat_template`` the GGUF's ``tokenizer.chat_template``; ``renderer``/``parser`` what the
    create request sets; ``architecture`` the model GGUF's ``general.architecture``, which decides
    create's RENDERER/PARSER auto-set (default: ``model_family``, the config's copy of it);
    ``env_go_template`` the server's OLLAMA_GO_TEMPLATE.
    """
    version = _version(server_version)
    warnings: list[str] = []
    renderer, parser = renderer or None, parser or None
    requested_renderer, requested_parser = renderer, parser
    auto_set = None
    if version is None or version >= RENDERER_SINCE:
        arch = architecture if architecture is not None else model_family
        renderer, parser, rule = auto_set_pair(arch, renderer, parser, version)
        if rule is not None:
            auto_set = (
                f"Ollama's create sets RENDERER {renderer} / PARSER {parser} for architecture {arch}"
                + (
                    f" (and stop {', '.join(rule.default_stop)} when the Modelfile sets no stop)"
                    if rule.default_stop
                    else ""
                )
                + f" (assumed since {version_text(rule.since)})"
            )
        elif (early := builtin_for(arch)) is not None and not (renderer and parser):
            warnings.append(
                f"forge assumes Ollama {server_version} does not yet set RENDERER/PARSER "
                f"{early.renderer}/{early.parser} for architecture {arch} (confirmed from 0.33.0-rc2, "
                f"assumed from {version_text(early.since)}); if it does, the TEMPLATE is bypassed"
            )
    chat_template = chat_template or None
    go_side = go_template_capabilities(go_template)
    chat_side = SideCapabilities(
        present=chat_template is not None,
        capabilities=chat_template_capabilities(chat_template),
        tool_round_trip=chat_template_tool_round_trip(chat_template),
    )
    if go_side.error:
        warnings.append(f"Ollama reads no capabilities from the TEMPLATE: {go_side.error}")
    effective = (
        go_template if go_template is not None else "{{ .Prompt }}"
    )  # template.DefaultTemplate
    if server_version is None:
        warnings.append(f"server version unknown: predicted with the rules read at {LATEST_READ}")
    elif version is None and not server_version.strip().startswith(("0.0.0", "v0.0.0")):
        warnings.append(
            f"unrecognised server version {server_version!r}: predicted with the rules read at {LATEST_READ}"
        )
    native_era = version is None or version >= NATIVE_SINCE
    if (
        (requested_renderer or requested_parser)
        and version is not None
        and version < RENDERER_SINCE
    ):
        warnings.append(
            f"Ollama {server_version} predates RENDERER/PARSER (0.12.0): the Modelfile is rejected"
        )
    for name, names, what in (
        (requested_renderer, KNOWN_RENDERERS, "RENDERER"),
        (requested_parser, KNOWN_PARSERS, "PARSER"),
    ):
        if name and name not in names:
            warnings.append(
                f"{what} {name!r} is not among the built-in names forge knows; Ollama fails "
                "requests for a name it does not register"
            )
    harmony = _harmony(model_family, effective, version)
    env = go_template_env(env_go_template) if native_era else None
    env_set = env is not None

    prefer = False
    if (
        native_era
        and not env_set
        and go_side.present
        and chat_template
        and not renderer
        and not parser
        and not harmony
    ):
        prefer = prefer_chat_template(
            chat_template, chat_side.capabilities, go_template, go_side.capabilities
        )
    if not native_era:
        use_go = go_side.present
    elif not go_side.present:
        use_go = False
    elif env_set:
        use_go = bool(env)
    else:
        use_go = not prefer
    rendered = bool(renderer or parser or harmony or use_go) or not native_era

    if renderer or parser or harmony:
        path = PromptPath.BUILTIN
        source = (
            f"renderer:{renderer}"
            if renderer
            else ("go_template" if go_side.present else "default_template")
        )
        out = f"parser:{parser}" if parser else ("harmony" if harmony else "template_tool_parser")
        reason = (
            f"{auto_set}: its built-in Go code renders and parses, whatever the TEMPLATE"
            if auto_set
            else "RENDERER/PARSER set: Ollama's built-in Go code renders and parses"
            if renderer or parser
            else "gpt-oss with harmony tags: Ollama parses the output as harmony"
        )
    elif rendered and go_side.present:
        path, source, out = PromptPath.GO_TEMPLATE, "go_template", "template_tool_parser"
        reason = (
            "the Go TEMPLATE is the only template this server uses"
            if not native_era
            else f"OLLAMA_GO_TEMPLATE={env_go_template!r} forces the Go TEMPLATE"
            if env_set
            else "the Go TEMPLATE wins: the GGUF's Jinja shows no more capabilities"
            if chat_template
            else "the Go TEMPLATE is used: the GGUF has no chat template"
        )
    elif not native_era:
        path, source, out = PromptPath.DEFAULT, "default_template", "template_tool_parser"
        reason = (
            "no TEMPLATE: this server (< 0.30) executes '{{ .Prompt }}', the chat loses its format"
        )
    elif chat_template:
        path, source, out = PromptPath.NATIVE_JINJA, "gguf_chat_template", "llama_cpp"
        reason = (
            "OLLAMA_GO_TEMPLATE forces the GGUF's Jinja"
            if env_set and go_side.present
            else (
                f"the GGUF's Jinja shows {', '.join(chat_side.capabilities) or 'no capabilities'} "
                f"against the TEMPLATE's {', '.join(go_side.capabilities) or 'none'}"
                + (
                    " and a tool round trip the TEMPLATE lacks"
                    if len(chat_side.capabilities) == len(go_side.capabilities)
                    else ""
                )
                + ": Ollama prefers the Jinja"
            )
            if prefer
            else "no TEMPLATE: llama-server renders the GGUF's own Jinja"
        )
    else:
        path, source, out = PromptPath.DEFAULT, "llama_server_default", "llama_cpp"
        reason = (
            "neither a usable TEMPLATE nor a GGUF chat template: llama-server's default template"
        )

    # capabilitiesForTemplate(templateCapabilitySelected), template-derived part only
    caps: list[str] = []
    if native_era and not rendered:
        caps += chat_side.capabilities
    if go_side.present and use_go:  # else Ollama reads {{ .Prompt }}: nothing
        caps += [c for c in go_side.capabilities if c not in caps]
    if (model_family or "") in ("gptoss", "gpt-oss") and "thinking" not in caps:
        caps.append("thinking")
    known = parser is None
    selected = caps if known else None

    if go_side.present and path is not PromptPath.GO_TEMPLATE and source != "go_template":
        warnings.append(f"TEMPLATE will be bypassed: {reason}")
    if native_era and path is PromptPath.GO_TEMPLATE:
        lost = [c for c in chat_side.capabilities if c not in go_side.capabilities]
        if lost:
            warnings.append(
                f"the GGUF's Jinja supports {', '.join(lost)} but the TEMPLATE does not: "
                f"{' and '.join(lost)} requests are refused on the Go path"
            )
    if not native_era and chat_side.capabilities:
        lost = [c for c in chat_side.capabilities if c not in go_side.capabilities]
        if lost:
            warnings.append(
                f"Ollama {server_version} cannot use the GGUF's Jinja: {', '.join(lost)} only work "
                "if the TEMPLATE supports them"
            )
    if path is PromptPath.DEFAULT:
        warnings.append("chat responses may be poorly formatted: no template is used")
    return ServerPath(
        server_version=server_version,
        go_template=go_side,
        chat_template=chat_side,
        env_go_template=env_go_template if env_set else None,
        path=path,
        prompt_source=source,
        output_parser=out,
        reason=reason,
        capabilities=selected,
        prefer_chat_template=prefer,
        auto_set=auto_set,
        refuses_tools=None if selected is None else "tools" not in selected,
        refuses_think=None if selected is None else "thinking" not in selected,
        think_default_on=None if selected is None else "thinking" in selected,
        warnings=warnings,
    )
