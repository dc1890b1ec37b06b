"""Writing into the HF cache layout safely: atomic text files, relative pointer links, the
partial download file (never through a symlink) and a free-space check before downloading."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import HubError, UnsafeNameError
from .names import real_dirs


def atomic_write_text(path: Path, text: str, root: Path) -> None:
    """``text`` at ``path`` via a temp file + os.replace; folders below ``root`` must be real."""
    real_dirs(root, path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def link_pointer(blob: Path, pointer: Path, root: Path) -> None:
    """``snapshots/<commit>/<path>`` -> ``../../blobs/<etag>`` (relative, as huggingface_hub does)."""
    real_dirs(root, pointer.parent)
    rel = os.path.relpath(blob, pointer.parent)
    tmp = pointer.with_name(f".{pointer.name}.forge-link")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(rel, tmp)
    except OSError:  # no symlinks (Windows without developer mode): copy like huggingface_hub
        import shutil

        shutil.copyfile(blob, tmp)
    os.replace(tmp, pointer)


def cachedir_tag(cache_dir: Path) -> None:
    tag = cache_dir / "CACHEDIR.TAG"
    if not tag.exists():
        with contextlib.suppress(OSError):
            atomic_write_text(
                tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by huggingface_hub.\n",
                cache_dir,
            )


def chmod_like_umask(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~umask)


def open_partial(partial: Path) -> Any:
    """Open the partial file for writing without following a symlink planted at its name."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(partial, flags, 0o644)
    except OSError as exc:
        if partial.is_symlink():
            raise UnsafeNameError(
                f"Refusing to write through {partial}: it is a symbolic link",
                hint="Remove the link and run the command again.",
                path=str(partial),
            ) from exc
        raise
    import stat

    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeNameError(
            f"Refusing to write {partial}: it is not a regular file",
            hint="Remove it and run the command again.",
            path=str(partial),
        )
    return os.fdopen(fd, "r+b")


def check_space(folder: Path, needed: int, name: str) -> None:
    import shutil

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise HubError(
            f"Not enough disk space for {name}: {needed:,} bytes needed, {free:,} free in {folder}",
            hint="Free some space or set HF_HUB_CACHE to a larger disk, then run again.",
            filename=name,
            needed=needed,
            free=free,
        )
