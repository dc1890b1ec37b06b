"""The tool/thinking suite: both request shapes, the comparison and the tool-call round trip."""

from __future__ import annotations

import json

from ollama_forge.fidelity.conversations_tools import (
    compare_tool_suite,
    to_transformers,
    tool_conversation_suite,
)

THINK_JINJA = (
    "{% for m in messages %}<|{{ m.role }}|>"
    "{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}{{ m.content }}\n"
    "{% endfor %}<|assistant|>{% if enable_thinking is defined and not enable_thinking %}<think></think>"
    "{% elif enable_thinking %}<think>{% endif %}"
)
THINK_GO = (
    "{{ range .Messages }}<|{{ .Role }}|>{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}\n"
    "{{ end }}<|assistant|>{{ if and .IsThinkSet (not .Think) }}<think></think>{{ else if .Think }}<think>{{ end }}"
)
TOOL_JINJA = (
    "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}"
    '{% for c in m.tool_calls or [] %}<tool_call>\n{"name": "{{ c.function.name }}", "arguments": '
    "{{ c.function.arguments | tojson }}}\n</tool_call>{% endfor %}\n{% endfor %}<|assistant|>"
)
TOOL_GO_TEXT = (
    "{{ if .Tools }}<tools>{{ range .Tools }}{{ json . }}{{ end }}</tools>\n{{ end }}"
    "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ if .ToolCalls }}{{ range .ToolCalls }}<tool_call>\n"
    '{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}\n</tool_call>{{ end }}'
    "{{ end }}\n{{ end }}<|assistant|>"
)
# the same template with its tag written as a string action: Ollama's parser finds no text node
TOOL_GO_ACTION = TOOL_GO_TEXT.replace(
    "{{ range .ToolCalls }}<tool_call>\n", '{{ range .ToolCalls }}{{ "<tool_call>\\n" }}'
)


def test_suite_covers_the_tool_and_thinking_shapes() -> None:
    suite = {c.name: c for c in tool_conversation_suite()}
    assert set(suite) == {
        "tools_offered",
        "one_tool_call",
        "two_tool_calls",
        "tool_follow_up",
        "reasoning_in_history",
        "think_on",
        "think_off",
    }
    offered = suite["tools_offered"].tools
    assert offered is not None
    weather = offered[0]["function"]["parameters"]
    assert list(weather) == ["type", "properties", "required"]  # the order clients send
    assert weather["properties"]["location"]["type"] == "object"
    assert weather["properties"]["location"]["properties"]["country"]["enum"] == ["FR", "DE", "JP"]
    two = suite["two_tool_calls"].messages[2]["tool_calls"]
    assert len(two) == 2 and two[0]["function"]["arguments"]["days"] == 3
    assert two[1]["function"]["arguments"]["twenty_four_hour"] is True
    assert [m["role"] for m in suite["two_tool_calls"].messages[-2:]] == ["tool", "tool"]
    assert suite["think_on"].think is True and suite["think_off"].think is False
    assert suite["reasoning_in_history"].messages[1]["thinking"]


def test_transformers_shape() -> None:
    suite = {c.name: c for c in tool_conversation_suite()}
    request = to_transformers(suite["two_tool_calls"])
    call = request["messages"][2]["tool_calls"][0]
    assert call == {
        "id": "call12345",
        "type": "function",
        "function": {
            "name": "get_weather",
            "arguments": {
                "location": {"city": "Paris", "country": "FR"},
                "unit": "celsius",
                "days": 3,
            },
        },
    }
    assert request["messages"][3] == {
        "role": "tool",
        "content": json.dumps({"forecast": ["sunny", "cloudy", "rain"], "high_c": [21, 19, 16]}),
        "name": "get_weather",
        "tool_call_id": "call12345",
    }
    assert request["tools"] == suite["two_tool_calls"].tools and request["kwargs"] == {}
    history = to_transformers(suite["reasoning_in_history"])["messages"][1]
    assert history["reasoning_content"] and "thinking" not in history
    assert to_transformers(suite["think_on"])["kwargs"]["enable_thinking"] is True
    assert to_transformers(suite["think_off"])["kwargs"]["enable_thinking"] is False


def test_thinking_template_renders_identically_when_think_is_sent() -> None:
    report = compare_tool_suite(THINK_JINJA, THINK_GO, server_version="0.33.0")
    assert report.capabilities == ["thinking"]
    # reasoning_in_history sends no think: see the default-on test below
    assert {r.name: r.identical for r in report.results} == {
        "reasoning_in_history": False,
        "think_on": True,
        "think_off": True,
    }
    assert report.server_path.path.value == "go_template"


def test_think_is_refused_without_thinking_in_the_messages_loop() -> None:
    go = THINK_GO.replace("{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}", "")
    report = compare_tool_suite(THINK_JINJA, go, server_version="0.33.0")
    on = next(r for r in report.results if r.name == "think_on")
    assert not on.identical and on.refused and "thinking" in on.refused
    assert not report.identical
    assert (
        report.server_path.path.value == "native_jinja"
    )  # the Jinja shows thinking, the TEMPLATE not


def test_tools_differ_by_key_order_and_round_trip_depends_on_a_text_tag() -> None:
    report = compare_tool_suite(
        TOOL_JINJA, TOOL_GO_TEXT, eos_token="<|end|>", server_version="0.33.0"
    )
    offered = next(r for r in report.results if r.name == "tools_offered")
    # Go's compact json and Ollama's field order ("required" before "properties") differ from tojson
    assert not offered.identical and offered.offset is not None
    trips = {t.conversation: t for t in report.round_trips}
    assert trips["one_tool_call"].tag == "<tool_call>" and trips["one_tool_call"].recovered
    assert trips["two_tool_calls"].recovered and len(trips["two_tool_calls"].parsed) == 2
    action = compare_tool_suite(
        TOOL_JINJA, TOOL_GO_ACTION, eos_token="<|end|>", server_version="0.33.0"
    )
    trip = next(t for t in action.round_trips if t.conversation == "one_tool_call")
    assert trip.tag == "{" and not trip.recovered and "returned as text" in (trip.reason or "")


def test_tools_are_refused_by_a_template_without_tools() -> None:
    plain_go = "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}\n{{ end }}<|assistant|>"
    report = compare_tool_suite(TOOL_JINJA, plain_go, server_version="0.33.0")
    assert all(r.refused and "tools" in r.refused for r in report.results)
    assert report.round_trips == [] and not report.identical
    assert any("bypassed" in w for w in report.server_path.warnings)


def test_a_thinking_template_renders_think_on_when_the_request_omits_it() -> None:
    # reasoning_in_history has no think: Ollama sends think=true to a thinking model, the Jinja
    # side sees no enable_thinking. This template opens <think> only when asked, so they differ.
    report = compare_tool_suite(THINK_JINJA, THINK_GO, server_version="0.33.0")
    history = next(r for r in report.results if r.name == "reasoning_in_history")
    assert (
        not history.identical
        and history.actual_context
        and history.actual_context.endswith("<think>")
    )
    # a Jinja template that thinks by default agrees with Ollama's default
    eager = THINK_GO.replace(
        "{{ else if .Think }}<think>{{ end }}", "{{ else if .Think }}<think>\n{{ end }}"
    )
    jinja = THINK_JINJA.replace(
        "{% elif enable_thinking %}<think>{% endif %}",
        "{% elif enable_thinking is not defined or enable_thinking %}<think>\n{% endif %}",
    )
    report = compare_tool_suite(jinja, eager, server_version="0.33.0")
    assert {r.name: r.identical for r in report.results} == {
        "reasoning_in_history": True,
        "think_on": True,
        "think_off": True,
    }
