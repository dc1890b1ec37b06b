"""``forge check``: prove by real generation that a model stops where it should.

A few short prompts are answered (temperature 0, fixed seed, a small token budget) and each
reply is judged:

* **rambling**: generation ran into the token limit instead of ending on a stop string or an
  end-of-generation token. (Both Ollama and llama.cpp end on EOG tokens by themselves, so a
  missing ``stop`` only shows when the model opens a new turn *without* an EOG token: the
  template's turn markers are then the only thing that could have stopped it.)
* **cut**: generation ended on a stop/EOG before the reply had any content: typically a
  turn-*opening* marker in ``stop`` that the model writes first (ollama#17939).
* **leaked**: the reply contains a stop string, an EOG token's text or one of the template's
  turn markers (the text between an assistant reply and the next user message), i.e. the
  model went on into a turn that is not its own.

It runs through Ollama (``/api/chat``, ``done_reason``) when a server is reachable and the
model is registered there, otherwise through the embedded llama.cpp runtime with exactly the
prompt and stops the Modelfile gives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import (
    ForgeError,
    ModelNotFoundError,
    NotFoundOllamaDownError,
    OllamaConnectionError,
    OllamaResponseError,
    UsageError,
)
from ..gguf import read_gguf
from ..ollama.client import OllamaHTTP, resolve_host, start_hint
from ..ollama.models import registered_names
from ..runners.llama import LlamaRuntime
from ..store import Store
from .chat import resolve_model
from .check_judging import (
    CheckReport,
    PromptCheck,
    _problem,
    judge,
    turn_markers,
)

if TYPE_CHECKING:
    from ..modelfile import Modelfile

__all__ = [
    "CHECK_SEED",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PROMPTS",
    "CheckReport",
    "PromptCheck",
    "check",
    "judge",
    "parse_show_stops",
    "turn_markers",
]

DEFAULT_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "Name three colors.",
    "Say hello in one short sentence.",
)
DEFAULT_MAX_TOKENS = 96
CHECK_SEED = 42
# --- the check ----------------------------------------------------------------------------


def check(
    target: str | Path | None = None,
    *,
    modelfile: str | Path | Modelfile | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    prompts: Sequence[str] | None = None,
    backend: Literal["auto", "ollama", "embedded"] = "auto",
    host: str | None = None,
    n_threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """Generate replies to a few prompts and report whether the model stops cleanly.

    ``target``: a stored model name, an Ollama model name or a GGUF path. ``modelfile``
    (``-f``) checks that Modelfile with the embedded runtime. ``backend="auto"`` uses Ollama
    when it is reachable and knows the model, else the embedded runtime. ``progress`` receives a
    line as each generation starts (a long check is not silent).
    """
    if max_tokens < 1:
        raise UsageError("max_tokens must be at least 1")
    asked = list(prompts) if prompts is not None else list(DEFAULT_PROMPTS)
    if not asked or not all(isinstance(p, str) and p.strip() for p in asked):
        raise UsageError("Give at least one non-empty prompt")
    if backend not in ("auto", "ollama", "embedded"):
        raise UsageError(f"Unknown backend {backend!r}", hint="Use auto, ollama or embedded.")
    notes: list[str] = []
    if (
        backend != "embedded"
        and modelfile is None
        and target is not None
        and not Path(target).expanduser().exists()
    ):
        report = _try_ollama(
            str(target),
            asked,
            max_tokens,
            host,
            notes,
            required=backend == "ollama",
            progress=progress,
        )
        if report is not None:
            return report
    elif backend == "ollama":
        raise UsageError(
            "The Ollama backend checks a model registered in Ollama by name",
            hint="Drop -f/--backend ollama to check a local GGUF or Modelfile with the embedded runtime.",
        )
    return _check_embedded(target, modelfile, asked, max_tokens, notes, n_threads, progress)


def _check_embedded(
    target: str | Path | None,
    modelfile: str | Path | Modelfile | None,
    prompts: list[str],
    max_tokens: int,
    notes: list[str],
    n_threads: int | None,
    progress: Callable[[str], None] | None = None,
) -> CheckReport:

    tell = progress or (lambda text: None)
    started = time.perf_counter()
    resolved = resolve_model(target, modelfile)
    base_model = not read_gguf(resolved.gguf_path).chat_template
    options = {"temperature": 0.0, "seed": CHECK_SEED}
    tell(f"loading {resolved.gguf_path.name} into llama.cpp")
    with LlamaRuntime(resolved, options=options, n_threads=n_threads) as runtime:
        markers = _merge(
            runtime.stops, runtime.eog_texts(), turn_markers(resolved.modelfile.template)
        )
        results: list[PromptCheck] = []
        for number, prompt in enumerate(prompts, 1):
            tell(
                f"prompt {number}/{len(prompts)}: {json.dumps(prompt)} (up to {max_tokens} tokens)"
            )
            text = runtime.render([{"role": "user", "content": prompt}])
            gen = runtime.complete(text, max_tokens=max_tokens)
            results.append(
                judge(
                    prompt,
                    gen.text,
                    done_reason=gen.done_reason,
                    stopped_by=gen.stopped_by,
                    stop=gen.stop,
                    completion_tokens=gen.completion_tokens,
                    seconds=gen.seconds,
                    markers=markers,
                )
            )
        used = {**runtime.options, "num_ctx": runtime.n_ctx}
        stops = list(runtime.stops)
    return _report(
        target=resolved.target,
        backend="embedded",
        gguf_path=str(resolved.gguf_path),
        modelfile_source=resolved.modelfile_source,
        stops=stops,
        markers=markers,
        max_tokens=max_tokens,
        options=used,
        results=results,
        notes=notes,
        started=started,
        base_model=base_model,
    )


def _merge(*groups: Sequence[str]) -> list[str]:
    out: list[str] = []
    for group in groups:
        for item in group:
            if item and item not in out:
                out.append(item)
    return out


def _report(
    *,
    target: str,
    backend: Literal["ollama", "embedded"],
    stops: list[str],
    markers: list[str],
    max_tokens: int,
    options: dict[str, Any],
    results: list[PromptCheck],
    notes: list[str],
    started: float,
    gguf_path: str | None = None,
    modelfile_source: str | None = None,
    ollama_name: str | None = None,
    host: str | None = None,
    base_model: bool = False,
) -> CheckReport:
    problems = [p for p in (_problem(r, max_tokens) for r in results) if p]
    return CheckReport(
        target=target,
        backend=backend,
        ollama_name=ollama_name,
        host=host,
        gguf_path=gguf_path,
        modelfile_source=modelfile_source,
        stops=stops,
        leak_markers=markers,
        max_tokens=max_tokens,
        options=options,
        results=results,
        passed=not problems,
        problems=problems,
        notes=notes,
        base_model=base_model,
        seconds=round(time.perf_counter() - started, 3),
    )


# --- Ollama --------------------------------------------------------------------------------


def parse_show_stops(parameters: str | None) -> list[str]:
    """``stop`` values from ``/api/show``'s ``parameters`` text (``%-30s %#v`` lines)."""
    stops: list[str] = []
    for line in (parameters or "").splitlines():
        name, _, value = line.strip().partition(" ")
        if name != "stop":
            continue
        value = value.strip()
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        if isinstance(decoded, str) and decoded:
            stops.append(decoded)
    return stops


#: seconds one check reply through Ollama may take in total (num_predict bounds its length)
OLLAMA_REPLY_DEADLINE = 120.0


def _in_store(target: str) -> bool:

    try:
        return Store().find(target) is not None
    except ForgeError:
        return False


def _ollama_reply(
    http: Any, name: str, prompt: str, options: dict[str, Any]
) -> tuple[str, str, int | None]:
    """One streamed ``/api/chat`` reply within :data:`OLLAMA_REPLY_DEADLINE`: text, done_reason, tokens."""
    pieces: list[str] = []
    final: dict[str, Any] = {}
    body = {
        "model": name,
        "messages": [{"role": "user", "content": prompt}],
        "options": options,
        "stream": True,
    }
    for part in http.generate_stream(
        "/api/chat", body, deadline=OLLAMA_REPLY_DEADLINE, action=f"chatting with {name}"
    ):
        message = part.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            pieces.append(message["content"])
        if part.get("done") is True:
            final = part
    reason = final.get("done_reason")
    tokens = final.get("eval_count")
    return (
        "".join(pieces),
        reason if isinstance(reason, str) and reason else "stop",
        tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
    )


def _try_ollama(
    target: str,
    prompts: list[str],
    max_tokens: int,
    host: str | None,
    notes: list[str],
    *,
    required: bool,
    progress: Callable[[str], None] | None = None,
) -> CheckReport | None:

    started = time.perf_counter()
    where = resolve_host(host)
    name: str | None = None
    shown: Any = None
    with OllamaHTTP(where) as http:
        for candidate in registered_names(target, where):
            try:
                shown = http.post_json(
                    "/api/show", {"model": candidate}, action=f"looking up {candidate}"
                )
                name = candidate
                break
            except OllamaConnectionError as exc:
                if required:
                    raise
                if not _in_store(target):
                    # nothing local to fall back on: the real cause is that Ollama is down
                    raise NotFoundOllamaDownError.of(
                        target,
                        f"a GGUF file, a Modelfile, a model in forge's store; Ollama at {where} "
                        "(OLLAMA_HOST) is unreachable, so its models were not searched",
                        hint=start_hint(where),
                        host=where,
                    ) from exc
                notes.append(
                    f"Ollama not reachable at {where} ({exc.message}); used the embedded runtime"
                )
                return None
            except OllamaResponseError as exc:
                if exc.status not in (400, 404):
                    raise
        if name is None:
            if required or not _in_store(target):
                raise ModelNotFoundError.of(
                    target,
                    f"a GGUF file, a Modelfile, a model in forge's store, a model in Ollama at {where}",
                    hint=f"List Ollama's models with `forge list`; register one with `forge register {target} <gguf>`.",
                    name=target,
                )
            notes.append(
                f"{target!r} is not registered in Ollama at {where}; used the embedded runtime"
            )
            return None
        shown = shown if isinstance(shown, dict) else {}
        parameters = shown.get("parameters")
        template = shown.get("template")
        stops = parse_show_stops(parameters if isinstance(parameters, str) else None)
        markers = _merge(stops, turn_markers(template if isinstance(template, str) else None))
        options = {"temperature": 0, "seed": CHECK_SEED, "num_predict": max_tokens}
        results: list[PromptCheck] = []
        for number, prompt in enumerate(prompts, 1):
            if progress is not None:  # the first reply also waits for Ollama to load the model
                progress(
                    f"prompt {number}/{len(prompts)} to Ollama {name}: {json.dumps(prompt)} (up to {max_tokens} tokens)"
                )
            t0 = time.perf_counter()
            content, reason, tokens = _ollama_reply(http, name, prompt, options)
            results.append(
                judge(
                    prompt,
                    content,
                    done_reason=reason,
                    stopped_by="limit" if reason == "length" else "stop",
                    stop=None,
                    completion_tokens=tokens,
                    seconds=time.perf_counter() - t0,
                    markers=markers,
                )
            )
    return _report(
        target=target,
        backend="ollama",
        ollama_name=name,
        host=where,
        stops=stops,
        markers=markers,
        max_tokens=max_tokens,
        options=options,
        results=results,
        notes=notes,
        started=started,
    )
