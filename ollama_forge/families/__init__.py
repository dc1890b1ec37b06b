"""Model families: detection, stop tokens, ``num_ctx`` and family parameters
(the Modelfile planner that uses them is :mod:`ollama_forge.workflows.plan`).

::

    import ollama_forge as forge
    forge.detect_family("model.gguf")          # Detection(family, rule, confidence, evidence)
    forge.list_families()                      # built-in + FORGE_FAMILIES folder

Family files live in ``templates/`` (one Jinja file per family, see :mod:`.registry` for the
format); a user folder adds families or overrides built-in ones by name.
"""

from __future__ import annotations

from ..budget import parse_size
from .context import DEFAULT_MAX_CTX, ContextChoice, choose_num_ctx
from .detect import Candidate, Detection, detect_family
from .registry import (
    Family,
    builtin_dir,
    chat_template_sha256,
    get_family,
    list_families,
    load_families,
    normalize_chat_template,
    parse_family_file,
)
from .stops import StopChoice, choose_stops

__all__ = [
    "DEFAULT_MAX_CTX",
    "Candidate",
    "ContextChoice",
    "Detection",
    "Family",
    "StopChoice",
    "builtin_dir",
    "chat_template_sha256",
    "choose_num_ctx",
    "choose_stops",
    "detect_family",
    "get_family",
    "list_families",
    "load_families",
    "normalize_chat_template",
    "parse_family_file",
    "parse_size",
]
