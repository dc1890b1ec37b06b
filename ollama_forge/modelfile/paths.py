"""FROM / ADAPTER / DRAFT path handling as Ollama's CLI does it (``expandPathImpl``).

Ollama expands every FROM value; if the result does not exist the text silently becomes a
*model name* (security.md §7), so a typo turns into a registry pull. :func:`looks_like_path`
lets forge flag such values before they reach Ollama.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ModelfileError

# File suffixes that only make sense for local weights (never part of a model reference).
_WEIGHT_SUFFIXES = (".gguf", ".bin", ".safetensors", ".pth", ".pt", ".ggml")
# Ollama model reference grammar (types/model/name.go), loosely: [host/][namespace/]model[:tag]
_NAME_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
_MODEL_REF = re.compile(
    rf"^(?:[A-Za-z0-9_.:-]{{1,350}}/)?(?:{_NAME_PART}/)?{_NAME_PART}(?::{_NAME_PART})?$"
)


def expand_path(value: str, base_dir: str | Path | None) -> Path:
    """Absolute path for a FROM/ADAPTER/DRAFT value (abs as is, ``~``/``~user``, else base_dir).

    ``base_dir`` is the Modelfile's folder; ``None`` means the current directory (read at
    call time), which is what Ollama uses for an implicit ``FROM .``.
    """
    if os.path.isabs(value) or value.startswith(("\\", "/")):
        return Path(os.path.abspath(value))
    if value.startswith("~"):
        if value == "~" or value.startswith("~/"):
            home = os.path.expanduser("~")
            if home == "~":
                raise ModelfileError(
                    "failed to get current user: HOME is not set",
                    hint="Set HOME or write an absolute path instead of ~.",
                    path=value,
                )
            return Path(os.path.abspath(os.path.join(home, value[2:])))
        user, _, rest = value[1:].partition("/")
        try:
            import pwd

            home = pwd.getpwnam(user).pw_dir
        except (ImportError, KeyError) as exc:
            raise ModelfileError(
                f"failed to find user '{user}': unknown user {user}",
                hint="Write an absolute path instead of ~user/….",
                path=value,
            ) from exc
        return Path(os.path.abspath(os.path.join(home, rest)))
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return Path(os.path.abspath(os.path.join(base, value)))


def looks_like_path(value: str) -> bool:
    """True when a FROM value is clearly meant as a local path rather than a model name."""
    if not value:
        return False
    if value in (".", "..") or value.startswith(("/", "\\", "~", "./", "../", ".\\", "..\\")):
        return True
    if os.path.isabs(value) or "\\" in value:
        return True
    if value.lower().endswith(_WEIGHT_SUFFIXES):
        return True
    # Anything that is not even a syntactically valid model reference can only be a path.
    return _MODEL_REF.match(value) is None
