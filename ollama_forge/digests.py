"""SHA-256 of files, streamed, with a byte counter so benchmarks can prove what was read."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UnsafeNameError

CHUNK = 4 * 1024 * 1024
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ReadCounter:
    """Counts bytes forge reads from disk while hashing/uploading (for benchmarks and tests)."""

    bytes_read: int = 0


#: process-wide counter of weight bytes read by :func:`sha256_file` and uploads.
DISK_READS = ReadCounter()


def sha256_file(
    path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
) -> str:
    """Hex SHA-256 of a file, read once in large chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            DISK_READS.bytes_read += len(block)
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def validate_sha256_hex(value: str, *, what: str = "digest") -> str:
    """Accept only 64 lowercase hex digits (the form Ollama and the Hub use)."""
    if not isinstance(value, str) or not _HEX_RE.match(value):
        raise UnsafeNameError(
            f"Invalid {what} {value!r}: expected 64 lowercase hex digits",
            hint="The metadata is corrupt or malicious; re-fetch it from a trusted source.",
        )
    return value


def validate_ollama_digest(value: str) -> str:
    """``sha256:<64 lowercase hex>`` only (CVE-2024-37032 class)."""
    if not isinstance(value, str) or not _DIGEST_RE.match(value):
        raise UnsafeNameError(
            f"Invalid blob digest {value!r}: expected 'sha256:' followed by 64 lowercase hex digits",
        )
    return value


@dataclass(frozen=True)
class FileIdentity:
    """What must be unchanged for a recorded digest to stay trusted."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileIdentity:
        st = Path(path).stat()  # follows symlinks: the identity is the blob's
        return cls(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, device=st.st_dev)
