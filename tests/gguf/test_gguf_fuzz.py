"""Property: any mutation or truncation of a valid GGUF either parses or raises GGUFError."""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import chatml_vocab, write_gguf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_forge.errors import GGUFError
from ollama_forge.gguf import BytesSource, estimate_memory, open_gguf

_VALID: bytes | None = None


def valid_bytes(tmp_dir: Path) -> bytes:
    global _VALID
    if _VALID is None:
        path = write_gguf(
            tmp_dir / "fuzz.gguf",
            arch="qwen2",
            tokens=chatml_vocab(),
            eos="<|im_end|>",
            chat_template="{{ messages }}",
            head_count_kv=[2, 2],
            extra_kv={"qwen2.attention.sliding_window": 64, "general.alignment": 32},
        )
        _VALID = path.read_bytes()
    return _VALID


def exercise(data: bytes) -> None:
    try:
        with open_gguf(BytesSource(data, name="fuzz.gguf")) as g:
            info = g.info
            estimate_memory(info, 2048)
            g.find_tokens(["<|im_end|>", "<s>"])
            g.token_text(3)
            for key in list(g.kv):
                if not isinstance(g.kv[key], (int, float, str, bool)):
                    g.array(key)
    except GGUFError as exc:
        assert exc.message and exc.hint  # every reader error says what is wrong and how to fix it


mutation = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=255)),
    min_size=1,
    max_size=8,
)


@pytest.mark.timeout(300)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=mutation, cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)))
def test_mutations_only_raise_gguf_errors(
    tmp_path: Path, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(valid_bytes(tmp_path))
    limit = min(len(data), 2000)
    for pos, value in edits:
        data[pos % limit] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    exercise(bytes(data))


@pytest.mark.timeout(300)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pos=st.integers(min_value=0, max_value=1500),
    word=st.sampled_from([0, 1, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1]),
    width=st.sampled_from([4, 8]),
)
def test_big_integers_written_anywhere(tmp_path: Path, pos: int, word: int, width: int) -> None:
    data = bytearray(valid_bytes(tmp_path))
    pos = pos % (len(data) - width)
    data[pos : pos + width] = (word & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    exercise(bytes(data))
