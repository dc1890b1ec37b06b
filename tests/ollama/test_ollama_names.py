"""Ollama model-name grammar (types/model/name.go) and version/template decisions."""

from __future__ import annotations

import pytest

from ollama_forge.errors import ModelNameError
from ollama_forge.ollama.names import parse_model_name, same_model
from ollama_forge.ollama.versions import (
    Version,
    decide_template,
    jinja_capabilities,
    prefer_chat_template,
)


@pytest.mark.parametrize(
    ("raw", "display", "full"),
    [
        ("mymodel", "mymodel:latest", "registry.ollama.ai/library/mymodel:latest"),
        ("mymodel:q4_K_M", "mymodel:q4_K_M", "registry.ollama.ai/library/mymodel:q4_K_M"),
        ("me/my.model-2:v1.0", "me/my.model-2:v1.0", "registry.ollama.ai/me/my.model-2:v1.0"),
        ("hf.co/owner/repo:Q4_K_M", "hf.co/owner/repo:Q4_K_M", "hf.co/owner/repo:Q4_K_M"),
        ("localhost:5000/team/m", "localhost:5000/team/m:latest", "localhost:5000/team/m:latest"),
        ("_x", "_x:latest", "registry.ollama.ai/library/_x:latest"),
        ("m" * 80, "m" * 80 + ":latest", "registry.ollama.ai/library/" + "m" * 80 + ":latest"),
    ],
)
def test_valid_names(raw: str, display: str, full: str) -> None:
    name = parse_model_name(raw)
    assert name.display == display
    assert name.full == full


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " m",
        "m ",
        "bad name",
        "-m",
        ".m",
        "m:",
        "m:-tag",
        "my.ns/model",
        "a/b/c/d",
        "m" * 81,
        "m:" + "t" * 81,
        "m@sha256:" + "0" * 64,
        "ftp://host/m",
        "m/",
        "/m",
        "mo$del",
        "ns//m",
    ],
)
def test_invalid_names(raw: str) -> None:
    with pytest.raises(ModelNameError):
        parse_model_name(raw)


def test_same_model_is_case_insensitive_with_defaults() -> None:
    assert same_model("MyModel", "mymodel:latest")
    assert same_model("library/m", "registry.ollama.ai/library/m:latest")
    assert not same_model("m:v1", "m:v2")


def test_versions() -> None:
    assert Version("0.29.3") < Version("0.30.0")
    assert not Version("0.29.3").split_gguf
    assert Version("0.30.0-rc2").native_templates
    assert Version("0.0.0").native_templates  # dev build
    assert Version("v0.33.1").parts == (0, 33, 1)


GO_TOOLS = '{{ if .Tools }}{{ .Tools }}{{ end }}{{ range .Messages }}{{ if .ToolCalls }}c{{ end }}{{ if eq .Role "tool" }}r{{ end }}{{ .Content }}{{ end }}'
GO_PLAIN = "{{ range .Messages }}{{ .Content }}{{ end }}"
JINJA_TOOLS_THINK = (
    "{% if tools %}{% endif %}<think></think>{% for m in messages %}{{ m.content }}{% endfor %}"
)
JINJA_PLAIN = "{% for m in messages %}{{ m.content }}{% endfor %}"


def test_capability_precedence_rules() -> None:
    assert jinja_capabilities(JINJA_TOOLS_THINK) == ["tools", "thinking"]
    assert prefer_chat_template(JINJA_TOOLS_THINK, GO_PLAIN)  # more capabilities: native wins
    assert not prefer_chat_template(JINJA_PLAIN, GO_PLAIN)  # same: Go wins
    # Go template with a tool round trip vs Jinja with more caps but no round trip: Go wins
    assert not prefer_chat_template(JINJA_TOOLS_THINK, GO_TOOLS)


def test_decide_template_paths() -> None:
    new, old = Version("0.33.0"), Version("0.29.0")
    assert (
        decide_template(new, go_template=GO_PLAIN, chat_template=JINJA_PLAIN).path == "go_template"
    )
    d = decide_template(new, go_template=GO_PLAIN, chat_template=JINJA_TOOLS_THINK)
    assert d.path == "native_jinja" and d.recommend_native
    assert decide_template(new, go_template=None, chat_template=JINJA_PLAIN).path == "native_jinja"
    assert decide_template(new, go_template=None, chat_template=None).path == "native_default"
    assert (
        decide_template(old, go_template=None, chat_template=JINJA_PLAIN).path == "prompt_fallback"
    )
    assert (
        decide_template(new, go_template=GO_PLAIN, chat_template=None, renderer="qwen3").path
        == "renderer"
    )
    native = decide_template(
        new, go_template=GO_PLAIN, chat_template=JINJA_PLAIN, native_requested=True
    )
    assert native.path == "native_jinja" and not native.send_template
    assert decide_template(
        old, go_template=GO_PLAIN, chat_template=JINJA_PLAIN, native_requested=True
    ).send_template
