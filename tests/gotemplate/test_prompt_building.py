"""Ollama's chat semantics in ollama_forge.fidelity.ollama_prompt (no Go toolchain needed)."""

from __future__ import annotations

import pytest

from ollama_forge.errors import GoTemplateError, UsageError
from ollama_forge.fidelity.ollama_prompt import (
    ChatMessage,
    Tool,
    ToolCall,
    infer_thinking_tags,
    render_generate,
    render_prompt,
    template_capabilities,
)

ROLES = "{{ range .Messages }}[{{ .Role }}]{{ .Content }}{{ end }}|{{ .System }}"


def test_model_system_goes_first_unless_conversation_has_one() -> None:
    assert (
        render_prompt(ROLES, [{"role": "user", "content": "hi"}], system="S")
        == "[system]S[user]hi|S"
    )
    out = render_prompt(
        ROLES, [{"role": "system", "content": "R"}, {"role": "user", "content": "hi"}], system="S"
    )
    assert out == "[system]R[user]hi|R"  # the request's system replaces the model SYSTEM


def test_model_messages_come_before_request_messages() -> None:
    out = render_prompt(
        ROLES,
        [{"role": "user", "content": "q"}],
        system="S",
        model_messages=[{"role": "user", "content": "ex"}, {"role": "assistant", "content": "ans"}],
    )
    assert out == "[system]S[user]ex[assistant]ans[user]q|S"


def test_collation_merges_same_role_except_tool() -> None:
    msgs = [
        {"role": "system", "content": "a"},
        {"role": "system", "content": "b"},
        {"role": "user", "content": "u1"},
        {"role": "user", "content": "u2"},
        {"role": "tool", "content": "t1"},
        {"role": "tool", "content": "t2"},
    ]
    assert render_prompt(ROLES, msgs) == "[system]a\n\nb[user]u1\n\nu2[tool]t1[tool]t2|a\n\nb"


def test_images_get_tags() -> None:
    msgs = [
        {"role": "user", "content": "see [img] here", "images": ["aGk=", "aGk="]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "more", "images": ["aGk="]},
    ]
    out = render_prompt("{{ range .Messages }}{{ .Content }};{{ end }}", msgs)
    assert out == "[img-1]see [img-0] here;ok;[img-2]more;"


def test_tools_tool_calls_and_typed_errors() -> None:
    tool = Tool.model_validate(
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "d <x>",
                "parameters": {
                    "type": "object",
                    "required": ["a"],
                    "properties": {"b": {"type": ["string", "null"]}, "a": {"type": "integer"}},
                },
            },
        }
    )
    call = ToolCall.model_validate({"function": {"name": "f", "arguments": {"z": 1, "a": "<"}}})
    msgs = [
        ChatMessage(role="user", content="go"),
        ChatMessage(role="assistant", tool_calls=[call]),
    ]
    tmpl = (
        "{{ .Tools }}|{{ range .Tools }}{{ range $k, $p := .Function.Parameters.Properties }}"
        "{{ $k }}:{{ toTypeScriptType $p }};{{ end }}{{ end }}|{{ range .Messages }}"
        "{{ range .ToolCalls }}{{ .Function.Name }}{{ .Function.Arguments }}{{ end }}{{ end }}"
    )
    out = render_prompt(tmpl, msgs, tools=[tool])
    assert out == (
        '[{"type":"function","function":{"name":"f","description":"d \\u003cx\\u003e",'
        '"parameters":{"type":"object","required":["a"],"properties":{"a":{"type":"integer"},'
        '"b":{"type":["string","null"]}}}}}]|a:number;b:string | null;|f{"a":"\\u003c","z":1}'
    )
    assert render_prompt("{{ .Tools }}{{ .Messages }}", [], tools=None).startswith("null")
    with pytest.raises(GoTemplateError) as info:
        render_prompt(
            "{{ range .Messages }}{{ .Foo }}{{ end }}", [{"role": "user", "content": "x"}]
        )
    assert "can't evaluate field Foo in type *template.templateMessage" in info.value.message


def test_think_values() -> None:
    tmpl = "{{ .Messages }}{{ .Think }}/{{ .ThinkLevel }}/{{ .IsThinkSet }}"
    strip = len("[]")

    def think(v: bool | str | None) -> str:
        return render_prompt(tmpl, [], think=v)[strip:]

    assert [think(None), think(True), think(False), think("high")] == [
        "false//false",
        "true/medium/true",
        "false//true",
        "true/high/true",
    ]


def test_legacy_path_runs_turn_by_turn_and_cuts_at_response() -> None:
    tmpl = "{{ if .System }}<S>{{ .System }}{{ end }}<U>{{ .Prompt }}<A>{{ .Response }}</A>"
    msgs = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "r1"},
        {"role": "user", "content": "q2"},
    ]
    assert render_prompt(tmpl, msgs, system="s") == "<S>s<U>q1<A>r1</A><U>q2<A>"
    # no .Messages and no .Response: {{ .Response }} is appended
    assert render_prompt("{{ .Prompt }}!", [{"role": "user", "content": "x"}]) == "x!"
    # the final turn runs without Ollama's functions (Go's bare AddParseTree template)
    with pytest.raises(GoTemplateError, match='"json" is not a defined function'):
        render_prompt("{{ json .Prompt }}", [{"role": "user", "content": "x"}])


def test_generate_and_fill_in_the_middle() -> None:
    fim = (
        "{{ if .Suffix }}<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}<MID>{{ else }}{{ .Prompt }}{{ end }}"
    )
    assert render_generate(fim, "a", suffix="b") == "<PRE>a<SUF>b<MID>"
    assert render_generate(fim, "a") == "a"
    assert render_generate(ROLES, "q", system="S") == "[system]S[user]q|S"


def test_capabilities_and_thinking_tags() -> None:
    thinking = (
        "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
        "{{ .Content }}{{ end }}{{ .Tools }}"
    )
    assert template_capabilities(thinking) == {"tools", "thinking"}
    assert infer_thinking_tags(thinking) == ("<think>", "</think>")
    assert template_capabilities("{{ .Prompt }}{{ .Suffix }}") == {"insert"}
    assert template_capabilities("{{ range $.Messages }}{{ .Thinking }}{{ end }}") == set()


def test_bad_inputs_raise_forge_errors() -> None:
    with pytest.raises(UsageError):
        render_prompt(ROLES, [{"content": "no role"}])
    with pytest.raises(UsageError):
        render_prompt(ROLES, [{"role": "user", "content": "x", "images": ["***"]}])
    with pytest.raises(GoTemplateError) as info:
        render_prompt("{{ if .X }}", [])
    assert info.value.line == 1


def test_check_template_mirrors_ollama_parse() -> None:
    from ollama_forge.fidelity.ollama_prompt import check_template

    check_template("{{ range .Messages }}{{ .Content }}{{ end }}")
    with pytest.raises(GoTemplateError, match="undefined template specified"):
        check_template('{{ define "x" }}x{{ end }}{{ template "x" }}')
    with pytest.raises(GoTemplateError, match='function "has" not defined'):
        check_template("{{ has .Tools }}")
