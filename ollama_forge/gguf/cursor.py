"""GGUF layout constants, record types, the bounds-checked read cursor and magic sniffing."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..errors import GGUFFormatError, GGUFTruncatedError
from .sources import ByteSource

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class Limits:
    """Sanity caps (gguf.md §9 suggested limits for a Python reader)."""

    max_string: int = 16 * 1024 * 1024
    max_array: int = 16 * 1024 * 1024
    max_kv: int = 100_000
    max_tensors: int = 1_000_000
    max_dims: int = 4
    max_depth: int = 4
    max_nested: int = 65_536  # elements of an array of arrays (each becomes a Python object)
    max_header: int = 256 * 1024 * 1024
    max_text: int = 64 * 1024 * 1024  # decoded metadata strings, over the whole header
    # String-array elements read one by one in Python (the vectorised scan takes the rest):
    # real headers need a few hundred thousand; ~0.25 us each bounds a hostile header's cost.
    max_stepped: int = 8 * 1024 * 1024
    max_key: int = 65_535
    max_tensor_name: int = 63
    max_alignment: int = 1 << 16


LIMITS = Limits()

# value type id -> (name, struct format, size); STRING=8 and ARRAY=9 are variable.
T_STRING, T_ARRAY, T_UINT32 = 8, 9, 4
FIXED: dict[int, tuple[str, str, int]] = {
    0: ("UINT8", "B", 1), 1: ("INT8", "b", 1), 2: ("UINT16", "H", 2), 3: ("INT16", "h", 2),
    4: ("UINT32", "I", 4), 5: ("INT32", "i", 4), 6: ("FLOAT32", "f", 4), 7: ("BOOL", "?", 1),
    10: ("UINT64", "Q", 8), 11: ("INT64", "q", 8), 12: ("FLOAT64", "d", 8),
}  # fmt: skip
TYPE_NAMES = {**{k: v[0] for k, v in FIXED.items()}, T_STRING: "STRING", T_ARRAY: "ARRAY"}
_FIXED_STRUCTS = {k: struct.Struct("<" + v[1]) for k, v in FIXED.items()}
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_INT64_MAX = (1 << 63) - 1
# Inline small arrays at parse time (per-layer head counts, tags, template names).
_INLINE_FIXED = 4096
_INLINE_STRINGS = 64


@dataclass
class ArrayRef:
    """An array value left in the file: element type, count, where it starts and ends."""

    key: str
    elem_type: int
    count: int
    offset: int  # absolute offset of the first element
    end: int  # absolute offset just past the array
    index: Any = None  # string arrays: a _scan.StringIndex of element offsets
    values: list[Any] | None = None  # small arrays are decoded eagerly

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.elem_type, str(self.elem_type))

    def summary(self) -> dict[str, Any]:
        return {"type": "array", "elem_type": self.type_name, "count": self.count}


@dataclass(slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ne[0] first (fastest varying), as stored
    type_id: int
    type_name: str
    offset: int  # relative to the data section
    n_elements: int
    n_bytes: int


class Cursor:
    """Sequential reads over a source through one buffer (never a mapping of the file).

    The window grows in blocks that double up to 1 MiB, so a chunked HTTP source is never
    asked for much more than the header it actually parses. (A source exposing a ``buffer``
    with a known size is parsed in place.)
    """

    __slots__ = (
        "base",
        "block",
        "buf",
        "end",
        "limits",
        "pos",
        "size",
        "src",
        "step_left",
        "strings",
        "whole",
    )

    def __init__(self, source: ByteSource, limits: Limits = LIMITS) -> None:
        self.src = source
        self.limits = limits
        self.size = source.size()
        self.pos = 0
        buffer = getattr(source, "buffer", None)
        if buffer is not None and self.size is not None:
            self.buf: Any = buffer
            self.base, self.end, self.whole = 0, self.size, True
        else:
            self.buf, self.base, self.end, self.whole = b"", 0, 0, False
        self.block = 64 * 1024
        self.strings = 0  # string-array elements met so far in this header
        self.step_left = limits.max_stepped  # of those, how many may still be read one by one

    # --- buffer management --------------------------------------------------------------
    def need(self, n: int, what: str) -> int:
        """Ensure ``n`` bytes at ``pos`` are buffered; return their index in ``buf``."""
        pos = self.pos
        if pos + n <= self.end and pos >= self.base:
            return pos - self.base
        self._fill(pos, n, n, what)
        return pos - self.base

    def window(self, min_n: int, max_n: int, what: str) -> tuple[Any, int, int]:
        """(buf, index of pos, available bytes >= min_n), trying to buffer up to ``max_n``."""
        pos = self.pos
        have = self.end - pos if self.base <= pos <= self.end else 0
        if have < max_n and not self.whole:
            self._fill(pos, min_n, max_n, what)
            have = self.end - pos
        elif have < min_n:
            self._truncated(pos, min_n, what)
        return self.buf, pos - self.base, min(have, max_n) if not self.whole else have

    def _fill(self, pos: int, min_n: int, want: int, what: str) -> None:
        if pos + min_n > self.limits.max_header:
            raise GGUFFormatError(
                f"{self.src.name}: the GGUF header runs past {self.limits.max_header >> 20} MiB "
                f"(reading {what} at offset {pos})",
                hint="This is not a sane GGUF header (corrupt or malicious file); re-download it.",
                offset=pos,
            )
        if self.whole:
            self._truncated(pos, min_n, what)
        keep = self.buf[pos - self.base :] if self.base <= pos < self.end else b""
        start = pos + len(keep)
        amount = max(want - len(keep), min(self.block, self.limits.max_header - start), 0)
        if self.size is not None:
            amount = min(amount, max(self.size - start, 0))
        data = self.src.read_at(start, amount) if amount > 0 else b""
        self.block = min(self.block * 2, 1024 * 1024)
        self.buf = bytes(keep) + data
        self.base, self.end = pos, pos + len(self.buf)
        if self.end < pos + min_n:
            self._truncated(pos, min_n, what)

    def _truncated(self, pos: int, n: int, what: str) -> None:
        size = self.size if self.size is not None else self.end
        raise GGUFTruncatedError(
            f"{self.src.name} is truncated: {what} at offset {pos} needs {n} bytes, "
            f"but the file ends at byte {size}",
            hint="The file is incomplete (interrupted download?); download it again "
            "(forge pull-gguf resumes and verifies the sha256).",
            needed=pos + n,
            size=size,
        )

    # --- primitives -----------------------------------------------------------------------
    def u32(self, what: str) -> int:
        i = self.need(4, what)
        self.pos += 4
        return int(_U32(self.buf, i)[0])

    def u64(self, what: str) -> int:
        i = self.need(8, what)
        self.pos += 8
        return int(_U64(self.buf, i)[0])

    def raw(self, n: int, what: str) -> bytes:
        i = self.need(n, what)
        self.pos += n
        return bytes(self.buf[i : i + n])

    def remaining(self) -> int | None:
        return None if self.size is None else self.size - self.pos

    def skip(self, n: int, what: str) -> None:
        """Move past ``n`` bytes without reading them (bounds-checked when the size is known)."""
        if self.size is not None and self.pos + n > self.size:
            self._truncated(self.pos, n, what)
        if self.pos + n > self.limits.max_header:
            self._fill(self.pos, n, n, what)  # raises the header-size error
        self.pos += n


# --- detection of what a non-GGUF file is (catalogue item 2) ------------------------------
def detect_kind(head: bytes) -> tuple[str, str]:
    """(kind, hint) for bytes that do not start with the GGUF magic."""
    stripped = head.lstrip()
    lower = stripped[:64].lower()
    if head.startswith(b"version https://git-lfs"):
        return "git-lfs-pointer", (
            "This is a Git-LFS pointer, not the model: the real file was not downloaded. "
            "Run `git lfs pull`, or fetch it with forge pull-gguf / huggingface-cli download."
        )
    if lower.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return (
            "html",
            "This is a web page (an error page or login wall?), not a GGUF; check the URL or HF_TOKEN.",
        )
    if head.startswith(b"PK\x03\x04"):
        return (
            "zip",
            "This is a ZIP archive (a PyTorch checkpoint?); use a .gguf file, or forge run-hf for transformers models.",
        )
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            "pickle",
            "This is a Python pickle (a PyTorch checkpoint?), not a GGUF; convert it with llama.cpp's convert_hf_to_gguf.py.",
        )
    if len(head) >= 9 and head[8:9] == b"{":
        return (
            "safetensors",
            "This is a safetensors file; convert it with llama.cpp's convert_hf_to_gguf.py, or use forge run-hf.",
        )
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg", b"algg", b"ggml", b"ggjt", b"ggla"):
        return (
            "ggml-legacy",
            "This is a pre-GGUF GGML/GGJT file; convert it with llama.cpp's convert_llama_ggml_to_gguf.py.",
        )
    if lower.startswith((b"{", b"[")):
        return "json", "This is a JSON file, not a GGUF."
    return "unknown", "The file does not start with the GGUF magic; pass a .gguf model file."


def _describe_kind(kind: str) -> str:
    return {
        "git-lfs-pointer": "a Git-LFS pointer file: the model was not downloaded",
        "html": "an HTML page",
        "zip": "a ZIP archive",
        "pickle": "a Python pickle",
        "safetensors": "a safetensors file",
        "ggml-legacy": "a legacy GGML file",
        "json": "a JSON file",
    }.get(kind, "unknown content")


def decode_text(raw: bytes) -> str:
    """Text from a GGUF, decoded one way everywhere: invalid UTF-8 (surrogate encodings
    included) becomes U+FFFD, so no lone surrogate ever leaves the reader."""
    return raw.decode("utf-8", errors="replace")


CORRUPT = "The file is corrupt or malicious; re-download it from a trusted source."
REDOWNLOAD = "The file changed or is truncated; download it again."
