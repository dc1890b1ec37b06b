"""The prompt path forge chooses for a Modelfile, per Ollama version, and the words that record it.

A Go TEMPLATE that verifies on the plain conversations is not the end of the story for a model
whose chat template supports tools or thinking:

* on Ollama >= 0.30 the server may bypass the TEMPLATE for the GGUF's own Jinja
  (:func:`.server_path.predict_server_path`), and on the Go path it may refuse ``tools`` or
  ``think`` or return tool calls as text (:func:`.conversations_tools.compare_tool_suite`);
* on Ollama < 0.30 only the TEMPLATE exists.

:func:`choose_path` runs both checks and says, in Modelfile comment lines and warnings, what each
server generation will do with the Modelfile. ``requested``:

* ``"go"`` keeps the TEMPLATE (it is what servers < 0.30 use) and states the path per version;
* ``"native"`` writes no TEMPLATE: Ollama >= 0.30 renders the model's own Jinja, and the
  statement for older servers says they cannot;
* ``"auto"`` (default) keeps the TEMPLATE as ``"go"`` does - so older servers get a verified
  prompt - when Ollama >= 0.30 either uses it faithfully or bypasses it for the GGUF's Jinja
  (recorded as deliberate: the Jinja is the model's own prompt). When Ollama >= 0.30 would use a
  synthesised TEMPLATE that does not reproduce the tool/thinking conversations, auto writes the
  same prompts in a TEMPLATE the server bypasses - without its never-printing reasoning-tag
  declaration, else without tool support (verified again) - and only when neither is bypassed
  no TEMPLATE at all. A family's curated TEMPLATE is kept with a warning naming the fix.

Ollama >= 0.30 bypassing a TEMPLATE follows its capability rule (``shouldPreferChatTemplate``);
``OLLAMA_GO_TEMPLATE=1`` on the server overrides it, which the comments say.

For a GGUF whose architecture Ollama renders itself (:mod:`.builtin_renderers`: gemma4, laguna,
nemotron_h*), Ollama's create sets RENDERER/PARSER and they win over any TEMPLATE. ``"auto"``
and ``"native"`` then write that pair deliberately (``template_path="builtin_renderer"``, the
pair from forge's allowlist, never from the GGUF) and no TEMPLATE; the comments say that forge
does not compare Ollama's Go renderer byte for byte and that older servers need
``--template-path go``. ``"go"`` keeps the TEMPLATE with a warning that servers with the
auto-set bypass it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import ForgeError
from .builtin_renderers import BuiltinRenderer, builtin_for, version_text
from .compare import chat_template_capabilities, verify_template
from .conversations_tools import ToolSuiteReport, compare_tool_suite
from .server_path import PromptPath, ServerPath, predict_server_path
from .synthesis import synthesize_template
from .synthesis.go import drop_thinking_declaration

__all__ = [
    "NEW_SERVER",
    "OLD_SERVER",
    "PathChoice",
    "TemplatePathMode",
    "choose_for_build",
    "choose_path",
]

#: representative versions for "Ollama >= 0.30" and "Ollama < 0.30" (the native Jinja era starts at 0.30.0)
NEW_SERVER = "0.33.0"
OLD_SERVER = "0.29.0"

TemplatePathMode = Literal["auto", "go", "native"]


class PathChoice(BaseModel):
    """What the Modelfile carries and what each server generation will do with it."""

    requested: TemplatePathMode = "auto"
    template_path: Literal["go_template", "native_jinja", "builtin_renderer"] = Field(
        description="go_template: the Modelfile carries the TEMPLATE; native_jinja: it carries none; "
        "builtin_renderer: it carries RENDERER/PARSER from forge's allowlist and no TEMPLATE"
    )
    renderer: str | None = Field(
        default=None, description="the RENDERER written (builtin_renderer path only)"
    )
    parser: str | None = Field(
        default=None, description="the PARSER written (builtin_renderer path only)"
    )
    new_servers: ServerPath = Field(description="the prediction for Ollama >= 0.30")
    old_servers: ServerPath = Field(description="the prediction for Ollama < 0.30")
    tool_suite: ToolSuiteReport | None = Field(
        default=None,
        description="the Go TEMPLATE on the tool/thinking conversations (None: nothing to compare)",
    )
    go_faithful: bool | None = Field(
        default=None,
        description="the Go TEMPLATE renders every tool/thinking conversation byte for byte "
        "and Ollama parses its tool calls (None: the model shows neither tools nor thinking)",
    )
    tool_calls_parsed: bool | None = Field(
        default=None,
        description="Ollama's tool-call parser for the TEMPLATE recovers the model's calls",
    )
    faithful_on_new: bool = Field(
        description="Ollama >= 0.30 builds the model's own prompt: the faithful Go TEMPLATE, or the GGUF's Jinja"
    )
    comments: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    go_template: str | None = Field(
        default=None, description="the verified Go TEMPLATE candidate (kept or not)"
    )
    go_system: str | None = None
    go_source: str | None = Field(
        default=None, description="'family:<name>' | 'synthesized' of the candidate"
    )
    template_changed: bool = Field(
        default=False,
        description="go_template differs from the one given (the Modelfile must carry go_template)",
    )

    def summary(self) -> str:
        """One line: the prompt path per server generation."""
        carried = (
            "the Modelfile carries no template"
            if self.template_path == "native_jinja"
            else f"the Modelfile carries RENDERER {self.renderer} / PARSER {self.parser}, "
            "Ollama's own Go renderer, not compared byte for byte"
            if self.template_path == "builtin_renderer"
            else (
                "the Modelfile's template, reduced so that Ollama >= 0.30 bypasses it"
                if self.template_changed
                else "the Modelfile's template"
            )
        )
        return (
            f"server path: Ollama >= 0.30 {self.new_servers.path.value}, Ollama < 0.30 "
            f"{self.old_servers.path.value} ({carried}; the Modelfile comments say why)"
        )

    @property
    def template_source(self) -> str | None:
        """'native' / 'builtin_renderer' for a Modelfile without TEMPLATE (the store's word), else None."""
        return {"native_jinja": "native", "builtin_renderer": "builtin_renderer"}.get(
            self.template_path
        )


def _suite_line(report: ToolSuiteReport) -> str:
    compared = report.compared
    same = sum(r.identical for r in compared)
    text = f"{same}/{len(compared)} tool/thinking conversations identical on the Go path"
    bad = next((r for r in compared if not r.identical), None)
    if bad is not None:
        why = (
            bad.refused
            or bad.error
            or (
                f"differs at offset {bad.offset}: expected {bad.expected_context!r}, got {bad.actual_context!r}"
            )
        )
        text += f"; first {bad.name}: {why}"
    return text


def _round_trip(report: ToolSuiteReport) -> tuple[bool | None, str | None]:
    trips = [t for t in report.round_trips if t.emitted is not None]
    if not trips:
        return None, None
    failed = next((t for t in trips if not t.recovered), None)
    if failed is None:
        return (
            True,
            "Ollama will parse this model's tool calls (its parser for the TEMPLATE recovers them)",
        )
    return False, (
        f"Ollama will NOT parse this model's tool calls on the Go path: {failed.conversation} "
        f"{failed.reason or 'not recovered'}"
    )


def _shows_tools_or_thinking(chat_template: str) -> bool:

    return bool(chat_template_capabilities(chat_template) & {"tools", "thinking"})


def choose_path(
    go_template: str | None,
    system: str | None,
    chat_template: str | None,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    model_family: str | None = None,
    requested: TemplatePathMode = "auto",
    native_when_unfaithful: bool = True,
    architecture: str | None = None,
) -> PathChoice:
    """Decide and explain the prompt path of a Modelfile carrying ``go_template`` (+ ``system``).

    ``native_when_unfaithful``: in ``"auto"``, write no TEMPLATE when Ollama >= 0.30 would use a
    Go TEMPLATE that does not reproduce the tool/thinking conversations (forge's own synthesised
    templates; a family's curated TEMPLATE is kept with a warning instead). ``architecture``: the
    GGUF's ``general.architecture`` (default ``model_family``); an architecture Ollama renders
    itself gets the built-in renderer path unless ``requested`` is ``"go"``.
    """
    arch = architecture if architecture is not None else model_family
    rule = builtin_for(arch)
    if rule is not None and requested != "go":
        return _builtin_choice(rule, arch or "", go_template, system, chat_template, requested)
    suite: ToolSuiteReport | None = None
    faithful: bool | None = None
    parsed: bool | None = None
    suite_lines: list[str] = []
    if (
        go_template
        and chat_template
        and requested != "native"
        and _shows_tools_or_thinking(chat_template)
    ):
        suite = compare_tool_suite(
            chat_template,
            go_template,
            bos_token=bos_token,
            eos_token=eos_token,
            add_bos_token=add_bos_token,
            system=system,
            server_version=NEW_SERVER,
        )
        if suite.results:
            parsed, trip_line = _round_trip(suite)
            faithful = all(r.identical for r in suite.compared) and parsed is not False
            suite_lines.append("tools/thinking: " + _suite_line(suite))
            if trip_line:
                suite_lines.append("  " + trip_line)

    def predict(carried: str | None) -> tuple[ServerPath, ServerPath]:
        return tuple(
            predict_server_path(
                go_template=carried,
                chat_template=chat_template,  # type: ignore[return-value]
                model_family=model_family,
                server_version=v,
                architecture=arch,
            )
            for v in (NEW_SERVER, OLD_SERVER)
        )

    new, old = predict(go_template)
    go_wins_unfaithful = new.path is PromptPath.GO_TEMPLATE and faithful is False
    reduced = None
    if requested == "auto" and native_when_unfaithful and go_wins_unfaithful and go_template:
        # Better than no TEMPLATE: the same prompts without the declared reasoning tags, which
        # Ollama >= 0.30 bypasses for the Jinja while older servers still chat with it.

        candidate = drop_thinking_declaration(go_template)
        if candidate != go_template and predict(candidate)[0].path is PromptPath.NATIVE_JINJA:
            reduced = candidate
            new, old = predict(candidate)
            go_wins_unfaithful = False
            suite_lines.append(
                "  the TEMPLATE leaves out its reasoning-tag declaration so that Ollama >= 0.30 "
                "renders the model's own Jinja (think is then refused on Ollama < 0.30)"
            )
    native = bool(chat_template) and (
        requested == "native"
        or (requested == "auto" and native_when_unfaithful and go_wins_unfaithful)
    )
    comments = list(suite_lines)
    warnings: list[str] = []
    if rule is not None:  # requested == "go": written on purpose, bypassed where create auto-sets
        warnings.append(
            f"Ollama >= {version_text(rule.since)} (assumed) sets RENDERER/PARSER {rule.renderer}/"
            f"{rule.parser} for architecture {arch} at create and bypasses this TEMPLATE: it serves "
            "older servers only (forge modelfile --template-path auto writes the pair instead)"
        )
    if native:
        new, old = predict(None)
        why = (
            "requested"
            if requested == "native"
            else (
                "Ollama >= 0.30 would use the Go TEMPLATE, which does not reproduce the tool/thinking conversations"
            )
        )
        comments.append(
            f"template path: native, no TEMPLATE ({why}): Ollama >= 0.30 renders the GGUF's own Jinja "
            "chat template (llama-server), tool calls and reasoning parsed by llama.cpp"
        )
        comments.append(
            "  Ollama < 0.30 cannot render Jinja: it would format chats with '{{ .Prompt }}'; for such "
            "a server write the Go TEMPLATE (forge modelfile --template-path go)"
        )
        warnings.append(
            "no TEMPLATE written (native path): Ollama < 0.30 would chat unformatted with this Modelfile; "
            "--template-path go writes the verified Go TEMPLATE for such servers"
        )
        faithful_new = new.path is PromptPath.NATIVE_JINJA
    else:
        comments.append(f"server path >= 0.30: {new.path.value} ({new.reason})")
        comments.append(f"server path < 0.30: {old.path.value} ({old.reason})")
        bypassed = new.path is PromptPath.NATIVE_JINJA and go_template is not None
        if bypassed:
            comments.append(
                "  deliberate: on Ollama >= 0.30 the prompt is the model's own Jinja"
                + (
                    ""
                    if faithful is not False and reduced is None
                    else ", which the Go path cannot match"
                )
                + "; the TEMPLATE serves Ollama < 0.30 (and OLLAMA_GO_TEMPLATE=1)"
            )
        faithful_new = bypassed or (new.path is PromptPath.GO_TEMPLATE and faithful is not False)
        if go_wins_unfaithful:
            bad = [r.name for r in suite.compared if not r.identical] if suite else []
            warnings.append(
                f"Ollama >= 0.30 uses this TEMPLATE, which does not reproduce the model's tool/thinking "
                f"prompts ({', '.join(bad) or 'tool calls not parsed'}); --template-path native lets "
                "Ollama >= 0.30 render the model's own chat template"
            )
        lost = [
            c
            for c in (old.refuses_tools and "tools", old.refuses_think and "thinking")
            if c and c in (new.chat_template.capabilities or [])
        ]
        if lost:
            comments.append(
                f"  on Ollama < 0.30 requests with {' or '.join(lost)} are refused (the TEMPLATE lacks them)"
            )
    return PathChoice(
        requested=requested,
        template_path="native_jinja" if native else "go_template",
        new_servers=new,
        old_servers=old,
        tool_suite=suite,
        go_faithful=faithful,
        tool_calls_parsed=parsed,
        faithful_on_new=faithful_new,
        comments=comments,
        warnings=warnings,
        go_template=reduced or go_template,
        go_system=system,
        template_changed=reduced is not None,
    )


def _builtin_choice(
    rule: BuiltinRenderer,
    arch: str,
    go_template: str | None,
    system: str | None,
    chat_template: str | None,
    requested: TemplatePathMode,
) -> PathChoice:
    """RENDERER/PARSER from the allowlist, no TEMPLATE: what Ollama >= the rule's release does anyway."""
    since = version_text(rule.since)

    def predict(version: str) -> ServerPath:
        return predict_server_path(
            go_template=None,
            chat_template=chat_template,
            renderer=rule.renderer,
            parser=rule.parser,
            architecture=arch,
            server_version=version,
        )

    new, old = predict(NEW_SERVER), predict(OLD_SERVER)
    why = (
        "native requested, but Ollama cannot render this architecture's Jinja: create sets the pair"
        if requested == "native"
        else "Ollama's create sets this pair for the architecture and it wins over any TEMPLATE"
    )
    comments = [
        f"template path: builtin_renderer, RENDERER {rule.renderer} / PARSER {rule.parser} "
        f"(forge's allowlist for architecture {arch}; {why})",
        "  Ollama's own Go code builds the prompt and parses tool calls and thinking; forge does not "
        "compare it byte for byte with the model's chat template",
        f"server path >= 0.30: {new.path.value} (prompt {new.prompt_source}, output {new.output_parser})",
        f"  Ollama < {since} (assumed first release of this auto-set and renderer): it may not know "
        f"renderer {rule.renderer} (chat fails 'unknown renderer'), Ollama < 0.12 rejects the RENDERER "
        "line; for such servers write the Go TEMPLATE (forge modelfile --template-path go)",
    ]
    if go_template:
        comments.append(
            "  the Go TEMPLATE forge has for this model is not written: RENDERER wins over any TEMPLATE"
        )
    warnings = [
        f"RENDERER {rule.renderer} / PARSER {rule.parser} written (built-in renderer path): Ollama "
        f"older than {since} (assumed) may not know them; --template-path go writes a Go TEMPLATE "
        "for such servers"
    ]
    return PathChoice(
        requested=requested,
        template_path="builtin_renderer",
        renderer=rule.renderer,
        parser=rule.parser,
        new_servers=new,
        old_servers=old,
        faithful_on_new=False,
        comments=comments,
        warnings=warnings,
        go_template=go_template,
        go_system=system,
    )


def choose_for_build(
    modelfile: Any, info: Any, template_source: str, requested: TemplatePathMode = "auto"
) -> PathChoice:
    """:func:`choose_path` for the planner: the chosen Modelfile and the GGUF's metadata."""
    tokens = {kind: tok.text for kind, tok in (info.special_tokens or {}).items() if tok.text}
    choice = choose_path(
        modelfile.template,
        modelfile.system,
        info.chat_template,
        bos_token=tokens.get("bos", ""),
        eos_token=tokens.get("eos", ""),
        add_bos_token=bool(info.add_bos_token),
        model_family=info.architecture,
        requested=requested,
        native_when_unfaithful=True,
        architecture=info.architecture,
    )
    choice.go_source = template_source
    if (
        choice.template_path == "native_jinja"
        and requested == "auto"
        and template_source == "synthesized"
    ):
        fallback = _without_tools(modelfile.system, info, tokens)
        if fallback is not None:
            return fallback
    return choice


def _without_tools(system: str | None, info: Any, tokens: dict[str, str]) -> PathChoice | None:
    """A synthesised TEMPLATE without tool support, if it verifies and Ollama >= 0.30 bypasses it:
    older servers then keep a verified TEMPLATE for chat instead of none."""

    bos, eos, add_bos = tokens.get("bos", ""), tokens.get("eos", ""), bool(info.add_bos_token)
    try:
        synth = synthesize_template(
            info.chat_template, bos_token=bos, eos_token=eos, add_bos_token=add_bos, tools=False
        )
        if (
            synth is None
            or not verify_template(
                synth.go_template,
                system,
                info.chat_template,
                bos_token=bos,
                eos_token=eos,
                add_bos_token=add_bos,
                special_tokens=tokens,
            ).matched
        ):
            return None
    except ForgeError:
        return None

    for template in dict.fromkeys(
        [synth.go_template, drop_thinking_declaration(synth.go_template)]
    ):
        alt = choose_path(
            template,
            system,
            info.chat_template,
            bos_token=bos,
            eos_token=eos,
            add_bos_token=add_bos,
            model_family=info.architecture,
            requested="go",
        )
        if alt.new_servers.path is PromptPath.NATIVE_JINJA:
            at = next(i for i, c in enumerate(alt.comments) if c.startswith("server path"))
            alt.comments.insert(
                at,
                "  the TEMPLATE leaves out tool support so that Ollama >= 0.30 renders the "
                "model's own Jinja (tools are refused on Ollama < 0.30)",
            )
            return alt.model_copy(
                update={"requested": "auto", "template_changed": True, "go_source": "synthesized"}
            )
    return None
