"""Byte sources the GGUF reader parses from: local files, memory, and (in hub/) HTTP ranges.

The reader only ever asks a source for ``read_at(offset, length)`` and, for the final
tensor-data bounds check, ``size()``. A remote source can therefore serve a file's header
with a handful of Range requests and never touch the weights.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NoReturn, Protocol, runtime_checkable

from ..errors import GGUFError, GGUFTruncatedError


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
    """A local file read with ``pread`` (never memory-mapped).

    A mapping turns a file that shrinks under forge (another download, a sync tool, an
    editor) into a SIGBUS that kills the process; ``pread`` just returns fewer bytes. A short
    read inside the size seen at open, or a size or identity change seen by :meth:`check_unchanged`,
    raises :class:`~ollama_forge.errors.GGUFTruncatedError` with ``changed=True``.
    """

    buffer = None  # no in-place buffer: the reader parses through bounded windows

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
            if stat.S_ISDIR(st.st_mode):
                raise GGUFError(
                    f"{self.path} is a directory, not a GGUF file",
                    hint="Pass the .gguf file inside it (for a split model: the -00001-of-N shard).",
                    path=str(self.path),
                )
            if not stat.S_ISREG(st.st_mode):
                raise GGUFError(
                    f"{self.path} is not a regular file",
                    hint="Pass a .gguf file.",
                    path=str(self.path),
                )
            self._size = st.st_size
            self._identity = _identity(st)
        except BaseException:
            os.close(self._fd)
            raise

    def size(self) -> int | None:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        want = min(length, max(self._size - offset, 0))
        if want == 0:
            return b""
        try:
            data = os.pread(self._fd, want, offset)
            while len(data) < want:
                # pread may return less than asked (large reads, signals): only EOF is a change.
                more = os.pread(self._fd, want - len(data), offset + len(data))
                if not more:
                    self._changed()
                data += more
        except OSError as exc:
            raise GGUFError(
                f"Cannot read {self.path}: {exc.strerror or exc}",
                hint="Check that the disk is readable and the file is not being modified, then retry.",
                path=str(self.path),
            ) from exc
        return data

    def check_unchanged(self) -> None:
        """Raise :class:`GGUFTruncatedError` (``changed=True``) when the file's size or identity differs from open time."""
        try:
            now = _identity(os.fstat(self._fd))
        except OSError:
            now = None
        if now != self._identity:
            self._changed()

    def _changed(self) -> NoReturn:
        try:
            size: int | None = os.fstat(self._fd).st_size
        except OSError:
            size = None
        now = (
            f"it is now {size} bytes, was {self._size}"
            if size is not None
            else "it can no longer be read"
        )
        raise GGUFTruncatedError(
            f"{self.path} changed while forge was reading it ({now})",
            hint="Another program (a download, a sync tool, an editor) is writing it; let it finish, then run "
            "the command again.",
            path=str(self.path),
            size=size,
            changed=True,
        )

    def close(self) -> None:
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


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def as_source(target: str | os.PathLike[str] | ByteSource) -> tuple[ByteSource, bool]:
    """Turn a path or a source into a source; the flag says whether we opened it (and own it)."""
    if isinstance(target, (str, os.PathLike)):
        return FileSource(target), True
    if isinstance(target, ByteSource):
        return target, False
    raise TypeError(f"expected a path or a ByteSource, got {type(target).__name__}")
