"""workflows.plan (build_modelfile): template choice and its record, FROM paths, overrides, base models, store names."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from families.family_cases import CHAT_CASES, DATA
from ggufs import write_gguf, write_projector, write_split_gguf

import ollama_forge as forge
from ollama_forge.errors import FamilyError, ParameterError, UsageError, VerificationError
from ollama_forge.modelfile import parse_modelfile
from ollama_forge.workflows.plan import plan_modelfile

UPPER = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"  # no Go template can express this


def llama2_gguf(tmp_path: Path, **kw: object) -> Path:
    return write_gguf(
        tmp_path / "llama-2-7b-chat.Q4_K_M.gguf",
        name="Llama 2 7B Chat",
        chat_template=(DATA / "llama2.jinja").read_text(),
        **kw,
    )  # type: ignore[arg-type]


def test_public_api_returns_a_modelfile_that_renders_itself(tmp_path: Path) -> None:
    mf = forge.build_modelfile(llama2_gguf(tmp_path))
    assert isinstance(mf, forge.Modelfile)
    text = mf.render()
    assert text.startswith("# Modelfile written by ollama_forge")
    assert "TEMPLATE" in repr(mf) and "[INST]" in repr(mf)
    assert parse_modelfile(text).template == mf.template
    assert [f.name for f in forge.list_families()][:1] == ["alpaca"]
    assert forge.detect_family(tmp_path / "llama-2-7b-chat.Q4_K_M.gguf").family == "llama2"


def test_choice_and_verification_are_recorded_in_comments(tmp_path: Path) -> None:
    result = plan_modelfile(llama2_gguf(tmp_path), use_free_memory=False)
    comments = result.modelfile.comments
    assert comments[1] == "family: llama2 (rule chat_template_signature, confidence high)"
    assert any(
        c.startswith("template: family llama2, verified against the GGUF's chat template: 4/4")
        for c in comments
    )
    assert any(c.startswith("stops: </s> (the GGUF's eos token)") for c in comments)
    assert any(c.startswith("num_ctx 4096:") for c in comments)
    assert result.explanation()[0].startswith("family: llama2")


def test_from_is_relative_to_the_modelfile_folder(tmp_path: Path) -> None:
    gguf = llama2_gguf(tmp_path)
    assert plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False).modelfile.from_ == [
        "./llama-2-7b-chat.Q4_K_M.gguf"
    ]
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    assert plan_modelfile(gguf, modelfile_dir=elsewhere, use_free_memory=False).modelfile.from_ == [
        str(gguf)
    ]
    assert plan_modelfile(gguf, use_free_memory=False).modelfile.from_ == [str(gguf)]


def test_projector_and_shards_become_further_froms(tmp_path: Path) -> None:
    gguf = llama2_gguf(tmp_path)
    proj = write_projector(tmp_path / "mmproj-model-f16.gguf")
    mf = plan_modelfile(
        gguf, projector=proj, modelfile_dir=tmp_path, use_free_memory=False
    ).modelfile
    assert mf.from_ == ["./llama-2-7b-chat.Q4_K_M.gguf", "./mmproj-model-f16.gguf"]
    assert "projector: mmproj-model-f16.gguf (given with --projector)" in mf.comments
    sibling = plan_modelfile(gguf, modelfile_dir=tmp_path, use_free_memory=False)
    assert sibling.modelfile.from_[1] == "./mmproj-model-f16.gguf"
    assert any("next to the model" in c for c in sibling.modelfile.comments)
    with pytest.raises(UsageError, match="not a projector"):
        plan_modelfile(gguf, projector=gguf, use_free_memory=False)
    with pytest.raises(UsageError, match="projector"):
        plan_modelfile(proj, use_free_memory=False)
    shards = write_split_gguf(
        tmp_path / "split",
        "big",
        shards=3,
        chat_template=(DATA / "chatml.jinja").read_text(),
        tokens=["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
        eos="<|im_end|>",
    )
    split = plan_modelfile(
        shards[0], modelfile_dir=tmp_path / "split", use_free_memory=False
    ).modelfile
    assert split.from_ == [f"./{s.name}" for s in shards]
    shards[2].unlink()
    with pytest.raises(forge.SplitError):
        plan_modelfile(shards[0], use_free_memory=False)


def test_system_params_and_messages(tmp_path: Path) -> None:
    mf = forge.build_modelfile(
        llama2_gguf(tmp_path),
        system="Talk like a pirate.",
        params={"temperature": "0.2"},
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Arr"}],
    )
    assert mf.system == "Talk like a pirate."
    assert mf.parameters["temperature"] == pytest.approx(0.2)
    assert [m.role for m in mf.messages] == ["user", "assistant"]
    assert "SYSTEM: set by the user" in "\n".join(mf.comments)
    with pytest.raises(ParameterError):
        forge.build_modelfile(llama2_gguf(tmp_path), params={"tfs_z": 1})


def test_family_default_system_and_gguf_sampling(tmp_path: Path) -> None:
    case = next(c for c in CHAT_CASES if c.family == "qwen2.5")
    from families.family_cases import tokens_for

    text = case.text() or ""
    gguf = write_gguf(
        tmp_path / "qwen.gguf",
        arch="qwen2",
        tokens=tokens_for(text, "<|im_end|>"),
        bos=None,
        eos="<|im_end|>",
        add_bos=False,
        chat_template=text,
        extra_kv={"general.sampling.temp": 0.7, "general.sampling.top_p": 0.8},
    )
    mf = forge.build_modelfile(
        gguf, template_path="go"
    )  # auto: native on this model, the Jinja has the system
    assert mf.system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert mf.parameters["temperature"] == pytest.approx(0.7) and mf.parameters[
        "top_p"
    ] == pytest.approx(0.8)


def test_family_override_that_does_not_verify_fails_with_the_report(tmp_path: Path) -> None:
    gguf = llama2_gguf(tmp_path)
    with pytest.raises(VerificationError) as info:
        plan_modelfile(gguf, family="chatml", use_free_memory=False)
    err = info.value
    assert "--force" in (err.hint or "")
    assert err.report is not None and err.report.matched is False
    forced = plan_modelfile(gguf, family="chatml", force=True, use_free_memory=False)
    assert forced.verified is False and forced.family == "chatml"
    assert any(c.startswith("template: UNVERIFIED (--force)") for c in forced.modelfile.comments)
    assert any(
        c.startswith("WARNING: writing an unverified template") for c in forced.modelfile.comments
    )


def test_no_template_at_all_fails_even_with_force(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "odd.gguf", arch="mystery", name="Mystery", chat_template=UPPER)
    with pytest.raises(VerificationError) as info:
        plan_modelfile(gguf, force=True, use_free_memory=False)
    assert "--family" in (info.value.hint or "")


def test_synthesised_template_when_no_family_fits(tmp_path: Path) -> None:
    template = (
        "{% for m in messages %}<|turn|>{{ m['role'] }}:{{ m['content'] }}<|done|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|turn|>assistant:{% endif %}"
    )
    gguf = write_gguf(
        tmp_path / "novel.gguf",
        arch="mystery",
        name="Novel",
        tokens=["<unk>", "<s>", "</s>", "<|turn|>", "<|done|>"],
        eos="<|done|>",
        chat_template=template,
    )
    result = plan_modelfile(gguf, use_free_memory=False)
    assert (
        result.template_source == "synthesized"
        and result.verified is True
        and result.family is None
    )
    assert result.modelfile.parameters["stop"] == ["<|done|>"]
    assert any(
        c.startswith("template: synthesized template, verified") for c in result.modelfile.comments
    )


def test_base_model_gets_a_plain_template_and_a_visible_warning(tmp_path: Path) -> None:
    gguf = write_gguf(
        tmp_path / "gemma-3-1b.gguf", arch="gemma3", name="Gemma 3 1b", bos="<s>", eos="</s>"
    )
    result = plan_modelfile(gguf, use_free_memory=False)
    assert result.modelfile.template == "{{ .Prompt }}" and result.template_source == "plain"
    assert result.verified is None
    assert "no chat template" in result.warnings[0] and "--family gemma3" in result.warnings[0]
    assert any(c.startswith("WARNING:") for c in result.modelfile.comments)
    assert result.modelfile.parameters["stop"] == ["</s>"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forge.build_modelfile(gguf)
    assert any("no chat template" in str(w.message) for w in caught)
    chosen = plan_modelfile(gguf, family="gemma3", use_free_memory=False)
    assert (
        chosen.family == "gemma3"
        and chosen.verified is None
        and "UNVERIFIED" in chosen.verification
    )


def test_stored_model_name_is_resolved(tmp_path: Path) -> None:
    from ollama_forge.store import Store, StoredFile, StoredModel

    gguf = llama2_gguf(tmp_path)
    proj = write_projector(tmp_path / "mmproj.gguf")
    Store().put(
        StoredModel(
            name="mymodel",
            repo="TheBloke/Llama-2-7B-Chat-GGUF",
            files=[
                StoredFile(role="model", path=str(gguf), size=gguf.stat().st_size),
                StoredFile(role="projector", path=str(proj), size=proj.stat().st_size),
            ],
        )
    )
    result = plan_modelfile("mymodel", modelfile_dir=tmp_path, use_free_memory=False)
    assert result.source.store_name == "mymodel"
    assert result.modelfile.from_ == ["./llama-2-7b-chat.Q4_K_M.gguf", "./mmproj.gguf"]
    with pytest.raises(UsageError, match="'nosuchmodel' not found"):
        plan_modelfile("nosuchmodel", use_free_memory=False)


def test_broken_user_family_is_reported_not_crashed(tmp_path: Path) -> None:
    folder = tmp_path / "fams"
    folder.mkdir()
    (folder / "llama2.jinja").write_text(
        '{#- forge-family {"name": "llama2", "signatures": [["[INST]"]]} -#}\n'
        "FROM ./elsewhere.gguf\n",
        encoding="utf-8",
    )
    with pytest.raises(FamilyError, match="FROM"):
        plan_modelfile(llama2_gguf(tmp_path), families_dir=folder, use_free_memory=False)


def test_real_gemma4_vocab_template_falls_back_to_a_verified_synthesis() -> None:
    """No family covers Gemma 4 (Ollama renders it itself); the synthesised template must verify.

    ``auto`` writes Ollama's built-in renderer pair for the architecture; the Go TEMPLATE is what
    ``--template-path go`` writes for servers without the create-time auto-set.
    """
    from assets import vocab_gguf

    auto = plan_modelfile(vocab_gguf("gemma-4"), use_free_memory=False)
    assert (auto.modelfile.renderer, auto.modelfile.parser, auto.modelfile.template) == (
        "gemma4",
        "gemma4",
        None,
    )
    assert auto.template_source == "builtin_renderer" and auto.verified is True
    result = plan_modelfile(vocab_gguf("gemma-4"), template_path="go", use_free_memory=False)
    assert result.template_source == "synthesized" and result.verified is True
    assert result.modelfile.renderer is None
    assert "<start_of_turn>" not in result.modelfile.parameters.get("stop", [])
    assert any(
        c.startswith("template: synthesized template, verified") for c in result.modelfile.comments
    )
