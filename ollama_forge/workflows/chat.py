"""The ``forge chat`` use case: ``NAME | PATH`` (+ ``-f MODELFILE``) -> a GGUF, its Modelfile, a reply.

:func:`resolve_model` is shared by ``forge chat`` and ``forge check``: a stored model uses its
written Modelfile, a bare GGUF gets the one :func:`ollama_forge.workflows.plan.build_modelfile`
derives. The embedded runtime itself is :mod:`ollama_forge.runners.llama`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ForgeWarning, ModelNotFoundError, UsageError
from ..modelfile import Modelfile, read_modelfile
from ..runners.llama import ChatResult, LlamaRuntime, Messages, OnText, ResolvedModel
from .plan import plan_modelfile
from .targets import Target, resolve_target


def resolve_model(
    target: str | Path | None = None, modelfile: str | Path | Modelfile | None = None
) -> ResolvedModel:
    """The GGUF and Modelfile for ``target`` (a GGUF, a Modelfile, a stored name) and/or ``-f MODELFILE``.

    Without a Modelfile: the stored model's written Modelfile if there is one, else the one
    :func:`ollama_forge.workflows.plan.plan_modelfile` derives from the GGUF.
    """
    mf: Modelfile | None = None
    source = "generated"
    if isinstance(modelfile, Modelfile):
        mf, source = modelfile, "given"
    elif modelfile is not None:
        path = Path(modelfile).expanduser()
        if not path.is_file():
            raise ModelNotFoundError.of(
                path, "a Modelfile", hint="Pass the path of a Modelfile to -f."
            )
        mf, source = read_modelfile(path), f"file:{path}"

    named: Target | None = None
    gguf: Path | None = None
    if target is None:
        if mf is None:
            raise UsageError("Name a model (stored name or GGUF path) or pass -f MODELFILE")
        gguf = _gguf_from_modelfile(mf)
        label = str(gguf)
    else:
        label = str(target)
        named = resolve_target(
            target,
            accept=("gguf", "modelfile", "stored"),
            hint="Pass a path to a .gguf or a Modelfile, or pull it first: "
            "forge pull-gguf owner/repo --name NAME",
        )
        if mf is None and named.modelfile is not None:
            mf = named.modelfile
            source = (
                f"store:{named.modelfile_path}"
                if named.kind == "stored"
                else f"file:{named.modelfile_path}"
            )
        gguf = named.entry if named.weights else _gguf_from_modelfile(named.modelfile or mf)
    if not gguf.is_file():
        raise ModelNotFoundError.of(
            gguf,
            "the GGUF file it names",
            hint="Pull the model again (forge pull-gguf) or fix the path.",
            path=str(gguf),
        )
    if mf is None:
        plan = plan_modelfile(named if named is not None and named.weights else gguf)
        mf = plan.modelfile
        for message in plan.warnings:
            warnings.warn(message, ForgeWarning, stacklevel=2)
        source = "generated"
    return ResolvedModel(
        target=label,
        gguf_path=gguf,
        modelfile=mf,
        modelfile_source=source,
        store_name=named.store_name if named is not None else None,
    )


def _gguf_from_modelfile(mf: Modelfile | None) -> Path:
    for path in mf.resolved_paths() if mf is not None else []:
        if path.is_file():
            return path
    shown = ", ".join(mf.from_) if mf is not None and mf.from_ else "(none)"
    raise UsageError(
        f"The Modelfile's FROM ({shown}) is not a local GGUF file",
        hint="forge chat/check run local GGUFs: name the GGUF or stored model as well (forge chat NAME -f MODELFILE).",
    )


class ChatSession:
    """An open model plus the conversation so far (the interactive ``forge chat``)."""

    def __init__(
        self,
        target: str | Path | None = None,
        *,
        modelfile: str | Path | Modelfile | None = None,
        system: str | None = None,
        options: dict[str, Any] | None = None,
        n_threads: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.resolved = resolve_model(target, modelfile)
        self.runtime = LlamaRuntime(
            self.resolved, options=options, n_threads=n_threads, progress=progress
        )
        self.history: list[dict[str, Any]] = []
        if system is not None:
            # A request system message replaces the Modelfile's SYSTEM (Ollama's chat semantics).
            self.history.append({"role": "system", "content": system})

    def send(
        self, text: str, *, max_tokens: int | None = None, on_text: OnText | None = None
    ) -> ChatResult:
        """Add a user turn, generate the reply, keep both in the history."""
        messages = [*self.history, {"role": "user", "content": text}]
        result = self.generate(messages, max_tokens=max_tokens, on_text=on_text)
        self.history = [*messages, {"role": "assistant", "content": result.reply.text}]
        return result

    def generate(
        self, messages: Messages, *, max_tokens: int | None = None, on_text: OnText | None = None
    ) -> ChatResult:
        """Reply to ``messages`` without touching the history."""
        prompt = self.runtime.render(messages)
        reply = self.runtime.complete(prompt, max_tokens=max_tokens, on_text=on_text)
        return ChatResult(
            target=self.resolved.target,
            gguf_path=str(self.resolved.gguf_path),
            modelfile_source=self.resolved.modelfile_source,
            prompt=prompt,
            reply=reply,
            options={
                **self.runtime.options,
                "stop": self.runtime.stops,
                "num_ctx": self.runtime.n_ctx,
            },
            ignored_parameters=self.runtime.ignored,
        )

    def close(self) -> None:
        self.runtime.close()

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chat(
    target: str | Path | None = None,
    prompt: str | None = None,
    *,
    messages: Messages | None = None,
    system: str | None = None,
    modelfile: str | Path | Modelfile | None = None,
    max_tokens: int | None = None,
    options: dict[str, Any] | None = None,
    on_text: OnText | None = None,
    n_threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ChatResult:
    """Run one chat turn on a GGUF through embedded llama.cpp (``forge chat --prompt``).

    ``target`` is a stored model name or a GGUF path; ``modelfile`` (path or
    :class:`~ollama_forge.modelfile.Modelfile`) overrides the stored/derived one. Give either
    ``prompt`` (one user message) or ``messages``. ``options`` override PARAMETERs
    (e.g. ``{"temperature": 0, "seed": 1}``); ``on_text`` streams the reply; ``progress`` gets a
    status line while the model loads.
    """
    if (prompt is None) == (messages is None):
        raise UsageError("Give exactly one of prompt= or messages=")
    conversation: list[dict[str, Any]] = []
    if system is not None:
        conversation.append({"role": "system", "content": system})
    conversation.extend(
        [{"role": "user", "content": prompt}]
        if prompt is not None
        else [dict(m) for m in messages or []]
    )
    with ChatSession(
        target, modelfile=modelfile, options=options, n_threads=n_threads, progress=progress
    ) as session:
        return session.generate(conversation, max_tokens=max_tokens, on_text=on_text)
