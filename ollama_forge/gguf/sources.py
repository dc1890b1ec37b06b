"""Byte sources the GGUF reader parses from: local files, memory, and (in hub/) HTTP ranges.

The reader only ever asks a source for ``read_at(offset, length)`` and, for the final
tensor-data bounds check, ``size()``. A remote source can therefore serve a file's header
with a handful of Range requests and never touch the weights.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import GGUFError


@runtime_checkable
class ByteSource(Protocol):
    """Random access to the bytes of one file."""

    name: str

    def size(self) -> int | None:
        """Total size in bytes when known (a remote prefix may not know it yet)."""
        ...

    def read_at(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; fewer only when the file ends first."""
        ...


class BytesSource:
    """A source over bytes in memory. ``bytes_served`` counts what readers asked for."""

    def __init__(self, data: bytes | bytearray | memoryview, name: str = "<memory>") -> None:
        self._data = bytes(data)
        self.name = name
        self.bytes_served = 0
        self.reads = 0

    def size(self) -> int | None:
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        chunk = self._data[offset : offset + length]
        self.bytes_served += len(chunk)
        self.reads += 1
        return chunk


class FileSource:
    """A local file, memory-mapped (``pread`` for files mmap refuses, e.g. empty ones).

    ``buffer`` exposes the mapping so the reader can parse in place without copies.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError as exc:
            raise GGUFError(
                f"No such file: {self.path}",
                hint="Check the path (or pull the model first: forge pull-gguf owner/repo).",
                path=str(self.path),
            ) from exc
        except IsADirectoryError as exc:
            raise GGUFError(
                f"{self.path} is a directory, not a GGUF file",
                hint="Pass the .gguf file inside it (for a split model: the -00001-of-N shard).",
                path=str(self.path),
            ) from exc
        except OSError as exc:
            raise GGUFError(
                f"Cannot open {self.path}: {exc.strerror or exc}",
                hint="Check the file's permissions and that the disk is readable.",
                path=str(self.path),
            ) from exc
        try:
            st = os.fstat(self._fd)
            if _is_dir(st.st_mode):
                raise GGUFError(
                    f"{self.path} is a directory, not a GGUF file",
                    hint="Pass the .gguf file inside it (for a split model: the -00001-of-N shard).",
                    path=str(self.path),
                )
            if not _is_regular(st.st_mode):
                raise GGUFError(
                    f"{self.path} is not a regular file",
                    hint="Pass a .gguf file.",
                    path=str(self.path),
                )
            self._size = st.st_size
            self._mmap: mmap.mmap | None = None
            if self._size > 0:
                try:
                    self._mmap = mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    self._mmap = None  # e.g. special file systems: fall back to pread
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def buffer(self) -> mmap.mmap | None:
        """The whole file as a buffer (None when it could not be mapped)."""
        return self._mmap

    def size(self) -> int | None:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        if self._mmap is not None:
            return self._mmap[offset : offset + length]
        if offset >= self._size:
            return b""
        return os.pread(self._fd, min(length, self._size - offset), offset)

    def close(self) -> None:
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:
                # Views handed out (e.g. numpy arrays) still reference the mapping; the
                # mapping is released when they are garbage collected.
                pass
            self._mmap = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _is_dir(mode: int) -> bool:
    import stat

    return stat.S_ISDIR(mode)


def as_source(target: str | os.PathLike[str] | ByteSource) -> tuple[ByteSource, bool]:
    """Turn a path or a source into a source; the flag says whether we opened it (and own it)."""
    if isinstance(target, (str, os.PathLike)):
        return FileSource(target), True
    if isinstance(target, ByteSource):
        return target, False
    raise TypeError(f"expected a path or a ByteSource, got {type(target).__name__}")
