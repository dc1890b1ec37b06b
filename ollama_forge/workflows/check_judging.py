"""How ``forge check`` judges a reply: rambling, cut at the start, or leaking into another turn.

The report models and the judging rules (see :mod:`.check` for what each kind means); they take
text and stop reasons only, whichever runtime produced them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import CheckFailedError, ForgeError, TemplateError
from ..fidelity.ollama_prompt import render_prompt

#: a reply with fewer non-space characters than this, ended by a stop, was cut at the start
MIN_REPLY_CHARS = 2
Verdict = Literal["ok", "rambling", "cut", "leaked"]
_SPECIAL_RE = re.compile(r"<\|[^<>|\s]{1,40}\|>|<[A-Za-z_][A-Za-z0-9_]{1,40}>|\[/?[A-Z_]{2,20}\]")


class PromptCheck(BaseModel):
    """The verdict for one prompt."""

    prompt: str
    reply: str
    done_reason: str = Field(description="'stop' or 'length' (Ollama's vocabulary)")
    stopped_by: Literal["eog", "stop_string", "stop", "limit"] = Field(
        description="eog / stop_string (embedded runtime), stop (Ollama: EOG or stop string), limit"
    )
    stop: str | None = None
    completion_tokens: int | None = None
    seconds: float
    rambling: bool
    cut: bool
    leaked: list[str] = Field(default_factory=list)
    verdict: Verdict


class CheckReport(BaseModel):
    """The result of :func:`check`; ``passed`` is False when any prompt rambled, was cut or leaked."""

    target: str
    backend: Literal["ollama", "embedded"]
    ollama_name: str | None = None
    host: str | None = None
    gguf_path: str | None = None
    modelfile_source: str | None = None
    stops: list[str]
    leak_markers: list[str] = Field(
        description="stops, EOG token texts and template turn markers a reply must not contain"
    )
    max_tokens: int
    options: dict[str, Any]
    results: list[PromptCheck]
    passed: bool
    problems: list[str]
    notes: list[str] = Field(default_factory=list)
    base_model: bool = Field(
        False, description="the GGUF has no chat template: it has no end-of-turn to stop on"
    )
    seconds: float

    def raise_for_failure(self) -> None:
        """Raise :class:`CheckFailedError` when the check did not pass."""
        if self.passed:
            return
        kinds = sorted({r.verdict for r in self.results if r.verdict != "ok"})
        raise CheckFailedError(
            f"{self.target} failed the stop check ({', '.join(kinds)}): "
            + "; ".join(self.problems),
            hint=_failure_hint(kinds, base_model=self.base_model),
            target=self.target,
            verdicts=kinds,
        )


def _failure_hint(kinds: Sequence[str], *, base_model: bool = False) -> str:
    parts: list[str] = []
    if base_model and ("rambling" in kinds or "leaked" in kinds):
        # verify has nothing to compare for a base model: do not send the user there (a loop)
        parts.append(
            "this is a base model (its GGUF has no chat template), so nothing ends a reply: write a dialogue "
            "TEMPLATE with a PARAMETER stop that ends the assistant's turn (forge demo shows one), or use the "
            "model's instruct/chat variant"
        )
    elif "rambling" in kinds or "leaked" in kinds:
        parts.append(
            "add the family's turn-closing tokens (and the next turn's opening marker) as PARAMETER stop, "
            "and check that TEMPLATE is the model's chat format (forge modelfile NAME; forge verify NAME)"
        )
    if "cut" in kinds:
        parts.append(
            "remove stops that open the assistant's own turn (they match before the reply starts) and make "
            "sure TEMPLATE ends with the assistant turn header"
        )
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


# --- judging -----------------------------------------------------------------------------


def turn_markers(template: str | None) -> list[str]:
    """The text a template puts between an assistant reply and the next user message, as markers.

    E.g. ``<end_of_turn>`` and ``<start_of_turn>user`` for Gemma, ``User:`` for a plain
    ``User:/Assistant:`` format. Empty for ``{{ .Prompt }}``-only templates.
    """
    if not template:
        return []

    a, b, c = "\x1eQ1FORGE\x1e", "\x1eA1FORGE\x1e", "\x1eQ2FORGE\x1e"
    try:
        text = render_prompt(
            template,
            [
                {"role": "user", "content": a},
                {"role": "assistant", "content": b},
                {"role": "user", "content": c},
            ],
        )
    except (TemplateError, ForgeError):
        return []
    start, end = text.find(b), text.find(c)
    if start < 0 or end < 0 or end < start:
        return []
    between = text[start + len(b) : end]
    markers: list[str] = []
    for line in between.splitlines():
        piece = line.strip()
        if len(piece) >= 2 and piece not in markers:
            markers.append(piece)
    for token in _SPECIAL_RE.findall(between):
        if token not in markers:
            markers.append(token)
    return markers


def judge(
    prompt: str,
    reply: str,
    *,
    done_reason: str,
    stopped_by: str,
    stop: str | None,
    completion_tokens: int | None,
    seconds: float,
    markers: Sequence[str],
) -> PromptCheck:
    """Classify one generation (pure: no model needed)."""
    rambling = done_reason == "length"
    cut = not rambling and len(reply.strip()) < MIN_REPLY_CHARS
    leaked = [m for m in markers if m and m in reply]
    verdict: Verdict = "cut" if cut else "rambling" if rambling else "leaked" if leaked else "ok"
    return PromptCheck(
        prompt=prompt,
        reply=reply,
        done_reason=done_reason,
        stopped_by=stopped_by,  # type: ignore[arg-type]
        stop=stop,
        completion_tokens=completion_tokens,
        seconds=round(seconds, 4),
        rambling=rambling,
        cut=cut,
        leaked=leaked,
        verdict=verdict,
    )


def _problem(result: PromptCheck, max_tokens: int) -> str | None:
    short = json.dumps(result.prompt)
    if result.verdict == "cut":
        by = f"stop {result.stop!r}" if result.stop else result.stopped_by
        return f"{short}: reply cut at the start ({len(result.reply.strip())} characters, ended by {by})"
    if result.verdict == "rambling":
        extra = (
            f"; it went on into {', '.join(repr(m) for m in result.leaked)}"
            if result.leaked
            else ""
        )
        return f"{short}: no stop after {max_tokens} tokens (rambling){extra}"
    if result.verdict == "leaked":
        return f"{short}: the reply contains {', '.join(repr(m) for m in result.leaked)}"
    return None
