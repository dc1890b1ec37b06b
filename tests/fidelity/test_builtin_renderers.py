"""Create's RENDERER/PARSER auto-set by architecture: forge's allowlist and the predicted path."""

from __future__ import annotations

import pytest

from ollama_forge.fidelity.builtin_renderers import (
    AUTO_SET_SINCE,
    auto_set_pair,
    builtin_for,
)
from ollama_forge.fidelity.server_path import PromptPath, predict_server_path

CHATML_GO = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
JINJA = "{% for m in messages %}{{ m['content'] }}{% endfor %}"


@pytest.mark.parametrize(
    ("arch", "pair"),
    [
        ("gemma4", ("gemma4", "gemma4")),
        ("laguna", ("laguna", "laguna")),
        ("nemotron_h", ("nemotron-3-nano", "nemotron-3-nano")),
        ("nemotron_h_moe", ("nemotron-3-nano", "nemotron-3-nano")),
        ("nemotron_h_omni", ("nemotron-3-nano", "nemotron-3-nano")),
    ],
)
def test_allowlist_gives_the_pair_create_sets(arch: str, pair: tuple[str, str]) -> None:
    rule = builtin_for(arch)
    assert rule is not None and rule.pair == pair


@pytest.mark.parametrize(
    "arch", ["llama", "gemma3", "Gemma4", "gemma4 ", "nemotron_h_future", "nemotron", "", None]
)
def test_only_exact_architectures_match(arch: str | None) -> None:
    """Go's switch compares exactly: no prefix, no case folding."""
    assert builtin_for(arch) is None


def test_only_gemma4_adds_a_default_stop() -> None:
    assert builtin_for("gemma4").default_stop == ("<turn|>",)  # type: ignore[union-attr]
    assert builtin_for("laguna").default_stop == ()  # type: ignore[union-attr]


def test_auto_set_fills_what_the_request_leaves_empty() -> None:
    assert auto_set_pair("gemma4", None, None, (0, 33, 0))[:2] == ("gemma4", "gemma4")
    # one of the two set: create keeps it and fills the other (cmp.Or)
    assert auto_set_pair("gemma4", "qwen3-coder", None, (0, 33, 0))[:2] == ("qwen3-coder", "gemma4")
    # both set: the switch does not run
    assert auto_set_pair("gemma4", "a", "b", (0, 33, 0)) == ("a", "b", None)
    # before the assumed first release, and for other architectures: nothing
    assert auto_set_pair("gemma4", None, None, (0, 29, 9)) == (None, None, None)
    assert auto_set_pair("llama", None, None, None) == (None, None, None)
    assert auto_set_pair("laguna", None, None, None)[2] is builtin_for("laguna")


@pytest.mark.parametrize("version", ["0.33.0", "0.30.0", None])
def test_a_template_for_an_auto_set_architecture_is_bypassed(version: str | None) -> None:
    p = predict_server_path(
        go_template=CHATML_GO, chat_template=JINJA, architecture="gemma4", server_version=version
    )
    assert p.path is PromptPath.BUILTIN
    assert (p.prompt_source, p.output_parser) == ("renderer:gemma4", "parser:gemma4")
    assert p.auto_set is not None and "architecture gemma4" in p.auto_set
    assert "<turn|>" in p.auto_set  # create's default stop when the Modelfile sets none
    assert any(w.startswith("TEMPLATE will be bypassed") for w in p.warnings)
    assert p.capabilities is None  # a built-in parser adds capabilities forge cannot know


def test_model_family_stands_for_the_architecture() -> None:
    """Callers that pass the config's model_family (= general.architecture) get the auto-set too."""
    p = predict_server_path(
        go_template=CHATML_GO, chat_template=None, model_family="laguna", server_version="0.33.0"
    )
    assert p.prompt_source == "renderer:laguna"


def test_older_servers_use_the_template_and_say_what_is_assumed() -> None:
    p = predict_server_path(
        go_template=CHATML_GO, chat_template=JINJA, architecture="gemma4", server_version="0.29.0"
    )
    assert p.path is PromptPath.GO_TEMPLATE and p.auto_set is None
    assert any("does not yet set RENDERER/PARSER gemma4/gemma4" in w for w in p.warnings)
    assert ".".join(map(str, AUTO_SET_SINCE)) == "0.30.0"
    # before RENDERER exists at all, no auto-set and no such warning
    ancient = predict_server_path(
        go_template=CHATML_GO, chat_template=None, architecture="gemma4", server_version="0.11.0"
    )
    assert ancient.path is PromptPath.GO_TEMPLATE and not ancient.warnings


def test_other_architectures_are_unchanged() -> None:
    p = predict_server_path(
        go_template=CHATML_GO, chat_template=None, architecture="llama", server_version="0.33.0"
    )
    assert p.path is PromptPath.GO_TEMPLATE and p.auto_set is None


def test_an_explicit_pair_wins_over_the_auto_set() -> None:
    p = predict_server_path(
        go_template=None,
        chat_template=JINJA,
        renderer="qwen3-coder",
        parser="qwen3-coder",
        architecture="gemma4",
        server_version="0.33.0",
    )
    assert p.prompt_source == "renderer:qwen3-coder" and p.auto_set is None


# --- the path forge chooses ------------------------------------------------------------------


def test_auto_and_native_choose_the_builtin_renderer() -> None:
    from ollama_forge.fidelity.path_choice import choose_path

    for requested in ("auto", "native"):
        choice = choose_path(CHATML_GO, None, JINJA, architecture="nemotron_h", requested=requested)
        assert choice.template_path == "builtin_renderer"
        assert (choice.renderer, choice.parser) == ("nemotron-3-nano", "nemotron-3-nano")
        assert choice.template_source == "builtin_renderer"
        assert choice.new_servers.path is PromptPath.BUILTIN
        assert choice.faithful_on_new is False  # Ollama's Go renderer is not compared
        text = "\n".join(choice.comments)
        assert "does not compare it byte for byte" in text
        assert "--template-path go" in text and "Ollama < 0.30.0" in text
        assert any("older than 0.30.0" in w for w in choice.warnings)
        assert "RENDERER nemotron-3-nano / PARSER nemotron-3-nano" in choice.summary()


def test_go_keeps_the_template_and_warns_that_new_servers_bypass_it() -> None:
    from ollama_forge.fidelity.path_choice import choose_path

    choice = choose_path(CHATML_GO, None, JINJA, architecture="gemma4", requested="go")
    assert choice.template_path == "go_template" and choice.go_template == CHATML_GO
    assert choice.new_servers.path is PromptPath.BUILTIN
    assert choice.old_servers.path is PromptPath.GO_TEMPLATE
    assert any("bypasses this TEMPLATE" in w for w in choice.warnings)
    assert choice.faithful_on_new is False


def test_other_architectures_choose_as_before() -> None:
    from ollama_forge.fidelity.path_choice import choose_path

    choice = choose_path(CHATML_GO, None, JINJA, architecture="qwen2")
    assert choice.template_path == "go_template" and choice.renderer is None
