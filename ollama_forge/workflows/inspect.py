"""``forge.inspect()``: a GGUF (local path, stored model name or Hub ref) -> :class:`InspectReport`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import ForgeError, GGUFError, SplitError, UsageError
from ..families import detect_family
from ..gguf import GGUFFile, GGUFInfo, MemoryEstimate, estimate_memory, open_gguf, read_gguf
from ..gguf.split import check_shard_set, find_shards, parse_shard_name
from ..hub.quants import read_remote_headers
from .targets import Target, resolve_target

if TYPE_CHECKING:
    from ..hub.refs import HubRef


class InspectReport(BaseModel):
    """What ``forge inspect`` shows; ``--json`` prints this model (docs/inspect-json.md)."""

    target: str
    info: GGUFInfo
    memory: MemoryEstimate
    family: str | None = None
    family_rule: str | None = None
    shards: list[str] = Field(default_factory=list)
    projector: GGUFInfo | None = None
    warnings: list[str] = Field(default_factory=list)
    remote: dict[str, Any] | None = None


def build_report(
    source: GGUFFile | GGUFInfo,
    ctx: int | None = None,
    *,
    target: str | None = None,
    weights_bytes: int | None = None,
    shards: list[str] | None = None,
    projector: GGUFInfo | None = None,
    remote: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    cache_type: str = "f16",
) -> InspectReport:
    """Assemble a report from a parsed header (used for local files and by hub.remote)."""
    info = source.info if isinstance(source, GGUFFile) else source
    memory = estimate_memory(info, ctx, cache_type, weights_bytes=weights_bytes)
    notes = [*info.warnings, *(warnings or [])]
    if info.file_type is None and not info.is_projector:
        notes.append(
            "general.file_type is missing: the quant label comes from the tensor types/file name only"
        )
    label = info.quant_from_filename
    # file_type is free-form metadata (gguf.md §4): both labels are shown, neither is trusted
    # blindly. Dynamic labels (Q4_K_XL, Q6_K_L) are written with their base file type.
    dynamic = bool(
        label
        and info.quant
        and label.endswith(("_XL", "_L"))
        and info.quant.startswith(label.rsplit("_", 1)[0])
    )
    if info.quant and label and label != info.quant and not dynamic:
        notes.append(f"file name says {label} but general.file_type says {info.quant}")
    if not info.size_checked:
        notes.append("file size unknown: tensor data bounds were not checked")
    if info.split is not None and info.split.no > 0:
        notes.append(
            f"this is shard {info.split.no + 1} of {info.split.count}; the model metadata is in shard 1"
        )
    family, family_rule = _family_of(info)
    return InspectReport(
        target=target or info.path,
        info=info,
        memory=memory,
        family=family,
        family_rule=family_rule,
        shards=shards or [],
        projector=projector,
        warnings=list(dict.fromkeys(notes)),
        remote=remote,
    )


def _family_of(info: GGUFInfo) -> tuple[str | None, str | None]:
    """The detected model family and the rule that decided it (never makes inspect fail)."""
    if info.is_projector:
        return None, None

    try:
        detection = detect_family(info)
    except ForgeError:
        return None, None
    return detection.family, detection.rule


def inspect(
    target: str | os.PathLike[str], ctx: int | None = None, *, cache_type: str = "f16"
) -> InspectReport:
    """Inspect a local GGUF, a model in forge's store, or a Hub repo (``owner/repo[:QUANT]``)."""
    text = os.fspath(target)
    named = resolve_target(
        text,
        accept=("gguf", "stored", "hub"),
        whole_split=False,
        hint="Pass a path to a .gguf file, a name from `forge list`, or owner/repo[:QUANT] on the Hub.",
    )
    if named.kind == "hub":
        return inspect_remote(text, ctx=ctx, cache_type=cache_type)
    if not named.weights:
        raise UsageError(
            f"Stored model {named.store_name!r} has no model file",
            hint=f"Pull it again: forge pull-gguf {named.repo or 'owner/repo'} --name {named.store_name}",
        )
    return _inspect_local(named, ctx, cache_type=cache_type)


def _inspect_local(named: Target, ctx: int | None, *, cache_type: str) -> InspectReport:
    path = named.entry
    warnings = [f"ignored the {note}" for note in named.ignored]
    with open_gguf(path) as handle:
        info = handle.info
    weights: int | None = None
    shard_names: list[str] = []
    parsed = parse_shard_name(path.name)
    if (parsed is not None and parsed.count > 1) or (
        info.split is not None and info.split.count > 1
    ):
        weights, shard_names = _split_totals(path, info, warnings)
    projector = None
    if named.projector is not None and not info.is_projector:
        try:
            found = read_gguf(named.projector)
        except GGUFError as exc:
            warnings.append(f"projector {named.projector.name} is unreadable: {exc.message}")
        else:
            if found.is_projector:
                projector = found
    return build_report(
        info,
        ctx,
        target=named.text,
        weights_bytes=weights,
        shards=shard_names,
        projector=projector,
        warnings=warnings,
        cache_type=cache_type,
    )


def _split_totals(path: Path, info: GGUFInfo, warnings: list[str]) -> tuple[int | None, list[str]]:
    """Weights over every shard; the set is checked (missing/mismatched shards become warnings)."""
    paths = find_shards(path)
    infos = [(p, info if p == path else read_gguf(p)) for p in paths]
    try:
        ordered = check_shard_set(infos, entry=path)
    except SplitError as exc:
        if "is not the first shard" in exc.message:
            raise
        warnings.append(exc.message)
        ordered = [p for p, _ in infos]
    total = sum(i.tensor_bytes for _, i in infos)
    return total, [p.name for p in ordered]


def inspect_remote(
    ref: HubRef | str, ctx: int | None = None, *, cache_type: str = "f16"
) -> InspectReport:
    """The InspectReport of a Hub GGUF (``owner/repo[:QUANT][@REV]``), reading only headers.

    Shard 1 carries the metadata; shards 2..N and the matching projector are read with a small
    chunk (their headers are tiny) so the weights total and the projector are exact too.
    """

    found = read_remote_headers(ref, ctx)
    return build_report(
        found.info,
        ctx,
        target=str(found.ref),
        weights_bytes=found.weights_bytes,
        shards=found.shards,
        projector=found.projector,
        remote=found.remote,
        cache_type=cache_type,
    )
