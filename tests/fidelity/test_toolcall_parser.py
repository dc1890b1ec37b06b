"""Ollama's own tools/ unit tests, ported, plus ChatHandler behaviour and hostile inputs."""

from __future__ import annotations

from typing import Any

import pytest
from toolcall_cases import (
    CONTENT_CASES,
    DONE_CASES,
    FIND_ARGUMENTS_CASES,
    FIND_TAG_CASES,
    PARSE_TAG_CASES,
    PARSER_CASES,
    TEMPLATES,
    TOOLS,
)

from ollama_forge.errors import GoTemplateError
from ollama_forge.fidelity.chat_stream import simulate_chat
from ollama_forge.fidelity.toolcall_parser import (
    ToolCallParser,
    find_arguments,
    go_trim_space,
    parse_tag,
)


@pytest.mark.parametrize(
    ("name", "tmpl", "chunks", "content", "calls"), PARSER_CASES, ids=[c[0] for c in PARSER_CASES]
)
def test_parser(
    name: str, tmpl: str, chunks: list[str], content: str, calls: list[dict[str, Any]]
) -> None:
    parser = ToolCallParser.from_template(TEMPLATES[tmpl], TOOLS)
    got_calls: list[dict[str, Any]] = []
    got_content = ""
    for chunk in chunks:
        tcs, text = parser.add(chunk)
        got_calls += [c.go_json() for c in tcs]
        got_content += text
    assert got_content == content
    assert got_calls == calls


@pytest.mark.parametrize(
    ("name", "tag", "buffer", "want"), DONE_CASES, ids=[c[0] for c in DONE_CASES]
)
def test_done(name: str, tag: str, buffer: str, want: bool) -> None:
    parser = ToolCallParser([], tag)
    parser._buffer = buffer.encode()
    assert parser._done() is want


@pytest.mark.parametrize(
    ("name", "tag", "buffer", "count", "want"), CONTENT_CASES, ids=[c[0] for c in CONTENT_CASES]
)
def test_content(name: str, tag: str, buffer: str, count: int, want: str) -> None:
    parser = ToolCallParser([], tag)
    parser._buffer, parser._n = buffer.encode(), count
    assert parser.content() == want


@pytest.mark.parametrize(
    ("name", "buffer", "tag", "index", "found"), FIND_TAG_CASES, ids=[c[0] for c in FIND_TAG_CASES]
)
def test_find_tag(name: str, buffer: str, tag: str, index: int, found: bool) -> None:
    parser = ToolCallParser([], tag)
    parser._buffer = buffer.encode()
    assert parser._find_tag() == (index, found)


@pytest.mark.parametrize(
    ("name", "buffer", "tool", "want"),
    FIND_ARGUMENTS_CASES,
    ids=[c[0] for c in FIND_ARGUMENTS_CASES],
)
def test_find_arguments(name: str, buffer: str, tool: str, want: Any) -> None:
    got, _end = find_arguments(tool, buffer.encode())
    assert got == want


@pytest.mark.parametrize(
    ("name", "template", "tag"), PARSE_TAG_CASES, ids=[c[0] for c in PARSE_TAG_CASES]
)
def test_parse_tag(name: str, template: str, tag: str) -> None:
    assert parse_tag(template) == tag


def test_parse_tag_inside_messages_loop_and_else_if() -> None:
    template = (
        '{{- range .Messages }}{{ if eq .Role "user" }}U{{ else if .ToolCalls }}\n<calls>'
        "{{ range .ToolCalls }}{{ json .Function }}{{ end }}</calls>{{ end }}{{ end }}"
    )
    assert parse_tag(template) == "<calls>"
    # A variable ($m.ToolCalls) is not a field node: Ollama finds no tag and falls back to "{".
    assert parse_tag("{{ range $m := .Messages }}{{ if $m.ToolCalls }}<x>{{ end }}{{ end }}") == "{"


def test_parse_tag_refuses_a_template_ollama_rejects() -> None:
    with pytest.raises(GoTemplateError):
        parse_tag("{{ if .ToolCalls }}")


def test_numbers_follow_go_float64() -> None:
    args, _ = find_arguments(
        "add", b'{"name": "add", "arguments": {"a": 3, "b": 1e2, "c": [true, null]}}'
    )
    assert args == {"a": 3.0, "b": 100.0, "c": [True, None]}
    assert all(isinstance(v, float) for v in (args["a"], args["b"]))
    # json.Unmarshal fails on out-of-range numbers and NaN: the object is skipped.
    assert find_arguments("x", b'{"a": 1e999}')[0] is None
    assert find_arguments("x", b'{"a": NaN}')[0] is None


def test_hostile_nesting_is_refused_not_a_crash() -> None:
    deep = b"{" + b'"a":{' * 5000 + b"}" * 5001
    assert find_arguments("x", deep) == (None, 0)


def test_go_trim_space_differs_from_python_strip() -> None:
    assert go_trim_space("\x1c tag \u3000") == "\x1c tag"
    assert "\x1c tag \u3000".strip() == "tag"


def test_chat_handler_drops_calls_parsed_with_content() -> None:
    # One chunk holding text and a whole call: Add returns both, ChatHandler keeps the text only.
    one = simulate_chat(
        TEMPLATES["qwen"],
        TOOLS,
        ['Sure. <tool_call>{"name": "add", "arguments": {"a": "1", "b": "2"}}</tool_call>'],
    )
    assert one.tool_calls == [] and [c.name for c in one.dropped_calls] == ["add"]
    assert one.content == "Sure. "
    # Streamed token by token the text and the call arrive in separate chunks: both survive.
    streamed = simulate_chat(
        TEMPLATES["qwen"],
        TOOLS,
        [
            "Sure. ",
            "<tool_call>",
            '{"name": "add", "arguments": {"a": "1", "b": "2"}}',
            "</tool_call>",
        ],
    )
    assert [c.go_json() for c in streamed.tool_calls] == [
        {"index": 0, "name": "add", "arguments": {"a": "1", "b": "2"}}
    ]
    assert streamed.content == "Sure. " and streamed.dropped_calls == []


def test_chat_flushes_json_that_was_not_a_call() -> None:
    out = simulate_chat(TEMPLATES["json"], TOOLS, ["{", '"answer": 42', "}"])
    assert out.tool_calls == [] and out.content == '{"answer": 42}'


def test_wrong_tag_returns_the_call_as_text() -> None:
    # The model emits <tool_call> but the TEMPLATE renders calls as [TOOL_CALLS]: nothing parsed.
    out = simulate_chat(
        TEMPLATES["mistral"],
        TOOLS,
        ["<tool_call>", '{"name": "add", "arguments": {"a": "1", "b": "2"}}', "</tool_call>"],
    )
    assert out.tool_calls == []
    assert (
        out.content == '<tool_call>{"name": "add", "arguments": {"a": "1", "b": "2"}}</tool_call>'
    )


def test_multibyte_tag_split_across_chunks() -> None:
    out = simulate_chat(
        TEMPLATES["deepseek"],
        TOOLS,
        ["Hi <|tool▁calls", "▁begin|>get_address", '{"location": "Oslo"}'],
    )
    assert [c.go_json() for c in out.tool_calls] == [
        {"index": 0, "name": "get_address", "arguments": {"location": "Oslo"}}
    ]
    assert out.content == "Hi "
