"""Merge a split GGUF (``name-0000i-of-0000N.gguf``) into one GGUF, like ``llama-gguf-split --merge``.

Ollama before 0.30 cannot import shards (ollama.md §3.7), so forge merges them locally first.

* **Streaming, bounded memory**: the header is parsed from a buffered reader; tensor data is
  copied in :data:`~ollama_forge.digests.CHUNK` blocks (counted in ``DISK_READS``).
* **Header written here**: the first shard's key/value pairs minus every ``split.*`` key (KV
  count adjusted), all tensor infos in shard order with offsets recomputed for the file's
  alignment (``general.alignment``, default 32), padding after the info block and after
  each tensor (as gguf-py and llama.cpp write it).
* **Verified**: the SHA-256 is computed while writing (no extra read); the merged header is
  re-read and its tensor count, names, types, shapes, offsets and the data size compared
  with what was planned; the file appears at its final path only after that succeeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from ..digests import CHUNK, DISK_READS
from ..errors import GGUFFormatError, GGUFTruncatedError, NotGGUFError, SplitError

DEFAULT_ALIGNMENT = 32
MAX_STRING = 16 * 1024 * 1024
MAX_ARRAY = 64 * 1024 * 1024
MAX_COUNT = 1 << 24
MAX_DIMS = 4
# GGUF value type -> struct format (fixed-size scalars)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass
class TensorInfo:
    name: str
    dims: list[int]
    type: int
    offset: int  # relative to the data section
    nbytes: int


@dataclass
class Header:
    path: Path
    version: int
    kv: dict[str, object] = field(default_factory=dict)  # scalar values (strings, numbers)
    kv_spans: list[tuple[str, int, int]] = field(default_factory=list)  # key, start, end (raw bytes)
    tensors: list[TensorInfo] = field(default_factory=list)
    infos_end: int = 0
    alignment: int = DEFAULT_ALIGNMENT

    @property
    def data_offset(self) -> int:
        return _align(self.infos_end, self.alignment)


class MergeResult(BaseModel):
    path: Path
    sha256: str
    size: int
    shard_count: int
    tensor_count: int
    kv_count: int
    data_bytes: int

    def __repr__(self) -> str:
        return (f"MergeResult(path={str(self.path)!r}, shards={self.shard_count}, tensors={self.tensor_count}, "
                f"size={self.size}, sha256={self.sha256[:12]}…)")

    __str__ = __repr__


def _align(value: int, alignment: int) -> int:
    return value + (-value % alignment)


class _Reader:
    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.pos = 0

    def take(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise GGUFTruncatedError(f"{self.path.name}: the file ends inside its header (offset {self.pos + len(data)})",
                                     path=str(self.path), needed=self.pos + n)
        self.pos += n
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        size = struct.calcsize("<" + fmt)
        value: int | float | bool = struct.unpack("<" + fmt, self.take(size))[0]
        return value

    def u64(self) -> int:
        return int(self.unpack("Q"))

    def string(self) -> str:
        length = self.u64()
        if length > MAX_STRING:
            raise GGUFFormatError(f"{self.path.name}: string length {length} exceeds {MAX_STRING}", path=str(self.path))
        return self.take(length).decode("utf-8", errors="replace")

    def value(self, vtype: int, *, depth: int = 0) -> object:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            if depth > 2:
                raise GGUFFormatError(f"{self.path.name}: arrays nested too deeply", path=str(self.path))
            itype = int(self.unpack("I"))
            count = self.u64()
            if count > MAX_ARRAY:
                raise GGUFFormatError(f"{self.path.name}: array size {count} exceeds {MAX_ARRAY}", path=str(self.path))
            if itype in _SCALARS:  # skip fixed-size items without materialising them
                self.take(struct.calcsize("<" + _SCALARS[itype]) * count)
            else:
                for _ in range(count):
                    self.value(itype, depth=depth + 1)
            return None
        raise GGUFFormatError(f"{self.path.name}: unknown GGUF value type {vtype}", path=str(self.path))


def read_header(path: str | os.PathLike[str]) -> Header:
    """Parse magic, KV pairs (raw spans kept) and tensor infos; tensor data is not read."""
    from .quant import tensor_types

    path = Path(path)
    types = tensor_types()
    with open(path, "rb", buffering=1 << 20) as handle:
        r = _Reader(handle, path)
        magic = r.take(4)
        if magic != b"GGUF":
            raise NotGGUFError(f"{path.name} is not a GGUF file (magic {magic!r})", path=str(path), kind="unknown")
        version = int(r.unpack("I"))
        if version not in (2, 3):
            raise GGUFFormatError(f"{path.name}: unsupported GGUF version {version}", path=str(path))
        n_tensors, n_kv = r.u64(), r.u64()
        if n_tensors > MAX_COUNT or n_kv > MAX_COUNT:
            raise GGUFFormatError(f"{path.name}: implausible tensor/KV counts {n_tensors}/{n_kv}", path=str(path))
        header = Header(path=path, version=version)
        for _ in range(n_kv):
            start = r.pos
            key = r.string()
            vtype = int(r.unpack("I"))
            value = r.value(vtype)
            header.kv_spans.append((key, start, r.pos))
            if value is not None:
                header.kv[key] = value
        alignment = header.kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFFormatError(f"{path.name}: invalid GGUF alignment: {alignment}", path=str(path))
        header.alignment = alignment
        for _ in range(n_tensors):
            name = r.string()
            n_dims = int(r.unpack("I"))
            if n_dims > MAX_DIMS:
                raise GGUFFormatError(f'{path.name}: tensor "{name}" dimensions {n_dims} exceeds maximum {MAX_DIMS}',
                                      path=str(path))
            dims = [r.u64() for _ in range(n_dims)]
            ttype = int(r.unpack("I"))
            offset = r.u64()
            if ttype not in types:
                raise GGUFFormatError(f'{path.name}: tensor "{name}" has unknown type {ttype}', path=str(path))
            _, block, type_size = types[ttype]
            elements = 1
            for d in dims:
                elements *= d
            if block <= 0 or elements % block:
                raise GGUFFormatError(f'{path.name}: tensor "{name}" shape {dims} does not fit its block size',
                                      path=str(path))
            header.tensors.append(TensorInfo(name, dims, ttype, offset, elements // block * type_size))
        header.infos_end = r.pos
    size = path.stat().st_size
    for t in header.tensors:
        end = header.data_offset + t.offset + t.nbytes
        if end > size:
            raise GGUFTruncatedError(f'{path.name}: tensor "{t.name}" offset+size ({end}) exceeds file size ({size})',
                                     path=str(path), needed=end)
    return header


def _check_shards(headers: list[Header]) -> None:
    count = len(headers)
    total = sum(len(h.tensors) for h in headers)
    for index, h in enumerate(headers):
        no, cnt = h.kv.get("split.no"), h.kv.get("split.count")
        if no is None or cnt is None:
            raise SplitError(f"{h.path.name} has no split.no/split.count metadata: not a llama.cpp split shard",
                             path=str(h.path))
        if cnt != count:
            raise SplitError(f"{h.path.name}: split.count is {cnt} but {count} shard(s) were given", path=str(h.path))
        if no != index:
            raise SplitError(f"{h.path.name}: split.no is {no}, expected {index} (shards out of order or duplicated)",
                             path=str(h.path))
        declared = h.kv.get("split.tensors.count")
        if declared is not None and declared != total:
            raise SplitError(f"{h.path.name}: split.tensors.count is {declared} but the shards hold {total} tensors",
                             path=str(h.path))
    names = [t.name for h in headers for t in h.tensors]
    if len(set(names)) != len(names):
        raise SplitError("The shards contain the same tensor twice", path=str(headers[0].path))


def _pack_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _copy_range(src: BinaryIO, start: int, length: int, write: Callable[[bytes], None],
                progress: Callable[[int], None] | None, *, count: bool) -> None:
    src.seek(start)
    remaining = length
    while remaining:
        block = src.read(min(CHUNK, remaining))
        if not block:
            raise GGUFTruncatedError(f"{getattr(src, 'name', 'shard')}: file ended while copying tensor data")
        remaining -= len(block)
        if count:
            DISK_READS.bytes_read += len(block)
        write(block)
        if progress is not None and count:
            progress(len(block))


def merge_split_gguf(
    shards: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> MergeResult:
    """Merge ``shards`` (in order, first shard first) into ``out``; returns its digest and counts."""
    paths = [Path(p) for p in shards]
    if len(paths) < 2:
        raise SplitError("A split GGUF needs at least two shards to merge", path=str(paths[0]) if paths else None)
    headers = [read_header(p) for p in paths]
    _check_shards(headers)
    first = headers[0]
    alignment = first.alignment
    kept = [(key, start, end) for key, start, end in first.kv_spans if not key.startswith("split.")]
    planned: list[TensorInfo] = []
    offset = 0
    for h in headers:
        for t in h.tensors:
            planned.append(TensorInfo(t.name, t.dims, t.type, offset, t.nbytes))
            offset = _align(offset + t.nbytes, alignment)
    data_bytes = offset

    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent)
    sha = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as dst:

            def write(data: bytes) -> None:
                nonlocal written
                dst.write(data)
                sha.update(data)
                written += len(data)

            write(b"GGUF" + struct.pack("<IQQ", 3, len(planned), len(kept)))
            with open(first.path, "rb") as src:
                for _key, start, end in kept:
                    _copy_range(src, start, end - start, write, None, count=False)
            for t in planned:
                write(_pack_string(t.name) + struct.pack("<I", len(t.dims)))
                write(struct.pack(f"<{len(t.dims)}Q", *t.dims) + struct.pack("<IQ", t.type, t.offset))
            write(b"\0" * (-written % alignment))
            data_start = written
            for h in headers:
                with open(h.path, "rb") as src:
                    for t in h.tensors:
                        _copy_range(src, h.data_offset + t.offset, t.nbytes, write, progress, count=True)
                        write(b"\0" * (-(written - data_start) % alignment))
            dst.flush()
            os.fsync(dst.fileno())
        _verify(Path(tmp_name), planned, len(kept), data_start, data_bytes)
        os.replace(tmp_name, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return MergeResult(path=out_path, sha256=sha.hexdigest(), size=written, shard_count=len(paths),
                       tensor_count=len(planned), kv_count=len(kept), data_bytes=data_bytes)


def _verify(path: Path, planned: list[TensorInfo], kv_count: int, data_start: int, data_bytes: int) -> None:
    """Re-read the merged header and compare it with the plan (counts, infos, offsets, sizes)."""
    header = read_header(path)
    problems = []
    if len(header.kv_spans) != kv_count:
        problems.append(f"KV count {len(header.kv_spans)} != {kv_count}")
    if any(key.startswith("split.") for key, _, _ in header.kv_spans):
        problems.append("split.* keys left in the merged header")
    if len(header.tensors) != len(planned):
        problems.append(f"tensor count {len(header.tensors)} != {len(planned)}")
    for got, want in zip(header.tensors, planned, strict=False):
        if (got.name, got.dims, got.type, got.offset, got.nbytes) != (want.name, want.dims, want.type, want.offset, want.nbytes):
            problems.append(f'tensor "{want.name}" info differs after writing')
            break
    if header.data_offset != data_start:
        problems.append(f"data offset {header.data_offset} != {data_start}")
    size = path.stat().st_size
    if size != data_start + data_bytes:
        problems.append(f"file size {size} != {data_start + data_bytes}")
    if problems:
        raise GGUFFormatError(f"Merged GGUF {path.name} failed verification: {'; '.join(problems)}", path=str(path))
