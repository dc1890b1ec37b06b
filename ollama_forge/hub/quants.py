"""``forge quants``: a repo's GGUF variants with sizes, shard counts and memory fit."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, Field

from .. import config
from ..budget import MemoryBudget, detect_budget
from ..errors import ForgeError, OfflineError, QuantSelectionError
from ..gguf import read_gguf
from ..gguf.memory import estimate_memory
from ..gguf.quant import quant_from_file_type
from .listing import fetch_listing, storage_folder
from .names import safe_join
from .refs import HubRef, parse_ref
from .remote import SMALL_CHUNK, read_remote_info
from .select import (
    DEFAULT_QUANTS,
    ProjectorFile,
    Variant,
    choose_variant,
    group_variants,
    match_quant,
    pick_projector,
    quality_rank,
)

if TYPE_CHECKING:
    from ..gguf import GGUFInfo
    from .listing import RepoListing

DEFAULT_CTX = 4096  # Ollama's default num_ctx


class QuantListing(BaseModel):
    repo: str
    revision: str
    commit: str
    ctx: int
    budget: MemoryBudget | None = None
    kv_bytes: int | None = None  # KV cache at ctx (same for every variant), from one header
    header_file: str | None = None  # the file whose header was read for the estimate
    header_bytes_fetched: int | None = None
    variants: list[Variant] = Field(default_factory=list)
    projectors: list[ProjectorFile] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    incomplete: list[str] = Field(default_factory=list)
    default: str | None = None  # the variant pull-gguf picks without --quant
    offline: bool = False
    notes: list[str] = Field(default_factory=list)


def list_quants(
    repo: str | HubRef,
    *,
    revision: str | None = None,
    ctx: int | None = None,
    mem: str | int | None = None,
    read_header: bool = True,
) -> QuantListing:
    """The GGUF variants of ``repo[@REV]``, grouped (shards merged) and checked against memory."""

    ref = parse_ref(repo, allow_quant=False) if isinstance(repo, str) else repo
    if revision is not None:
        ref = HubRef(repo=ref.repo, revision=revision)
    listing = fetch_listing(ref)
    grouped = group_variants(listing.files)
    result = QuantListing(
        repo=ref.repo,
        revision=ref.rev,
        commit=listing.commit,
        ctx=ctx or DEFAULT_CTX,
        projectors=grouped.projectors,
        excluded=grouped.excluded,
        incomplete=grouped.incomplete,
        offline=listing.offline,
    )
    if not listing.complete:
        result.notes.append("offline: only the files present in the local cache are listed")
    if read_header and grouped.variants:
        info = annotate_fit(listing, grouped.variants, ctx=ctx, mem=mem)
        result.budget = info.get("budget")
        result.kv_bytes = info.get("kv_bytes")
        result.header_file = info.get("header_file")
        result.header_bytes_fetched = info.get("bytes_fetched")
        if info.get("note"):
            result.notes.append(info["note"])

    result.variants = sorted(grouped.variants, key=quality_rank)
    with contextlib.suppress(ForgeError):
        result.default = choose_variant(grouped.variants, repo=ref.repo).label
    return result


def annotate_fit(
    listing: RepoListing,
    variants: list[Variant],
    *,
    ctx: int | None,
    mem: str | int | None,
) -> dict[str, Any]:
    """Fill ``estimate_bytes``/``fits`` of every variant from one header's KV estimate.

    All variants of a repo share the architecture, so the KV cache at ``ctx`` is the same for
    each; the weights differ (their file sizes). One header is read (Range requests, or the
    cached file offline); the default candidate's, so its quant is confirmed too.
    """

    budget = detect_budget(mem)
    out: dict[str, Any] = {"budget": budget}
    ctx = ctx or DEFAULT_CTX
    probe = next((m[0] for q in DEFAULT_QUANTS if len(m := match_quant(variants, q)) == 1), None)
    probe = probe or min(variants, key=lambda v: v.size)
    try:
        info, fetched = _read_header(listing, probe)
    except ForgeError as exc:
        out["note"] = (
            f"memory fit unknown: could not read the header of {probe.entry.path}: {exc.message}"
        )
        return out
    out["header_file"] = probe.entry.path
    out["bytes_fetched"] = fetched
    probe.file_type = quant_from_file_type(getattr(info, "file_type", None))
    kv = kv_cache_bytes(info, ctx)
    out["kv_bytes"] = kv
    if kv is None:
        out["note"] = (
            f"memory fit unknown: the header of {probe.entry.path} lacks the KV cache shapes"
        )
        return out
    for v in variants:
        v.estimate_bytes = v.size + kv
        v.fits = v.estimate_bytes <= budget.bytes
    return out


def kv_cache_bytes(info: Any, ctx: int) -> int | None:
    """The KV cache at ``ctx`` (ollama_forge.gguf.memory), None when the header lacks the shapes."""

    est = estimate_memory(info, ctx)
    return est.kv_bytes


def _read_header(listing: RepoListing, variant: Variant) -> tuple[Any, int]:
    """GGUFInfo of the variant's first file: from the cache if present, else over Range requests."""

    local = safe_join(
        storage_folder(listing.repo) / "snapshots" / listing.commit, variant.entry.path
    )
    if local.exists():
        return read_gguf(local), 0
    if config.hf_offline():
        raise OfflineError(f"{variant.entry.path} is not cached (offline)")

    info, source = read_remote_info(listing, variant.entry)
    return info, source.bytes_fetched


class RemoteHeaders(NamedTuple):
    """The parsed headers of one Hub variant (what ``forge inspect owner/repo`` reports on)."""

    ref: HubRef
    info: GGUFInfo
    weights_bytes: int | None  # all shards' tensor bytes for a split GGUF, else None
    shards: list[str] | None
    projector: GGUFInfo | None
    remote: dict[str, Any]


def read_remote_headers(ref: HubRef | str, ctx: int | None = None) -> RemoteHeaders:
    """The headers of a Hub GGUF (``owner/repo[:QUANT][@REV]``) and its shards and projector, nothing else.

    Shard 1 carries the metadata; shards 2..N and the matching projector are read with a small
    chunk (their headers are tiny) so the weights total and the projector are exact too.
    """

    hub_ref = parse_ref(ref) if isinstance(ref, str) else ref
    if config.hf_offline():
        raise OfflineError(
            f"Cannot inspect {hub_ref} remotely: offline mode (HF_HUB_OFFLINE) is set",
            hint=f"Pull it first (forge pull-gguf {hub_ref}) and inspect the stored model.",
        )
    listing = fetch_listing(hub_ref)
    grouped = group_variants(listing.files)
    try:
        variant: Variant = choose_variant(grouped.variants, repo=hub_ref.repo, quant=hub_ref.quant)
    except QuantSelectionError:
        if hub_ref.quant is not None or not grouped.variants:
            raise
        # No Q4_K_M/Q8_0: the default is the best variant that fits, which needs the budget.
        annotate_fit(listing, grouped.variants, ctx=ctx, mem=None)
        variant = choose_variant(grouped.variants, repo=hub_ref.repo)
    info, source = read_remote_info(listing, variant.entry)
    sources = [source]
    weights: int | None = None
    if variant.shard_count > 1:
        weights = info.tensor_bytes
        for shard in variant.files[1:]:
            shard_info, shard_source = read_remote_info(listing, shard, chunk_size=SMALL_CHUNK)
            sources.append(shard_source)
            weights += shard_info.tensor_bytes
    projector_info = None
    proj = pick_projector(grouped.projectors, variant)
    proj_file = listing.get(proj.path) if proj is not None else None
    if proj_file is not None:
        projector_info, proj_source = read_remote_info(listing, proj_file, chunk_size=SMALL_CHUNK)
        sources.append(proj_source)
    remote_fields: dict[str, Any] = {
        "repo": hub_ref.repo,
        "revision": hub_ref.rev,
        "commit": listing.commit,
        "file": variant.entry.path,
        "quant": variant.quant,
        "shards": [f.path for f in variant.files],
        "projector": proj_file.path if proj_file is not None else None,
        "file_size": source.size(),
        "variant_size": variant.size,
        "bytes_fetched": source.bytes_fetched,
        "requests": source.requests,
        "total_bytes_fetched": sum(s.bytes_fetched for s in sources),
        "total_requests": sum(s.requests for s in sources),
        "chunk_size": source.chunk_size,
    }
    return RemoteHeaders(
        hub_ref,
        info,
        weights,
        [f.name for f in variant.files] if variant.shard_count > 1 else None,
        projector_info,
        remote_fields,
    )
