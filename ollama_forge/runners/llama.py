"""Embedded llama.cpp runtime: run a GGUF the way Ollama would, without Ollama.

The prompt is exactly what the Modelfile's TEMPLATE builds (:func:`ollama_forge.fidelity.ollama_prompt.render_prompt`,
with the Modelfile's SYSTEM and MESSAGEs), generation goes through ``llama_cpp.Llama``'s raw
token API (never its chat handler), and it ends the way Ollama's runner ends it:

* on an end-of-generation token (eos/eot/eom, as llama.cpp's vocabulary marks them);
* on a ``stop`` string, matched on the detokenized text *including* special tokens (Ollama
  renders control tokens such as ``<start_of_turn>`` as text, so a stop string can match one);
  the stop and everything after it is dropped, and text that could still become a stop is held
  back while streaming;
* on the token limit (``num_predict`` or the context).

PARAMETERs map to llama.cpp as Ollama maps them: temperature, top_k, top_p, min_p, typical_p,
repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, seed, num_ctx -> n_ctx,
num_predict, num_batch, num_thread, num_gpu, use_mmap. Ollama's defaults apply to what the
Modelfile leaves unset.
"""

from __future__ import annotations

import codecs
import ctypes
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._version import install_hint
from ..config import debug_enabled
from ..errors import MissingExtraError, RuntimeBackendError
from ..fidelity.ollama_prompt import render_prompt
from ..gguf import read_gguf
from ..modelfile import validate_parameters
from .llama_probe import load_llama, runtime_settings

if TYPE_CHECKING:
    pass

#: Ollama's option defaults (api/types.go DefaultOptions; repeat_penalty 1.0 since v0.32.10)
OLLAMA_DEFAULTS: dict[str, Any] = {
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
    "repeat_last_n": 64,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "seed": -1,
    "num_predict": -1,
    "num_batch": 512,
}
#: Ollama's context default on machines with < 24 GiB of VRAM (capped at the trained context)
DEFAULT_NUM_CTX = 4096
#: PARAMETERs that have no meaning for a single-process llama.cpp run
NOT_APPLICABLE = frozenset({"num_keep", "main_gpu", "draft_num_predict"})
LLAMA_HINT = f"Install the embedded runtime: {install_hint('llama')}"

Messages = Sequence[dict[str, Any]]
OnText = Callable[[str], None]

_LOG_CALLBACK: Any = None  # keeps the ctypes callback alive


class ResolvedModel(BaseModel):
    """A GGUF plus the Modelfile that says how to prompt it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    target: str
    gguf_path: Path
    modelfile: Any  # ollama_forge.modelfile.Modelfile (typed loosely to keep imports light)
    modelfile_source: str = Field(description="file:<path>, store:<path> or generated")
    store_name: str | None = None


class Generation(BaseModel):
    """One completion and why it ended."""

    text: str
    done_reason: Literal["stop", "length"] = Field(description="Ollama's done_reason vocabulary")
    stopped_by: Literal["eog", "stop_string", "limit"]
    stop: str | None = Field(default=None, description="the stop string or EOG token that ended it")
    prompt_tokens: int
    completion_tokens: int
    seconds: float = Field(description="wall time: prompt processing plus generation")
    prompt_seconds: float | None = Field(
        default=None, description="until the first generated token"
    )
    tokens_per_second: float | None = Field(
        default=None, description="generation speed after the first token"
    )


class ChatResult(BaseModel):
    """What :func:`chat` (or one :meth:`ChatSession.send`) produced."""

    target: str
    gguf_path: str
    modelfile_source: str
    prompt: str = Field(description="the exact text given to the model")
    reply: Generation
    options: dict[str, Any]
    ignored_parameters: list[str] = Field(default_factory=list)


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingExtraError(
            f"The embedded runtime needs llama-cpp-python, which is not installed ({exc})",
            hint=LLAMA_HINT,
            extra="llama",
        ) from exc
    return llama_cpp


def _quiet_llama_logs(llama_cpp: Any) -> None:
    """Route llama.cpp's C logging to stderr only with FORGE_DEBUG=1."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import sys

    @llama_cpp.llama_log_callback
    def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if debug_enabled():
            sys.stderr.write(text.decode("utf-8", errors="replace"))

    _LOG_CALLBACK = _callback
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


# --- the runtime ------------------------------------------------------------------------


class LlamaRuntime:
    """One loaded GGUF with its Modelfile's template, stops and parameters."""

    def __init__(
        self,
        resolved: ResolvedModel,
        *,
        options: dict[str, Any] | None = None,
        n_threads: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:

        self.resolved = resolved
        merged: dict[str, Any] = dict(resolved.modelfile.parameters)
        if options:
            merged.update(validate_parameters(dict(options)))
        self.ignored = sorted(k for k in merged if k in NOT_APPLICABLE)
        self.options: dict[str, Any] = {
            **OLLAMA_DEFAULTS,
            **{k: v for k, v in merged.items() if k not in NOT_APPLICABLE},
        }
        self.stops: list[str] = list(self.options.pop("stop", []) or [])
        self.n_ctx = self._context_size(self.options.pop("num_ctx", None))
        llama_cpp = _import_llama_cpp()
        _quiet_llama_logs(llama_cpp)
        num_thread = int(self.options.pop("num_thread", 0) or 0)
        threads = n_threads if n_threads is not None else (num_thread or None)
        kwargs: dict[str, Any] = {
            "model_path": str(resolved.gguf_path),
            "n_ctx": self.n_ctx,
            "n_batch": int(self.options.pop("num_batch")),
            "n_threads": threads,
            "last_n_tokens_size": self._last_n(self.options.pop("repeat_last_n")),
            "verbose": False,
        }
        num_gpu = self.options.pop("num_gpu", None)
        if num_gpu is not None:
            kwargs["n_gpu_layers"] = int(num_gpu)
        use_mmap = self.options.pop("use_mmap", None)
        if use_mmap is not None:
            kwargs["use_mmap"] = bool(use_mmap)
        # Native crashes (a CPU feature the host advertises but cannot run) would kill this
        # process: the settings come from a probe that ran llama.cpp in a child process first.

        if progress is not None:  # loading (and a first runtime probe) can take a while: say so
            progress(f"loading {resolved.gguf_path.name} into llama.cpp (n_ctx {self.n_ctx})")
        settings = runtime_settings(resolved.gguf_path, n_gpu_layers=kwargs.get("n_gpu_layers"))
        try:
            self.llm = load_llama(llama_cpp, kwargs, use_extra_bufts=settings["use_extra_bufts"])
        except (ValueError, RuntimeError, OSError) as exc:
            raise RuntimeBackendError(
                f"llama.cpp could not load {resolved.gguf_path}: {exc}",
                hint="Check the file with `forge inspect`; a newer architecture may need a newer llama-cpp-python.",
                path=str(resolved.gguf_path),
            ) from exc
        self._llama_cpp = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)

    def _context_size(self, requested: int | None) -> int:

        trained = None
        try:
            trained = read_gguf(self.resolved.gguf_path).context_length
        except Exception:  # the runtime itself reports unreadable files
            trained = None
        size = int(requested) if requested else DEFAULT_NUM_CTX
        if trained:
            size = min(size, int(trained))
        return max(size, 16)

    def _last_n(self, value: int) -> int:
        value = int(value)
        return self.n_ctx if value < 0 else value

    # -- prompt ------------------------------------------------------------------------
    def render(self, messages: Messages) -> str:
        """The exact prompt Ollama builds for ``messages`` with this Modelfile."""

        mf = self.resolved.modelfile
        return render_prompt(
            mf.template or "{{ .Prompt }}",
            [dict(m) for m in messages],
            system=mf.system,
            model_messages=[m.model_dump() for m in mf.messages] or None,
        )

    def tokenize(self, prompt: str) -> list[int]:
        tokens: list[int] = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        bos = self.llm.token_bos()
        if len(tokens) >= 2 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]  # the template already wrote BOS: do not double it
        return tokens

    def token_text(self, token: int) -> str:
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

    def eog_texts(self) -> list[str]:
        """Texts of the vocabulary's end-of-generation tokens named in the metadata."""
        out: list[str] = []
        for key, value in self.llm.metadata.items():
            if key.startswith("tokenizer.ggml.") and key.endswith(
                ("eos_token_id", "eot_token_id", "eom_token_id")
            ):
                try:
                    text = self.token_text(int(value))
                except (ValueError, TypeError):
                    continue
                if text and text not in out:
                    out.append(text)
        return out

    # -- generation --------------------------------------------------------------------
    def complete(
        self, prompt: str, *, max_tokens: int | None = None, on_text: OnText | None = None
    ) -> Generation:
        """Generate from ``prompt``; ``on_text`` receives text as it becomes final (streaming)."""
        started = time.perf_counter()
        tokens = self.tokenize(prompt)
        if len(tokens) >= self.n_ctx:
            raise RuntimeBackendError(
                f"The prompt is {len(tokens)} tokens but the context is {self.n_ctx}",
                hint="Raise PARAMETER num_ctx in the Modelfile (or options={'num_ctx': N}), or shorten the prompt.",
            )
        limit = self._limit(max_tokens, len(tokens))
        opts = self.options
        seed = int(opts["seed"])
        self.llm.set_seed(seed & 0xFFFFFFFF if seed >= 0 else random.randrange(2**32))
        matcher = _StopMatcher(self.stops, on_text)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stopped_by: Literal["eog", "stop_string", "limit"] = "limit"
        stop: str | None = None
        count = 0
        first_at: float | None = None
        try:
            generator = self.llm.generate(
                tokens,
                top_k=int(opts["top_k"]),
                top_p=float(opts["top_p"]),
                min_p=float(opts["min_p"]),
                typical_p=float(opts["typical_p"]),
                temp=float(opts["temperature"]),
                repeat_penalty=float(opts["repeat_penalty"]),
                presence_penalty=float(opts["presence_penalty"]),
                frequency_penalty=float(opts["frequency_penalty"]),
            )
            if limit > 0:
                for token in generator:
                    if first_at is None:
                        first_at = time.perf_counter()
                    if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        stopped_by, stop = "eog", self.token_text(token)
                        break
                    count += 1
                    piece = bytes(self.llm.detokenize([token], special=True))
                    found = matcher.feed(decoder.decode(piece))
                    if found is not None:
                        stopped_by, stop = "stop_string", found
                        break
                    if count >= limit:
                        break
        except (RuntimeError, ValueError) as exc:
            raise RuntimeBackendError(
                f"llama.cpp failed while generating: {exc}",
                hint="Re-run with FORGE_DEBUG=1 to see llama.cpp's log.",
            ) from exc
        if stopped_by != "stop_string":
            tail = decoder.decode(b"", final=True)
            found = matcher.feed(tail) if tail else None
            if found is not None:
                stopped_by, stop = "stop_string", found
            else:
                matcher.flush()
        ended = time.perf_counter()
        seconds = ended - started
        decode_seconds = ended - first_at if first_at is not None else 0.0
        return Generation(
            text=matcher.text,
            done_reason="length" if stopped_by == "limit" else "stop",
            stopped_by=stopped_by,
            stop=stop,
            prompt_tokens=len(tokens),
            completion_tokens=count,
            seconds=round(seconds, 4),
            prompt_seconds=round(first_at - started, 4) if first_at is not None else None,
            tokens_per_second=round((count - 1) / decode_seconds, 2)
            if count > 1 and decode_seconds > 0
            else None,
        )

    def _limit(self, max_tokens: int | None, prompt_tokens: int) -> int:
        room = self.n_ctx - prompt_tokens
        wanted = max_tokens if max_tokens is not None else int(self.options["num_predict"])
        if wanted is None or wanted < 0:
            return room
        return min(int(wanted), room)

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()

    def __enter__(self) -> LlamaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StopMatcher:
    """Ollama's stop handling on streamed text: cut at the first stop, hold back partial matches."""

    def __init__(self, stops: Sequence[str], on_text: OnText | None) -> None:
        self.stops = [s for s in stops if s]
        self.on_text = on_text
        self.emitted: list[str] = []
        self.pending = ""

    @property
    def text(self) -> str:
        return "".join(self.emitted)

    def _emit(self, text: str) -> None:
        if text:
            self.emitted.append(text)
            if self.on_text is not None:
                self.on_text(text)

    def feed(self, text: str) -> str | None:
        """Add text; returns the stop string when one matched (the text before it is emitted)."""
        self.pending += text
        hits = [(self.pending.find(s), s) for s in self.stops if s in self.pending]
        if hits:
            index, stop = min(hits, key=lambda hit: hit[0])
            self._emit(self.pending[:index])
            self.pending = ""
            return stop
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        cut = len(self.pending) - hold
        self._emit(self.pending[:cut])
        self.pending = self.pending[cut:]
        return None

    def flush(self) -> None:
        self._emit(self.pending)
        self.pending = ""
