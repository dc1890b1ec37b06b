"""Validation of names that come from the Hub: repo ids and remote file names.

Every file name a repo lists is untrusted: it becomes a path on disk (the HF cache's
``snapshots/<commit>/<path>`` and ``models/<name>/<file>``). forge applies its own
validator (security sheet §5) before anything touches disk, instead of relying on a
private huggingface_hub helper that only exists in recent versions.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ..errors import UnsafeNameError, UsageError

# huggingface_hub's validate_repo_id rules: one optional namespace, [\w\-.]{1,96} per part,
# no leading/trailing '-' or '.', no '--' or '..', no '.git' suffix. ASCII only.
_REPO_PART = re.compile(r"^(?![-.])[A-Za-z0-9_.\-]{1,96}(?<![-.])$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_SEGMENT_BYTES = 255


def validate_repo_id(repo_id: str) -> str:
    """Accept ``owner/name`` (or a bare ``name``) the way the Hub does; raise UsageError otherwise."""
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    ok = (
        1 <= len(parts) <= 2
        and all(_REPO_PART.match(p) for p in parts)
        and "--" not in repo_id
        and ".." not in repo_id
        and not repo_id.endswith(".git")
    )
    if not ok or any(0xD800 <= ord(c) <= 0xDFFF for c in repo_id):
        raise UsageError(
            f"Invalid Hub repo id {repo_id!r}",
            hint="Use owner/name with letters, digits, '-', '_' or '.' (max 96 each, not starting or "
            "ending with '-' or '.'), e.g. unsloth/gemma-3-270m-it-GGUF.",
            repo=repo_id,
        )
    return repo_id


def validate_remote_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path inside a repo, else raise UnsafeNameError.

    Refused: ``..`` segments (also with ``\\`` separators), absolute / drive / UNC / root-relative
    paths, empty or ``.`` segments, NUL and control characters, segments over 255 bytes.
    """

    def refuse(why: str) -> UnsafeNameError:
        return UnsafeNameError(
            f"Refusing remote file name {name!r}: {why}",
            hint="The repository lists a file name that would escape its folder or is malformed; "
            "ask the repository owner to rename it, or pick another repo.",
            filename=name,
        )

    if not isinstance(name, str) or not name:
        raise refuse("empty name")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise refuse("contains control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        # JSON's "\\ud800" decodes to a lone surrogate: not Unicode, no file name on disk.
        raise refuse("contains an unpaired surrogate (not valid Unicode)")
    if "\\" in name:
        # The Hub's names are POSIX; a backslash is a Windows separator in disguise.
        raise refuse("contains a backslash")
    if name.startswith("/") or _DRIVE.match(name):
        raise refuse("absolute, drive-relative or UNC path")
    segments = name.split("/")
    for seg in segments:
        if seg == "":
            raise refuse("empty path segment")
        if seg in (".", ".."):
            raise refuse(f"{seg!r} path segment")
        if _DRIVE.match(seg):
            raise refuse("drive-relative segment")
        if len(seg.encode("utf-8")) > _MAX_SEGMENT_BYTES:
            raise refuse("path segment longer than 255 bytes")
    return name


def safe_join(root: str | Path, name: str) -> Path:
    """``root / name`` after validation, asserting the result stays under ``root``."""
    validate_remote_filename(name)
    base = Path(os.path.abspath(root))
    # normpath, not resolve(): cache entries are symlinks into ../../blobs by design.
    target = Path(os.path.normpath(base / PurePosixPath(name)))
    if target == base or not target.is_relative_to(base):
        raise UnsafeNameError(
            f"Refusing remote file name {name!r}: it resolves outside {base}",
            hint="A symlink or a crafted name points outside the destination folder.",
            filename=name,
        )
    return target


def _components(root: str | Path, target: str | Path) -> tuple[Path, list[Path]]:
    base = Path(os.path.abspath(root))
    full = Path(os.path.abspath(target))
    if full != base and not full.is_relative_to(base):
        raise UnsafeNameError(f"Refusing to write {full}: it is outside {base}", path=str(full))
    out, current = [], base
    for part in full.relative_to(base).parts:
        current = current / part
        out.append(current)
    return base, out


def _linked(path: Path) -> UnsafeNameError:
    return UnsafeNameError(
        f"Refusing to write through {path}: it is a symbolic link",
        hint="Something planted a link where forge keeps its files; remove it (rm, not rm -r "
        "through the link) and run the command again.",
        path=str(path),
    )


def check_real_dirs(root: str | Path, target: str | Path) -> None:
    """Raise if an existing folder between ``root`` (excluded) and ``target`` is a symlink.

    Called before forge reads, replaces or deletes anything below ``root``: a planted link
    must not make it act on files elsewhere.
    """
    for path in _components(root, target)[1]:
        if path.is_symlink():
            raise _linked(path)
        if not path.exists():
            return


def real_dirs(root: str | Path, target: str | Path) -> Path:
    """Create the folders from ``root`` down to ``target`` refusing any that is a symlink.

    ``root`` itself may be a symlink (a cache moved to another disk is a user's choice); every
    component below it is made by forge and must be a real directory, so a pre-planted link
    (``snapshots/<commit>/sub -> /etc``, ``models/<name> -> ~``) cannot redirect a write.
    Returns ``target`` as an absolute path.
    """
    base, parts = _components(root, target)
    base.mkdir(parents=True, exist_ok=True)
    for current in parts:
        if current.is_symlink():
            raise _linked(current)
        try:
            current.mkdir()
        except FileExistsError:
            if not current.is_dir() or current.is_symlink():  # a file, or a link raced in
                raise UnsafeNameError(
                    f"Refusing to write through {current}: it is not a folder",
                    hint="Remove it and run the command again.",
                    path=str(current),
                ) from None
    return parts[-1] if parts else base
