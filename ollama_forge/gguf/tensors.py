"""GGUF tensor infos: names, shapes, types and offsets, checked in file order (gguf.md §1, §5, §10).

Most records are decoded straight from the cursor's window with every check inlined; a record
that fails any check, or straddles the window's end, goes through the bounds-checked cursor
path, which reports the exact problem. No record is ever trusted for its size or offset.
"""

from __future__ import annotations

import struct

from ..errors import GGUFFormatError
from .cursor import _INT64_MAX, _U32, _U64, CORRUPT, Cursor, Limits, TensorInfo, decode_text
from .quant import tensor_types


def parse_tensor_infos(
    cur: Cursor, file: str, count: int, alignment: int, limits: Limits
) -> list[TensorInfo]:
    """All tensor infos: decoded straight from buffered windows, checked one by one."""
    max_name, max_dims = limits.max_tensor_name, limits.max_dims
    check = _TensorChecker(file, alignment)
    types, seen, align = check.types, check.seen, check.align
    out: list[TensorInfo] = []
    append = out.append
    u64, u32 = _U64, _U32
    shapes = [struct.Struct(f"<{d}QIQ").unpack_from for d in range(max_dims + 1)]
    n = 0
    while n < count:
        pos = cur.pos
        # A record is at most 8 + max_name + 4 + 8 * max_dims + 12 bytes: decode every record
        # that surely fits in the window here; the rest go through the checked path.
        rec_max = 24 + max_name + 8 * max_dims
        buf, i0, have = cur.window(1, min(1 << 20, (count - n) * rec_max), f"tensor info {n}")
        i, stop = i0, i0 + have - rec_max
        expected = check.expected
        # The checks of _TensorChecker inlined for records that pass them all; anything
        # unusual breaks out to the checked path, which reports it exactly.
        while n < count and i <= stop:
            name_len = u64(buf, i)[0]
            if name_len == 0 or name_len > max_name:
                break
            j = i + 8 + name_len
            n_dims = u32(buf, j)[0]
            if n_dims > max_dims:
                break
            fields = shapes[n_dims](buf, j + 4)
            raw = bytes(buf[i + 8 : j])
            ttype = types.get(fields[n_dims])
            offset = fields[n_dims + 1]
            if ttype is None or offset != expected or raw in seen:
                break
            dims = fields[:n_dims]
            n_el = 1
            for d in dims:
                n_el *= d
            if n_el > _INT64_MAX or (not n_el and max(dims) > _INT64_MAX):
                break
            type_name, block, type_size = ttype
            if (dims[0] if n_dims else 1) % block:
                break
            n_bytes = n_el // block * type_size
            seen.add(raw)
            expected = offset + n_bytes + (align - n_bytes % align) % align
            append(
                TensorInfo(
                    raw.decode("utf-8", "replace"),
                    dims,
                    fields[n_dims],
                    type_name,
                    offset,
                    n_el,
                    n_bytes,
                )
            )
            i = j + 16 + 8 * n_dims
            n += 1
        check.expected = expected
        cur.pos = pos + (i - i0)
        if n < count:
            # The window's end, or a bad field (reported exactly by the checked path).
            append(_tensor_info_checked(cur, n, check, file, limits))
            n += 1
        if cur.pos > limits.max_header:
            cur._fill(cur.pos, 0, 0, f"tensor info {n - 1}")  # raises the header-size error
    return out


def _tensor_info_checked(
    cur: Cursor, n: int, check: _TensorChecker, file: str, limits: Limits
) -> TensorInfo:
    """One tensor info through the bounds-checked cursor (window ends, bad fields)."""
    where = f"tensor info {n}"
    name_len = cur.u64(f"the name length of {where}")
    if name_len == 0 or name_len > limits.max_tensor_name:
        raise GGUFFormatError(
            f"{file}: {where} has a name of {name_len} bytes (must be 1-{limits.max_tensor_name})",
            hint=CORRUPT,
        )
    raw = cur.raw(name_len, f"the name of {where}")
    name = decode_text(raw)
    n_dims = cur.u32(f"the dimension count of tensor {name!r}")
    if n_dims > limits.max_dims:
        raise GGUFFormatError(
            f"{file}: tensor {name!r} has {n_dims} dimensions (limit {limits.max_dims})",
            hint=CORRUPT,
            tensor=name,
        )
    i = cur.need(8 * n_dims + 12, f"the shape of tensor {name!r}")
    fields = struct.unpack_from(f"<{n_dims}QIQ", cur.buf, i)
    cur.pos += 8 * n_dims + 12
    return check(raw, fields[:n_dims], fields[n_dims], fields[n_dims + 1])


class _TensorChecker:
    """Validates tensor infos in file order (names, shape, type, offsets) and builds them."""

    def __init__(self, name: str, alignment: int) -> None:
        self.name = name
        self.align = alignment
        self.types = tensor_types()
        self.seen: set[bytes] = set()
        self.expected = 0

    def __call__(self, raw: bytes, dims: tuple[int, ...], type_id: int, offset: int) -> TensorInfo:
        name = decode_text(raw)
        if raw in self.seen:
            raise GGUFFormatError(
                f"{self.name}: duplicate tensor name {name!r}", hint=CORRUPT, tensor=name
            )
        self.seen.add(raw)
        n_elements = 1
        for d in dims:
            if d > _INT64_MAX:
                raise GGUFFormatError(
                    f"{self.name}: tensor {name!r} has dimension {d} (>= 2^63)",
                    hint=CORRUPT,
                    tensor=name,
                )
            n_elements *= d
        if n_elements > _INT64_MAX:
            raise GGUFFormatError(
                f"{self.name}: tensor {name!r} shape {list(dims)} has more than 2^63 elements",
                hint=CORRUPT,
                tensor=name,
            )
        ttype = self.types.get(type_id)
        if ttype is None:
            raise GGUFFormatError(
                f"{self.name}: tensor {name!r} has unknown tensor type {type_id}",
                hint="The file is corrupt, or uses a type newer than this gguf package (pip install -U gguf).",
                tensor=name,
                type_id=type_id,
            )
        type_name, block, type_size = ttype
        if (dims[0] if dims else 1) % block:
            raise GGUFFormatError(
                f"{self.name}: tensor {name!r} ({type_name}) has {dims[0] if dims else 1} elements per row, "
                f"not a multiple of the block size {block}",
                hint=CORRUPT,
                tensor=name,
            )
        n_bytes = n_elements // block * type_size
        align = self.align
        if offset % align:
            raise GGUFFormatError(
                f"{self.name}: tensor {name!r} offset {offset} is not a multiple of the alignment {align}",
                hint=CORRUPT,
                tensor=name,
            )
        if offset != self.expected:
            raise GGUFFormatError(
                f"{self.name}: tensor {name!r} has offset {offset}, expected {self.expected} "
                "(tensors overlap or leave a gap)",
                hint=CORRUPT,
                tensor=name,
            )
        self.expected = offset + n_bytes + (align - n_bytes % align) % align
        return TensorInfo(name, dims, type_id, type_name, offset, n_elements, n_bytes)
