"""Text helpers for untrusted strings and sizes; nothing here prints (cli/console.py does).

Strings that come from GGUF files, the Hub or Ollama are untrusted: :func:`safe_text` escapes
ANSI escapes and control characters before anything shows or stores them.
"""

from __future__ import annotations

_CONTROL = {i: f"\\x{i:02x}" for i in range(32) if chr(i) not in "\n\t"}
_CONTROL[0x7F] = "\\x7f"
for _i in range(0x80, 0xA0):
    _CONTROL[_i] = f"\\x{_i:02x}"


def scrub_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates as U+FFFD (as Go decodes JSON).

    Python strings can hold lone surrogates (JSON or template escapes); no UTF-8 encoder
    accepts them, so text bound for a terminal, a file or a server goes through here.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def safe_text(value: object, *, keep_newlines: bool = True, limit: int | None = None) -> str:
    """Escape control characters (ANSI escapes, \\r, C1 controls) in untrusted text."""
    text = scrub_surrogates(str(value))
    table = dict(_CONTROL)
    if not keep_newlines:
        table[ord("\n")] = "\\n"
        table[ord("\t")] = "\\t"
    text = text.translate(table)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def human_bytes(value: int | None, *, unknown: str = "unknown") -> str:
    """Binary-unit sizes for humans: ``512 B``, ``235.16 MiB`` (Ollama's own decimal format is in ollama.ps)."""
    if value is None:
        return unknown
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TiB"
