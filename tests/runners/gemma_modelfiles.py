"""Modelfiles for checks on the real Gemma 3 270M GGUF, a *base* model.

Measured with llama.cpp: this base model never emits ``<end_of_turn>`` (token 106) in the
gemma3 turn format (it writes a stray token instead and then repeats the question), so a
special-token chat format cannot end cleanly with it. A plain ``User:/Assistant:`` format with
three few-shot MESSAGEs is followed reliably: at temperature 0 it answers in a few tokens and
then opens the next turn itself (``\\nUser: ...``). That makes the three check cases real:

* ``good``: stop ``User:`` ends the reply where the next turn would begin;
* ``no_stops``: the same Modelfile without stops: the model writes a fake next turn and runs
  into the token limit (it emits no EOG token, so nothing else stops it, in Ollama either);
* ``turn_opening_stop``: the template leaves the assistant header to the model and ``stop``
  contains that turn-opening marker (``Assistant:``): it matches before any reply text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE = (
    "{{- range .Messages }}"
    '{{- if eq .Role "system" }}System: {{ .Content }}\n'
    '{{ else if eq .Role "user" }}User: {{ .Content }}\n'
    '{{ else if eq .Role "assistant" }}Assistant: {{ .Content }}\n'
    "{{ end }}"
    "{{- end }}"
)
SHOTS = [
    ("What is the capital of Italy?", "Rome."),
    ("What is 3+3?", "6."),
    ("Name a fruit.", "Apple."),
]
PROMPTS = ["What is the capital of France?", "What is 2+2?", "Say hello."]


def _messages() -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for question, answer in SHOTS:
        out.append({"role": "user", "content": question})
        out.append({"role": "assistant", "content": answer})
    return out


def gemma_modelfile(gguf: Path, case: str) -> Any:
    from ollama_forge.modelfile import Modelfile

    params: dict[str, Any] = {"temperature": 0, "seed": 42, "num_ctx": 512}
    template = TEMPLATE + "Assistant:"
    if case == "good":
        params["stop"] = ["User:"]
    elif case == "no_stops":
        pass
    elif case == "turn_opening_stop":
        template = TEMPLATE
        params["stop"] = ["User:", "Assistant:"]
    else:  # pragma: no cover - test helper misuse
        raise ValueError(case)
    return Modelfile(from_=[str(gguf)], template=template, parameters=params, messages=_messages())
