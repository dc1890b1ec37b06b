"""ChatHandler's output handling (thinking parser, then tool-call parser) against Go, byte for byte.

Mode ``chatparse`` of tests/go/harness mirrors thinking/parser.go and the completion callback
of server/routes.go; ollama_forge.fidelity.chat_stream must send the same chunks.
"""

from __future__ import annotations

from typing import Any

import pytest
from toolcall_cases import PARSER_CASES, TEMPLATES, TOOLS

from ollama_forge.fidelity.chat_stream import simulate_chat
from ollama_forge.gotemplate.gojson import marshal

pytestmark = [pytest.mark.go, pytest.mark.slow]

QWEN3 = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{- if .Thinking }}<think>\n{{ .Thinking }}\n</think>\n{{ end }}"
    '{{- if .ToolCalls }}\n<tool_call>\n{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", '
    '"arguments": {{ .Function.Arguments }}}\n{{ end }}</tool_call>{{ else }}{{ .Content }}{{ end }}'
    "<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ if .Think }}<think>\n{{ end }}"
)
DEEPSEEK = (
    '{{- range .Messages }}{{ if eq .Role "user" }}<｜User｜>{{ .Content }}'
    "{{ else }}<｜Assistant｜>{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
    "{{ if .ToolCalls }}<｜tool▁calls▁begin｜>{{ range .ToolCalls }}<｜tool▁call▁begin｜>{{ .Function.Name }}"
    "<｜tool▁sep｜>{{ .Function.Arguments }}<｜tool▁call▁end｜>{{ end }}<｜tool▁calls▁end｜>{{ end }}"
    "{{ .Content }}{{ end }}{{ end }}<｜Assistant｜>"
)
JSON_THINK = "{{ range .Messages }}{{ if .Thinking }}[T]{{ .Thinking }}[/T]{{ end }}{{ if .ToolCalls }}{{ range .ToolCalls }}{{ json .Function }}{{ end }}{{ end }}{{ end }}"
_ADD = [{"type": "function", "function": {"name": n}} for n in ("add", "get_weather", "日本")]
_CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2.5}}\n</tool_call>'


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# (name, template, tools, think, prompt, chunks)
CASES: list[tuple[str, str, list[dict[str, Any]], Any, str, list[str]]] = [
    (
        "think then call",
        QWEN3,
        _ADD,
        None,
        "",
        _split("<think>\nLet me add.\n</think>\n\n" + _CALL, 3),
    ),
    (
        "think then call, one chunk",
        QWEN3,
        _ADD,
        None,
        "",
        ["<think>\nLet me add.\n</think>\n\n" + _CALL],
    ),
    ("think off", QWEN3, _ADD, False, "", _split("<think>\nhmm\n</think>\n\n" + _CALL, 4)),
    (
        "prompt opens the thinking",
        QWEN3,
        _ADD,
        True,
        "...<|im_start|>assistant\n<think>\n",
        _split("Adding 1 and 2.5.\n</think>\n\nThe sum is 3.5.", 5),
    ),
    ("thinking only, no tools", QWEN3, [], True, "", _split("<think>a</think>b", 1)),
    ("closing tag split", QWEN3, [], True, "", ["<think>x</th", "ink", ">  ", " y"]),
    ("thinking skipped", QWEN3, _ADD, True, "", _split("No need to think. " + _CALL, 6)),
    (
        "whitespace-only thinking",
        QWEN3,
        [],
        True,
        "",
        ["  ", "<think>", " \n ", "</think>", "\n", "done"],
    ),
    (
        "thinking and partial tag in one chunk",
        QWEN3,
        _ADD,
        True,
        "",
        ["<think>", "ok</think><tool_", 'call>{"name": "add", "arguments": {"a": 1}}</tool_call>'],
    ),
    (
        "deepseek multibyte tags",
        DEEPSEEK,
        _ADD,
        True,
        "",
        _split(
            '<think>Weather?</think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Kyoto"}'
            "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
            2,
        ),
    ),
    ("deepseek think string", DEEPSEEK, _ADD, "high", "", ["<think>deep</think>", "plain answer"]),
    (
        "json tag with thinking",
        JSON_THINK,
        _ADD,
        True,
        "",
        ["[T]plan[/T]", '{"name": "add", "arguments": {"a": 1}}'],
    ),
    (
        "json tag, text first",
        JSON_THINK,
        _ADD,
        None,
        "",
        ["[T]x[/T]", "Sure ", '{"name": "add", "arguments": {}}'],
    ),
    ("no tools, no thinking", QWEN3, [], False, "", ["Hello", " world"]),
]
CASES += [(f"ollama:{n}", TEMPLATES[t], TOOLS, None, "", c) for n, t, c, _, _ in PARSER_CASES]


def _python(
    template: str, tools: list[dict[str, Any]], think: Any, prompt: str, chunks: list[str]
) -> str:
    thinking = think if not isinstance(think, str) else think != ""
    out = simulate_chat(template, tools, chunks, think=thinking, prompt=prompt)
    events = [
        {
            "thinking": e.thinking,
            "content": e.content,
            "done": e.done,
            "calls": [c.go_json() for c in e.tool_calls],
        }
        for e in out.events
    ]
    return marshal({"tag": out.tag, "thinking": out.thinking_tags is not None, "events": events})


@pytest.fixture(scope="module")
def go_results(go_harness: Any) -> dict[str, dict[str, Any]]:
    cases = [
        {
            "mode": "chatparse",
            "name": "",
            "template": t,
            "tools": tools,
            "think": think,
            "prompt": prompt,
            "chunks": chunks,
        }
        for _, t, tools, think, prompt, chunks in CASES
    ]
    results = go_harness(cases)
    return {name: r for (name, *_), r in zip(CASES, results, strict=True)}


@pytest.mark.parametrize(
    ("name", "template", "tools", "think", "prompt", "chunks"), CASES, ids=[c[0] for c in CASES]
)
def test_chat_matches_go(
    go_results: dict[str, dict[str, Any]],
    name: str,
    template: str,
    tools: list[dict[str, Any]],
    think: Any,
    prompt: str,
    chunks: list[str],
) -> None:
    go = go_results[name]
    assert go["err"] is None, go["err"]
    assert _python(template, tools, think, prompt, chunks) == go["out"]
