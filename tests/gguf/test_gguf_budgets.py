"""Issue 12: hostile headers inside the reader's limits stay bounded, and a file that changes
under forge is a clear error (never SIGBUS). Inputs are built on the fly; the budgets' figures
are measured by benchmarks/hostile_inputs.py, these tests check behaviour."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf_craft import (
    ARRAY,
    BOOL,
    STRING,
    UINT8,
    UINT32,
    base_kvs,
    gstr,
    header,
    kv,
    kv_arr,
    kv_str,
    model,
    tensor,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_forge.errors import GGUFFormatError, GGUFTruncatedError
from ollama_forge.gguf import BytesSource, FileSource, Limits, _scan, open_gguf, read_gguf
from ollama_forge.gguf.reader import Cursor

pytestmark = pytest.mark.timeout(120)


def reference_offsets(data: bytes, count: int) -> tuple[list[int], int]:
    """The obvious loop, independent of the reader's code."""
    out, pos = [], 0
    for _ in range(count):
        out.append(pos)
        pos += 8 + struct.unpack_from("<Q", data, pos)[0]
    return out, pos


def records(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<Q", len(s)) + s for s in items)


class Chunked(BytesSource):
    """Serves at most ``chunk`` bytes per read, so every window boundary gets exercised."""

    def __init__(self, data: bytes, chunk: int) -> None:
        super().__init__(data, name="chunked.gguf")
        self.chunk = chunk

    def read_at(self, offset: int, length: int) -> bytes:
        return super().read_at(offset, min(length, max(self.chunk, 8)))


# Runs of identical records (what the run shortcut takes whole) mixed with records that defeat
# the vectorised filter: NUL contents, lengths >= 65536, empty strings.
record = st.one_of(
    st.just(b""),
    st.binary(max_size=6),
    st.binary(min_size=1, max_size=4).map(lambda b: b"\x00" * len(b)),
    st.sampled_from([b"\x00" * 9, b"tok", b"a" * 300, b"\x00" * 66_000]),
)
runs = st.lists(st.tuples(record, st.integers(1, 700)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(runs, st.sampled_from([257, 4096, 1 << 20]), st.sampled_from([512, 1 << 16, 1 << 24]))
def test_vectorised_scan_equals_the_obvious_loop(
    parts: list[tuple[bytes, int]], block: int, chunk: int
) -> None:
    items = [item for rec, n in parts for item in [rec] * n]
    if len(items) < 64:
        items += [b"pad"] * 64
    data = records(items) + b"TAIL"
    expected, end = reference_offsets(data, len(items))
    saved, _scan._BLOCK = _scan._BLOCK, block  # many blocks without megabytes of data
    try:
        cur = Cursor(Chunked(data, chunk))
        got = _scan._scan_numpy(np, cur, len(items), "k", 1 << 24)
    finally:
        _scan._BLOCK = saved
    assert got.tolist() == expected
    assert cur.pos == end


@pytest.mark.parametrize("unit", [b"", b"\x00", b"\x00\x00\x00", b"x"])
def test_millions_of_identical_strings_make_one_offset_array(unit: bytes) -> None:
    count = 2_000_000
    data = model([kv_arr("tokenizer.ggml.tokens", STRING, count, gstr(unit) * count), *base_kvs()])
    with open_gguf(BytesSource(data)) as g:
        ref = g.kv["tokenizer.ggml.tokens"]
        offsets = ref.index.offsets
        assert (
            isinstance(offsets, np.ndarray) and offsets.dtype == np.int64 and len(offsets) == count
        )
        assert offsets.nbytes == 8 * count  # no per-record objects
        assert g.token_text(count - 1) == unit.decode() and g.vocab_size == count


def test_vocabulary_that_is_not_a_whole_run_still_scans_exactly() -> None:
    items = [b""] * 100_000 + [b"\x00"] * 5 + [b"ab"] + [b"\x00\x00"] * 90_000 + [b"end"]
    data = model([kv_arr("tokenizer.ggml.tokens", STRING, len(items), records(items)), *base_kvs()])
    with open_gguf(BytesSource(data)) as g:
        for i in (0, 99_999, 100_000, 100_005, 100_006, len(items) - 1):
            assert g.token_text(i) == items[i].decode()


def test_oversized_element_inside_an_irregular_run_is_refused() -> None:
    items = [b"\x00"] * 3000 + [b"x" * 70_000] + [b"\x00"] * 3000
    data = model([kv_arr("tokenizer.ggml.tokens", STRING, len(items), records(items)), *base_kvs()])
    with pytest.raises(GGUFFormatError, match="claims 70000 bytes"):
        open_gguf(BytesSource(data), limits=Limits(max_string=65_536))


def test_truncated_irregular_array_is_reported() -> None:
    items = [b"\x00"] * 5000
    body = model([*base_kvs(), kv_arr("tokenizer.ggml.tokens", STRING, len(items), records(items))])
    with pytest.raises(GGUFTruncatedError):
        read_gguf(BytesSource(body[:-20]))


def test_nested_arrays_share_one_budget_across_the_header() -> None:
    empty = struct.pack("<IQ", UINT8, 0)
    one = kv_arr("x.a", ARRAY, 40_000, empty * 40_000)
    two = kv_arr("x.b", ARRAY, 40_000, empty * 40_000)
    assert open_gguf(BytesSource(model([*base_kvs(), one]))).kv["x.a"].count == 40_000
    with pytest.raises(GGUFFormatError, match="in total") as err:
        read_gguf(BytesSource(model([*base_kvs(), one, two])))
    assert err.value.hint


def test_eager_values_are_budgeted_but_per_layer_arrays_still_resolve() -> None:
    # 300 arrays of 4096 BOOLs exhaust the eager-decoding budget before the per-layer head counts.
    filler = [kv_arr(f"x.f{i}", BOOL, 4096, b"\x01" * 4096) for i in range(300)]
    heads = kv_arr("llama.attention.head_count_kv", UINT32, 4, struct.pack("<4I", 8, 8, 4, 4))
    kvs = [
        kv_str("general.architecture", "llama"),
        kv("llama.block_count", UINT32, struct.pack("<I", 4)),
        *filler,
        heads,
    ]
    with open_gguf(BytesSource(model(kvs))) as g:
        assert g.kv["x.f0"].values is not None and g.kv["x.f299"].values is None
        assert g.info.head_count_kv == [8, 8, 4, 4]
        assert g.array("x.f299") == [True] * 4096


def test_metadata_text_is_budgeted() -> None:
    kvs = [*base_kvs(), *(kv_str(f"x.s{i}", "é" * 300_000) for i in range(4))]
    info = read_gguf(BytesSource(model(kvs)))  # 2.4 MB of text: inside the default budget
    assert info.metadata["x.s0"].endswith("more characters)")
    with pytest.raises(GGUFFormatError, match="total more than 1 MiB"):
        open_gguf(BytesSource(model(kvs)), limits=Limits(max_text=1 << 20))


def test_report_metadata_stays_small_whatever_the_header_holds() -> None:
    kvs = [*base_kvs(), *(kv_str(f"x.s{i}", "v" * 4000) for i in range(1000))]
    info = read_gguf(BytesSource(model(kvs)))
    shown = sum(len(v) for v in info.metadata.values() if isinstance(v, str))
    assert shown <= 1 << 20
    assert info.metadata["x.s999"] == {"type": "string", "length": 4000}


def test_many_zero_size_tensors_parse_and_duplicates_are_still_found() -> None:
    infos = [tensor(f"t{i}", [0], 0, 0) for i in range(50_000)]
    info = read_gguf(BytesSource(model(base_kvs(), infos)))
    assert info.tensor_count == 50_000 and info.parameter_count == 0
    infos[40_000] = tensor("t7", [0], 0, 0)
    with pytest.raises(GGUFFormatError, match="duplicate tensor name 't7'"):
        read_gguf(BytesSource(model(base_kvs(), infos)))


def test_fast_tensor_path_reports_the_same_errors_as_the_checked_one() -> None:
    good = [tensor(f"t{i}", [32], 0, 128 * i) for i in range(2000)]
    for bad, pattern in [
        (tensor("x", [32], 999, 128 * 1000), "unknown tensor type 999"),
        (tensor("x", [33], 2, 128 * 1000), "not a multiple of the block size"),
        (tensor("x", [32], 0, 64), "expected 128000"),
        (tensor("x", [0, 1 << 63], 0, 128 * 1000), "dimension"),
    ]:
        infos = [*good[:1000], bad, *good[1001:]]
        with pytest.raises(GGUFFormatError, match=pattern):
            open_gguf(BytesSource(model(base_kvs(), infos, b"\x00" * (128 * 2000))))


def test_find_tokens_gives_up_on_a_vocabulary_of_false_matches() -> None:
    # "" is 8 zero bytes: it occurs inside every NUL-filled token, never at a token start.
    items = [b"\x00" * 9] * 30_000
    kvs = [*base_kvs(), kv_arr("tokenizer.ggml.tokens", STRING, len(items), records(items))]
    with open_gguf(BytesSource(model(kvs))) as g:
        with pytest.raises(GGUFFormatError, match="not tokens") as err:
            g.find_tokens([""])
        assert err.value.hint
        assert g.find_tokens(["\x00" * 9]) == {"\x00" * 9: 0}


def test_find_tokens_searches_huge_vocabularies_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_forge.gguf import access

    monkeypatch.setattr(access, "_SEARCH_CHUNK", 4096)
    vocab = [f"w{i}" for i in range(20_000)] + ["<|im_end|>"]
    kvs = [
        *base_kvs(),
        kv_arr("tokenizer.ggml.tokens", STRING, len(vocab), records([v.encode() for v in vocab])),
    ]
    source = BytesSource(model(kvs))
    with open_gguf(source) as g:
        served = source.bytes_served
        assert g.find_tokens(["<|im_end|>", "w19999", "w5", "nope"]) == {
            "<|im_end|>": 20_000,
            "w19999": 19_999,
            "w5": 5,
        }
        assert source.bytes_served - served < 300_000  # the vocabulary once, in chunks


# --- files that change while forge reads them ---------------------------------------------------


def vocab_file(path: Path, n: int = 50_000) -> bytes:
    items = [f"token{i}".encode() for i in range(n)]
    data = model(
        [*base_kvs(), kv_arr("tokenizer.ggml.tokens", STRING, n, records(items))],
        [tensor("w", [8], 0, 0)],
        b"\x00" * 32,
    )
    path.write_bytes(data)
    return data


def test_file_truncated_after_open_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    data = vocab_file(path)
    source = FileSource(path)
    os.truncate(path, len(data) // 2)
    with pytest.raises(GGUFTruncatedError, match="changed while forge was reading it") as err:
        open_gguf(source)
    assert err.value.fields.get("changed") is True and err.value.hint


def test_file_rewritten_during_the_parse_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    data = vocab_file(path)
    source = FileSource(path)
    os.utime(path, ns=(1, 1))  # same bytes and size, but not the file that was opened
    with pytest.raises(GGUFTruncatedError, match="changed"):
        open_gguf(source)
    assert read_gguf(path).vocab_size == 50_000 and len(data) > 0


def test_lazy_reads_after_truncation_do_not_kill_the_process(tmp_path: Path) -> None:
    """The old reader memory-mapped the file: touching a page past the new end was SIGBUS."""
    path = tmp_path / "m.gguf"
    vocab_file(path, 200_000)
    code = (
        "import os, sys\n"
        "from ollama_forge.errors import ForgeError\n"
        "from ollama_forge.gguf import open_gguf\n"
        "g = open_gguf(sys.argv[1])\n"
        "os.truncate(sys.argv[1], 4096)\n"
        "try:\n"
        "    print(repr(g.token_text(199_999)))\n"
        "except ForgeError as exc:\n"
        "    print('error:', exc)\n"
        "    sys.exit(1)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, (
        proc.returncode,
        proc.stderr,
    )  # an error, not a signal (negative code)
    assert "changed while forge was reading it" in proc.stdout


def test_header_is_never_memory_mapped(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    vocab_file(path)
    source = FileSource(path)
    assert getattr(source, "buffer", None) is None
    if not os.path.exists(f"/proc/{os.getpid()}/maps"):
        pytest.skip("no /proc here")
    with open(f"/proc/{os.getpid()}/maps") as maps:
        assert str(path) not in maps.read()
    source.close()


def test_header_counts_are_checked_before_work() -> None:
    # A header claiming the maximum KV count with no bytes behind it fails at once.
    data = header(0, 100_000) + kv("general.architecture", STRING, gstr("llama"))
    with pytest.raises(GGUFTruncatedError):
        read_gguf(BytesSource(data))


def test_non_finite_sampling_defaults_are_left_out_with_a_warning() -> None:
    kvs = [
        *base_kvs(),
        kv("general.sampling.temp", 6, struct.pack("<f", float("nan"))),
        kv("general.sampling.top_p", 6, struct.pack("<f", float("inf"))),
        kv("general.sampling.top_k", UINT32, struct.pack("<I", 40)),
    ]
    info = read_gguf(BytesSource(model(kvs)))
    assert info.sampling == {"top_k": 40}
    assert any("general.sampling.temp is nan" in w for w in info.warnings)
    assert any("general.sampling.top_p is inf" in w for w in info.warnings)
    import json

    json.loads(
        json.dumps(info.model_dump(mode="json"), allow_nan=False)
    )  # strict JSON: no NaN anywhere


# --- disk errors while merging (the output lives under FORGE_HOME/merged) ----------------------

_MERGE_WITH_SMALL_FILE_LIMIT = r"""
import resource, signal, sys
from ollama_forge.errors import ForgeError
from ollama_forge.gguf.merge import merge_split_gguf
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))
try:
    merge_split_gguf(sys.argv[2:], sys.argv[1])
except ForgeError as exc:
    print(type(exc).__name__, "|", exc.message, "|", exc.hint)
    sys.exit(1)
"""


def test_a_merge_that_cannot_write_is_a_clear_error_with_nothing_left(tmp_path: Path) -> None:
    pytest.importorskip("resource")
    from ggufs import write_split_gguf

    shards = write_split_gguf(tmp_path / "s", "m", shards=3)
    out = tmp_path / "merged" / "m.gguf"
    proc = subprocess.run(
        [sys.executable, "-c", _MERGE_WITH_SMALL_FILE_LIMIT, str(out), *map(str, shards)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    kind, message, hint = (part.strip() for part in proc.stdout.split("|"))
    assert kind == "GGUFError" and message.startswith(f"Cannot merge into {out}") and hint
    assert list(out.parent.iterdir()) == []  # no partial file


def test_a_merge_onto_a_full_disk_names_the_fix(tmp_path: Path) -> None:
    from ggufs import write_split_gguf

    from ollama_forge.errors import GGUFError
    from ollama_forge.gguf.merge import merge_split_gguf

    shards = write_split_gguf(tmp_path / "s", "m", shards=3)
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        (mount / "filler").write_bytes(b"\x00" * (64 * 1024))
        with pytest.raises(GGUFError, match="No space left") as err:
            merge_split_gguf(shards, mount / "m.gguf")
        assert "free space" in (err.value.hint or "") and [p.name for p in mount.iterdir()] == [
            "filler"
        ]
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


# --- one budget for strings read one by one, over the whole header -------------------------------


def test_strings_read_one_by_one_share_a_header_wide_budget() -> None:
    small = [kv_arr(f"x.v{i}", STRING, 4000, gstr(b"") * 4000) for i in range(3)]
    limits = Limits(max_stepped=10_000)
    assert (
        open_gguf(BytesSource(model([*base_kvs(), *small[:2]])), limits=limits).kv["x.v1"].count
        == 4000
    )
    with pytest.raises(GGUFFormatError, match="read one by one") as err:
        open_gguf(BytesSource(model([*base_kvs(), *small])), limits=limits)
    assert err.value.hint


def test_irregular_big_arrays_draw_on_the_budget_but_regular_ones_do_not() -> None:
    regular = [f"tok{i}".encode() for i in range(50_000)]
    irregular = [b"\x00" * (i * 7 % 3) for i in range(50_000)]  # lengths 0,1,2 of NUL bytes
    limits = Limits(max_stepped=20_000)
    ok = open_gguf(
        BytesSource(model([*base_kvs(), kv_arr("a", STRING, 50_000, records(regular))])),
        limits=limits,
    )
    assert ok.kv["a"].count == 50_000
    with pytest.raises(GGUFFormatError, match="read one by one"):
        open_gguf(
            BytesSource(model([*base_kvs(), kv_arr("b", STRING, 50_000, records(irregular))])),
            limits=limits,
        )


def test_a_header_of_many_mid_sized_arrays_switches_to_the_vectorised_scan() -> None:
    code = (
        "import sys\n"
        "from gguf_craft import STRING, base_kvs, gstr, kv_arr, model\n"
        "from ollama_forge.gguf import BytesSource, open_gguf\n"
        "arrays = [kv_arr(f'x.v{i}', STRING, 600_000, gstr(b'') * 600_000) for i in range(3)]\n"
        "g = open_gguf(BytesSource(model([*base_kvs(), *arrays])))\n"
        "print('numpy' in sys.modules, type(g.kv['x.v0'].index.offsets).__name__, type(g.kv['x.v2'].index.offsets).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    # the first array (alone below the threshold) takes the sparse scan; once the header has
    # passed a million strings the rest are scanned vectorised
    assert proc.stdout.split() == ["True", "list", "ndarray"]
