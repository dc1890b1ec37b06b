"""What a repo holds at a commit: file names, sizes and LFS sha256, online or from the cache.

Online: ``GET /api/models/{repo}/revision/{rev}`` (commit sha) then the recursive tree at that
commit (``Link``-paginated), through huggingface_hub's session with the endpoint and token read
from the environment at call time, every answer size- and time-bounded (``_http.get_json``). Every name is validated before it is used, every
sha256 checked to be 64 hex digits (it becomes a blob file name).

The listing is remembered in ``$FORGE_HOME/hub/listings/<repo folder>/<commit>.json`` so that
offline runs (``HF_HUB_OFFLINE=1``) can tell which files are missing from the cache.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from .. import config
from ..digests import validate_sha256_hex
from ..errors import HubError, OfflineError, UnsafeNameError
from ._errors import hub_errors
from ._http import get_json, same_origin
from .names import real_dirs, safe_join, validate_remote_filename
from .refs import HubRef

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")


class RemoteFile(BaseModel):
    """One file of a repo at a commit."""

    path: str
    size: int
    sha256: str | None = None  # LFS sha256 (the Hub's lfs.oid); None for non-LFS files
    blob_id: str | None = None  # git blob sha1 (for LFS files: the pointer's sha1)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def etag(self) -> str | None:
        """The HF cache blob name: the sha256 for LFS files, the git sha1 otherwise."""
        return self.sha256 or self.blob_id


class RepoListing(BaseModel):
    repo: str
    revision: str  # as requested (branch, tag or commit)
    commit: str  # resolved 40-hex commit
    files: list[RemoteFile] = Field(default_factory=list)
    offline: bool = False  # built from the local cache
    complete: bool = True  # False when only the cached subset is known

    def get(self, path: str) -> RemoteFile | None:
        for f in self.files:
            if f.path == path:
                return f
        return None


def repo_folder(repo: str) -> str:
    """huggingface_hub's cache folder name for a model repo."""
    return "models--" + "--".join(repo.split("/"))


def storage_folder(repo: str, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or config.hf_hub_cache()) / repo_folder(repo)


def check_file_entry(path: str, size: object, sha256: object, blob_id: object) -> RemoteFile:
    """Validate one listing entry (name, size, digests) and build a RemoteFile."""
    validate_remote_filename(path)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UnsafeNameError(
            f"Invalid size {size!r} for {path!r} in the Hub listing", filename=path
        )
    sha = (
        validate_sha256_hex(str(sha256), what=f"LFS sha256 of {path!r}")
        if sha256 is not None
        else None
    )
    oid: str | None = None
    if isinstance(blob_id, str) and _SHA1_RE.match(blob_id):
        oid = blob_id
    elif sha is None:
        raise UnsafeNameError(
            f"Invalid blob id {blob_id!r} for {path!r} in the Hub listing", filename=path
        )
    return RemoteFile(path=path, size=size, sha256=sha, blob_id=oid)


MAX_ENTRIES = 200_000  # files + folders of one repo (the largest GGUF repos list a few hundred)
MAX_PAGES = 1_000


def fetch_listing(ref: HubRef) -> RepoListing:
    """The repo's files at ``ref.revision`` (online, or from the cache when HF_HUB_OFFLINE is set).

    Online, forge makes the two requests ``HfApi.model_info`` / ``list_repo_tree`` would make,
    through huggingface_hub's session, headers and error mapping, but reads every answer with a
    size bound and timeouts, and follows ``Link`` pages only on the endpoint's own origin.
    """
    endpoint = config.hf_endpoint()  # validated before huggingface_hub reads HF_ENDPOINT at import
    if config.hf_offline():
        return cached_listing(ref)
    from urllib.parse import quote

    from huggingface_hub.utils import build_hf_headers

    rev = ref.rev
    headers = build_hf_headers(token=config.hf_token(), library_name="ollama-forge")
    base = f"{endpoint}/api/models/{ref.repo}"
    with hub_errors(repo=ref.repo, revision=rev):
        info, _ = get_json(
            f"{base}/revision/{quote(rev, safe='')}", headers=headers, what=f"{ref.repo} model info"
        )
        commit = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(commit, str) or not COMMIT_RE.match(commit):
            raise UnsafeNameError(
                f"The Hub returned an invalid commit id {commit!r} for {ref.repo}"
            )
        files: list[RemoteFile] = []
        url: str | None = f"{base}/tree/{commit}"
        params: dict[str, str] | None = {"recursive": "true", "expand": "false"}
        seen = pages = 0
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise _listing_too_big(ref.repo)
            page, next_url = get_json(
                url, headers=headers, params=params, what=f"{ref.repo} file listing"
            )
            if not isinstance(page, list):
                raise HubError(
                    f"{ref.repo}: the Hub's file listing is not a list",
                    hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
                )
            seen += len(page)
            if seen > MAX_ENTRIES:
                raise _listing_too_big(ref.repo)
            files.extend(f for f in map(_tree_entry, page) if f is not None)
            if next_url is not None and not same_origin(next_url, endpoint):
                raise HubError(
                    f"{ref.repo}: the Hub's listing points its next page at another server",
                    hint="HF_ENDPOINT must point at a Hugging Face Hub compatible server.",
                    next_url=next_url,
                )
            url, params = next_url, None  # the next URL carries its own query
    listing = RepoListing(repo=ref.repo, revision=rev, commit=commit, files=files)
    _remember(listing)
    return listing


def _tree_entry(entry: object) -> RemoteFile | None:
    """One ``/tree`` entry: a validated file, None for a folder; anything else is refused."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise UnsafeNameError(f"Malformed entry in the Hub listing: {str(entry)[:200]!r}")
    path = entry["path"]
    if entry.get("type") == "directory":
        validate_remote_filename(path)
        return None
    if entry.get("type") != "file":
        raise UnsafeNameError(
            f"Unknown entry type {entry.get('type')!r} for {path!r} in the Hub listing",
            filename=path,
        )
    lfs = entry.get("lfs")
    sha = lfs.get("oid") if isinstance(lfs, dict) else None
    return check_file_entry(path, entry.get("size"), sha, entry.get("oid"))


def _listing_too_big(repo: str) -> HubError:
    return HubError(
        f"{repo}: the Hub lists more than {MAX_ENTRIES:,} entries; refusing to read further",
        hint="Name the file to use directly (forge pull-gguf --file), or check HF_ENDPOINT.",
    )


def _listing_path(repo: str, commit: str) -> Path:
    return config.forge_home() / "hub" / "listings" / repo_folder(repo) / f"{commit}.json"


def _remember(listing: RepoListing) -> None:
    path = _listing_path(listing.repo, listing.commit)
    real_dirs(config.forge_home(), path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".listing.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(listing.model_dump_json())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_commit(repo: str, revision: str, cache_dir: str | Path | None = None) -> str | None:
    """The commit a revision pointed to when last resolved (``refs/<rev>`` in the HF cache)."""
    if COMMIT_RE.match(revision):
        return revision
    try:
        ref_file = safe_join(storage_folder(repo, cache_dir) / "refs", revision)
        commit = ref_file.read_text(encoding="utf-8").strip()
    except (OSError, UnsafeNameError):
        return None
    return commit if COMMIT_RE.match(commit) else None


def cached_listing(ref: HubRef) -> RepoListing:
    """The listing known offline: forge's saved listing, else what the cache snapshot holds."""
    rev = ref.rev
    commit = cached_commit(ref.repo, rev)
    if commit is None:
        raise OfflineError(
            f"{ref.repo}@{rev} is not in the local Hugging Face cache (offline mode)",
            hint=f"Unset HF_HUB_OFFLINE and run: forge pull-gguf {ref}",
            repo=ref.repo,
            revision=rev,
        )
    saved = _listing_path(ref.repo, commit)
    if saved.is_file():
        with contextlib.suppress(ValueError, OSError):
            listing = RepoListing.model_validate_json(saved.read_text(encoding="utf-8"))
            if listing.repo == ref.repo and listing.commit == commit:
                return listing.model_copy(update={"offline": True, "revision": rev})
    snapshot = storage_folder(ref.repo) / "snapshots" / commit
    files: list[RemoteFile] = []
    if snapshot.is_dir():
        for item in sorted(snapshot.rglob("*")):
            if item.is_dir():
                continue
            rel = item.relative_to(snapshot).as_posix()
            with contextlib.suppress(OSError, UnsafeNameError, ValueError):
                blob = Path(os.path.realpath(item))
                name = blob.name
                sha = name if re.fullmatch(r"[0-9a-f]{64}", name) else None
                files.append(check_file_entry(rel, blob.stat().st_size, sha, None if sha else name))
    return RepoListing(
        repo=ref.repo, revision=rev, commit=commit, files=files, offline=True, complete=False
    )
