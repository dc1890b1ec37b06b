"""GGUF metadata: a lazy, hardened header reader over local files or ranged byte sources.

::

    from ollama_forge.gguf import open_gguf, read_gguf
    info = read_gguf("model.gguf")             # GGUFInfo (pydantic)
    with open_gguf("model.gguf") as g:         # lazy handle
        g.token_text(g.info.special_tokens["eos"].id)
        g.find_tokens(["<|im_end|>"])
"""

from __future__ import annotations

from .info import GGUFInfo, SpecialToken, SplitInfo, TensorTypeCount
from .memory import MemoryEstimate, estimate_memory
from .quant import QUANT_ORDER, quant_bits, quant_from_file_type, quant_from_filename
from .reader import (
    LIMITS,
    ArrayRef,
    GGUFFile,
    Limits,
    TensorInfo,
    detect_kind,
    is_gguf_file,
    open_gguf,
    read_gguf,
)
from .sources import ByteSource, BytesSource, FileSource
from .split import ShardName, check_shard_set, find_shards, parse_shard_name

__all__ = [
    "LIMITS",
    "QUANT_ORDER",
    "ArrayRef",
    "ByteSource",
    "BytesSource",
    "FileSource",
    "GGUFFile",
    "GGUFInfo",
    "Limits",
    "MemoryEstimate",
    "ShardName",
    "SpecialToken",
    "SplitInfo",
    "TensorInfo",
    "TensorTypeCount",
    "check_shard_set",
    "detect_kind",
    "estimate_memory",
    "find_shards",
    "is_gguf_file",
    "open_gguf",
    "parse_shard_name",
    "quant_bits",
    "quant_from_file_type",
    "quant_from_filename",
    "read_gguf",
]
