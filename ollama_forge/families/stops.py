"""Stop strings from the model itself.

A model stops on its end-of-generation tokens: ``eos``, ``eot`` and ``eom`` from the GGUF, plus
the family's turn terminators **that exist in this vocabulary** (looked up with
``GGUFFile.find_tokens``). Turn-*opening* tokens are never stops: a reply that starts with one
(or a template that echoes one) would be cut to nothing (Ollama #17939). Plain-text formats
(alpaca, vicuna) add the family's text stops, which mark the next turn in prose.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..modelfile import representable_styles

if TYPE_CHECKING:
    from ..gguf import GGUFFile, GGUFInfo
    from .registry import Family

# Turn openers of widespread formats: never stops, whatever a GGUF or family says.
KNOWN_TURN_OPENERS = frozenset(
    {
        "<|im_start|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<start_of_turn>",
        "[INST]",
        "[/INST]",
        "<<SYS>>",
        "<</SYS>>",
        "<|user|>",
        "<|system|>",
        "<|assistant|>",
        "<|START_OF_TURN_TOKEN|>",
        "<|USER_TOKEN|>",
        "<|CHATBOT_TOKEN|>",
        "<|SYSTEM_TOKEN|>",
        "<|begin_of_text|>",
        "<|start_of_role|>",
        "<|end_of_role|>",
        "<｜User｜>",
        "<｜Assistant｜>",
        "<|start|>",
        "<|channel|>",
        "<|message|>",
        "[SYSTEM_PROMPT]",
        "[AVAILABLE_TOOLS]",
        "[TOOL_CALLS]",
        "<|turn>",
        "GPT4 Correct User:",
    }
)
EOG_KINDS = ("eos", "eot", "eom")


class StopChoice(BaseModel):
    stops: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list, description="where each stop came from")
    rejected: list[str] = Field(
        default_factory=list, description="candidates left out, with the reason"
    )


def _add(choice: StopChoice, text: str | None, why: str, openers: frozenset[str]) -> None:
    if not text or not text.strip():
        return
    if text in openers:
        choice.rejected.append(f"{text} ({why}; a turn opener would cut replies short)")
        return

    if not representable_styles(text):
        # A stop Ollama's Modelfile grammar cannot carry (e.g. a line ending in \"\"\"): llama.cpp still
        # stops on the token itself; writing it would fail or change its meaning.
        choice.rejected.append(f"{text!r} ({why}; cannot be written as a Modelfile PARAMETER stop)")
        return
    if text not in choice.stops:
        choice.stops.append(text)
        choice.evidence.append(f"{text} ({why})")


def choose_stops(
    info: GGUFInfo,
    gguf: GGUFFile | None,
    *,
    family: Family | None = None,
    extra: Iterable[str] = (),
    extra_source: str = "template",
) -> StopChoice:
    """The stop list for a model: its EOG tokens, family terminators found in its vocab, text stops.

    ``extra`` are further terminator candidates (e.g. those a synthesised template found); like
    family terminators they are kept only when they are tokens of this vocabulary or plain text
    that is not a special-token spelling.
    """
    openers = frozenset(KNOWN_TURN_OPENERS | set(family.turn_openers if family else ()))
    choice = StopChoice()
    for kind in EOG_KINDS:
        token = info.special_tokens.get(kind)
        if token is not None and token.text:
            _add(choice, token.text, f"the GGUF's {kind} token", openers)
    terminators = list(family.stop_tokens) if family else []
    extras = [e for e in extra if e]
    wanted = [t for t in [*terminators, *extras] if t not in choice.stops]
    found: dict[str, int] = {}
    if wanted and gguf is not None:
        found = gguf.find_tokens(wanted)
    for text in terminators:
        if text in found:
            _add(
                choice,
                text,
                f"{family.name if family else 'family'} turn terminator, token {found[text]}",
                openers,
            )
        elif text not in choice.stops:
            choice.rejected.append(f"{text} (family terminator not in this vocabulary)")
    for text in extras:
        if text in found:
            _add(choice, text, f"{extra_source} turn terminator, token {found[text]}", openers)
        elif text not in choice.stops:
            choice.rejected.append(f"{text} ({extra_source} terminator not in this vocabulary)")
    for text in family.text_stops if family else ():
        _add(choice, text, f"{family.name if family else 'family'} text stop", openers)
    return choice
