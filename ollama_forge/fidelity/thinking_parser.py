"""Ollama's thinking parser for Go TEMPLATE models (thinking/parser.go), ported from Go.

With ``think`` on and thinking tags inferred from the TEMPLATE (the text around ``.Thinking``
inside ``range .Messages``), ``/api/chat`` splits the model's output into ``thinking`` and
``content`` with this state machine before the tool-call parser sees the content. It works on
UTF-8 bytes as Go does, so a tag split inside a character behaves like Ollama's.
"""

from __future__ import annotations

from enum import Enum

from .toolcall_parser import GO_SPACE

__all__ = ["ThinkingParser", "trim_left_space"]


class _State(Enum):
    LOOKING_FOR_OPENING = 0
    STARTED_EATING_WHITESPACE = 1
    THINKING = 2
    DONE_EATING_WHITESPACE = 3
    DONE = 4


def trim_left_space(data: bytes) -> bytes:
    """strings.TrimLeftFunc(s, unicode.IsSpace) on raw bytes (invalid UTF-8 is not space)."""
    text = data.decode("utf-8", "surrogateescape")
    start = 0
    while start < len(text) and text[start] in GO_SPACE:
        start += 1
    return text[start:].encode("utf-8", "surrogateescape")


def _overlap(data: bytes, delim: bytes) -> int:
    """Longest suffix of ``data`` that is a prefix of ``delim``."""
    for size in range(min(len(delim), len(data)), 0, -1):
        if data.endswith(delim[:size]):
            return size
    return 0


class ThinkingParser:
    """thinking.Parser: ``add_content`` returns (thinking, content) ready to send."""

    def __init__(self, opening_tag: str, closing_tag: str) -> None:
        self.opening_tag = opening_tag
        self.closing_tag = closing_tag
        self._open = opening_tag.encode("utf-8", "surrogateescape")
        self._close = closing_tag.encode("utf-8", "surrogateescape")
        self._state = _State.LOOKING_FOR_OPENING
        self._acc = b""

    def add_content(self, content: str | bytes) -> tuple[str, str]:
        thinking, rest = self.add_bytes(
            content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
        )
        return (
            thinking.decode("utf-8", "surrogateescape"),
            rest.decode("utf-8", "surrogateescape"),
        )

    def add_bytes(self, content: bytes) -> tuple[bytes, bytes]:
        self._acc += content
        thinking, rest = b"", b""
        again = True
        while again:  # several states may pass in one call: never wait for unambiguous data
            more_thinking, more_rest, again = self._eat()
            thinking += more_thinking
            rest += more_rest
        return thinking, rest

    def _eat(self) -> tuple[bytes, bytes, bool]:
        state = self._state
        if state is _State.LOOKING_FOR_OPENING:
            trimmed = trim_left_space(self._acc)
            if trimmed.startswith(self._open):
                after = trim_left_space(self._open.join(trimmed.split(self._open)[1:]))
                self._acc = after
                self._state = _State.THINKING if after else _State.STARTED_EATING_WHITESPACE
                return b"", b"", True
            if self._open.startswith(trimmed):  # a partial opening tag, or only whitespace
                return b"", b"", False
            self._state = _State.DONE  # no opening tag: thinking was skipped, keep the whitespace
            untrimmed, self._acc = self._acc, b""
            return b"", untrimmed, False
        if state is _State.STARTED_EATING_WHITESPACE:
            trimmed, self._acc = trim_left_space(self._acc), b""
            if not trimmed:
                return b"", b"", False
            self._state, self._acc = _State.THINKING, trimmed
            return b"", b"", True
        if state is _State.THINKING:
            acc = self._acc
            if self._close in acc:
                parts = acc.split(self._close)
                remaining = trim_left_space(self._close.join(parts[1:]))
                self._acc = b""
                self._state = _State.DONE if remaining else _State.DONE_EATING_WHITESPACE
                return parts[0], remaining, False
            size = _overlap(acc, self._close)
            if size:  # a possible closing tag: hold it back until it is decided
                self._acc = acc[len(acc) - size :]
                return acc[: len(acc) - size], b"", False
            self._acc = b""
            return acc, b"", False
        if state is _State.DONE_EATING_WHITESPACE:
            trimmed, self._acc = trim_left_space(self._acc), b""
            if trimmed:
                self._state = _State.DONE
            return b"", trimmed, False
        acc, self._acc = self._acc, b""
        return b"", acc, False
