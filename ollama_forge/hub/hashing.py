"""Streaming SHA-256 (plus git blob SHA-1 for non-LFS files) on a worker thread.

``hashlib`` releases the GIL for large buffers, so hashing in a second thread overlaps the network
read and the disk write of the download loop: verification costs (almost) no wall time.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from ..digests import CHUNK as READ_CHUNK
from ..digests import DISK_READS

ProgressFn = Callable[[int], None]


class Hasher:
    """SHA-256 (and git-blob SHA-1 for non-LFS files) fed from a queue by a worker thread."""

    def __init__(self, git_size: int | None) -> None:
        self._queue: queue.Queue[bytes | bytearray | None] = queue.Queue(maxsize=16)
        self._git_size = git_size
        self._reset()
        self._thread: threading.Thread | None = None

    def _reset(self) -> None:
        self.sha256 = hashlib.sha256()
        self.sha1 = hashlib.sha1(usedforsecurity=False) if self._git_size is not None else None
        if self.sha1 is not None:
            self.sha1.update(f"blob {self._git_size}\0".encode())

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            self.sha256.update(block)
            if self.sha1 is not None:
                self.sha1.update(block)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="forge-sha256", daemon=True)
        self._thread.start()

    def feed(self, block: bytes | bytearray) -> None:
        if self._thread is None:
            self.start()
        self._queue.put(block)

    def drain(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def restart(self) -> None:
        self.drain()
        self._reset()

    def hash_prefix(self, path: Path, length: int) -> int:
        """Feed the first ``length`` bytes of ``path`` (read once); returns bytes read."""
        done = 0
        with open(path, "rb") as handle:
            while done < length:
                block = handle.read(min(READ_CHUNK, length - done))
                if not block:
                    break
                DISK_READS.bytes_read += len(block)
                self.feed(block)
                done += len(block)
        return done


def hash_file(
    path: Path, *, git_size: int | None = None, progress: ProgressFn | None = None
) -> tuple[str, str | None]:
    """(sha256, git blob sha1 or None) of a file, read once."""
    hasher = Hasher(git_size)
    size = path.stat().st_size
    done = 0
    with open(path, "rb") as handle:
        while done < size:
            block = handle.read(READ_CHUNK)
            if not block:
                break
            DISK_READS.bytes_read += len(block)
            hasher.feed(block)
            done += len(block)
            if progress:
                progress(len(block))
    hasher.drain()
    return hasher.sha256.hexdigest(), hasher.sha1.hexdigest() if hasher.sha1 is not None else None
