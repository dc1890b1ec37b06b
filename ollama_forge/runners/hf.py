"""The transformers fallback runner: a ``text-generation`` pipeline on cuda / mps / cpu, plus
LangChain wrappers whose generation settings actually apply.

Why not ``HuggingFacePipeline.from_model_id``: it only takes integer devices (``"mps"`` raises a
TypeError) and checks them after the whole model has loaded (fallback.md §1). Here the pipeline
is built directly with a device string chosen by :mod:`.devices`, ``dtype=`` (not the deprecated
``torch_dtype``) and ``return_full_text=False`` (no prompt echo). Generation settings are given to
``transformers.pipeline`` itself, which applies them to every call, including the LangChain
wrappers' ``invoke`` and ``stream`` (the wrappers ignore their own ``pipeline_kwargs``,
``max_tokens`` and ``temperature`` fields: fallback.md §2).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..config import hf_endpoint, hf_hub_cache, hf_offline, hf_token
from ..errors import (
    ForgeWarning,
    MissingExtraError,
    NotFoundError,
    OfflineError,
    RuntimeBackendError,
    UsageError,
)
from ..hub.reach import hub_reachable
from .devices import HF_HINT, DeviceChoice, choose

OnText = Callable[[str], None]
#: settings that belong to the pipeline call, not to generate()
_PIPELINE_ONLY = {
    "return_full_text",
    "clean_up_tokenization_spaces",
    "prefix",
    "handle_long_generation",
}


class HFGeneration(BaseModel):
    """One generation through :func:`hf_generate`."""

    text: str
    prompt: str = Field(description="the text given to the model (chat template applied)")
    finish_reason: Literal["eos", "length", "stop"]
    new_tokens: int
    seconds: float
    device: str | None = None
    dtype: str | None = None


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingExtraError(
            f"transformers is not installed ({exc})", hint=HF_HINT, extra="hf"
        ) from exc
    return transformers


def _import_langchain_hf() -> Any:
    try:
        import langchain_huggingface
    except ImportError as exc:
        raise MissingExtraError(
            f"langchain-huggingface is not installed ({exc})", hint=HF_HINT, extra="hf"
        ) from exc
    return langchain_huggingface


def generation_settings(generation: dict[str, Any]) -> dict[str, Any]:
    """Validate generation settings against ``GenerationConfig`` (unknown names are errors).

    ``temperature=0`` means greedy (``do_sample=False``); a positive temperature without an
    explicit ``do_sample`` turns sampling on, so the temperature is not silently ignored.
    """
    transformers = _import_transformers()
    known = {
        k for k in vars(transformers.GenerationConfig()) if not k.startswith("_")
    } | _PIPELINE_ONLY
    unknown = sorted(set(generation) - known)
    if unknown:
        import difflib

        close = [m for name in unknown for m in difflib.get_close_matches(name, sorted(known), n=1)]
        raise UsageError(
            f"Unknown generation setting(s): {', '.join(unknown)}",
            hint=(f"Did you mean {', '.join(close)}? " if close else "")
            + "Use transformers GenerationConfig names (max_new_tokens, temperature, top_p, top_k, do_sample, ...).",
            unknown=unknown,
        )
    out = {k: v for k, v in generation.items() if v is not None}
    temperature = out.get("temperature")
    if temperature is not None:
        if float(temperature) < 0:
            raise UsageError("temperature must be >= 0")
        if float(temperature) == 0:
            out.pop("temperature")
            if out.get("do_sample"):
                raise UsageError("temperature=0 (greedy) contradicts do_sample=True")
            out["do_sample"] = False
        else:
            out.setdefault("do_sample", True)
    max_new = out.get("max_new_tokens")
    if max_new is not None and int(max_new) < 1:
        raise UsageError("max_new_tokens must be at least 1")
    return out


def hf_pipeline(
    model: str | Path | Any,
    task: str = "text-generation",
    device: str = "auto",
    dtype: str = "auto",
    *,
    tokenizer: Any = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    **generation: Any,
) -> Any:
    """A ``transformers`` pipeline on the chosen device (``auto``: cuda, then mps, then cpu).

    ``model`` is a Hub repo id, a local folder or a loaded model. ``generation`` holds
    ``GenerationConfig`` settings (``max_new_tokens=64, temperature=0.2, ...``) applied to every
    call. The choice made is stored as ``pipe.forge_choice`` (a :class:`DeviceChoice`).
    """
    if isinstance(model, str):
        model = _offline_source(model, revision)
    choice = choose(device, dtype)
    settings = generation_settings(generation)
    transformers = _import_transformers()
    import warnings

    import torch

    for message in choice.warnings:
        warnings.warn(message, ForgeWarning, stacklevel=2)
    kwargs: dict[str, Any] = {
        "model": str(model) if isinstance(model, Path) else model,
        "device": choice.device,
        "dtype": getattr(torch, choice.dtype),
        "trust_remote_code": trust_remote_code,
        **settings,
    }
    if task == "text-generation":
        kwargs.setdefault("return_full_text", False)
    if tokenizer is not None:
        kwargs["tokenizer"] = tokenizer
    if revision is not None:
        kwargs["revision"] = revision
    token = hf_token()
    if token and isinstance(model, str):
        kwargs["token"] = token
    try:
        pipe = transformers.pipeline(task, **kwargs)
    except OSError as exc:
        raise RuntimeBackendError(
            f"Could not load {model!r}: {exc}",
            hint="Check the repo id or folder; for gated repos set HF_TOKEN; offline (HF_HUB_OFFLINE=1) "
            "only cached models load.",
            model=str(model),
        ) from exc
    except (ValueError, KeyError) as exc:
        raise RuntimeBackendError(
            f"transformers cannot build a {task!r} pipeline for {model!r}: {exc}",
            hint="Check the task and that this transformers version supports the architecture "
            "(pip install -U transformers), or use the GGUF path (forge chat).",
            model=str(model),
        ) from exc
    except (RuntimeError, AssertionError) as exc:
        raise RuntimeBackendError(
            f"Moving {model!r} to {choice.device} failed: {exc}",
            hint="Use --device cpu, or a smaller dtype/model if the device ran out of memory.",
            model=str(model),
        ) from exc
    pipe.forge_choice = choice
    pipe.forge_generation = settings
    return pipe


#: seconds to wait for the Hub before a model id is looked up in the cache only
HUB_PROBE_TIMEOUT = 3.0


def _offline_source(model: str, revision: str | None = None) -> str:
    """``model`` itself, or its cached snapshot folder when the Hub cannot be used.

    With HF_HUB_OFFLINE set, or the Hub unreachable, transformers would spend ~30 s in
    retries before failing; instead a cached snapshot is loaded from its folder, and an
    uncached model is an error at once.
    """
    if Path(model).expanduser().exists() or "/" not in model.strip("/"):
        return model  # a local folder, or a bare name transformers resolves itself

    if model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model:
        raise NotFoundError.of(
            model,
            "a local model folder; a Hub id is owner/name",
            hint="Pass an existing folder with config.json, or a Hub repo id owner/name.",
        )

    if hf_offline():
        why = "HF_HUB_OFFLINE is set"
    else:
        endpoint = hf_endpoint()
        error = hub_reachable(endpoint, HUB_PROBE_TIMEOUT)
        if error is None:
            return model
        why = f"the Hub at {endpoint} is unreachable ({error})"
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            model, revision=revision, cache_dir=str(hf_hub_cache()), local_files_only=True
        )
    except Exception as exc:  # LocalEntryNotFoundError and friends: not cached
        raise OfflineError(
            f"{model!r} is not in the Hugging Face cache, and {why}",
            hint=("Unset HF_HUB_OFFLINE" if hf_offline() else "Connect to the network")
            + " to download it once, or pass the model's local folder.",
            model=model,
        ) from exc
    return str(folder)


def hf_llm(
    model: str | Path | Any = None,
    *,
    pipeline: Any = None,
    task: str = "text-generation",
    device: str = "auto",
    dtype: str = "auto",
    **generation: Any,
) -> Any:
    """``langchain_huggingface.HuggingFacePipeline`` around :func:`hf_pipeline` (or a given pipeline)."""
    lc = _import_langchain_hf()
    if pipeline is None:
        if model is None:
            raise UsageError("Give a model (repo id or folder) or pipeline=")
        pipeline = hf_pipeline(model, task, device, dtype, **generation)
    elif generation:
        raise UsageError(
            "Generation settings go to hf_pipeline() when you pass your own pipeline",
            hint="Build it with hf_pipeline(model, max_new_tokens=..., ...) and pass that.",
        )
    return lc.HuggingFacePipeline(pipeline=pipeline)


def hf_chat_model(
    model: str | Path | Any = None,
    *,
    pipeline: Any = None,
    device: str = "auto",
    dtype: str = "auto",
    **generation: Any,
) -> Any:
    """``ChatHuggingFace`` over :func:`hf_llm`, using the pipeline's own tokenizer and chat template."""
    lc = _import_langchain_hf()
    llm = hf_llm(model, pipeline=pipeline, device=device, dtype=dtype, **generation)
    tokenizer = llm.pipeline.tokenizer
    _require_chat_template(tokenizer, model)
    return lc.ChatHuggingFace(llm=llm, tokenizer=tokenizer)


def _require_chat_template(tokenizer: Any, model: Any) -> None:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise RuntimeBackendError(
            f"{model or 'this model'} has no chat template, so it cannot be used as a chat model",
            hint="Use hf_llm() (plain completion) or a model with a chat template (usually an -Instruct/-it variant).",
        )


def hf_generate(
    pipe: Any,
    prompt: str | None = None,
    *,
    messages: Sequence[dict[str, Any]] | None = None,
    on_text: OnText | None = None,
    **generation: Any,
) -> HFGeneration:
    """Generate with ``pipe``: a raw ``prompt`` or chat ``messages`` (rendered with the model's
    chat template); ``on_text`` streams the reply as it is produced."""
    if (prompt is None) == (messages is None):
        raise UsageError("Give exactly one of prompt= or messages=")
    _import_transformers()
    from transformers import TextIteratorStreamer

    tokenizer = pipe.tokenizer
    if messages is not None:
        _require_chat_template(tokenizer, getattr(pipe.model, "name_or_path", None))
        text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
    else:
        text = str(prompt)
    settings = generation_settings(generation)
    new_ids: list[int] = []

    class _Streamer(TextIteratorStreamer):
        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                new_ids.extend(int(t) for t in value.reshape(-1).tolist())
            super().put(value)  # type: ignore[no-untyped-call]

    streamer = _Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600.0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            pipe(text, streamer=streamer, **settings)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
            streamer.end()  # type: ignore[no-untyped-call]

    started = time.perf_counter()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    pieces: list[str] = []
    for piece in streamer:
        if piece:
            pieces.append(piece)
            if on_text is not None:
                on_text(piece)
    worker.join()
    if failure:
        raise RuntimeBackendError(
            f"Generation failed: {failure[0]}", hint="Re-run with FORGE_DEBUG=1 for details."
        ) from failure[0]
    eos = _eos_ids(pipe)
    limit = (
        settings.get("max_new_tokens")
        or (getattr(pipe, "forge_generation", None) or {}).get("max_new_tokens")
        or getattr(pipe.model.generation_config, "max_new_tokens", None)
    )
    if new_ids and new_ids[-1] in eos:
        reason: Literal["eos", "length", "stop"] = "eos"
    elif limit is not None and len(new_ids) >= int(limit):
        reason = "length"
    else:
        reason = "stop"
    choice: DeviceChoice | None = getattr(pipe, "forge_choice", None)
    return HFGeneration(
        text="".join(pieces),
        prompt=text,
        finish_reason=reason,
        new_tokens=len(new_ids),
        seconds=round(time.perf_counter() - started, 4),
        device=choice.device if choice else str(getattr(pipe, "device", "")) or None,
        dtype=choice.dtype if choice else None,
    )


def _eos_ids(pipe: Any) -> set[int]:
    ids: set[int] = set()
    value = getattr(pipe.model.generation_config, "eos_token_id", None)
    if isinstance(value, int):
        ids.add(value)
    elif isinstance(value, (list, tuple)):
        ids.update(int(v) for v in value)
    tok_eos = getattr(pipe.tokenizer, "eos_token_id", None)
    if isinstance(tok_eos, int):
        ids.add(tok_eos)
    return ids
