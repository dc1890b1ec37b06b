"""Quant names: ``general.file_type`` -> label, labels in file names, ordering and bits.

Names come from gguf-py's ``LlamaFileType`` / ``GGMLQuantizationType``. gguf's package
``__init__`` imports numpy (~100 ms), so the enum module ``gguf/constants.py`` (stdlib only)
is loaded on its own unless gguf is already imported.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from types import ModuleType

# Removed or filename-only file types that @huggingface/tasks still names (hub.md §9, gguf.md §4).
_EXTRA_FILE_TYPES = {
    4: "Q4_1_SOME_F16",
    5: "Q4_2",
    6: "Q4_3",
    33: "Q4_0_4_4",
    34: "Q4_0_4_8",
    35: "Q4_0_8_8",
    41: "Q2_0",
}
# unsloth "dynamic" labels: names only, never written as general.file_type by llama.cpp.
XL_LABELS = ("Q2_K_XL", "Q3_K_XL", "Q4_K_XL", "Q5_K_XL", "Q6_K_XL", "Q8_K_XL")

#: Largest -> smallest (@huggingface/tasks GGUF_QUANT_ORDER, hub.md §9).
QUANT_ORDER: tuple[str, ...] = (
    "F32", "BF16", "F16", "Q8_K_XL", "Q8_0",
    "Q6_K_XL", "Q6_K",
    "Q5_K_XL", "Q5_K_M", "Q5_K_S", "Q5_0", "Q5_1",
    "Q4_K_XL", "Q4_K_M", "Q4_K_S", "IQ4_NL", "IQ4_XS", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8",
    "Q4_1_SOME_F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "MXFP4_MOE", "NVFP4",
    "Q3_K_XL", "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M", "IQ3_S", "IQ3_XS", "IQ3_XXS",
    "Q2_K_XL", "Q2_K", "Q2_K_S", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "Q2_0",
    "IQ1_S", "IQ1_M", "TQ1_0", "TQ2_0", "Q1_0",
)  # fmt: skip


def gguf_constants() -> ModuleType:
    """gguf-py's ``constants`` module without importing numpy."""
    loaded = sys.modules.get("gguf.constants")
    if loaded is not None:
        return loaded
    private = sys.modules.get("_ollama_forge_gguf_constants")
    if private is not None:
        return private
    spec = importlib.util.find_spec("gguf")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:  # pragma: no cover - gguf is a hard dependency
        import gguf.constants as constants

        return constants
    file_spec = importlib.util.spec_from_file_location(
        "_ollama_forge_gguf_constants", f"{locations[0]}/constants.py"
    )
    if file_spec is None or file_spec.loader is None:  # pragma: no cover
        import gguf.constants as constants

        return constants
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[file_spec.name] = module
    file_spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=1)
def file_type_names() -> dict[int, str]:
    """``general.file_type`` value -> quant label (``MOSTLY_Q4_K_M`` -> ``Q4_K_M``)."""
    names = dict(_EXTRA_FILE_TYPES)
    for member in gguf_constants().LlamaFileType:
        if member.name == "GUESSED":
            continue
        names[int(member.value)] = member.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    return names


@functools.lru_cache(maxsize=1)
def tensor_types() -> dict[int, tuple[str, int, int]]:
    """GGML tensor type id -> (name, block elements, bytes per block)."""
    constants = gguf_constants()
    out: dict[int, tuple[str, int, int]] = {}
    for member in constants.GGMLQuantizationType:
        block, size = constants.GGML_QUANT_SIZES[member]
        out[int(member.value)] = (member.name, int(block), int(size))
    return out


def quant_from_file_type(file_type: int | None) -> str | None:
    """The quant label for a ``general.file_type`` value (None when unknown or GUESSED)."""
    if file_type is None or isinstance(file_type, bool):
        return None
    return file_type_names().get(int(file_type))


@functools.lru_cache(maxsize=1)
def _filename_re() -> re.Pattern[str]:
    names = set(file_type_names().values()) | set(XL_LABELS) | {"MXFP4"}
    # Longest first so Q4_K_M wins over a Q4_K prefix and Q4_0_4_4 over Q4_0.
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![A-Z0-9])(UD-)?({alternation})(_[A-Z]+)?(?![A-Z0-9])")


def quant_from_filename(name: str) -> str | None:
    """The quant label in a file name: the **last** match, like ``parseGGUFQuantLabel``.

    ``UD-Q4_K_XL`` -> ``Q4_K_XL``; bartowski's ``Q6_K_L`` keeps its size suffix.
    """
    stem = name.rsplit("/", 1)[-1].upper()
    matches = list(_filename_re().finditer(stem))
    if not matches:
        return None
    last = matches[-1]
    label, suffix = last.group(2), last.group(3)
    if suffix and label.endswith("_K") and suffix in ("_S", "_M", "_L", "_XL"):
        label += suffix
    return label


def quant_rank(name: str | None) -> int:
    """Position in :data:`QUANT_ORDER` (0 = largest); unknown labels sort last."""
    if name is None:
        return len(QUANT_ORDER)
    try:
        return QUANT_ORDER.index(name.upper())
    except ValueError:
        return len(QUANT_ORDER)


# The dominant tensor type of each file-type label (for bits per weight).
_LABEL_TO_TENSOR = {
    "F32": "F32", "F16": "F16", "BF16": "BF16", "Q8_0": "Q8_0", "Q8_K_XL": "Q8_0",
    "Q6_K": "Q6_K", "Q6_K_XL": "Q6_K", "Q6_K_L": "Q6_K",
    "Q5_K_M": "Q5_K", "Q5_K_S": "Q5_K", "Q5_K_XL": "Q5_K", "Q5_K_L": "Q5_K", "Q5_0": "Q5_0", "Q5_1": "Q5_1",
    "Q4_K_M": "Q4_K", "Q4_K_S": "Q4_K", "Q4_K_XL": "Q4_K", "Q4_K_L": "Q4_K", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
    "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS", "MXFP4_MOE": "MXFP4", "MXFP4": "MXFP4", "NVFP4": "NVFP4",
    "Q4_0_4_4": "Q4_0", "Q4_0_4_8": "Q4_0", "Q4_0_8_8": "Q4_0",
    "Q3_K_L": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_S": "Q3_K", "Q3_K_XL": "Q3_K",
    "IQ3_M": "IQ3_S", "IQ3_S": "IQ3_S", "IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ3_XXS",
    "Q2_K": "Q2_K", "Q2_K_S": "Q2_K", "Q2_K_XL": "Q2_K", "IQ2_M": "IQ2_S", "IQ2_S": "IQ2_S",
    "IQ2_XS": "IQ2_XS", "IQ2_XXS": "IQ2_XXS", "IQ1_S": "IQ1_S", "IQ1_M": "IQ1_M",
    "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0", "Q1_0": "Q1_0",
}  # fmt: skip


def quant_bits(name: str | None) -> float | None:
    """Approximate bits per weight of a quant label (its dominant tensor type's block size).

    Mixes such as Q4_K_M keep some tensors at higher precision, so real files are slightly
    larger than ``params * bits / 8``.
    """
    if not name:
        return None
    tensor = _LABEL_TO_TENSOR.get(name.upper(), name.upper())
    for type_name, block, size in tensor_types().values():
        if type_name == tensor:
            return size * 8 / block
    return None
