"""Which instructions a Modelfile that forge wrote from a GGUF may hold.

forge's planner (:func:`ollama_forge.families.plan_modelfile`) writes FROM (weights, shards,
projector), TEMPLATE, SYSTEM and PARAMETERs, plus MESSAGEs only when the user passed
``--message``. It never writes ADAPTER, DRAFT, LICENSE, REQUIRES, RENDERER or PARSER. A
Modelfile that carries forge's header (first comment line) yet holds any of those, or more
MESSAGEs than its header records, was edited or crafted: registration and verification refuse
it (defence in depth behind the data-only renderer).

The header cannot be forged through a GGUF: header comments are only the ``#`` lines before the
first instruction, forge writes every comment as one line, and each begins with fixed text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Modelfile

FORGE_MARKER = "Modelfile written by ollama_forge"
_USER_MESSAGES = re.compile(r"MESSAGE: (\d+) given by the user \(--message\)")
NEVER_WRITTEN = ("ADAPTER", "DRAFT", "LICENSE", "REQUIRES", "RENDERER", "PARSER")


def user_messages_comment(count: int) -> str:
    """The header line that records how many MESSAGEs the user asked for."""
    return f"MESSAGE: {count} given by the user (--message)"


def is_forge_written(mf: Modelfile) -> bool:
    """True when the Modelfile starts with forge's header comment."""
    return bool(mf.comments) and mf.comments[0].startswith(FORGE_MARKER)


def recorded_user_messages(mf: Modelfile) -> int:
    for line in mf.comments:
        match = _USER_MESSAGES.fullmatch(line)
        if match:
            return int(match.group(1))
    return 0


def unexpected_instructions(mf: Modelfile, *, user_messages: int | None = None) -> list[str]:
    """Instructions the planner never writes (``ADAPTER <path>``, ...), plus surplus MESSAGEs.

    ``user_messages`` is how many MESSAGEs the user gave; by default the count recorded in the
    header (a Modelfile planned in the same call passes 0).
    """
    found: list[str] = []
    found += [f"ADAPTER {v}" for v in mf.adapters]
    found += [f"DRAFT {v}" for v in mf.draft]
    found += [f"LICENSE ({len(text)} characters)" for text in mf.license]
    for word, value in (
        ("REQUIRES", mf.requires),
        ("RENDERER", mf.renderer),
        ("PARSER", mf.parser),
    ):
        if value is not None:
            found.append(f"{word} {value}")
    allowed = recorded_user_messages(mf) if user_messages is None else user_messages
    if len(mf.messages) > allowed:
        found.append(f"{len(mf.messages) - allowed} MESSAGE(s) nobody asked for")
    return found
