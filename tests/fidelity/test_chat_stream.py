"""Ollama's thinking parser and ChatHandler's output handling (Go-free checks; Go conformance in
test_chat_stream_conformance.py)."""

from __future__ import annotations

from ollama_forge.fidelity.chat_stream import simulate_chat
from ollama_forge.fidelity.thinking_parser import ThinkingParser, trim_left_space

GO = (
    "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
    "{{ if .ToolCalls }}<tool_call>{{ range .ToolCalls }}{{ json .Function }}{{ end }}</tool_call>"
    "{{ end }}{{ .Content }}{{ end }}"
)
TOOLS = [{"type": "function", "function": {"name": "add"}}]


def _feed(parser: ThinkingParser, chunks: list[str]) -> tuple[str, str]:
    thinking = content = ""
    for chunk in chunks:
        t, c = parser.add_content(chunk)
        thinking, content = thinking + t, content + c
    return thinking, content


def test_thinking_parser_states() -> None:
    assert _feed(
        ThinkingParser("<think>", "</think>"), ["  <thi", "nk>\n plan", "</thi", "nk>\n\n answer"]
    ) == ("plan", "answer")
    # no opening tag: thinking is skipped and the content keeps its leading whitespace
    assert _feed(ThinkingParser("<think>", "</think>"), ["  hello"]) == ("", "  hello")
    # a text that only starts like the closing tag is released once it is decided
    assert _feed(ThinkingParser("<think>", "</think>"), ["<think>a</th", "at</think>b"]) == (
        "a</that",
        "b",
    )
    assert trim_left_space(b"\xc2\xa0\x1c x") == b"\x1c x"  # NBSP is space in Go, U+001C is not


def test_thinking_template_defaults_to_think_on() -> None:
    out = simulate_chat(GO, [], ["<think>plan</think>", "answer"])
    assert out.thinking_tags == ("<think>", "</think>")
    assert (out.thinking, out.content) == ("plan", "answer")
    off = simulate_chat(GO, [], ["<think>plan</think>", "answer"], think=False)
    assert off.thinking_tags is None and off.content == "<think>plan</think>answer"


def test_prompt_ending_in_the_opening_tag_starts_inside_the_thinking() -> None:
    out = simulate_chat(
        GO, [], ["plan</think>", "answer"], think=True, prompt="<|assistant|><think>\n"
    )
    assert (out.thinking, out.content) == ("plan", "answer")


def test_thinking_and_tool_call() -> None:
    out = simulate_chat(
        GO,
        TOOLS,
        [
            "<think>add them</think>",
            "<tool_call>",
            '{"name": "add", "arguments": {"a": 1}}',
            "</tool_call>",
        ],
    )
    assert out.thinking == "add them" and out.content == ""
    assert [c.go_json() for c in out.tool_calls] == [
        {"index": 0, "name": "add", "arguments": {"a": 1.0}}
    ]


def test_partial_tag_after_thinking_leaks_as_content() -> None:
    # Ollama sends a thinking chunk with its content as it was before the tool parser buffered it.
    out = simulate_chat(
        GO, TOOLS, ["<think>", "ok</think><tool_", 'call>{"name": "add", "arguments": {"a": 1}}']
    )
    assert out.events[0].thinking == "ok" and out.events[0].content == "<tool_"
    assert [c.name for c in out.tool_calls] == ["add"]
