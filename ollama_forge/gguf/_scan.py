"""Length-only scan of GGUF string arrays, keeping an index of element offsets.

A 262k-token vocabulary is 262k length-prefixed strings, and the only way past them is to
read every length. Three strategies, identical in result:

* small arrays: a checked loop that records every offset;
* when numpy is already imported (notebooks, tests) or the array is huge: blocks are scanned
  vectorised. Every position whose length field has six zero high bytes is a candidate record
  start (the rightmost of adjacent ones); runs of candidates where ``start + 8 + length``
  lands exactly on the next candidate are accepted at once. Where that fails (a length >= 65536,
  NUL bytes inside strings, millions of empty strings) a batch of records is stepped exactly,
  lengths checked per batch, and a run of copies of the last record is taken whole by a
  byte comparison: hostile vocabularies cost a bounded time per record and one int64 per
  record, never an object per record (issue 12);
* otherwise (a fresh CLI process) importing numpy would cost more than the scan, so a tight
  loop advances 64 records at a time and keeps every 64th offset (a sparse index: a lookup
  steps at most 63 records from its checkpoint).
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import GGUFFormatError

if TYPE_CHECKING:
    from .cursor import Cursor

_U64 = struct.Struct("<Q").unpack_from
_VECTOR_MIN = 4096  # below this many elements the plain loop is faster than numpy set-up
_IMPORT_NUMPY_MIN = 1 << 20  # above this many, importing numpy pays for itself
_BLOCK = 1 << 20
_SHORT_RUN = 32  # a shorter vectorised run means the filter is failing here: step exactly
_EXACT_RUN = 256  # records stepped exactly before trying the vectorised path again
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
    cur.strings += count
    if count < _VECTOR_MIN:
        _spend_steps(cur, count, key)
        offsets: list[int] = []
        _step(cur, count, key, max_string, offsets)
        # Kept as machine integers: 100k small arrays must not leave millions of int objects.
        return StringIndex(array("q", offsets))
    np = sys.modules.get("numpy")
    if np is None and max(count, cur.strings) >= _IMPORT_NUMPY_MIN:
        import numpy as np  # a dependency of gguf, so always there; imported only for big arrays
    if np is not None:
        return StringIndex(_scan_numpy(np, cur, count, key, max_string))
    _spend_steps(cur, count, key)
    return StringIndex(_scan_sparse(cur, count, key, max_string), STRIDE)


def _spend_steps(cur: Cursor, count: int, key: str) -> None:
    """Charge ``count`` one-by-one steps to the header's budget; refuse a header that overspends."""
    cur.step_left -= count
    if cur.step_left < 0:
        raise GGUFFormatError(
            f"{cur.src.name}: the string arrays (up to {key!r}) need more than "
            f"{cur.limits.max_stepped} strings read one by one (empty or NUL-filled strings in an "
            "irregular order); no real vocabulary looks like this",
            hint="The file is corrupt or malicious; re-download it from a trusted source.",
            key=key,
        )


def _scan_sparse(cur: Cursor, count: int, key: str, max_string: int) -> list[int]:
    """Every STRIDE-th offset; blocks that straddle the window's end take the checked path."""
    checkpoints: list[int] = []
    append = checkpoints.append
    unpack = _U64
    remaining = count
    what = f"the array {key!r}"
    while remaining:
        start = cur.pos
        buf, i0, have = cur.window(8, min(1 << 20, remaining * 8), what)
        end = i0 + have
        p = i0
        fits = True
        while remaining:  # every block of STRIDE records inside this window
            n = min(STRIDE, remaining)
            q = p
            try:
                for _ in range(n):
                    q += 8 + unpack(buf, q)[0]
                # A block spanning more than max_string may hold an oversized element: check it exactly.
                fits = q <= end and q - p <= max_string
            except struct.error:
                fits = False
            if not fits:
                break
            append(start + (p - i0))
            p = q
            remaining -= n
        cur.pos = start + (p - i0)
        if not fits:
            n = min(STRIDE, remaining)
            append(cur.pos)
            _step(cur, n, key, max_string, [])  # reports truncation / oversized elements exactly
            remaining -= n
    if cur.size is not None and cur.pos > cur.size:
        cur._truncated(cur.pos, 0, what)
    return checkpoints


def _step(cur: Cursor, count: int, key: str, max_string: int, out: list[int]) -> None:
    """The plain sequential loop (reference semantics), walking buffered windows."""
    size = cur.size
    what = f"the array {key!r}"
    unpack = _U64
    append = out.append
    remaining = count
    while remaining:
        pos = cur.pos
        buf, i0, have = cur.window(8, min(1 << 16, remaining * 8), what)
        limit = i0 + have - 8
        i = i0
        shift = pos - i0
        done = len(out)
        for _ in range(remaining):
            if i > limit:
                break
            length = unpack(buf, i)[0]
            if length > max_string:
                _check(length, i + shift, size, key, max_string, cur)
            append(i + shift)
            i += 8 + length
        remaining -= len(out) - done
        cur.pos = pos + (i - i0)
        if size is not None and cur.pos > size:
            last = out[-1]
            cur._truncated(last + 8, cur.pos - last - 8, f"an element of the array {key!r}")


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
    """Dense int64 offsets; per block, vectorised runs where the candidates chain, exact steps elsewhere."""
    out = np.empty(count, dtype=np.int64)
    k = 0
    size = cur.size
    what = f"the array {key!r}"
    while k < count:
        remaining = count - k
        if remaining < 64:
            tail: list[int] = []
            _step(cur, remaining, key, max_string, tail)
            out[k:] = tail
            break
        # Every remaining element takes >= 8 bytes, so this window never passes the array's end.
        max_n = min(_BLOCK, remaining * 8)
        buf, i0, have = cur.window(8, max_n, what)
        n = min(have, max_n)
        base = cur.pos  # absolute offset of a[0]
        p, k = _scan_block(np, buf, i0, n, base, out, k, cur, key, max_string)
        cur.pos = base + p
        if size is not None and cur.pos > size:
            cur._truncated(cur.pos, 0, what)
    return out


def _scan_block(
    np: Any,
    buf: Any,
    i0: int,
    n: int,
    base: int,
    out: Any,
    k: int,
    cur: Cursor,
    key: str,
    max_string: int,
) -> tuple[int, int]:
    """Fill ``out[k:]`` with the records starting in ``buf[i0:i0+n]``; return (end offset in block, k)."""
    count = len(out)
    a = np.frombuffer(buf, dtype=np.uint8, count=n, offset=i0)
    zero = a == 0
    ok = (
        zero[2 : n - 5]
        & zero[3 : n - 4]
        & zero[4 : n - 3]
        & zero[5 : n - 2]
        & zero[6 : n - 1]
        & zero[7:n]
    )
    # A record start p also makes p-1 look like a start (its "high bytes" are p+1..p+6):
    # keep only the rightmost position of each run of adjacent candidates.
    ok[:-1] &= ~ok[1:]
    cand = np.flatnonzero(ok)
    lengths = a[cand].astype(np.int64) | (a[cand + 1].astype(np.int64) << 8)
    nxt = cand + 8 + lengths
    bad = np.flatnonzero(nxt[:-1] != cand[1:]) if len(cand) > 1 else np.zeros(0, np.int64)
    del zero, ok
    n_cand = len(cand)
    small_ok = max_string >= 65535  # candidate lengths are < 65536: only a tiny limit needs a check
    p = 0
    while k < count and p <= n - 8:
        j = int(np.searchsorted(cand, p))
        if j < n_cand and int(cand[j]) == p and small_ok:
            b = int(np.searchsorted(bad, j))
            last = int(bad[b]) if b < len(bad) else n_cand - 1
            take = min(last - j + 1, count - k)
            np.add(cand[j : j + take], base, out=out[k : k + take])
            k += take
            p = int(nxt[j + take - 1])
            if take >= _SHORT_RUN:
                continue
        # The candidates do not chain here (zero bytes in strings, lengths >= 65536, a tiny
        # limit): step exactly, a bounded number of records, without per-record objects.
        p, k = _step_exact(np, a, buf, i0, n, p, base, out, k, cur, key, max_string)
    return p, k


def _step_exact(
    np: Any,
    a: Any,
    buf: Any,
    i0: int,
    n: int,
    p: int,
    base: int,
    out: Any,
    k: int,
    cur: Cursor,
    key: str,
    max_string: int,
) -> tuple[int, int]:
    """Up to _EXACT_RUN records by the plain loop, then any run of copies of the last one at once."""
    size = cur.size
    unpack = _U64
    offsets: list[int] = []
    append = offsets.append
    q = i0 + p  # index in buf; bytes past the block are still this file's, in order
    try:
        for _ in range(min(len(out) - k, _EXACT_RUN)):
            append(q)
            q += 8 + unpack(buf, q)[0]
    except struct.error:  # the buffer ends inside this length: the caller refills from here
        offsets.pop()
    got = len(offsets)
    if not got:
        return p, k
    _spend_steps(cur, got, key)
    # Lengths are checked once per batch: the next start minus this one, minus 8.
    starts = np.array(offsets, dtype=np.int64)
    ends = np.append(starts[1:], q)
    over = np.flatnonzero(ends - starts - 8 > max_string)
    if len(over):
        bad = int(starts[over[0]])
        _check(int(unpack(buf, bad)[0]), base + bad - i0, size, key, max_string, cur)
    np.add(starts, base - i0, out=out[k : k + got])
    k += got
    p = q - i0
    if size is not None and base + p > size:
        last = int(starts[-1]) - i0
        cur._truncated(base + last + 8, p - last - 8, f"an element of the array {key!r}")
    if p <= n:
        # Millions of identical records (empty strings) would otherwise be stepped one by one.
        p, k = _repeat(np, a, n, p, p - (int(starts[-1]) - i0), base, out, k)
    return p, k


def _repeat(
    np: Any, a: Any, n: int, p: int, period: int, base: int, out: Any, k: int
) -> tuple[int, int]:
    """Records equal to the one before ``p`` (bytes repeating with ``period``), up to the block end."""
    count = len(out)
    end = p
    window = 256
    # Compare growing windows so the work stays proportional to what is found.
    while end + period <= n:
        stop = min(n, end + window)
        diff = np.flatnonzero(a[end:stop] != a[end - period : stop - period])
        if len(diff):
            end += int(diff[0])
            break
        end = stop
        window *= 2
    reps = min((end - p) // period, count - k)
    if reps > 0:
        np.add(np.arange(reps, dtype=np.int64) * period, base + p, out=out[k : k + reps])
    return p + reps * period, k + reps
