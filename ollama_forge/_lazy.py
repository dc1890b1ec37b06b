"""Lazy package exports (PEP 562), so importing a package never imports its heavy modules."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``; ``exports`` maps name -> "module:attribute" (module relative to
    ``package``, or absolute when it starts with ``ollama_forge.``)."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = target.partition(":")
        # a facade may re-export from another package of the project: "ollama_forge.x.y:attr"
        full = (
            module_name if module_name.startswith("ollama_forge.") else f"{package}.{module_name}"
        )
        value = getattr(importlib.import_module(full), attr or name)
        setattr(sys.modules[package], name, value)  # cache: later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
