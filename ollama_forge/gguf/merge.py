"""Merge a split GGUF (``name-0000i-of-0000N.gguf``) into one GGUF, like ``llama-gguf-split --merge``.

Ollama before 0.30 cannot import shards (ollama.md §3.7), so forge merges them locally first.

* **One reader**: every shard is parsed by :func:`~ollama_forge.gguf.reader.open_gguf` (its
  limits, bounds checks and error hints apply); the set is checked against the given order
  and by :func:`~ollama_forge.gguf.split.check_shard_set`.
* **Streaming, bounded memory**: the first shard's key/value pairs are copied verbatim by
  their raw byte spans (``GGUFFile.kv_spans``) minus every ``split.*`` / ``ARCH.split.*``
  key; tensor data is copied in :data:`~ollama_forge.digests.CHUNK` blocks (counted in
  ``DISK_READS``).
* **Header written here**: all tensor infos in shard order with offsets recomputed for the
  first shard's alignment, padding after the info block and after each tensor (as gguf-py
  and llama.cpp write it).
* **Verified**: the SHA-256 is computed while writing (no extra read); the merged header is
  re-read with ``open_gguf`` and its KV and tensor count, names, types, shapes, offsets and
  the data size compared with the plan; the file appears at its final path only after that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from ..digests import CHUNK, DISK_READS
from ..errors import GGUFError, GGUFFormatError, GGUFTruncatedError, SplitError
from .reader import GGUFFile, TensorInfo, open_gguf
from .split import check_shard_set

_ORDER_HINT = "Pass every shard exactly once, in order: the -00001-of-N shard first."


class MergeResult(BaseModel):
    path: Path
    sha256: str
    size: int
    shard_count: int
    tensor_count: int
    kv_count: int
    data_bytes: int

    def __repr__(self) -> str:
        return (
            f"MergeResult(path={str(self.path)!r}, shards={self.shard_count}, tensors={self.tensor_count}, "
            f"size={self.size}, sha256={self.sha256[:12]}…)"
        )

    __str__ = __repr__


def _split_prefixes(g: GGUFFile) -> tuple[str, ...]:
    """Key prefixes of the split metadata, bare or arch-prefixed (both are read, see info.py)."""
    arch = g.kv.get("general.architecture")
    return ("split.", f"{arch}.split.") if isinstance(arch, str) and arch else ("split.",)


def _check_shards(paths: list[Path], files: list[GGUFFile]) -> None:
    for index, (path, g) in enumerate(zip(paths, files, strict=True)):
        split = g.info.split
        if split is None or split.no < 0 or split.count <= 0:
            continue  # check_shard_set names the missing key
        if split.count != len(paths):
            raise SplitError(
                f"{path.name}: split.count is {split.count} but {len(paths)} shard(s) were given",
                hint=f"Pass all {split.count} shards of the model.",
                path=str(path),
            )
        if split.no != index:
            raise SplitError(
                f"{path.name}: split.no is {split.no}, expected {index} (shards out of order or duplicated)",
                hint=_ORDER_HINT,
                path=str(path),
            )
    check_shard_set([(p, g.info) for p, g in zip(paths, files, strict=True)])
    names = [t.name for g in files for t in g.tensors]
    if len(set(names)) != len(names):
        raise SplitError(
            "The shards contain the same tensor twice",
            path=str(paths[0]),
            hint="The shards come from different splits; download all shards of one model again.",
        )


def _copy_range(
    src: BinaryIO,
    start: int,
    length: int,
    write: Callable[[bytes], None],
    progress: Callable[[int], None] | None,
    *,
    count: bool,
) -> None:
    src.seek(start)
    remaining = length
    while remaining:
        block = src.read(min(CHUNK, remaining))
        if not block:
            raise GGUFTruncatedError(
                f"{getattr(src, 'name', 'shard')}: file ended while copying its data",
                hint="The shard changed or was truncated during the merge; download it again.",
            )
        remaining -= len(block)
        if count:
            DISK_READS.bytes_read += len(block)
            if progress is not None:
                progress(len(block))
        write(block)


def merge_split_gguf(
    shards: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> MergeResult:
    """Merge ``shards`` (in order, first shard first) into ``out``; returns its digest and counts."""
    paths = [Path(p) for p in shards]
    if len(paths) < 2:
        raise SplitError(
            "A split GGUF needs at least two shards to merge",
            hint=_ORDER_HINT,
            path=str(paths[0]) if paths else None,
        )
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open_gguf(p)) for p in paths]
        _check_shards(paths, files)
        first, drop = files[0], _split_prefixes(files[0])
        alignment = first.alignment
        kept = [(start, end) for key, start, end in first.kv_spans if not key.startswith(drop)]
        planned: list[TensorInfo] = []
        offset = 0
        for g in files:
            for t in g.tensors:
                planned.append(dataclasses.replace(t, offset=offset))
                offset += t.n_bytes + (-t.n_bytes % alignment)
        data_bytes = offset

        out_path = Path(out)
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent
            )
        except OSError as exc:
            raise _write_error(out_path, exc, data_bytes) from exc
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
                with open(paths[0], "rb") as src:
                    for start, end in kept:
                        _copy_range(src, start, end - start, write, None, count=False)
                for t in planned:
                    name = t.name.encode("utf-8")
                    n = len(t.shape)
                    write(
                        struct.pack(
                            f"<Q{len(name)}sI{n}QIQ",
                            len(name),
                            name,
                            n,
                            *t.shape,
                            t.type_id,
                            t.offset,
                        )
                    )
                write(b"\0" * (-written % alignment))
                data_start = written
                for path, g in zip(paths, files, strict=True):
                    with open(path, "rb") as src:
                        for t in g.tensors:
                            _copy_range(
                                src,
                                g.data_offset + t.offset,
                                t.n_bytes,
                                write,
                                progress,
                                count=True,
                            )
                            write(b"\0" * (-(written - data_start) % alignment))
                dst.flush()
                os.fsync(dst.fileno())
            _verify(Path(tmp_name), planned, len(kept), drop, data_start, data_bytes)
            os.replace(tmp_name, out_path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            if isinstance(exc, OSError):
                raise _write_error(out_path, exc, data_bytes) from exc
            raise
    return MergeResult(
        path=out_path,
        sha256=sha.hexdigest(),
        size=written,
        shard_count=len(paths),
        tensor_count=len(planned),
        kv_count=len(kept),
        data_bytes=data_bytes,
    )


def _write_error(out_path: Path, exc: OSError, data_bytes: int) -> GGUFError:
    """A disk problem while merging (full disk, permissions, a shard unreadable) as one clear error."""
    reason = exc.strerror or str(exc)
    where = exc.filename or out_path.parent
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = (
            f"The merged file needs about {data_bytes / 2**30:.1f} GiB: free space on the disk holding "
            f"{out_path.parent} (or set FORGE_HOME to another disk), then run the command again."
        )
    else:
        hint = f"Check that {where} is readable/writable and the disk is healthy, then run the command again."
    return GGUFError(
        f"Cannot merge into {out_path}: {reason} ({where})",
        hint=hint,
        path=str(out_path),
        errno=exc.errno,
    )


def _verify(
    path: Path,
    planned: list[TensorInfo],
    kv_count: int,
    drop: tuple[str, ...],
    data_start: int,
    data_bytes: int,
) -> None:
    """Re-read the merged header and compare it with the plan (counts, infos, offsets, sizes)."""
    with open_gguf(path) as g:
        problems = []
        if len(g.kv_spans) != kv_count:
            problems.append(f"KV count {len(g.kv_spans)} != {kv_count}")
        if any(key.startswith(drop) for key in g.kv):
            problems.append("split.* keys left in the merged header")
        if len(g.tensors) != len(planned):
            problems.append(f"tensor count {len(g.tensors)} != {len(planned)}")
        differs = next(
            (want.name for got, want in zip(g.tensors, planned, strict=False) if got != want), None
        )
        if differs is not None:
            problems.append(f'tensor "{differs}" info differs after writing')
        if g.data_offset != data_start:
            problems.append(f"data offset {g.data_offset} != {data_start}")
        if g.file_size != data_start + data_bytes:
            problems.append(f"file size {g.file_size} != {data_start + data_bytes}")
    if problems:
        raise GGUFFormatError(
            f"Merged GGUF {path.name} failed verification: {'; '.join(problems)}",
            path=str(path),
            hint="Check the disk (space, errors) and merge again; with Ollama >= 0.30 "
            "the shards can be imported without merging.",
        )
