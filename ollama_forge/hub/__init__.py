"""The Hugging Face Hub side of forge: listing, quant choice, verified resumable download,
remote header inspection.

Public API (also re-exported as ``ollama_forge.list_quants`` / ``ollama_forge.pull_gguf``)::

    listing = list_quants("ggml-org/gemma-3-270m-GGUF", ctx=8192, mem="8G")   # QuantListing
    result = pull_gguf("ggml-org/gemma-3-270m-GGUF:Q4_K_M", name="gemma")    # PullResult

huggingface_hub is imported inside the functions, never at import time of this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .pull import PulledFile, PullResult, pull_gguf
    from .quants import QuantListing, list_quants
    from .refs import HubRef, parse_ref
    from .remote import HTTPRangeSource

_LAZY = {
    "list_quants": "quants",
    "QuantListing": "quants",
    "pull_gguf": "pull",
    "PullResult": "pull",
    "PulledFile": "pull",
    "HubRef": "refs",
    "parse_ref": "refs",
    "HTTPRangeSource": "remote",
}

__all__ = [
    "HTTPRangeSource",
    "HubRef",
    "PullResult",
    "PulledFile",
    "QuantListing",
    "list_quants",
    "parse_ref",
    "pull_gguf",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
