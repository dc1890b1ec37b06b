"""Byte-level GGUF builders for hostile-input tests (struct only; no gguf-py)."""

from __future__ import annotations

import struct

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = (
    range(13)
)


def gstr(value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("<Q", len(raw)) + raw


def header(n_tensors: int, n_kv: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def kv(key: bytes | str, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, UINT32, struct.pack("<I", value))


def kv_str(key: str, value: bytes | str) -> bytes:
    return kv(key, STRING, gstr(value))


def kv_arr(key: str, elem_type: int, count: int, body: bytes) -> bytes:
    return kv(key, ARRAY, struct.pack("<IQ", elem_type, count) + body)


def tensor(name: bytes | str, dims: list[int], ggml_type: int, offset: int) -> bytes:
    return (
        gstr(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", ggml_type, offset)
    )


def pad(data: bytes, align: int = 32) -> bytes:
    return data + b"\x00" * ((align - len(data) % align) % align)


def model(kvs: list[bytes], tensors: list[bytes] = (), data: bytes = b"", align: int = 32) -> bytes:  # type: ignore[assignment]
    """A complete file: header, KVs, tensor infos, padding, data."""
    body = header(len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    return pad(body, align) + data if tensors else body


def base_kvs() -> list[bytes]:
    return [kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1)]


def valid_file() -> bytes:
    """A small well-formed file with one F32 tensor of 8 elements."""
    return model(base_kvs(), [tensor("t.weight", [8], 0, 0)], b"\x00" * 32)
