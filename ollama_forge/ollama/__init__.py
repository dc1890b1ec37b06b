"""Ollama integration: the client choke point, registration, ps/list/show/rm and chat_model.

Imported lazily: nothing here imports ``ollama``, ``httpx`` or ``langchain_ollama`` at module
level, so ``forge --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "register": "register:register",
    "RegisterResult": "register:RegisterResult",
    "ps": "ps:ps",
    "RunningModel": "ps:RunningModel",
    "list_models": "models:list_models",
    "show": "models:show",
    "remove": "models:remove",
    "chat_model": "langchain:chat_model",
    "make_client": "client:make_client",
    "translate_errors": "client:translate_errors",
    "parse_model_name": "names:parse_model_name",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ollama_forge.ollama' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
