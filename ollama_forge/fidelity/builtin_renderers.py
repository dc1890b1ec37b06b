"""Architectures Ollama renders with its own Go code: forge's allowlist of RENDERER/PARSER pairs.

Ollama's ``create`` sets RENDERER and PARSER from the model GGUF's ``general.architecture``
(server/create.go ``createModel``, read at v0.33.0-rc2 fb30760 and in the later stored
version 0029bb5):

.. code-block:: go

    // Auto-detect renderer, parser, and stop tokens from GGUF architecture.
    if config.Renderer == "" || config.Parser == "" {
        switch arch {
        case "gemma4":   Renderer = cmp.Or(Renderer, "gemma4"); Parser = cmp.Or(Parser, "gemma4")
                         // and stop ["<turn|>"] when the request has no "stop" parameter
        case "laguna":   ... "laguna" / "laguna"
        case "nemotron_h", "nemotron_h_moe", "nemotron_h_omni": ... "nemotron-3-nano" (both)
        }
    }

It runs for every model layer (not projectors, not drafts) of a ``files`` import, whatever the
request's TEMPLATE: since RENDERER wins over any TEMPLATE at chat time, a TEMPLATE sent for
such a GGUF is bypassed. Only a request that sets both RENDERER and PARSER escapes it; one
that sets one of them gets the other from the table.

This table is the only source of the RENDERER/PARSER values forge writes: the GGUF's
architecture is a key, never a value (nothing from a GGUF becomes a Modelfile instruction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ForgeError
from ..gguf import read_gguf
from ..text import safe_text

__all__ = [
    "AUTO_SET_SINCE",
    "BUILTIN_RENDERERS",
    "BuiltinRenderer",
    "allowlisted_pair",
    "auto_set_pair",
    "builtin_for",
    "version_text",
]

#: First Ollama release assumed to auto-set the pairs below (and to register these renderer and
#: parser names). ASSUMPTION: the auto-set is confirmed at v0.33.0-rc2 (fb30760, the fact
#: sheet's §3.4) and in every later stored server/create.go; the release that introduced it was
#: not found. forge assumes the native-Jinja era, 0.30.0. The renderers may be older: a server
#: between 0.12 and 0.30 may already bypass a TEMPLATE for these architectures, or may not know
#: the renderer name (chat then fails with 'unknown renderer').
AUTO_SET_SINCE = (0, 30, 0)


@dataclass(frozen=True)
class BuiltinRenderer:
    """One create-time auto-set rule: architectures -> the RENDERER/PARSER pair Ollama sets."""

    architectures: tuple[str, ...]
    renderer: str
    parser: str
    since: tuple[int, int, int] = AUTO_SET_SINCE
    default_stop: tuple[str, ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        return (self.renderer, self.parser)


BUILTIN_RENDERERS: tuple[BuiltinRenderer, ...] = (
    BuiltinRenderer(("gemma4",), "gemma4", "gemma4", default_stop=("<turn|>",)),
    BuiltinRenderer(("laguna",), "laguna", "laguna"),
    BuiltinRenderer(
        ("nemotron_h", "nemotron_h_moe", "nemotron_h_omni"), "nemotron-3-nano", "nemotron-3-nano"
    ),
)


def builtin_for(architecture: str | None) -> BuiltinRenderer | None:
    """The rule for a GGUF's ``general.architecture`` (exact match, as Go's switch), or None."""
    if not architecture:
        return None
    return next((b for b in BUILTIN_RENDERERS if architecture in b.architectures), None)


def version_text(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def auto_set_pair(
    architecture: str | None,
    renderer: str | None,
    parser: str | None,
    version: tuple[int, int, int] | None,
) -> tuple[str | None, str | None, BuiltinRenderer | None]:
    """(RENDERER, PARSER) a model created with these values ends up with, and the rule that fired.

    ``version`` None means current source (the rules read last). The rule does not fire when the
    request sets both, or before the rule's first release.
    """
    rule = builtin_for(architecture)
    if rule is None or (renderer and parser) or (version is not None and version < rule.since):
        return renderer or None, parser or None, None
    return renderer or rule.renderer, parser or rule.parser, rule


def allowlisted_pair(from_paths: Iterable[Path]) -> tuple[str | None, tuple[str, str] | None]:
    """(architecture, allowlisted RENDERER/PARSER pair) of the first model GGUF among FROM paths.

    Projectors are skipped. (None, None) when no path is a readable GGUF: then no RENDERER/PARSER
    is forge's. The architecture is read from the GGUF itself, never from Modelfile comments.
    """
    for path in from_paths:
        if not path.is_file():
            continue
        try:
            info = read_gguf(path)
        except ForgeError:
            return None, None
        if info.is_projector:
            continue
        rule = builtin_for(info.architecture)
        arch = (
            safe_text(info.architecture, keep_newlines=False, limit=80)
            if info.architecture
            else None
        )
        return arch, (rule.pair if rule is not None else None)
    return None, None
