"""``build_modelfile``: the Modelfile a careful expert would write for a GGUF.

Template choice (recorded in the Modelfile's header comments):

1. the detected (or ``--family``) family's template, if it **verifies** against the GGUF's own
   chat template (:func:`ollama_forge.fidelity.compare.verify_template`, byte for byte on the suite);
   other families whose signatures also match are tried next;
2. else a template synthesised from the chat template, if it verifies;
3. else :class:`VerificationError` carrying the report. ``force=True`` writes the best candidate
   anyway, marked UNVERIFIED in the comments.

A GGUF without a chat template (a base model) gets ``{{ .Prompt }}`` and a warning: nothing to
verify against. Stops come from the model (:mod:`.stops`), ``num_ctx`` is chosen on purpose
(:mod:`.context`).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..errors import ForgeError, UsageError, VerificationError
from ..families.context import ContextChoice, choose_num_ctx
from ..families.detect import PLAIN, Detection, detect_family
from ..families.params import merge_parameters, sampling_defaults, user_stops
from ..families.registry import Family, get_family, load_families, render_family_template
from ..families.stops import StopChoice, choose_stops
from ..fidelity.compare import chat_template_capabilities, verify_template
from ..fidelity.jinja import render_chat_template
from ..fidelity.path_choice import choose_for_build
from ..fidelity.synthesis import synthesize_template
from ..gguf import open_gguf, read_gguf
from ..modelfile import Message, Modelfile, PlanRecord
from ..modelfile.provenance import FORGE_MARKER, user_messages_comment
from ..text import safe_text
from .targets import Target, check_file_name, from_value, resolve_target

if TYPE_CHECKING:
    from ..gguf import GGUFFile, GGUFInfo
    from ..modelfile import Modelfile


class BuildResult(BaseModel):
    """A Modelfile plus the reasoning behind it (the CLI prints the reasoning on stderr)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    modelfile: Any = Field(description="the ollama_forge.modelfile.Modelfile")
    source: Target
    detection: Detection
    family: str | None
    template_source: str = Field(description="'family:<name>', 'synthesized' or 'plain'")
    verified: bool | None = Field(
        description="None when there was no chat template to verify against"
    )
    verification: str
    report: Any = Field(default=None, description="the VerifyReport of the chosen template, if any")
    report_subject: tuple[str, str | None] | None = Field(
        default=None, description="the (TEMPLATE, SYSTEM) that report verified"
    )
    path_choice: Any = Field(
        default=None, description="fidelity.path_choice.PathChoice: the path per server version"
    )
    attempts: list[str] = Field(
        default_factory=list, description="templates tried, with their outcome"
    )
    stops: StopChoice
    context: ContextChoice
    warnings: list[str] = Field(default_factory=list)

    def explanation(self) -> list[str]:
        """Human lines: which family and why, the template outcome, stops, num_ctx."""
        lines = [f"family: {self.detection.summary()}"]
        lines += [f"  {e}" for e in self.detection.evidence]
        lines += [f"template: {self.verification}"]
        if self.path_choice is not None:  # which path each server generation takes (issue 16)
            lines.append(self.path_choice.summary())
        if len(self.attempts) > 1:
            lines += [f"  tried {a}" for a in self.attempts]
        if self.source.projector is not None:
            lines.append(f"projector: {self.source.projector.name} ({self.source.projector_note})")
        lines.append("stops: " + (", ".join(self.stops.evidence) or "none"))
        lines.append(f"num_ctx {self.context.num_ctx}: {self.context.reason}")
        return lines


# --- rendering ------------------------------------------------------------------------------


class _Context(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    info: Any
    source: Target
    modelfile_dir: Path | None
    num_ctx: int
    sampling: dict[str, Any]
    user_params: dict[str, Any]
    user_stops: list[str]


def _from_values(ctx: _Context) -> list[str]:
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


def _stop_list(stops: StopChoice, ctx: _Context) -> list[str]:
    return list(dict.fromkeys([*stops.stops, *ctx.user_stops]))


def render_family(family: Family, ctx: _Context, stops: StopChoice) -> Modelfile:
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
    go_template: str | None, system: str | None, ctx: _Context, stops: StopChoice
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


def _one_line(text: str) -> str:

    return safe_text(text, keep_newlines=False)


# --- the build ------------------------------------------------------------------------------


class _Attempt(BaseModel):
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


def _lost(attempt: _Attempt, caps: set[str]) -> bool:
    """True when the model's chat template has tools but the attempt's Go template does not."""
    template = attempt.modelfile.template if attempt.modelfile is not None else ""
    return "tools" in caps and ".Tools" not in (template or "")


def _renders_itself(info: GGUFInfo) -> bool:
    """Ollama's create sets RENDERER/PARSER for this architecture (fidelity.builtin_renderers)."""
    from ..fidelity.builtin_renderers import builtin_for

    return builtin_for(info.architecture) is not None


def _candidate_families(detection: Detection, registry: Mapping[str, Family]) -> list[Family]:
    names: list[str] = []
    if detection.family and detection.family != PLAIN:
        names.append(detection.family)
    if detection.rule != "override":
        names += [c.family for c in detection.candidates if c.rule == "chat_template_signature"]
    return [registry[n] for n in dict.fromkeys(names) if n in registry]


def _try_family(family: Family, ctx: _Context, gguf: GGUFFile) -> _Attempt:
    stops = choose_stops(ctx.info, gguf, family=family)
    modelfile = render_family(family, ctx, stops)
    attempt = _Attempt(
        label=f"family {family.name}", modelfile=modelfile, family=family, stops=stops
    )
    try:
        attempt.report = _verify(modelfile.template or "", modelfile.system, ctx.info)
    except ForgeError as exc:
        attempt.error = f"verification could not run: {exc.message}"
    return attempt


def _try_synthesis(ctx: _Context, gguf: GGUFFile) -> _Attempt | None:

    info = ctx.info
    try:
        synth = synthesize_template(
            info.chat_template or "",
            bos_token=_special_text(info, "bos"),
            eos_token=_special_text(info, "eos"),
            add_bos_token=bool(info.add_bos_token),
        )
    except ForgeError as exc:
        return _Attempt(
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
    attempt = _Attempt(label="synthesized template", modelfile=modelfile, family=None, stops=stops)
    try:
        attempt.report = _verify(synth.go_template, synth.default_system, info)
    except ForgeError as exc:
        attempt.error = f"verification could not run: {exc.message}"
    return attempt


def _family_comment(detection: Detection, chosen: Family | None) -> str:
    if chosen is not None and chosen.name == detection.family:
        return f"family: {detection.summary()}"
    if detection.family is None:
        return f"family: none ({detection.summary()})"
    return f"family: none used (detected {detection.summary()}; its template did not verify)"


def plan_modelfile(
    source: str | os.PathLike[str] | Target,
    family: str | None = None,
    system: str | None = None,
    params: Mapping[str, Any] | None = None,
    messages: Sequence[Any] | None = None,
    projector: str | os.PathLike[str] | None = None,
    num_ctx: int | None = None,
    force: bool = False,
    *,
    max_ctx: int | None = None,
    mem: int | str | None = None,
    families_dir: str | os.PathLike[str] | None = None,
    modelfile_dir: str | os.PathLike[str] | None = None,
    use_free_memory: bool = True,
    template_path: str = "auto",
) -> BuildResult:
    """Everything :func:`build_modelfile` does, returning the reasoning with the Modelfile."""

    resolved = gguf_target(source, projector)
    # One open of the model GGUF for the whole plan: its header (remembered for later steps of
    # the command, see gguf.read_gguf) and the lazy vocabulary the stops are looked up in.
    gguf = open_gguf(resolved.entry)
    try:
        info = gguf.info
        if info.is_projector:
            raise UsageError(
                f"{resolved.entry.name} is a multimodal projector (mmproj), not a model",
                hint="Pass the model GGUF and give this file with --projector.",
            )
        if resolved.projector is not None and not read_gguf(resolved.projector).is_projector:
            raise UsageError(
                f"{resolved.projector.name} is not a projector (general.type / clip metadata say otherwise)",
                hint="--projector takes the mmproj GGUF that belongs to the model.",
            )
        registry = load_families(families_dir)
        detection = detect_family(
            info,
            family=family,
            families=registry,
            names=[n for n in (resolved.repo, resolved.store_name) if n],
        )
        user_params = dict(params or {})
        requested_ctx = num_ctx if num_ctx is not None else user_params.pop("num_ctx", None)
        if requested_ctx is not None:
            from ..modelfile import validate_parameters

            requested_ctx = validate_parameters({"num_ctx": requested_ctx})[
                "num_ctx"
            ]  # "4096" -> 4096, "x" fails
        weights_bytes = (
            sum(p.stat().st_size for p in resolved.weights) if len(resolved.weights) > 1 else None
        )
        context = choose_num_ctx(
            info,
            requested=requested_ctx,
            max_ctx=max_ctx,
            mem=mem,
            weights_bytes=weights_bytes,
            use_free_memory=use_free_memory,
        )
        chosen_family = registry.get(detection.family) if detection.family else None
        sampling, param_notes = sampling_defaults(info)
        user_clean = {k: v for k, v in user_params.items() if k not in ("stop", "num_ctx")}
        merge_parameters({}, None, user_clean)  # validate the user's parameters before any work
        ctx = _Context(
            info=info,
            source=resolved,
            modelfile_dir=Path(modelfile_dir).absolute() if modelfile_dir else None,
            num_ctx=context.num_ctx,
            sampling=sampling,
            user_params=user_clean,
            user_stops=user_stops(params),
        )
        warn: list[str] = list(context.warnings)
        warn += [f"ignored the {note}" for note in resolved.ignored]
        attempts: list[_Attempt] = []
    except BaseException:
        gguf.close()
        raise

    with gguf:
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
                    f"{resolved.entry.name} has no chat template: the {fam.name} template cannot be verified"
                )
            else:
                verification = "plain {{ .Prompt }}: the GGUF has no chat template (base model), nothing to verify"
                hint = (
                    f" If it is a chat model, pass --family {detection.suggested}."
                    if detection.suggested
                    else " If it is a chat model, pass --family NAME (forge families lists them)."
                )
                warn.append(
                    f"{resolved.entry.name} has no chat template: writing a plain completion template "
                    "({{ .Prompt }}); a chat model would ramble with it." + hint
                )
            chosen = _Attempt(
                label=f"family {fam.name}", modelfile=modelfile, family=fam, stops=stops
            )
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
                if (
                    template_path == "native" or (template_path == "auto" and _renders_itself(info))
                ):  # the model's own template (or Ollama's built-in renderer) needs no Go counterpart
                    stops = choose_stops(info, gguf, family=None)
                    usable = [
                        _Attempt(
                            label="native",
                            modelfile=_synth_modelfile(None, None, ctx, stops),
                            family=None,
                            stops=stops,
                        )
                    ]
                elif not force or not usable:
                    raise VerificationError(
                        f"No template reproduces {resolved.entry.name}'s own chat template. Tried: {tried}",
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

    modelfile = chosen.modelfile
    template_source = (
        f"family:{chosen.family.name}"
        if chosen.family is not None
        else ("native" if chosen.label == "native" else "synthesized")
    )
    if chosen.family is not None and chosen.family.name == PLAIN:
        template_source = "plain"
    updates: dict[str, Any] = {}
    if system is not None:
        updates["system"] = system
    if messages:
        updates["messages"] = [
            m if isinstance(m, Message) else Message.model_validate(m) for m in messages
        ]
    params_out = dict(modelfile.parameters)
    params_out["num_ctx"] = context.num_ctx
    modelfile = (
        modelfile.with_updates(**updates, parameters=params_out)
        if updates or params_out
        else modelfile
    )
    choice = None
    if (
        info.chat_template
        and (modelfile.template or template_source == "native")
        and template_source != "plain"
    ):
        choice = choose_for_build(modelfile, info, template_source, template_path)  # type: ignore[arg-type]
        if (
            choice.template_path == "builtin_renderer"
        ):  # the pair from forge's allowlist, no TEMPLATE
            modelfile, template_source = (
                modelfile.with_updates(
                    template=None, system=system, renderer=choice.renderer, parser=choice.parser
                ),
                "builtin_renderer",
            )
        elif (
            choice.template_path == "native_jinja"
        ):  # the Jinja carries its own default system prompt
            modelfile, template_source = (
                modelfile.with_updates(template=None, system=system),
                "native",
            )
        elif choice.template_changed:  # the same prompts, minus what made Ollama >= 0.30 prefer it
            modelfile = modelfile.with_updates(template=choice.go_template)
        warn += choice.warnings

    comments = [
        f"{FORGE_MARKER} {__version__} for {resolved.entry.name}"
        + (f" (stored model {resolved.store_name})" if resolved.store_name else ""),
        _family_comment(detection, chosen.family),
    ]
    comments += [f"  {e}" for e in detection.evidence]
    comments.append(f"template: {verification}")
    comments += [f"  tried {a.outcome()}" for a in attempts if a is not chosen]
    comments += choice.comments if choice is not None else []
    if resolved.projector is not None:
        comments.append(f"projector: {resolved.projector.name} ({resolved.projector_note})")
    if system is not None:
        comments.append("SYSTEM: set by the user (replaces the family default)")
    if messages:
        comments.append(user_messages_comment(len(modelfile.messages)))
    comments.append("stops: " + (", ".join(chosen.stops.evidence) or "none"))
    if chosen.stops.rejected:
        comments.append("  left out: " + ", ".join(chosen.stops.rejected))
    comments.append(f"num_ctx {context.num_ctx}: {context.reason}")
    comments += [f"  {n}" for n in param_notes]
    comments += [f"WARNING: {w}" for w in warn]
    modelfile = modelfile.with_updates(comments=[_one_line(c) for c in comments])
    modelfile.render()  # refuses any value Ollama would read back as other instructions, before anyone uses it
    modelfile = modelfile.with_plan(
        PlanRecord(
            template_source=template_source,
            template_path=choice.template_path if choice is not None else None,
            store_name=resolved.store_name,
        )
    )

    return BuildResult(
        modelfile=modelfile,
        source=resolved,
        detection=detection,
        family=chosen.family.name if chosen.family else None,
        template_source=template_source,
        verified=verified,
        verification=verification,
        report=chosen.report,
        report_subject=(
            (chosen.modelfile.template or "", chosen.modelfile.system)
            if chosen.report is not None
            else None
        ),
        attempts=[a.outcome() for a in attempts],
        stops=chosen.stops,
        context=context,
        warnings=warn,
        path_choice=choice,
    )


def gguf_target(
    source: str | os.PathLike[str] | Target, projector: str | os.PathLike[str] | None = None
) -> Target:
    """The GGUF files a Modelfile is planned for: a GGUF path, a folder holding one, a stored name."""
    if isinstance(source, Target):
        if projector is not None and source.projector is None:
            raise UsageError(
                "--projector goes with a GGUF path or stored name, not a resolved target"
            )
        target = source
    else:
        target = resolve_target(
            source,
            accept=("gguf", "stored"),
            projector=projector,
            hint="Pass a path to a .gguf, or pull the model first: forge pull-gguf owner/repo",
        )
    if not target.weights:
        name = target.store_name or target.text
        raise UsageError(
            f"{name!r} has no model file to plan a Modelfile for",
            hint=f"Pull it again: forge pull-gguf {target.repo or 'owner/repo'} --name {name}",
        )
    return target


def build_modelfile(
    source: str | os.PathLike[str] | Target,
    family: str | None = None,
    system: str | None = None,
    params: Mapping[str, Any] | None = None,
    messages: Sequence[Any] | None = None,
    projector: str | os.PathLike[str] | None = None,
    num_ctx: int | None = None,
    force: bool = False,
    *,
    max_ctx: int | None = None,
    mem: int | str | None = None,
    families_dir: str | os.PathLike[str] | None = None,
    modelfile_dir: str | os.PathLike[str] | None = None,
    template_path: str = "auto",
) -> Modelfile:
    """The Modelfile for a GGUF path or stored model name (``.render()`` gives the text).

    ``template_path``: ``"auto"`` (the prompt Ollama >= 0.30 builds is the model's own where
    possible), ``"go"`` (always a Go TEMPLATE, for Ollama < 0.30) or ``"native"`` (no TEMPLATE).

    Warnings (no chat template, unverified template, context over budget) are issued with
    :func:`warnings.warn` and recorded in the Modelfile's comments.
    """
    result = plan_modelfile(
        source,
        family,
        system,
        params,
        messages,
        projector,
        num_ctx,
        force,
        max_ctx=max_ctx,
        mem=mem,
        families_dir=families_dir,
        modelfile_dir=modelfile_dir,
        template_path=template_path,
    )
    for message in result.warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    modelfile: Modelfile = result.modelfile
    return modelfile
