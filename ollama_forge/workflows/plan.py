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
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..errors import UsageError
from ..families.context import ContextChoice, choose_num_ctx
from ..families.detect import PLAIN, Detection, detect_family
from ..families.params import merge_parameters, sampling_defaults, user_stops
from ..families.registry import Family, load_families
from ..families.stops import StopChoice
from ..fidelity.path_choice import PathChoice, choose_for_build
from ..gguf import GGUFInfo, open_gguf, read_gguf
from ..modelfile import Message, Modelfile, PlanRecord
from ..modelfile.provenance import FORGE_MARKER, user_messages_comment
from ..text import safe_text
from .plan_candidates import PlanContext, TemplateChoice, choose_template
from .targets import Target, resolve_target

if TYPE_CHECKING:
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


def _one_line(text: str) -> str:
    return safe_text(text, keep_newlines=False)


def _family_comment(detection: Detection, chosen: Family | None) -> str:
    if chosen is not None and chosen.name == detection.family:
        return f"family: {detection.summary()}"
    if detection.family is None:
        return f"family: none ({detection.summary()})"
    return f"family: none used (detected {detection.summary()}; its template did not verify)"


def _apply_path_choice(
    modelfile: Modelfile,
    info: GGUFInfo,
    template_source: str,
    template_path: str,
    system: str | None,
) -> tuple[Modelfile, str, PathChoice | None]:
    """The Modelfile for the prompt path chosen per server version (fidelity.path_choice)."""
    if (
        not info.chat_template
        or not (modelfile.template or template_source == "native")
        or template_source == "plain"
    ):
        return modelfile, template_source, None
    choice = choose_for_build(modelfile, info, template_source, template_path)  # type: ignore[arg-type]
    if choice.template_path == "builtin_renderer":  # the pair from forge's allowlist, no TEMPLATE
        modelfile = modelfile.with_updates(
            template=None, system=system, renderer=choice.renderer, parser=choice.parser
        )
        return modelfile, "builtin_renderer", choice
    if choice.template_path == "native_jinja":  # the Jinja carries its own default system prompt
        return modelfile.with_updates(template=None, system=system), "native", choice
    if choice.template_changed:  # the same prompts, minus what made Ollama >= 0.30 prefer it
        modelfile = modelfile.with_updates(template=choice.go_template)
    return modelfile, template_source, choice


def _header_comments(
    resolved: Target,
    detection: Detection,
    picked: TemplateChoice,
    choice: PathChoice | None,
    context: ContextChoice,
    param_notes: list[str],
    warn: list[str],
    *,
    user_system: bool,
    user_messages: int | None,
) -> list[str]:
    """The header comment lines: what was chosen and why (each made one line when written)."""
    chosen = picked.chosen
    comments = [
        f"{FORGE_MARKER} {__version__} for {resolved.entry.name}"
        + (f" (stored model {resolved.store_name})" if resolved.store_name else ""),
        _family_comment(detection, chosen.family),
    ]
    comments += [f"  {e}" for e in detection.evidence]
    comments.append(f"template: {picked.verification}")
    comments += [f"  tried {a.outcome()}" for a in picked.attempts if a is not chosen]
    comments += choice.comments if choice is not None else []
    if resolved.projector is not None:
        comments.append(f"projector: {resolved.projector.name} ({resolved.projector_note})")
    if user_system:
        comments.append("SYSTEM: set by the user (replaces the family default)")
    if user_messages is not None:
        comments.append(user_messages_comment(user_messages))
    comments.append("stops: " + (", ".join(chosen.stops.evidence) or "none"))
    if chosen.stops.rejected:
        comments.append("  left out: " + ", ".join(chosen.stops.rejected))
    comments.append(f"num_ctx {context.num_ctx}: {context.reason}")
    comments += [f"  {n}" for n in param_notes]
    comments += [f"WARNING: {w}" for w in warn]
    return comments


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
        ctx = PlanContext(
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
    except BaseException:
        gguf.close()
        raise

    with gguf:
        picked = choose_template(
            ctx,
            gguf,
            detection,
            registry,
            chosen_family,
            template_path=template_path,
            force=force,
        )
    chosen, verified, verification = picked.chosen, picked.verified, picked.verification
    attempts = picked.attempts
    warn += picked.warnings
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
    modelfile, template_source, choice = _apply_path_choice(
        modelfile, info, template_source, template_path, system
    )
    warn += choice.warnings if choice is not None else []

    comments = _header_comments(
        resolved,
        detection,
        picked,
        choice,
        context,
        param_notes,
        warn,
        user_system=system is not None,
        user_messages=len(modelfile.messages) if messages else None,
    )
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
