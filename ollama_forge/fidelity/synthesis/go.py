"""The Go template text of a synthesised template (and a Python mirror of it for self-checks).

Every literal is written as a quoted Go string action (``{{ "<|im_end|>\\n" }}``) so the
template's own layout whitespace can be trimmed with ``{{-`` without touching prompt text.
Sentinels in recovered literals become Go expressions: dates printed by ``strftime_now`` map onto
Ollama's ``currentDate`` (``YYYY-MM-DD``, sliced, months named by an if-chain), the probe tools'
definitions onto a ``range $.Tools`` loop, the tool name / call id onto the message's fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ...gotemplate.literals import go_quote as go_string
from ..jinja import DATE_MARK_CLOSE, DATE_MARK_OPEN
from .plan import Plan

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _date_go(fmt: str) -> str | None:
    """Go template text printing ``strftime(fmt)`` of today from Ollama's currentDate (YYYY-MM-DD)."""
    out: list[str] = []
    i = 0
    literal = ""
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or i + 1 >= len(fmt):
            literal += ch
            i += 1
            continue
        code = fmt[i + 1]
        i += 2
        if literal:
            out.append("{{ " + go_string(literal) + " }}")
            literal = ""
        if code == "Y":
            out.append("{{ slice (currentDate) 0 4 }}")
        elif code == "y":
            out.append("{{ slice (currentDate) 2 4 }}")
        elif code == "m":
            out.append("{{ slice (currentDate) 5 7 }}")
        elif code == "d":
            out.append("{{ slice (currentDate) 8 10 }}")
        elif code in "bB":
            names = [m[:3] if code == "b" else m for m in _MONTHS]
            chain = "".join(
                ("{{ if " if n == 0 else "{{ else if ")
                + f'eq (slice (currentDate) 5 7) "{n + 1:02d}" }}}}{name}'
                for n, name in enumerate(names)
            )
            out.append(chain + "{{ end }}")
        elif code == "%":
            literal += "%"
        else:
            return None
    if literal:
        out.append("{{ " + go_string(literal) + " }}")
    return "".join(out)


_SENTINEL = re.compile("\x02(date:[^\x03]*|tools|toolname|toolcallid)\x03")


def go_text(text: str, subs: Mapping[str, str] | None = None) -> str | None:
    """Go template text emitting ``text``: date markers become currentDate expressions, other
    sentinels (tool definitions, tool name / call id) the Go snippets in ``subs``."""
    out: list[str] = []
    pos = 0
    for match in _SENTINEL.finditer(text):
        if match.start() > pos:
            out.append("{{ " + go_string(text[pos : match.start()]) + " }}")
        key = match.group(1)
        if key.startswith("date:"):
            date = _date_go(key[5:])
            if date is None:
                return None
            out.append(date)
        elif subs and key in subs:
            out.append(subs[key])
        else:
            return None
        pos = match.end()
    if pos < len(text):
        out.append("{{ " + go_string(text[pos:]) + " }}")
    return "".join(out)


def _lit(text: str, subs: Mapping[str, str] | None = None) -> str:
    rendered = go_text(text, subs)
    if rendered is None:
        raise _Unexpressible("a strftime_now format forge cannot map onto currentDate")
    return rendered


class _Unexpressible(Exception):
    pass


def build_go_template(plans: Mapping[str, Plan]) -> str:
    """The Go template text for recovered plans.

    ``plans`` holds ``none`` and, when think changes the prompt, ``on``/``off``; each may have a
    ``<mode>_tools`` twin used when the request has tools.
    """

    def mode(name: str) -> str:
        plain = plans.get(name, plans["none"])
        tools = plans.get(f"{name}_tools")
        if tools is None:
            return _body(plain)
        return (
            "{{- if $.Tools }}\n" + _body(tools) + "\n{{- else }}\n" + _body(plain) + "\n{{- end }}"
        )

    none_text = mode("none")
    on_text = mode("on") if "on" in plans or "on_tools" in plans else none_text
    off_text = mode("off") if "off" in plans or "off_tools" in plans else none_text
    if on_text == none_text and off_text == none_text:
        return none_text
    return (
        "{{- if and .IsThinkSet (not .Think) }}\n"
        + off_text
        + "\n{{- else if .Think }}\n"
        + on_text
        + "\n{{- else }}\n"
        + none_text
        + "\n{{- end }}"
    )


def _body(plan: Plan) -> str:
    subs: dict[str, str] = {"toolname": "{{ $m.ToolName }}", "toolcallid": "{{ $m.ToolCallID }}"}
    tools = plan.tools
    if tools is not None:
        subs["tools"] = tools.loop_go()

    def lit(text: str) -> str:
        return _lit(text, subs)

    lines: list[str] = []
    if plan.sys_mode == "block":
        if plan.default_system is not None or not plan.head:
            lines.append(
                "{{- if $.System }}"
                + lit(plan.sys_open)
                + "{{ $.System }}"
                + lit(plan.sys_close)
                + "{{ end }}"
            )
        else:
            lines.append(
                "{{- if $.System }}"
                + lit(plan.sys_open)
                + "{{ $.System }}"
                + lit(plan.sys_close)
                + "{{ else }}"
                + lit(plan.head)
                + "{{ end }}"
            )
    elif plan.sys_mode in ("first_user", "last_user"):
        lines.append(
            "{{- if $.System }}" + lit(plan.sys_open) + "{{ else }}" + lit(plan.head) + "{{ end }}"
        )
    elif plan.head:
        lines.append("{{- " + lit(plan.head).removeprefix("{{ "))
    # `.Messages`, `.ToolCalls`, `.Thinking` as fields (dot is the message inside the range): Ollama
    # reads its thinking tags and tool-call tag only from field nodes and the raw text around them.
    lines.append("{{- range $i, $m := .Messages }}")
    lines.append("{{- $last := eq (len (slice $.Messages $i)) 1 }}")
    user = '{{- if eq $m.Role "user" }}' + lit(plan.user_open)
    if plan.sys_mode == "first_user":
        user += (
            "{{ if and $.System (eq $i 1) }}"
            + lit(plan.sys_inline_open)
            + "{{ $.System }}"
            + lit(plan.sys_inline_close)
            + "{{ end }}"
        )
    elif plan.sys_mode == "last_user":
        user += (
            "{{ if and $.System $last }}"
            + lit(plan.sys_inline_open)
            + "{{ $.System }}"
            + lit(plan.sys_inline_close)
            + "{{ end }}"
        )
    user += (
        "{{ $m.Content }}" + lit(plan.user_close) + "{{ if $last }}" + lit(plan.gen) + "{{ end }}"
    )
    lines.append(user)
    asst = '{{- else if eq $m.Role "assistant" }}'
    open_go = lit(plan.asst_open)
    track_prev = tools is not None and (
        tools.asst_open_after_tool != plan.asst_open or tools.tool_open_after_tool is not None
    )
    if track_prev:
        open_go = (
            '{{ if eq $prev "tool" }}'
            + lit(tools.asst_open_after_tool)
            + "{{ else }}"
            + open_go
            + "{{ end }}"
        )
    calls = tools is not None and tools.call is not None
    if calls:
        asst += tools.assistant_go() + "{{ else }}"
    if plan.think_open is not None:
        shown = _thinking_go(plan, lit)
        if "{{ .Thinking }}" not in shown:
            shown = declare_thinking_go(plan) + shown
        asst += "{{ if $m.Thinking }}" + shown + "{{ else }}" + open_go + "{{ end }}"
    elif plan.think_tags is not None:
        asst += declare_thinking_go(plan) + open_go
    else:
        asst += open_go
    asst += "{{ $m.Content }}{{ if not $last }}" + lit(plan.asst_close) + "{{ end }}"
    if calls:
        asst += "{{ end }}"
    lines.append(asst)
    if tools is not None:
        tool_open, tool_close = lit(tools.tool_open), lit(tools.tool_close)
        if tools.tool_open_after_tool is not None and tools.tool_close_before_tool is not None:
            # grouped results: the text between two consecutive tool messages differs
            tool_open = (
                '{{ if eq $prev "tool" }}'
                + lit(tools.tool_open_after_tool)
                + "{{ else }}"
                + tool_open
                + "{{ end }}"
            )
            tool_close = (
                "{{ if $last }}"
                + tool_close
                + "{{ else if eq (index (slice $.Messages $i) 1).Role "
                '"tool" }}'
                + lit(tools.tool_close_before_tool)
                + "{{ else }}"
                + tool_close
                + "{{ end }}"
            )
        lines.append(
            '{{- else if eq $m.Role "tool" }}'
            + tool_open
            + "{{ $m.Content }}"
            + tool_close
            + "{{ if $last }}"
            + lit(tools.gen_after_tool)
            + "{{ end }}"
        )
    if track_prev:
        lines.insert(lines.index("{{- range $i, $m := .Messages }}"), '{{- $prev := "" }}')
        lines.append("{{- end }}")
        lines.append("{{- $prev = $m.Role }}")
        lines.append("{{- end }}")
        return "\n".join(lines)
    lines.append("{{- end }}")
    lines.append("{{- end }}")
    return "\n".join(lines)


_TAG = re.compile(
    r"<\|[^|<>\s]{1,40}\|>|<[/A-Za-z_][\w.:/-]{0,30}>|\[/?[A-Z_]{2,30}\]|<｜[^｜]{1,40}｜>"
)


def raw_text(text: str) -> str | None:
    """``text`` as raw template text, when Go's lexer reads it back exactly (no delimiter inside)."""
    return text if text and "{{" not in text and "}}" not in text and text.strip() else None


def _thinking_go(plan: Plan, lit: Callable[[str], str]) -> str:
    """An earlier turn's reasoning. The tags around ``{{ .Thinking }}`` are written as raw text in
    their own list, so that Ollama infers them (thinking.InferTags) and offers ``think``."""
    think_open = plan.think_open or ""
    if not plan.think_shown:
        return lit(think_open) + lit(plan.think_close)
    opening = list(_TAG.finditer(think_open))
    closing = _TAG.search(plan.think_close)
    if opening and closing:
        start, end = opening[-1].start(), closing.end()
        head, raw_open = think_open[:start], raw_text(think_open[start:])
        raw_close, tail = raw_text(plan.think_close[:end]), plan.think_close[end:]
        if raw_open and raw_close:
            return (
                (lit(head) if head else "")
                + "{{ if .Thinking }}"
                + raw_open
                + "{{ .Thinking }}"
                + raw_close
                + "{{ end }}"
                + (lit(tail) if tail else "")
            )
    return lit(think_open) + "{{ $m.Thinking }}" + lit(plan.think_close)


_DECLARATION = re.compile(r"\{\{ if false \}\}[^{}]*\{\{ \.Thinking \}\}[^{}]*\{\{ end \}\}")


def drop_thinking_declaration(go_template: str) -> str:
    """The template without the never-printing branches :func:`declare_thinking_go` writes (it
    renders the same prompts; Ollama then infers no reasoning tags and refuses ``think``)."""
    return _DECLARATION.sub("", go_template)


def declare_thinking_go(plan: Plan) -> str:
    """A branch that never prints, holding the model's reasoning tags around ``{{ .Thinking }}``:
    the template drops earlier reasoning, but Ollama infers the tags (and offers ``think``) from
    such a node only."""
    if plan.think_tags is None:
        return ""
    opening, closing = (raw_text(t) for t in plan.think_tags)
    if not opening or not closing:
        return ""
    return "{{ if false }}" + opening + "{{ .Thinking }}" + closing + "{{ end }}"


def render_plan(
    plans: Mapping[str, Plan],
    messages: list[dict[str, Any]],
    *,
    system: str | None = None,
    think: bool | None = None,
    date_text: Any = None,
) -> str:
    """What the Go template built from ``plans`` prints (Ollama chat semantics), computed in Python.

    Synthesis' own quick self-check; the real judge is verify_template through render_prompt.
    """
    import datetime

    plan = plans["none"] if think is None else plans.get("on" if think else "off", plans["none"])

    def lit(text: str) -> str:
        def repl(match: re.Match[str]) -> str:
            return (date_text or datetime.date.today()).strftime(match.group(1))

        return re.sub(re.escape(DATE_MARK_OPEN) + "(.*?)" + re.escape(DATE_MARK_CLOSE), repl, text)

    msgs = list(messages)
    if system and (not msgs or msgs[0].get("role") != "system"):
        msgs.insert(0, {"role": "system", "content": system})
    sys_text = "\n\n".join(m.get("content", "") for m in msgs if m.get("role") == "system")
    out: list[str] = []
    if plan.sys_mode == "block":
        if sys_text:
            out.append(lit(plan.sys_open) + sys_text + lit(plan.sys_close))
        elif plan.default_system is None:
            out.append(lit(plan.head))
    elif plan.sys_mode in ("first_user", "last_user"):
        out.append(lit(plan.sys_open) if sys_text else lit(plan.head))
    else:
        out.append(lit(plan.head))
    for i, m in enumerate(msgs):
        last = i == len(msgs) - 1
        role, content = m.get("role"), m.get("content", "")
        if role == "user":
            out.append(lit(plan.user_open))
            if sys_text and (
                (plan.sys_mode == "first_user" and i == 1)
                or (plan.sys_mode == "last_user" and last)
            ):
                out.append(lit(plan.sys_inline_open) + sys_text + lit(plan.sys_inline_close))
            out.append(content + lit(plan.user_close))
            if last:
                out.append(lit(plan.gen))
        elif role == "assistant":
            if plan.think_open is not None and m.get("thinking"):
                out.append(
                    lit(plan.think_open)
                    + (m["thinking"] if plan.think_shown else "")
                    + lit(plan.think_close)
                )
            else:
                out.append(lit(plan.asst_open))
            out.append(content)
            if not last:
                out.append(lit(plan.asst_close))
    return "".join(out)
