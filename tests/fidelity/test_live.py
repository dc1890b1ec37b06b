"""forge check --tools / --think against the local Ollama stand-in (tests/servers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ggufs import chatml_vocab, write_gguf
from servers.ollama_server import OllamaServer

from ollama_forge import cli as forge_cli
from ollama_forge.errors import OllamaResponseError
from ollama_forge.fidelity.live import THINK_PROMPT, TOOL_PROMPT, live_check
from ollama_forge.workflows.register import register

TOOLS_JINJA = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GO_PLAIN = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
GO_TOOLS = "{{ if .Tools }}<tools>{{ json .Tools }}</tools>\n{{ end }}" + GO_PLAIN


def _registered(folder: Path, name: str, template: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    gguf = write_gguf(
        folder / "m.gguf",
        arch="qwen2",
        chat_template=TOOLS_JINJA,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
    path = folder / "Modelfile"
    path.write_text(f'FROM ./{gguf.name}\nTEMPLATE """{template}"""\n', encoding="utf-8")
    return register(name, modelfile=path).name


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        forge_cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tools_refused_by_a_model_without_tools(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _registered(tmp_path / "plain", "plain", GO_PLAIN)
    result = live_check(name, "tools")
    assert not result.ok and result.refused and "does not support tools" in result.refused
    chat = server.state.requests_to("POST", "/api/chat")[-1].json
    assert (
        chat["tools"][0]["function"]["name"] == "get_weather"
        and chat["messages"][0]["content"] == TOOL_PROMPT
    )
    code, out, err = run(capsys, "check", "plain", "--tools")
    assert (
        code == 1
        and "--tools: FAILED: refused by Ollama" in out
        and "does not support tools" in err
    )


def test_a_prose_answer_to_a_tool_request_fails_with_the_text(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _registered(tmp_path / "tools", "tools", GO_TOOLS)
    server.state.replies[TOOL_PROMPT] = "I cannot look that up."
    result = live_check(name, "tools")
    assert not result.ok and result.refused is None and result.tool_calls == []
    assert result.content == "I cannot look that up." and "the reply was text" in result.verdict
    code, out, _ = run(capsys, "check", "tools", "--tools", "--json")
    assert code == 1 and json.loads(out)[0]["content"] == "I cannot look that up."


def test_think_refused_by_a_model_without_thinking(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _registered(tmp_path / "plain", "plain", GO_PLAIN)
    result = live_check(name, "think")
    assert not result.ok and result.refused and "does not support thinking" in result.refused
    chat = server.state.requests_to("POST", "/api/chat")[-1].json
    assert chat["think"] is True and chat["messages"][0]["content"] == THINK_PROMPT


def test_other_errors_are_not_taken_for_refusals(server: OllamaServer) -> None:
    with pytest.raises(OllamaResponseError):
        live_check("missing-model", "tools")


def test_live_checks_need_an_ollama_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--tools")
    assert code == 2 and "--tools/--think" in err


# A TEMPLATE that renders tool calls as Qwen2.5 writes them, inside {{ if .ToolCalls }} so that
# Ollama's parser finds the <tool_call> tag (templates/README.md); and one that hides the tag.
_CALLS_SHOWN = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}"
    '{{ if .ToolCalls }}{{ range .ToolCalls }}<tool_call>\n{"name": "{{ .Function.Name }}", '
    '"arguments": {{ json .Function.Arguments }}}\n</tool_call>{{ end }}{{ end }}'
    "<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)
GO_TOOL_CALLS = "{{ if .Tools }}<tools>{{ json .Tools }}</tools>\n{{ end }}" + _CALLS_SHOWN
GO_TOOL_CALLS_HIDDEN = GO_TOOL_CALLS.replace("{{ if .ToolCalls }}", "").replace(
    "{{ end }}{{ end }}<|im_end|>", "{{ end }}<|im_end|>"
)
QWEN_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_a_tool_call_the_template_lets_ollama_parse_comes_back_parsed(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _registered(tmp_path / "tools", "tools", GO_TOOL_CALLS)
    server.state.replies[TOOL_PROMPT] = QWEN_CALL
    result = live_check(name, "tools")
    assert result.ok and result.content == "", result.verdict
    assert [c["function"]["name"] for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0]["function"]["arguments"] == {"city": "Paris"}
    assert result.tool_calls[0]["id"].startswith("call_")
    code, out, _ = run(capsys, "check", "tools", "--tools")
    assert code == 0 and "parsed tool_calls came back: get_weather" in out


def test_a_template_that_hides_the_tag_gets_the_call_back_as_text(
    server: OllamaServer, tmp_path: Path
) -> None:
    # the failure users report after importing Qwen-style models with a hand-written TEMPLATE
    name = _registered(tmp_path / "hidden", "hidden", GO_TOOL_CALLS_HIDDEN)
    server.state.replies[TOOL_PROMPT] = QWEN_CALL
    result = live_check(name, "tools")
    assert not result.ok and result.tool_calls == []
    assert result.content.startswith("<tool_call>") and "the reply was text" in result.verdict


THINK_JINJA = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.reasoning_content %}<think>"
    "{{ m.reasoning_content }}</think>{% endif %}{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GO_THINK = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ if .Thinking }}<think>{{ .Thinking }}</think>"
    "{{ end }}{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


def test_thinking_comes_back_separate_from_the_answer(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "think"
    folder.mkdir()
    gguf = write_gguf(
        folder / "m.gguf",
        arch="qwen3",
        chat_template=THINK_JINJA,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
    (folder / "Modelfile").write_text(
        f'FROM ./{gguf.name}\nTEMPLATE """{GO_THINK}"""\n', encoding="utf-8"
    )
    name = register("think", modelfile=folder / "Modelfile").name
    assert "thinking" in server.state.model(name).capabilities
    server.state.replies[THINK_PROMPT] = "<think>391 = 17 x 23, so not prime.</think>No."
    result = live_check(name, "think")
    assert result.ok, result.verdict
    assert result.thinking.strip() == "391 = 17 x 23, so not prime." and result.content == "No."
    code, out, _ = run(capsys, "check", "think", "--think", "--json")
    assert code == 0 and json.loads(out)[0]["thinking"].startswith("391")
