"""Template fidelity on real chat templates published by model authors, plain and with tools/thinking.

For every template in ``tests/data/chat_templates/`` this builds a GGUF-free evaluation: the
template plus plausible BOS/EOS texts read from its own text, then takes the Go TEMPLATE forge
would write -- the family's template when :mod:`ollama_forge.families` detects a family and it
verifies, else the synthesised one -- and checks it with :func:`ollama_forge.fidelity.compare.verify_template`
on the whole conversation suite (byte for byte, via the real ``render_prompt``).

    .venv/bin/python benchmarks/fidelity.py [--json] [--only NAME]

For templates that support tools or thinking it also runs the tool/thinking suite
(:mod:`ollama_forge.fidelity.conversations_tools`: tools offered with a nested-object parameter,
one and two calls with results, the follow-up, reasoning in history, think on/off) through the
path :mod:`ollama_forge.fidelity.path_choice` chooses, and reports the share of those templates
for which Ollama >= 0.30 builds the model's own prompt, the Go TEMPLATE's identity (what older
servers get) and how many tool calls Ollama's parser recovers on the Go path.

Prints one line per template, the fidelity percentage and what fails and why. For comparison
it states Ollama's own detection figure *as quoted* from the reference sheet (ollama.md §3.6):
forge does not have Ollama's 37-entry Jinja index, so that figure is not re-measured here.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder is sys.path[0]; a sibling benchmark module (e.g. inspect.py) would
# then shadow the standard library. Import from the repository root instead.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402

from pydantic import BaseModel, Field  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "chat_templates"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OLLAMA_QUOTE = (
    "Ollama's own import detection (Levenshtein < 100 against its 37 known Jinja templates, ollama.md §3.6) "
    "matches, among the real templates the reference measured, only Llama-3.1-8B-Instruct (-> llama3-instruct, "
    "no tools) and gemma-2-2b-it (-> gemma-instruct); Qwen2.5/3, DeepSeek-R1-distill, Llama-3.2, Mistral-Nemo/"
    "Small-3.2, Phi-3.5/4, Granite 3.3/4, Gemma 4, gpt-oss, SmolLM3, Hermes-3 and Command-R7B miss. "
    "Quoted, not measured here."
)

# (marker in the template text, bos, eos): the special tokens such models really have
_KNOWN_TOKENS: list[tuple[str, str, str]] = [
    ("<|start_header_id|>", "<|begin_of_text|>", "<|eot_id|>"),
    ("<start_of_turn>", "<bos>", "<eos>"),
    ("<|turn>", "<bos>", "<eos>"),
    ("<｜User｜>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("[INST]", "<s>", "</s>"),
    ("<|START_OF_TURN_TOKEN|>", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    ("<|start_of_role|>", "<|start_of_role|>", "<|end_of_text|>"),
    ("<|im_start|>", "<|startoftext|>", "<|im_end|>"),
    ("<|user|>", "<s>", "<|end|>"),
]


class ToolOutcome(BaseModel):
    """A tool/thinking-capable template: what Ollama >= 0.30 builds from the Modelfile forge writes."""

    capabilities: list[str]
    outcome: str = Field(
        description="go_identical | native_deliberate | go_unfaithful | no_template"
    )
    template_path: str | None = Field(
        default=None, description="go_template | native_jinja (what the Modelfile carries)"
    )
    new_path: str | None = Field(default=None, description="the path Ollama >= 0.30 takes")
    go_identical: bool = Field(
        default=False,
        description="the Go TEMPLATE renders every tool/thinking conversation "
        "byte for byte (what Ollama < 0.30 gets)",
    )
    conversations: dict[str, str] = Field(
        default_factory=dict,
        description="name -> same | differs | refused | "
        "error | skipped, on the Go path of the full TEMPLATE",
    )
    round_trips: dict[str, bool] = Field(
        default_factory=dict, description="calls recovered by Ollama's parser"
    )
    tool_tag: str | None = None
    first_difference: str | None = None

    @property
    def faithful(self) -> bool:
        return self.outcome in ("go_identical", "native_deliberate")


class TemplateOutcome(BaseModel):
    name: str
    ok: bool
    source: str = Field(description="family:<name> | synthesized | none")
    compared: int = 0
    skipped: list[str] = Field(default_factory=list)
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)
    tools: ToolOutcome | None = Field(
        default=None, description="set for templates showing tools or thinking"
    )


class FidelityReport(BaseModel):
    total: int
    passed: int
    percent: float
    outcomes: list[TemplateOutcome]
    ollama_detection: str = OLLAMA_QUOTE

    @property
    def tool_outcomes(self) -> list[ToolOutcome]:
        return [o.tools for o in self.outcomes if o.tools is not None]

    def tool_summary(self) -> dict[str, Any]:
        """The tool/thinking figures: share faithful on Ollama >= 0.30, Go-path identity, round trips."""
        rows = self.tool_outcomes
        faithful = sum(t.faithful for t in rows)
        states: dict[str, int] = {}
        for t in rows:
            for state in t.conversations.values():
                states[state] = states.get(state, 0) + 1
        return {
            "templates": len(rows),
            "faithful_on_0_30": faithful,
            "percent": round(100.0 * faithful / len(rows), 1) if rows else 0.0,
            "outcomes": {
                k: sum(t.outcome == k for t in rows)
                for k in ("go_identical", "native_deliberate", "go_unfaithful", "no_template")
            },
            "go_identical": sum(t.go_identical for t in rows),
            "modelfile_without_template": sum(t.template_path == "native_jinja" for t in rows),
            "round_trips_recovered": sum(v for t in rows for v in t.round_trips.values()),
            "round_trips": sum(len(t.round_trips) for t in rows),
            "conversation_outcomes": states,
        }

    @property
    def failures(self) -> dict[str, str]:
        return {o.name: o.reason or "" for o in self.outcomes if not o.ok}


def plausible_tokens(template: str) -> tuple[str, str, bool]:
    """(bos, eos, add_bos_token) a GGUF of this model would plausibly carry."""
    bos, eos = "<s>", "</s>"
    for marker, known_bos, known_eos in _KNOWN_TOKENS:
        if marker in template:
            bos, eos = known_bos, known_eos
            break
    uses_bos = bool(re.search(r"\bbos_token\b", template))
    return bos, eos, uses_bos


def _family_attempt(
    template: str, bos: str, eos: str, add_bos: bool, name: str
) -> tuple[str, str, str | None] | None:
    """(label, go_template, system) of the detected family's template, or None."""
    try:
        from ollama_forge.families import detect_family, load_families
        from ollama_forge.families.detect import PLAIN
        from ollama_forge.families.registry import render_family_body
        from ollama_forge.gguf.info import GGUFInfo
        from ollama_forge.modelfile import parse_modelfile
    except (ImportError, SyntaxError) as exc:  # the families package is optional for this benchmark
        print(
            f"warning: families unavailable ({type(exc).__name__}: {exc}); synthesis only",
            file=sys.stderr,
        )
        return None
    registry = load_families()
    info = GGUFInfo.model_validate(
        {
            "path": f"{name}.gguf",
            "file_size": None,
            "version": 3,
            "alignment": 32,
            "data_offset": 0,
            "header_size": 0,
            "tensor_count": 0,
            "tensor_bytes": 0,
            "chat_template": template,
            "name": name,
            "special_tokens": {"bos": {"id": 1, "text": bos}, "eos": {"id": 2, "text": eos}},
            "add_bos_token": add_bos,
        }
    )
    detection = detect_family(info, families=registry)
    if not detection.family or detection.family == PLAIN or detection.family not in registry:
        return None
    family = registry[detection.family]
    try:  # the families package derives some default SYSTEMs from the model's own template
        from ollama_forge.workflows.plan_candidates import family_default_system

        system = family_default_system(family, info)
    except ImportError:
        system = family.default_system
    text = render_family_body(
        family,
        {
            "model_path": "/models/model.gguf",
            "extra_from": [],
            "projector_path": None,
            "stops": [],
            "num_ctx": 4096,
            "system": system,
            "params": {},
            "bos_token": bos,
            "eos_token": eos,
            "add_bos_token": add_bos,
            "bos_prefix": "" if add_bos else bos,
        },
    )
    modelfile = parse_modelfile(text)
    if not modelfile.template:
        return None
    return f"family:{family.name}", modelfile.template, modelfile.system


def evaluate_template(name: str, template: str, *, families: bool = True) -> TemplateOutcome:
    from ollama_forge.errors import ForgeError
    from ollama_forge.fidelity.compare import verify_template
    from ollama_forge.fidelity.synthesis import synthesis_failure_reason, synthesize_template

    bos, eos, add_bos = plausible_tokens(template)
    reasons: list[str] = []
    attempts: list[tuple[str, str, str | None, list[str]]] = []
    try:
        family = _family_attempt(template, bos, eos, add_bos, name) if families else None
    except ForgeError as exc:
        family = None
        reasons.append(f"family template failed: {exc.message}")
    if family is not None:
        attempts.append((*family, []))
    try:
        synth = synthesize_template(template, bos_token=bos, eos_token=eos, add_bos_token=add_bos)
    except ForgeError as exc:
        synth = None
        reasons.append(f"synthesis refused the template: {exc.message}")
    if synth is not None:
        attempts.append(("synthesized", synth.go_template, synth.default_system, synth.notes))
    elif not any("synthesis refused" in r for r in reasons):
        reasons.append(
            "synthesis: "
            + synthesis_failure_reason(
                template, bos_token=bos, eos_token=eos, add_bos_token=add_bos
            )
        )
    for label, go_template, system, notes in attempts:
        try:
            report = verify_template(
                go_template, system, template, bos_token=bos, eos_token=eos, add_bos_token=add_bos
            )
        except ForgeError as exc:
            reasons.append(f"{label}: verification failed to run: {exc.message}")
            continue
        skipped = [f"{r.name}: {r.skipped_reason}" for r in report.results if r.skipped_reason]
        if report.matched:
            return TemplateOutcome(
                name=name,
                ok=True,
                source=label,
                compared=len(report.compared),
                skipped=skipped,
                notes=notes,
                tools=evaluate_tools(template, go_template, system, label, bos, eos, add_bos),
            )
        bad = report.mismatches
        if bad:
            first = bad[0]
            detail = first.error or (
                first.first_difference.expected_context
                + " vs "
                + first.first_difference.actual_context
                if first.first_difference
                else ""
            )
            reasons.append(
                f"{label}: {len(bad)}/{len(report.compared)} differ, first {first.name}: {detail}"
            )
        else:
            reasons.append(
                f"{label}: the model's template renders none of the suite ({'; '.join(skipped)[:200]})"
            )
    return TemplateOutcome(
        name=name,
        ok=False,
        source="none",
        reason=" | ".join(reasons) or "no candidate",
        tools=evaluate_tools(template, None, None, "none", bos, eos, add_bos),
    )


def _state(result: Any) -> str:
    if result.identical:
        return "same"
    if result.skipped_reason:
        return "skipped"
    return "refused" if result.refused else "error" if result.error else "differs"


def evaluate_tools(
    template: str,
    go_template: str | None,
    system: str | None,
    label: str,
    bos: str,
    eos: str,
    add_bos: bool,
) -> ToolOutcome | None:
    """The planner's path choice (fidelity.path_choice, default "auto") for a tool/thinking template.

    faithful = the Go TEMPLATE Ollama >= 0.30 uses renders every tool/thinking conversation byte
    for byte (and its calls parse), or the Modelfile deliberately lets it render the model's own
    Jinja (no TEMPLATE, or a TEMPLATE it bypasses, stated in the Modelfile).
    """
    from ollama_forge.errors import ForgeError
    from ollama_forge.fidelity.compare import chat_template_capabilities
    from ollama_forge.fidelity.path_choice import choose_for_build, choose_path
    from ollama_forge.fidelity.server_path import PromptPath

    caps = chat_template_capabilities(template) & {"tools", "thinking"}
    if not caps:
        return None
    out = ToolOutcome(capabilities=sorted(caps), outcome="no_template")
    if go_template is None:
        return out
    info = SimpleNamespace(
        chat_template=template,
        add_bos_token=add_bos,
        architecture=None,
        special_tokens={
            kind: SimpleNamespace(text=text) for kind, text in (("bos", bos), ("eos", eos)) if text
        },
    )
    try:  # exactly what the planner does with the chosen TEMPLATE ("auto")
        choice = choose_for_build(SimpleNamespace(template=go_template, system=system), info, label)
    except ForgeError as exc:
        out.first_difference = f"the comparison failed: {exc.message}"
        return out
    full = (
        choice
        if not choice.template_changed and choice.tool_suite is not None
        else choose_path(
            go_template,
            system,
            template,
            bos_token=bos,
            eos_token=eos,
            add_bos_token=add_bos,
            requested="go",
        )
    )
    suite = (
        full.tool_suite
    )  # the TEMPLATE forge synthesises or the family's, in full (--template-path go)
    if suite is not None:
        out.conversations = {r.name: _state(r) for r in suite.results}
        out.round_trips = {
            t.conversation: t.recovered for t in suite.round_trips if t.emitted is not None
        }
        out.tool_tag = next((t.tag for t in suite.round_trips if t.tag), None)
        bad = next((r for r in suite.compared if not r.identical), None)
        if bad is not None:
            out.first_difference = f"{bad.name}: " + (
                bad.refused or bad.error or f"{bad.expected_context!r} vs {bad.actual_context!r}"
            )
    out.go_identical = bool(full.go_faithful)
    out.template_path = choice.template_path
    out.new_path = choice.new_servers.path.value
    if choice.new_servers.path is PromptPath.NATIVE_JINJA:
        out.outcome = "native_deliberate"
    elif choice.faithful_on_new:
        out.outcome = "go_identical"
    else:
        out.outcome = "go_unfaithful"
    return out


def evaluate_corpus(
    corpus: Path = CORPUS, only: str | None = None, *, families: bool = True
) -> FidelityReport:
    outcomes = [
        evaluate_template(path.stem, path.read_text(encoding="utf-8"), families=families)
        for path in sorted(corpus.glob("*.jinja"))
        if only is None or only in path.stem
    ]
    passed = sum(o.ok for o in outcomes)
    return FidelityReport(
        total=len(outcomes),
        passed=passed,
        percent=round(100.0 * passed / len(outcomes), 1) if outcomes else 0.0,
        outcomes=outcomes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", default=None, help="evaluate templates whose name contains this")
    parser.add_argument(
        "--synthesis-only", action="store_true", help="ignore family templates (synthesis alone)"
    )
    args = parser.parse_args(argv)
    report = evaluate_corpus(only=args.only, families=not args.synthesis_only)
    if args.json:
        print(
            json.dumps(
                {**report.model_dump(mode="json"), "tool_summary": report.tool_summary()},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for o in report.outcomes:
        mark = "PASS" if o.ok else "FAIL"
        extra = f"{o.compared} conversations" + (f", {len(o.skipped)} skipped" if o.skipped else "")
        print(f"{mark}  {o.name:<50} {o.source:<22} {extra if o.ok else ''}")
        if not o.ok:
            print(f"        why: {o.reason}")
    tools_lost = sum(
        1 for o in report.outcomes if o.ok and any("they are lost" in s for s in o.skipped)
    )
    print()
    print(
        f"fidelity: {report.passed}/{report.total} = {report.percent}% of real chat templates render "
        "byte for byte on the conversation suite"
    )
    print(
        f"  of the passing ones, {tools_lost} verified without tool conversations (the Go template has no tool "
        "support while the model's template has)"
    )
    print(f"comparison: {report.ollama_detection}")
    print()
    for o in report.outcomes:
        if o.tools is not None and not o.tools.faithful:
            print(
                f"TOOLS {o.tools.outcome:<14} {o.name:<46} {o.tools.first_difference or ''}"[:220]
            )
    summary = report.tool_summary()
    print(
        f"tools/thinking: {summary['faithful_on_0_30']}/{summary['templates']} = {summary['percent']}% of tool/"
        "thinking-capable templates get the model's own prompt on Ollama >= 0.30 (Go TEMPLATE byte-identical on "
        "the tool/thinking suite, or the GGUF's Jinja chosen deliberately)"
    )
    print(
        f"  {summary['outcomes']}; Go TEMPLATE byte-identical on the whole tool/thinking suite (Ollama < 0.30): "
        f"{summary['go_identical']}; tool calls recovered by Ollama's parser on the Go path: "
        f"{summary['round_trips_recovered']}/{summary['round_trips']}"
    )
    print(f"  conversations on the Go path: {summary['conversation_outcomes']}")
    print(
        f"  Modelfiles without TEMPLATE (Ollama < 0.30 would chat unformatted): "
        f"{summary['modelfile_without_template']}; the others keep a verified TEMPLATE for older servers"
    )
    kept = summary["outcomes"]["go_unfaithful"]
    if kept:
        print(
            f"  the {kept} go_unfaithful ones are curated family TEMPLATEs 'auto' keeps (with a warning); "
            f"--template-path native makes them native too: {summary['faithful_on_0_30'] + kept}/"
            f"{summary['templates']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
