"""The ``forge chat`` use case: ``NAME | PATH`` (+ ``-f MODELFILE``) -> a GGUF, its Modelfile, a reply.

:func:`resolve_model` is shared by ``forge chat`` and ``forge check``: a stored model uses its
written Modelfile, a bare GGUF gets the one :func:`ollama_forge.workflows.plan.build_modelfile`
derives. The embedded runtime itself is :mod:`ollama_forge.runners.llama`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, UsageError
from ..runners.llama import ChatResult, LlamaRuntime, Messages, OnText, ResolvedModel

if TYPE_CHECKING:
    from ..modelfile import Modelfile


def resolve_model(
    target: str | Path | None = None, modelfile: str | Path | Modelfile | None = None
) -> ResolvedModel:
    """The GGUF and Modelfile for ``target`` (a stored name or a GGUF path) and/or ``-f MODELFILE``.

    Without a Modelfile: the stored model's written Modelfile if there is one, else the one
    :func:`ollama_forge.workflows.plan.build_modelfile` derives from the GGUF.
    """
    from ..modelfile import Modelfile, read_modelfile
    from ..store import Store

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

    store_name: str | None = None
    gguf: Path | None = None
    if target is None:
        if mf is None:
            raise UsageError("Name a model (stored name or GGUF path) or pass -f MODELFILE")
        gguf = _gguf_from_modelfile(mf)
        label = str(gguf)
    else:
        label = str(target)
        path = Path(target).expanduser()
        if path.is_file():
            gguf = path.absolute()
        elif path.is_dir():
            raise UsageError(
                f"{path} is a folder, not a GGUF file",
                hint="Pass the .gguf file itself (for a split model, its first shard).",
            )
        else:
            stored = Store().find(str(target))
            if stored is None:
                raise ModelNotFoundError.of(
                    target,
                    "a GGUF file, a model in forge's store",
                    hint="Pass a path to a .gguf file, or pull it first: forge pull-gguf owner/repo --name NAME",
                    name=str(target),
                )
            store_name = stored.name
            gguf = stored.entry_path
            if mf is None and stored.modelfile_path and Path(stored.modelfile_path).is_file():
                mf, source = read_modelfile(stored.modelfile_path), f"store:{stored.modelfile_path}"
    if not gguf.is_file():
        raise ModelNotFoundError.of(
            gguf,
            "the GGUF file it names",
            hint="Pull the model again (forge pull-gguf) or fix the path.",
            path=str(gguf),
        )
    if mf is None:
        import warnings

        from ..errors import ForgeWarning
        from .plan import plan_modelfile

        plan = plan_modelfile(gguf)
        mf = plan.modelfile
        for message in plan.warnings:
            warnings.warn(message, ForgeWarning, stacklevel=2)
        source = "generated"
    return ResolvedModel(
        target=label, gguf_path=gguf, modelfile=mf, modelfile_source=source, store_name=store_name
    )


def _gguf_from_modelfile(mf: Modelfile) -> Path:
    for path in mf.resolved_paths():
        if path.is_file():
            return path
    shown = ", ".join(mf.from_) or "(none)"
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
