"""Real files: llama.cpp's vocab-only GGUFs and the Gemma 3 270M GGUF."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest

from ollama_forge.gguf import ArrayRef, open_gguf, read_gguf

VOCABS = [
    "aquila", "baichuan", "bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon",
    "gemma-4", "gpt-2", "gpt-neox", "llama-bpe", "llama-spm", "mpt", "nomic-bert-moe", "phi-3",
    "qwen2", "qwen35", "refact", "starcoder",
]  # fmt: skip
_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def naive_parse(data: bytes) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """An independent, deliberately simple struct parser (scalars, and arrays in full)."""
    pos = 24
    n_kv = struct.unpack_from("<Q", data, 16)[0]

    def string() -> str:
        nonlocal pos
        n = struct.unpack_from("<Q", data, pos)[0]
        pos += 8 + n
        return data[pos - n : pos].decode("utf-8", errors="replace")

    def value(t: int) -> Any:
        nonlocal pos
        if t == 8:
            return string()
        if t == 9:
            et, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return [value(et) for _ in range(count)]
        (v,) = struct.unpack_from("<" + _FMT[t], data, pos)
        pos += struct.calcsize(_FMT[t])
        return v

    scalars: dict[str, Any] = {}
    arrays: dict[str, list[Any]] = {}
    for _ in range(n_kv):
        key = string()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        v = value(t)
        (arrays if t == 9 else scalars)[key] = v
    return scalars, arrays


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@pytest.mark.parametrize("name", VOCABS)
def test_vocab_gguf_matches_independent_parser(vocab_dir: Path, name: str) -> None:
    path = vocab_dir / f"ggml-vocab-{name}.gguf"
    scalars, arrays = naive_parse(path.read_bytes())
    with open_gguf(path) as g:
        for key, expected in scalars.items():
            assert _same(g.kv[key], expected), key
        for key, expected in arrays.items():
            ref = g.kv[key]
            assert isinstance(ref, ArrayRef) and ref.count == len(expected), key
        tokens = arrays["tokenizer.ggml.tokens"]
        step = max(1, len(tokens) // 97)
        for i in [*range(0, len(tokens), step), len(tokens) - 1]:
            assert g.token_text(i) == tokens[i]
        probe = [tokens[-1], tokens[len(tokens) // 2], "\u2603 surely not a token \u2603"]
        assert g.find_tokens(probe) == {t: tokens.index(t) for t in probe if t in tokens}
        if "tokenizer.ggml.token_type" in arrays:
            types = arrays["tokenizer.ggml.token_type"]
            assert g.token_types([0, len(types) - 1]) == {0: types[0], len(types) - 1: types[-1]}
        info = g.info
    assert info.vocab_size == len(tokens)
    assert info.architecture == scalars["general.architecture"]
    for kind, suffix in (("eos", "eos_token_id"), ("bos", "bos_token_id")):
        token_id = scalars.get(f"tokenizer.ggml.{suffix}")
        if token_id is not None and token_id < len(tokens):
            assert info.special_tokens[kind].text == tokens[token_id]
    assert info.chat_template == scalars.get("tokenizer.chat_template")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert-bge", "llama-spm", "phi-3", "qwen2", "gpt-2", "command-r"])
def test_vocab_gguf_matches_gguf_py(vocab_dir: Path, name: str) -> None:
    """gguf-py's GGUFReader is the oracle (slow: it materialises everything)."""
    from gguf import GGUFReader, GGUFValueType

    path = vocab_dir / f"ggml-vocab-{name}.gguf"
    reader = GGUFReader(str(path))
    with open_gguf(path) as g:
        assert set(g.kv) == {k for k in reader.fields if not k.startswith("GGUF.")}
        for key, field in reader.fields.items():
            if key.startswith("GGUF."):
                continue
            if field.types and field.types[0] == GGUFValueType.ARRAY:
                assert g.kv[key].count == len(field.data), key
                if key == "tokenizer.ggml.tokens":
                    assert g.array(key) == field.contents()
            else:
                assert _same(g.kv[key], field.contents()), key
        assert g.data_offset == reader.data_offset
        assert len(g.tensors) == len(reader.tensors)


@pytest.mark.slow
def test_gemma_real_gguf(gemma_path: Path) -> None:
    info = read_gguf(gemma_path)
    assert info.architecture == "gemma3"
    assert info.quant == "Q4_K_M" and info.file_type == 15
    assert info.context_length == 32768 and info.block_count == 18
    assert info.chat_template is None  # a base model: no template
    assert info.vocab_size == 262144
    assert info.special_tokens["eos"].text == "<eos>" and info.special_tokens["bos"].text == "<bos>"
    assert info.tensor_count == 236 and info.parameter_count == 268_098_176
    assert info.sliding_window == 512 and info.head_count_kv == 1 and info.key_length == 256
    assert info.data_offset + info.tensor_bytes <= gemma_path.stat().st_size
    with open_gguf(gemma_path) as g:
        assert g.find_tokens(["<start_of_turn>", "<end_of_turn>"]) == {
            "<start_of_turn>": 105,
            "<end_of_turn>": 106,
        }
        assert g.token_text(106) == "<end_of_turn>"


@pytest.mark.slow
def test_gemma_matches_gguf_py_tensors(gemma_path: Path) -> None:
    from gguf import GGUFReader

    reader = GGUFReader(str(gemma_path))
    with open_gguf(gemma_path) as g:
        assert g.data_offset == reader.data_offset
        ours = [
            (t.name, t.type_id, t.n_elements, t.n_bytes, g.data_offset + t.offset)
            for t in g.tensors
        ]
        theirs = [
            (t.name, int(t.tensor_type), int(t.n_elements), int(t.n_bytes), int(t.data_offset))
            for t in reader.tensors
        ]
        assert ours == theirs
        assert g.token_text(262143) == reader.fields["tokenizer.ggml.tokens"].contents(262143)


@pytest.mark.slow
@pytest.mark.llama
@pytest.mark.parametrize("ctx", [4096, 32768])
def test_gemma_kv_estimate_matches_llama_cpp(gemma_path: Path, ctx: int) -> None:
    """The estimate equals llama.cpp's own `llama_kv_cache: size = …` lines (swa_full off, as in llama-server)."""
    import re
    import subprocess
    import sys

    pytest.importorskip("llama_cpp")
    from ollama_forge.gguf import estimate_memory

    code = (
        "from llama_cpp import Llama\n"
        f"Llama({str(gemma_path)!r}, n_ctx={ctx}, n_threads=1, verbose=True, swa_full=False)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sizes = [float(m) for m in re.findall(r"llama_kv_cache: size =\s+([\d.]+) MiB", proc.stderr)]
    weights = re.search(r"CPU_Mapped model buffer size =\s+([\d.]+) MiB", proc.stderr)
    assert sizes and weights
    estimate = estimate_memory(read_gguf(gemma_path), ctx)
    assert estimate.kv_bytes is not None
    assert estimate.kv_bytes / 2**20 == pytest.approx(sum(sizes), abs=0.01)
    assert estimate.weights_bytes / 2**20 == pytest.approx(float(weights.group(1)), abs=0.01)


@pytest.mark.slow
def test_gemma_sparse_index_path_matches_vectorised(gemma_path: Path) -> None:
    """A fresh process (numpy not imported) takes the sparse-index path; results are identical."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from ollama_forge.gguf import open_gguf\n"
        f"g = open_gguf({str(gemma_path)!r})\n"
        "assert 'numpy' not in sys.modules\n"
        "ids = [0, 1, 2, 63, 64, 105, 106, 131071, 262143]\n"
        "print(json.dumps({'info': g.info.model_dump(mode='json'), 'texts': [g.token_text(i) for i in ids],\n"
        "    'found': g.find_tokens(['<start_of_turn>', '<end_of_turn>', '<eos>']), 'stride': g.kv['tokenizer.ggml.tokens'].index.stride}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    fresh = json.loads(proc.stdout)
    assert fresh["stride"] > 1
    import numpy  # noqa: F401  (forces the vectorised path in this process)

    with open_gguf(gemma_path) as g:
        assert g.kv["tokenizer.ggml.tokens"].index.stride == 1
        assert fresh["info"] == g.info.model_dump(mode="json")
        assert fresh["texts"] == [
            g.token_text(i) for i in [0, 1, 2, 63, 64, 105, 106, 131071, 262143]
        ]
        assert fresh["found"] == {"<start_of_turn>": 105, "<end_of_turn>": 106, "<eos>": 1}
