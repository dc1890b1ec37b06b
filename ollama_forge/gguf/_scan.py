"""Length-only scan of GGUF string arrays, keeping an index of element offsets.

A 262k-token vocabulary is 262k length-prefixed strings, and the only way past them is to
read every length. Three strategies, identical in result:

* small arrays: a checked loop that records every offset;
* when numpy is already imported (notebooks, tests) or the array is huge: blocks are scanned
  vectorised. Every position whose length field has six zero high bytes is a candidate record
  start (the rightmost of adjacent ones); runs of candidates where ``start + 8 + length``
  lands exactly on the next candidate are accepted at once, anything else (a length >= 65536,
  a false candidate inside a string) is resolved by stepping exactly as the plain loop would;
* otherwise (a fresh CLI process) importing numpy would cost more than the scan, so a tight
  loop advances 64 records at a time and keeps every 64th offset (a sparse index: a lookup
  steps at most 63 records from its checkpoint).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import GGUFFormatError

if TYPE_CHECKING:
    from .cursor import Cursor

_U64 = struct.Struct("<Q").unpack_from
_VECTOR_MIN = 4096  # below this many elements the plain loop is faster than numpy set-up
_IMPORT_NUMPY_MIN = 1 << 20  # above this many, importing numpy pays for itself
_BLOCK = 1 << 20
STRIDE = 64


@dataclass
class StringIndex:
    """Offsets of every ``stride``-th element's length prefix (list or int64 array)."""

    offsets: Any
    stride: int = 1

    def __len__(self) -> int:
        return len(self.offsets)


def scan_strings(cur: Cursor, count: int, key: str, max_string: int) -> StringIndex:
    """Advance ``cur`` past ``count`` strings; return their offset index."""
    if count < _VECTOR_MIN:
        offsets: list[int] = []
        _step(cur, count, key, max_string, offsets)
        return StringIndex(offsets)
    np = sys.modules.get("numpy")
    if np is None and count >= _IMPORT_NUMPY_MIN:
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy comes with gguf
            np = None
    if np is not None:
        return StringIndex(_scan_numpy(np, cur, count, key, max_string))
    return StringIndex(_scan_sparse(cur, count, key, max_string), STRIDE)


def _scan_sparse(cur: Cursor, count: int, key: str, max_string: int) -> list[int]:
    """Every STRIDE-th offset; blocks that straddle the buffer end take the checked path."""
    checkpoints: list[int] = []
    append = checkpoints.append
    unpack = _U64
    remaining = count
    what = f"the array {key!r}"
    while remaining:
        n = min(STRIDE, remaining)
        start = cur.pos
        buf, i0, have = cur.window(8, min(1 << 16, remaining * 8), what)
        end = i0 + have
        p = i0
        try:
            for _ in range(n):
                p += 8 + unpack(buf, p)[0]
            # A block spanning more than max_string may hold an oversized element: check it exactly.
            fits = p <= end and p - i0 <= max_string
        except struct.error:
            fits = False
        append(start)
        if fits:
            cur.pos = start + (p - i0)
        else:
            _step(cur, n, key, max_string, [])  # reports truncation / oversized elements exactly
        remaining -= n
    if cur.size is not None and cur.pos > cur.size:
        cur._truncated(cur.pos, 0, what)
    return checkpoints


def _step(cur: Cursor, count: int, key: str, max_string: int, out: list[int]) -> None:
    """The plain sequential loop (reference semantics)."""
    size = cur.size
    append = out.append
    for n in range(count):
        pos = cur.pos
        i = cur.need(8, f"element {n} of the array {key!r}")
        length = _U64(cur.buf, i)[0]
        _check(length, pos, size, key, max_string, cur)
        append(pos)
        cur.pos = pos + 8 + length
    if size is not None and cur.pos > size:
        cur._truncated(cur.pos, 0, f"the array {key!r}")


def _check(length: int, pos: int, size: int | None, key: str, max_string: int, cur: Cursor) -> None:
    if length > max_string:
        raise GGUFFormatError(
            f"{cur.src.name}: an element of the array {key!r} claims {length} bytes (limit {max_string})",
            hint="The file is corrupt or malicious; re-download it from a trusted source.",
            key=key,
            length=length,
        )
    if size is not None and pos + 8 + length > size:
        cur._truncated(pos + 8, length, f"an element of the array {key!r}")


def _scan_numpy(np: Any, cur: Cursor, count: int, key: str, max_string: int) -> Any:
    parts: list[Any] = []
    remaining = count
    size = cur.size
    while remaining > 0:
        # Every remaining element takes >= 8 bytes, so this window never passes the array's end.
        max_n = min(_BLOCK, remaining * 8)
        if remaining < 64:
            tail: list[int] = []
            _step(cur, remaining, key, max_string, tail)
            parts.append(np.asarray(tail, dtype=np.int64))
            break
        buf, i0, have = cur.window(8, max_n, f"the array {key!r}")
        n = min(have, max_n)
        base = cur.pos  # absolute offset of a[0]
        a = np.frombuffer(buf, dtype=np.uint8, count=n, offset=i0)
        zero = a == 0
        ok = zero[2 : n - 5] & zero[3 : n - 4] & zero[4 : n - 3] & zero[5 : n - 2] & zero[6 : n - 1] & zero[7:n]
        # A record start p also makes p-1 look like a start (its "high bytes" are p+1..p+6):
        # keep only the rightmost position of each run of adjacent candidates.
        ok[:-1] &= ~ok[1:]
        cand = np.flatnonzero(ok)
        lengths = a[cand].astype(np.int64) | (a[cand + 1].astype(np.int64) << 8)
        nxt = cand + 8 + lengths
        bad = np.flatnonzero(nxt[:-1] != cand[1:]) if len(cand) > 1 else np.zeros(0, np.int64)
        n_cand = len(cand)
        p = 0
        del a, zero, ok
        while remaining > 0 and p <= n - 8:
            k = int(np.searchsorted(cand, p))
            if k < n_cand and int(cand[k]) == p:
                j = int(np.searchsorted(bad, k))
                last = int(bad[j]) if j < len(bad) else n_cand - 1
                take = min(last - k + 1, remaining)
                parts.append(cand[k : k + take] + base)
                remaining -= take
                p = int(nxt[k + take - 1])
                if size is not None and base + p > size:
                    cur._truncated(base + p, 0, f"the array {key!r}")
            else:
                # A record the candidate filter missed (length >= 65536): step over it.
                length = int(_U64(buf, i0 + p)[0])
                _check(length, base + p, size, key, max_string, cur)
                parts.append(np.asarray([base + p], dtype=np.int64))
                remaining -= 1
                p += 8 + length
        cur.pos = base + p
        if size is not None and cur.pos > size:
            cur._truncated(cur.pos, 0, f"the array {key!r}")
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
