"""The transformers runner on CPU with the tiny offline model: real generation through the
pipeline, HuggingFacePipeline and ChatHuggingFace (invoke and stream), settings that take effect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("langchain_huggingface")

from ollama_forge.errors import RuntimeBackendError, UsageError
from ollama_forge.runners.hf import (
    generation_settings,
    hf_chat_model,
    hf_generate,
    hf_llm,
    hf_pipeline,
)

pytestmark = pytest.mark.hf
PROMPT = "The quick brown fox"


@pytest.fixture(scope="module")
def pipe(tiny_model_dir: Path) -> Any:
    return hf_pipeline(tiny_model_dir, device="cpu", max_new_tokens=3, temperature=0)


def _new_ids(pipe: Any, text: str, **kw: Any) -> list[int]:
    """The ids the pipeline generates for ``text`` (prompt ids stripped)."""
    full = pipe(text, return_tensors=True, **kw)[0]["generated_token_ids"]
    prompt_len = pipe.preprocess(text)["input_ids"].shape[-1]
    return list(full[prompt_len:])


def test_pipeline_device_dtype_and_no_echo(pipe: Any) -> None:
    import torch

    assert pipe.device.type == "cpu"
    assert pipe.model.dtype == torch.float32
    assert pipe.forge_choice.device == "cpu" and pipe.forge_choice.dtype == "float32"
    out = pipe(PROMPT)[0]["generated_text"]
    full = pipe(PROMPT, return_full_text=True)[0]["generated_text"]
    assert full == PROMPT + out  # return_full_text=False by default: no prompt echo
    assert len(_new_ids(pipe, PROMPT)) == 3  # max_new_tokens from hf_pipeline(), not the model's 8


def test_generation_settings_apply_to_every_call(tiny_model_dir: Path, pipe: Any) -> None:
    longer = hf_pipeline(tiny_model_dir, device="cpu", max_new_tokens=7, temperature=0)
    assert len(_new_ids(longer, PROMPT)) == 7
    assert longer(PROMPT)[0]["generated_text"].startswith(
        pipe(PROMPT)[0]["generated_text"]
    )  # greedy: same prefix


def test_hf_llm_invoke_and_stream(pipe: Any) -> None:
    from langchain_huggingface import HuggingFacePipeline

    llm = hf_llm(pipeline=pipe)
    assert isinstance(llm, HuggingFacePipeline)
    expected = pipe(PROMPT)[0]["generated_text"]
    assert (
        llm.invoke(PROMPT) == expected
    )  # no echo, 3 tokens (the wrapper's own defaults would give 256)
    chunks = list(llm.stream(PROMPT))
    assert len(chunks) >= 2
    assert "".join(chunks) == expected


def test_hf_llm_from_model_id(tiny_model_dir: Path, pipe: Any) -> None:
    llm = hf_llm(tiny_model_dir, device="cpu", max_new_tokens=3, temperature=0)
    assert llm.invoke(PROMPT) == pipe(PROMPT)[0]["generated_text"]
    with pytest.raises(UsageError, match="go to hf_pipeline"):
        hf_llm(pipeline=pipe, max_new_tokens=5)


def test_chat_model_uses_chat_template(pipe: Any) -> None:
    from langchain_core.messages import AIMessage
    from langchain_huggingface import ChatHuggingFace

    chat = hf_chat_model(pipeline=pipe)
    assert isinstance(chat, ChatHuggingFace)
    assert chat.tokenizer is pipe.tokenizer
    messages = [("system", "You are terse."), ("human", "Say hi")]
    rendered = pipe.tokenizer.apply_chat_template(
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert rendered.endswith("<|im_start|>assistant\n")
    expected = pipe(rendered)[0]["generated_text"]
    reply = chat.invoke(messages)
    assert isinstance(reply, AIMessage)
    assert reply.content == expected
    streamed = "".join(str(chunk.content) for chunk in chat.stream(messages))
    assert streamed == expected


def test_chat_model_without_template(tiny_base_model_dir: Path) -> None:
    with pytest.raises(RuntimeBackendError, match="no chat template") as info:
        hf_chat_model(tiny_base_model_dir, device="cpu", max_new_tokens=2)
    assert info.value.hint and "hf_llm" in info.value.hint


def test_hf_generate_streams_and_reports(pipe: Any) -> None:
    pieces: list[str] = []
    result = hf_generate(
        pipe, messages=[{"role": "user", "content": "Say hi"}], on_text=pieces.append
    )
    assert result.prompt.startswith("<|im_start|>user\nSay hi<|im_end|>")
    assert "".join(pieces) == result.text
    assert result.new_tokens == 3
    assert result.finish_reason == "length"
    assert (result.device, result.dtype) == ("cpu", "float32")
    raw = hf_generate(pipe, PROMPT, max_new_tokens=2)
    assert raw.new_tokens == 2 and raw.finish_reason == "length"
    assert raw.text == pipe(PROMPT, max_new_tokens=2)[0]["generated_text"]


def test_hf_generate_needs_chat_template_for_messages(tiny_base_model_dir: Path) -> None:
    base = hf_pipeline(tiny_base_model_dir, device="cpu", max_new_tokens=2, temperature=0)
    with pytest.raises(RuntimeBackendError, match="no chat template"):
        hf_generate(base, messages=[{"role": "user", "content": "hi"}])
    assert hf_generate(base, "Hello").new_tokens == 2


def test_generation_settings_validation() -> None:
    with pytest.raises(UsageError) as info:
        generation_settings({"max_new_token": 3})
    assert info.value.hint and "max_new_tokens" in info.value.hint
    assert generation_settings({"temperature": 0}) == {"do_sample": False}
    assert generation_settings({"temperature": 0.5}) == {"temperature": 0.5, "do_sample": True}
    with pytest.raises(UsageError, match="contradicts"):
        generation_settings({"temperature": 0, "do_sample": True})
    with pytest.raises(UsageError, match="at least 1"):
        generation_settings({"max_new_tokens": 0})


def test_missing_model_is_a_forge_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeBackendError) as info:
        hf_pipeline(tmp_path / "nope", device="cpu")
    assert info.value.hint


def test_run_hf_cli_json(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "run-hf",
                str(tiny_model_dir),
                "--device",
                "cpu",
                "--max-new-tokens",
                "4",
                "--temperature",
                "0",
                "--prompt",
                "Say hi",
                "--json",
            ]
        )
    assert exit_info.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["new_tokens"] == 4 and data["finish_reason"] == "length"
    assert data["device"] == "cpu" and data["prompt"].endswith("<|im_start|>assistant\n")


def test_run_hf_cli_device_error(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from ollama_forge.cli import main

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        main(["run-hf", str(tiny_model_dir), "--device", "mps", "--prompt", "hi"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "mps requested but this torch build has no MPS; available: cpu" in err


def test_explicit_dtype_reaches_the_model(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from ollama_forge.errors import ForgeWarning

    with pytest.warns(ForgeWarning, match="slower"):  # the library warns; only the CLI prints
        half = hf_pipeline(
            tiny_model_dir, device="cpu", dtype="bf16", max_new_tokens=2, temperature=0
        )
    assert half.model.dtype == torch.bfloat16
    assert half.forge_choice.warnings and "slower" in half.forge_choice.warnings[0]
    assert "slower" not in capsys.readouterr().err
    assert len(_new_ids(half, PROMPT)) == 2


def test_run_hf_cli_prints_the_library_warning(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "run-hf",
                str(tiny_model_dir),
                "--device",
                "cpu",
                "--dtype",
                "bfloat16",
                "--max-new-tokens",
                "2",
                "--temperature",
                "0",
                "--prompt",
                "hi",
            ]
        )
    assert exit_info.value.code == 0
    assert "warning: bfloat16 on CPU runs, but much slower than float32" in capsys.readouterr().err


def test_run_hf_cli_interactive(tiny_model_dir: Path) -> None:
    from click.testing import CliRunner

    from ollama_forge.cli import cli

    outcome = CliRunner().invoke(
        cli,
        [
            "run-hf",
            str(tiny_model_dir),
            "--device",
            "cpu",
            "--max-new-tokens",
            "2",
            "--temperature",
            "0",
            "-s",
            "Be terse.",
        ],
        input="Say hi\nAgain\n/bye\n",
    )
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stderr.count("2 tokens in") == 2  # two replies, each cut at --max-new-tokens
    assert "on cpu (float32)" in outcome.stderr
