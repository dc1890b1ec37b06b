"""The server path prediction, case by case from Ollama's rules (server/images.go, routes.go)."""

from __future__ import annotations

import pytest

from ollama_forge.fidelity.server_path import (
    PromptPath,
    chat_template_capabilities,
    chat_template_tool_round_trip,
    go_template_capabilities,
    go_template_env,
    go_template_tool_round_trip,
    predict_server_path,
)

PLAIN_GO = "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ end }}<|assistant|>"
TOOLS_GO = (
    "{{ if .Tools }}{{ json .Tools }}{{ end }}{{ range .Messages }}{{ if .ToolCalls }}<tool_call>"
    '{{ range .ToolCalls }}{{ json .Function }}{{ end }}</tool_call>{{ else if eq .Role "tool" }}'
    "<result>{{ .Content }}</result>{{ else }}{{ .Content }}{{ end }}{{ end }}"
)
TOOLS_NO_RT_GO = (
    "{{ if .Tools }}{{ json .Tools }}{{ end }}{{ range .Messages }}{{ .Content }}{{ end }}"
)
THINK_GO = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ end }}"
INSERT_TOOLS_GO = "{{ if .Suffix }}<fim>{{ .Suffix }}{{ end }}" + TOOLS_GO

JINJA_PLAIN = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
JINJA_TOOLS = "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}"
JINJA_TOOLS_RT = (
    "{% if tools %}{{ tools | tojson }}{% endif %}{% for message in messages %}{% if message.tool_calls %}"
    "{{ message.tool_calls | tojson }}{% elif message.role == 'tool' %}<tool_response>"
    "{{ message.content }}</tool_response>{% endif %}{% endfor %}"
)
JINJA_ALL = JINJA_TOOLS_RT + "{% if enable_thinking %}<think>\n\n</think>{% endif %}"


def test_capability_scans_are_ollamas_keyword_rules() -> None:
    assert chat_template_capabilities(JINJA_PLAIN) == []
    assert chat_template_capabilities("{{ tool_call }}") == ["tools"]
    assert chat_template_capabilities("<think> only") == []  # both tags are needed
    assert chat_template_capabilities(JINJA_ALL) == ["tools", "thinking"]
    assert chat_template_tool_round_trip(JINJA_TOOLS_RT) and not chat_template_tool_round_trip(
        JINJA_TOOLS
    )
    assert go_template_tool_round_trip(TOOLS_GO) and not go_template_tool_round_trip(TOOLS_NO_RT_GO)
    assert go_template_capabilities(TOOLS_GO).capabilities == ["tools"]
    assert go_template_capabilities(THINK_GO).capabilities == ["thinking"]
    assert go_template_capabilities(INSERT_TOOLS_GO).capabilities == ["tools", "insert"]
    # .Thinking outside a range over .Messages is not a thinking template (thinking.InferTags)
    assert (
        go_template_capabilities(
            "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
        ).capabilities
        == []
    )


def test_go_template_env_follows_bool_with_default() -> None:
    assert (
        go_template_env(None) is None
        and go_template_env("  ") is None
        and go_template_env("''") is None
    )
    assert go_template_env("0") is False and go_template_env(" 'false' ") is False
    assert go_template_env("1") is True and go_template_env("TRUE") is True
    assert go_template_env("yes") is True  # strconv.ParseBool fails -> true


@pytest.mark.parametrize(
    ("go", "jinja", "path", "prefer"),
    [
        (None, JINJA_ALL, PromptPath.NATIVE_JINJA, False),  # no TEMPLATE: native Jinja
        (None, None, PromptPath.DEFAULT, False),  # neither: llama-server's default
        (PLAIN_GO, None, PromptPath.GO_TEMPLATE, False),
        (PLAIN_GO, JINJA_PLAIN, PromptPath.GO_TEMPLATE, False),  # equal (no) capabilities: Go wins
        (PLAIN_GO, JINJA_TOOLS, PromptPath.NATIVE_JINJA, True),  # more capabilities: bypassed
        (TOOLS_GO, JINJA_TOOLS_RT, PromptPath.GO_TEMPLATE, False),  # same caps, both round trips
        (
            TOOLS_NO_RT_GO,
            JINJA_TOOLS_RT,
            PromptPath.NATIVE_JINJA,
            True,
        ),  # same caps, only Jinja round-trips
        (
            TOOLS_NO_RT_GO,
            JINJA_TOOLS,
            PromptPath.GO_TEMPLATE,
            False,
        ),  # same caps, no round trip anywhere
        # Jinja has more (tools+thinking) but only the TEMPLATE round-trips tools: Go kept
        (TOOLS_GO, JINJA_TOOLS + "<think></think>", PromptPath.GO_TEMPLATE, False),
        (TOOLS_GO, JINJA_ALL, PromptPath.NATIVE_JINJA, True),  # more, and the Jinja round-trips too
        # only the number of capabilities counts: {tools, insert} vs {tools, thinking} is not "more"
        (INSERT_TOOLS_GO, JINJA_ALL, PromptPath.GO_TEMPLATE, False),
        (
            "{{ .Broken",
            JINJA_PLAIN,
            PromptPath.GO_TEMPLATE,
            False,
        ),  # unreadable TEMPLATE: no caps, still used
        ("{{ .Broken", JINJA_TOOLS, PromptPath.NATIVE_JINJA, True),
    ],
)
def test_path_on_current_servers(
    go: str | None, jinja: str | None, path: PromptPath, prefer: bool
) -> None:
    result = predict_server_path(go_template=go, chat_template=jinja, server_version="0.33.0")
    assert result.path is path, result.reason
    assert result.prefer_chat_template is prefer
    bypassed = go is not None and path is not PromptPath.GO_TEMPLATE
    assert any("TEMPLATE will be bypassed" in w for w in result.warnings) is bypassed


def test_capabilities_and_refusals_follow_the_selected_side() -> None:
    native = predict_server_path(
        go_template=PLAIN_GO, chat_template=JINJA_ALL, server_version="0.33.0"
    )
    assert (
        native.capabilities == ["tools", "thinking"]
        and not native.refuses_tools
        and not native.refuses_think
    )
    go = predict_server_path(
        go_template=TOOLS_GO, chat_template=JINJA_TOOLS + "<think></think>", server_version="0.33.0"
    )
    assert go.capabilities == ["tools"] and go.refuses_think and not go.refuses_tools
    assert go.think_default_on is False
    assert any("thinking" in w and "refused" in w for w in go.warnings)
    assert go.output_parser == "template_tool_parser"


def test_before_0_30_only_the_go_template_exists() -> None:
    old = predict_server_path(
        go_template=PLAIN_GO, chat_template=JINJA_ALL, server_version="0.29.3"
    )
    assert old.path is PromptPath.GO_TEMPLATE and old.capabilities == [] and old.refuses_tools
    assert any("cannot use the GGUF's Jinja" in w for w in old.warnings)
    bare = predict_server_path(go_template=None, chat_template=JINJA_ALL, server_version="0.29.3")
    assert bare.path is PromptPath.DEFAULT and bare.prompt_source == "default_template"
    # the environment variable does not exist there
    assert (
        predict_server_path(
            go_template=PLAIN_GO,
            chat_template=JINJA_ALL,
            server_version="0.29.3",
            env_go_template="0",
        ).path
        is PromptPath.GO_TEMPLATE
    )


def test_ollama_go_template_forces_a_side() -> None:
    kw = {"go_template": PLAIN_GO, "chat_template": JINJA_ALL, "server_version": "0.33.0"}
    assert predict_server_path(**kw, env_go_template="1").path is PromptPath.GO_TEMPLATE
    assert predict_server_path(**kw, env_go_template="yes").path is PromptPath.GO_TEMPLATE
    forced = predict_server_path(**{**kw, "go_template": TOOLS_GO}, env_go_template="false")
    assert forced.path is PromptPath.NATIVE_JINJA and not forced.prefer_chat_template
    none = predict_server_path(
        go_template=PLAIN_GO, chat_template=None, server_version="0.33.0", env_go_template="0"
    )
    assert none.path is PromptPath.DEFAULT and none.prompt_source == "llama_server_default"


def test_renderer_parser_and_harmony_are_builtin() -> None:
    both = predict_server_path(
        go_template=PLAIN_GO,
        chat_template=JINJA_ALL,
        renderer="qwen3-coder",
        parser="qwen3-coder",
        server_version="0.33.0",
    )
    assert both.path is PromptPath.BUILTIN and both.prompt_source == "renderer:qwen3-coder"
    assert both.capabilities is None and both.refuses_tools is None  # the parser decides
    assert any("bypassed" in w for w in both.warnings)
    parser_only = predict_server_path(
        go_template=TOOLS_GO, chat_template=JINJA_ALL, parser="qwen3", server_version="0.33.0"
    )
    assert (
        parser_only.prompt_source == "go_template" and parser_only.output_parser == "parser:qwen3"
    )
    assert not any("bypassed" in w for w in parser_only.warnings)
    harmony = predict_server_path(
        go_template="<|start|>{{ .Prompt }}<|end|>",
        chat_template=JINJA_ALL,
        model_family="gptoss",
        server_version="0.33.0",
    )
    assert harmony.path is PromptPath.BUILTIN and harmony.output_parser == "harmony"
    assert "thinking" in (harmony.capabilities or [])
    # gpt-oss without harmony tags in its TEMPLATE follows the normal rules
    plain = predict_server_path(
        go_template=PLAIN_GO,
        chat_template=JINJA_PLAIN,
        model_family="gptoss",
        server_version="0.33.0",
    )
    assert plain.path is PromptPath.GO_TEMPLATE
    old = predict_server_path(
        go_template=PLAIN_GO, chat_template=None, renderer="cogito", server_version="0.11.4"
    )
    assert any("predates RENDERER/PARSER" in w for w in old.warnings)
    unknown = predict_server_path(
        go_template=None, chat_template=None, renderer="nope", server_version="0.33.0"
    )
    assert any("'nope'" in w for w in unknown.warnings)


def test_unknown_and_dev_versions_use_the_latest_rules() -> None:
    unknown = predict_server_path(
        go_template=PLAIN_GO, chat_template=JINJA_TOOLS, server_version=None
    )
    assert unknown.path is PromptPath.NATIVE_JINJA and any(
        "version unknown" in w for w in unknown.warnings
    )
    dev = predict_server_path(
        go_template=PLAIN_GO, chat_template=JINJA_TOOLS, server_version="0.0.0"
    )
    assert dev.path is PromptPath.NATIVE_JINJA and not any("version" in w for w in dev.warnings)


@pytest.mark.go
@pytest.mark.slow
def test_go_capabilities_match_go(go_harness: object) -> None:
    templates = [
        PLAIN_GO,
        TOOLS_GO,
        TOOLS_NO_RT_GO,
        THINK_GO,
        INSERT_TOOLS_GO,
        "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}",
        "<|start|>{{ .Prompt }}<|end|>",
    ]
    results = go_harness([{"mode": "caps", "name": "", "template": t} for t in templates])  # type: ignore[operator]
    for template, result in zip(templates, results, strict=True):
        assert result["err"] is None
        assert (
            ",".join(go_template_capabilities(template).capabilities) == result["out"].split("|")[0]
        )
