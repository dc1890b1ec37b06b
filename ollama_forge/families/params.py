"""Parameters of a planned Modelfile: the GGUF's sampling defaults, family defaults, the user's."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ForgeError
from ..modelfile import validate_parameters

if TYPE_CHECKING:
    from ..gguf import GGUFInfo
    from .registry import Family

# general.sampling.* (GGUF) -> Ollama PARAMETER
SAMPLING_PARAMETERS = {
    "temp": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "penalty_repeat": "repeat_penalty",
    "penalty_last_n": "repeat_last_n",
    "penalty_present": "presence_penalty",
    "penalty_freq": "frequency_penalty",
}


def sampling_defaults(info: GGUFInfo) -> tuple[dict[str, Any], list[str]]:
    """The model author's recommended sampling (general.sampling.*) as Ollama PARAMETERs."""

    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in (info.sampling or {}).items():
        name = SAMPLING_PARAMETERS.get(key)
        if name and isinstance(value, (int, float)) and not isinstance(value, bool):
            # A bad value is the GGUF's defect: leave it out and say so, never blame the user's parameters.
            if not math.isfinite(value):
                notes.append(f"ignored general.sampling.{key} = {value} (not a finite number)")
                continue
            try:
                validate_parameters({name: value})
            except ForgeError as exc:
                notes.append(f"ignored general.sampling.{key} = {value} ({exc.message})")
                continue
            out[name] = value
            notes.append(f"{name} {value} from the GGUF's general.sampling.{key}")
    return out, notes


def merge_parameters(
    sampling: Mapping[str, Any], family: Family | None, user: Mapping[str, Any]
) -> dict[str, Any]:
    """Model's own sampling defaults < family defaults < the user's (validated, typed; no stop/num_ctx)."""

    merged: dict[str, Any] = dict(sampling)
    if family is not None:
        merged.update(family.parameters)
    merged.update(user)
    merged.pop("stop", None)
    merged.pop("num_ctx", None)
    return validate_parameters(merged)


def user_stops(user: Mapping[str, Any] | None) -> list[str]:
    value = (user or {}).get("stop")
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
