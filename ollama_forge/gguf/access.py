"""Lazy access to values left in the file: token texts and types, reverse lookup, arrays."""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from typing import Any

from ..errors import GGUFFormatError, GGUFTruncatedError
from .cursor import (
    _FIXED_STRUCTS,
    _U64,
    CORRUPT,
    FIXED,
    REDOWNLOAD,
    T_STRING,
    ArrayRef,
    Limits,
    decode_text,
)
from .sources import ByteSource

_SEARCH_CHUNK = 8 << 20  # bytes of a vocabulary searched at once by find_tokens
_MAX_MISSES = 20_000  # byte matches that are not token starts, per lookup


class LazyAccess:
    """Mixin for :class:`~ollama_forge.gguf.reader.GGUFFile`: reads on demand from ``source``."""

    source: ByteSource
    name: str
    limits: Limits
    kv: dict[str, Any]
    _region_cache: dict[str, bytes]
    _token_ids_cache: dict[str, int | None]

    def _read_string_at(self, off: int) -> str:
        head = self.source.read_at(off, 8)
        if len(head) < 8:
            raise GGUFTruncatedError(
                f"{self.name}: string at offset {off} is cut off", hint=REDOWNLOAD, needed=off + 8
            )
        n = _U64(head, 0)[0]
        if n > self.limits.max_string:
            raise GGUFFormatError(
                f"{self.name}: string at offset {off} claims {n} bytes", hint=CORRUPT
            )
        data = self.source.read_at(off + 8, n)
        if len(data) < n:
            raise GGUFTruncatedError(
                f"{self.name}: string at offset {off} is cut off",
                hint=REDOWNLOAD,
                needed=off + 8 + n,
            )
        return decode_text(data)

    def _array_ref(self, key: str) -> ArrayRef | None:
        ref = self.kv.get(key)
        return ref if isinstance(ref, ArrayRef) else None

    @property
    def vocab_size(self) -> int | None:
        ref = self._array_ref("tokenizer.ggml.tokens")
        return ref.count if ref is not None and ref.elem_type == T_STRING else None

    def token_text(self, token_id: int) -> str | None:
        """The vocabulary text of one token id (None when out of range or no vocabulary)."""
        ref = self._array_ref("tokenizer.ggml.tokens")
        if ref is None or ref.elem_type != T_STRING or isinstance(token_id, bool):
            return None
        if not isinstance(token_id, int) or not 0 <= token_id < ref.count:
            return None
        if ref.values is not None:
            return str(ref.values[token_id])
        return self._read_string_at(self._element_offset(ref, token_id))

    def _element_offset(self, ref: ArrayRef, element: int) -> int:
        """Offset of a string element: its index checkpoint, then up to stride-1 steps."""
        index = ref.index
        pos = int(index.offsets[element // index.stride])
        for _ in range(element % index.stride):
            pos += 8 + self._length_at(pos, ref)
        return pos

    def _length_at(self, pos: int, ref: ArrayRef) -> int:
        head = self.source.read_at(pos, 8)
        if len(head) < 8:
            raise GGUFTruncatedError(
                f"{self.name}: string at offset {pos} is cut off", hint=REDOWNLOAD, needed=pos + 8
            )
        n = int(_U64(head, 0)[0])
        if n > self.limits.max_string or pos + 8 + n > ref.end:
            raise GGUFFormatError(
                f"{self.name}: element at offset {pos} of {ref.key!r} claims {n} bytes",
                hint=CORRUPT,
            )
        return n

    def token_type(self, token_id: int) -> int | None:
        """``tokenizer.ggml.token_type`` of one id (1 normal, 3 control, 4 user-defined, 6 byte)."""
        found = self.token_types([token_id])
        return found.get(token_id)

    def token_types(self, ids: Iterable[int]) -> dict[int, int]:
        ref = self._array_ref("tokenizer.ggml.token_type")
        if ref is None or ref.elem_type not in FIXED:
            return {}
        fmt, size = _FIXED_STRUCTS[ref.elem_type], FIXED[ref.elem_type][2]
        out: dict[int, int] = {}
        for token_id in ids:
            if (
                isinstance(token_id, bool)
                or not isinstance(token_id, int)
                or not 0 <= token_id < ref.count
            ):
                continue
            if ref.values is not None:
                out[token_id] = int(ref.values[token_id])
                continue
            raw = self.source.read_at(ref.offset + token_id * size, size)
            if len(raw) == size:
                out[token_id] = int(fmt.unpack(raw)[0])
        return out

    def find_tokens(self, texts: Iterable[str]) -> dict[str, int]:
        """Reverse lookup: text -> lowest token id with exactly that text (absent when none).

        Each text is found with a byte search for its length-prefixed encoding inside the
        vocabulary bytes (C speed), confirmed against the offset index; nothing is decoded.
        """
        ref = self._array_ref("tokenizer.ggml.tokens")
        wanted = [t for t in dict.fromkeys(texts) if isinstance(t, str)]
        out: dict[str, int] = {}
        if ref is None or ref.elem_type != T_STRING or not wanted:
            return out
        todo = [t for t in wanted if t not in self._token_ids_cache]
        if todo:
            self._lookup_tokens(ref, todo)
        for text in wanted:
            found = self._token_ids_cache.get(text)
            if found is not None:
                out[text] = found
        return out

    def _lookup_tokens(self, ref: ArrayRef, texts: list[str]) -> None:
        if ref.values is not None:
            first: dict[str, int] = {}
            for i, value in enumerate(ref.values):
                first.setdefault(str(value), i)
            for text in texts:
                self._token_ids_cache[text] = first.get(text)
            return
        for text in texts:
            self._token_ids_cache[text] = None
        pending = {
            struct.pack("<Q", len(e)) + e: t
            for t in texts
            if len(e := t.encode("utf-8")) <= self.limits.max_string
        }
        longest = max((len(n) for n in pending), default=0)
        # Search the vocabulary bytes chunk by chunk (overlapping by the longest needle), so a
        # huge array never needs one buffer of its own size.
        chunk = max(_SEARCH_CHUNK, 2 * longest)
        at = ref.offset
        misses = 0
        while pending and at < ref.end:
            stop = min(ref.end, at + chunk)
            data = self._region(ref, at, stop + longest - 1)
            for needle, text in list(pending.items()):
                hit = data.find(needle)
                while 0 <= hit < stop - at:
                    k = self._element_at(ref, at + hit)
                    if k is not None:
                        self._token_ids_cache[text] = k
                        del pending[needle]
                        break
                    misses += 1
                    if misses > _MAX_MISSES:
                        # Real vocabularies give a handful of matches that are not token starts.
                        raise GGUFFormatError(
                            f"{self.name}: the vocabulary repeats the bytes of token text {text[:40]!r} at more "
                            f"than {_MAX_MISSES} places that are not tokens (corrupt or malicious file)",
                            hint=CORRUPT,
                        )
                    hit = data.find(needle, hit + 1)
            at = stop

    def _region(self, ref: ArrayRef, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of an array (clipped to it); small arrays are read once and cached."""
        stop = min(stop, ref.end)
        if ref.end - ref.offset <= _SEARCH_CHUNK:
            region = self._region_cache.get(ref.key)
            if region is None:
                region = self.source.read_at(ref.offset, ref.end - ref.offset)
                self._region_cache[ref.key] = region
            return region[start - ref.offset : stop - ref.offset]
        return self.source.read_at(start, stop - start)

    def array(self, key: str) -> list[Any]:
        """Materialise an array value (e.g. all token texts). Costly for vocabularies."""
        ref = self._array_ref(key)
        if ref is None:
            raise KeyError(key)
        return self._materialise(ref)

    def _materialise(self, ref: ArrayRef) -> list[Any]:
        if ref.values is not None:
            return [self._materialise(v) if isinstance(v, ArrayRef) else v for v in ref.values]
        data = self.source.read_at(ref.offset, ref.end - ref.offset)
        if ref.elem_type in FIXED:
            return list(struct.unpack_from(f"<{ref.count}{FIXED[ref.elem_type][1]}", data, 0))
        values: list[Any] = []
        i = 0
        try:
            for _ in range(ref.count):
                n = _U64(data, i)[0]
                values.append(decode_text(data[i + 8 : i + 8 + n]))
                i += 8 + n
        except struct.error:
            raise GGUFTruncatedError(
                f"{self.name}: the array {ref.key!r} is cut off",
                hint=REDOWNLOAD,
                needed=ref.offset + i + 8,
            ) from None
        return values

    def _element_at(self, ref: ArrayRef, offset: int) -> int | None:
        """The element id whose length prefix starts exactly at ``offset``, or None."""
        index = ref.index
        offsets, stride = index.offsets, index.stride
        if hasattr(offsets, "searchsorted"):
            k = int(offsets.searchsorted(offset, side="right")) - 1
        else:
            k = bisect.bisect_right(offsets, offset) - 1
        if k < 0:
            return None
        pos, element = int(offsets[k]), k * stride
        while pos < offset and element < min((k + 1) * stride, ref.count):
            pos += 8 + self._length_at(pos, ref)
            element += 1
        return element if pos == offset and element < ref.count else None
