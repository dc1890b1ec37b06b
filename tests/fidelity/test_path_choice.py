"""The path forge chooses per server version, recorded in the Modelfile and reported by verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ggufs import chatml_gguf

from ollama_forge.fidelity.path_choice import choose_path
from ollama_forge.fidelity.server_path import PromptPath
from ollama_forge.modelfile import parse_modelfile
from ollama_forge.ollama.versions import Version, decide_template
from ollama_forge.workflows.plan import plan_modelfile
from ollama_forge.workflows.verify import verify

CORPUS = Path(__file__).resolve().parents[1] / "data" / "chat_templates"
QWEN25 = (CORPUS / "Qwen-Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")
CHATML_JINJA = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CHATML_GO = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
# a thinking template whose Go counterpart has no thinking: Ollama >= 0.30 prefers the Jinja
THINK_JINJA = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}"
)
THINK_GO_PLAIN = "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}\n{{ end }}<|assistant|>"


def test_no_tools_or_thinking_go_everywhere_without_a_suite() -> None:
    choice = choose_path(CHATML_GO, None, CHATML_JINJA)
    assert (
        choice.template_path == "go_template"
        and choice.tool_suite is None
        and choice.go_faithful is None
    )
    assert (
        choice.new_servers.path is PromptPath.GO_TEMPLATE
        and choice.old_servers.path is PromptPath.GO_TEMPLATE
    )
    assert choice.faithful_on_new and not choice.warnings
    assert any(c.startswith("server path >= 0.30: go_template") for c in choice.comments)


def test_a_bypassed_template_is_recorded_as_deliberate() -> None:
    choice = choose_path(THINK_GO_PLAIN, None, THINK_JINJA)
    assert choice.template_path == "go_template"
    assert (
        choice.new_servers.path is PromptPath.NATIVE_JINJA
        and choice.old_servers.path is PromptPath.GO_TEMPLATE
    )
    assert choice.go_faithful is False  # think=true is refused on the Go path
    assert choice.faithful_on_new
    assert any("deliberate" in c for c in choice.comments)
    assert any("thinking are refused" in c for c in choice.comments)


@pytest.fixture
def qwen_gguf(tmp_path: Path) -> Path:
    return chatml_gguf(tmp_path / "qwen.gguf", QWEN25, arch="qwen2", name="Qwen2.5 7B Instruct")


def test_an_unfaithful_template_ollama_would_use_gives_way_to_native(qwen_gguf: Path) -> None:
    family = plan_modelfile(qwen_gguf, template_path="go", use_free_memory=False).modelfile
    assert (
        family.template and ".Tools" in family.template
    )  # qwen2.5's curated template: Go wins on >= 0.30
    kept = choose_path(
        family.template, family.system, QWEN25, eos_token="<|im_end|>", native_when_unfaithful=False
    )
    assert kept.template_path == "go_template" and kept.new_servers.path is PromptPath.GO_TEMPLATE
    assert (
        kept.go_faithful is False and not kept.faithful_on_new
    )  # nested tool schemas cannot survive the Go path
    assert any("--template-path native" in w for w in kept.warnings)
    auto = choose_path(family.template, family.system, QWEN25, eos_token="<|im_end|>")
    assert auto.template_path == "native_jinja" and auto.faithful_on_new
    native = choose_path(family.template, family.system, QWEN25, requested="native")
    assert native.template_path == "native_jinja" and native.template_source == "native"
    assert native.new_servers.path is PromptPath.NATIVE_JINJA
    assert native.old_servers.path is PromptPath.DEFAULT  # < 0.30: '{{ .Prompt }}'
    assert any("Ollama < 0.30 cannot render Jinja" in c for c in native.comments)


def test_native_modelfile_is_planned_recorded_and_verified(qwen_gguf: Path) -> None:
    result = plan_modelfile(
        qwen_gguf, template_path="native", use_free_memory=False, modelfile_dir=qwen_gguf.parent
    )
    mf = result.modelfile
    assert mf.template is None and mf.system is None and result.template_source == "native"
    assert any(c.startswith("template path: native") for c in mf.comments)
    target = qwen_gguf.parent / "Modelfile"
    mf.save(target)
    assert parse_modelfile(target.read_text(encoding="utf-8")).template is None
    report = verify(target)
    assert report.template_path == "native_jinja" and report.matched
    assert report.path_choice.faithful_on_new and report.template_source == "family:qwen2.5"


def test_go_modelfile_records_the_path_per_version_and_verify_reports_the_tool_suite(
    qwen_gguf: Path,
) -> None:
    result = plan_modelfile(qwen_gguf, template_path="go", use_free_memory=False)
    mf = result.modelfile
    assert mf.template and ".Tools" in mf.template
    assert any(c.startswith("server path >= 0.30:") for c in mf.comments)
    assert any(c.startswith("server path < 0.30: go_template") for c in mf.comments)
    assert any(c.startswith("tools/thinking:") for c in mf.comments)
    saved = qwen_gguf.parent / "Modelfile"
    mf.save(saved)
    report = verify(
        saved
    )  # the GGUF alone would be planned "auto": native on this model (see above)
    choice = report.path_choice
    assert report.template_path == "go_template" and choice.tool_suite is not None
    assert {r.name for r in choice.tool_suite.results} >= {
        "tools_offered",
        "one_tool_call",
        "two_tool_calls",
    }


def test_decide_template_carries_the_prediction_warnings() -> None:
    jinja = "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}"
    decision = decide_template(Version("0.33.0"), go_template=CHATML_GO, chat_template=jinja)
    assert decision.path == "native_jinja" and decision.recommend_native
    assert any("bypassed" in w for w in decision.warnings)
    old = decide_template(Version("0.29.0"), go_template=CHATML_GO, chat_template=jinja)
    assert old.path == "go_template" and any(
        "cannot use the GGUF's Jinja" in w for w in old.warnings
    )


def test_cli_verify_prints_the_paths_and_the_tool_call_round_trip(
    qwen_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge import cli as forge_cli

    go = qwen_gguf.parent / "Modelfile.go"
    plan_modelfile(qwen_gguf, template_path="go", use_free_memory=False).modelfile.save(go)
    try:
        forge_cli.main(["verify", str(go)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "server path >= 0.30:" in out and "server path < 0.30:" in out
    # the curated qwen2.5 TEMPLATE renders its calls inside {{ if .ToolCalls }} with <tool_call>
    # first, so Ollama's parser looks for the tag the model writes (templates/README.md)
    assert "Ollama will parse this model's tool calls" in out
    assert "--template-path native" in out


def test_a_synthesised_template_gives_up_its_reasoning_declaration_rather_than_the_template() -> (
    None
):
    from ollama_forge.fidelity.ollama_prompt import render_prompt
    from ollama_forge.fidelity.synthesis import synthesize_template

    reka = (CORPUS / "Reka-Edge.jinja").read_text(encoding="utf-8")
    synth = synthesize_template(reka, eos_token="<sep>")
    assert synth is not None and "{{ if false }}" in synth.go_template
    full = choose_path(
        synth.go_template,
        synth.default_system,
        reka,
        eos_token="<sep>",
        native_when_unfaithful=False,
    )
    assert full.new_servers.path is PromptPath.GO_TEMPLATE and full.go_faithful is False
    auto = choose_path(synth.go_template, synth.default_system, reka, eos_token="<sep>")
    assert auto.template_path == "go_template" and auto.template_changed and auto.faithful_on_new
    assert (
        auto.go_template
        and "{{ if false }}" not in auto.go_template
        and ".Tools" in auto.go_template
    )
    assert (
        auto.new_servers.path is PromptPath.NATIVE_JINJA
        and auto.old_servers.path is PromptPath.GO_TEMPLATE
    )
    assert any("reasoning-tag declaration" in c for c in auto.comments)
    messages: list[Any] = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "thinking": "t"},
        {"role": "user", "content": "Bye"},
    ]
    for think in (None, True, False):  # the branch it drops never printed
        assert render_prompt(auto.go_template, messages, think=think) == render_prompt(
            synth.go_template, messages, think=think
        )


def test_a_synthesised_template_gives_up_tools_rather_than_the_template() -> None:
    from types import SimpleNamespace

    from ollama_forge.fidelity.path_choice import choose_for_build
    from ollama_forge.fidelity.synthesis import synthesize_template

    granite = (CORPUS / "ibm-granite-granite-4.1.jinja").read_text(encoding="utf-8")
    synth = synthesize_template(granite, eos_token="<|end_of_text|>")
    assert synth is not None and ".Tools" in synth.go_template
    info = SimpleNamespace(
        chat_template=granite,
        add_bos_token=False,
        architecture="granite",
        special_tokens={"eos": SimpleNamespace(text="<|end_of_text|>")},
    )
    choice = choose_for_build(
        SimpleNamespace(template=synth.go_template, system=synth.default_system),
        info,
        "synthesized",
    )
    assert (
        choice.template_path == "go_template"
        and choice.template_changed
        and choice.go_source == "synthesized"
    )
    assert choice.go_template and ".Tools" not in choice.go_template
    assert choice.new_servers.path is PromptPath.NATIVE_JINJA and choice.old_servers.refuses_tools
    assert any("leaves out tool support" in c for c in choice.comments)
    kept = choose_for_build(
        SimpleNamespace(template=synth.go_template, system=synth.default_system),
        info,
        "synthesized",
        "go",
    )
    assert kept.go_template == synth.go_template and not kept.template_changed


def test_cli_modelfile_names_the_path_per_server_generation(
    qwen_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge import cli as forge_cli

    try:
        forge_cli.main(["modelfile", str(qwen_gguf), "--template-path", "native"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    captured = capsys.readouterr()
    assert "server path: Ollama >= 0.30 native_jinja, Ollama < 0.30 default" in captured.err
    assert (
        "TEMPLATE" not in captured.out.split("\nFROM ")[1]
    )  # no TEMPLATE instruction after the comments
    assert "# template path: native, no TEMPLATE (requested)" in captured.out


def test_native_needs_no_go_template(tmp_path: Path) -> None:
    from ollama_forge.errors import VerificationError

    template = (CORPUS / "CohereForAI-c4ai-command-r-plus-tool_use.jinja").read_text(
        encoding="utf-8"
    )
    gguf = chatml_gguf(tmp_path / "cr.gguf", template, arch="command-r", name="C4AI Command R Plus")
    with pytest.raises(VerificationError):
        plan_modelfile(gguf, use_free_memory=False)  # auto needs a verified TEMPLATE
    result = plan_modelfile(gguf, template_path="native", use_free_memory=False)
    assert (
        result.modelfile.template is None
        and result.template_source == "native"
        and result.verified is None
    )
    assert result.path_choice.new_servers.path is PromptPath.NATIVE_JINJA
    comments = result.modelfile.comments
    assert any(
        c.startswith("template: no Go TEMPLATE reproduces the chat template") for c in comments
    )
    assert any(c.startswith("template path: native, no TEMPLATE (requested)") for c in comments)
    assert not any("unverified" in w for w in result.warnings)


def test_verify_a_native_modelfile_without_any_go_template(tmp_path: Path) -> None:
    template = (CORPUS / "CohereForAI-c4ai-command-r-plus-tool_use.jinja").read_text(
        encoding="utf-8"
    )
    gguf = chatml_gguf(tmp_path / "cr.gguf", template, arch="command-r", name="C4AI Command R Plus")
    target = tmp_path / "Modelfile"
    plan_modelfile(
        gguf, template_path="native", use_free_memory=False, modelfile_dir=tmp_path
    ).modelfile.save(target)
    report = verify(target)
    assert report.matched and report.results == [] and report.template_path == "native_jinja"
    assert any(n.startswith("no Go TEMPLATE for Ollama < 0.30") for n in report.normalisations)
    assert report.path_choice.new_servers.path is PromptPath.NATIVE_JINJA
