"""PARAMETER validation the way Ollama applies it at run time.

Ollama's server stores whatever ``/api/create`` sends and only fails later, on *every*
request, when a value has the wrong type (``api.Options.FromMap``). forge therefore checks
names and values up front:

* names: the 20 of Ollama's ``Options`` (case-sensitive), with a "did you mean" hint;
  removed names report the release that removed them, including the ones Ollama's CLI
  skips with only a warning (their value would be silently ignored);
* a PARAMETER named like a command word (``PARAMETER system x``) is refused: Ollama's
  ``CreateRequest`` switches on the name and would treat it as that instruction;
* string values (from a Modelfile) use Go's ``ParseInt(s, 10, 64)``, ``ParseFloat(s, 32)``
  and ``ParseBool`` rules and report Ollama's exact ``invalid <kind> value [s]`` message;
  floats are rounded to float32 like Ollama stores them;
* ``stop`` is a list; repeated stop entries accumulate, other repeats take the last value.

Ranges (forge's choice; values outside them are accepted by Ollama but are bugs or no-ops):
``num_ctx`` and ``num_batch`` 1..2**31; ``num_gpu`` >= -1 (-1 auto); ``main_gpu``,
``num_thread`` (0 auto), ``draft_num_predict``, ``top_k`` (0 disables) >= 0; ``num_keep`` and
``repeat_last_n`` >= -1 (-1 = whole context); ``num_predict`` >= -2 (-1 unlimited, -2 fill
context); ``seed`` any int64; ``top_p``, ``min_p``, ``typical_p`` in [0, 1]; ``temperature``
>= 0 (0 greedy); ``repeat_penalty`` > 0 (1 disables; 0 divides by zero); ``presence_penalty``
and ``frequency_penalty`` in [-2, 2] (the OpenAI-defined range these mirror); every float
finite; ``stop`` strings non-empty (an empty stop string matches at once).
"""

from __future__ import annotations

import difflib
import math
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..errors import ParameterError

Kind = Literal["int", "float", "bool", "list"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MAX_COUNT = 2**31


class ParameterSpec(BaseModel):
    """One PARAMETER Ollama understands: its JSON kind, default and forge's accepted range."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    default: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    def range_text(self) -> str:
        low = (
            ""
            if self.minimum is None
            else f"{'>' if self.exclusive_minimum else '>='} {_num(self.minimum)}"
        )
        high = "" if self.maximum is None else f"<= {_num(self.maximum)}"
        return " and ".join(part for part in (low, high) if part)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _spec(
    name: str,
    kind: Kind,
    default: str,
    description: str,
    lo: float | None = None,
    hi: float | None = None,
    exclusive: bool = False,
) -> ParameterSpec:
    return ParameterSpec(
        name=name,
        kind=kind,
        default=default,
        description=description,
        minimum=lo,
        maximum=hi,
        exclusive_minimum=exclusive,
    )


# Order and defaults follow ollama.md §2.1 (api/types.go Options at v0.33).
KNOWN_PARAMETERS: dict[str, ParameterSpec] = {
    s.name: s
    for s in (
        _spec("num_ctx", "int", "auto (VRAM tier)", "context window in tokens", 1, _MAX_COUNT),
        _spec("num_batch", "int", "512", "prompt processing batch size", 1, _MAX_COUNT),
        _spec(
            "num_gpu",
            "int",
            "-1",
            "layers offloaded to the GPU (-1 auto, 0 CPU only)",
            -1,
            _MAX_COUNT,
        ),
        _spec("main_gpu", "int", "unset", "GPU index for small tensors", 0, _MAX_COUNT),
        _spec("use_mmap", "bool", "unset", "memory-map the weights"),
        _spec("num_thread", "int", "0", "CPU threads (0 auto)", 0, _MAX_COUNT),
        _spec(
            "draft_num_predict", "int", "4", "tokens drafted per speculative step", 0, _MAX_COUNT
        ),
        _spec(
            "num_keep", "int", "4", "tokens kept when the context shifts (-1 all)", -1, _MAX_COUNT
        ),
        _spec("seed", "int", "-1", "random seed (-1 random)", INT64_MIN, INT64_MAX),
        _spec(
            "num_predict",
            "int",
            "-1",
            "max tokens to generate (-1 unlimited, -2 fill context)",
            -2,
            _MAX_COUNT,
        ),
        _spec(
            "top_k", "int", "40", "sample from the k most likely tokens (0 disables)", 0, _MAX_COUNT
        ),
        _spec("top_p", "float", "0.9", "nucleus sampling mass", 0.0, 1.0),
        _spec("min_p", "float", "0", "minimum probability relative to the top token", 0.0, 1.0),
        _spec("typical_p", "float", "1.0", "locally typical sampling (1 disables)", 0.0, 1.0),
        _spec(
            "repeat_last_n",
            "int",
            "64",
            "look-back for repeat penalties (-1 whole context)",
            -1,
            _MAX_COUNT,
        ),
        _spec("temperature", "float", "0.8", "sampling temperature (0 greedy)", 0.0),
        _spec("repeat_penalty", "float", "1.0", "repetition penalty (1 disables)", 0.0, None, True),
        _spec("presence_penalty", "float", "0", "penalty for tokens already present", -2.0, 2.0),
        _spec("frequency_penalty", "float", "0", "penalty by token frequency", -2.0, 2.0),
        _spec("stop", "list", "none", "stop sequences (one PARAMETER stop line each)"),
    )
}

# name -> first Ollama release without it (ollama.md §2.3)
REMOVED_PARAMETERS: dict[str, str] = {
    "num_gqa": "v0.1.35",
    "rope_frequency_base": "v0.1.35",
    "rope_frequency_scale": "v0.1.35",
    "numa": "v0.3.4",
    "tfs_z": "v0.5.2",
    "penalize_newline": "v0.5.5",
    "low_vram": "v0.7.0",
    "f16_kv": "v0.7.0",
    "logits_all": "v0.7.0",
    "vocab_only": "v0.7.0",
    "use_mlock": "v0.7.0",
    "mirostat": "v0.7.0",
    "mirostat_tau": "v0.7.0",
    "mirostat_eta": "v0.7.0",
}
_REMOVED_HINTS = {
    "num_gqa": "The GGUF metadata carries the attention layout now; remove the line.",
    "rope_frequency_base": "The GGUF metadata carries RoPE settings now; remove the line.",
    "rope_frequency_scale": "The GGUF metadata carries RoPE settings now; remove the line.",
    "numa": "Remove the line (NUMA is no longer configurable per model).",
    "tfs_z": "Tail-free sampling is gone; remove the line (min_p or top_p are the alternatives).",
    "penalize_newline": "Remove the line; newline penalties were dropped.",
    "mirostat": "Remove the line; use temperature, top_p or min_p instead.",
    "mirostat_tau": "Remove the line; use temperature, top_p or min_p instead.",
    "mirostat_eta": "Remove the line; use temperature, top_p or min_p instead.",
}
# Ollama's CLI skips these with "warning: parameter <name> is deprecated" (parser.go).
DEPRECATED_SKIPPED: frozenset[str] = frozenset(
    {
        "penalize_newline",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
    }
)
# CreateRequest switches on Command.Name: these names would become instructions.
COMMAND_NAMES: frozenset[str] = frozenset(
    {
        "model",
        "from",
        "adapter",
        "draft",
        "template",
        "system",
        "license",
        "renderer",
        "parser",
        "requires",
        "message",
        "parameter",
    }
)

# Names other tools use for the same knob (for hints only).
_ALIASES = {
    "max_tokens": "num_predict",
    "max_new_tokens": "num_predict",
    "n_predict": "num_predict",
    "n_ctx": "num_ctx",
    "ctx": "num_ctx",
    "context_length": "num_ctx",
    "context_size": "num_ctx",
    "repetition_penalty": "repeat_penalty",
    "n_gpu_layers": "num_gpu",
    "n_threads": "num_thread",
    "n_batch": "num_batch",
    "stop_sequences": "stop",
    "stop_tokens": "stop",
    "stops": "stop",
    "n_keep": "num_keep",
    "typical": "typical_p",
}

_GO_BOOL_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_BOOL_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_GO_INT = re.compile(r"[+-]?[0-9]+")
_DEC_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_DEC_FLOAT = re.compile(
    rf"[+-]?(?:{_DEC_DIGITS}(?:\.(?:{_DEC_DIGITS})?)?|\.{_DEC_DIGITS})(?:[eE][+-]?{_DEC_DIGITS})?"
)
_GO_HEX_FLOAT = re.compile(
    rf"[+-]?0[xX](?:_?{_HEX_DIGITS}(?:\.(?:{_HEX_DIGITS})?)?|\.{_HEX_DIGITS})[pP][+-]?{_DEC_DIGITS}"
)
_GO_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)


def go_parse_bool(text: str) -> bool | None:
    """Go ``strconv.ParseBool``; None on a syntax error."""
    if text in _GO_BOOL_TRUE:
        return True
    if text in _GO_BOOL_FALSE:
        return False
    return None


def go_parse_int(text: str) -> int | None:
    """Go ``strconv.ParseInt(s, 10, 64)``: no underscores, no spaces; None on error or overflow."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def go_parse_float32(text: str) -> float | None:
    """Go ``strconv.ParseFloat(s, 32)`` as a Python float; None on a syntax or range error."""
    if _GO_SPECIAL.fullmatch(text):
        return float(text.lower().replace("infinity", "inf"))
    if _GO_DEC_FLOAT.fullmatch(text):
        value = float(text.replace("_", ""))
    elif _GO_HEX_FLOAT.fullmatch(text):
        value = float.fromhex(text.replace("_", ""))
    else:
        return None
    if math.isinf(value):  # a huge exponent: Go reports ErrRange, Python says inf
        return None
    return to_float32(value)


def to_float32(value: float) -> float | None:
    """Round to float32 (as Ollama stores floats), as the shortest decimal; None on overflow."""
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        single = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return None
    for digits in range(1, 10):
        candidate = float(f"{single:.{digits}g}")
        try:
            if struct.unpack("<f", struct.pack("<f", candidate))[0] == single:
                return candidate
        except OverflowError:  # a decimal just above FLT_MAX that Go would round down
            continue
    return float(single)


def format_parameter_value(value: Any) -> str:
    """Text for a typed value that Go's parsers read back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _unknown_hint(name: str) -> str:
    if name in KNOWN_PARAMETERS:
        return ""
    lowered = name.lower().replace("-", "_")
    if lowered in KNOWN_PARAMETERS:
        return f"Parameter names are case-sensitive and use '_': write '{lowered}'."
    if lowered in _ALIASES:
        return f"Ollama calls this '{_ALIASES[lowered]}'."
    close = difflib.get_close_matches(lowered, list(KNOWN_PARAMETERS), n=3, cutoff=0.6)
    if close:
        return "Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return "Known parameters: " + ", ".join(KNOWN_PARAMETERS) + "."


def check_parameter_name(name: str, *, line: int | None = None) -> ParameterSpec:
    """The spec for ``name`` or a ParameterError (command word, removed, unknown)."""
    fields: dict[str, Any] = {"parameter": name}
    if line is not None:
        fields["line"] = line
    if name.lower() in COMMAND_NAMES:
        word = "FROM" if name.lower() == "model" else name.upper()
        raise ParameterError(
            f"PARAMETER name '{name}' is a Modelfile command word",
            hint=f"Ollama would read 'PARAMETER {name} …' as the {word} instruction (or reject it); "
            f"write {word} … as its own line instead.",
            **fields,
        )
    if name in REMOVED_PARAMETERS:
        version = REMOVED_PARAMETERS[name]
        if name in DEPRECATED_SKIPPED:
            message = (
                f"parameter '{name}' is deprecated: Ollama {version} and later skip it "
                f"(warning: parameter {name} is deprecated), so its value has no effect"
            )
        else:
            message = (
                f"parameter '{name}' was removed in Ollama {version} (unknown parameter '{name}')"
            )
        raise ParameterError(
            message,
            hint=_REMOVED_HINTS.get(name, f"Remove the {name} line; Ollama no longer uses it."),
            removed_in=version,
            **fields,
        )
    spec = KNOWN_PARAMETERS.get(name)
    if spec is None:
        raise ParameterError(f"unknown parameter '{name}'", hint=_unknown_hint(name), **fields)
    return spec


def _check_range(spec: ParameterSpec, value: float, fields: dict[str, Any]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(
            f"parameter '{spec.name}' must be a finite number, got {value}",
            hint=f"Use a value {spec.range_text()}.",
            **fields,
        )
    low, high = spec.minimum, spec.maximum
    too_low = low is not None and (value <= low if spec.exclusive_minimum else value < low)
    if too_low or (high is not None and value > high):
        raise ParameterError(
            f"parameter '{spec.name}' is out of range: {format_parameter_value(value)} "
            f"(must be {spec.range_text()})",
            hint=f"{spec.name}: {spec.description}; Ollama's default is {spec.default}.",
            **fields,
        )


def _type_error(spec: ParameterSpec, value: Any, fields: dict[str, Any]) -> ParameterError:
    example = {"int": "40", "float": "0.7", "bool": "true", "list": '"</s>"'}[spec.kind]
    kind_text = {"int": "an int", "float": "a float", "bool": "a bool", "list": "a list of strings"}
    return ParameterError(
        f"parameter '{spec.name}' must be {kind_text[spec.kind]}, got {type(value).__name__} {value!r}",
        hint=f"For example: PARAMETER {spec.name} {example}",
        **fields,
    )


def validate_parameter(name: str, value: Any, *, line: int | None = None) -> Any:
    """One typed value (``stop`` gives a list) or a ParameterError naming the fix."""
    spec = check_parameter_name(name, line=line)
    fields: dict[str, Any] = {"parameter": name, "value": value}
    if line is not None:
        fields["line"] = line
    hint = f"For example: PARAMETER {name} {{}} ({spec.description})."
    if spec.kind == "list":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise _type_error(spec, value, fields)
        for item in items:
            if item == "":
                raise ParameterError(
                    "stop strings must not be empty (an empty stop matches at once)",
                    hint="Remove the empty PARAMETER stop line.",
                    **fields,
                )
        return list(items)
    if spec.kind == "bool":
        if isinstance(value, str):
            parsed = go_parse_bool(value)
            if parsed is None:
                raise ParameterError(
                    f"invalid bool value [{value}]", hint=hint.format("true"), **fields
                )
            return parsed
        if not isinstance(value, bool):
            raise _type_error(spec, value, fields)
        return value
    number: float | int | None
    if spec.kind == "int":
        if isinstance(value, str):
            number = go_parse_int(value)
            if number is None:
                raise ParameterError(
                    f"invalid int value [{value}]", hint=hint.format("4096"), **fields
                )
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise _type_error(spec, value, fields)
    else:
        if isinstance(value, str):
            number = go_parse_float32(value)
            if number is None:
                raise ParameterError(
                    f"invalid float value [{value}]", hint=hint.format("0.7"), **fields
                )
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = to_float32(float(value))
            if number is None:
                raise ParameterError(
                    f"parameter '{name}' is out of range: {value} overflows float32",
                    hint=f"Use a value {spec.range_text()}.",
                    **fields,
                )
        else:
            raise _type_error(spec, value, fields)
    _check_range(spec, number, fields)
    return number


def validate_parameters(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Typed parameters in first-seen order; ``stop`` entries accumulate into one list.

    Accepts a mapping or (name, value) pairs (a Modelfile's repeated PARAMETER lines).
    String values follow Ollama's CLI parse rules; Python values must have the right type.
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    out: dict[str, Any] = {}
    for pair in pairs:
        name, value = pair
        typed = validate_parameter(name, value)
        if name == "stop" and not typed:
            # A Modelfile cannot express an empty stop list (and sending one would wipe the
            # model's inherited stop tokens), so it means "no stop parameter".
            continue
        if name == "stop" and "stop" in out:
            out["stop"] = [*out["stop"], *typed]
        else:
            out[name] = typed
    return out
