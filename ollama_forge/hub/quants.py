"""``forge quants``: a repo's GGUF variants with sizes, shard counts and memory fit."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .. import config
from ..budget import MemoryBudget, detect_budget
from ..errors import ForgeError
from .refs import HubRef, parse_ref
from .select import ProjectorFile, Variant

if TYPE_CHECKING:
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
    from .listing import fetch_listing
    from .select import choose_variant, group_variants

    ref = parse_ref(repo, allow_quant=False) if isinstance(repo, str) else repo
    if revision is not None:
        ref = HubRef(repo=ref.repo, revision=revision)
    listing = fetch_listing(ref)
    grouped = group_variants(listing.files)
    result = QuantListing(
        repo=ref.repo, revision=ref.rev, commit=listing.commit, ctx=ctx or DEFAULT_CTX,
        projectors=grouped.projectors, excluded=grouped.excluded, incomplete=grouped.incomplete,
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
    from .select import quality_rank

    result.variants = sorted(grouped.variants, key=quality_rank)
    with contextlib.suppress(ForgeError):
        result.default = choose_variant(grouped.variants, repo=ref.repo).label
    return result


def annotate_fit(
    listing: RepoListing, variants: list[Variant], *, ctx: int | None, mem: str | int | None,
) -> dict[str, Any]:
    """Fill ``estimate_bytes``/``fits`` of every variant from one header's KV estimate.

    All variants of a repo share the architecture, so the KV cache at ``ctx`` is the same for
    each; the weights differ (their file sizes). One header is read (Range requests, or the
    cached file offline); the default candidate's, so its quant is confirmed too.
    """
    from ..gguf.quant import quant_from_file_type
    from .select import DEFAULT_QUANTS, match_quant

    budget = detect_budget(mem)
    out: dict[str, Any] = {"budget": budget}
    ctx = ctx or DEFAULT_CTX
    probe = next((m[0] for q in DEFAULT_QUANTS if len(m := match_quant(variants, q)) == 1), None)
    probe = probe or min(variants, key=lambda v: v.size)
    try:
        info, fetched = _read_header(listing, probe)
    except ForgeError as exc:
        out["note"] = f"memory fit unknown: could not read the header of {probe.entry.path}: {exc.message}"
        return out
    out["header_file"] = probe.entry.path
    out["bytes_fetched"] = fetched
    probe.file_type = quant_from_file_type(getattr(info, "file_type", None))
    kv = kv_cache_bytes(info, ctx)
    out["kv_bytes"] = kv
    if kv is None:
        out["note"] = f"memory fit unknown: the header of {probe.entry.path} lacks the KV cache shapes"
        return out
    for v in variants:
        v.estimate_bytes = v.size + kv
        v.fits = v.estimate_bytes <= budget.bytes
    return out


def kv_cache_bytes(info: Any, ctx: int) -> int | None:
    """The KV cache at ``ctx`` (ollama_forge.gguf.memory), None when the header lacks the shapes."""
    from ..gguf.memory import estimate_memory

    est = estimate_memory(info, ctx)
    return est.kv_bytes


def _read_header(listing: RepoListing, variant: Variant) -> tuple[Any, int]:
    """GGUFInfo of the variant's first file: from the cache if present, else over Range requests."""
    from ..gguf import read_gguf
    from .listing import storage_folder
    from .names import safe_join

    local = safe_join(storage_folder(listing.repo) / "snapshots" / listing.commit, variant.entry.path)
    if local.exists():
        return read_gguf(local), 0
    if config.hf_offline():
        from ..errors import OfflineError

        raise OfflineError(f"{variant.entry.path} is not cached (offline)")
    from .remote import read_remote_info

    info, source = read_remote_info(listing, variant.entry)
    return info, source.bytes_fetched
