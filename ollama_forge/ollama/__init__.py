"""Ollama integration: the client choke point, registration, ps/list/show/rm and chat_model.

Imported lazily: nothing here imports ``ollama``, ``httpx`` or ``langchain_ollama`` at module
level, so ``forge --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # the same names for type checkers (tests/test_public_api.py)
    from .client import make_client as make_client
    from .client import translate_errors as translate_errors
    from .langchain import chat_model as chat_model
    from .models import list_models as list_models
    from .models import remove as remove
    from .models import show as show
    from .names import parse_model_name as parse_model_name
    from .ps import RunningModel as RunningModel
    from .ps import ps as ps

_LAZY = {
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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
