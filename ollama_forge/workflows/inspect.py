"""``forge.inspect()``: a GGUF (local path, stored model name or Hub ref) -> :class:`InspectReport`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import GGUFError, SplitError, UsageError
from ..gguf import GGUFFile, GGUFInfo, MemoryEstimate, estimate_memory, open_gguf, read_gguf
from ..gguf.split import check_shard_set, find_shards, parse_shard_name

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
    from ..errors import ForgeError
    from ..families import detect_family

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
    path = Path(text).expanduser()
    if path.exists():
        return _inspect_local(_entry_file(path), ctx, cache_type=cache_type, target=text)
    from ..store import Store

    stored = Store().find(text) if _looks_like_name(text) else None
    if stored is not None:
        projector = stored.projector_path
        return _inspect_local(
            stored.entry_path, ctx, cache_type=cache_type, target=text, projector_path=projector
        )
    from ..hub.refs import looks_like_hub_ref

    if looks_like_hub_ref(text):
        report: InspectReport = inspect_remote(text, ctx=ctx, cache_type=cache_type)
        return report
    from ..errors import NotFoundError

    raise NotFoundError.of(
        text,
        "a file, a model in forge's store, a Hub repo owner/repo[:QUANT]",
        hint="Pass a path to a .gguf file, a name from `forge list`, or owner/repo[:QUANT] on the Hub.",
    )


def _looks_like_name(text: str) -> bool:
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith(".gguf")


def _entry_file(path: Path) -> Path:
    """A directory resolves to its single model GGUF (or shard 1 of a split model)."""
    if not path.is_dir():
        return path
    files = sorted(
        p for p in path.glob("*.gguf") if p.is_file() and not p.name.lower().startswith("mmproj")
    )
    entries = [p for p in files if (s := parse_shard_name(p.name)) is None or s.index == 1]
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise UsageError(f"No model .gguf file in {path}", hint="Pass the .gguf file itself.")
    names = ", ".join(p.name for p in entries[:6])
    raise UsageError(
        f"{path} holds several GGUF models ({names})", hint="Pass the .gguf file you mean."
    )


def _inspect_local(
    path: Path,
    ctx: int | None,
    *,
    cache_type: str,
    target: str,
    projector_path: Path | None = None,
) -> InspectReport:
    warnings: list[str] = []
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
    candidate = projector_path or _sibling_projector(path)
    if candidate is not None and not info.is_projector:
        try:
            found = read_gguf(candidate)
        except GGUFError as exc:
            warnings.append(f"projector {candidate.name} is unreadable: {exc.message}")
        else:
            if found.is_projector:
                projector = found
    return build_report(
        info,
        ctx,
        target=target,
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


def _sibling_projector(path: Path) -> Path | None:
    """A single ``mmproj*.gguf`` next to the model (the layout llama.cpp and the Hub use)."""
    try:
        found = [
            p
            for p in path.parent.glob("*.gguf")
            if p.name.lower().startswith("mmproj") and p != path
        ]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def inspect_remote(
    ref: HubRef | str, ctx: int | None = None, *, cache_type: str = "f16"
) -> InspectReport:
    """The InspectReport of a Hub GGUF (``owner/repo[:QUANT][@REV]``), reading only headers.

    Shard 1 carries the metadata; shards 2..N and the matching projector are read with a small
    chunk (their headers are tiny) so the weights total and the projector are exact too.
    """
    from ..hub.quants import read_remote_headers

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
