"""Printability exactly as Go's ``strconv.IsPrint``, which decides the runes Ollama keeps.

Ollama drops every rune ``strconv.IsPrint`` rejects from Modelfile values (ollama.md §1).
Python's ``unicodedata`` follows the running Python's Unicode version (14.0 on 3.11), Go its
own (17.0 in Go 1.27), so the two disagree on newer characters. This module answers from one
static table generated from Go (:mod:`ollama_forge.gotemplate.goprint_table`, scripts/gen_goprint.py),
the same on every Python.
"""

from __future__ import annotations

from bisect import bisect_right

from .goprint_table import GO_VERSION, RANGES, UNICODE_VERSION

__all__ = ["GO_VERSION", "UNICODE_VERSION", "is_print"]

_STARTS = RANGES[0::2]
_ENDS = RANGES[1::2]


def is_print(ch: str) -> bool:
    """Go ``strconv.IsPrint`` of one character: letters, marks, numbers, punctuation, symbols, ASCII space."""
    cp = ord(ch)
    if cp < 0x7F:
        return cp >= 0x20
    i = bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp < _ENDS[i]
