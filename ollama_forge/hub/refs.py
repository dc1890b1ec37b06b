"""Hub references: ``owner/repo[:QUANT][@REV]``.

Accepted spellings: ``owner/repo``, ``owner/repo:Q4_K_M``, ``owner/repo@v1.0``,
``owner/repo:Q4_K_M@<commit>``, with an optional ``hf.co/``, ``huggingface.co/`` or
``https://huggingface.co/`` prefix (as Ollama and llama.cpp users write them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from .names import validate_repo_id

_PREFIXES = (
    "https://huggingface.co/",
    "http://huggingface.co/",
    "https://hf.co/",
    "hf.co/",
    "huggingface.co/",
)
_QUANT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_REV_RE = re.compile(r"^[A-Za-z0-9_.\-/]{1,200}$")


@dataclass(frozen=True)
class HubRef:
    repo: str
    quant: str | None = None
    revision: str | None = None

    @property
    def rev(self) -> str:
        return self.revision or "main"

    def __str__(self) -> str:
        out = self.repo
        if self.quant:
            out += f":{self.quant}"
        if self.revision:
            out += f"@{self.revision}"
        return out


def parse_ref(text: str, *, allow_quant: bool = True) -> HubRef:
    """Parse ``owner/repo[:QUANT][@REV]``; raise UsageError with the expected shape."""
    raw = (text or "").strip()
    for prefix in _PREFIXES:
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
            break
    revision: str | None = None
    quant: str | None = None
    if "@" in raw:
        raw, _, revision = raw.partition("@")
        if ":" in revision:  # owner/repo@REV:QUANT (the other order)
            revision, _, quant = revision.partition(":")
            raw += ":" + quant
        if not revision or not _REV_RE.match(revision) or ".." in revision:
            raise UsageError(
                f"Invalid revision in Hub reference {text!r}",
                hint="Example: owner/repo@main or owner/repo@<commit sha>",
            )
    if ":" in raw:
        raw, _, quant = raw.partition(":")
        if not allow_quant:
            raise UsageError(
                f"{text!r}: a quant is not accepted here", hint="Use owner/repo[@REV]."
            )
        if not quant or not _QUANT_RE.match(quant):
            raise UsageError(
                f"Invalid quant in Hub reference {text!r}", hint="Example: owner/repo:Q4_K_M"
            )
    repo = raw.strip("/")
    if repo.count("/") != 1:
        raise UsageError(
            f"{text!r} is not a Hub reference",
            hint="Use owner/repo[:QUANT][@REV], e.g. unsloth/gemma-3-270m-it-GGUF:Q4_K_M",
        )
    validate_repo_id(repo)
    return HubRef(repo=repo, quant=quant, revision=revision)


def looks_like_hub_ref(text: str) -> bool:
    """True for ``owner/repo[...]`` strings that are not existing local paths' shapes.

    Used by :func:`ollama_forge.workflows.inspect.inspect` to route a target; the caller still checks
    the file system first.
    """
    try:
        parse_ref(text)
    except UsageError:
        return False
    return not text.endswith(".gguf")
