"""The candidate TEMPLATEs a plan tries: each rendered into a Modelfile as data, then verified.

:func:`choose_template` runs the rules :mod:`.plan` documents (the detected family, other
families whose signatures match, a synthesised template; a plain ``{{ .Prompt }}`` for a base
model) and returns the chosen candidate with every attempt and its outcome.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ForgeError, VerificationError
from ..families.detect import PLAIN, Detection
from ..families.params import merge_parameters
from ..families.registry import Family, get_family, render_family_template
from ..families.stops import StopChoice, choose_stops
from ..fidelity.builtin_renderers import builtin_for
from ..fidelity.compare import chat_template_capabilities, verify_template
from ..fidelity.jinja import render_chat_template
from ..fidelity.synthesis import synthesize_template
from ..gguf import GGUFFile, GGUFInfo
from ..modelfile import Modelfile
from .targets import Target, check_file_name, from_value

# --- rendering ------------------------------------------------------------------------------


class PlanContext(BaseModel):
    """What every candidate Modelfile of one plan shares."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    info: Any
    source: Target
    modelfile_dir: Path | None
    num_ctx: int
    sampling: dict[str, Any]
    user_params: dict[str, Any]
    user_stops: list[str]


def _from_values(ctx: PlanContext) -> list[str]:
    """FROM values: the weights (every shard, in order), then the projector."""
    weights = [from_value(p, ctx.modelfile_dir) for p in ctx.source.weights]
    projector = (
        [from_value(ctx.source.projector, ctx.modelfile_dir)] if ctx.source.projector else []
    )
    values = [*weights, *projector]
    for value, role in zip(
        values,
        ["model"] + ["shard"] * (len(weights) - 1) + ["projector"] * len(projector),
        strict=True,
    ):
        check_file_name(value, role)
    return values


def _special_text(info: GGUFInfo, kind: str) -> str:
    token = info.special_tokens.get(kind)
    return token.text if token is not None and token.text else ""


def family_default_system(family: Family, info: GGUFInfo) -> str | None:
    """The family's default SYSTEM; with ``default_system_pattern``, the one the GGUF's own template builds in."""
    if family.default_system_pattern and info.chat_template:
        try:
            text = render_chat_template(
                info.chat_template,
                [{"role": "user", "content": "qzxUxzq"}],
                add_generation_prompt=True,
                bos_token=_special_text(info, "bos"),
                eos_token=_special_text(info, "eos"),
            )
        except ForgeError:
            return family.default_system
        bos = _special_text(info, "bos")
        if bos and text.startswith(bos):
            text = text[len(bos) :]
        match = re.search(family.default_system_pattern, text, re.S)
        if match and match.group(1).strip():
            return match.group(1)
        return family.default_system
    return family.default_system


def _stop_list(stops: StopChoice, ctx: PlanContext) -> list[str]:
    return list(dict.fromkeys([*stops.stops, *ctx.user_stops]))


def render_family(family: Family, ctx: PlanContext, stops: StopChoice) -> Modelfile:
    """The Modelfile for ``family`` and this model, built as data.

    The family contributes only its Go TEMPLATE (token texts written by
    :func:`~.registry.go_text`) and its declared defaults; FROM values, SYSTEM, stops and
    parameters are fields of the typed Modelfile, never text.
    """

    info = ctx.info
    template = render_family_template(
        family,
        bos_token=_special_text(info, "bos"),
        eos_token=_special_text(info, "eos"),
        add_bos_token=bool(info.add_bos_token),
    )
    all_stops = _stop_list(stops, ctx)
    params: dict[str, Any] = {"stop": all_stops} if all_stops else {}
    params["num_ctx"] = ctx.num_ctx
    params.update(merge_parameters(ctx.sampling, family, ctx.user_params))
    return Modelfile(
        from_=_from_values(ctx),
        template=template,
        system=family_default_system(family, info),
        parameters=params,
        base_dir=ctx.modelfile_dir,
    )


def _synth_modelfile(
    go_template: str | None, system: str | None, ctx: PlanContext, stops: StopChoice
) -> Modelfile:

    params: dict[str, Any] = {
        "num_ctx": ctx.num_ctx,
        **merge_parameters(ctx.sampling, None, ctx.user_params),
    }
    all_stops = _stop_list(stops, ctx)
    if all_stops:
        params["stop"] = all_stops
    return Modelfile(
        from_=_from_values(ctx),
        template=go_template,
        system=system,
        parameters=params,
        base_dir=ctx.modelfile_dir,
    )


# --- verification ---------------------------------------------------------------------------


def _verify(go_template: str, system: str | None, info: GGUFInfo) -> Any:

    tokens = {kind: tok.text for kind, tok in info.special_tokens.items() if tok.text}
    return verify_template(
        go_template,
        system,
        info.chat_template or "",
        bos_token=tokens.get("bos", ""),
        eos_token=tokens.get("eos", ""),
        add_bos_token=bool(info.add_bos_token),
        special_tokens=tokens,
    )


def report_summary(report: Any) -> str:
    """'7/7 conversations match byte for byte (3 skipped: ...)' or the first failure."""
    results = list(getattr(report, "results", []) or [])
    compared = [r for r in results if r.skipped_reason is None]
    passed = [r for r in compared if r.matched]
    skipped = [r for r in results if r.skipped_reason is not None]
    text = f"{len(passed)}/{len(compared)} conversations match byte for byte"
    if skipped:
        reasons = sorted({r.skipped_reason for r in skipped})
        text += f" ({len(skipped)} skipped: {'; '.join(reasons)})"
    failed = [r for r in compared if not r.matched]
    if failed:
        first = failed[0]
        if first.error:
            text += f"; first failure {first.name}: {first.error}"
        elif first.first_difference is not None:
            d = first.first_difference
            text += (
                f"; first failure {first.name} at line {d.line} col {d.column}: "
                f"expected {d.expected_context!r}, got {d.actual_context!r}"
            )
    return text


# --- the build ------------------------------------------------------------------------------


class Attempt(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    label: str
    modelfile: Any
    family: Family | None
    stops: StopChoice
    report: Any = None
    error: str | None = None

    @property
    def matched(self) -> bool:
        return self.report is not None and bool(self.report.matched)

    def outcome(self) -> str:
        if self.error:
            return f"{self.label}: {self.error}"
        return (
            f"{self.label}: "
            + ("verified, " if self.matched else "does not verify, ")
            + report_summary(self.report)
        )


def _capabilities(chat_template: str) -> set[str]:

    return chat_template_capabilities(chat_template)


def _lost(attempt: Attempt, caps: set[str]) -> bool:
    """True when the model's chat template has tools but the attempt's Go template does not."""
    template = attempt.modelfile.template if attempt.modelfile is not None else ""
    return "tools" in caps and ".Tools" not in (template or "")


def _renders_itself(info: GGUFInfo) -> bool:
    """Ollama's create sets RENDERER/PARSER for this architecture (fidelity.builtin_renderers)."""
    return builtin_for(info.architecture) is not None


def _candidate_families(detection: Detection, registry: Mapping[str, Family]) -> list[Family]:
    names: list[str] = []
    if detection.family and detection.family != PLAIN:
        names.append(detection.family)
    if detection.rule != "override":
        names += [c.family for c in detection.candidates if c.rule == "chat_template_signature"]
    return [registry[n] for n in dict.fromkeys(names) if n in registry]


def _try_family(family: Family, ctx: PlanContext, gguf: GGUFFile) -> Attempt:
    stops = choose_stops(ctx.info, gguf, family=family)
    modelfile = render_family(family, ctx, stops)
    attempt = Attempt(
        label=f"family {family.name}", modelfile=modelfile, family=family, stops=stops
    )
    try:
        attempt.report = _verify(modelfile.template or "", modelfile.system, ctx.info)
    except ForgeError as exc:
        attempt.error = f"verification could not run: {exc.message}"
    return attempt


def _try_synthesis(ctx: PlanContext, gguf: GGUFFile) -> Attempt | None:

    info = ctx.info
    try:
        synth = synthesize_template(
            info.chat_template or "",
            bos_token=_special_text(info, "bos"),
            eos_token=_special_text(info, "eos"),
            add_bos_token=bool(info.add_bos_token),
        )
    except ForgeError as exc:
        return Attempt(
            label="synthesized template",
            modelfile=None,
            family=None,
            stops=StopChoice(),
            error=f"synthesis failed: {exc.message}",
        )
    if synth is None:
        return None
    stops = choose_stops(
        info, gguf, family=None, extra=synth.stop, extra_source="synthesized template"
    )
    modelfile = _synth_modelfile(synth.go_template, synth.default_system, ctx, stops)
    attempt = Attempt(label="synthesized template", modelfile=modelfile, family=None, stops=stops)
    try:
        attempt.report = _verify(synth.go_template, synth.default_system, info)
    except ForgeError as exc:
        attempt.error = f"verification could not run: {exc.message}"
    return attempt


class TemplateChoice(BaseModel):
    """The candidate a plan keeps, how it was judged, and every attempt."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chosen: Attempt
    verified: bool | None = Field(description="None when there was nothing to verify against")
    verification: str
    attempts: list[Attempt] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def choose_template(
    ctx: PlanContext,
    gguf: GGUFFile,
    detection: Detection,
    registry: Mapping[str, Family],
    chosen_family: Family | None,
    *,
    template_path: str,
    force: bool,
) -> TemplateChoice:
    """The first verified candidate (families, then synthesis); see :mod:`.plan` for the rules."""
    info = ctx.info
    warn: list[str] = []
    attempts: list[Attempt] = []
    if not info.chat_template:
        fam = chosen_family if chosen_family is not None else get_family(PLAIN, registry)
        stops = choose_stops(info, gguf, family=fam)
        modelfile = render_family(fam, ctx, stops)
        if detection.rule == "override":
            verification = (
                f"family {fam.name} as requested; UNVERIFIED: the GGUF has no chat template to "
                "verify against"
            )
            warn.append(
                f"{ctx.source.entry.name} has no chat template: the {fam.name} template cannot be verified"
            )
        else:
            verification = (
                "plain {{ .Prompt }}: the GGUF has no chat template (base model), nothing to verify"
            )
            hint = (
                f" If it is a chat model, pass --family {detection.suggested}."
                if detection.suggested
                else " If it is a chat model, pass --family NAME (forge families lists them)."
            )
            warn.append(
                f"{ctx.source.entry.name} has no chat template: writing a plain completion template "
                "({{ .Prompt }}); a chat model would ramble with it." + hint
            )
        builtin = builtin_for(info.architecture)
        if (
            builtin is not None
        ):  # create's auto-set wins over this TEMPLATE (fidelity.builtin_renderers)
            warn.append(
                f"Ollama {'.'.join(map(str, builtin.since))}+ gives {info.architecture} models "
                f"RENDERER {builtin.renderer} / PARSER {builtin.parser} at create: its built-in "
                f"renderer, not this {fam.name} template, builds the prompt there"
            )
        chosen = Attempt(label=f"family {fam.name}", modelfile=modelfile, family=fam, stops=stops)
        verified: bool | None = None
    else:
        caps = _capabilities(info.chat_template)
        for fam in _candidate_families(detection, registry):
            attempt = _try_family(fam, ctx, gguf)
            attempts.append(attempt)
            if attempt.matched and not _lost(attempt, caps):
                break
        if (
            not any(a.matched and not _lost(a, caps) for a in attempts)
            and detection.rule != "override"
        ):
            synth = _try_synthesis(ctx, gguf)
            if synth is not None:
                attempts.append(synth)
        # A template that verifies but drops a capability the model has (tools) ranks last.
        winners = sorted((a for a in attempts if a.matched), key=lambda a: _lost(a, caps))
        if winners:
            chosen, verified = winners[0], True
            verification = f"{chosen.label}, verified against the GGUF's chat template: {report_summary(chosen.report)}"
            if _lost(chosen, caps):
                warn.append(
                    "the model's chat template supports tools, but no verified Go template keeps them: "
                    "Ollama will refuse tool calls for this model (v0.30+ may prefer the native template)"
                )
        else:
            usable = [a for a in attempts if a.modelfile is not None]
            report = next((a.report for a in attempts if a.report is not None), None)
            tried = (
                "; ".join(a.outcome() for a in attempts)
                or "no family matched and synthesis found no template"
            )
            if template_path == "native" or (
                template_path == "auto" and _renders_itself(info)
            ):  # the model's own template (or Ollama's built-in renderer) needs no Go counterpart
                stops = choose_stops(info, gguf, family=None)
                usable = [
                    Attempt(
                        label="native",
                        modelfile=_synth_modelfile(None, None, ctx, stops),
                        family=None,
                        stops=stops,
                    )
                ]
            elif not force or not usable:
                raise VerificationError(
                    f"No template reproduces {ctx.source.entry.name}'s own chat template. Tried: {tried}",
                    hint=(
                        "Run forge verify for the full report, pick a family with --family, or write it anyway "
                        "(marked unverified) with --force."
                        if usable
                        else "Pick a family with --family NAME, or add one to your families folder."
                    ),
                    report=report,
                    attempts=[a.outcome() for a in attempts],
                )
            chosen, verified = usable[0], False
            verification = f"UNVERIFIED (--force): {chosen.outcome()}"
            if chosen.label == "native":
                verified = None  # nothing of forge's to verify: the server renders the model's own template
                verification = (
                    f"no Go TEMPLATE reproduces the chat template (tried {tried}): none written"
                )
            else:
                warn.append(
                    f"writing an unverified template ({chosen.label}); prompts may differ from the "
                    "model's own chat template"
                )
    return TemplateChoice(
        chosen=chosen,
        verified=verified,
        verification=verification,
        attempts=attempts,
        warnings=warn,
    )
