"""One real (or widely published) chat template per family, carried in a GGUF fixture.

Corpus templates come from ``tests/data/chat_templates`` (model authors' templates, collected by
llama.cpp). Families whose authors ship no template in that corpus use the widely published
templates in ``tests/families/data`` (see the README there for their provenance). ``vocab:``
cases use llama.cpp's real vocab-only GGUFs, which carry a real template of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).parent.parent / "data" / "chat_templates"
_SPECIAL = re.compile(
    r"<\|[^|<>\s'\"]{1,40}\|>|<[A-Za-z_][\w.:-]{0,30}>|</s>|\[/?[A-Z_]{2,30}\]|<｜[^｜]{1,40}｜>"
)


@dataclass
class Case:
    family: str
    template: str  # "corpus:<name>", "fixture:<name>" or "vocab:<name>"
    arch: str = "llama"
    name: str = "Test Model"
    bos: str | None = "<s>"
    eos: str = "</s>"
    eot: str | None = None
    eom: str | None = None
    add_bos: bool = True
    extra_tokens: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.family}-{self.template.split(':', 1)[1]}"

    def text(self) -> str | None:
        kind, _, name = self.template.partition(":")
        if kind == "corpus":
            return (CORPUS / f"{name}.jinja").read_text(encoding="utf-8")
        if kind == "fixture":
            return (DATA / f"{name}.jinja").read_text(encoding="utf-8")
        return None


def tokens_for(template: str, *specials: str | None) -> list[str]:
    """A vocabulary holding the template's special tokens (so find_tokens sees them)."""
    from ggufs import BASE_TOKENS

    found = list(dict.fromkeys(_SPECIAL.findall(template)))
    out = list(BASE_TOKENS)
    for tok in [*found, *(s for s in specials if s)]:
        if tok not in out:
            out.append(tok)
    return out


def write_case(case: Case, folder: Path) -> Path:
    """The case's GGUF: a vocab GGUF from llama.cpp, or a fixture GGUF carrying the template."""
    kind, _, name = case.template.partition(":")
    if kind == "vocab":
        from assets import vocab_gguf

        return vocab_gguf(name)
    from ggufs import write_gguf

    text = case.text()
    assert text is not None
    tokens = tokens_for(text, case.bos, case.eos, case.eot, case.eom, *case.extra_tokens)
    return write_gguf(
        folder / f"{case.id}.gguf",
        arch=case.arch,
        name=case.name,
        tokens=tokens,
        bos=case.bos,
        eos=case.eos,
        eot=case.eot,
        eom=case.eom,
        add_bos=case.add_bos,
        chat_template=text,
    )


LLAMA3 = {
    "bos": "<|begin_of_text|>",
    "eos": "<|eot_id|>",
    "eom": "<|eom_id|>",
    "extra_tokens": ["<|end_of_text|>", "<|python_tag|>"],
}
CHATML = {"bos": None, "eos": "<|im_end|>", "add_bos": False, "extra_tokens": ["<|endoftext|>"]}
DEEPSEEK = {"bos": "<｜begin▁of▁sentence｜>", "eos": "<｜end▁of▁sentence｜>"}

CASES: list[Case] = [
    Case("llama2", "fixture:llama2", name="Llama 2 7B Chat"),
    Case("mistral", "fixture:mistral-v1", name="Mistral 7B Instruct v0.2"),
    Case("vicuna", "fixture:vicuna", name="Vicuna 7B v1.5"),
    Case("alpaca", "fixture:alpaca", name="Alpaca 7B"),
    Case("zephyr", "fixture:zephyr", name="Zephyr 7B Beta"),
    Case(
        "falcon",
        "fixture:falcon",
        arch="falcon",
        name="Falcon 7B Instruct",
        bos=None,
        eos="<|endoftext|>",
        add_bos=False,
    ),
    Case("openchat", "fixture:openchat", name="OpenChat 3.5", eos="<|end_of_turn|>"),
    Case(
        "starcoder2",
        "fixture:starcoder2",
        arch="starcoder2",
        name="StarCoder2 15B Instruct",
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        add_bos=False,
    ),
    Case(
        "gemma",
        "corpus:google-gemma-2-2b-it",
        arch="gemma2",
        name="Gemma 2 2b It",
        bos="<bos>",
        eos="<eos>",
        eot="<end_of_turn>",
    ),
    Case(
        "gemma3",
        "fixture:gemma3",
        arch="gemma3",
        name="Gemma 3 4b It",
        bos="<bos>",
        eos="<eos>",
        eot="<end_of_turn>",
    ),
    Case(
        "phi3",
        "corpus:microsoft-Phi-3.5-mini-instruct",
        arch="phi3",
        name="Phi 3.5 Mini Instruct",
        eos="<|endoftext|>",
        eot="<|end|>",
    ),
    Case("phi3-legacy", "vocab:phi-3"),
    Case(
        "phi4",
        "fixture:phi4",
        arch="phi3",
        name="Phi 4",
        bos="<|endoftext|>",
        eos="<|im_end|>",
        add_bos=False,
    ),
    Case("command-r", "vocab:command-r"),
    Case(
        "deepseek-v2",
        "fixture:deepseek-v2",
        arch="deepseek2",
        name="DeepSeek V2 Lite Chat",
        **DEEPSEEK,
    ),
    Case(
        "deepseek-r1",
        "corpus:deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
        name="DeepSeek R1 Distill Llama 8B",
        **DEEPSEEK,
    ),
    Case("llama3", "fixture:llama3", name="Meta Llama 3 8B Instruct", **LLAMA3),
    Case(
        "llama3.1",
        "corpus:meta-llama-Llama-3.1-8B-Instruct",
        name="Meta Llama 3.1 8B Instruct",
        **LLAMA3,
    ),
    Case(
        "llama3.1",
        "corpus:meta-llama-Llama-3.3-70B-Instruct",
        name="Llama 3.3 70B Instruct",
        **LLAMA3,
    ),
    Case(
        "llama3.2",
        "corpus:meta-llama-Llama-3.2-3B-Instruct",
        name="Llama 3.2 3B Instruct",
        **LLAMA3,
    ),
    Case(
        "qwen2.5",
        "corpus:Qwen-Qwen2.5-7B-Instruct",
        arch="qwen2",
        name="Qwen2.5 7B Instruct",
        **CHATML,
    ),
    Case("qwq", "corpus:Qwen-QwQ-32B", arch="qwen2", name="QwQ 32B", **CHATML),
    Case("qwen3", "corpus:Qwen-Qwen3-0.6B", arch="qwen3", name="Qwen3 0.6B", **CHATML),
    Case("smollm3", "corpus:HuggingFaceTB-SmolLM3-3B", arch="smollm3", name="SmolLM3 3B", **CHATML),
    Case(
        "deepseek-v3",
        "corpus:deepseek-ai-DeepSeek-V3.1",
        arch="deepseek2",
        name="DeepSeek V3.1",
        **DEEPSEEK,
    ),
    Case(
        "granite3",
        "corpus:ibm-granite-granite-3.3-2B-Instruct",
        arch="granite",
        name="Granite 3.3 2b Instruct",
        bos="<|end_of_text|>",
        eos="<|end_of_text|>",
        add_bos=False,
    ),
    Case(
        "mistral-v3",
        "corpus:mistralai-Mistral-Nemo-Instruct-2407",
        name="Mistral Nemo Instruct 2407",
    ),
    Case(
        "mistral-v7",
        "corpus:Mistral-Small-3.2-24B-Instruct-2506",
        name="Mistral Small 3.2 24B Instruct 2506",
    ),
    Case(
        "hermes",
        "corpus:NousResearch-Hermes-3-Llama-3.1-8B-tool_use",
        name="Hermes 3 Llama 3.1 8B",
        bos="<|begin_of_text|>",
        eos="<|im_end|>",
        extra_tokens=["<|im_start|>", "<|end_of_text|>"],
    ),
    Case("chatml", "fixture:chatml", arch="qwen2", name="OpenHermes 2.5 Mistral 7B", **CHATML),
    Case("chatml", "fixture:smollm2", name="SmolLM2 1.7B Instruct", **CHATML),
    Case("chatml", "vocab:qwen2"),
]

CHAT_CASES = list(CASES)
