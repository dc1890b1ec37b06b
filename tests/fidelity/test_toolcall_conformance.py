"""Byte-for-byte conformance of the tool-call parser port with Go.

Every case runs through tests/go/harness (mode ``toolparse``: Go's text/template parse tree,
byte slices and encoding/json, with tools/ mirrored) and through ollama_forge; the JSON of the
tag, each ``Add`` result and the final ``Content()`` must be identical.
"""

from __future__ import annotations

from typing import Any

import pytest
from toolcall_cases import PARSE_TAG_CASES, PARSER_CASES, TEMPLATES, TOOLS

from ollama_forge.fidelity.toolcall_parser import ToolCallParser
from ollama_forge.gotemplate.gojson import marshal

pytestmark = [pytest.mark.go, pytest.mark.slow]

_NUM_TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "get_weather_now", "add", "日本語ツール")
]

_CHATML_TOOLS = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    '{{- if .ToolCalls }}\n<tool_call>\n{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", '
    '"arguments": {{ .Function.Arguments }}}\n{{ end }}</tool_call>\n{{- else }}{{ .Content }}{{ end }}'
    "<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)
_MISTRAL_ELSE_IF = (
    '{{- range $i, $m := .Messages }}{{- if eq .Role "user" }}[INST] {{ .Content }}[/INST]'
    "{{- else if .ToolCalls }}[TOOL_CALLS][{{ range .ToolCalls }}{{ json .Function }}{{ end }}]</s>"
    "{{- else }}{{ .Content }}</s>{{ end }}{{ end }}"
)
_WITH = (
    "{{ with .Messages }}{{ range . }}{{ with .ToolCalls }}  \n  <function_calls>{{ range . }}"
    "{{ .Function.Name }}{{ .Function.Arguments }}{{ end }}{{ end }}{{ end }}{{ end }}"
)
_TRIMMED = "{{ range .Messages }}{{ if .ToolCalls -}}   \r\n  ```calls{ {{- range .ToolCalls }}x{{ end }}{{ end }}{{ end }}"
_NESTED_IF = (
    '{{ range .Messages }}{{ if .Content }}{{ .Content }}{{ end }}{{ if and .ToolCalls (eq .Role "assistant") }}'
    "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}<|tool_calls|>{{ end }}{{ end }}"
)
_DEFINE = '{{ define "calls" }}{{ if .ToolCalls }}<hidden>{{ end }}{{ end }}{{ range .Messages }}{{ template "calls" . }}{{ end }}'

EXTRA_TEMPLATES = {
    "chatml-tools": _CHATML_TOOLS,
    "mistral-else-if": _MISTRAL_ELSE_IF,
    "with": _WITH,
    "trimmed": _TRIMMED,
    "nested-if": _NESTED_IF,
    "define": _DEFINE,
}

_CALL = '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "ratio": 1e21, "tiny": 1e-7, "neg": -0.5}}'
# (name, template, tools, chunks): outputs a model could emit, including hostile and odd ones
EXTRA_CASES: list[tuple[str, str, list[dict[str, Any]], list[str]]] = [
    ("numbers", "chatml-tools", _NUM_TOOLS, ["<tool_call>\n", _CALL, "\n</tool_call>"]),
    (
        "two calls with text",
        "chatml-tools",
        _NUM_TOOLS,
        [
            "Let me look.",
            "\n<tool_call>\n",
            '{"name": "get_weather_now", "arguments": {"city": "Oslo"}}\n',
            "</tool_call>\n<tool_call>\n",
            '{"name": "add", "arguments": {"a": 1, "b": [1, 2, {"c": null}]}}',
            "\n</tool_call>",
        ],
    ),
    (
        "unicode name and values",
        "chatml-tools",
        _NUM_TOOLS,
        [
            '<tool_call>{"name": "日本語ツール", "arguments": {"q": "\\u00e9t\\u00e9 \\ud83d\\ude00 <&>"}}</tool_call>'
        ],
    ),
    (
        "lone surrogate escape",
        "chatml-tools",
        _NUM_TOOLS,
        ['<tool_call>{"name": "add", "arguments": {"q": "\\ud800x"}}</tool_call>'],
    ),
    (
        "duplicate keys",
        "chatml-tools",
        _NUM_TOOLS,
        ['<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2, "a": 3}}</tool_call>'],
    ),
    (
        "invalid then valid object",
        "chatml-tools",
        _NUM_TOOLS,
        ['<tool_call>{bad json} {"name": "add", "arguments": {"a": 1}}</tool_call>'],
    ),
    (
        "stringified arguments",
        "mistral-else-if",
        _NUM_TOOLS,
        ['[TOOL_CALLS][{"name": "add", "arguments": "{\\"a\\": 2}"}]'],
    ),
    (
        "null stringified arguments",
        "mistral-else-if",
        _NUM_TOOLS,
        ['[TOOL_CALLS][{"name": "add", "arguments": "null"}]', " after"],
    ),
    ("name without arguments", "mistral-else-if", _NUM_TOOLS, ['[TOOL_CALLS][{"name": "add"}]']),
    (
        "tag split in every byte",
        "with",
        _NUM_TOOLS,
        [*"<function_calls>", 'add{"a": 1}', "trailing"],
    ),
    (
        "prefix of a longer name at the end",
        "chatml-tools",
        _NUM_TOOLS,
        ['<tool_call>{"name": "get_weather', '", "arguments": {"city": "Rome"}}</tool_call>'],
    ),
    ("text only", "nested-if", _NUM_TOOLS, ["The weather ", "is fine {really}."]),
    (
        "json tag text first",
        "define",
        _NUM_TOOLS,
        ["Sure: ", '{"name": "add", "arguments": {"a": 1}}'],
    ),
    (
        "json tag call then text",
        "define",
        _NUM_TOOLS,
        ['  {"name": "add", "arguments": {"a": 1}}', " done"],
    ),
    (
        "backslashes outside strings",
        "trimmed",
        _NUM_TOOLS,
        ['```calls\\{"name": "add", "arguments": {"a": "}"}}'],
    ),
    ("unbalanced closing braces", "nested-if", _NUM_TOOLS, ['<|tool_calls|>}}} add {"a": 1}']),
    (
        "deeply nested arguments",
        "chatml-tools",
        _NUM_TOOLS,
        [
            '<tool_call>{"name": "add", "arguments": '
            + '{"x": ' * 40
            + "1"
            + "}" * 40
            + "}</tool_call>"
        ],
    ),
]


def _python(template: str, tools: list[dict[str, Any]], chunks: list[str]) -> str:
    parser = ToolCallParser.from_template(template, tools)
    events = []
    for chunk in chunks:
        calls, content = parser.add(chunk)
        events.append({"calls": [c.go_json() for c in calls], "content": content})
    return marshal({"tag": parser.tag, "events": events, "flush": parser.content()})


def _resplit(chunks: list[str], size: int) -> list[str]:
    text = "".join(chunks)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


ALL_TEMPLATES = {**TEMPLATES, **EXTRA_TEMPLATES}
CASES: list[tuple[str, str, list[dict[str, Any]], list[str]]] = [
    (f"ollama:{name}", ALL_TEMPLATES[tmpl], TOOLS, chunks)
    for name, tmpl, chunks, _, _ in PARSER_CASES
]
# the same outputs streamed three characters at a time: partial tags, names and objects
CASES += [
    (f"ollama-3ch:{name}", ALL_TEMPLATES[tmpl], TOOLS, _resplit(chunks, 3))
    for name, tmpl, chunks, _, _ in PARSER_CASES
]
CASES += [(f"tag:{name}", template, TOOLS, []) for name, template, _ in PARSE_TAG_CASES if template]
CASES += [
    (f"extra:{name}", ALL_TEMPLATES[tmpl], tools, chunks)
    for name, tmpl, tools, chunks in EXTRA_CASES
]
CASES += [(f"tag:{name}", template, TOOLS, []) for name, template in EXTRA_TEMPLATES.items()]


def _family_template(name: str, eos: str) -> str:
    from ollama_forge.families import load_families
    from ollama_forge.families.registry import render_family_template

    return render_family_template(
        load_families()[name], bos_token="", eos_token=eos, add_bos_token=True
    )


_WEATHER = '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}'
# forge's family TEMPLATEs lead Ollama's parser to the tag each model writes (templates/README.md)
FAMILY_CASES: list[tuple[str, str, str, list[str]]] = [
    ("qwen2.5", "<|im_end|>", "<tool_call>", [f"<tool_call>\n{_WEATHER}\n</tool_call>"]),
    ("hermes", "<|im_end|>", "<tool_call>", [f"<tool_call>\n{_WEATHER}\n</tool_call>"]),
    (
        "qwen3",
        "<|im_end|>",
        "<tool_call>",
        [f"<think>\n\n</think>\n\n<tool_call>\n{_WEATHER}\n</tool_call>"],
    ),
    ("llama3.1", "<|eot_id|>", "{", ['{"name": "get_weather", "parameters": {"city": "Paris"}}']),
    (
        "deepseek-v3",
        "<｜end▁of▁sentence｜>",
        "<｜tool▁calls▁begin｜>",
        [
            '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
        ],
    ),
    ("granite3", "<|end_of_text|>", "<|tool_call|>", [f"<|tool_call|>[{_WEATHER}]"]),
]
_WEATHER_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
CASES += [
    (f"family:{name}", _family_template(name, eos), _WEATHER_TOOLS, _resplit(chunks, 3))
    for name, eos, _, chunks in FAMILY_CASES
]


@pytest.mark.parametrize(
    ("family", "eos", "tag", "chunks"), FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES]
)
def test_family_templates_name_the_models_tool_call_tag(
    go_results: dict[str, dict[str, Any]], family: str, eos: str, tag: str, chunks: list[str]
) -> None:
    import json

    go = json.loads(go_results[f"family:{family}"]["out"])
    assert go["tag"] == tag
    assert [c["name"] for e in go["events"] for c in e["calls"]] == ["get_weather"]


@pytest.fixture(scope="module")
def go_results(go_harness: Any) -> dict[str, dict[str, Any]]:
    cases = [
        {"mode": "toolparse", "name": "", "template": t, "tools": tools, "chunks": chunks}
        for _, t, tools, chunks in CASES
    ]
    results = go_harness(cases)
    assert len(results) == len(CASES)
    return {name: r for (name, *_), r in zip(CASES, results, strict=True)}


def test_case_count() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize(("name", "template", "tools", "chunks"), CASES, ids=[c[0] for c in CASES])
def test_parser_matches_go(
    go_results: dict[str, dict[str, Any]],
    name: str,
    template: str,
    tools: list[dict[str, Any]],
    chunks: list[str],
) -> None:
    go = go_results[name]
    assert go["err"] is None, go["err"]
    assert _python(template, tools, chunks) == go["out"]
