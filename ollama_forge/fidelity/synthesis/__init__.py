"""Synthesise an Ollama Go TEMPLATE from a model's own Jinja chat template, by probing.

For a model no family covers, forge renders the model's chat template (in the sandbox) over
probe conversations whose contents are unique markers, splits each rendering at the markers and
recovers the literal text around every role: the head (BOS, built-in default system block),
per-role prefixes and suffixes, the generation prompt, where a system message goes (its own
block, or folded into the first or the last user message) and the text printed by
``strftime_now`` (mapped onto Ollama's ``currentDate``). Thinking is recovered from the
generation prompt under ``think`` on/off and from an assistant turn carrying ``thinking``;
tools are recovered by :mod:`ollama_forge.fidelity.synthesis.tools` when the probes show a shape it can
express.

The result is written as a ``.Messages`` Go template in which every literal is a quoted Go
string action (``{{ "<|im_end|>\\n" }}``), so the template's own layout whitespace can be
trimmed freely without touching the prompt text. It is only a *candidate*: callers verify it
with :func:`ollama_forge.fidelity.compare.verify_template` on the whole conversation suite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ...errors import ChatTemplateError
from ...gotemplate.literals import go_quote as go_string
from ..jinja import (
    DATE_MARK_OPEN,
    HOSTILE_KINDS,
    render_chat_template,
    special_token_kwargs,
)
from .go import _Unexpressible, build_go_template, go_text, render_plan
from .plan import Plan

__all__ = [
    "Plan",
    "SynthesizedTemplate",
    "build_go_template",
    "go_string",
    "go_text",
    "recover_plans",
    "render_plan",
    "synthesis_failure_reason",
    "synthesize_template",
]

U1, A1, U2, A2, U3 = "qzxU1xzq", "qzxA1xzq", "qzxU2xzq", "qzxA2xzq", "qzxU3xzq"
S1, T1 = "qzxS1xzq", "qzxT1xzq"
_SPECIAL = re.compile(
    r"<\|[^|<>\s]{1,40}\|>|<[A-Za-z_][\w.:-]{0,30}>|</s>|\[/?[A-Z_]{2,30}\]|<｜[^｜]{1,40}｜>"
)


class SynthesizedTemplate(BaseModel):
    """An Ollama Go template derived from a chat template (unverified until verify_template says so)."""

    go_template: str
    stop: list[str] = Field(default_factory=list, description="turn terminators the probes found")
    supports_tools: bool = False
    supports_thinking: bool = False
    default_system: str | None = Field(
        default=None, description="the template's built-in system prompt"
    )
    notes: list[str] = Field(default_factory=list)


class _Prober:
    def __init__(self, chat_template: str, bos: str, eos: str, extra: Mapping[str, Any]) -> None:
        self.template, self.bos, self.eos, self.extra = chat_template, bos, eos, dict(extra)
        self.errors: list[str] = []

    def render(self, messages: list[dict[str, Any]], gen: bool, **kw: Any) -> str | None:
        try:
            return render_chat_template(
                self.template,
                messages,
                add_generation_prompt=gen,
                bos_token=self.bos,
                eos_token=self.eos,
                date_marker=True,
                **{**self.extra, **kw},
            )
        except ChatTemplateError as exc:
            if exc.kind in HOSTILE_KINDS:
                raise  # a hostile or broken template: stop probing at once
            self.errors.append(exc.message)
            return None


def _split(text: str | None, markers: list[str]) -> list[str] | None:
    """Literal pieces around ``markers`` (each must occur exactly once, in order)."""
    if text is None:
        return None
    pieces: list[str] = []
    pos = 0
    for marker in markers:
        if text.count(marker) != 1:
            return None
        idx = text.find(marker, pos)
        if idx < 0:
            return None
        pieces.append(text[pos:idx])
        pos = idx + len(marker)
    pieces.append(text[pos:])
    return pieces


def _lcp(*texts: str) -> str:
    if not texts:
        return ""
    first = min(texts, key=len)
    for i, ch in enumerate(first):
        if any(t[i] != ch for t in texts):
            return first[:i]
    return first


def _u(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _a(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


def _s(text: str) -> dict[str, Any]:
    return {"role": "system", "content": text}


def _recover_turns(p: _Prober, plan: Plan) -> bool:
    five = _split(p.render([_u(U1), _a(A1), _u(U2), _a(A2), _u(U3)], True), [U1, A1, U2, A2, U3])
    user_only = _split(p.render([_u(U1)], False), [U1])
    user_gen = _split(p.render([_u(U1)], True), [U1])
    ua = _split(p.render([_u(U1), _a(A1)], False), [U1, A1])
    if five is None or user_gen is None:
        plan.notes.append(
            "the template does not render a plain user/assistant conversation with its contents intact"
        )
        return False
    lead, ua_lit, au_lit, ua_lit2, au_lit2, tail = five
    if ua_lit != ua_lit2 or au_lit != au_lit2:
        plan.notes.append("turns are not periodic (the template renders earlier turns differently)")
        return False
    user_closings = [ua_lit, tail, user_gen[1]] + ([user_only[1]] if user_only else [])
    plan.user_close = _lcp(*user_closings)
    plan.asst_open = ua_lit[len(plan.user_close) :]
    plan.gen = user_gen[1][len(plan.user_close) :]
    if tail != user_gen[1]:
        plan.notes.append(
            "the generation prompt after several turns differs from the one after one turn"
        )
        return False
    asst_closings = [au_lit] + ([ua[2]] if ua and ua[2] else [])
    plan.asst_close = _lcp(*asst_closings)
    plan.user_open = au_lit[len(plan.asst_close) :]
    if not lead.endswith(plan.user_open) or user_gen[0] != lead:
        plan.notes.append("the first user turn is rendered differently from later ones")
        return False
    plan.head = lead[: len(lead) - len(plan.user_open)]
    return True


def _recover_system(p: _Prober, plan: Plan) -> None:
    rendered = p.render([_s(S1), _u(U1)], True)
    if rendered is None:
        plan.sys_mode = "refuse"
        plan.notes.append("the template refuses system messages; the Go template ignores SYSTEM")
        return
    if S1 not in rendered:
        plan.sys_mode = "drop"
        plan.notes.append("the template drops system messages")
        return
    parts = _split(rendered, [S1, U1])
    if parts is None:
        plan.sys_mode = "refuse"
        plan.notes.append("the system message is not rendered verbatim")
        return
    before, between, _after = parts
    if between.endswith(plan.user_open):
        plan.sys_mode = "block"
        plan.sys_open = before
        plan.sys_close = between[: len(between) - len(plan.user_open)]
        body = plan.head
        if (
            body.startswith(plan.sys_open)
            and body.endswith(plan.sys_close)
            and len(body) >= len(plan.sys_open) + len(plan.sys_close)
        ):
            default = body[len(plan.sys_open) : len(body) - len(plan.sys_close)]
            if default and DATE_MARK_OPEN not in default:
                plan.default_system = default
        return
    idx = before.rfind(plan.user_open) if plan.user_open else len(before)
    if idx < 0:
        plan.sys_mode = "refuse"
        plan.notes.append("the system message is placed where forge cannot express it")
        return
    plan.sys_open = before[:idx]
    plan.sys_inline_open = before[idx + len(plan.user_open) :]
    plan.sys_inline_close = between
    rendered_multi = p.render([_s(S1), _u(U1), _a(A1), _u(U2)], True)
    multi = _split(rendered_multi, [S1, U1, A1, U2])
    multi_last = _split(rendered_multi, [U1, A1, S1, U2])
    if multi is not None:
        plan.sys_mode = "first_user"
    elif multi_last is not None:
        plan.sys_mode = "last_user"
    else:
        plan.sys_mode = "refuse"
        plan.notes.append("the system message moves between turns in a way forge cannot express")


def _recover_thinking(p: _Prober, plan: Plan) -> None:
    """How an earlier assistant turn with ``thinking`` is rendered (if the template keeps it).

    ``think_open`` replaces the assistant prefix for such turns: some templates change the turn
    header itself (separate analysis/final messages), not just insert a block.
    """
    rendered = p.render([_u(U1), _a(A1, thinking=T1), _u(U2)], True)
    plain = _split(p.render([_u(U1), _a(A1), _u(U2)], True), [U1, A1, U2])
    hist = _split(rendered, [U1, T1, A1, U2])
    if hist is not None:
        _, open_part, close_part, after, _ = hist
    else:
        hidden = _split(rendered, [U1, A1, U2])  # thinking dropped, but its presence may still show
        if hidden is None or plain is None or hidden == plain:
            return
        _, open_part, after, _ = hidden
        close_part = ""
        plan.think_shown = False
    if plain is None or after != plain[2] or not open_part.startswith(plan.user_close):
        plan.notes.append(
            "an assistant turn with thinking is rendered in a way forge cannot express"
        )
        return
    plan.think_open = open_part[len(plan.user_close) :]
    plan.think_close = close_part


def stop_candidates(plan: Plan, eos_token: str) -> list[str]:
    """Turn terminators: special tokens at the start of the assistant turn's closing text, plus EOS."""
    stops: list[str] = []
    closing = (plan.asst_close or plan.user_open).lstrip()
    match = _SPECIAL.match(closing)
    if match:
        stops.append(match.group(0))
    if eos_token and eos_token in (plan.asst_close + plan.user_open) and eos_token not in stops:
        stops.append(eos_token)
    if not stops:
        stripped = plan.user_open.strip()
        if stripped:
            stops.append(stripped.splitlines()[0])
    return stops


def _probe_plan(
    chat_template: str,
    bos_token: str,
    eos_token: str,
    add_bos_token: bool,
    extra: Mapping[str, Any],
) -> tuple[Plan, bool]:
    prober = _Prober(chat_template, bos_token, eos_token, extra)
    plan = Plan()
    if not _recover_turns(prober, plan):
        if prober.errors:
            plan.notes.append(f"the template refused a probe: {prober.errors[0]}")
        return plan, False
    _recover_system(prober, plan)
    _recover_thinking(prober, plan)
    if add_bos_token and bos_token:
        for attr in ("head", "sys_open"):
            value = getattr(plan, attr)
            if value.startswith(bos_token):
                setattr(plan, attr, value[len(bos_token) :])
                if "BOS left to llama.cpp (add_bos_token)" not in plan.notes:
                    plan.notes.append("BOS left to llama.cpp (add_bos_token)")
    return plan, True


def recover_plan(
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Plan | None:
    """Probe the template under one set of template variables and recover its structure."""
    plan, ok = _probe_plan(chat_template, bos_token, eos_token, add_bos_token, extra or {})
    return plan if ok else None


def synthesis_failure_reason(
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    special_tokens: Mapping[str, str] | None = None,
) -> str:
    """Why :func:`synthesize_template` returned ``None`` for this template (probe notes)."""
    plan, ok = _probe_plan(
        chat_template, bos_token, eos_token, add_bos_token, special_token_kwargs(special_tokens)
    )
    if ok:
        try:
            build_go_template({"none": plan})
        except _Unexpressible as exc:
            return str(exc)
        return "synthesis succeeds for this template"
    return "; ".join(plan.notes) or "the template's structure is not recoverable"


_LITERAL_FIELDS = (
    "head",
    "sys_open",
    "sys_close",
    "sys_inline_open",
    "sys_inline_close",
    "user_open",
    "user_close",
    "asst_open",
    "asst_close",
    "gen",
)


def recover_tools_plan(
    chat_template: str,
    *,
    bos_token: str,
    eos_token: str,
    add_bos_token: bool,
    extra: Mapping[str, Any],
    plain: Plan,
) -> tuple[Plan | None, str]:
    """The plan used when the request has tools, or (None, why not). ``plain``: the same mode without tools."""
    from .tools import TA, TB

    with_tools = {**extra, "tools": [TA, TB]}
    try:
        return _recover_tools_plan(
            chat_template, bos_token, eos_token, add_bos_token, with_tools, plain
        )
    except ChatTemplateError as exc:  # e.g. the sandbox refuses the template's tool-call code
        return None, f"rendering tool use failed: {exc.message}"


def _recover_tools_plan(
    chat_template: str,
    bos_token: str,
    eos_token: str,
    add_bos_token: bool,
    with_tools: dict[str, Any],
    plain: Plan,
) -> tuple[Plan | None, str]:
    from .tools import find_tool_definitions, recover_tool_plan, replace_tool_definitions

    plan, ok = _probe_plan(chat_template, bos_token, eos_token, add_bos_token, with_tools)
    if not ok:
        return None, "with tools defined, " + (
            "; ".join(plan.notes) or "the turns are not recoverable"
        )
    defs = next(
        (d for d in (find_tool_definitions(getattr(plan, f)) for f in _LITERAL_FIELDS) if d), None
    )
    if defs is None:
        if any(getattr(plan, f) != getattr(plain, f) for f in _LITERAL_FIELDS):
            return (
                None,
                "the tool definitions are not rendered as tojson objects forge can re-create",
            )
        defs = (
            "none",
            "",
        )  # the template never shows tool definitions: neither does the Go template
        plan.notes.append("the template does not show tool definitions to the model")
    for name in _LITERAL_FIELDS:
        setattr(plan, name, replace_tool_definitions(getattr(plan, name), *defs))
    prober = _Prober(chat_template, bos_token, eos_token, with_tools)
    tool_plan, why = recover_tool_plan(
        prober.render, plan.user_close, plan.asst_open, U1, A1, U2, defs
    )
    if tool_plan is None:
        return None, why
    plan.tools = tool_plan
    return plan, ""


_THINK_PAIRS = re.compile(r"<(/?)([\w:.-]*(?:think|thought|reason)[\w:.-]*)>|\[(/?)(THINK)\]", re.I)


def thinking_tags(chat_template: str) -> tuple[str, str] | None:
    """The opening and closing reasoning tags a template writes (``<think>``/``</think>``, ``[THINK]``...)."""
    opened: list[str] = []
    for match in _THINK_PAIRS.finditer(chat_template):
        slash, name = (
            (match.group(1), match.group(2)) if match.group(2) else (match.group(3), match.group(4))
        )
        angle = match.group(2) is not None
        if not slash:
            opened.append(name)
        elif name in opened:
            return (f"<{name}>", f"</{name}>") if angle else (f"[{name}]", f"[/{name}]")
    return None


def recover_plans(
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    extra: Mapping[str, Any] | None = None,
    tools: bool = True,
) -> dict[str, Plan] | None:
    """Plans for think unset / on / off (``on``/``off`` only when the template reacts to them),
    each with a ``<mode>_tools`` twin when tool use is recoverable."""
    from ..conversations import think_kwargs

    base = dict(extra or {})
    none = recover_plan(
        chat_template,
        bos_token=bos_token,
        eos_token=eos_token,
        add_bos_token=add_bos_token,
        extra=base,
    )
    if none is None:
        return None
    plans = {"none": none}
    for mode, flag in (("on", True), ("off", False)):
        plan = recover_plan(
            chat_template,
            bos_token=bos_token,
            eos_token=eos_token,
            add_bos_token=add_bos_token,
            extra={**base, **think_kwargs(flag)},
        )
        if plan is None:
            none.notes.append(
                f"think={str(flag).lower()} changes the template beyond what forge can express"
            )
        elif plan != none:
            plans[mode] = plan
    if tools and any(word in chat_template for word in ("tools", "tool_call")):
        for mode in list(plans):
            flags = think_kwargs({"none": None, "on": True, "off": False}[mode])
            tools_plan, why = recover_tools_plan(
                chat_template,
                bos_token=bos_token,
                eos_token=eos_token,
                add_bos_token=add_bos_token,
                extra={**base, **flags},
                plain=plans[mode],
            )
            if tools_plan is not None:
                plans[f"{mode}_tools"] = tools_plan
            elif mode == "none":
                none.notes.append(f"no tool support: {why}")
                break
    # Reasoning tags are declared where the template has a thinking mode, shows reasoning, or
    # passes Ollama's own test for thinking templates (both <think> and </think> in its text).
    thinks = (
        "on" in plans
        or "off" in plans
        or any(p.think_open is not None for p in plans.values())
        or ("<think>" in chat_template and "</think>" in chat_template)
    )
    tags = thinking_tags(chat_template) if thinks else None
    for plan in plans.values():
        plan.think_tags = tags
    if len({p.default_system for p in plans.values()}) > 1:
        # The built-in system prompt depends on think or tools: it lives in the template, not in SYSTEM.
        for plan in plans.values():
            plan.default_system = None
    return plans


def synthesize_template(
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
    self_check: bool = True,
    tools: bool = True,
) -> SynthesizedTemplate | None:
    """Derive an Ollama Go template from a Jinja chat template by probing; ``None`` when impossible.

    ``special_tokens`` (kind -> text) reach the template as ``<kind>_token`` variables, as a
    tokenizer's special tokens map does. When ``add_bos_token`` is true a BOS the template prints
    first is left to llama.cpp (it adds BOS at tokenisation) and not written. Raises
    :class:`ChatTemplateError` when the template is broken or hostile (syntax error, sandbox
    refusal, runaway loop, output or memory limit); returns ``None`` when it renders but its
    structure cannot be expressed as a Go template (``synthesis_failure_reason`` explains).
    With ``self_check``, tool support recovered from probes is verified on the suite's tool
    conversations and dropped (with a note) when it does not reproduce them; ``tools=False``
    leaves tool support out from the start.
    """
    extra: dict[str, Any] = special_token_kwargs(special_tokens)
    extra.update(template_kwargs or {})
    plans = recover_plans(
        chat_template,
        bos_token=bos_token,
        eos_token=eos_token,
        add_bos_token=add_bos_token,
        extra=extra,
        tools=tools,
    )
    if plans is None:
        return None
    try:
        result = _result(plans, eos_token)
    except _Unexpressible:
        return None
    if self_check and result.supports_tools:
        # Tool use recovered from probes is kept only if it reproduces the suite's tool conversations.
        from ..compare import verify_template

        report = verify_template(
            result.go_template,
            result.default_system,
            chat_template,
            bos_token=bos_token,
            eos_token=eos_token,
            add_bos_token=add_bos_token,
            special_tokens=special_tokens,
        )
        failed = [r for r in report.mismatches if r.name in _TOOL_CONVERSATIONS]
        if failed:
            plain = {k: v for k, v in plans.items() if not k.endswith("_tools")}
            result = _result(plain, eos_token)
            first = failed[0]
            where = (
                f"at line {first.first_difference.line}"
                if first.first_difference
                else (first.error or "")
            )
            result.notes.append(
                f"tool support dropped: the recovered tool format fails {first.name} {where}"
            )
    return result


_TOOL_CONVERSATIONS = frozenset({"tools_defined", "tool_call", "tool_round_trip"})


def _result(plans: Mapping[str, Plan], eos_token: str) -> SynthesizedTemplate:
    none = plans["none"]
    go = build_go_template(plans)
    notes = list(none.notes)
    thinks = "on" in plans or "off" in plans
    if thinks:
        notes.append("think on/off changes the prompt: the template branches on .Think")
    defaults = {p.default_system for p in plans.values()}
    if any(name.endswith("_tools") for name in plans):
        notes.append(
            "tool arguments and parameter properties print in sorted key order (Go ranges over maps "
            "sorted); the model's own template keeps the caller's order"
        )
    return SynthesizedTemplate(
        go_template=go,
        stop=stop_candidates(none, eos_token),
        supports_tools=any(name.endswith("_tools") for name in plans),
        supports_thinking=thinks or any(p.think_open is not None for p in plans.values()),
        default_system=none.default_system if len(defaults) == 1 else None,
        notes=notes,
    )
