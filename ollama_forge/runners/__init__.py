"""Runners: the embedded llama.cpp runtime (:mod:`.llama`) and the transformers fallback (:mod:`.hf`).

Nothing heavy is imported here: torch, transformers, langchain and llama_cpp load only
inside the functions that need them.
"""

from __future__ import annotations
