"""A lazy, hardened GGUF header parser (gguf.md §1-§2, §9-§10).

One pass over the header through a cursor: scalars are decoded, fixed-width arrays are
skipped by arithmetic, string arrays (the vocabulary, merges) get a length-only scan that
keeps an offset index, so ``token_text(id)`` later costs one small read and nothing decodes
the whole vocabulary. Every count, length, type, dimension, offset and the alignment is
checked against the file size and :data:`LIMITS` before anything is allocated; bad bytes
raise a :class:`~ollama_forge.errors.GGUFError` subclass, never a crash or a hang.
"""

from __future__ import annotations

import gc
import os
import stat
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..errors import GGUFError, GGUFFormatError, GGUFTruncatedError, NotGGUFError
from ._scan import scan_strings
from .access import LazyAccess
from .cursor import (
    _FIXED_STRUCTS,
    _INLINE_FIXED,
    _INLINE_STRINGS,
    _INT64_MAX,
    _U64,
    CORRUPT,
    DEFAULT_ALIGNMENT,
    FIXED,
    LIMITS,
    MAGIC,
    T_ARRAY,
    T_STRING,
    T_UINT32,
    TYPE_NAMES,
    ArrayRef,
    Cursor,
    Limits,
    TensorInfo,
    _describe_kind,
    decode_text,
    detect_kind,
)
from .info import GGUFInfo, build_info
from .sources import ByteSource, as_source
from .tensors import parse_tensor_infos

# Elements of small arrays decoded at parse time, over the whole header (larger or later
# arrays stay in the file and are read on demand): bounds the Python objects a header makes.
_INLINE_BUDGET = 1 << 18

__all__ = [
    "LIMITS",
    "ArrayRef",
    "Cursor",
    "GGUFFile",
    "Limits",
    "TensorInfo",
    "detect_kind",
    "open_gguf",
    "read_gguf",
]


@dataclass
class _State:
    kv: dict[str, Any] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[str, int, int]] = field(default_factory=list)


class GGUFFile(LazyAccess):
    """A parsed GGUF header over its source. Close it (or use ``with``) to release the file."""

    def __init__(
        self, source: ByteSource, *, owns_source: bool = False, limits: Limits = LIMITS
    ) -> None:
        self.source = source
        self.name = source.name
        self.limits = limits
        self._owns = owns_source
        self._info: GGUFInfo | None = None
        # set by open_gguf for a local file: its info is then remembered for read_gguf
        self._identity_key: tuple[str, int, int, int, int] | None = None
        self._region_cache: dict[str, bytes] = {}
        self._token_ids_cache: dict[str, int | None] = {}
        state = _State()
        # Header-wide budgets: objects built per array element, whatever the file's shape.
        self._nested_left = limits.max_nested
        self._inline_left = _INLINE_BUDGET
        self._text_left = limits.max_text
        cur = Cursor(source, limits)
        self.version, self.tensor_count, kv_count = self._parse_preamble(cur)
        self._parse_kvs(cur, kv_count, state)
        self.kv: dict[str, Any] = state.kv
        self.types: dict[str, int] = state.types
        # (key, start, end) of each KV's raw bytes, in file order (for verbatim copies).
        self.kv_spans: list[tuple[str, int, int]] = state.spans
        self.alignment = self._check_alignment()
        self.tensors: list[TensorInfo] = self._parse_tensor_infos(cur)
        self.header_end = cur.pos
        pad = (self.alignment - cur.pos % self.alignment) % self.alignment
        self.data_offset = cur.pos + pad
        self.file_size = source.size()
        self.tensor_bytes = sum(t.n_bytes for t in self.tensors)
        self.size_checked = self.file_size is not None
        if self.file_size is not None:
            self._check_data_bounds(self.file_size)
        check_unchanged = getattr(source, "check_unchanged", None)
        if check_unchanged is not None:
            check_unchanged()  # a file rewritten while parsing gives a clear error, not a mixed header

    # --- header ---------------------------------------------------------------------------
    def _parse_preamble(self, cur: Cursor) -> tuple[int, int, int]:
        size = cur.size
        if size == 0:
            raise GGUFTruncatedError(
                f"{self.name} is empty (0 bytes)",
                hint="The download failed or was interrupted; download the file again.",
                needed=4,
                size=0,
            )
        buf, i, have = cur.window(1, 64, "the GGUF magic")
        head = bytes(buf[i : i + min(have, 64)])
        if not head.startswith(MAGIC):
            if len(head) < 4 and MAGIC.startswith(head):
                cur._truncated(0, 4, "the GGUF magic")
            kind, hint = detect_kind(head)
            raise NotGGUFError(
                f"{self.name} is not a GGUF file ({_describe_kind(kind)}): it starts with {head[:8]!r}",
                hint=hint,
                kind=kind,
            )
        cur.pos = 4
        version = cur.u32("the version")
        if version != 0 and version & 0xFFFF == 0:
            raise GGUFFormatError(
                f"{self.name} is a big-endian GGUF (version field {version:#010x}); llama.cpp and Ollama "
                "only load little-endian files",
                hint="Convert it: gguf-convert-endian FILE little (from the gguf Python package).",
                version=version,
            )
        if version == 1:
            raise GGUFFormatError(
                f"{self.name} is GGUF version 1, which llama.cpp and Ollama no longer support",
                hint="Re-convert the model with a current llama.cpp (convert_hf_to_gguf.py).",
                version=1,
            )
        if version not in (2, 3):
            raise GGUFFormatError(
                f"{self.name} has unsupported GGUF version {version} (supported: 2 and 3)",
                hint="The file is corrupt, or newer than this reader; upgrade ollama-forge or re-download it.",
                version=version,
            )
        tensor_count = cur.u64("the tensor count")
        kv_count = cur.u64("the metadata count")
        remaining = cur.remaining()
        for label, count, cap, record in (
            ("tensor", tensor_count, self.limits.max_tensors, 8 + 4 + 4 + 8),
            ("metadata", kv_count, self.limits.max_kv, 8 + 4 + 1),
        ):
            if count > _INT64_MAX:
                raise GGUFFormatError(
                    f"{self.name}: {label} count {count} is negative as int64 (corrupt or malicious header)",
                    hint="Re-download the file from a trusted source.",
                    count=count,
                )
            if count > cap:
                raise GGUFFormatError(
                    f"{self.name}: {label} count {count} exceeds the limit of {cap}",
                    hint="No real model needs this many; the header is corrupt or malicious.",
                    count=count,
                )
            if remaining is not None and count * record > remaining:
                raise GGUFTruncatedError(
                    f"{self.name}: {label} count {count} cannot fit in the {remaining} bytes left "
                    f"(each entry needs at least {record}): truncated or corrupt",
                    hint="The file is truncated or its header is corrupt; download it again.",
                    count=count,
                    needed=cur.pos + count * record,
                    size=cur.size,
                )
        return version, tensor_count, kv_count

    def _parse_kvs(self, cur: Cursor, kv_count: int, state: _State) -> None:
        kv, types, spans = state.kv, state.types, state.spans
        for n in range(kv_count):
            start = cur.pos
            where = f"metadata entry {n}"
            key_len = cur.u64(f"the key length of {where}")
            if key_len == 0:
                raise GGUFFormatError(f"{self.name}: {where} has an empty key", hint=CORRUPT)
            if key_len > self.limits.max_key:
                raise GGUFFormatError(
                    f"{self.name}: {where} has a key of {key_len} bytes (limit {self.limits.max_key})",
                    hint=CORRUPT,
                )
            raw_key = cur.raw(key_len, f"the key of {where}")
            try:
                key = raw_key.decode("ascii")
            except UnicodeDecodeError:
                raise GGUFFormatError(
                    f"{self.name}: {where} has a non-ASCII key {raw_key[:80]!r}",
                    hint="GGUF keys are ASCII; the file is corrupt or malicious.",
                ) from None
            if not key.isprintable():
                raise GGUFFormatError(
                    f"{self.name}: {where} has a key with control characters {raw_key[:80]!r}",
                    hint=CORRUPT,
                )
            if key in kv:
                raise GGUFFormatError(
                    f"{self.name}: duplicate metadata key {key!r}",
                    hint="Each key may appear once; the file is corrupt or was edited wrongly.",
                    key=key,
                )
            vtype = cur.u32(f"the type of {key!r}")
            types[key] = vtype
            kv[key] = self._read_value(cur, vtype, key, 0)
            spans.append((key, start, cur.pos))
            if cur.pos > self.limits.max_header:
                cur._fill(cur.pos, 0, 0, f"the value of {key!r}")  # raises the header-size error

    def _read_value(self, cur: Cursor, vtype: int, key: str, depth: int) -> Any:
        fixed = FIXED.get(vtype)
        if fixed is not None:
            i = cur.need(fixed[2], f"the value of {key!r}")
            cur.pos += fixed[2]
            return _FIXED_STRUCTS[vtype].unpack_from(cur.buf, i)[0]
        if vtype == T_STRING:
            return self._read_string(cur, key)
        if vtype == T_ARRAY:
            return self._read_array(cur, key, depth)
        raise GGUFFormatError(
            f"{self.name}: metadata key {key!r} has invalid value type {vtype} (valid: 0-12)",
            hint=CORRUPT,
            key=key,
            value_type=vtype,
        )

    def _read_string(self, cur: Cursor, key: str) -> str:
        length = cur.u64(f"the string length of {key!r}")
        self._check_string_length(cur, length, key)
        self._spend_text(length, key)
        return decode_text(cur.raw(length, f"the string value of {key!r}"))

    def _spend_text(self, length: int, key: str) -> None:
        """Decoded text costs up to 4 bytes of memory per file byte: cap the header's total."""
        self._text_left -= length
        if self._text_left < 0:
            raise GGUFFormatError(
                f"{self.name}: the metadata strings ({key!r} and before) total more than "
                f"{self.limits.max_text >> 20} MiB",
                hint="No real model carries this much text in its metadata; the file is corrupt or malicious.",
                key=key,
            )

    def _check_string_length(self, cur: Cursor, length: int, key: str) -> None:
        if length > self.limits.max_string:
            raise GGUFFormatError(
                f"{self.name}: string value of {key!r} claims {length} bytes (limit {self.limits.max_string})",
                hint=CORRUPT,
                key=key,
                length=length,
            )
        remaining = cur.remaining()
        if remaining is not None and length > remaining:
            cur._truncated(cur.pos, length, f"the string value of {key!r}")

    def _read_array(self, cur: Cursor, key: str, depth: int) -> ArrayRef:
        if depth >= self.limits.max_depth:
            raise GGUFFormatError(
                f"{self.name}: metadata key {key!r} nests arrays deeper than {self.limits.max_depth}",
                hint=CORRUPT,
                key=key,
            )
        elem_type = cur.u32(f"the array element type of {key!r}")
        count = cur.u64(f"the array length of {key!r}")
        if elem_type not in FIXED and elem_type not in (T_STRING, T_ARRAY):
            raise GGUFFormatError(
                f"{self.name}: array {key!r} has invalid element type {elem_type} (valid: 0-12)",
                hint=CORRUPT,
                key=key,
                value_type=elem_type,
            )
        elem_min = (
            FIXED[elem_type][2] if elem_type in FIXED else (8 if elem_type == T_STRING else 12)
        )
        if count > self.limits.max_array:
            raise GGUFFormatError(
                f"{self.name}: array {key!r} claims {count} elements (limit {self.limits.max_array})",
                hint=CORRUPT,
                key=key,
                count=count,
            )
        if elem_type == T_ARRAY:
            if count > self._nested_left:
                raise GGUFFormatError(
                    f"{self.name}: arrays of arrays ({key!r}) hold more than {self.limits.max_nested} "
                    "elements in total",
                    hint="llama.cpp rejects nested arrays and no real model needs this many; "
                    "the file is corrupt or malicious.",
                    key=key,
                    count=count,
                )
            self._nested_left -= count
        remaining = cur.remaining()
        if remaining is not None and count * elem_min > remaining:
            raise GGUFTruncatedError(
                f"{self.name}: array {key!r} claims {count} elements of at least {elem_min} bytes, "
                f"but only {remaining} bytes remain",
                hint="The file is truncated or its header is corrupt; download it again.",
                key=key,
                count=count,
                needed=cur.pos + count * elem_min,
                size=cur.size,
            )
        start = cur.pos
        ref = ArrayRef(key=key, elem_type=elem_type, count=count, offset=start, end=start)
        if elem_type in FIXED:
            size = FIXED[elem_type][2]
            if count <= _INLINE_FIXED and count <= self._inline_left:
                self._inline_left -= count
                i = cur.need(count * size, f"the array {key!r}")
                ref.values = list(struct.unpack_from(f"<{count}{FIXED[elem_type][1]}", cur.buf, i))
            cur.skip(count * size, f"the array {key!r}")
        elif elem_type == T_STRING:
            ref.index = scan_strings(cur, count, key, self.limits.max_string)
            if count <= _INLINE_STRINGS and count <= self._inline_left:
                self._inline_left -= count
                ref.values = self._strings_at(cur, ref.index.offsets, key)
        else:
            ref.values = [self._read_array(cur, key, depth + 1) for _ in range(count)]
        ref.end = cur.pos
        return ref

    def _strings_at(self, cur: Cursor, offsets: Any, key: str) -> list[str]:
        """Decode a small string array, from the cursor's buffer when it still holds it."""
        buf, base, end = cur.buf, cur.base, cur.end
        values: list[str] = []
        total = 0
        for off in offsets:
            i = off - base
            if base <= off and off + 8 <= end:
                n = _U64(buf, i)[0]
                if off + 8 + n <= end:
                    total += n
                    values.append(decode_text(buf[i + 8 : i + 8 + n]))
                    continue
            text = self._read_string_at(off)
            total += len(text)
            values.append(text)
        self._spend_text(total, key)
        return values

    def _check_alignment(self) -> int:
        if "general.alignment" not in self.kv:
            return DEFAULT_ALIGNMENT
        value, vtype = self.kv["general.alignment"], self.types["general.alignment"]
        if vtype != T_UINT32:
            raise GGUFFormatError(
                f"{self.name}: general.alignment has type {TYPE_NAMES.get(vtype, vtype)}, must be UINT32",
                hint=CORRUPT,
            )
        if value == 0 or value & (value - 1) or value > self.limits.max_alignment:
            raise GGUFFormatError(
                f"{self.name}: general.alignment {value} is not a power of two between 1 and "
                f"{self.limits.max_alignment}",
                hint=CORRUPT,
                alignment=value,
            )
        return int(value)

    def _parse_tensor_infos(self, cur: Cursor) -> list[TensorInfo]:
        return parse_tensor_infos(cur, self.name, self.tensor_count, self.alignment, self.limits)

    def _check_data_bounds(self, size: int) -> None:
        if self.tensors and self.data_offset > size:
            raise GGUFTruncatedError(
                f"{self.name}: the tensor data section starts at byte {self.data_offset}, "
                f"past the end of the file ({size} bytes)",
                hint="The file is truncated or its header is corrupt; download it again.",
                needed=self.data_offset,
                size=size,
            )
        available = size - self.data_offset
        for t in self.tensors:
            if t.offset + t.n_bytes > available:
                raise GGUFTruncatedError(
                    f"{self.name}: tensor {t.name!r} offset+size ({self.data_offset + t.offset + t.n_bytes}) "
                    f"exceeds the file size ({size})",
                    hint="The file is truncated (interrupted download?) or malicious; download it again.",
                    needed=self.data_offset + t.offset + t.n_bytes,
                    size=size,
                    tensor=t.name,
                )

    # --- lazy access --------------------------------------------------------------------
    @property
    def info(self) -> GGUFInfo:
        if self._info is None:
            self._info = build_info(self)
            if self._identity_key is not None:
                _remember(self._identity_key, self._info)
        return self._info

    def close(self) -> None:
        if self._owns:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_gguf(target: str | os.PathLike[str] | ByteSource, *, limits: Limits = LIMITS) -> GGUFFile:
    """Parse a GGUF header lazily from a path or a :class:`ByteSource`."""
    key = _file_identity(target)
    source, owned = as_source(target)
    # A header builds up to a million small objects that never form cycles: collecting
    # garbage while they pile up only rescans them (1M tensor infos: 3.7 s instead of 2 s).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        handle = GGUFFile(source, owns_source=owned, limits=limits)
        if key is not None and limits == LIMITS:  # only headers read under the default budgets
            handle._identity_key = key
        return handle
    except GGUFError:
        if owned:
            getattr(source, "close", lambda: None)()
        raise
    except (RecursionError, MemoryError, OverflowError, ValueError, struct.error) as exc:
        # Defence in depth: every such case should already be a GGUFError above.
        if owned:
            getattr(source, "close", lambda: None)()
        raise GGUFFormatError(
            f"{source.name}: malformed GGUF header ({type(exc).__name__}: {exc})", hint=CORRUPT
        ) from exc
    except BaseException:
        if owned:
            getattr(source, "close", lambda: None)()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()


#: parsed headers of local files, by file identity: one command asks for the same header from
#: several steps (plan, register's file list, the template decision) and reads it once
_INFO_CACHE: OrderedDict[tuple[str, int, int, int, int], GGUFInfo] = OrderedDict()
_INFO_CACHE_SIZE = 8


def _file_identity(target: object) -> tuple[str, int, int, int, int] | None:
    """(real path, device, inode, size, mtime) of a local regular file, else None (no caching)."""
    if not isinstance(target, (str, os.PathLike)):
        return None
    try:
        path = os.path.realpath(os.fspath(target))
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remember(key: tuple[str, int, int, int, int], info: GGUFInfo) -> None:
    """Keep ``info`` for ``key`` if the file is still the one that was read."""
    if _file_identity(key[0]) != key:  # changed while it was read
        return
    _INFO_CACHE[key] = info.model_copy(deep=True)
    _INFO_CACHE.move_to_end(key)
    while len(_INFO_CACHE) > _INFO_CACHE_SIZE:
        _INFO_CACHE.popitem(last=False)


def read_gguf(target: str | os.PathLike[str] | ByteSource) -> GGUFInfo:
    """The :class:`~ollama_forge.gguf.info.GGUFInfo` of a GGUF file or source.

    A local file whose identity (path, inode, size, mtime) is unchanged since its header was last
    parsed in this process (by this function or an :func:`open_gguf` handle) is not read again;
    each caller gets its own copy.
    """
    key = _file_identity(target)
    if key is not None and key in _INFO_CACHE:
        _INFO_CACHE.move_to_end(key)
        return _INFO_CACHE[key].model_copy(deep=True)
    with open_gguf(target) as handle:
        return handle.info


def is_gguf_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a local file that starts with the GGUF magic.

    A file whose header was parsed in this process (and has not changed since) is known to be
    one without opening it again.
    """
    key = _file_identity(path)
    if key is None:
        return False
    if key in _INFO_CACHE:
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False
