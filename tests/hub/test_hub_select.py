"""Variant grouping, quant matching, default/fit choice and projector pairing."""

from __future__ import annotations

import pytest

from ollama_forge.budget import detect_budget, parse_size
from ollama_forge.errors import QuantSelectionError, UsageError
from ollama_forge.hub.listing import RemoteFile
from ollama_forge.hub.select import (
    choose_variant,
    default_name,
    group_variants,
    match_quant,
    pick_projector,
)


def rf(path: str, size: int = 100) -> RemoteFile:
    return RemoteFile(path=path, size=size, sha256="a" * 64, blob_id="b" * 40)


def test_grouping_merges_shards_and_separates_projectors() -> None:
    files = [
        rf("README.md"),
        rf("m-Q4_K_M.gguf", 400),
        rf("m-Q8_0-00002-of-00002.gguf", 500),
        rf("m-Q8_0-00001-of-00002.gguf", 600),
        rf("mmproj-m-F16.gguf", 50),
        rf("imatrix.gguf", 5),
        rf("m.imatrix.dat", 5),
        rf("mtp-m-Q8_0.gguf", 5),
        rf("m-Q2_K-00001-of-00003.gguf", 5),  # incomplete set
    ]
    g = group_variants(files)
    labels = {v.quant: v for v in g.variants}
    assert set(labels) == {"Q4_K_M", "Q8_0"}
    q8 = labels["Q8_0"]
    assert q8.shard_count == 2 and q8.size == 1100
    assert [f.path for f in q8.files] == [
        "m-Q8_0-00001-of-00002.gguf",
        "m-Q8_0-00002-of-00002.gguf",
    ]
    assert [p.path for p in g.projectors] == ["mmproj-m-F16.gguf"]
    assert g.projectors[0].quant == "F16"
    assert set(g.excluded) == {"README.md", "imatrix.gguf", "m.imatrix.dat", "mtp-m-Q8_0.gguf"}
    assert g.incomplete == ["m-Q2_K-*-of-00003.gguf"]


def test_quant_matches_exactly_and_case_insensitively() -> None:
    g = group_variants([rf("m-Q4_K_M.gguf"), rf("m-Q4_K_S.gguf"), rf("m-Q8_0.gguf")])
    assert [v.quant for v in match_quant(g.variants, "q4_k_m")] == ["Q4_K_M"]
    with pytest.raises(QuantSelectionError) as info:
        choose_variant(g.variants, repo="o/r", quant="Q4_K")
    assert "Q4_K_M" in (info.value.hint or "") and "Q4_K_S" in (info.value.hint or "")


def test_ambiguous_quant_lists_candidates() -> None:
    g = group_variants([rf("a/m-Q4_K_M.gguf"), rf("b/m-Q4_K_M.gguf")])
    with pytest.raises(QuantSelectionError) as info:
        choose_variant(g.variants, repo="o/r", quant="Q4_K_M")
    assert "a/m-Q4_K_M.gguf" in info.value.message and "--file" in (info.value.hint or "")
    chosen = choose_variant(g.variants, repo="o/r", file="b/m-Q4_K_M.gguf")
    assert chosen.entry.path == "b/m-Q4_K_M.gguf"


def test_default_prefers_q4_k_m_then_q8_0_then_best_fit() -> None:
    g = group_variants([rf("m-Q8_0.gguf"), rf("m-Q4_K_M.gguf"), rf("m-F16.gguf")])
    assert choose_variant(g.variants, repo="o/r").quant == "Q4_K_M"
    g = group_variants([rf("m-F16.gguf"), rf("m-Q8_0.gguf")])
    assert choose_variant(g.variants, repo="o/r").quant == "Q8_0"
    g = group_variants([rf("m-F16.gguf", 1000), rf("m-Q5_K_M.gguf", 500), rf("m-Q3_K_M.gguf", 300)])
    with pytest.raises(QuantSelectionError, match="budget is unknown"):
        choose_variant(g.variants, repo="o/r")
    for v in g.variants:
        v.fits = v.size <= 600
    assert choose_variant(g.variants, repo="o/r").quant == "Q5_K_M"
    assert choose_variant(g.variants, repo="o/r", fit=True).quant == "Q5_K_M"
    for v in g.variants:
        v.fits = False
    with pytest.raises(QuantSelectionError, match="fits the memory budget"):
        choose_variant(g.variants, repo="o/r", fit=True)


def test_file_choice_accepts_any_shard() -> None:
    g = group_variants([rf("m-Q8_0-00001-of-00002.gguf"), rf("m-Q8_0-00002-of-00002.gguf")])
    v = choose_variant(g.variants, repo="o/r", file="m-Q8_0-00002-of-00002.gguf")
    assert v.shard_count == 2
    with pytest.raises(QuantSelectionError):
        choose_variant(g.variants, repo="o/r", file="nope.gguf")


def test_no_gguf_at_all() -> None:
    with pytest.raises(QuantSelectionError, match="no GGUF"):
        choose_variant(group_variants([rf("model.safetensors")]).variants, repo="o/r")


def test_projector_pairing_follows_llama_cpp() -> None:
    files = [
        rf("F16/m-F16.gguf"),
        rf("Q8_0/m-Q8_0.gguf"),
        rf("m-Q4_K_M.gguf"),
        rf("mmproj-F16.gguf"),
        rf("mmproj-Q8_0.gguf"),
        rf("F16/mmproj-F16.gguf"),
        rf("other/mmproj-Q4_0.gguf"),
    ]
    g = group_variants(files)
    by = {v.quant: v for v in g.variants}
    # deepest shared directory wins
    assert pick_projector(g.projectors, by["F16"]).path == "F16/mmproj-F16.gguf"  # type: ignore[union-attr]
    # then closest precision among ancestors; sibling folders are skipped
    assert pick_projector(g.projectors, by["Q8_0"]).path == "mmproj-Q8_0.gguf"  # type: ignore[union-attr]
    assert pick_projector(g.projectors, by["Q4_K_M"]).path == "mmproj-Q8_0.gguf"  # type: ignore[union-attr]
    assert pick_projector([], by["Q4_K_M"]) is None


def test_default_name() -> None:
    assert default_name("ggml-org/gemma-3-270m-GGUF", "Q4_K_M") == "gemma-3-270m-q4_k_m"
    assert default_name("o/My Model_gguf", "Q8_0") == "my-model-q8_0"
    assert default_name("o/plain", None) == "plain"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8G", 8 * 1024**3),
        ("8GiB", 8 * 1024**3),
        ("8GB", 8 * 1000**3),
        ("512M", 512 * 1024**2),
        ("1.5g", int(1.5 * 1024**3)),
        ("1000", 1000),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "8X"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_detect_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert detect_budget("2G").bytes == 2 * 1024**3
    monkeypatch.setattr("ollama_forge.budget.gpu_free_bytes", lambda: None)
    ram = detect_budget()
    assert ram.source == "ram" and ram.bytes > 0
    monkeypatch.setattr("ollama_forge.budget.gpu_free_bytes", lambda: 123 * 1024**2)
    assert detect_budget().source == "vram"


def test_gpu_free_bytes_reads_nvidia_smi(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ollama_forge.budget import gpu_free_bytes

    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = "--query-gpu=memory.free" ] || exit 3\nprintf "1000\\n30000\\n"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_free_bytes() == 30000 * 1024 * 1024  # the largest GPU
    assert detect_budget().source == "vram"
    fake.write_text("#!/bin/sh\nexit 9\n")
    assert gpu_free_bytes() is None
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert gpu_free_bytes() is None
