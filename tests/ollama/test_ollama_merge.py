"""ollama_forge.gguf.merge: split shards -> one verified GGUF (read back with gguf-py's reader)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest

from ollama_forge.digests import DISK_READS
from ollama_forge.errors import GGUFError, SplitError
from ollama_forge.gguf import open_gguf
from ollama_forge.gguf.merge import merge_split_gguf


class _SplitWriter(gguf.GGUFWriter):
    """gguf-py pads every shard to its custom alignment but declares it only in shard 1, which
    llama.cpp (and forge's reader) reject as misplaced offsets; declare it in every shard."""

    def add_shard_kv_data(self) -> None:
        super().add_shard_kv_data()
        if self.data_alignment != gguf.GGUF_DEFAULT_ALIGNMENT:
            for kv in self.kv_data[1:]:
                kv[gguf.Keys.General.ALIGNMENT] = gguf.GGUFValue(
                    self.data_alignment, gguf.GGUFValueType.UINT32
                )


class _ArchSplitWriter(_SplitWriter):
    """Writes shard 1's split keys arch-prefixed (llama.split.no, ...), which Ollama also accepts
    (only shard 1 names the architecture, and only its KVs are copied by the merge)."""

    def add_shard_kv_data(self) -> None:
        super().add_shard_kv_data()
        kv = self.kv_data[0]
        for key in [k for k in kv if k.startswith("split.")]:
            kv["llama." + key] = kv.pop(key)


def write_split(
    folder: Path, *, shards: int = 3, alignment: int | None = None, arch_keys: bool = False
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    writer = (_ArchSplitWriter if arch_keys else _SplitWriter)(
        str(folder / "m.gguf"), "llama", split_max_tensors=2
    )
    writer.add_name("Merge Me")
    writer.add_context_length(4096)
    writer.add_block_count(shards)
    writer.add_token_list(["<s>", "</s>", "a", "b"])
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    rng = np.random.default_rng(7)
    for i in range(shards * 2):
        writer.add_tensor(f"t.{i}", rng.standard_normal((3, 5 + i)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(folder.glob("m-*-of-*.gguf"))


@pytest.mark.parametrize("alignment", [None, 64])
def test_merge_matches_the_shards(tmp_path: Path, alignment: int | None) -> None:
    shards = write_split(tmp_path / "s", alignment=alignment)
    assert len(shards) == 3
    before = DISK_READS.bytes_read
    result = merge_split_gguf(shards, tmp_path / "out" / "m.gguf")
    data = result.path.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert result.shard_count == 3 and result.tensor_count == 6
    merged = gguf.GGUFReader(result.path)
    assert not [k for k in merged.fields if k.startswith("split.")]
    assert merged.fields["general.name"].contents() == "Merge Me"
    assert merged.fields["tokenizer.chat_template"].contents().startswith("{% for m")
    assert merged.alignment == (alignment or 32)
    originals = {t.name: np.array(t.data) for s in shards for t in gguf.GGUFReader(s).tensors}
    assert [t.name for t in merged.tensors] == [f"t.{i}" for i in range(6)]
    for t in merged.tensors:
        assert np.array_equal(np.array(t.data), originals[t.name])
        assert t.data_offset % merged.alignment == 0
    # only tensor data is counted as weight reads
    assert DISK_READS.bytes_read - before == sum(int(t.n_bytes) for t in merged.tensors)
    with open_gguf(result.path) as header:
        assert len(header.kv_spans) == result.kv_count


def test_merge_refuses_wrong_order_and_missing_shards(tmp_path: Path) -> None:
    shards = write_split(tmp_path / "s")
    with pytest.raises(SplitError, match=r"split\.no") as order:
        merge_split_gguf([shards[1], shards[0], shards[2]], tmp_path / "x.gguf")
    with pytest.raises(SplitError, match=r"split\.count") as count:
        merge_split_gguf(shards[:2], tmp_path / "x.gguf")
    assert order.value.hint and count.value.hint
    assert not (tmp_path / "x.gguf").exists()


def test_truncated_shard_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    shards = write_split(tmp_path / "s")
    data = shards[2].read_bytes()
    shards[2].write_bytes(data[: len(data) - 10])
    with pytest.raises(GGUFError, match="exceeds the file size") as exc:
        merge_split_gguf(shards, tmp_path / "out.gguf")
    assert exc.value.hint
    assert list(tmp_path.glob("out.gguf*")) == [] and list(tmp_path.glob(".out.gguf*")) == []


def test_not_gguf(tmp_path: Path) -> None:
    shards = write_split(tmp_path / "s")
    bad = tmp_path / "bad-00002-of-00003.gguf"
    bad.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(GGUFError, match="not a GGUF"):
        merge_split_gguf([shards[0], bad, shards[2]], tmp_path / "out.gguf")


def test_merge_output_replaces_atomically(tmp_path: Path) -> None:
    shards = write_split(tmp_path / "s")
    out = tmp_path / "m.gguf"
    shutil.copy(shards[0], out)
    result = merge_split_gguf(shards, out)
    assert gguf.GGUFReader(out).fields.get("split.count") is None
    assert result.path == out


def test_arch_prefixed_split_keys_are_dropped(tmp_path: Path) -> None:
    shards = write_split(tmp_path / "s", arch_keys=True)
    assert "llama.split.count" in gguf.GGUFReader(shards[0]).fields
    result = merge_split_gguf(shards, tmp_path / "m.gguf")
    merged = gguf.GGUFReader(result.path)
    assert not [k for k in merged.fields if "split." in k]
    assert merged.fields["general.name"].contents() == "Merge Me" and len(merged.tensors) == 6
