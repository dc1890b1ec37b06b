"""``forge pull-gguf``: choose a variant, download it verified into the HF cache, expose it
under ``models/<name>/`` and record it in forge's store."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from .. import config
from ..digests import FileIdentity
from ..errors import UsageError
from ..store import Store, StoredFile, StoredModel, TrustedDigest, validate_short_name
from ..text import safe_text
from .download import CachedFile, _offline_missing, ensure_file
from .listing import RemoteFile, RepoListing, fetch_listing, repo_folder
from .names import real_dirs, safe_join
from .quants import annotate_fit
from .refs import HubRef, parse_ref
from .select import (
    DEFAULT_QUANTS,
    ProjectorFile,
    Variant,
    choose_variant,
    default_name,
    group_variants,
    match_quant,
    pick_projector,
)

Role = Literal["model", "shard", "projector"]


class PulledFile(BaseModel):
    role: Role
    repo_path: str
    path: str  # models/<name>/<file>
    cache_path: str  # HF cache snapshots/<commit>/<path>
    size: int
    sha256: str
    link: Literal["hardlink", "symlink", "copy"]
    downloaded_bytes: int = 0
    resumed_from: int = 0
    cached: bool = False


class PullResult(BaseModel):
    name: str
    repo: str
    revision: str
    commit: str
    quant: str | None
    variant: str
    folder: str  # models/<name>
    entry_path: str  # the GGUF to open (shard 1 of a split model)
    projector_path: str | None = None
    files: list[PulledFile] = Field(default_factory=list)
    total_bytes: int = 0
    downloaded_bytes: int = 0
    seconds: float = 0.0  # the whole pull (listing, download + verification, store)
    transfer_seconds: float = 0.0  # download + SHA-256 verification of every file
    offline: bool = False


def pull_gguf(
    repo: str | HubRef,
    quant: str | None = None,
    *,
    file: str | None = None,
    name: str | None = None,
    revision: str | None = None,
    fit: bool = False,
    ctx: int | None = None,
    mem: str | int | None = None,
    projector: bool = True,
    copy: bool = False,
    progress: TransferProgress | None = None,
) -> PullResult:
    """Download a verified GGUF variant (all shards, matching projector) and record it.

    ``repo`` is ``owner/repo[:QUANT][@REV]``; ``quant``/``revision`` override the parts of it.
    ``progress`` receives the bytes as they arrive (e.g. a ``rich.progress.Progress``).
    """

    ref = parse_ref(repo) if isinstance(repo, str) else repo
    ref = HubRef(repo=ref.repo, quant=quant or ref.quant, revision=revision or ref.revision)
    if ref.quant is not None and file is not None:
        raise UsageError(
            "A quant (REPO:QUANT or --quant) and --file are exclusive", hint="Use one of them."
        )
    if fit and (ref.quant is not None or file is not None):
        raise UsageError(
            "--fit chooses the variant itself", hint="Drop --fit, or drop the quant/--file."
        )
    if name is not None:
        validate_short_name(name)
    started = time.monotonic()
    listing = fetch_listing(ref)
    grouped = group_variants(listing.files)
    if fit or (ref.quant is None and file is None and not _has_default(grouped.variants)):
        annotate_fit(listing, grouped.variants, ctx=ctx, mem=mem)
    variant = choose_variant(grouped.variants, repo=ref.repo, quant=ref.quant, file=file, fit=fit)
    proj: ProjectorFile | None = pick_projector(grouped.projectors, variant) if projector else None
    short = name or default_name(ref.repo, variant.quant)
    validate_short_name(short)

    plan: list[tuple[Role, RemoteFile]] = [
        ("shard" if variant.shard_count > 1 else "model", f) for f in variant.files
    ]
    if proj is not None:
        pf = listing.get(proj.path)
        if pf is not None:
            plan.append(("projector", pf))
    transfer_started = time.monotonic()
    cached = _fetch_all(listing, ref, plan, progress=progress)
    transfer_seconds = time.monotonic() - transfer_started

    dest = real_dirs(
        config.models_dir(), config.models_dir() / short
    )  # models/<name> never a planted link
    previous = Store().find(short)
    pulled: list[PulledFile] = []
    used: set[str] = set()
    for (role, remote), got in zip(plan, cached, strict=True):
        local_name = remote.name if remote.name not in used else remote.path.replace("/", "__")
        used.add(local_name)
        target = dest / local_name
        link = _expose(Path(got.blob_path), target, copy=copy)
        pulled.append(
            PulledFile(
                role=role,
                repo_path=remote.path,
                path=str(target),
                cache_path=got.path,
                size=got.size,
                sha256=got.sha256,
                link=link,
                downloaded_bytes=got.downloaded_bytes,
                resumed_from=got.resumed_from,
                cached=got.cached,
            )
        )
    _record(short, ref, listing, variant, pulled, [Path(c.blob_path) for c in cached])
    if previous is not None:  # the name now points at other files: drop the stale links
        keep = {p.path for p in pulled}
        for old in previous.files:
            stale = Path(old.path)
            if old.path not in keep and stale.parent == dest:
                with contextlib.suppress(OSError):
                    stale.unlink()
    models = [p for p in pulled if p.role != "projector"]
    proj_file = next((p for p in pulled if p.role == "projector"), None)
    return PullResult(
        name=short,
        repo=ref.repo,
        revision=ref.rev,
        commit=listing.commit,
        quant=variant.quant,
        variant=variant.label,
        folder=str(dest),
        entry_path=models[0].path,
        projector_path=proj_file.path if proj_file else None,
        files=pulled,
        total_bytes=sum(p.size for p in pulled),
        downloaded_bytes=sum(p.downloaded_bytes for p in pulled),
        seconds=round(time.monotonic() - started, 3),
        transfer_seconds=round(transfer_seconds, 3),
        offline=listing.offline,
    )


def _record(
    name: str,
    ref: HubRef,
    listing: RepoListing,
    variant: Variant,
    pulled: list[PulledFile],
    blobs: list[Path],
) -> None:
    """One store transaction: the model entry plus every verified digest (trusted, "hub-verified")."""

    model = StoredModel(
        name=name,
        repo=ref.repo,
        revision=listing.commit,
        quant=variant.quant,
        files=[
            StoredFile(
                role=p.role, path=p.path, repo_path=p.repo_path, size=p.size, sha256=p.sha256
            )
            for p in pulled
        ],
    )
    digests: dict[str, TrustedDigest] = {}
    for p, blob in zip(pulled, blobs, strict=True):
        for path in {Path(p.path).resolve(), blob.resolve()}:
            ident = FileIdentity.of(path)
            digests[str(path)] = TrustedDigest(
                sha256=p.sha256,
                size=ident.size,
                mtime_ns=ident.mtime_ns,
                inode=ident.inode,
                device=ident.device,
                source="hub-verified",
            )
    with Store().transaction() as data:
        data.models[name] = model
        data.digests.update(digests)


def _has_default(variants: list[Variant]) -> bool:

    return any(match_quant(variants, q) for q in DEFAULT_QUANTS) or len(variants) <= 1


class TransferProgress(Protocol):
    """Where :func:`pull_gguf` reports bytes (``forge pull-gguf`` passes a rich ``Progress``)."""

    def add_task(self, description: str, *, total: float | None) -> Any: ...

    def update(
        self, task_id: Any, *, advance: float | None = None, completed: float | None = None
    ) -> None: ...


class _NoProgress:
    def add_task(self, description: str, *, total: float | None) -> Any:
        return None

    def update(
        self, task_id: Any, *, advance: float | None = None, completed: float | None = None
    ) -> None:
        return None


def _fetch_all(
    listing: RepoListing,
    ref: HubRef,
    plan: list[tuple[Role, RemoteFile]],
    *,
    progress: TransferProgress | None,
) -> list[CachedFile]:

    offline = config.hf_offline()
    cache_dir = config.hf_hub_cache()
    endpoint = config.hf_endpoint()
    token = config.hf_token()
    store = Store()

    def trusted(blob: Path) -> str | None:
        return store.trusted_sha256(blob)

    if offline:
        missing = [f.path for _, f in plan if not _in_cache(cache_dir, listing, f)]
        if missing:
            raise _offline_missing(ref.repo, ref.rev, missing)
    results: list[CachedFile] = []
    total = sum(f.size for _, f in plan)
    bar = progress if progress is not None else _NoProgress()
    overall = bar.add_task("total", total=total)
    for _, remote in plan:
        task = bar.add_task(
            safe_text(remote.name, keep_newlines=False, limit=48), total=remote.size
        )
        state = {"done": 0}

        def advance(n: int, task: Any = task, state: dict[str, int] = state) -> None:
            state["done"] += n
            bar.update(task, advance=n)
            bar.update(overall, advance=n)

        def restart(task: Any = task, state: dict[str, int] = state) -> None:
            bar.update(task, completed=0)
            bar.update(overall, advance=-state["done"])
            state["done"] = 0

        results.append(
            ensure_file(
                repo=ref.repo,
                revision=ref.rev,
                commit=listing.commit,
                file=remote,
                cache_dir=cache_dir,
                endpoint=endpoint,
                token=token,
                offline=offline,
                trusted=trusted,
                progress=advance,
                restart=restart,
            )
        )
    return results


def _in_cache(cache_dir: Path, listing: RepoListing, f: RemoteFile) -> bool:

    storage = cache_dir / repo_folder(listing.repo)
    pointer = safe_join(storage / "snapshots" / listing.commit, f.path)
    return pointer.exists() or (f.etag is not None and (storage / "blobs" / f.etag).is_file())


def _expose(blob: Path, target: Path, *, copy: bool) -> Literal["hardlink", "symlink", "copy"]:
    """Make ``target`` the blob's content: hard link, else symlink; a copy only when asked."""
    if target.exists() and not copy:
        with contextlib.suppress(OSError):
            if os.path.samefile(target, blob):
                return "symlink" if target.is_symlink() else "hardlink"
    tmp = target.with_name(f".{target.name}.forge-tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    kind: Literal["hardlink", "symlink", "copy"]
    if copy:
        shutil.copyfile(blob, tmp)
        kind = "copy"
    else:
        try:
            os.link(blob, tmp)
            kind = "hardlink"
        except OSError:
            os.symlink(blob, tmp)
            kind = "symlink"
    os.replace(tmp, target)
    return kind
