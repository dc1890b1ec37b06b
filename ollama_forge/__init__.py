"""ollama_forge: from a Hugging Face Hub model to a correctly configured Ollama model.

Notebook use::

    import ollama_forge as forge
    info = forge.inspect("models/gemma/gemma-3-270m-q4_k_m.gguf")
    mf = forge.build_modelfile("models/gemma/gemma-3-270m-q4_k_m.gguf")
    print(mf.render())

Public functions are imported lazily so ``import ollama_forge`` stays light
(no torch, transformers or langchain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__
from .errors import *  # noqa: F403  (the exception tree is cheap and always available)
from .errors import ForgeError

if TYPE_CHECKING:  # the same names, visible to type checkers and IDEs (tests/test_public_api.py)
    from .families import detect_family, list_families
    from .fidelity.jinja import render_chat_template
    from .fidelity.ollama_prompt import render_prompt
    from .fidelity.synthesis import synthesize_template
    from .gguf import GGUFInfo, read_gguf
    from .gguf.memory import estimate_memory
    from .hub import list_quants, pull_gguf
    from .modelfile import Modelfile, parse_modelfile, validate_parameters
    from .ollama import chat_model, list_models, ps, remove, show
    from .runners.hf import hf_chat_model, hf_llm, hf_pipeline
    from .store import Store
    from .workflows.chat import chat
    from .workflows.check import check
    from .workflows.doctor import doctor
    from .workflows.inspect import inspect
    from .workflows.plan import build_modelfile
    from .workflows.register import register
    from .workflows.verify import verify

# public name -> "module:attribute" (modules relative to ollama_forge)
_LAZY: dict[str, str] = {
    # GGUF metadata
    "read_gguf": "gguf:read_gguf",
    "GGUFInfo": "gguf:GGUFInfo",
    "inspect": "workflows.inspect:inspect",
    "estimate_memory": "gguf.memory:estimate_memory",
    # Modelfile
    "Modelfile": "modelfile:Modelfile",
    "parse_modelfile": "modelfile:parse_modelfile",
    "validate_parameters": "modelfile:validate_parameters",
    "build_modelfile": "workflows.plan:build_modelfile",
    "list_families": "families:list_families",
    "detect_family": "families:detect_family",
    # Templates and fidelity
    "render_prompt": "fidelity.ollama_prompt:render_prompt",
    "render_chat_template": "fidelity.jinja:render_chat_template",
    "verify": "workflows.verify:verify",
    "synthesize_template": "fidelity.synthesis:synthesize_template",
    # Hub
    "list_quants": "hub:list_quants",
    "pull_gguf": "hub:pull_gguf",
    # Store
    "Store": "store:Store",
    # Ollama
    "register": "workflows.register:register",
    "ps": "ollama:ps",
    "list_models": "ollama:list_models",
    "show": "ollama:show",
    "remove": "ollama:remove",
    "chat_model": "ollama:chat_model",
    # Runners
    "hf_pipeline": "runners.hf:hf_pipeline",
    "hf_llm": "runners.hf:hf_llm",
    "hf_chat_model": "runners.hf:hf_chat_model",
    "chat": "workflows.chat:chat",
    "check": "workflows.check:check",
    "doctor": "workflows.doctor:doctor",
}

__all__ = ["ForgeError", "__version__", *sorted(_LAZY)]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
