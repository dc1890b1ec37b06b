"""Which instructions a Modelfile that forge wrote from a GGUF may hold.

forge's planner (:func:`ollama_forge.families.plan_modelfile`) writes FROM (weights, shards,
projector), TEMPLATE, SYSTEM and PARAMETERs, plus MESSAGEs only when the user passed
``--message``. It never writes ADAPTER, DRAFT, LICENSE or REQUIRES, and writes RENDERER and
PARSER only as the exact pair forge's allowlist gives the architecture of the FROM GGUF
(:mod:`ollama_forge.fidelity.builtin_renderers`: the architectures Ollama renders itself). A
Modelfile that carries forge's header (first comment line) yet holds any other of those, or more
MESSAGEs than its header records, was edited or crafted: registration and verification refuse
it (defence in depth behind the data-only renderer). The architecture is read from the FROM
GGUF itself, never from the Modelfile's comments.

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
NEVER_WRITTEN = ("ADAPTER", "DRAFT", "LICENSE", "REQUIRES")
#: written only as the allowlisted pair for the FROM GGUF's architecture
ALLOWLISTED = ("RENDERER", "PARSER")


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


def unexpected_instructions(
    mf: Modelfile,
    *,
    user_messages: int | None = None,
    builtin: tuple[str | None, tuple[str, str] | None] = (None, None),
) -> list[str]:
    """Instructions the planner never writes (``ADAPTER <path>``, ...), plus surplus MESSAGEs.

    ``user_messages`` is how many MESSAGEs the user gave; by default the count recorded in the
    header (a Modelfile planned in the same call passes 0). ``builtin`` is the FROM GGUF's
    (architecture, allowlisted RENDERER/PARSER pair), read by the caller from the GGUF itself
    (:func:`ollama_forge.fidelity.builtin_renderers.allowlisted_pair`); without it no RENDERER or
    PARSER is forge's.
    """
    found: list[str] = []
    found += [f"ADAPTER {v}" for v in mf.adapters]
    found += [f"DRAFT {v}" for v in mf.draft]
    found += [f"LICENSE ({len(text)} characters)" for text in mf.license]
    if mf.requires is not None:
        found.append(f"REQUIRES {mf.requires}")
    if mf.renderer is not None or mf.parser is not None:
        arch, pair = builtin
        if pair is None or (mf.renderer, mf.parser) != pair:
            why = (
                f"forge writes exactly RENDERER {pair[0]} / PARSER {pair[1]} for architecture {arch}"
                if pair is not None
                else f"forge writes none for architecture {arch or 'unknown (no FROM GGUF read)'}"
            )
            found += [
                f"{word} {value} ({why})"
                for word, value in (("RENDERER", mf.renderer), ("PARSER", mf.parser))
                if value is not None
            ]
    allowed = recorded_user_messages(mf) if user_messages is None else user_messages
    if len(mf.messages) > allowed:
        found.append(f"{len(mf.messages) - allowed} MESSAGE(s) nobody asked for")
    return found
