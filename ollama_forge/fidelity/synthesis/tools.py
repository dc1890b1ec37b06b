"""Tool support for synthesised templates: definitions, calls and results recovered by probing.

Split out of :mod:`ollama_forge.fidelity.synthesis` (same approach, separate concern). With probe tools
whose names and descriptions are markers, the chat template's rendering is searched for

* the **tool definitions**: each tool serialised by ``tojson`` (the whole tool or its
  ``function``), consecutive tools joined by a separator. They become a ``range $.Tools`` loop
  that re-serialises Ollama's Tool struct field by field in Python's ``json.dumps`` layout
  (``", "`` and ``": "`` separators), since Ollama's ``json`` is compact Go JSON;
* the **tool calls** of an assistant message: literal text around the function name, the call
  id and the arguments (as a ``tojson`` object, or key/value pairs with their own literals);
* the **tool results**: the tool message's prefix and suffix, and what follows it.

What cannot be recovered leaves the template without tool support (the verify report then says
the model's tool support is lost), never a guessed format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...gotemplate.literals import go_quote as go_string
from .go import _TAG, raw_text

TOOLS_MARK = "\x02tools\x03"

TA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "qzxNAxzq",
        "description": "qzxDAxzq",
        "parameters": {
            "type": "object",
            "required": ["qzxPAxzq"],
            "properties": {"qzxPAxzq": {"type": "string", "description": "qzxEAxzq"}},
        },
    },
}
TB: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "qzxNBxzq",
        "description": "qzxDBxzq",
        "parameters": {
            "type": "object",
            "required": ["qzxPBxzq"],
            "properties": {"qzxPBxzq": {"type": "string", "description": "qzxEBxzq"}},
        },
    },
}
CALL_IDS = ("qzxIAxzqa", "qzxIBxzqb")  # 9 alphanumerics: Mistral templates insist
CALL_NAMES = ("qzxCAxzq", "qzxCBxzq")
ARGS = ({"qzxKAxzq": "qzxVAxzq", "qzxKBxzq": "qzxVBxzq"}, {"qzxKCxzq": "qzxVCxzq"})
RESULTS = ("qzxRAxzq", "qzxRBxzq")


def go_str(text: str) -> str:

    return "{{ " + go_string(text) + " }}" if text else ""


# --- Python-json layout emitted from Ollama's structs ---------------------------------------


def _list_go(expr: str, var: str) -> str:
    return (
        go_str("[")
        + "{{ range "
        + var
        + "i, "
        + var
        + " := "
        + expr
        + " }}{{ if "
        + var
        + "i }}"
        + go_str(", ")
        + "{{ end }}{{ json "
        + var
        + " }}{{ end }}"
        + go_str("]")
    )


def function_json_go(fn: str) -> str:
    """``json.dumps(tool.function)`` for Ollama's ToolFunction at ``fn`` (name, description, parameters)."""
    params = fn + ".Parameters"
    props = (
        go_str(', "properties": {')
        + "{{ $pfirst := true }}{{ range $pk, $pv := "
        + params
        + ".Properties }}"
        "{{ if not $pfirst }}"
        + go_str(", ")
        + "{{ end }}{{ $pfirst = false }}{{ json $pk }}"
        + go_str(': {"type": ')
        + "{{ json $pv.Type }}"
        "{{ if $pv.Description }}"
        + go_str(', "description": ')
        + "{{ json $pv.Description }}{{ end }}"
        "{{ if $pv.Enum }}"
        + go_str(', "enum": ')
        + _list_go("$pv.Enum", "$pe")
        + "{{ end }}"
        + go_str("}")
        + "{{ end }}"
        + go_str("}")
    )
    return (
        go_str('{"name": ')
        + "{{ json "
        + fn
        + ".Name }}"
        + go_str(', "description": ')
        + "{{ json "
        + fn
        + ".Description }}"
        + go_str(', "parameters": {"type": ')
        + "{{ json "
        + params
        + ".Type }}"
        + "{{ if "
        + params
        + ".Required }}"
        + go_str(', "required": ')
        + _list_go(params + ".Required", "$pr")
        + "{{ end }}"
        + props
        + go_str("}}")
    )


def tool_json_go(tool: str, kind: str) -> str:
    if kind == "function":
        return function_json_go(tool + ".Function")
    return (
        go_str('{"type": ')
        + "{{ json "
        + tool
        + ".Type }}"
        + go_str(', "function": ')
        + function_json_go(tool + ".Function")
        + go_str("}")
    )


def args_json_go(args: str) -> str:
    """``json.dumps(arguments)`` for a tool call's arguments map."""
    return (
        go_str("{")
        + "{{ $afirst := true }}{{ range $ak, $av := "
        + args
        + " }}{{ if not $afirst }}"
        + go_str(", ")
        + "{{ end }}{{ $afirst = false }}{{ json $ak }}"
        + go_str(": ")
        + "{{ json $av }}{{ end }}"
        + go_str("}")
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def find_tool_definitions(text: str) -> tuple[str, str] | None:
    """(kind, separator) when TA and TB are rendered by ``tojson``, in order."""
    for kind in ("tool", "function"):
        a = _dumps(TA if kind == "tool" else TA["function"])
        b = _dumps(TB if kind == "tool" else TB["function"])
        i, j = text.find(a), text.find(b)
        if i >= 0 and j > i + len(a) and text.count(a) == 1 and text.count(b) == 1:
            return kind, text[i + len(a) : j]
    return None


def replace_tool_definitions(text: str, kind: str, sep: str) -> str:
    if kind == "none":
        return text
    a = _dumps(TA if kind == "tool" else TA["function"])
    b = _dumps(TB if kind == "tool" else TB["function"])
    return text.replace(a + sep + b, TOOLS_MARK)


def tools_loop_go(kind: str, sep: str) -> str:
    if kind == "none":
        return ""
    return (
        "{{ range $ti, $t := $.Tools }}{{ if $ti }}"
        + go_str(sep)
        + "{{ end }}"
        + tool_json_go("$t", kind)
        + "{{ end }}"
    )


# --- tool calls -----------------------------------------------------------------------------


@dataclass
class CallFormat:
    """One tool call: literal pieces around the name, id and arguments (in rendering order)."""

    pieces: list[tuple[str, str]]  # (kind, literal-or-field): "lit" text, or "name" / "id" / "args"
    args_mode: str = "json"  # json | pairs
    pair_open: str = ""
    pair_mid: str = ""
    pair_close: str = ""
    pair_sep: str = ""
    json_values: bool = (
        False  # non-string values written as JSON (``v | tojson if v is not string else v``)
    )

    def _value_go(self) -> str:
        if not self.json_values:
            return "{{ $av }}"
        return '{{ if eq (printf "%T" $av) "string" }}{{ $av }}{{ else }}{{ json $av }}{{ end }}'

    def go(self, var: str, raw_first: bool = False) -> str:

        out: list[str] = []
        for i, (kind, value) in enumerate(self.pieces):
            if kind == "lit":
                raw = raw_text(value) if raw_first and i == 0 else None
                out.append(raw if raw is not None else go_str(value))
            elif kind == "name":
                out.append("{{ " + var + ".Function.Name }}")
            elif kind == "id":
                out.append("{{ " + var + ".ID }}")
            elif self.args_mode == "json":
                out.append(args_json_go(var + ".Function.Arguments"))
            else:
                out.append(
                    "{{ $afirst := true }}{{ range $ak, $av := " + var + ".Function.Arguments }}"
                    "{{ if not $afirst }}"
                    + go_str(self.pair_sep)
                    + "{{ end }}{{ $afirst = false }}"
                    + go_str(self.pair_open)
                    + "{{ $ak }}"
                    + go_str(self.pair_mid)
                    + self._value_go()
                    + go_str(self.pair_close)
                    + "{{ end }}"
                )
        return "".join(out)


def _tokenize_call(region: str, name: str, call_id: str, args: dict[str, str]) -> CallFormat | None:
    """Split one rendered call into literals and fields; None when it is not recognisable."""
    spots: list[tuple[int, int, str]] = []
    for kind, needle in (("name", name), ("id", call_id)):
        start = region.find(needle)
        while start >= 0:
            spots.append((start, start + len(needle), kind))
            start = region.find(needle, start + 1)
    if not any(k == "name" for _, _, k in spots):
        return None
    fmt = CallFormat(pieces=[])
    blob = _dumps(args)
    at = region.find(blob)
    if at >= 0:
        spots.append((at, at + len(blob), "args"))
    else:
        keys = list(args)
        positions = []
        pos = 0
        for key in keys:
            k = region.find(key, pos)
            v = region.find(args[key], k + len(key)) if k >= 0 else -1
            if k < 0 or v < 0:
                return None
            positions.append((k, v))
            pos = v + len(args[key])
        if len(keys) != 2:
            return None
        (k1, v1), (k2, v2) = positions
        mid1 = region[k1 + len(keys[0]) : v1]
        mid2 = region[k2 + len(keys[1]) : v2]
        if mid1 != mid2:
            return None
        between = region[v1 + len(args[keys[0]]) : k2]
        fmt.args_mode, fmt.pair_mid, fmt.pair_sep = "pairs", mid1, between
        spots.append((k1, v2 + len(args[keys[1]]), "args"))
    spots.sort()
    pos = 0
    for start, end, kind in spots:
        if start < pos:
            return None
        if start > pos:
            fmt.pieces.append(("lit", region[pos:start]))
        fmt.pieces.append((kind, ""))
        pos = end
    fmt.pieces.append(("lit", region[pos:]))
    return fmt


def _lcs(a: str, b: str) -> str:
    """Longest common suffix."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return a[len(a) - n :] if n else ""


# --- recovery ---------------------------------------------------------------------------------

TOOL_NAME_MARK = "\x02toolname\x03"
TOOL_CALL_ID_MARK = "\x02toolcallid\x03"


@dataclass
class ToolPlan:
    """How a tools-mode plan renders tool calls and results (definitions live in the literals)."""

    defs_kind: str
    defs_sep: str
    calls_open: str  # after the assistant turn's start, before the first call
    call: CallFormat | None  # None: the template never shows tool calls (a plain assistant turn)
    call_sep: str
    calls_close: str  # after the last call, when another message follows
    tool_open: str
    tool_close: str
    gen_after_tool: str
    asst_open_after_tool: str = ""  # the assistant turn's prefix right after a tool result
    tool_open_after_tool: str | None = (
        None  # grouped results: a tool message's prefix after another one
    )
    tool_close_before_tool: str | None = None  # ... and its closing text before another one
    asst_open: str = (
        ""  # the plain assistant turn's prefix (a tool-call turn printing it first shares it)
    )

    def loop_go(self) -> str:
        """The Go range that prints the tool definitions (go.py asks the plan, so it imports no tools code)."""
        return tools_loop_go(self.defs_kind, self.defs_sep)

    def assistant_go(self, last: str = "$last") -> str:
        """``{{ if .ToolCalls }}...`` for an assistant turn with calls (its ``{{ else }}`` follows).

        Ollama's tool-call parser takes its tag from the first non-blank *raw* text inside the
        first ``{{ if .ToolCalls }}`` (a field node): the turn's header is printed before that
        block, the text that opens the calls is raw text, and separators follow a call instead of
        preceding it (an action before the text would hide it).
        """

        assert self.call is not None

        header = _lcp2(self.calls_open, self.asst_open)
        for tag in _TAG.finditer(self.calls_open):  # never cut a special token in two
            if tag.start() < len(header) < tag.end():
                header = self.calls_open[: tag.start()]
        rest = self.calls_open[len(header) :]
        raw_rest = raw_text(rest)
        head = "{{ if $m.ToolCalls }}" + go_str(header) + "{{ end }}" if header else ""
        return (
            head
            + "{{ if .ToolCalls }}"
            + (raw_rest if raw_rest is not None else go_str(rest))
            + "{{ range $ci, $c := .ToolCalls }}"
            + self.call.go("$c", raw_first=True)
            + "{{ if lt $ci (len (slice $m.ToolCalls 1)) }}"
            + go_str(self.call_sep)
            + "{{ end }}{{ end }}"
            + "{{ if not "
            + last
            + " }}"
            + go_str(self.calls_close)
            + "{{ end }}"
        )


def _hf_call(i: int) -> dict[str, Any]:
    return {
        "id": CALL_IDS[i],
        "type": "function",
        "function": {"name": CALL_NAMES[i], "arguments": ARGS[i]},
    }


def _tool_msg(i: int) -> dict[str, Any]:
    return {
        "role": "tool",
        "content": RESULTS[i],
        "name": CALL_NAMES[i],
        "tool_call_id": CALL_IDS[i],
    }


def _field_span(region: str, i: int, start: int = 0) -> tuple[int, int] | None:
    """Start and end of call ``i``'s fields (name, id, arguments) within ``region``."""
    needles = [CALL_NAMES[i], CALL_IDS[i], *ARGS[i].keys(), *ARGS[i].values()]
    found = [(region.find(n, start), n) for n in needles]
    found = [(p, n) for p, n in found if p >= 0]
    if not any(n == CALL_NAMES[i] for _, n in found):
        return None
    first, last = min(p for p, _ in found), max(p + len(n) for p, n in found)
    blob = _dumps(ARGS[i])  # arguments written by tojson: the whole object, braces included
    at = region.find(blob, start)
    if 0 <= at < last < at + len(blob):
        last = at + len(blob)
    return first, last


def _lcp2(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _json_values(render: Any, user: dict[str, Any], pair_mid: str) -> bool:
    """Whether key/value pairs print a non-string value as JSON (``true``), not as Python does (``True``)."""
    key = next(iter(ARGS[0]))
    call = {**_hf_call(0), "function": {"name": CALL_NAMES[0], "arguments": {key: True}}}
    text = render([user, {"role": "assistant", "content": "", "tool_calls": [call]}], False)
    return text is not None and f"{key}{pair_mid}true" in text


def recover_tool_plan(
    render: Any,
    user_close: str,
    asst_open: str,
    user_marker: str,
    asst_marker: str,
    user2_marker: str,
    defs: tuple[str, str],
) -> tuple[ToolPlan | None, str]:
    """Probe tool calls and results; ``render(messages, gen)`` renders with the probe tools set."""
    u = {"role": "user", "content": user_marker}
    one = render(
        [u, {"role": "assistant", "content": "", "tool_calls": [_hf_call(0)]}, _tool_msg(0)], True
    )
    two = render(
        [
            u,
            {"role": "assistant", "content": "", "tool_calls": [_hf_call(0), _hf_call(1)]},
            _tool_msg(0),
        ],
        True,
    )
    last = render([u, {"role": "assistant", "content": "", "tool_calls": [_hf_call(0)]}], False)
    after = render(
        [
            u,
            {"role": "assistant", "content": "", "tool_calls": [_hf_call(0)]},
            _tool_msg(0),
            {"role": "assistant", "content": asst_marker},
            {"role": "user", "content": user2_marker},
        ],
        True,
    )
    if one is None or two is None or after is None:
        return None, "the template does not render a tool call and its result"
    if one.count(user_marker) != 1 or one.count(RESULTS[0]) != 1:
        return None, "the tool call conversation does not render its contents verbatim"
    start = one.index(user_marker) + len(user_marker)
    result_at = one.index(RESULTS[0])
    region = one[start:result_at]
    if not region.startswith(user_close):
        return None, "a tool call turn does not follow the user turn's closing text"
    region = region[len(user_close) :]
    span = _field_span(region, 0)
    if span is None:
        return _calls_not_shown(
            render, one, region, u, user_close, asst_open, asst_marker, user2_marker, defs
        )
    call_fmt = _tokenize_call(region[span[0] : span[1]], CALL_NAMES[0], CALL_IDS[0], ARGS[0])
    if call_fmt is None:
        return None, "the tool call's arguments are rendered in a way forge cannot express"
    if call_fmt.args_mode == "pairs":
        call_fmt.json_values = _json_values(render, u, call_fmt.pair_mid)
    lead, trail = region[: span[0]], region[span[1] :]
    # two calls: the text between call A's fields and call B's fields
    start2 = two.index(user_marker) + len(user_marker) + len(user_close)
    region2 = two[start2 : two.index(RESULTS[0])]
    span_a, span_b = _field_span(region2, 0), _field_span(region2, 1)
    if span_a is None or span_b is None or span_b[0] < span_a[1] or region2[: span_a[0]] != lead:
        return None, "several tool calls are rendered in a way forge cannot express"
    inter = region2[span_a[1] : span_b[0]]
    call_open = _lcs(lead, inter)

    cut = len(lead) - len(call_open)
    for tag in _TAG.finditer(lead):  # a call's opening text never starts inside a special token
        if tag.start() < cut < tag.end():
            call_open = lead[tag.end() :]
    call_close = _lcp2(trail, inter[: len(inter) - len(call_open)])
    call_sep = inter[len(call_close) : len(inter) - len(call_open)]
    call_fmt.pieces = [("lit", call_open), *call_fmt.pieces, ("lit", call_close)]
    rest = trail[len(call_close) :]
    # the assistant's closing text (shared with "calls last") vs the tool message's prefix
    closings = [rest]
    if last is not None and last.count(user_marker) == 1:
        tail_last = last[last.index(user_marker) + len(user_marker) + len(user_close) :]
        span_last = _field_span(tail_last, 0)
        if span_last is not None:
            closings.append(tail_last[span_last[1] + len(call_close) :])
    calls_close = _lcp2(*closings) if len(closings) == 2 else ""
    tool_open = rest[len(calls_close) :]
    # the tool message's closing text: shared by "then generate" and "then the assistant answers"
    gen_tail = one[result_at + len(RESULTS[0]) :]
    if after.count(RESULTS[0]) != 1 or after.count(asst_marker) != 1:
        return None, "the turn after a tool result does not render its contents verbatim"
    to_answer = after[after.index(RESULTS[0]) + len(RESULTS[0]) : after.index(asst_marker)]
    if to_answer.endswith(asst_open) and gen_tail.startswith(
        to_answer[: len(to_answer) - len(asst_open)]
    ):
        tool_close = to_answer[: len(to_answer) - len(asst_open)]
    else:  # the assistant turn after a tool result has its own prefix (e.g. none at all)
        tool_close = _lcp2(gen_tail, to_answer)
    asst_open_after_tool = to_answer[len(tool_close) :]
    plan = ToolPlan(
        defs_kind=defs[0],
        defs_sep=defs[1],
        calls_open=lead[: len(lead) - len(call_open)],
        call=call_fmt,
        call_sep=call_sep,
        calls_close=calls_close,
        tool_open=tool_open.replace(CALL_IDS[0], TOOL_CALL_ID_MARK).replace(
            CALL_NAMES[0], TOOL_NAME_MARK
        ),
        tool_close=tool_close.replace(CALL_IDS[0], TOOL_CALL_ID_MARK).replace(
            CALL_NAMES[0], TOOL_NAME_MARK
        ),
        gen_after_tool=gen_tail[len(tool_close) :],
        asst_open_after_tool=asst_open_after_tool,
        asst_open=asst_open,
    )
    _recover_grouping(render, u, plan)
    return plan, ""


def _marked(text: str, i: int) -> str:
    return text.replace(CALL_IDS[i], TOOL_CALL_ID_MARK).replace(CALL_NAMES[i], TOOL_NAME_MARK)


def _recover_grouping(render: Any, user: dict[str, Any], plan: ToolPlan) -> None:
    """Consecutive tool results some templates write in one block (Qwen: one user turn, a
    ``<tool_response>`` each): the text between two results, split at the single-result close."""
    both = render(
        [
            user,
            {"role": "assistant", "content": "", "tool_calls": [_hf_call(0), _hf_call(1)]},
            _tool_msg(0),
            _tool_msg(1),
        ],
        True,
    )
    if both is None or both.count(RESULTS[0]) != 1 or both.count(RESULTS[1]) != 1:
        return
    first, second = both.index(RESULTS[0]), both.index(RESULTS[1])
    if second < first:
        return
    inter = _marked(_marked(both[first + len(RESULTS[0]) : second], 1), 0)
    tail = _marked(both[second + len(RESULTS[1]) :], 1)
    if inter == plan.tool_close + plan.tool_open or tail != plan.tool_close + plan.gen_after_tool:
        return
    close = _lcp2(inter, plan.tool_close)
    plan.tool_close_before_tool, plan.tool_open_after_tool = close, inter[len(close) :]


def _calls_not_shown(
    render: Any,
    one: str,
    region: str,
    u: dict[str, Any],
    user_close: str,
    asst_open: str,
    asst_marker: str,
    user2_marker: str,
    defs: tuple[str, str],
) -> tuple[ToolPlan | None, str]:
    """Tool calls the template never renders: the call turn is a plain (empty) assistant turn."""
    plain = render([u, {"role": "assistant", "content": ""}, _tool_msg(0)], True)
    if plain != one:
        return None, "the tool call's function name is not rendered"
    closing = render([u, {"role": "assistant", "content": ""}], False)
    if closing is None or not region.startswith(asst_open):
        return None, "the tool call turn is not rendered like an assistant turn"
    tail = closing[
        closing.index(u["content"]) + len(u["content"]) + len(user_close) + len(asst_open) :
    ]
    after_call = region[len(asst_open) :]
    if not after_call.startswith(tail):
        return None, "the tool result does not follow the assistant turn's closing text"
    after = render(
        [
            u,
            {"role": "assistant", "content": ""},
            _tool_msg(0),
            {"role": "assistant", "content": asst_marker},
            {"role": "user", "content": user2_marker},
        ],
        True,
    )
    if after is None or after.count(RESULTS[0]) != 1 or after.count(asst_marker) != 1:
        return None, "the turn after a tool result does not render its contents verbatim"
    gen_tail = one[one.index(RESULTS[0]) + len(RESULTS[0]) :]
    to_answer = after[after.index(RESULTS[0]) + len(RESULTS[0]) : after.index(asst_marker)]
    if to_answer.endswith(asst_open) and gen_tail.startswith(
        to_answer[: len(to_answer) - len(asst_open)]
    ):
        tool_close = to_answer[: len(to_answer) - len(asst_open)]
    else:
        tool_close = _lcp2(gen_tail, to_answer)
    return ToolPlan(
        defs_kind=defs[0],
        defs_sep=defs[1],
        calls_open="",
        call=None,
        call_sep="",
        calls_close="",
        tool_open=after_call[len(tail) :]
        .replace(CALL_IDS[0], TOOL_CALL_ID_MARK)
        .replace(CALL_NAMES[0], TOOL_NAME_MARK),
        tool_close=tool_close.replace(CALL_IDS[0], TOOL_CALL_ID_MARK).replace(
            CALL_NAMES[0], TOOL_NAME_MARK
        ),
        gen_after_tool=gen_tail[len(tool_close) :],
        asst_open_after_tool=to_answer[len(tool_close) :],
    ), ""
