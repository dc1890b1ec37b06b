"""Capabilities Ollama reports after registration against the model's chat template (local Ollama stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ggufs import chatml_vocab, write_gguf
from servers.ollama_server import OllamaServer

from ollama_forge.fidelity.capabilities import check_registered, compare_capabilities
from ollama_forge.workflows.register import register

TOOLS_JINJA = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GO_PLAIN = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
GO_TOOLS = "{{ if .Tools }}<tools>{{ json .Tools }}</tools>\n{{ end }}" + GO_PLAIN


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaServer]:
    with OllamaServer(version="0.29.0") as srv:  # the Go TEMPLATE is all this server uses
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        yield srv


def _modelfile(folder: Path, template: str) -> Path:
    gguf = write_gguf(
        folder / "m.gguf",
        arch="qwen2",
        chat_template=TOOLS_JINJA,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
    path = folder / "Modelfile"
    path.write_text(f'FROM ./{gguf.name}\nTEMPLATE """{template}"""\n', encoding="utf-8")
    return path


def test_a_template_losing_tools_is_reported_after_registration(
    server: OllamaServer, tmp_path: Path
) -> None:
    result = register("lost", modelfile=_modelfile(tmp_path, GO_PLAIN))
    check = check_registered(result)
    assert check is not None
    assert "tools" not in check.reported and check.template_supports == ["tools"]
    assert any("supports tools" in w and "refused" in w for w in check.warnings)
    assert (
        check.predicted == [] and check.path == "go_template"
    )  # forge's prediction agrees with the server


def test_a_template_keeping_tools_agrees(server: OllamaServer, tmp_path: Path) -> None:
    result = register("kept", modelfile=_modelfile(tmp_path, GO_TOOLS))
    check = check_registered(result)
    assert check is not None and "tools" in check.reported
    assert check.agrees, check.warnings


def test_compare_names_every_direction_of_difference() -> None:
    think_jinja = "{% for m in messages %}{{ m.content }}{% endfor %}<think>\n</think>"
    extra = compare_capabilities(
        ["completion", "thinking"],
        "{% for m in messages %}{{ m.content }}{% endfor %}",
        go_template=GO_PLAIN,
        server_version="0.29.0",
    )
    assert any("Ollama reports thinking" in w for w in extra.warnings)
    assert any("forge predicted thinking off" in w for w in extra.warnings)
    lost = compare_capabilities(
        ["completion"], think_jinja, go_template=GO_PLAIN, server_version="0.33.0"
    )
    assert lost.path == "native_jinja" and lost.predicted == ["thinking"]
    assert any("supports thinking" in w for w in lost.warnings)
    assert any("forge predicted thinking on" in w for w in lost.warnings)


def test_cli_register_prints_the_capability_warning(
    server: OllamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge import cli as forge_cli

    try:
        forge_cli.main(["register", "lost", "-f", str(_modelfile(tmp_path, GO_PLAIN))])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "  capabilities: completion\n" in out
    assert "warning: the model's chat template supports tools" in out
