"""What ``/api/chat`` sends back for a model's streamed output on the Go TEMPLATE path.

Mirrors the completion callback of server/routes.go ChatHandler (as read for v0.33.0-rc2):
the thinking parser (tags inferred from the TEMPLATE, only with ``think`` on; a prompt ending
in the opening tag pre-feeds it) runs first, then the tool-call parser when tools were sent.
Per chunk the tool parser's content wins and calls parsed in the same chunk are lost; a chunk
with only thinking is sent with its raw content; the final, empty done chunk flushes
``Parser.Content()``. A thinking TEMPLATE gets ``think=true`` when the request has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ollama_forge.fidelity.ollama_prompt import infer_thinking_tags, ollama_parse
from ollama_forge.gotemplate import Template

from .thinking_parser import ThinkingParser
from .toolcall_parser import ParsedToolCall, ToolCallParser, go_trim_space, parse_tag

__all__ = ["ChatChunk", "ChatToolOutcome", "simulate_chat"]


class ChatChunk(BaseModel):
    """One streamed ``/api/chat`` line (message part only; tool call ids are random in Ollama)."""

    thinking: str = ""
    content: str = ""
    tool_calls: list[ParsedToolCall] = Field(default_factory=list)
    done: bool = False


class ChatToolOutcome(BaseModel):
    """The chunks Ollama sends and their sums (what a non-streaming request returns)."""

    tag: str = Field(description="the tool-call tag derived from the TEMPLATE")
    thinking_tags: tuple[str, str] | None = Field(
        default=None, description="when the thinking parser ran"
    )
    events: list[ChatChunk] = Field(default_factory=list)
    tool_calls: list[ParsedToolCall] = Field(default_factory=list)
    content: str = ""
    thinking: str = ""
    dropped_calls: list[ParsedToolCall] = Field(
        default_factory=list,
        description="calls parsed from a chunk that also returned content: ChatHandler drops them",
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def simulate_chat(
    template: str | Template | None,
    tools: Sequence[Any],
    chunks: Iterable[str | bytes],
    *,
    think: bool | None = None,
    prompt: str = "",
) -> ChatToolOutcome:
    """Feed a model's streamed output through Ollama's parsers as ChatHandler does.

    ``template`` is the model's TEMPLATE (None: Ollama's ``{{ .Prompt }}``); ``tools`` the
    request's tools; ``think`` the request's think; ``prompt`` the rendered prompt (only its end
    matters: a prompt ending in the opening thinking tag starts inside the thinking).
    """
    tmpl = ollama_parse(template) if isinstance(template, str) else template
    opening, closing = infer_thinking_tags(tmpl) if tmpl is not None else ("", "")
    if think is None:
        think = bool(opening and closing)  # ChatHandler's default for thinking models
    thinker: ThinkingParser | None = None
    if think and opening and closing:
        thinker = ThinkingParser(opening, closing)
        if go_trim_space(prompt).endswith(opening):
            thinker.add_content(opening)
    parser = ToolCallParser(tools, parse_tag(tmpl)) if tools else None
    outcome = ChatToolOutcome(
        tag=parse_tag(tmpl), thinking_tags=(opening, closing) if thinker else None
    )
    pieces = [c if isinstance(c, bytes) else c.encode("utf-8", "surrogateescape") for c in chunks]
    for i, piece in enumerate([*pieces, b""]):
        done = i == len(pieces)
        content, thinking = piece, b""
        calls: list[ParsedToolCall] = []
        if thinker is not None:
            thinking, rest = thinker.add_bytes(content)
            if not thinking and not rest and not done:
                continue  # accumulate more before deciding
            content = rest
        if parser is not None:
            found, text = parser.add_bytes(content)
            if text:
                content = text
                outcome.dropped_calls.extend(found)
            elif found:
                calls, content = found, b""
            elif not thinking:
                if done:
                    outcome.events.append(
                        ChatChunk(content=_text(parser.content_bytes()), done=True)
                    )
                continue
            # a thinking-only chunk is sent with the content as it was before the tool parser
        outcome.events.append(
            ChatChunk(thinking=_text(thinking), content=_text(content), tool_calls=calls, done=done)
        )
    outcome.tool_calls = [c for e in outcome.events for c in e.tool_calls]
    raw = b"".join(e.content.encode("utf-8", "surrogateescape") for e in outcome.events)
    outcome.content = raw.decode("utf-8", "replace")
    outcome.thinking = (
        "".join(e.thinking for e in outcome.events)
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "replace")
    )
    return outcome
