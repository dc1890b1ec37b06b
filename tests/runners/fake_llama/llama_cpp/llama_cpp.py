"""The low-level module of the stand-in (what ``llama_cpp.llama_cpp`` is in the real package)."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any


def llama_model_default_params() -> SimpleNamespace:
    return SimpleNamespace(use_extra_bufts=True)


def llama_log_callback(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def llama_log_set(callback: object, user_data: object) -> None:
    pass
