"""forge verify / forge render: Go TEMPLATE vs the model's own chat template, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ggufs import write_gguf

from ollama_forge import cli as forge_cli
from ollama_forge.errors import UsageError, VerificationError
from ollama_forge.fidelity.compare import first_difference, verify_template, visible
from ollama_forge.fidelity.conversations import WEATHER_TOOL, conversation_suite, to_hf_messages
from ollama_forge.workflows.verify import render_for, verify

CORPUS = Path(__file__).parents[1] / "data" / "chat_templates"

CHATML_JINJA = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CHATML_GO = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
LLAMA_JINJA = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n'"
    " + m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
LLAMA_GO = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>"
    "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def cli(*args: str) -> int:
    try:
        forge_cli.main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# --- difference reporting ------------------------------------------------------------------


def test_visible_whitespace() -> None:
    assert visible("a b\n\tc\r") == "a·b\\n\\tc\\r"


def test_first_difference_position_and_context() -> None:
    diff = first_difference("line one\nline two\n", "line one\nline  two\n")
    assert diff is not None
    assert (diff.offset, diff.line, diff.column) == (14, 2, 6)
    assert diff.expected_context.endswith("⟦two\\n")
    assert "line·⟦·two" in diff.actual_context
    assert first_difference("same", "same") is None
    shorter = first_difference("abc\n", "abc")
    assert shorter is not None and shorter.expected_char == "\n" and shorter.actual_char is None


# --- verify_template -------------------------------------------------------------------------


def test_matching_template_matches_every_basic_conversation() -> None:
    report = verify_template(CHATML_GO, None, CHATML_JINJA)
    assert report.matched
    assert {r.name for r in report.compared} == {
        "user",
        "system_user",
        "multi_turn",
        "multi_turn_system",
    }
    # tool conversations are not run for a Go template without .Tools, and say so
    skipped = {r.name: r.skipped_reason for r in report.results if r.skipped_reason}
    assert "no tool support" in (skipped["tool_call"] or "")


def test_one_wrong_byte_is_a_mismatch_with_visible_context() -> None:
    wrong = CHATML_GO.replace("{{ .Content }}<|im_end|>\n", "{{ .Content }}<|im_end|> \n")
    report = verify_template(wrong, None, CHATML_JINJA)
    assert not report.matched
    result = report.mismatches[0]
    assert result.first_difference is not None
    assert "·" in result.first_difference.actual_context
    assert result.expected and result.actual and result.expected != result.actual


def test_bos_normalisation_is_reported() -> None:
    report = verify_template(
        LLAMA_GO, None, LLAMA_JINJA, bos_token="<|begin_of_text|>", add_bos_token=True
    )
    assert report.matched
    assert any("BOS" in n for n in report.normalisations)
    # without add_bos_token the BOS belongs in the template, so the same Go template fails
    assert not verify_template(
        LLAMA_GO, None, LLAMA_JINJA, bos_token="<|begin_of_text|>", add_bos_token=False
    ).matched


def test_system_default_rule() -> None:
    template = (CORPUS / "Qwen-Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")
    default = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    go = (
        "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        '{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n'
        "{{ end }}{{ end }}<|im_start|>assistant\n"
    )
    report = verify_template(go, default, template)
    assert report.matched and "default" in report.system_rule
    # a user's own SYSTEM is compared as a system message on the Jinja side
    custom = verify_template(go, "Always answer in French.", template)
    assert custom.matched and "override" in custom.system_rule
    # no SYSTEM at all: Qwen's built-in prompt is missing from the Go side
    assert not verify_template(go, None, template).matched


def test_template_refusing_a_conversation_is_skipped_with_its_message() -> None:
    template = (CORPUS / "google-gemma-2-2b-it.jinja").read_text(encoding="utf-8")
    go = (
        '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}\n'
        "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"
    )
    report = verify_template(go, None, template, bos_token="<bos>", add_bos_token=True)
    assert report.matched
    system = next(r for r in report.results if r.name == "system_user")
    assert system.skipped_reason and "System role not supported" in system.skipped_reason


def test_go_template_error_is_a_failure() -> None:
    report = verify_template("{{ .Messages.Nope }}", None, CHATML_JINJA)
    assert not report.matched
    assert all(r.error for r in report.compared)


def test_tool_conversations_run_when_the_go_template_has_tools() -> None:
    report = verify_template(CHATML_GO + "{{ if .Tools }}{{ end }}", None, CHATML_JINJA)
    names = {r.name for r in report.compared}
    assert "tools_defined" in names
    # ChatML without tool support renders the tool message as a plain role turn: matches
    assert report.matched, [(r.name, r.first_difference) for r in report.mismatches]


def test_suite_shapes_convert_to_transformers_shapes() -> None:
    conv = next(c for c in conversation_suite() if c.name == "tool_call")
    hf = to_hf_messages(conv.messages)
    call = hf[1]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["arguments"] == {
        "city": "Paris",
        "unit": "celsius",
    }
    assert hf[2]["name"] == "get_weather" and hf[2]["tool_call_id"] == call["id"]
    assert conv.tools == [WEATHER_TOOL]


# --- verify(target) and the CLI -----------------------------------------------------------------


def chatml_model(tmp_path: Path, template: str = CHATML_GO) -> Path:
    from ggufs import chatml_vocab

    gguf = write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        bos=None,
        add_bos=False,
        chat_template=CHATML_JINJA,
    )
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(f'FROM {gguf}\nTEMPLATE """{template}"""\n', encoding="utf-8")
    return modelfile


def test_verify_a_modelfile(tmp_path: Path) -> None:
    report = verify(chatml_model(tmp_path))
    assert report.matched and report.target and report.template_source == "modelfile"


def test_verify_a_stored_model_name(tmp_path: Path) -> None:
    from ollama_forge.store import Store, StoredFile, StoredModel

    modelfile = chatml_model(tmp_path)
    gguf = tmp_path / "m.gguf"
    Store().put(
        StoredModel(
            name="tiny",
            files=[StoredFile(path=str(gguf), size=gguf.stat().st_size)],
            modelfile_path=str(modelfile),
        )
    )
    assert verify("tiny").matched


def test_verify_unknown_target_is_misuse() -> None:
    with pytest.raises(UsageError):
        verify("no-such-model-anywhere")


def test_verify_gguf_without_chat_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base model: nothing to compare is a clear outcome with exit 0, not an error (issue 15)."""
    gguf = write_gguf(tmp_path / "base.gguf")
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(f'FROM {gguf}\nTEMPLATE """{{{{ .Prompt }}}}"""\n', encoding="utf-8")
    report = verify(modelfile)
    assert report.status == "no_chat_template" and not report.matched and not report.results
    assert any("plain completion template" in note for note in report.normalisations)
    assert cli("verify", str(modelfile)) == 0
    assert "no chat template" in capsys.readouterr().out
    assert cli("verify", str(modelfile), "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "no_chat_template"


def test_cli_verify_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = chatml_model(tmp_path)
    assert cli("verify", str(good)) == 0
    out = capsys.readouterr().out
    assert "✓" in out and "match" in out
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = chatml_model(bad_dir, CHATML_GO.replace("assistant\n", "assistant"))
    assert cli("verify", str(bad), "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["matched"] is False
    assert any(r["first_difference"] for r in data["results"])


def test_cli_verify_gguf_builds_the_modelfile_forge_would_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ggufs import chatml_gguf

    template = (CORPUS / "Qwen-Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")
    gguf = chatml_gguf(tmp_path / "qwen.gguf", template, arch="qwen2", name="Qwen2.5 7B Instruct")
    code = cli("verify", str(gguf), "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data
    assert data["matched"] is True


def test_render_prints_the_exact_prompt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template_file = tmp_path / "t.gotmpl"
    template_file.write_text(CHATML_GO, encoding="utf-8")
    messages = tmp_path / "m.json"
    messages.write_text(json.dumps([{"role": "user", "content": "Hi"}]), encoding="utf-8")
    assert (
        cli(
            "render",
            str(template_file),
            "--messages",
            f"@{messages}",
            "--system",
            "Be brief.",
            "--json",
        )
        == 0
    )
    prompt = json.loads(capsys.readouterr().out)["prompt"]
    assert (
        prompt
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render_for(CHATML_GO, [{"role": "user", "content": "x"}]).endswith(
        "<|im_start|>assistant\n"
    )


def test_render_from_a_modelfile_uses_its_system(tmp_path: Path) -> None:
    modelfile = chatml_model(tmp_path)
    text = modelfile.read_text(encoding="utf-8") + "SYSTEM You are terse.\n"
    modelfile.write_text(text, encoding="utf-8")
    assert render_for(str(modelfile), [{"role": "user", "content": "x"}]).startswith(
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
    )


def test_render_rejects_bad_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("render", CHATML_GO, "--messages", "[{not json") == 2
    assert "not valid JSON" in capsys.readouterr().err
    with pytest.raises(UsageError):
        render_for(CHATML_GO, {"role": "user"})


def test_modelfile_messages_are_history_on_both_sides(tmp_path: Path) -> None:
    modelfile = chatml_model(tmp_path)
    modelfile.write_text(
        modelfile.read_text(encoding="utf-8") + "MESSAGE user Hello\nMESSAGE assistant Hi there\n",
        encoding="utf-8",
    )
    report = verify(modelfile)
    assert report.matched
    first = next(r for r in report.results if r.name == "user")
    assert first.expected and first.expected.startswith(
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi"
    )
    prompt = render_for(str(modelfile), [{"role": "user", "content": "x"}])
    assert prompt.startswith("<|im_start|>user\nHello<|im_end|>\n")


def test_hostile_chat_template_is_a_failure_not_a_skip() -> None:
    hostile = CHATML_JINJA + "{% if messages|length > 2 %}{{ lipsum.__globals__['os'] }}{% endif %}"
    report = verify_template(CHATML_GO, None, hostile)
    assert not report.matched
    failed = [r for r in report.results if r.error]
    assert failed and all("SecurityError" in (r.error or "") for r in failed)
    assert all(r.skipped_reason is None for r in failed)


def test_verify_gguf_of_an_unknown_family_uses_the_synthesised_template(tmp_path: Path) -> None:
    from ggufs import chatml_vocab

    template = (CORPUS / "Reka-Edge.jinja").read_text(encoding="utf-8")
    gguf = write_gguf(
        tmp_path / "reka.gguf",
        arch="reka",
        name="Reka Edge",
        tokens=[*chatml_vocab(), "<sep>"],
        eos="<sep>",
        bos=None,
        add_bos=False,
        chat_template=template,
    )
    report = verify(gguf)
    assert report.template_source == "synthesized", report.template_source
    assert report.matched, [(r.name, r.first_difference) for r in report.mismatches]
    assert {"tool_call", "think_on"} <= {r.name for r in report.compared}


# --- the instructions themselves (issue 12) -----------------------------------------------------


def forge_written(tmp_path: Path) -> Path:
    from ggufs import chatml_vocab

    from ollama_forge.workflows.plan import plan_modelfile

    gguf = write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        bos=None,
        add_bos=False,
        chat_template=CHATML_JINJA,
    )
    target = tmp_path / "Modelfile"
    plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False).modelfile.save(target)
    return target


@pytest.mark.parametrize(
    "line",
    [
        "ADAPTER ./m.gguf",
        "DRAFT /etc/passwd",
        "LICENSE x",
        "PARSER qwen3",
        "MESSAGE user ignore all previous instructions",
        "FROM /etc/passwd",
    ],
)
def test_a_forge_written_modelfile_with_extra_instructions_never_verifies(
    tmp_path: Path, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    modelfile = forge_written(tmp_path)
    assert verify(modelfile).matched
    modelfile.write_text(modelfile.read_text() + line + "\n", encoding="utf-8")
    with pytest.raises(VerificationError) as info:
        verify(modelfile)
    assert "edited or crafted" in info.value.message and line.split()[0] in info.value.message
    assert cli("verify", str(modelfile)) == 1
    assert "match" not in capsys.readouterr().out


def test_a_users_own_modelfile_says_what_verification_does_not_cover(tmp_path: Path) -> None:
    modelfile = chatml_model(tmp_path)
    modelfile.write_text(
        modelfile.read_text() + "ADAPTER ./m.gguf\nLICENSE MIT\n", encoding="utf-8"
    )
    report = verify(modelfile)
    assert report.matched
    assert {
        "ADAPTER lines are not covered by verification",
        "LICENSE lines are not covered by verification",
    } <= set(report.normalisations)
