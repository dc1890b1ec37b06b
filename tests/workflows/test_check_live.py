"""forge check --tools / --think on the embedded runtime: a real model, Ollama's parsers.

SmolLM2 135M has no tool or thinking support of its own, so its planned Modelfile is refused
the way Ollama refuses it. With a Modelfile whose TEMPLATE declares tools (raw ``<tool_call>``
under ``.ToolCalls``) or reasoning tags (``.Thinking``) and two few-shot MESSAGEs, the real model
answers in that format, and the ports of Ollama's parsers must recover a parsed tool call or a
separate thinking from the generated text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_forge.modelfile import Modelfile
from ollama_forge.workflows.check_live import embedded_live_check

pytestmark = [pytest.mark.slow, pytest.mark.llama]

TOOLS_TEMPLATE = """{{- if or .System .Tools }}<|im_start|>system
{{ if .System }}{{ .System }}{{ end }}{{ if .Tools }}
You can call functions. Tools:
{{ range .Tools }}{{ . }}
{{ end }}To call one, answer with <tool_call>{"name": ..., "arguments": {...}}</tool_call>{{ end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}{{ else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>{{ end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}"""

THINK_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ if and $.IsThinkSet $.Think }}<think>{{ end }}
{{- end }}
{{- end }}"""


def _modelfile(gguf: Path, template: str, shots: list[tuple[str, str]]) -> Modelfile:
    messages = []
    for question, answer in shots:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    return Modelfile(
        from_=[str(gguf)],
        template=template,
        parameters={"stop": ["<|im_end|>"], "num_ctx": 2048},
        messages=messages,
    )


def test_a_real_tool_call_is_parsed_as_ollama_parses_it(smollm2_path: Path) -> None:
    mf = _modelfile(
        smollm2_path,
        TOOLS_TEMPLATE,
        [
            (
                f"What is the weather in {city}? Use the get_weather tool.",
                f'<tool_call>\n{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}\n</tool_call>',
            )
            for city in ("Rome", "Berlin")
        ],
    )
    result = embedded_live_check(smollm2_path, "tools", modelfile=mf, max_tokens=64)
    assert result.ok, result.verdict
    assert result.tool_calls[0]["function"]["name"] == "get_weather"
    assert result.tool_calls[0]["function"]["arguments"] == {"city": "Paris"}
    assert result.content == ""  # the call did not come back as text


def test_a_real_reasoning_is_separated_as_ollama_separates_it(smollm2_path: Path) -> None:
    mf = _modelfile(
        smollm2_path,
        THINK_TEMPLATE,
        [
            ("Is 9 a prime number? Answer yes or no.", "<think>9 = 3 x 3.</think>No."),
            (
                "Is 7 a prime number? Answer yes or no.",
                "<think>7 has no other divisor.</think>Yes.",
            ),
        ],
    )
    result = embedded_live_check(smollm2_path, "think", modelfile=mf, max_tokens=64)
    assert result.ok, result.verdict
    assert (
        result.thinking.strip()
        and "<think>" not in result.content
        and "</think>" not in result.content
    )


def test_a_template_without_support_is_refused_like_ollama_refuses_it(smollm2_path: Path) -> None:
    tools = embedded_live_check(smollm2_path, "tools", max_tokens=16)
    assert not tools.ok and tools.refused and "does not support tools" in tools.refused
    think = embedded_live_check(smollm2_path, "think", max_tokens=16)
    assert not think.ok and think.refused and "does not support thinking" in think.refused


def test_cli_check_tools_on_a_file_uses_the_embedded_runtime(
    smollm2_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    mf = tmp_path / "Modelfile"
    _modelfile(
        smollm2_path,
        TOOLS_TEMPLATE,
        [
            (
                f"What is the weather in {city}? Use the get_weather tool.",
                f'<tool_call>\n{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}\n</tool_call>',
            )
            for city in ("Rome", "Berlin")
        ],
    ).save(mf)
    with pytest.raises(SystemExit) as done:
        main(["check", str(smollm2_path), "-f", str(mf), "--tools", "-n", "64"])
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    assert "--tools: ok: parsed tool_calls came back: get_weather" in out
    with pytest.raises(SystemExit) as refused:
        main(["check", str(smollm2_path), "--tools", "-n", "16"])  # the planned Modelfile: no tools
    assert refused.value.code == 1
    assert "does not support tools" in capsys.readouterr().out
