"""num_ctx is always set on purpose: trained context, capped, fitted to a memory budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import write_gguf

from ollama_forge.errors import UsageError
from ollama_forge.families import DEFAULT_MAX_CTX, choose_num_ctx, parse_size
from ollama_forge.gguf import estimate_memory, read_gguf
from ollama_forge.workflows.plan import plan_modelfile


def info_with(tmp_path: Path, ctx: int | None, **kw: object):  # type: ignore[no-untyped-def]
    return read_gguf(write_gguf(tmp_path / f"m{ctx}.gguf", context_length=ctx, **kw))  # type: ignore[arg-type]


def test_trained_context_within_the_cap_is_used(tmp_path: Path) -> None:
    choice = choose_num_ctx(info_with(tmp_path, 4096), use_free_memory=False)
    assert choice.num_ctx == 4096 and "trained context 4096" in choice.reason


def test_long_context_is_capped_by_default_and_by_max_ctx(tmp_path: Path) -> None:
    info = info_with(tmp_path, 131072)
    assert choose_num_ctx(info, use_free_memory=False).num_ctx == DEFAULT_MAX_CTX == 8192
    capped = choose_num_ctx(info, max_ctx=32768, use_free_memory=False)
    assert capped.num_ctx == 32768 and "--num-ctx 32768" in capped.reason
    assert (
        choose_num_ctx(info_with(tmp_path, 2048), max_ctx=32768, use_free_memory=False).num_ctx
        == 2048
    )


def test_unknown_trained_context_uses_the_cap(tmp_path: Path) -> None:
    choice = choose_num_ctx(info_with(tmp_path, None), use_free_memory=False)
    assert choice.num_ctx == DEFAULT_MAX_CTX and "does not state" in choice.reason


def test_explicit_request_is_kept_with_a_warning_past_training(tmp_path: Path) -> None:
    info = info_with(tmp_path, 4096)
    assert choose_num_ctx(info, requested=2048).num_ctx == 2048
    over = choose_num_ctx(info, requested=16384)
    assert over.num_ctx == 16384 and "exceeds the model's trained context" in over.warnings[0]


def test_memory_budget_picks_the_largest_context_that_fits(tmp_path: Path) -> None:
    info = info_with(
        tmp_path, 131072, block_count=32, embedding_length=4096, head_count=32, head_count_kv=8
    )
    per_token = estimate_memory(info, 2048).kv_bytes // 2048  # type: ignore[operator]
    weights = estimate_memory(info, 2048).weights_bytes
    budget = weights + per_token * 5000
    choice = choose_num_ctx(info, max_ctx=65536, mem=budget)
    assert choice.num_ctx % 256 == 0
    assert (
        estimate_memory(info, choice.num_ctx).total_bytes
        <= budget
        < estimate_memory(info, choice.num_ctx + 256).total_bytes
    )
    assert "reduced to" in choice.reason and "--mem" in choice.reason


def test_budget_below_the_weights_uses_the_minimum_with_a_warning(tmp_path: Path) -> None:
    info = info_with(
        tmp_path, 8192, block_count=32, embedding_length=4096, head_count=32, head_count_kv=8
    )
    choice = choose_num_ctx(info, mem=1)
    assert choice.num_ctx == 512 and choice.warnings


def test_free_memory_is_the_default_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_forge import budget as machine

    info = info_with(
        tmp_path, 131072, block_count=32, embedding_length=4096, head_count=32, head_count_kv=8
    )
    budget = estimate_memory(info, 3000).total_bytes
    monkeypatch.setattr(machine, "gpu_free_bytes", lambda: None)
    monkeypatch.setattr(machine, "ram_available_bytes", lambda: budget)
    choice = choose_num_ctx(info)
    assert choice.num_ctx < 3000 and "free memory" in choice.reason
    # with a GPU, the budget is its free VRAM, as in `forge quants`
    monkeypatch.setattr(machine, "gpu_free_bytes", lambda: budget // 2)
    on_gpu = choose_num_ctx(info)
    assert on_gpu.num_ctx < choice.num_ctx and "free VRAM" in on_gpu.reason


def test_mem_means_the_same_in_quants_and_modelfile(tmp_path: Path) -> None:
    from ollama_forge.budget import detect_budget

    info = info_with(
        tmp_path, 131072, block_count=32, embedding_length=4096, head_count=32, head_count_kv=8
    )
    assert choose_num_ctx(info, mem="8GB").budget_bytes == detect_budget("8GB").bytes == 8 * 1000**3
    assert choose_num_ctx(info, mem="8GiB").budget_bytes == 8 * 1024**3


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8G", 8 * 1024**3),
        ("512MiB", 512 * 1024**2),
        ("1.5GB", int(1.5 * 1000**3)),
        ("1000", 1000),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "-1G", "0", 0])
def test_parse_size_rejects(bad: str | int) -> None:
    with pytest.raises(UsageError):
        parse_size(bad)


def test_modelfile_always_sets_num_ctx_and_records_why(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "m.gguf", context_length=32768)
    result = plan_modelfile(gguf, use_free_memory=False)
    assert result.modelfile.parameters["num_ctx"] == 8192
    assert "PARAMETER num_ctx 8192" in result.modelfile.render()
    assert any(
        c.startswith("num_ctx 8192: trained context 32768, capped")
        for c in result.modelfile.comments
    )
    assert (
        plan_modelfile(
            gguf, params={"num_ctx": "4096"}, use_free_memory=False
        ).modelfile.parameters["num_ctx"]
        == 4096
    )
    assert plan_modelfile(gguf, num_ctx=2048, use_free_memory=False).context.num_ctx == 2048
    from ollama_forge.errors import ParameterError

    with pytest.raises(ParameterError):
        plan_modelfile(gguf, params={"num_ctx": "lots"}, use_free_memory=False)
