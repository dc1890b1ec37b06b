"""Ollama Modelfiles: a typed model, an Ollama-faithful parser and a renderer that never
writes text Ollama would read differently, plus PARAMETER validation.

Import cost is small (pydantic only), so ``forge modelfile`` and notebooks load it quickly.
"""

from __future__ import annotations

from .model import (
    Message,
    Modelfile,
    PlanRecord,
    normalize_requires,
    parse_modelfile,
    read_modelfile,
)
from .parameters import (
    DEPRECATED_SKIPPED,
    KNOWN_PARAMETERS,
    REMOVED_PARAMETERS,
    ParameterSpec,
    format_parameter_value,
    validate_parameter,
    validate_parameters,
)
from .parser import (
    COMMAND_WORDS,
    MESSAGE_ROLES,
    Command,
    decode_modelfile,
    parse_commands,
    scan_modelfile,
    unquote,
)
from .paths import expand_path, looks_like_path
from .render import render_value, representable_styles

__all__ = [
    "COMMAND_WORDS",
    "DEPRECATED_SKIPPED",
    "KNOWN_PARAMETERS",
    "MESSAGE_ROLES",
    "REMOVED_PARAMETERS",
    "Command",
    "Message",
    "Modelfile",
    "ParameterSpec",
    "PlanRecord",
    "decode_modelfile",
    "expand_path",
    "format_parameter_value",
    "looks_like_path",
    "normalize_requires",
    "parse_commands",
    "parse_modelfile",
    "read_modelfile",
    "render_value",
    "representable_styles",
    "scan_modelfile",
    "unquote",
    "validate_parameter",
    "validate_parameters",
]
